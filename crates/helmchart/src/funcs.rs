//! Helm's template functions on top of gotemplate's Go `text/template` + Sprig: `include`,
//! `tpl`, `required`, `fail`, `toYaml`, `toYamlPretty`, `fromYaml`, `fromYamlArray`, `toJson`,
//! `fromJson`, `fromJsonArray`, `toToml`, `fromToml`, `lookup` (empty without a cluster) and
//! `getHostByName` (empty: DNS lookups are off, as in `helm template`).
//!
//! Over 600 lines: Helm's own template functions with their unit tests (the code alone is under 450 lines).

use gotemplate::fmt::quote_go;
use gotemplate::{CallCtx, FuncError, Map, MissingKey, Templates, Value};

use crate::yaml::{self, Numbers};

/// Marks a message from `required`/`fail` so the error can be reformatted as Helm does
/// (`execution error at (file:line:col): message`).
pub const WARN_START: &str = "HELM_ERR_START";
/// End marker of a `required`/`fail` message.
pub const WARN_END: &str = "HELM_ERR_END";

/// Helm's limit of nested `include`s of one template name.
pub const RECURSION_MAX: usize = 1000;

/// The name Helm gives its template set (and every `tpl` text).
pub const SET_NAME: &str = "gotpl";

/// Which Helm's function set to expose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HelmFlavor {
    /// Helm v3 (the renderer's target).
    #[default]
    V3,
    /// Helm v4: adds `mustToYaml`, `mustToJson`, `mustToToml` and the duration helpers.
    V4,
}

/// A template set with Sprig and Helm's functions, `missingkey=zero` as Helm sets it.
pub fn new_template_set(flavor: HelmFlavor) -> Templates {
    let mut t = Templates::with_sprig(SET_NAME);
    t.set_missing_key(MissingKey::Zero);
    register(&mut t, flavor);
    t
}

fn arg_str<'a>(name: &str, args: &'a [Value], i: usize) -> Result<&'a str, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(FuncError::Exec(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
        None => Err(FuncError::Exec(format!(
            "wrong number of args for {name}: want {} got {}",
            i + 1,
            args.len()
        ))),
    }
}

fn any_arg(args: &[Value], i: usize) -> Value {
    match args.get(i) {
        Some(Value::Missing) | None => Value::Nil,
        Some(v) => v.clone(),
    }
}

