//! `Chart.lock` / `requirements.lock`: exact versions, and the digest Helm stores to detect a
//! lock that no longer matches `Chart.yaml` (sha256 of Go's JSON encoding of the dependency
//! lists: `helm dependency build` refuses a mismatch, and so does Sextant).

use serde_json::Value;

/// A dependency as Helm's `chart.Dependency` struct holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dep {
    pub name: String,
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub import_values: Vec<Value>,
    pub alias: String,
}

/// A parsed lock file.
#[derive(Debug, Clone, Default)]
pub struct Lock {
    pub digest: String,
    pub dependencies: Vec<Dep>,
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

impl Dep {
    /// From one entry of a `dependencies:` list.
    pub fn from_value(v: &Value) -> Dep {
        Dep {
            name: text(v.get("name")),
            version: text(v.get("version")),
            repository: text(v.get("repository")),
            condition: text(v.get("condition")),
            tags: v
                .get("tags")
                .and_then(Value::as_array)
                .map(|l| l.iter().map(|t| text(Some(t))).collect())
                .unwrap_or_default(),
            enabled: v.get("enabled").and_then(Value::as_bool).unwrap_or(false),
            import_values: v
                .get("import-values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            alias: text(v.get("alias")),
        }
    }

    /// Go's `json.Marshal` of `chart.Dependency` (field order and `omitempty` as declared).
    fn go_json(&self, out: &mut String) {
        out.push_str("{\"name\":");
        go_string(&self.name, out);
        if !self.version.is_empty() {
            out.push_str(",\"version\":");
            go_string(&self.version, out);
        }
        out.push_str(",\"repository\":");
        go_string(&self.repository, out);
        if !self.condition.is_empty() {
            out.push_str(",\"condition\":");
            go_string(&self.condition, out);
        }
        if !self.tags.is_empty() {
            out.push_str(",\"tags\":[");
            for (i, t) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(t, out);
            }
            out.push(']');
        }
        if self.enabled {
            out.push_str(",\"enabled\":true");
        }
        if !self.import_values.is_empty() {
            out.push_str(",\"import-values\":");
            go_value(&Value::Array(self.import_values.clone()), out);
        }
        if !self.alias.is_empty() {
            out.push_str(",\"alias\":");
            go_string(&self.alias, out);
        }
        out.push('}');
    }
}

impl Lock {
    /// Parse a lock file's YAML (already read as JSON values).
    pub fn from_value(v: &Value) -> Lock {
        Lock {
            digest: text(v.get("digest")),
            dependencies: v
                .get("dependencies")
                .and_then(Value::as_array)
                .map(|l| l.iter().map(Dep::from_value).collect())
                .unwrap_or_default(),
        }
    }
}

fn deps_json(deps: &[Dep], out: &mut String) {
    // A nil slice (no dependencies) encodes as null in Go.
    if deps.is_empty() {
        out.push_str("null");
        return;
    }
    out.push('[');
    for (i, d) in deps.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        d.go_json(out);
    }
    out.push(']');
}

/// Helm's `HashReq(req, lock)`: `sha256:` + hex sha256 of `json.Marshal([2][]*Dependency{req, lock})`.
pub fn hash_req(req: &[Dep], lock: &[Dep]) -> String {
    let mut s = String::from("[");
    deps_json(req, &mut s);
    s.push(',');
    deps_json(lock, &mut s);
    s.push(']');
    format!("sha256:{}", super::cache::sha256_hex(s.as_bytes()))
}

/// Helm 2's digest of `requirements.yaml`, still accepted for `apiVersion: v1` charts.
pub fn hash_v2_req(req: &[Dep]) -> String {
    let mut s = String::from("{\"dependencies\":");
    deps_json(req, &mut s);
    s.push('}');
    format!("sha256:{}", super::cache::sha256_hex(s.as_bytes()))
}

/// Go's JSON string encoding (HTML-safe), as `go_value` of a string.
fn go_string(s: &str, out: &mut String) {
    go_value(&Value::String(s.to_owned()), out);
}

/// Go's `json.Marshal` of a decoded YAML value (maps with sorted keys): the same encoder the
/// renderer's `toJson` uses. It fails only past 10,000 levels of nesting, which no YAML parser
/// hands over; `null` then makes the digest mismatch, which is reported.
fn go_value(v: &Value, out: &mut String) {
    // As Helm decodes it: YAML through JSON into interface{}, so numbers are float64.
    let v = gotemplate::Value::from_json_helm(v);
    out.push_str(&helmchart::funcs::to_json(&v).unwrap_or_else(|_| "null".into()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_json_follows_struct_order_omitempty_and_html_escaping() {
        let d = Dep::from_value(
            &json!({"alias": "db", "name": "postgresql", "version": ">=1 <2",
            "repository": "https://x", "tags": ["a"], "import-values": [{"parent": "p", "child": "c"}, "s"]}),
        );
        let mut s = String::new();
        d.go_json(&mut s);
        assert_eq!(
            s,
            r#"{"name":"postgresql","version":"\u003e=1 \u003c2","repository":"https://x","tags":["a"],"import-values":[{"child":"c","parent":"p"},"s"],"alias":"db"}"#
        );
        let empty = Dep::default();
        let mut s = String::new();
        empty.go_json(&mut s);
        assert_eq!(s, r#"{"name":"","repository":""}"#);
    }
}
