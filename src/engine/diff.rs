//! Compare a predicted live object with the live object, as Argo CD's server-side diff does.
//!
//! The caller runs a `dryRun=All` server-side apply of each desired object (field manager
//! `sextant`) and hands the result here as the *predicted* object. This module, pure and free of
//! cluster access:
//! - drops what the server owns or churns ([`normalize`]): `status`, `managedFields`,
//!   `resourceVersion`, `uid`, `generation`, `creationTimestamp`, `selfLink`, the kubectl
//!   last-applied annotation; folds Secret `stringData` into base64 `data`;
//! - undoes mutating-webhook changes in the prediction ([`remove_webhook_mutations`]): only the
//!   fields our manager owns are taken from the prediction, the rest stays as live has it;
//! - honours `ignoreDifferences` (JSON pointers, a path subset of jq expressions, and fields owned
//!   by `managedFieldsManagers`);
//! - masks Secret values like Argo CD's `HideSecretData` ([`mask_secret_pair`], [`mask_secret`]);
//! - renders both sides as YAML with sorted keys and gives a unified diff ([`compare`]).
//!
//! [`foreign_owner`] tells whether another GitOps controller (Argo CD) already tracks an object.
//!
//! Over 600 lines: to be split into `diff/{normalize,secrets,ignore,jq,managed_fields}` (issue 16).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::app::IgnoreDifference;
use crate::resource::{ResourceKey, TRACKING_ANNOTATION};

/// Annotation kubectl's client-side apply writes; never part of a comparison.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Argo CD's annotation-based tracking (`<app>:<group>/<kind>:<namespace>/<name>`).
pub const ARGOCD_TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
/// Label Argo CD's label-based tracking sets to the Application name (Helm charts set it too).
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Annotation the Helm CLI writes on what it installs; marks a label as Helm's, not Argo CD's.
const HELM_RELEASE_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Field manager Sextant applies with.
pub const FIELD_MANAGER: &str = "sextant";
/// Shortest mask; each further distinct value of the same key gets four more characters.
const MASK: &str = "++++++++";

/// Errors from comparing objects.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(
        "{key}: ignoreDifferences jsonPointer {pointer:?} is not a JSON pointer: it must be empty or start with '/' (e.g. /spec/replicas)"
    )]
    BadJsonPointer { key: String, pointer: String },
    #[error(
        "{key}: ignoreDifferences jqPathExpression {expression:?} is not supported: {reason}. Supported: paths like .spec.template.spec.containers[].image, [N], [\"key\"], and `| select(.field == \"value\")`; use jsonPointers otherwise"
    )]
    UnsupportedJq {
        key: String,
        expression: String,
        reason: String,
    },
    #[error("{key}: managedFields entry {index} has malformed fieldsV1: {reason}")]
    BadManagedFields {
        key: String,
        index: usize,
        reason: String,
    },
    #[error("neither a predicted nor a live object was given for {key}")]
    NothingToCompare { key: String },
}

/// How one resource compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffStatus {
    /// Predicted and live agree after normalisation.
    Synced,
    /// Both exist and differ.
    OutOfSync,
    /// Desired but absent from the cluster: sync creates it.
    Missing,
    /// Tracked by this App but no longer desired: sync prunes it (when pruning is allowed).
    Extra,
}

impl DiffStatus {
    /// Whether a sync would change the cluster for this resource.
    pub fn needs_sync(self) -> bool {
        !matches!(self, DiffStatus::Synced)
    }
}

/// Result of comparing one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDiff {
    pub key: ResourceKey,
    pub status: DiffStatus,
    /// Unified diff (live → desired) of the masked YAML renderings; empty when Synced.
    pub diff: String,
    /// Normalised, masked predicted object (`None` for Extra).
    pub predicted: Option<Value>,
    /// Normalised, masked live object (`None` for Missing).
    pub live: Option<Value>,
    /// Set when another GitOps controller tracks the live object (see [`foreign_owner`]).
    pub foreign_owner: Option<String>,
}

/// Options of a comparison.
#[derive(Debug, Clone)]
pub struct DiffOptions<'a> {
    /// The App's `ignoreDifferences`.
    pub ignore_differences: &'a [IgnoreDifference],
    /// Field manager of the dry-run apply (normally [`FIELD_MANAGER`]).
    pub manager: &'a str,
    /// Keep only our manager's fields from the prediction (Argo CD's default): changes made by
    /// mutating webhooks during the dry run are not reported as drift.
    pub ignore_mutation_webhook: bool,
    /// Ignore `rules` of ClusterRoles that have an `aggregationRule` (filled by a controller).
    pub ignore_aggregated_roles: bool,
    /// Context lines in the unified diff.
    pub context_lines: usize,
}

impl Default for DiffOptions<'_> {
    fn default() -> Self {
        Self {
            ignore_differences: &[],
            manager: FIELD_MANAGER,
            ignore_mutation_webhook: true,
            ignore_aggregated_roles: false,
            context_lines: 3,
        }
    }
}

