//! Sprig dictionary functions. Maps are Go maps: `set`, `unset`, `merge` mutate in place and
//! the change is visible to every holder of the map.

use super::conv::strval;
use super::{arg_map, arg_str, func, func_raw};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Map, Value};

/// copystructure.Copy for template values.
pub(crate) fn deep_copy(v: &Value, depth: usize) -> Result<Value, FuncError> {
    let mut budget = super::MAX_BUILD;
    deep_copy_in(v, depth, &mut budget)
}

fn deep_copy_in(v: &Value, depth: usize, budget: &mut usize) -> Result<Value, FuncError> {
    if depth > 200 {
        return Err("deepCopy: value nests too deeply (cycle?)".into());
    }
    if *budget == 0 {
        return Err("deepCopy: value is too large to copy".into());
    }
    *budget -= 1;
    Ok(match v {
        Value::List(l) => Value::list(
            l.iter()
                .map(|x| deep_copy_in(x, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => {
            let entries: Vec<(String, Value)> = m
                .read()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let out = Map::new();
            for (k, x) in entries {
                out.insert(k, deep_copy_in(&x, depth + 1, budget)?);
            }
            Value::Map(out)
        }
        v => v.clone(),
    })
}

/// mergo.Merge(&dst, src[, WithOverride]) for `map[string]interface{}`.
pub(crate) fn merge_into(
    dst: &Map,
    src: &Map,
    overwrite: bool,
    depth: usize,
) -> Result<(), FuncError> {
    if depth > 200 {
        return Err("merge: values nest too deeply (cycle?)".into());
    }
    if dst.ptr_eq(src) {
        return Ok(());
    }
    let entries: Vec<(String, Value)> = src
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, s) in entries {
        let d = dst.get(&k);
        if s.is_nil() {
            if overwrite {
                dst.insert(k, Value::Nil);
            }
            continue;
        }
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&s, &d) {
            merge_into(dm, sm, overwrite, depth + 1)?;
            continue;
        }
        let d_empty = d.as_ref().is_none_or(|x| !x.truthy());
        if overwrite || d_empty {
            dst.insert(k, s);
        }
    }
    Ok(())
}

fn dict_args(a: &[Value], from: usize) -> Result<Vec<Map>, FuncError> {
    let mut v = Vec::new();
    for i in from..a.len() {
        match arg_map(a, i)? {
            Some(m) => v.push(m),
            None => v.push(Map::new()),
        }
    }
    Ok(v)
}

pub(super) fn register(t: &mut Templates) {
    func(t, "dict", 0, None, |a| {
        let m = Map::new();
        {
            let mut w = m.write();
            let mut i = 0;
            while i < a.len() {
                let key = strval(&a[i]);
                let v = a.get(i + 1).cloned().unwrap_or_else(|| Value::str(""));
                w.insert(key, v);
                i += 2;
            }
        }
        Ok(Value::Map(m))
    });
    func_raw(t, "get", 2, Some(2), |a| {
        let key = arg_str(a, 1)?;
        let m = arg_map(a, 0)?;
        Ok(m.and_then(|m| m.get(key)).unwrap_or_else(|| Value::str("")))
    });
    func_raw(t, "set", 3, Some(3), |a| {
        let key = arg_str(a, 1)?;
        let Some(m) = arg_map(a, 0)? else {
            return Err("assignment to entry in nil map".into());
        };
        m.insert(key, a[2].clone().or_nil());
        Ok(Value::Map(m))
    });
    func_raw(t, "unset", 2, Some(2), |a| {
        let key = arg_str(a, 1)?;
        let m = arg_map(a, 0)?;
        if let Some(m) = &m {
            m.write().remove(key);
        }
        Ok(m.map_or(Value::Nil, Value::Map))
    });
    func_raw(t, "hasKey", 2, Some(2), |a| {
        let key = arg_str(a, 1)?;
        let m = arg_map(a, 0)?;
        Ok(Value::Bool(m.is_some_and(|m| m.read().contains_key(key))))
    });
    func_raw(t, "pluck", 1, None, |a| {
        let key = arg_str(a, 0)?;
        let dicts = dict_args(a, 1)?;
        Ok(Value::list(
            dicts.iter().filter_map(|d| d.get(key)).collect(),
        ))
    });
    func_raw(t, "keys", 0, None, |a| {
        let dicts = dict_args(a, 0)?;
        let mut k: Vec<Value> = Vec::new();
        for d in dicts {
            k.extend(d.read().keys().map(Value::str));
        }
        Ok(Value::list(k))
    });
    func_raw(t, "values", 1, Some(1), |a| {
        let m = arg_map(a, 0)?;
        Ok(Value::list(
            m.map(|m| m.read().values().cloned().collect())
                .unwrap_or_default(),
        ))
    });
    func_raw(t, "pick", 1, None, |a| {
        let m = arg_map(a, 0)?.unwrap_or_default();
        let out = Map::new();
        for i in 1..a.len() {
            let k = arg_str(a, i)?;
            if let Some(v) = m.get(k) {
                out.insert(k, v);
            }
        }
        Ok(Value::Map(out))
    });
    func_raw(t, "omit", 1, None, |a| {
        let m = arg_map(a, 0)?.unwrap_or_default();
        let mut drop = Vec::new();
        for i in 1..a.len() {
            drop.push(arg_str(a, i)?.to_string());
        }
        let out: std::collections::BTreeMap<String, Value> = m
            .read()
            .iter()
            .filter(|(k, _)| !drop.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Value::Map(Map::from_btree(out)))
    });
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        func_raw(t, name, 1, None, move |a| {
            let Some(dst) = arg_map(a, 0)? else {
                return Err(super::wrong_type_at(0, "map[string]interface {}", &a[0]));
            };
            for src in dict_args(a, 1)? {
                merge_into(&dst, &src, overwrite, 0)?;
            }
            Ok(Value::Map(dst))
        });
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        func(t, name, 1, Some(1), move |a| {
            if a[0].is_nil() && name_is_must(name) {
                return Err("copy: nil value".into());
            }
            deep_copy(&a[0], 0)
        });
    }
    func(t, "dig", 3, None, |a| {
        let n = a.len();
        let Value::Map(dict) = &a[n - 1] else {
            return Err(FuncError::Call(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                a[n - 1].type_name()
            )));
        };
        let def = &a[n - 2];
        let mut keys = Vec::new();
        for i in 0..n - 2 {
            keys.push(arg_str(a, i)?.to_string());
        }
        let mut cur = dict.clone();
        for (i, k) in keys.iter().enumerate() {
            let Some(step) = cur.get(k) else {
                return Ok(def.clone());
            };
            if i == keys.len() - 1 {
                return Ok(step);
            }
            match step {
                Value::Map(m) => cur = m,
                v => {
                    return Err(FuncError::Call(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        v.type_name()
                    )));
                }
            }
        }
        Ok(def.clone())
    });
}

fn name_is_must(name: &str) -> bool {
    name.starts_with("must")
}
