//! Type conversion, defaults and reflection helpers (`toString`, `int`, `default`, `typeOf`...).

use super::{arg_bool, arg_str, func};
use crate::error::FuncError;
use crate::value::{Value, write_v};
use crate::{CallCtx, Templates};

/// Sprig's `strval`: strings as-is, `[]byte` as text, anything else with `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Object(o) => o.format(),
        v => {
            let mut s = String::new();
            write_v(&mut s, v, 0);
            s
        }
    }
}

/// `spf13/cast` `trimZeroDecimal`: "3.00" -> "3".
fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// `cast.ToInt64` (errors become 0).
pub(crate) fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Uint(u) => *u as i64,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => crate::parse::parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64` (errors become 0).
pub(crate) fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Uint(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => go_parse_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` (decimal, hex, inf/nan, underscores only with prefixes).
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    match t.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.contains('_') && !t.starts_with("0x") {
        return None;
    }
    crate::parse::parse_go_float(s)
}

/// Sprig's `strslice`: a list as strings (nil elements dropped), nil as [], else [strval].
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v.reflected().as_ref() {
        Value::List(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
        Value::Bytes(b) => b.iter().map(|x| x.to_string()).collect(),
        Value::Nil | Value::Missing => Vec::new(),
        v => vec![strval(v)],
    }
}

/// Go `reflect.DeepEqual` over template values.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    let mut budget = super::MAX_BUILD;
    deep_equal_in(a, b, 0, &mut budget)
}

fn deep_equal_in(a: &Value, b: &Value, depth: usize, budget: &mut usize) -> bool {
    // Cyclic or enormous values compare unequal instead of recursing without end.
    if depth > 200 || *budget == 0 {
        return false;
    }
    *budget -= 1;
    match (a, b) {
        (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Uint(x), Value::Uint(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Complex(a1, b1), Value::Complex(a2, b2)) => a1 == a2 && b1 == b2,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| deep_equal_in(p, q, depth + 1, budget))
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.ptr_eq(y) {
                return true;
            }
            let (x, y) = (x.read(), y.read());
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.get(k)
                        .is_some_and(|w| deep_equal_in(v, w, depth + 1, budget))
                })
        }
        (Value::Object(x), Value::Object(y)) => {
            x.equals(y.as_ref())
                .unwrap_or_else(|| x.format() == y.format())
                && x.type_name() == y.type_name()
        }
        _ => false,
    }
}

pub(super) fn register(t: &mut Templates) {
    func(t, "toString", 1, Some(1), |a| {
        Ok(Value::from(strval(&a[0])))
    });
    func(t, "toStrings", 1, Some(1), |a| {
        Ok(Value::list(
            strslice(&a[0]).into_iter().map(Value::from).collect(),
        ))
    });
    func(t, "atoi", 1, Some(1), |a| {
        let s = arg_str(a, 0)?;
        Ok(Value::Int(go_atoi(s).unwrap_or(0)))
    });
    func(t, "int", 1, Some(1), |a| Ok(Value::Int(to_i64(&a[0]))));
    func(t, "int64", 1, Some(1), |a| Ok(Value::Int(to_i64(&a[0]))));
    func(t, "float64", 1, Some(1), |a| {
        Ok(Value::Float(to_f64(&a[0])))
    });
    func(t, "toDecimal", 1, Some(1), |a| {
        let s = crate::fmt::sprint(&a[..1]);
        Ok(Value::Int(parse_octal(&s).unwrap_or(0)))
    });
    func(t, "typeOf", 1, Some(1), |a| {
        Ok(Value::from(a[0].type_name()))
    });
    func(t, "typeIs", 2, Some(2), |a| {
        Ok(Value::Bool(arg_str(a, 0)? == a[1].type_name()))
    });
    func(t, "typeIsLike", 2, Some(2), |a| {
        let target = arg_str(a, 0)?;
        let t = a[1].type_name();
        Ok(Value::Bool(target == t || format!("*{target}") == t))
    });
    func(t, "kindOf", 1, Some(1), |a| {
        Ok(Value::from(a[0].kind_name()))
    });
    func(t, "kindIs", 2, Some(2), |a| {
        Ok(Value::Bool(arg_str(a, 0)? == a[1].kind_name()))
    });
    func(t, "deepEqual", 2, Some(2), |a| {
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    });
    func(t, "default", 1, None, |a| {
        // default DEFAULT [GIVEN]: the given value unless it is empty.
        match a.get(1) {
            Some(g) if g.truthy() => Ok(g.clone()),
            _ => Ok(a[0].clone()),
        }
    });
    func(t, "empty", 1, Some(1), |a| Ok(Value::Bool(!a[0].truthy())));
    func(t, "coalesce", 0, None, |a| {
        Ok(a.iter().find(|v| v.truthy()).cloned().unwrap_or(Value::Nil))
    });
    func(t, "all", 0, None, |a| {
        Ok(Value::Bool(a.iter().all(Value::truthy)))
    });
    func(t, "any", 0, None, |a| {
        Ok(Value::Bool(a.iter().any(Value::truthy)))
    });
    func(t, "ternary", 3, Some(3), |a| {
        Ok(if arg_bool(a, 2)? {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    t.add_func_arity(
        "fail",
        1,
        Some(1),
        |_: &mut CallCtx<'_, '_>, a: &[Value]| match &a[0] {
            Value::String(s) => Err(FuncError::Call(s.to_string())),
            v => Err(super::wrong_type_at(0, "string", v)),
        },
    );
    // No DNS lookups while rendering: rendering must be deterministic and offline.
    func(t, "getHostByName", 1, Some(1), |a| {
        arg_str(a, 0)?;
        Ok(Value::from(""))
    });
}

/// Go's `strconv.Atoi`.
fn go_atoi(s: &str) -> Option<i64> {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

fn parse_octal(s: &str) -> Option<i64> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if t.is_empty() || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let v = i64::from_str_radix(t, 8).ok()?;
    Some(if neg { -v } else { v })
}