/// Compare the dry-run prediction of a desired object with the live object.
///
/// `predicted` is `None` for a tracked object no longer desired (Extra); `live` is `None` for an
/// object still to be created (Missing). Neither input is modified.
pub fn compare(
    key: &ResourceKey,
    predicted: Option<&Value>,
    live: Option<&Value>,
    opts: &DiffOptions<'_>,
) -> Result<ResourceDiff, DiffError> {
    let foreign = live.and_then(foreign_owner);
    let (mut pred, mut liv) = match (predicted, live) {
        (None, None) => {
            return Err(DiffError::NothingToCompare {
                key: key.to_string(),
            });
        }
        (Some(p), Some(l)) if opts.ignore_mutation_webhook => (
            Some(remove_webhook_mutations(p, l, opts.manager)),
            Some(l.clone()),
        ),
        (p, l) => (p.cloned(), l.cloned()),
    };
    // Fields of trusted managers are read from live's managedFields, so strip them first.
    let trusted = trusted_manager_fields(key, live, opts)?;
    for v in [pred.as_mut(), liv.as_mut()].into_iter().flatten() {
        normalize(v);
        if opts.ignore_aggregated_roles {
            drop_aggregated_rules(v);
        }
    }
    for rule in matching_rules(key, opts.ignore_differences) {
        for v in [pred.as_mut(), liv.as_mut()].into_iter().flatten() {
            apply_ignore_rule(key, v, rule)?;
        }
    }
    if let (Some(p), Some(l)) = (pred.as_mut(), liv.as_mut()) {
        for set in &trusted {
            remove_differing(p, l, set);
        }
    }
    let status = match (&pred, &liv) {
        (Some(p), Some(l)) if p == l => DiffStatus::Synced,
        (Some(_), Some(_)) => DiffStatus::OutOfSync,
        (Some(_), None) => DiffStatus::Missing,
        (None, _) => DiffStatus::Extra,
    };
    mask_secret_pair(pred.as_mut(), liv.as_mut());
    let diff = if status == DiffStatus::Synced {
        String::new()
    } else {
        let old = liv.as_ref().map(to_yaml).unwrap_or_default();
        let new = pred.as_ref().map(to_yaml).unwrap_or_default();
        unified_diff(
            &old,
            &new,
            &format!("live/{key}"),
            &format!("desired/{key}"),
            opts.context_lines,
        )
    };
    Ok(ResourceDiff {
        key: key.clone(),
        status,
        diff,
        predicted: pred,
        live: liv,
        foreign_owner: foreign,
    })
}

/// Remove what the server owns or changes on every write, in place: `status`, `managedFields`,
/// `resourceVersion`, `uid`, `generation`, `creationTimestamp`, `selfLink`, the last-applied
/// annotation (and `annotations` if that leaves it empty). Secrets get `stringData` folded into
/// base64 `data` and `null` values turned into `""`, as the API server would store them.
pub fn normalize(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    map.remove("status");
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(field);
        }
        let empty = match meta.get_mut("annotations") {
            Some(Value::Object(a)) => {
                a.remove(LAST_APPLIED_ANNOTATION);
                a.is_empty()
            }
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            meta.remove("annotations");
        }
    }
    normalize_secret(obj);
}

/// Fold a Secret's `stringData` into base64 `data` and turn `null` data values into `""`.
/// Non-string `stringData` values are kept as they are so a bad manifest still shows in the diff.
pub fn normalize_secret(obj: &mut Value) {
    if !is_core_secret(obj) {
        return;
    }
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        if let Some(data) = data.as_object_mut() {
            for (k, v) in string_data {
                let encoded = match v {
                    Value::String(s) => Value::String(base64_encode(s.as_bytes())),
                    other => other,
                };
                data.insert(k, encoded);
            }
        }
    }
    match map.get_mut("data") {
        Some(Value::Object(data)) => {
            for v in data.values_mut() {
                if v.is_null() {
                    *v = Value::String(String::new());
                }
            }
            if data.is_empty() {
                map.remove("data");
            }
        }
        Some(Value::Null) => {
            map.remove("data");
        }
        _ => {}
    }
}

fn is_core_secret(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_none_or(|v| !v.contains('/'))
}

/// Mask the values of a desired/predicted and a live Secret together, as Argo CD does: each value
/// becomes `++++++++`, and for each key every further distinct value gets four more `+`, so a
/// changed value stays visible while no value leaks. Both `data` and `stringData` are covered
/// (the latter folded into `data` first); values inside the live last-applied annotation too.
/// Objects that are not Secrets are left alone.
pub fn mask_secret_pair(target: Option<&mut Value>, live: Option<&mut Value>) {
    let mut objs: Vec<&mut Value> = [target, live]
        .into_iter()
        .flatten()
        .filter(|o| is_core_secret(o))
        .collect();
    if objs.is_empty() {
        return;
    }
    // The last-applied annotation holds the previous manifest verbatim; mask it with the rest.
    let mut last_applied: Vec<(usize, Value)> = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        if let Some(raw) = o
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
            .and_then(Value::as_str)
        {
            let parsed = serde_json::from_str::<Value>(raw).unwrap_or(Value::Null);
            last_applied.push((i, parsed));
        }
    }
    for o in objs.iter_mut() {
        normalize_secret(o);
    }
    for (_, la) in last_applied.iter_mut() {
        normalize_secret(la);
    }
    let mut keys: Vec<String> = Vec::new();
    {
        let all = objs
            .iter()
            .map(|o| &**o)
            .chain(last_applied.iter().map(|(_, v)| v));
        for o in all {
            if let Some(Value::Object(d)) = o.get("data") {
                for k in d.keys() {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
        }
    }
    for k in &keys {
        let mut next = MASK.to_string();
        let mut seen: HashMap<String, String> = HashMap::new();
        let all = objs
            .iter_mut()
            .map(|o| &mut **o)
            .chain(last_applied.iter_mut().map(|(_, v)| v));
        for o in all {
            let Some(Value::Object(d)) = o.get_mut("data") else {
                continue;
            };
            let Some(v) = d.get_mut(k) else { continue };
            let raw = match &*v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mask = seen.entry(raw).or_insert_with(|| {
                let m = next.clone();
                next.push_str("++++");
                m
            });
            *v = Value::String(mask.clone());
        }
    }
    for (i, la) in last_applied {
        let text = if la.is_null() {
            // Unparseable: it may still hold values, so hide it entirely.
            MASK.to_string()
        } else {
            la.to_string()
        };
        if let Some(a) = objs[i]
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            a.insert(LAST_APPLIED_ANNOTATION.into(), Value::String(text));
        }
    }
}

/// Mask one Secret for display anywhere (logs, history, JSON output); see [`mask_secret_pair`].
pub fn mask_secret(obj: &mut Value) {
    mask_secret_pair(Some(obj), None);
}

