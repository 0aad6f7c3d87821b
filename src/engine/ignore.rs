//! What `ignoreDifferences` means beyond the comparison itself (which [`diff::compare`] does):
//!
//! - [`respect_ignored`]: the object a sync applies under `RespectIgnoreDifferences=true` — the
//!   desired object with live's values at every ignored path, as Argo CD's
//!   `normalizeTargetResources` does, so a sync never resets what an autoscaler or operator owns.
//! - [`ignored_changes`]: the ignored fields whose live value differs from Git's, i.e. what a sync
//!   *without* that option overwrites; the sync preview lists them.
//! - [`conflict_ignored`]: whether a server-side apply conflict is on an ignored field, so it
//!   neither makes the App OutOfSync nor stops a sync that was told to overwrite it.

use serde_json::{Map, Value};

use super::diff::{self, DiffError, DiffOptions, DiffStatus};
use crate::app::IgnoreDifference;
use crate::cluster::FieldConflict;
use crate::resource::ResourceKey;

/// Whether any rule matches `key` (most objects have none: every helper is then a no-op).
pub fn applies(key: &ResourceKey, rules: &[IgnoreDifference]) -> bool {
    diff::matching_rules(key, rules).next().is_some()
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    /// An array element that a rule removed as a whole (a jq `select`): appended on restore.
    Element(Value),
}

/// The subtrees of `full` that are absent from `kept` (a copy of `full` with parts removed).
fn removed(full: &Value, kept: &Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, Value)>) {
    match (full, kept) {
        (Value::Object(f), Value::Object(k)) => {
            for (name, fv) in f {
                path.push(Step::Key(name.clone()));
                match k.get(name) {
                    None => out.push((path.clone(), fv.clone())),
                    Some(kv) if kv != fv => removed(fv, kv, path, out),
                    Some(_) => {}
                }
                path.pop();
            }
        }
        (Value::Array(f), Value::Array(k)) if f.len() == k.len() => {
            for (i, (fv, kv)) in f.iter().zip(k).enumerate() {
                if fv != kv {
                    path.push(Step::Index(i));
                    removed(fv, kv, path, out);
                    path.pop();
                }
            }
        }
        (Value::Array(f), Value::Array(k)) => {
            // Whole elements were removed; the kept ones stay in order.
            let mut rest = k.iter().peekable();
            for fv in f {
                if rest.peek() == Some(&fv) {
                    rest.next();
                } else {
                    path.push(Step::Element(fv.clone()));
                    out.push((path.clone(), fv.clone()));
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// Put `value` at `path` in `obj`, creating missing maps; list positions must exist.
fn set_at(obj: &mut Value, path: &[Step], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for step in parents {
        cur = match step {
            Step::Key(k) => {
                let Some(m) = cur.as_object_mut() else { return };
                m.entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            Step::Index(i) => match cur.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            Step::Element(_) => return,
        };
    }
    match (last, cur) {
        (Step::Key(k), Value::Object(m)) => {
            m.insert(k.clone(), value);
        }
        (Step::Index(i), Value::Array(a)) if *i < a.len() => a[*i] = value,
        (Step::Element(_), Value::Array(a)) => {
            // Not twice: a named element (a container) that Git also has stays Git's.
            let name = value.get("name");
            if !a
                .iter()
                .any(|e| *e == value || name.is_some() && e.get("name") == name)
            {
                a.push(value);
            }
        }
        _ => {}
    }
}

/// The object a sync with `RespectIgnoreDifferences=true` applies: `desired` without the ignored
/// fields, with live's values put back where live has them. `live` must carry `managedFields`
/// when a rule names managers.
pub fn respect_ignored(
    key: &ResourceKey,
    desired: &Value,
    live: &Value,
    rules: &[IgnoreDifference],
) -> Result<Value, DiffError> {
    let mut out = desired.clone();
    let mut kept = live.clone();
    diff::strip_ignored(key, &mut out, &mut kept, rules)?;
    let mut gone = Vec::new();
    removed(live, &kept, &mut Vec::new(), &mut gone);
    for (path, value) in gone {
        // Server-owned metadata never goes into an applied object.
        if matches!(path.first(), Some(Step::Key(k)) if k == "status")
            || matches!(path.as_slice(), [Step::Key(m), Step::Key(f), ..]
                if m == "metadata" && f == "managedFields")
        {
            continue;
        }
        set_at(&mut out, &path, value);
    }
    Ok(out)
}

/// A JSON pointer for display.
fn pointer(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Step::Index(i) => format!("/{i}"),
            Step::Element(_) => "/-".into(),
        })
        .collect()
}

fn resolves(v: Option<&Value>, path: &[Step]) -> bool {
    let mut cur = match v {
        Some(v) => v,
        None => return false,
    };
    for s in path {
        cur = match s {
            Step::Key(k) => match cur.get(k.as_str()) {
                Some(x) => x,
                None => return false,
            },
            Step::Index(i) => match cur.get(*i) {
                Some(x) => x,
                None => return false,
            },
            Step::Element(_) => return false,
        };
    }
    true
}

/// Leaf paths where `a` and `b` differ, with both values (`None`: absent on that side).
fn leaf_diffs(
    a: Option<&Value>,
    b: Option<&Value>,
    path: &mut Vec<Step>,
    out: &mut Vec<(Vec<Step>, Option<Value>, Option<Value>)>,
) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                path.push(Step::Key(k.clone()));
                leaf_diffs(x.get(k), y.get(k), path, out);
                path.pop();
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                path.push(Step::Index(i));
                leaf_diffs(Some(p), Some(q), path, out);
                path.pop();
            }
        }
        (x, y) if x != y => out.push((path.clone(), x.cloned(), y.cloned())),
        _ => {}
    }
}

