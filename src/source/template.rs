//! Parameter substitution in ApplicationSet templates, as Argo CD's list generator does it.
//!
//! Two modes:
//! - fasttemplate (default): `{{param}}` (spaces inside the braces allowed) is replaced by the
//!   element's value; unknown names are left as written, as Argo CD does.
//! - Go template (`goTemplate: true`): Go's `text/template` with Sprig (the `gotemplate`
//!   workspace crate), as Argo CD does, without the `env`/`expandenv` functions Argo CD removes
//!   (a manifest must not read the operator's environment). A missing key prints `<no value>`
//!   (Go's default); `goTemplateOptions: ["missingkey=error"]` makes it an error.

use serde_json::{Map, Value};

/// Errors while substituting parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Go template parse or execution error (Go's own wording), with the text concerned.
    #[error("{message} (in `{text}`)")]
    Go { text: String, message: String },
    #[error("invalid goTemplateOptions: {0}")]
    Option(String),
}

/// How a template is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Fast,
    Go { missing_key_error: bool },
}

/// Render one string as a Go template with Sprig, as Argo CD's goTemplate mode does.
fn go_render(
    text: &str,
    params: &Map<String, Value>,
    missing_key_error: bool,
) -> Result<String, TemplateError> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let mut t = gotemplate::Templates::with_sprig("appset");
    for f in ["env", "expandenv"] {
        t.remove_func(f);
    }
    if missing_key_error {
        t.option("missingkey=error")
            .map_err(TemplateError::Option)?;
    }
    let go_err = |e: gotemplate::Error| TemplateError::Go {
        text: text.to_string(),
        message: e.to_string(),
    };
    t.parse("appset", text).map_err(go_err)?;
    let data = gotemplate::Value::from_json(&Value::Object(params.clone()));
    t.execute("appset", &data).map_err(go_err)
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
    if let Mode::Go { missing_key_error } = mode {
        return go_render(text, params, missing_key_error);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            // fasttemplate leaves an unterminated tag as text.
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let tag = &after[..end];
        let key = tag.trim();
        match params.get(key) {
            Some(v) if !key.is_empty() => out.push_str(&scalar_text(v)),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Text of a parameter in fasttemplate mode.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
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
        let err = render_str("{{.nope}}", &p, strict).unwrap_err().to_string();
        assert!(err.contains("map has no entry for key \"nope\""), "{err}");
        // Sprig functions and pipelines work, as in Argo CD.
        assert_eq!(
            render_str("{{.env | upper}}-{{ .replicas }}", &p, go).unwrap(),
            "PROD-3"
        );
        assert_eq!(
            render_str("{{ default \"x\" .nope }}", &p, go).unwrap(),
            "x"
        );
        // `env` is removed (Argo CD does too): templates cannot read the environment.
        let err = render_str("{{env \"HOME\"}}", &p, go)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"env\" not defined"), "{err}");
        assert!(render_str("{{ .env ", &p, go).is_err());
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