/// YAML rendering with keys sorted at every level, so diffs are deterministic.
pub fn to_yaml(v: &Value) -> String {
    let sorted = sort_keys(v);
    serde_saphyr::to_string(&sorted).unwrap_or_else(|_| {
        // Serialising a JSON value cannot fail in practice; fall back to JSON which is YAML.
        serde_json::to_string_pretty(&sorted).unwrap_or_default()
    })
}

fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sort_keys(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// Unified diff of two texts with `context` lines around each change.
pub fn unified_diff(
    old: &str,
    new: &str,
    old_name: &str,
    new_name: &str,
    context: usize,
) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(context)
        .header(old_name, new_name)
        .to_string()
}

/// Which other GitOps controller tracks `obj`, if any: Argo CD's tracking annotation, or its
/// `app.kubernetes.io/instance` label tracking on an object Sextant has not applied and that the
/// Helm CLI did not install (charts set that label too, so it counts only on such objects).
pub fn foreign_owner(obj: &Value) -> Option<String> {
    let meta = obj.get("metadata")?;
    let annotations = meta.get("annotations");
    let annotation = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    if let Some(id) = annotation(ARGOCD_TRACKING_ANNOTATION) {
        let app = id.split_once(':').map(|(a, _)| a).unwrap_or(id);
        return Some(format!(
            "Argo CD application {app:?} (annotation {ARGOCD_TRACKING_ANNOTATION})"
        ));
    }
    if annotation(TRACKING_ANNOTATION).is_some() || annotation(HELM_RELEASE_ANNOTATION).is_some() {
        return None;
    }
    let instance = meta
        .get("labels")
        .and_then(|l| l.get(INSTANCE_LABEL))
        .and_then(Value::as_str)?;
    Some(format!(
        "Argo CD application {instance:?} (label {INSTANCE_LABEL}, Argo CD label tracking)"
    ))
}

fn drop_aggregated_rules(obj: &mut Value) {
    let is_aggregated = obj.get("kind").and_then(Value::as_str) == Some("ClusterRole")
        && obj.get("aggregationRule").is_some_and(|a| !a.is_null());
    if is_aggregated && let Some(m) = obj.as_object_mut() {
        m.remove("rules");
    }
}

// ---------------------------------------------------------------------------------------------
// ignoreDifferences

pub(crate) fn matching_rules<'a>(
    key: &'a ResourceKey,
    rules: &'a [IgnoreDifference],
) -> impl Iterator<Item = &'a IgnoreDifference> + 'a {
    rules.iter().filter(move |r| {
        (r.group == "*" || r.group == key.group)
            && (r.kind == "*" || r.kind == key.kind)
            && r.name
                .as_deref()
                .is_none_or(|n| n.is_empty() || n == key.name)
            && r.namespace
                .as_deref()
                .is_none_or(|n| n.is_empty() || n == key.namespace)
    })
}

/// Whether comparing `key` under `rules` reads the live object's `managedFields` (a rule with
/// `managedFieldsManagers` matches it). Callers that keep live objects without managedFields
/// (the live cache) fetch them only then.
pub fn needs_live_managed_fields(key: &ResourceKey, rules: &[IgnoreDifference]) -> bool {
    matching_rules(key, rules).any(|r| !r.managed_fields_managers.is_empty())
}

/// Remove what `rules` ignore from a desired and a live object as they are (no normalisation):
/// JSON pointers and jq paths from both, and the fields the trusted `managedFieldsManagers` own
/// in `live` where the two differ. `live` must still carry its `managedFields` when a rule names
/// managers. What is left is what a sync would change; see [`super::ignore`].
pub(crate) fn strip_ignored(
    key: &ResourceKey,
    desired: &mut Value,
    live: &mut Value,
    rules: &[IgnoreDifference],
) -> Result<(), DiffError> {
    let opts = DiffOptions {
        ignore_differences: rules,
        ..DiffOptions::default()
    };
    let trusted = trusted_manager_fields(key, Some(live), &opts)?;
    for rule in matching_rules(key, rules) {
        apply_ignore_rule(key, desired, rule)?;
        apply_ignore_rule(key, live, rule)?;
    }
    for set in &trusted {
        remove_differing(desired, live, set);
    }
    Ok(())
}

fn apply_ignore_rule(
    key: &ResourceKey,
    obj: &mut Value,
    rule: &IgnoreDifference,
) -> Result<(), DiffError> {
    for p in &rule.json_pointers {
        remove_pointer(obj, p).map_err(|_| DiffError::BadJsonPointer {
            key: key.to_string(),
            pointer: p.clone(),
        })?;
    }
    for e in &rule.jq_path_expressions {
        let steps = parse_jq(e).map_err(|reason| DiffError::UnsupportedJq {
            key: key.to_string(),
            expression: e.clone(),
            reason,
        })?;
        remove_jq(obj, &steps);
    }
    Ok(())
}

