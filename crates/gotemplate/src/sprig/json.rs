//! JSON as Go's `encoding/json` writes it (sorted keys, HTML escaping, Go float format).

use super::{arg_str, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Value, shortest_digits};

fn write_str(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's float64 JSON encoding: `%f`-style shortest digits, exponent form outside [1e-6, 1e21).
fn write_float(out: &mut String, f: f64) -> Result<(), String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            crate::value::format_float_g(f)
        ));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = crate::value::format_float_shortest(f, 'e', 0);
        // Go cleans e-09 to e-9 (but keeps e+21).
        let s = if let Some(i) = s.find("e-0") {
            format!("{}e-{}", &s[..i], &s[i + 3..])
        } else {
            s
        };
        out.push_str(&s);
        return Ok(());
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
        return Ok(());
    }
    let (d, dp) = shortest_digits(f);
    if f < 0.0 {
        out.push('-');
    }
    let nd = d.len() as i32;
    if dp <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-dp) as usize));
        out.push_str(&d);
    } else if dp >= nd {
        out.push_str(&d);
        out.push_str(&"0".repeat((dp - nd) as usize));
    } else {
        out.push_str(&d[..dp as usize]);
        out.push('.');
        out.push_str(&d[dp as usize..]);
    }
    Ok(())
}

fn write_json(
    out: &mut String,
    v: &Value,
    html: bool,
    indent: Option<&str>,
    level: usize,
) -> Result<(), String> {
    if level > 200 || out.len() > crate::value::MAX_PRINT_BYTES {
        return Err("json: unsupported value: encountered a cycle".into());
    }
    let nl = |out: &mut String, l: usize| {
        if let Some(ind) = indent {
            out.push('\n');
            for _ in 0..l {
                out.push_str(ind);
            }
        }
    };
    match v {
        Value::Missing | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => write_float(out, *f)?,
        Value::Complex(..) => return Err("json: unsupported type: complex128".into()),
        Value::String(s) => write_str(out, s, html),
        Value::Bytes(b) => {
            use base64::Engine;
            write_str(
                out,
                &base64::engine::general_purpose::STANDARD.encode(b),
                html,
            );
        }
        Value::List(l) => {
            if l.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, level + 1);
                write_json(out, x, html, indent, level + 1)?;
            }
            nl(out, level);
            out.push(']');
        }
        Value::Map(m) => {
            let m = m.read();
            if m.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, level + 1);
                write_str(out, k, html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(out, x, html, indent, level + 1)?;
            }
            nl(out, level);
            out.push('}');
        }
        Value::Object(o) => match o.to_json_value() {
            Some(v) => write_json(out, &v, html, indent, level + 1)?,
            None => write_str(out, &o.format(), html),
        },
    }
    Ok(())
}

/// Go's `json.Marshal` (HTML-escaped) of a value.
pub fn to_json_string(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, true, None, 0)?;
    Ok(out)
}

/// Go's `json.MarshalIndent(v, "", "  ")`.
pub fn to_json_string_pretty(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, true, Some("  "), 0)?;
    Ok(out)
}

fn raw_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, false, None, 0)?;
    Ok(out)
}

/// Go's `json.Unmarshal` into `interface{}` (numbers become float64).
pub(crate) fn from_json(s: &str) -> Result<Value, String> {
    let j: serde_json::Value = serde_json::from_str(s).map_err(|e| go_json_error(s, &e))?;
    Ok(Value::from_json_helm(&j))
}

/// Go-like wording for JSON syntax errors.
pub(crate) fn go_json_error(s: &str, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "unexpected end of JSON input".into(),
        Category::Syntax => {
            let line = s.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
            match line.chars().nth(e.column().saturating_sub(1)) {
                Some(c) => format!(
                    "invalid character {} looking for beginning of value",
                    crate::fmt::sprintf("%q", &[Value::Int(i64::from(c as u32))])
                ),
                None => e.to_string(),
            }
        }
        _ => e.to_string(),
    }
}

pub(super) fn register(t: &mut Templates) {
    type Enc = fn(&Value) -> Result<String, String>;
    for (name, enc, must) in [
        ("toJson", to_json_string as Enc, false),
        ("mustToJson", to_json_string as Enc, true),
        ("toPrettyJson", to_json_string_pretty as Enc, false),
        ("mustToPrettyJson", to_json_string_pretty as Enc, true),
        ("toRawJson", raw_json as Enc, false),
        ("mustToRawJson", raw_json as Enc, true),
    ] {
        func(t, name, 1, Some(1), move |a| match enc(&a[0]) {
            Ok(s) => Ok(Value::from(s)),
            Err(e) if must => Err(FuncError::Call(e)),
            Err(_) => Ok(Value::str("")),
        });
    }
    func(t, "fromJson", 1, Some(1), |a| {
        Ok(from_json(arg_str(a, 0)?).unwrap_or(Value::Nil))
    });
    func(t, "mustFromJson", 1, Some(1), |a| {
        from_json(arg_str(a, 0)?).map_err(FuncError::Call)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_floats() {
        let f = |x: f64| {
            let mut s = String::new();
            write_float(&mut s, x).map(|()| s).unwrap_or_default()
        };
        assert_eq!(f(3.0), "3");
        assert_eq!(f(1e6), "1000000");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(0.5), "0.5");
    }
}