/// Registers Helm's functions.
pub fn register(t: &mut Templates, flavor: HelmFlavor) {
    t.remove_func("env");
    t.remove_func("expandenv");
    // Helm 3.22 links the Sprig release whose `htpasswd` takes exactly (user, password) and
    // always writes bcrypt; the hash-algorithm argument came in a later Sprig.
    if flavor == HelmFlavor::V3 {
        t.add_func_arity("htpasswd", 2, Some(2), |_, a| {
            Ok(Value::str(gotemplate::sprig::htpasswd(
                arg_str("htpasswd", a, 0)?,
                arg_str("htpasswd", a, 1)?,
                "bcrypt",
            )))
        });
    }
    t.add_func_arity("toYaml", 1, Some(1), |_, a| {
        Ok(Value::str(
            yaml::to_yaml(&any_arg(a, 0))
                .map(|s| s.strip_suffix('\n').unwrap_or(&s).to_string())
                .unwrap_or_default(),
        ))
    });
    t.add_func_arity("toYamlPretty", 1, Some(1), |_, a| {
        Ok(Value::str(
            yaml::to_yaml_pretty(&any_arg(a, 0))
                .map(|s| s.strip_suffix('\n').unwrap_or(&s).to_string())
                .unwrap_or_default(),
        ))
    });
    t.add_func_arity("fromYaml", 1, Some(1), |_, a| {
        let s = arg_str("fromYaml", a, 0)?;
        Ok(from_yaml(s))
    });
    t.add_func_arity("fromYamlArray", 1, Some(1), |_, a| {
        let s = arg_str("fromYamlArray", a, 0)?;
        Ok(from_yaml_array(s))
    });
    t.add_func_arity("toJson", 1, Some(1), |_, a| {
        Ok(Value::str(to_json(&any_arg(a, 0)).unwrap_or_default()))
    });
    t.add_func_arity("fromJson", 1, Some(1), |_, a| {
        let s = arg_str("fromJson", a, 0)?;
        Ok(from_json(s))
    });
    t.add_func_arity("fromJsonArray", 1, Some(1), |_, a| {
        let s = arg_str("fromJsonArray", a, 0)?;
        Ok(from_json_array(s))
    });
    t.add_func_arity("toToml", 1, Some(1), |_, a| {
        Ok(Value::str(match to_toml(&any_arg(a, 0)) {
            Ok(s) => s,
            Err(e) => e,
        }))
    });
    t.add_func_arity("fromToml", 1, Some(1), |_, a| {
        let s = arg_str("fromToml", a, 0)?;
        Ok(from_toml(s))
    });
    t.add_func_arity("lookup", 4, Some(4), |_, a| {
        for i in 0..4 {
            arg_str("lookup", a, i)?;
        }
        Ok(Value::empty_map())
    });
    t.add_func_arity("getHostByName", 1, Some(1), |_, a| {
        arg_str("getHostByName", a, 0)?;
        Ok(Value::str(""))
    });
    t.add_func_arity("required", 2, Some(2), |_, a| {
        let warn = arg_str("required", a, 0)?;
        let val = any_arg(a, 1);
        match &val {
            Value::Nil => Err(FuncError::Call(format!("{WARN_START}{warn}{WARN_END}"))),
            Value::String(s) if s.is_empty() => {
                Err(FuncError::Call(format!("{WARN_START}{warn}{WARN_END}")))
            }
            _ => Ok(val),
        }
    });
    t.add_func_arity("fail", 1, Some(1), |_, a| {
        let msg = arg_str("fail", a, 0)?;
        Err(FuncError::Call(format!("{WARN_START}{msg}{WARN_END}")))
    });
    t.add_func_arity("include", 2, Some(2), include);
    t.add_func_arity("tpl", 2, Some(2), tpl);
    if flavor == HelmFlavor::V4 {
        t.add_func_arity("mustToYaml", 1, Some(1), |_, a| {
            yaml::to_yaml(&any_arg(a, 0))
                .map(|s| Value::str(s.strip_suffix('\n').unwrap_or(&s)))
                .map_err(|e| FuncError::Call(e.0))
        });
        t.add_func_arity("mustToJson", 1, Some(1), |_, a| {
            to_json(&any_arg(a, 0))
                .map(Value::str)
                .map_err(FuncError::Call)
        });
        t.add_func_arity("mustToToml", 1, Some(1), |_, a| {
            to_toml(&any_arg(a, 0))
                .map(Value::str)
                .map_err(FuncError::Call)
        });
        crate::duration::register(t);
    }
}

fn include(ctx: &mut CallCtx<'_, '_>, a: &[Value]) -> Result<Value, FuncError> {
    let name = arg_str("include", a, 0)?.to_string();
    let data = any_arg(a, 1);
    let key = format!("include:{name}");
    let n = *ctx.counter(&key);
    if n > RECURSION_MAX {
        return Err(FuncError::Call(format!(
            "rendering template has a nested reference name: {name}: unable to execute template"
        )));
    }
    *ctx.counter(&key) += 1;
    let res = ctx.include(&name, &data);
    *ctx.counter(&key) -= 1;
    res.map(Value::str)
        .map_err(|e| FuncError::Call(e.to_string()))
}

fn tpl(ctx: &mut CallCtx<'_, '_>, a: &[Value]) -> Result<Value, FuncError> {
    let text = arg_str("tpl", a, 0)?.to_string();
    let data = any_arg(a, 1);
    match ctx.tpl(SET_NAME, &text, &data) {
        Ok(out) => Ok(Value::str(out.replace("<no value>", ""))),
        Err(e) => {
            let wrap = if e.kind() == gotemplate::ErrorKind::Parse {
                "cannot parse template"
            } else {
                "error during tpl function execution for"
            };
            Err(FuncError::Call(format!("{wrap} {}: {e}", quote_go(&text))))
        }
    }
}

