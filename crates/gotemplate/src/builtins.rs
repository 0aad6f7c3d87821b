//! Go's builtin template functions (`and`, `or` are evaluated lazily by the executor).

use std::cmp::Ordering;

use crate::error::FuncError;
use crate::fmt::{sprint, sprintf, sprintln};
use crate::value::Value;

const BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// (min, max) argument counts, as Go's signatures imply.
pub(crate) fn arity(name: &str) -> Option<(usize, Option<usize>)> {
    Some(match name {
        "and" | "or" | "call" | "index" | "slice" | "eq" => (1, None),
        "html" | "js" | "print" | "println" | "urlquery" => (0, None),
        "printf" => (1, None),
        "len" | "not" => (1, Some(1)),
        "ge" | "gt" | "le" | "lt" | "ne" => (2, Some(2)),
        _ => return None,
    })
}

pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, FuncError> {
    match name {
        "not" => Ok(Value::Bool(!args[0].truthy())),
        "len" => length(&args[0]).map(Value::from),
        "index" => index(&args[0], &args[1..]),
        "slice" => slice(&args[0], &args[1..]),
        "print" => Ok(Value::from(sprint(args))),
        "println" => Ok(Value::from(sprintln(args))),
        "printf" => match &args[0] {
            Value::String(f) => Ok(Value::from(sprintf(f, &args[1..]))),
            v => Err(FuncError::Arg(
                0,
                format!(
                    "wrong type for value; expected string; got {}",
                    v.type_name()
                ),
            )),
        },
        "html" => Ok(Value::from(html_escape(&eval_args(args)))),
        "js" => Ok(Value::from(js_escape(&eval_args(args)))),
        "urlquery" => Ok(Value::from(query_escape(&eval_args(args)))),
        "call" => match &args[0] {
            Value::Object(o) => match o.call(&args[1..]) {
                Some(r) => r.map_err(FuncError::Call),
                None => Err(FuncError::Call(format!(
                    "non-function of type {}",
                    o.type_name()
                ))),
            },
            Value::Nil | Value::Missing => Err("call of nil".into()),
            v => Err(FuncError::Call(format!(
                "non-function of type {}",
                v.type_name()
            ))),
        },
        "eq" => eq(&args[0], &args[1..]).map(Value::Bool),
        "ne" => eq(&args[0], &args[1..2]).map(|b| Value::Bool(!b)),
        "lt" => lt(&args[0], &args[1]).map(Value::Bool),
        "le" => le(&args[0], &args[1]).map(Value::Bool),
        "gt" => le(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        "ge" => lt(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        _ => Err(FuncError::Call(format!("unknown builtin {name}"))),
    }
}

/// Go's `evalArgs`: a single string as-is, otherwise `fmt.Sprint` with nil as `<no value>`.
fn eval_args(args: &[Value]) -> String {
    if args.len() == 1
        && let Value::String(s) = &args[0]
    {
        return s.to_string();
    }
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::String(_)) || v.is_nil();
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        if a.is_nil() {
            out.push_str("<no value>");
        } else {
            out.push_str(&sprint(std::slice::from_ref(a)));
        }
    }
    out
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c if (c as u32) >= 0x80 && !c.is_alphanumeric() && !c.is_ascii() && c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn length(v: &Value) -> Result<i64, FuncError> {
    let n = match v.reflected().as_ref() {
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        Value::Nil | Value::Missing => return Err("len of nil pointer".into()),
        v => return Err(FuncError::Call(format!("len of type {}", v.type_name()))),
    };
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

fn index_arg(index: &Value, cap: usize) -> Result<usize, FuncError> {
    let x: i128 = match index {
        Value::Int(i) => i128::from(*i),
        Value::Uint(u) => i128::from(*u),
        Value::Nil | Value::Missing => return Err("cannot index slice/array with nil".into()),
        v => {
            return Err(FuncError::Call(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            )));
        }
    };
    if x < 0 || x > cap as i128 {
        return Err(FuncError::Call(format!("index out of range: {x}")));
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, FuncError> {
    let mut item = item.clone();
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    for idx in indexes {
        let cur = item.reflected().into_owned();
        item =
            match &cur {
                Value::List(l) => {
                    let x = index_arg(idx, l.len())?;
                    l.get(x).cloned().ok_or_else(|| {
                        FuncError::Call("reflect: slice index out of range".into())
                    })?
                }
                Value::String(s) => {
                    let x = index_arg(idx, s.len())?;
                    let b = s.as_bytes().get(x).copied().ok_or_else(|| {
                        FuncError::Call("reflect: string index out of range".into())
                    })?;
                    Value::Int(i64::from(b))
                }
                Value::Bytes(bs) => {
                    let x = index_arg(idx, bs.len())?;
                    let b = bs.get(x).copied().ok_or_else(|| {
                        FuncError::Call("reflect: slice index out of range".into())
                    })?;
                    Value::Int(i64::from(b))
                }
                Value::Map(m) => match idx {
                    Value::String(k) => m.get(k).unwrap_or(Value::Nil),
                    Value::Nil | Value::Missing => {
                        return Err("value is nil; should be of type string".into());
                    }
                    v => {
                        return Err(FuncError::Call(format!(
                            "value has type {}; should be string",
                            v.type_name()
                        )));
                    }
                },
                Value::Nil | Value::Missing => return Err("index of nil pointer".into()),
                v => {
                    return Err(FuncError::Call(format!(
                        "can't index item of type {}",
                        v.type_name()
                    )));
                }
            };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, FuncError> {
    let item = &item.reflected().into_owned();
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(FuncError::Call(format!(
            "too many slice indexes: {}",
            indexes.len()
        )));
    }
    let len = match item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        v => {
            return Err(FuncError::Call(format!(
                "can't slice item of type {}",
                v.type_name()
            )));
        }
    };
    let mut idx = [0usize, len, len];
    for (i, x) in indexes.iter().enumerate() {
        idx[i] = index_arg(x, len)?;
    }
    if idx[0] > idx[1] {
        return Err(FuncError::Call(format!(
            "invalid slice index: {} > {}",
            idx[0], idx[1]
        )));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(FuncError::Call(format!(
            "invalid slice index: {} > {}",
            idx[1], idx[2]
        )));
    }
    Ok(match item {
        Value::String(s) => {
            let b = &s.as_bytes()[idx[0]..idx[1]];
            Value::from(String::from_utf8_lossy(b).into_owned())
        }
        Value::List(l) => Value::list(l[idx[0]..idx[1]].to_vec()),
        Value::Bytes(b) => Value::Bytes(b[idx[0]..idx[1]].into()),
        _ => Value::Nil,
    })
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    String,
    Other,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Missing | Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Uint(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::Complex(..) => Kind::Complex,
        Value::String(_) => Kind::String,
        _ => Kind::Other,
    }
}

const BAD_TYPE: &str = "invalid type for comparison";
fn bad_cmp(a: &Value, b: &Value) -> FuncError {
    FuncError::Call(format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    ))
}

fn non_comparable(a: &Value, b: &Value) -> FuncError {
    let same_kind = std::mem::discriminant(a) == std::mem::discriminant(b);
    if same_kind {
        FuncError::Call(format!(
            "non-comparable type {}: {}",
            sprintf("%s", std::slice::from_ref(b)),
            b.type_name()
        ))
    } else {
        FuncError::Call(format!(
            "non-comparable types {}: {}, {}: {}",
            sprintf("%s", std::slice::from_ref(a)),
            a.type_name(),
            b.type_name(),
            b
        ))
    }
}

/// Go's `eq`: arg1 == any of arg2.
pub(crate) fn eq(a: &Value, rest: &[Value]) -> Result<bool, FuncError> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    for b in rest {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (a, b) {
                (Value::Int(x), Value::Uint(y)) => *x >= 0 && *x as u64 == *y,
                (Value::Uint(x), Value::Int(y)) => *y >= 0 && *x == *y as u64,
                _ => {
                    if !a.is_nil() && !b.is_nil() {
                        return Err(bad_cmp(a, b));
                    }
                    false
                }
            }
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Uint(x), Value::Uint(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Complex(a1, b1), Value::Complex(a2, b2)) => a1 == a2 && b1 == b2,
                (Value::String(x), Value::String(y)) => x == y,
                // Lists, maps, nil: nil compares equal only to nil.
                _ if a.is_nil() || b.is_nil() => a.is_nil() && b.is_nil(),
                (Value::Object(x), Value::Object(y)) => match x.equals(y.as_ref()) {
                    Some(t) => t,
                    None => return Err(non_comparable(a, b)),
                },
                _ => return Err(non_comparable(a, b)),
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let k1 = basic_kind(a);
    if matches!(k1, Kind::Invalid | Kind::Other) {
        return Err(BAD_TYPE.into());
    }
    let k2 = basic_kind(b);
    if matches!(k2, Kind::Invalid | Kind::Other) {
        return Err(BAD_TYPE.into());
    }
    if k1 != k2 {
        return match (a, b) {
            (Value::Int(x), Value::Uint(y)) => Ok(*x < 0 || (*x as u64) < *y),
            (Value::Uint(x), Value::Int(y)) => Ok(*y >= 0 && *x < *y as u64),
            _ => Err(bad_cmp(a, b)),
        };
    }
    Ok(match (a, b) {
        (Value::Bool(_) | Value::Complex(..), _) => return Err(BAD_TYPE.into()),
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Uint(x), Value::Uint(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y) == Some(Ordering::Less),
        (Value::String(x), Value::String(y)) => x < y,
        _ => return Err(BAD_TYPE.into()),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, FuncError> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}