/// Remove the value at an RFC 6901 pointer; a path that does not exist is not an error.
fn remove_pointer(obj: &mut Value, pointer: &str) -> Result<(), ()> {
    if pointer.is_empty() {
        return Ok(());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(());
    };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return Ok(());
    };
    let mut cur = obj;
    for t in parents {
        cur = match cur {
            Value::Object(m) => match m.get_mut(t) {
                Some(v) => v,
                None => return Ok(()),
            },
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
    }
    match cur {
        Value::Object(m) => {
            m.shift_remove(last);
        }
        Value::Array(a) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum JqStep {
    Field(String),
    Index(usize),
    Each,
    Select(Vec<String>, Value),
}

/// Parse the path subset of jq that `ignoreDifferences` uses in practice.
fn parse_jq(expr: &str) -> Result<Vec<JqStep>, String> {
    let mut steps = Vec::new();
    for (seg_no, segment) in expr.split('|').map(str::trim).enumerate() {
        if let Some(inner) = segment
            .strip_prefix("select(")
            .and_then(|s| s.strip_suffix(')'))
        {
            let (lhs, rhs) = inner
                .split_once("==")
                .ok_or_else(|| format!("select() needs `.path == value`, got {inner:?}"))?;
            let path = parse_jq_path(lhs.trim())?;
            let fields = path
                .into_iter()
                .map(|s| match s {
                    JqStep::Field(f) => Ok(f),
                    other => Err(format!("select() path may only name fields, got {other:?}")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let value: Value = serde_json::from_str(rhs.trim())
                .map_err(|_| format!("select() value {:?} is not a JSON literal", rhs.trim()))?;
            steps.push(JqStep::Select(fields, value));
        } else if seg_no > 0 && segment.is_empty() {
            return Err("empty pipeline segment".into());
        } else {
            steps.extend(parse_jq_path(segment)?);
        }
    }
    if steps.is_empty() {
        return Err("empty expression".into());
    }
    Ok(steps)
}

fn parse_jq_path(s: &str) -> Result<Vec<JqStep>, String> {
    let mut steps = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    if chars.is_empty() {
        return Err("empty path".into());
    }
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                if i < chars.len() && chars[i] == '"' {
                    let (name, next) = quoted(&chars, i)?;
                    steps.push(JqStep::Field(name));
                    i = next;
                } else {
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    if i > start {
                        steps.push(JqStep::Field(chars[start..i].iter().collect()));
                    }
                }
            }
            '[' => {
                i += 1;
                if i < chars.len() && chars[i] == ']' {
                    steps.push(JqStep::Each);
                    i += 1;
                } else if i < chars.len() && chars[i] == '"' {
                    let (name, next) = quoted(&chars, i)?;
                    if chars.get(next) != Some(&']') {
                        return Err("missing ']'".into());
                    }
                    steps.push(JqStep::Field(name));
                    i = next + 1;
                } else {
                    let start = i;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    if chars.get(i) != Some(&']') || i == start {
                        return Err(format!(
                            "unsupported index at {:?}",
                            &s[start.min(s.len())..]
                        ));
                    }
                    let n: String = chars[start..i].iter().collect();
                    steps.push(JqStep::Index(
                        n.parse().map_err(|_| "bad index".to_string())?,
                    ));
                    i += 1;
                }
                if chars.get(i) == Some(&'?') {
                    i += 1;
                }
            }
            '?' => i += 1,
            c => return Err(format!("unexpected {c:?}")),
        }
    }
    Ok(steps)
}

fn quoted(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut i = start + 1;
    let mut out = String::new();
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' && i + 1 < chars.len() {
            i += 1;
        }
        out.push(chars[i]);
        i += 1;
    }
    if i >= chars.len() {
        return Err("unterminated string".into());
    }
    Ok((out, i + 1))
}

/// Remove every value the jq path selects.
fn remove_jq(obj: &mut Value, steps: &[JqStep]) {
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    match last {
        JqStep::Field(f) => for_each_target(obj, parents, &mut |v| {
            if let Value::Object(m) = v {
                m.shift_remove(f);
            }
        }),
        JqStep::Index(n) => for_each_target(obj, parents, &mut |v| {
            if let Value::Array(a) = v
                && *n < a.len()
            {
                a.remove(*n);
            }
        }),
        JqStep::Each => for_each_target(obj, parents, &mut |v| match v {
            Value::Array(a) => a.clear(),
            Value::Object(m) => m.clear(),
            _ => {}
        }),
        // `.list[] | select(...)` as the final step removes the matching elements.
        JqStep::Select(path, want) => {
            let Some((JqStep::Each, grand)) = parents.split_last() else {
                return;
            };
            for_each_target(obj, grand, &mut |v| {
                if let Value::Array(a) = v {
                    a.retain(|e| !selects(e, path, want));
                }
            })
        }
    }
}

fn selects(v: &Value, path: &[String], want: &Value) -> bool {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return false,
        }
    }
    cur == want
}