/// `fromYaml`: a map, or `{Error: message}`.
pub fn from_yaml(s: &str) -> Value {
    match yaml::parse(s, Numbers::Float) {
        Ok(Value::Map(m)) => Value::Map(m),
        Ok(Value::Nil) | Ok(Value::Missing) => Value::empty_map(),
        Ok(other) => Value::map([(
            "Error",
            Value::str(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                yaml::json_kind(&other)
            )),
        )]),
        Err(e) => Value::map([(
            "Error",
            Value::str(format!("error converting YAML to JSON: {}", e.go_style())),
        )]),
    }
}

/// `fromYamlArray`: a list, or `[message]`.
pub fn from_yaml_array(s: &str) -> Value {
    match yaml::parse(s, Numbers::Float) {
        Ok(Value::List(l)) => Value::List(l),
        Ok(Value::Nil) | Ok(Value::Missing) => Value::list(Vec::new()),
        Ok(other) => Value::list(vec![Value::str(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            yaml::json_kind(&other)
        ))]),
        Err(e) => Value::list(vec![Value::str(format!(
            "error converting YAML to JSON: {}",
            e.go_style()
        ))]),
    }
}

fn parse_json(s: &str) -> Result<Value, String> {
    let j: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        if e.is_eof() {
            "unexpected end of JSON input".to_string()
        } else {
            format!("invalid character in JSON: {e}")
        }
    })?;
    Ok(Value::from_json_helm(&j))
}

/// `fromJson`: a map, or `{Error: message}`.
pub fn from_json(s: &str) -> Value {
    match parse_json(s) {
        Ok(Value::Map(m)) => Value::Map(m),
        Ok(Value::Nil) => Value::empty_map(),
        Ok(other) => Value::map([(
            "Error",
            Value::str(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                yaml::json_kind(&other)
            )),
        )]),
        Err(e) => Value::map([("Error", Value::str(e))]),
    }
}

/// `fromJsonArray`: a list, or `[message]`.
pub fn from_json_array(s: &str) -> Value {
    match parse_json(s) {
        Ok(Value::List(l)) => Value::List(l),
        Ok(Value::Nil) => Value::list(Vec::new()),
        Ok(other) => Value::list(vec![Value::str(format!(
            "json: cannot unmarshal {} into Go value of type []interface {{}}",
            yaml::json_kind(&other)
        ))]),
        Err(e) => Value::list(vec![Value::str(e)]),
    }
}

/// Standard base64.
pub fn base64_encode(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = match chunk.len() {
            3 => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]),
            2 => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8),
            _ => u32::from(chunk[0]) << 16,
        };
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Go's `json.Marshal` (HTML-safe escaping, sorted keys, Go float formatting).
pub fn to_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(v, &mut out, 0)?;
    Ok(out)
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(v: &Value, out: &mut String, depth: usize) -> Result<(), String> {
    if depth > 10_000 {
        return Err("json: unsupported value: encountered a cycle".into());
    }
    match v {
        Value::Missing | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    gotemplate::format_float_g(*f)
                ));
            }
            out.push_str(&yaml::go_json_float(*f));
        }
        Value::String(s) => write_json_str(s, out),
        Value::Bytes(b) => write_json_str(&base64_encode(b), out),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.read().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(k, out);
                out.push(':');
                write_json(x, out, depth + 1)?;
            }
            out.push('}');
        }
        // An object with a JSON form of its own (a named map or slice type, a type with
        // MarshalJSON) is written as that, like encoding/json does.
        Value::Object(o) => match o.to_json_value() {
            Some(j) => write_json(&j, out, depth + 1)?,
            None => write_json_str(&v.to_string(), out),
        },
        other => write_json_str(&other.to_string(), out),
    }
    Ok(())
}

