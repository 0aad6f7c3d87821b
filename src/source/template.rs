//! Parameter substitution in ApplicationSet templates, as Argo CD's list generator does it.
//!
//! Two modes:
//! - fasttemplate (default): `{{param}}` (spaces inside the braces allowed) is replaced by the
//!   element's value; unknown names are left as written, as Argo CD does.
//! - Go template (`goTemplate: true`): `{{.param}}` and nested `{{.values.key}}` field paths.
//!   A missing key prints `<no value>` (Go's default) or is an error with
//!   `goTemplateOptions: ["missingkey=error"]`. This is the subset list-generator templates use;
//!   pipelines and functions (`{{.env | upper}}`) give a clear error until the `gotemplate`
//!   workspace crate offers an evaluation API to delegate to.

use serde_json::{Map, Value};

/// Errors while substituting parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "map has no entry for key \"{key}\" in `{expr}` (goTemplateOptions has missingkey=error)"
    )]
    MissingKey { key: String, expr: String },
    #[error(
        "unsupported Go template expression `{expr}`: only field references like {{{{.param}}}} or {{{{.values.key}}}} are supported in ApplicationSet templates"
    )]
    Unsupported { expr: String },
    #[error("unclosed action `{{{{` in `{text}`")]
    Unclosed { text: String },
}

/// How a template is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Fast,
    Go { missing_key_error: bool },
}

/// Substitute parameters in every string (and map key) of `template`.
pub fn render_value(
    template: &Value,
    params: &Map<String, Value>,
    mode: Mode,
) -> Result<Value, TemplateError> {
    Ok(match template {
        Value::String(s) => Value::String(render_str(s, params, mode)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, params, mode))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(render_str(k, params, mode)?, render_value(v, params, mode)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Substitute parameters in one string.
pub fn render_str(
    text: &str,
    params: &Map<String, Value>,
    mode: Mode,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            if matches!(mode, Mode::Go { .. }) {
                return Err(TemplateError::Unclosed {
                    text: text.to_string(),
                });
            }
            // fasttemplate leaves an unterminated tag as text.
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let tag = &after[..end];
        match mode {
            Mode::Fast => {
                let key = tag.trim();
                match params.get(key) {
                    Some(v) if !key.is_empty() => out.push_str(&scalar_text(v)),
                    _ => {
                        out.push_str("{{");
                        out.push_str(tag);
                        out.push_str("}}");
                    }
                }
            }
            Mode::Go { missing_key_error } => {
                out.push_str(&go_field(tag, params, missing_key_error)?);
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn go_field(
    tag: &str,
    params: &Map<String, Value>,
    missing_key_error: bool,
) -> Result<String, TemplateError> {
    // `{{- .x -}}` trim markers only affect surrounding whitespace in Go; inside a YAML string
    // value the difference is rarely meaningful, so accept and ignore them.
    let expr = tag
        .trim()
        .trim_start_matches('-')
        .trim_end_matches('-')
        .trim();
    let unsupported = || TemplateError::Unsupported {
        expr: format!("{{{{{tag}}}}}"),
    };
    let Some(path) = expr.strip_prefix('.') else {
        return Err(unsupported());
    };
    if path.is_empty()
        || !path
            .split('.')
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return Err(unsupported());
    }
    let mut cur: Option<&Value> = None;
    let mut map = params;
    for (i, seg) in path.split('.').enumerate() {
        match map.get(seg) {
            Some(v) => {
                cur = Some(v);
                if let Value::Object(m) = v {
                    map = m;
                } else if i + 1 < path.split('.').count() {
                    // Go: can't evaluate field of a non-map value.
                    return Err(unsupported());
                }
            }
            None => {
                if missing_key_error {
                    return Err(TemplateError::MissingKey {
                        key: seg.to_string(),
                        expr: format!("{{{{{tag}}}}}"),
                    });
                }
                return Ok("<no value>".to_string());
            }
        }
    }
    Ok(cur.map(go_text).unwrap_or_default())
}

/// Text of a parameter in fasttemplate mode.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Text Go's `fmt.Print` gives for a JSON-decoded value (maps print as `map[k:v]`).
fn go_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_text).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_text(&m[*k])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Map<String, Value> {
        json!({"env": "prod", "replicas": 3, "values": {"tier": "gold"}})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn fasttemplate_replaces_known_and_keeps_unknown() {
        let p = params();
        assert_eq!(
            render_str("astromesh-{{env}}", &p, Mode::Fast).unwrap(),
            "astromesh-prod"
        );
        assert_eq!(
            render_str("{{ env }}-{{replicas}}", &p, Mode::Fast).unwrap(),
            "prod-3"
        );
        assert_eq!(render_str("{{nope}}", &p, Mode::Fast).unwrap(), "{{nope}}");
        assert_eq!(render_str("a {{ b", &p, Mode::Fast).unwrap(), "a {{ b");
    }

    #[test]
    fn go_mode_fields_and_missing_keys() {
        let p = params();
        let go = Mode::Go {
            missing_key_error: false,
        };
        assert_eq!(render_str("x-{{ .env }}", &p, go).unwrap(), "x-prod");
        assert_eq!(render_str("{{.values.tier}}", &p, go).unwrap(), "gold");
        assert_eq!(render_str("{{.nope}}", &p, go).unwrap(), "<no value>");
        let strict = Mode::Go {
            missing_key_error: true,
        };
        assert!(matches!(
            render_str("{{.nope}}", &p, strict),
            Err(TemplateError::MissingKey { .. })
        ));
        assert!(matches!(
            render_str("{{.env | upper}}", &p, go),
            Err(TemplateError::Unsupported { .. })
        ));
        // fasttemplate-style tags are not fields in Go mode.
        assert!(render_str("{{env}}", &p, go).is_err());
    }

    #[test]
    fn keys_and_nested_values_are_rendered() {
        let t = json!({"metadata": {"labels": {"env-{{env}}": "{{env}}"}}, "n": [ "{{env}}", 1 ]});
        let out = render_value(&t, &params(), Mode::Fast).unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"env-prod": "prod"}}, "n": ["prod", 1]})
        );
    }
}
