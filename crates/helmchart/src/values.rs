//! Values: Helm's coalescing (`chartutil.CoalesceValues`/`MergeValues`), globals, user value
//! merging (`values.Options.MergeValues`) and dependency processing (conditions, tags, aliases,
//! import-values).

use gotemplate::{Map, Value};

use crate::chart::Chart;
use crate::yaml::{deep_copy, deep_copy_map};

fn as_map(v: &Value) -> Option<Map> {
    match v {
        Value::Map(m) => Some(m.clone()),
        _ => None,
    }
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn is_nil(v: &Value) -> bool {
    matches!(v, Value::Nil | Value::Missing)
}

/// Helm's `mergeMaps` for user value files: maps merge recursively, anything else replaces.
pub fn merge_maps(a: &Map, b: &Map) -> Map {
    let out = a.shallow_clone();
    for (k, v) in b.read().iter() {
        if let Value::Map(bv) = v
            && let Some(Value::Map(av)) = out.get(k)
        {
            out.insert(k.clone(), Value::Map(merge_maps(&av, bv)));
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    out
}

/// `chartutil.CoalesceValues(chart, vals)`: the chart's values (and its subcharts') under the
/// user's `vals`, with `null` deleting keys.
pub fn coalesce_values(chart: &Chart, vals: &Map) -> Map {
    let dest = deep_copy_map(vals);
    coalesce(chart, &dest, false);
    dest
}

/// `chartutil.MergeValues`: like [`coalesce_values`] but `null`s are kept.
pub fn merge_values(chart: &Chart, vals: &Map) -> Map {
    let dest = deep_copy_map(vals);
    coalesce(chart, &dest, true);
    dest
}

fn coalesce(chart: &Chart, dest: &Map, merge: bool) {
    coalesce_chart_values(chart, dest, merge);
    coalesce_deps(chart, dest, merge);
}

fn coalesce_deps(chart: &Chart, dest: &Map, merge: bool) {
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        let existing = dest.get(&name);
        let dv = match existing {
            None => {
                let m = Map::new();
                dest.insert(name.clone(), Value::Map(m.clone()));
                m
            }
            Some(Value::Map(m)) => m,
            // Helm: "type mismatch on NAME": the value is left alone and rendering goes on
            // with the subchart seeing no values of its own.
            Some(_) => continue,
        };
        coalesce_globals(&dv, dest);
        coalesce(sub, &dv, merge);
    }
}

/// Copies the parent's `global` into the child's, parent values winning for tables.
fn coalesce_globals(dest: &Map, src: &Map) {
    let dg = match dest.get("global") {
        None => Map::new(),
        Some(Value::Map(m)) => m,
        Some(_) => return,
    };
    let sg = match src.get("global") {
        None => Map::new(),
        Some(Value::Map(m)) => m,
        Some(_) => return,
    };
    let entries: Vec<(String, Value)> = sg
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, val) in entries {
        if let Value::Map(vm) = &val {
            let vv = deep_copy_map(vm);
            match dg.get(&key) {
                None => dg.insert(key, Value::Map(vv)),
                Some(Value::Map(destv)) => {
                    coalesce_tables(&vv, &destv, true);
                    dg.insert(key, Value::Map(vv));
                }
                Some(_) => {}
            }
        } else if dg.get(&key).is_some_and(|d| is_table(&d)) {
            // Helm skips a scalar over a table.
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert("global", Value::Map(dg));
}

fn coalesce_chart_values(chart: &Chart, v: &Map, merge: bool) {
    let vc = deep_copy_map(&chart.values);
    let entries: Vec<(String, Value)> = vc
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, val) in entries {
        match v.get(&key) {
            Some(value) => {
                if is_nil(&value) && !merge {
                    v.write().remove(&key);
                } else if let (Value::Map(dest), Value::Map(src)) = (&value, &val) {
                    let is_sub = chart.dependencies.iter().any(|d| d.name() == key);
                    coalesce_tables(dest, src, merge || is_sub);
                }
            }
            None => v.insert(key, val),
        }
    }
}

/// Helm's `coalesceTablesFullKey(dst, src, merge)`: `dst` wins.
pub fn coalesce_tables(dst: &Map, src: &Map, merge: bool) {
    // Helm first marks dst's nils in src so they delete below.
    let nil_keys: Vec<String> = dst
        .read()
        .iter()
        .filter(|(_, v)| is_nil(v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in nil_keys {
        src.insert(k, Value::Nil);
    }
    let entries: Vec<(String, Value)> = src
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, val) in entries {
        let dv = dst.get(&key);
        match dv {
            Some(d) if !merge && is_nil(&d) => {
                dst.write().remove(&key);
            }
            None => dst.insert(key, val),
            Some(d) => {
                if let (Value::Map(dm), Value::Map(sm)) = (&d, &val) {
                    coalesce_tables(dm, sm, merge);
                }
            }
        }
    }
}

/// Helm's `CoalesceTables(dst, src)` (no merge).
pub fn coalesce_tables_public(dst: &Map, src: &Map) -> Map {
    coalesce_tables(dst, src, false);
    dst.clone()
}

/// A dotted path lookup that returns only non-table leaves (Helm's `PathValue`).
pub fn path_value(v: &Map, path: &str) -> Option<Value> {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, head) = parts.split_last()?;
    let mut cur = v.clone();
    for p in head {
        cur = as_map(&cur.get(p)?)?;
    }
    let val = cur.get(last)?;
    if is_table(&val) { None } else { Some(val) }
}

/// Helm's `Values.Table(path)`.
pub fn table(v: &Map, path: &str) -> Option<Map> {
    let mut cur = v.clone();
    for p in path.split('.') {
        cur = as_map(&cur.get(p)?)?;
    }
    Some(cur)
}

/// `pathToMap`: `a.b` + table → `{a: {b: table}}` (`.` alone is the table itself).
fn path_to_map(path: &str, data: Map) -> Map {
    if path == "." {
        return data;
    }
    let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    let mut cur = data;
    for p in parts.iter().rev() {
        let m = Map::new();
        m.insert(p.to_string(), Value::Map(cur));
        cur = m;
    }
    cur
}

/// `chartutil.ProcessDependenciesWithMerge`: removes disabled subcharts (conditions, tags),
/// applies aliases and imports values from children.
pub fn process_dependencies(chart: &mut Chart, vals: &Map) {
    process_enabled(chart, vals, "");
    process_import_values(chart);
}

fn process_enabled(c: &mut Chart, v: &Map, path: &str) {
    if c.metadata.dependencies.is_empty() {
        // Helm returns early only when the field is nil; an empty list behaves the same here.
        return;
    }
    let existing = std::mem::take(&mut c.dependencies);
    let mut chart_deps: Vec<Chart> = Vec::new();
    for ex in &existing {
        let listed = c.metadata.dependencies.iter().any(|req| {
            ex.name() == req.name && crate::semver::satisfies(&req.version, &ex.metadata.version)
        });
        if !listed {
            chart_deps.push(ex.clone());
        }
    }
    for req in &mut c.metadata.dependencies {
        if let Some(found) = existing.iter().find(|ch| {
            ch.name() == req.name && crate::semver::satisfies(&req.version, &ch.metadata.version)
        }) {
            let mut copy = found.clone();
            if !req.alias.is_empty() {
                copy.metadata.name = req.alias.clone();
            }
            chart_deps.push(copy);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = chart_deps;
    for d in &mut c.metadata.dependencies {
        d.enabled = true;
    }
    let cvals = coalesce_values(c, v);
    // Tags.
    if let Some(tags) = table(&cvals, "tags") {
        for r in &mut c.metadata.dependencies {
            let (mut has_true, mut has_false) = (false, false);
            for k in &r.tags {
                if let Some(Value::Bool(b)) = tags.get(k) {
                    if b {
                        has_true = true;
                    } else {
                        has_false = true;
                    }
                }
            }
            if !has_true && has_false {
                r.enabled = false;
            } else if has_true || !has_false {
                r.enabled = true;
            }
        }
    }
    // Conditions (the first one that resolves to a bool decides).
    for r in &mut c.metadata.dependencies {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(&cvals, &format!("{path}{cond}")) {
                r.enabled = b;
                break;
            }
        }
    }
    let removed: Vec<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies
        .retain(|d| !removed.contains(&d.metadata.name));
    c.metadata
        .dependencies
        .retain(|d| !removed.contains(&d.name));
    for t in &mut c.dependencies {
        let sub = format!("{path}{}.", t.metadata.name);
        process_enabled(t, &cvals, &sub);
    }
    // Re-derive full paths after aliasing.
    let parent = c.parent_path.clone();
    c.set_parent_paths(parent);
}

fn process_import_values(c: &mut Chart) {
    for d in &mut c.dependencies {
        process_import_values(d);
    }
    if c.metadata.dependencies.is_empty() {
        return;
    }
    let cvals = merge_values(c, &Map::new());
    let b = Map::new();
    for r in &mut c.metadata.dependencies {
        let mut out = Vec::new();
        for riv in &r.import_values {
            match riv {
                Value::Map(iv) => {
                    let child = iv.get("child").and_then(|v| v.as_str().map(String::from));
                    let parent = iv.get("parent").and_then(|v| v.as_str().map(String::from));
                    let (Some(child), Some(parent)) = (child, parent) else {
                        continue;
                    };
                    out.push(Value::map([
                        ("child", Value::str(&child)),
                        ("parent", Value::str(&parent)),
                    ]));
                    if let Some(vv) = table(&cvals, &format!("{}.{child}", r.name)) {
                        let src = path_to_map(&parent, deep_copy_map(&vv));
                        merge_tables_into(&b, &src);
                    }
                }
                Value::String(s) => {
                    let child = format!("exports.{s}");
                    out.push(Value::map([
                        ("child", Value::str(&child)),
                        ("parent", Value::str(".")),
                    ]));
                    if let Some(vm) = table(&cvals, &format!("{}.{child}", r.name)) {
                        merge_tables_into(&b, &deep_copy_map(&vm));
                    }
                }
                _ => {}
            }
        }
        r.import_values = out;
    }
    let cvals = deep_copy_map(&cvals);
    coalesce_tables(&cvals, &b, true);
    c.values = cvals;
}

/// `MergeTables(b, src)` where `b` is authoritative.
fn merge_tables_into(b: &Map, src: &Map) {
    coalesce_tables(b, src, true);
}

/// Removes `null` entries recursively (used before schema validation of merged values).
pub fn deep_copy_value(v: &Value) -> Value {
    deep_copy(v)
}