/// `fromToml`: a map, or `{Error: message}`. TOML integers are int64, floats float64.
pub fn from_toml(s: &str) -> Value {
    match s.parse::<toml::Table>() {
        Ok(t) => toml_to_value(&toml::Value::Table(t)),
        Err(e) => Value::map([("Error", Value::str(toml_error_text(s, &e)))]),
    }
}

/// The error text Helm's TOML decoder (BurntSushi/toml) gives for the same input:
/// `toml: line N: message` or `toml: line N (last key "k"): message`, where the last key is
/// the table header in force plus the key whose value was being read.
///
/// The common mistakes (a key without `=`, a missing value, an unterminated string) get
/// BurntSushi's own messages; other errors keep the `toml` crate's wording in that frame.
fn toml_error_text(input: &str, e: &toml::de::Error) -> String {
    let mut start = e.span().map_or(input.len(), |s| s.start).min(input.len());
    // Spans are token boundaries; never slice inside a character regardless.
    while !input.is_char_boundary(start) {
        start -= 1;
    }
    let line_of = |pos: usize| {
        input.as_bytes()[..pos.min(input.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    };
    // The first character after `pos` that is not a space or tab, as Go's %q of a rune.
    let next_char = |pos: usize| {
        input
            .get(pos..)
            .and_then(|rest| rest.chars().find(|c| *c != ' ' && *c != '\t'))
    };
    let quote_rune = |c: char| match c {
        '\n' => "'\\n'".to_string(),
        '\r' => "'\\r'".to_string(),
        '\'' => "'\\''".to_string(),
        c => format!("'{c}'"),
    };
    let msg = e.message();
    let line_start = input[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = input[start..].find('\n').map_or(input.len(), |i| start + i);
    let line_text = &input[line_start..line_end];
    // The key of a `key = value` line, when the error is in its value.
    let value_key = line_text
        .split_once('=')
        .filter(|(k, _)| line_start + k.len() < start || msg.starts_with("missing value"))
        .map(|(k, _)| k.trim().trim_matches(['"', '\'']).to_string());
    let (line, text, in_value) = if msg.starts_with("key with no value") {
        // The key ends where the span ends; BurntSushi looks for `=` after it.
        let after = e.span().map_or(input.len(), |s| s.end);
        match next_char(after) {
            None => (
                line_of(input.len()),
                "unexpected EOF; expected key separator '='".to_string(),
                false,
            ),
            Some(c) => (
                line_of(after),
                format!("expected '.' or '=', but got {} instead", quote_rune(c)),
                false,
            ),
        }
    } else if msg.starts_with("missing value") || msg.starts_with("string values must be quoted") {
        let after = line_start + line_text.find('=').map_or(line_text.len(), |i| i + 1);
        let word: String = input[after..]
            .trim_start_matches([' ', '\t'])
            .chars()
            .take_while(|c| c.is_alphabetic())
            .collect();
        match next_char(after) {
            None => (
                line_of(input.len()),
                "unexpected EOF; expected value".to_string(),
                true,
            ),
            // A bare word where a value belongs (`a = yes`): BurntSushi lexes it as a bool.
            Some(c) if c.is_alphabetic() => (
                line_of(after),
                format!(
                    "expected value but found {} instead",
                    gotemplate::fmt::quote_go(&word)
                ),
                true,
            ),
            Some(c) => (
                line_of(after),
                format!("expected value but found {} instead", quote_rune(c)),
                true,
            ),
        }
    } else if msg.contains("invalid basic string")
        || msg.contains("unclosed") && msg.contains("string")
    {
        let quote = if line_text[start - line_start..].starts_with('\'') {
            "\"'\""
        } else {
            "'\"'"
        };
        if input[start..].contains('\n') {
            (
                line_of(start),
                "strings cannot contain newlines".to_string(),
                true,
            )
        } else {
            (
                line_of(input.len()),
                format!("unexpected EOF; expected {quote}"),
                true,
            )
        }
    } else {
        (line_of(start), msg.to_string(), value_key.is_some())
    };
    // The table header in force at the error: the last `[t]` / `[[t]]` line before it.
    let context = input[..line_start]
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with('['))
        .map(|l| {
            let l = l.split('#').next().unwrap_or(l).trim();
            l.trim_start_matches('[')
                .trim_end_matches(']')
                .split('.')
                .map(|p| p.trim().trim_matches(['"', '\'']))
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default();
    let key = if in_value {
        value_key.unwrap_or_default()
    } else {
        String::new()
    };
    let last_key = match (context.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => context,
        (false, false) => format!("{context}.{key}"),
    };
    if last_key.is_empty() {
        format!("toml: line {line}: {text}")
    } else {
        format!(
            "toml: line {line} (last key {}): {text}",
            gotemplate::fmt::quote_go(&last_key)
        )
    }
}

fn toml_to_value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::str(s),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::str(d.to_string()),
        toml::Value::Array(a) => Value::list(a.iter().map(toml_to_value).collect()),
        toml::Value::Table(t) => Value::Map(Map::from_btree(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_value(v)))
                .collect(),
        )),
    }
}