fn for_each_target(v: &mut Value, steps: &[JqStep], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = steps.split_first() else {
        f(v);
        return;
    };
    match first {
        JqStep::Field(name) => {
            if let Some(x) = v.get_mut(name.as_str()) {
                for_each_target(x, rest, f);
            }
        }
        JqStep::Index(n) => {
            if let Some(x) = v.get_mut(*n) {
                for_each_target(x, rest, f);
            }
        }
        JqStep::Each => match v {
            Value::Array(a) => a.iter_mut().for_each(|x| for_each_target(x, rest, f)),
            Value::Object(m) => m.values_mut().for_each(|x| for_each_target(x, rest, f)),
            _ => {}
        },
        JqStep::Select(path, want) => {
            if selects(v, path, want) {
                for_each_target(v, rest, f);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// managedFields (fieldsV1): a tree of path elements, schema-free because list keys are spelled out.

#[derive(Debug, Clone, PartialEq)]
enum PathElement {
    /// `f:<name>`: a field of a map.
    Field(String),
    /// `k:{...}`: the list element whose key fields have these values.
    Key(Map<String, Value>),
    /// `v:<json>`: the set element equal to this value.
    Value(Value),
    /// `i:<n>`: a list element by position.
    Index(usize),
}

/// A parsed `fieldsV1` set.
#[derive(Debug, Clone, Default, PartialEq)]
struct FieldSet {
    members: Vec<(PathElement, FieldSet)>,
    /// `.` was present: the container itself is owned, not (only) a value.
    itself: bool,
}

impl FieldSet {
    fn parse(v: &Value) -> Result<Self, String> {
        let Value::Object(m) = v else {
            return Err(format!("expected an object, found {v}"));
        };
        let mut members = Vec::new();
        let mut itself = false;
        for (k, child) in m {
            if k == "." {
                itself = true;
                continue;
            }
            let pe = if let Some(f) = k.strip_prefix("f:") {
                PathElement::Field(f.to_string())
            } else if let Some(j) = k.strip_prefix("k:") {
                match serde_json::from_str(j) {
                    Ok(Value::Object(km)) => PathElement::Key(km),
                    _ => return Err(format!("bad list key {k:?}")),
                }
            } else if let Some(j) = k.strip_prefix("v:") {
                PathElement::Value(
                    serde_json::from_str(j).map_err(|_| format!("bad set value {k:?}"))?,
                )
            } else if let Some(n) = k.strip_prefix("i:") {
                PathElement::Index(n.parse().map_err(|_| format!("bad index {k:?}"))?)
            } else {
                return Err(format!("unknown path element {k:?}"));
            };
            members.push((pe, FieldSet::parse(child)?));
        }
        Ok(FieldSet { members, itself })
    }

    /// `{}`: a value owned as a whole.
    fn is_leaf(&self) -> bool {
        self.members.is_empty() && !self.itself
    }

    fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.members.iter().find(|(p, _)| p == pe).map(|(_, c)| c)
    }

    fn field(&self, name: &str) -> Option<&FieldSet> {
        self.members.iter().find_map(|(p, c)| match p {
            PathElement::Field(f) if f == name => Some(c),
            _ => None,
        })
    }

    /// Union of two sets (several entries of one manager, e.g. Apply and Update).
    fn union(mut self, other: &FieldSet) -> FieldSet {
        self.itself |= other.itself;
        for (pe, c) in &other.members {
            match self.members.iter_mut().find(|(p, _)| p == pe) {
                Some((_, mine)) => *mine = std::mem::take(mine).union(c),
                None => self.members.push((pe.clone(), c.clone())),
            }
        }
        self
    }
}

/// Field sets of managedFields entries of `obj` whose manager satisfies `pred`.
fn manager_sets(
    obj: &Value,
    pred: impl Fn(&str) -> bool,
) -> Result<Vec<FieldSet>, (usize, String)> {
    let Some(entries) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
        if !pred(manager) {
            continue;
        }
        if let Some(f) = e.get("fieldsV1") {
            out.push(FieldSet::parse(f).map_err(|r| (i, r))?);
        }
    }
    Ok(out)
}

fn trusted_manager_fields(
    key: &ResourceKey,
    live: Option<&Value>,
    opts: &DiffOptions<'_>,
) -> Result<Vec<FieldSet>, DiffError> {
    let managers: Vec<&String> = matching_rules(key, opts.ignore_differences)
        .flat_map(|r| r.managed_fields_managers.iter())
        .collect();
    let Some(live) = live.filter(|_| !managers.is_empty()) else {
        return Ok(Vec::new());
    };
    manager_sets(live, |m| managers.iter().any(|t| t.as_str() == m)).map_err(|(index, reason)| {
        DiffError::BadManagedFields {
            key: key.to_string(),
            index,
            reason,
        }
    })
}

fn key_matches(elem: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(k, v)| elem.get(k) == Some(v))
}

fn find_key(list: &[Value], key: &Map<String, Value>) -> Option<usize> {
    list.iter().position(|e| key_matches(e, key))
}

/// The list-element key of `elem` using the same key field names as `key`.
fn key_of(elem: &Value, key: &Map<String, Value>) -> Option<Map<String, Value>> {
    key.keys()
        .map(|k| elem.get(k).map(|v| (k.clone(), v.clone())))
        .collect()
}

/// Undo mutating-webhook changes in a dry-run prediction. The result has the fields of
/// `predicted` (what the apply removes stays removed, order is kept) but only the fields our
/// `manager` owns there keep the predicted value; any other field takes live's value, or is
/// dropped when live does not have it (a webhook added it). List elements are matched by the keys managedFields
/// spells out. When the prediction has no managedFields entry for `manager` (a server that does
/// not report them) it is returned unchanged.
pub fn remove_webhook_mutations(predicted: &Value, live: &Value, manager: &str) -> Value {
    let set = match manager_sets(predicted, |m| m == manager) {
        Ok(sets) if !sets.is_empty() => {
            sets.iter().fold(FieldSet::default(), |acc, s| acc.union(s))
        }
        _ => return predicted.clone(),
    };
    project(predicted, Some(live), &set).unwrap_or_else(|| predicted.clone())
}

/// See [`remove_webhook_mutations`]; `None` drops the value.
fn project(pred: &Value, live: Option<&Value>, set: &FieldSet) -> Option<Value> {
    if set.is_leaf() {
        return Some(pred.clone());
    }
    match pred {
        Value::Object(pm) => {
            let lm = live.and_then(Value::as_object);
            let mut out = Map::new();
            for (k, pv) in pm {
                let lv = lm.and_then(|m| m.get(k));
                let v = match set.field(k) {
                    Some(child) => project(pv, lv, child),
                    None => lv.map(|l| unowned(pv, l)),
                };
                if let Some(v) = v {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(pa) => {
            let la = live.and_then(Value::as_array).map(Vec::as_slice);
            let key_names = set.members.iter().find_map(|(p, _)| match p {
                PathElement::Key(k) => Some(k),
                _ => None,
            });
            let has_values = set
                .members
                .iter()
                .any(|(p, _)| matches!(p, PathElement::Value(_)));
            let has_index = set
                .members
                .iter()
                .any(|(p, _)| matches!(p, PathElement::Index(_)));
            let mut out = Vec::new();
            if let Some(names) = key_names {
                for pe in pa {
                    let Some(k) = key_of(pe, names) else { continue };
                    let le = la.and_then(|l| find_key(l, &k).map(|i| &l[i]));
                    match set.child(&PathElement::Key(k.clone())) {
                        Some(child) => {
                            let mut v = project(pe, le, child).unwrap_or_else(|| json_object(&k));
                            // Key fields identify the element; keep them even if unowned.
                            if let Value::Object(m) = &mut v {
                                for (kk, kv) in &k {
                                    m.insert(kk.clone(), kv.clone());
                                }
                            }
                            out.push(v);
                        }
                        None => out.extend(le.map(|l| unowned(pe, l))),
                    }
                }
            } else if has_values {
                for pe in pa {
                    let owned = set.child(&PathElement::Value(pe.clone())).is_some();
                    if owned || la.is_some_and(|l| l.contains(pe)) {
                        out.push(pe.clone());
                    }
                }
            } else if has_index {
                for (i, pe) in pa.iter().enumerate() {
                    let le = la.and_then(|l| l.get(i));
                    let v = match set.child(&PathElement::Index(i)) {
                        Some(child) => project(pe, le, child),
                        None => le.map(|l| unowned(pe, l)),
                    };
                    out.extend(v);
                }
            } else {
                // The list is owned but none of its elements: they stay as live has them.
                return Some(
                    la.map_or_else(|| Value::Array(Vec::new()), |l| Value::Array(l.to_vec())),
                );
            }
            Some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

/// A field our manager does not own: live's value, but only where the prediction still has the
/// field (what the apply removes stays removed).
fn unowned(pred: &Value, live: &Value) -> Value {
    match (pred, live) {
        (Value::Object(pm), Value::Object(lm)) => Value::Object(
            pm.iter()
                .filter_map(|(k, pv)| lm.get(k).map(|lv| (k.clone(), unowned(pv, lv))))
                .collect(),
        ),
        _ => live.clone(),
    }
}

fn json_object(m: &Map<String, Value>) -> Value {
    Value::Object(m.clone())
}

/// Remove from both sides the values `set` names where the two differ.
fn remove_differing(a: &mut Value, b: &mut Value, set: &FieldSet) {
    for (pe, child) in &set.members {
        match pe {
            PathElement::Field(name) => {
                let (Some(am), Some(bm)) = (a.as_object_mut(), b.as_object_mut()) else {
                    continue;
                };
                let (Some(av), Some(bv)) = (am.get_mut(name), bm.get_mut(name)) else {
                    continue;
                };
                if child.is_leaf() {
                    if av != bv {
                        am.shift_remove(name);
                        bm.shift_remove(name);
                    }
                } else {
                    remove_differing(av, bv, child);
                }
            }
            PathElement::Key(key) => {
                let (Some(al), Some(bl)) = (a.as_array_mut(), b.as_array_mut()) else {
                    continue;
                };
                let (Some(ai), Some(bi)) = (find_key(al, key), find_key(bl, key)) else {
                    continue;
                };
                if child.is_leaf() {
                    if al[ai] != bl[bi] {
                        al.remove(ai);
                        bl.remove(bi);
                    }
                } else {
                    remove_differing(&mut al[ai], &mut bl[bi], child);
                }
            }
            PathElement::Index(i) => {
                let (Some(al), Some(bl)) = (a.as_array_mut(), b.as_array_mut()) else {
                    continue;
                };
                if *i < al.len() && *i < bl.len() {
                    if child.is_leaf() {
                        if al[*i] != bl[*i] {
                            al.remove(*i);
                            bl.remove(*i);
                        }
                    } else {
                        let (x, y) = (&mut al[*i], &mut bl[*i]);
                        remove_differing(x, y, child);
                    }
                }
            }
            PathElement::Value(_) => {}
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data})
    }

    fn key() -> ResourceKey {
        ResourceKey::new("apps", "Deployment", "prod", "web")
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn normalize_drops_server_fields() {
        let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "uid": "u", "resourceVersion": "1", "generation": 2,
                "creationTimestamp": "t", "selfLink": "/x", "managedFields": [],
                "annotations": {LAST_APPLIED_ANNOTATION: "{}"}},
            "data": {"a": "b"}, "status": {"x": 1}});
        normalize(&mut o);
        assert_eq!(
            o,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}})
        );
    }

    #[test]
    fn secret_masking_same_keys_different_values() {
        let mut t = secret(json!({"key1": "dGVzdA==", "key2": "dGVzdA=="}));
        let mut l = secret(json!({"key1": "dGVzdC0x", "key2": "dGVzdC0x"}));
        mask_secret_pair(Some(&mut t), Some(&mut l));
        assert_eq!(t["data"], json!({"key1": "++++++++", "key2": "++++++++"}));
        assert_eq!(
            l["data"],
            json!({"key1": "++++++++++++", "key2": "++++++++++++"})
        );
    }

    #[test]
    fn secret_masking_same_values_and_different_keys() {
        let mut t = secret(json!({"key1": "dGVzdA==", "key2": "dGVzdA=="}));
        let mut l = secret(json!({"key1": "dGVzdA==", "key2": "dGVzdA=="}));
        mask_secret_pair(Some(&mut t), Some(&mut l));
        assert_eq!(t["data"], l["data"]);
        let mut t = secret(json!({"key1": "dGVzdA==", "key2": "dGVzdA=="}));
        let mut l = secret(json!({"key2": "dGVzdC0x", "key3": "dGVzdC0x"}));
        mask_secret_pair(Some(&mut t), Some(&mut l));
        assert_eq!(t["data"], json!({"key1": "++++++++", "key2": "++++++++"}));
        assert_eq!(
            l["data"],
            json!({"key2": "++++++++++++", "key3": "++++++++"})
        );
    }

    #[test]
    fn string_data_is_folded_and_masked_without_leaking() {
        let mut t = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter2", "n": 5}, "data": {"flag": false}});
        let mut l = secret(json!({"password": base64_encode(b"hunter2")}));
        let before_t = t.clone();
        normalize(&mut t);
        assert_eq!(t["data"]["password"], json!(base64_encode(b"hunter2")));
        assert!(t.get("stringData").is_none());
        let mut t = before_t;
        mask_secret_pair(Some(&mut t), Some(&mut l));
        assert_eq!(t["data"]["password"], l["data"]["password"]);
        assert_eq!(t["data"]["n"], json!("++++++++"));
        assert_eq!(t["data"]["flag"], json!("++++++++"));
        let text = format!("{t}{l}");
        assert!(!text.contains("hunter2") && !text.contains(&base64_encode(b"hunter2")));
    }

    #[test]
    fn last_applied_annotation_is_masked() {
        let la = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"k": base64_encode(b"old")}})
        .to_string();
        let mut live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {LAST_APPLIED_ANNOTATION: la}},
            "data": {"k": base64_encode(b"new")}});
        mask_secret(&mut live);
        let text = live.to_string();
        assert!(!text.contains(&base64_encode(b"old")), "{text}");
        assert!(!text.contains(&base64_encode(b"new")), "{text}");
        assert_eq!(live["data"]["k"], json!("++++++++"));
    }

    #[test]
    fn compare_reports_statuses_and_masks_diff() {
        let opts = DiffOptions::default();
        let k = ResourceKey::new("", "Secret", "ns", "s");
        let p = secret(json!({"k": base64_encode(b"one")}));
        let l = secret(json!({"k": base64_encode(b"two")}));
        let d = compare(&k, Some(&p), Some(&l), &opts).expect("compare");
        assert_eq!(d.status, DiffStatus::OutOfSync);
        assert!(
            d.diff.contains("-  k: ++++++++++++") || d.diff.contains("++++++++++++"),
            "{}",
            d.diff
        );
        assert!(!d.diff.contains(&base64_encode(b"one")));
        assert_eq!(
            compare(&k, Some(&p), Some(&p), &opts).expect("c").status,
            DiffStatus::Synced
        );
        assert_eq!(
            compare(&k, Some(&p), None, &opts).expect("c").status,
            DiffStatus::Missing
        );
        assert_eq!(
            compare(&k, None, Some(&l), &opts).expect("c").status,
            DiffStatus::Extra
        );
        assert!(compare(&k, None, None, &opts).is_err());
    }

    #[test]
    fn yaml_is_sorted_and_diff_has_context() {
        let a = json!({"b": 1, "a": {"z": 1, "w": 2}});
        assert_eq!(to_yaml(&a), "a:\n  w: 2\n  z: 1\nb: 1\n");
        // Multi-line values render one line per line so diffs point at the changed line.
        let cm = json!({"data": {"conf": "one\ntwo\nthree\n"}});
        let y = to_yaml(&cm);
        assert!(y.contains("\n    two\n"), "{y}");
        let d = unified_diff("a\nb\nc\n", "a\nB\nc\n", "live", "desired", 1);
        assert!(
            d.contains("--- live") && d.contains("+++ desired") && d.contains("-b\n+B"),
            "{d}"
        );
    }

    #[test]
    fn ignore_differences_json_pointer_and_jq() {
        let rule = IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            name: None,
            namespace: None,
            json_pointers: vec!["/spec/replicas".into()],
            jq_path_expressions: vec![
                ".spec.template.spec.containers[] | select(.name == \"sidecar\")".into(),
                ".metadata.labels[\"x/y\"]".into(),
            ],
            managed_fields_managers: vec![],
        };
        let rules = [rule];
        let opts = DiffOptions {
            ignore_differences: &rules,
            ..DiffOptions::default()
        };
        let p = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"x/y": "1"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app"}]}}}});
        let l = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"x/y": "2"}},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]}}}});
        let d = compare(&key(), Some(&p), Some(&l), &opts).expect("compare");
        assert_eq!(d.status, DiffStatus::Synced, "{}", d.diff);
        let other = ResourceKey::new("apps", "StatefulSet", "prod", "web");
        assert_eq!(
            compare(&other, Some(&p), Some(&l), &opts)
                .expect("c")
                .status,
            DiffStatus::OutOfSync
        );
    }

    #[test]
    fn bad_ignore_rules_are_reported() {
        let mut rule = IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            name: None,
            namespace: None,
            json_pointers: vec!["spec/replicas".into()],
            jq_path_expressions: vec![],
            managed_fields_managers: vec![],
        };
        let obj = json!({"spec": {}});
        let opts = |r: &[IgnoreDifference]| {
            compare(
                &key(),
                Some(&obj),
                Some(&obj),
                &DiffOptions {
                    ignore_differences: r,
                    ..DiffOptions::default()
                },
            )
            .map(|_| ())
        };
        let err = opts(std::slice::from_ref(&rule)).expect_err("bad pointer");
        assert!(err.to_string().contains("/spec/replicas"), "{err}");
        rule.json_pointers.clear();
        rule.jq_path_expressions = vec![".spec | length".into()];
        assert!(matches!(
            opts(&[rule]),
            Err(DiffError::UnsupportedJq { .. })
        ));
    }

    #[test]
    fn managed_fields_managers_hide_their_changes() {
        let rule = IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            name: Some("web".into()),
            namespace: None,
            json_pointers: vec![],
            jq_path_expressions: vec![],
            managed_fields_managers: vec!["kube-hpa".into()],
        };
        let rules = [rule];
        let opts = DiffOptions {
            ignore_differences: &rules,
            ignore_mutation_webhook: false,
            ..DiffOptions::default()
        };
        let p = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "paused": false}});
        let l = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
            "managedFields": [{"manager": "kube-hpa", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {"replicas": 7, "paused": false}});
        assert_eq!(
            compare(&key(), Some(&p), Some(&l), &opts)
                .expect("c")
                .status,
            DiffStatus::Synced
        );
        let p2 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "paused": true}});
        assert_eq!(
            compare(&key(), Some(&p2), Some(&l), &opts)
                .expect("c")
                .status,
            DiffStatus::OutOfSync
        );
        assert!(needs_live_managed_fields(&key(), &rules));
        let other = ResourceKey::new("apps", "Deployment", "n", "api");
        assert!(!needs_live_managed_fields(&other, &rules));
        let mut pointer_only = rules[0].clone();
        pointer_only.managed_fields_managers.clear();
        pointer_only.json_pointers = vec!["/spec/replicas".into()];
        assert!(!needs_live_managed_fields(&key(), &[pointer_only]));
    }

    #[test]
    fn webhook_mutations_are_undone() {
        let live = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s",
            "labels": {"app": "a", "old": "x"},
            "managedFields": [{"manager": "sextant", "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}, "f:old": {}}},
                "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}}}]},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "type": "ClusterIP"}});
        let predicted = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s",
            "labels": {"app": "a", "injected": "webhook"},
            "managedFields": [{"manager": "sextant", "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}},
                    "k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:name": {}}}}}}]},
            "spec": {"ports": [{"port": 443, "protocol": "TCP", "name": "https"}, {"port": 80, "protocol": "TCP"}],
                "type": "ClusterIP"}});
        let r = remove_webhook_mutations(&predicted, &live, "sextant");
        assert_eq!(r["metadata"]["labels"], json!({"app": "a"}));
        assert_eq!(
            r["spec"]["ports"],
            json!([{"port": 443, "protocol": "TCP", "name": "https"}, {"port": 80, "protocol": "TCP"}])
        );
        // Without our manager's entry the prediction is used as is.
        let mut bare = predicted.clone();
        bare["metadata"]["managedFields"] = json!([]);
        assert_eq!(remove_webhook_mutations(&bare, &live, "sextant"), bare);
    }

    #[test]
    fn webhook_value_changes_and_injected_elements_are_reverted() {
        let fields = json!({"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}}}}});
        let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "app:1", "imagePullPolicy": "Always"}],
                "dnsPolicy": "ClusterFirst"}});
        let predicted = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p",
                "managedFields": [{"manager": "sextant", "fieldsV1": fields}]},
            "spec": {"containers": [
                    {"name": "app", "image": "app:2", "imagePullPolicy": "IfNotPresent"},
                    {"name": "istio-proxy", "image": "proxy"}],
                "dnsPolicy": "ClusterFirst"}});
        let r = remove_webhook_mutations(&predicted, &live, "sextant");
        // Our image change is kept; the webhook's pull-policy change and sidecar are not.
        assert_eq!(
            r["spec"]["containers"],
            json!([{"name": "app", "image": "app:2", "imagePullPolicy": "Always"}])
        );
        assert_eq!(r["spec"]["dnsPolicy"], json!("ClusterFirst"));
        let k = ResourceKey::new("", "Pod", "", "p");
        let d = compare(&k, Some(&predicted), Some(&live), &DiffOptions::default()).expect("c");
        assert_eq!(d.status, DiffStatus::OutOfSync);
        assert!(
            d.diff.contains("-  - image: app:1") && d.diff.contains("+  - image: app:2"),
            "{}",
            d.diff
        );
        assert!(!d.diff.contains("istio-proxy"), "{}", d.diff);
    }

    #[test]
    fn foreign_owner_detection() {
        let argo = json!({"metadata": {"annotations": {ARGOCD_TRACKING_ANNOTATION: "guestbook:apps/Deployment:default/web"}}});
        assert!(foreign_owner(&argo).is_some_and(|s| s.contains("\"guestbook\"")));
        let label = json!({"metadata": {"labels": {INSTANCE_LABEL: "guestbook"}}});
        assert!(foreign_owner(&label).is_some_and(|s| s.contains("label")));
        let ours = json!({"metadata": {"labels": {INSTANCE_LABEL: "x"},
            "annotations": {TRACKING_ANNOTATION: "a:apps/Deployment:p/web"}}});
        assert_eq!(foreign_owner(&ours), None);
        let helm = json!({"metadata": {"labels": {INSTANCE_LABEL: "x"},
            "annotations": {HELM_RELEASE_ANNOTATION: "x"}}});
        assert_eq!(foreign_owner(&helm), None);
        assert_eq!(foreign_owner(&json!({"metadata": {}})), None);
    }

    #[test]
    fn aggregated_cluster_role_rules_can_be_ignored() {
        let k = ResourceKey::new("rbac.authorization.k8s.io", "ClusterRole", "", "r");
        let p = json!({"kind": "ClusterRole", "aggregationRule": {"clusterRoleSelectors": []}, "rules": []});
        let l = json!({"kind": "ClusterRole", "aggregationRule": {"clusterRoleSelectors": []}, "rules": [{"verbs": ["get"]}]});
        let mut opts = DiffOptions::default();
        assert_eq!(
            compare(&k, Some(&p), Some(&l), &opts).expect("c").status,
            DiffStatus::OutOfSync
        );
        opts.ignore_aggregated_roles = true;
        assert_eq!(
            compare(&k, Some(&p), Some(&l), &opts).expect("c").status,
            DiffStatus::Synced
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn data() -> impl Strategy<Value = std::collections::BTreeMap<String, String>> {
            proptest::collection::btree_map("k[0-3]", "[a-z0-9]{1,6}", 0..4)
        }

        proptest! {
            #[test]
            fn masking_hides_values_and_keeps_equality(t in data(), l in data()) {
                let enc = |m: &std::collections::BTreeMap<String, String>| -> Value {
                    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(base64_encode(v.as_bytes())))).collect())
                };
                let mut target = secret(enc(&t));
                let mut live = secret(enc(&l));
                mask_secret_pair(Some(&mut target), Some(&mut live));
                let text = format!("{target}{live}");
                for v in t.values().chain(l.values()) {
                    let b64 = base64_encode(v.as_bytes());
                    prop_assert!(!text.contains(&format!("\"{b64}\"")), "{} leaked in {}", b64, text);
                }
                for (k, tv) in &t {
                    if let Some(lv) = l.get(k) {
                        prop_assert_eq!(tv == lv, target["data"][k] == live["data"][k]);
                    }
                    let m = target["data"][k].as_str().unwrap_or_default();
                    prop_assert!(m.len() >= 8 && m.chars().all(|c| c == '+'));
                }
            }
        }
    }
}
