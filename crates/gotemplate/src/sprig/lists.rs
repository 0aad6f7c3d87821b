//! Sprig list functions. Non-must variants fail the same way the must variants do: Sprig panics
//! and Go's executor turns the panic into the call's error.

use super::conv::deep_equal;
use super::{arg_int, check_size, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::Value;

/// The elements of a Go slice value, or None for non-slices.
fn as_list(v: &Value) -> Option<Vec<Value>> {
    match v.reflected().as_ref() {
        Value::List(l) => Some(l.as_ref().clone()),
        Value::Bytes(b) => Some(b.iter().map(|x| Value::Int(i64::from(*x))).collect()),
        _ => None,
    }
}

fn kind(v: &Value) -> String {
    if v.is_nil() {
        return "invalid".into();
    }
    v.kind_name().to_string()
}

fn need_list(v: &Value, msg: &str) -> Result<Vec<Value>, FuncError> {
    if v.is_nil() {
        return Err("runtime error: invalid memory address or nil pointer dereference".into());
    }
    as_list(v).ok_or_else(|| FuncError::Call(format!("{msg} {}", kind(v))))
}

fn list(v: Vec<Value>) -> Result<Value, FuncError> {
    Ok(Value::list(v))
}

pub(crate) fn in_list(haystack: &[Value], needle: &Value) -> bool {
    haystack.iter().any(|h| deep_equal(h, needle))
}

pub(super) fn register(t: &mut Templates) {
    for name in ["list", "tuple"] {
        func(t, name, 0, None, |a| list(a.to_vec()));
    }
    for (name, must) in [
        ("append", false),
        ("push", false),
        ("mustAppend", true),
        ("mustPush", true),
    ] {
        let _ = must;
        func(t, name, 2, Some(2), |a| {
            let mut l = need_list(&a[0], "Cannot push on type")?;
            l.push(a[1].clone());
            list(l)
        });
    }
    for name in ["prepend", "mustPrepend"] {
        func(t, name, 2, Some(2), |a| {
            let mut l = need_list(&a[0], "Cannot prepend onto type")?;
            l.insert(0, a[1].clone());
            list(l)
        });
    }
    for name in ["first", "mustFirst"] {
        func(t, name, 1, Some(1), |a| {
            let l = need_list(&a[0], "Cannot find first on type")?;
            Ok(l.first().cloned().unwrap_or(Value::Nil))
        });
    }
    for name in ["last", "mustLast"] {
        func(t, name, 1, Some(1), |a| {
            let l = need_list(&a[0], "Cannot find last on type")?;
            Ok(l.last().cloned().unwrap_or(Value::Nil))
        });
    }
    for name in ["rest", "mustRest"] {
        func(t, name, 1, Some(1), |a| {
            let l = need_list(&a[0], "Cannot find rest on type")?;
            if l.is_empty() {
                return list(l);
            }
            list(l[1..].to_vec())
        });
    }
    for name in ["initial", "mustInitial"] {
        func(t, name, 1, Some(1), |a| {
            let l = need_list(&a[0], "Cannot find initial on type")?;
            if l.is_empty() {
                return list(l);
            }
            list(l[..l.len() - 1].to_vec())
        });
    }
    for name in ["reverse", "mustReverse"] {
        func(t, name, 1, Some(1), |a| {
            let mut l = need_list(&a[0], "Cannot find reverse on type")?;
            l.reverse();
            list(l)
        });
    }
    for name in ["uniq", "mustUniq"] {
        func(t, name, 1, Some(1), |a| {
            let l = need_list(&a[0], "Cannot find uniq on type")?;
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !in_list(&out, &v) {
                    out.push(v);
                }
            }
            list(out)
        });
    }
    for name in ["without", "mustWithout"] {
        func(t, name, 1, None, |a| {
            let l = need_list(&a[0], "Cannot find without on type")?;
            list(l.into_iter().filter(|v| !in_list(&a[1..], v)).collect())
        });
    }
    for name in ["has", "mustHas"] {
        func(t, name, 2, Some(2), |a| {
            if a[1].is_nil() {
                return Ok(Value::Bool(false));
            }
            let l = need_list(&a[1], "Cannot find has on type")?;
            Ok(Value::Bool(in_list(&l, &a[0])))
        });
    }
    for name in ["compact", "mustCompact"] {
        func(t, name, 1, Some(1), |a| {
            let l = need_list(&a[0], "Cannot compact on type")?;
            list(l.into_iter().filter(Value::truthy).collect())
        });
    }
    for name in ["slice", "mustSlice"] {
        func(t, name, 1, None, |a| {
            let l = need_list(&a[0], "list should be type of slice or array but")?;
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            let start = a.get(1).map_or(0, super::conv::to_i64);
            let end = a.get(2).map_or(l.len() as i64, super::conv::to_i64);
            if start < 0 || end < start || end as usize > l.len() {
                return Err(FuncError::Call(format!(
                    "reflect: slice index out of range [{start}:{end}]"
                )));
            }
            list(l[start as usize..end as usize].to_vec())
        });
    }
    func(t, "concat", 0, None, |a| {
        let mut out = Vec::new();
        for v in a {
            match as_list(v) {
                Some(l) => out.extend(l),
                None => {
                    return Err(FuncError::Call(format!(
                        "Cannot concat type {} as list",
                        kind(v)
                    )));
                }
            }
        }
        check_size(out.len(), "concat")?;
        list(out)
    });
    for name in ["chunk", "mustChunk"] {
        func(t, name, 2, Some(2), |a| {
            let size = arg_int(a, 0)?;
            let l = need_list(&a[1], "Cannot chunk type")?;
            if size <= 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            let chunks = l
                .chunks(size as usize)
                .map(|c| Value::list(c.to_vec()))
                .collect();
            list(chunks)
        });
    }
}