/// `toToml` (BurntSushi/toml's encoder layout: plain keys first, then `[tables]` indented by
/// two spaces per level).
pub fn to_toml(v: &Value) -> Result<String, String> {
    let Value::Map(m) = v else {
        return Err("toml: top-level values must be Go maps or structs".into());
    };
    let mut out = String::new();
    toml_table(m, &mut Vec::new(), &mut out, 0)?;
    Ok(out)
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        toml_string(k)
    }
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_table_like(v: &Value) -> bool {
    match v {
        Value::Map(_) => true,
        Value::List(l) => !l.is_empty() && l.iter().all(|x| matches!(x, Value::Map(_))),
        _ => false,
    }
}

fn toml_inline(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::String(s) => toml_string(s),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                "nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            } else if f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                gotemplate::format_float_g(*f)
            }
        }
        Value::List(l) => {
            let items: Result<Vec<String>, String> = l.iter().map(toml_inline).collect();
            format!("[{}]", items?.join(", "))
        }
        Value::Map(m) => {
            let mut items = Vec::new();
            for (k, x) in m.read().iter() {
                items.push(format!("{} = {}", toml_key(k), toml_inline(x)?));
            }
            format!("{{{}}}", items.join(", "))
        }
        Value::Nil | Value::Missing => return Err("toml: cannot encode a nil value".into()),
        other => toml_string(&other.to_string()),
    })
}

fn toml_table(
    m: &Map,
    path: &mut Vec<String>,
    out: &mut String,
    depth: usize,
) -> Result<(), String> {
    if depth > 1000 {
        return Err("toml: nesting too deep".into());
    }
    let indent = "  ".repeat(path.len().saturating_sub(1).min(depth));
    let entries: Vec<(String, Value)> = m
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in &entries {
        if is_table_like(v) || v.is_nil() {
            continue;
        }
        let pad = if path.is_empty() {
            String::new()
        } else {
            format!("{indent}  ")
        };
        out.push_str(&format!("{pad}{} = {}\n", toml_key(k), toml_inline(v)?));
    }
    for (k, v) in &entries {
        match v {
            Value::Map(sub) => {
                path.push(toml_key(k));
                if !out.is_empty() {
                    out.push('\n');
                }
                let hpad = "  ".repeat(path.len() - 1);
                out.push_str(&format!("{hpad}[{}]\n", path.join(".")));
                toml_table(sub, path, out, depth + 1)?;
                path.pop();
            }
            Value::List(l) if is_table_like(v) => {
                path.push(toml_key(k));
                for item in l.iter() {
                    if let Value::Map(sub) = item {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        let hpad = "  ".repeat(path.len() - 1);
                        out.push_str(&format!("{hpad}[[{}]]\n", path.join(".")));
                        toml_table(sub, path, out, depth + 1)?;
                    }
                }
                path.pop();
            }
            _ => {}
        }
    }
    Ok(())
}