fn show(v: &Option<Value>) -> String {
    let s = v
        .as_ref()
        .map_or_else(|| "(none)".to_string(), Value::to_string);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(39).collect::<String>())
    } else {
        s
    }
}

/// The ignored fields where live differs from the prediction of the desired object, as
/// `/spec/replicas: 6 → 1` (live → Git; Secret values masked): what a sync without
/// `RespectIgnoreDifferences=true` overwrites. Empty when no rule matches.
pub fn ignored_changes(
    key: &ResourceKey,
    predicted: &Value,
    live: &Value,
    opts: &DiffOptions<'_>,
) -> Result<Vec<String>, DiffError> {
    if !applies(key, opts.ignore_differences) {
        return Ok(Vec::new());
    }
    let all = DiffOptions {
        ignore_differences: &[],
        ..opts.clone()
    };
    let full = diff::compare(key, Some(predicted), Some(live), &all)?;
    if full.status == DiffStatus::Synced {
        return Ok(Vec::new());
    }
    let kept = diff::compare(key, Some(predicted), Some(live), opts)?;
    let mut diffs = Vec::new();
    leaf_diffs(
        full.live.as_ref(),
        full.predicted.as_ref(),
        &mut Vec::new(),
        &mut diffs,
    );
    Ok(diffs
        .into_iter()
        .filter(|(p, _, _)| {
            !resolves(kept.live.as_ref(), p) && !resolves(kept.predicted.as_ref(), p)
        })
        .map(|(p, l, d)| format!("{}: {} → {}", pointer(&p), show(&l), show(&d)))
        .collect())
}

/// The path of a server-side apply conflict (`.spec.template.spec.containers[name="web"].image`)
/// in `obj`. Field names may contain dots (`.metadata.labels.app.kubernetes.io/name`): the
/// longest name `obj` has wins.
fn conflict_path(obj: &Value, field: &str) -> Option<Vec<Step>> {
    let mut path = Vec::new();
    let mut cur = obj;
    let mut rest = field;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let m = cur.as_object()?;
            let name = m
                .keys()
                .filter(|k| {
                    r.starts_with(k.as_str())
                        && matches!(r[k.len()..].chars().next(), None | Some('.' | '['))
                })
                .max_by_key(|k| k.len())?;
            cur = &m[name];
            path.push(Step::Key(name.clone()));
            rest = &r[name.len()..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let (sel, after) = (&r[..end], &r[end + 1..]);
            let list = cur.as_array()?;
            let i = if let Ok(i) = sel.parse::<usize>() {
                i
            } else if let Some(v) = sel.strip_prefix('=') {
                let want: Value = serde_json::from_str(v).ok()?;
                list.iter().position(|e| *e == want)?
            } else {
                // `k=v,k2=v2` with JSON values.
                let pairs: Vec<(&str, Value)> = sel
                    .split(',')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k, serde_json::from_str(v).ok()?))
                    })
                    .collect::<Option<_>>()?;
                list.iter()
                    .position(|e| pairs.iter().all(|(k, v)| e.get(*k) == Some(v)))?
            };
            cur = list.get(i)?;
            path.push(Step::Index(i));
            rest = after;
        } else {
            return None;
        }
    }
    Some(path)
}

/// Whether a field-manager conflict on `live` is on a field `rules` ignore: the other manager is
/// one of the rules' `managedFieldsManagers`, or a JSON pointer / jq path removes the field.
pub fn conflict_ignored(
    key: &ResourceKey,
    conflict: &FieldConflict,
    live: &Value,
    rules: &[IgnoreDifference],
) -> bool {
    if diff::matching_rules(key, rules)
        .any(|r| r.managed_fields_managers.contains(&conflict.manager))
    {
        return true;
    }
    let Some(path) = conflict_path(live, &conflict.field) else {
        return false;
    };
    let mut kept = live.clone();
    let mut other = Value::Object(Map::new());
    let pointer_rules: Vec<IgnoreDifference> = rules
        .iter()
        .map(|r| IgnoreDifference {
            managed_fields_managers: Vec::new(),
            ..r.clone()
        })
        .collect();
    diff::strip_ignored(key, &mut other, &mut kept, &pointer_rules).is_ok()
        && !resolves(Some(&kept), &path)
}

#[cfg(test)]
mod tests;