/// Helm's `reformatExecErrorMsg` and `cleanupParseError` applied to a gotemplate error of
/// template `filename`.
pub fn reformat_error(filename: &str, e: &gotemplate::Error) -> String {
    let msg = e.to_string();
    match e.kind() {
        gotemplate::ErrorKind::Parse => {
            let tokens: Vec<&str> = msg.split(": ").collect();
            if tokens.len() == 1 {
                return format!("parse error in ({filename}): {msg}");
            }
            format!(
                "parse error at ({}): {}",
                tokens[1],
                tokens[tokens.len() - 1]
            )
        }
        gotemplate::ErrorKind::Exec => {
            let tokens: Vec<&str> = msg.splitn(3, ": ").collect();
            if tokens.len() != 3 {
                return format!("execution error in ({filename}): {msg}");
            }
            if let Some(start) = tokens[2].find(WARN_START)
                && let Some(end) = tokens[2].rfind(WARN_END)
                && end >= start + WARN_START.len()
            {
                return format!(
                    "execution error at ({}): {}",
                    tokens[1],
                    &tokens[2][start + WARN_START.len()..end]
                );
            }
            msg
        }
        gotemplate::ErrorKind::NoTemplate => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_err(s: &str) -> String {
        match from_toml(s) {
            Value::Map(m) => m.get("Error").map(|v| v.to_string()).unwrap_or_default(),
            other => panic!("not a map: {other}"),
        }
    }

    proptest::proptest! {
        /// Any text: a map back, and errors always in BurntSushi's frame (never a panic).
        #[test]
        fn from_toml_errors_always_name_a_line(s in "[a-zé=\"'\\[\\]{}., \n#0-9]{0,40}") {
            let out = from_toml(&s);
            let Value::Map(m) = out else { panic!("not a map") };
            if let Some(e) = m.get("Error") {
                proptest::prop_assert!(e.to_string().starts_with("toml: line "), "{}", e);
            }
        }
    }

    #[test]
    fn from_toml_errors_read_like_burntsushi_toml() {
        let cases = [
            (
                "one",
                "toml: line 1: unexpected EOF; expected key separator '='",
            ),
            (
                "[t]\na = 1\nb",
                "toml: line 3 (last key \"t\"): unexpected EOF; expected key separator '='",
            ),
            (
                "one two = 1",
                "toml: line 1: expected '.' or '=', but got 't' instead",
            ),
            (
                "a = ",
                "toml: line 1 (last key \"a\"): unexpected EOF; expected value",
            ),
            (
                "[x.y]\na = \"abc",
                "toml: line 2 (last key \"x.y.a\"): unexpected EOF; expected '\"'",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(toml_err(input), want, "{input:?}");
        }
        // Multi-byte text around the error is sliced safely.
        assert!(toml_err("é = \"ü").starts_with("toml: line 1"));
        assert!(toml_err("ü").starts_with("toml: line 1"));
        // Anything else still names the line, in the same frame.
        let e = toml_err("a = 1\na = 2");
        assert!(e.starts_with("toml: line 2"), "{e}");
    }

    #[test]
    fn json_like_go() {
        let v = Value::from_json_helm(&serde_json::json!({"b": "<&>", "a": [1, 1.5, null, true]}));
        assert_eq!(
            to_json(&v).unwrap(),
            r#"{"a":[1,1.5,null,true],"b":"\u003c\u0026\u003e"}"#
        );
    }

    #[test]
    fn toml_like_burntsushi() {
        let v = Value::from_json(&serde_json::json!({"mast": {"sail": "white"}, "a": 1}));
        assert_eq!(
            to_toml(&v).unwrap(),
            "a = 1\n\n[mast]\n  sail = \"white\"\n"
        );
    }
}
