//! YAML/JSON documents to JSON values, with errors located at file:line:col.

use serde_json::Value;

/// A YAML or JSON syntax error located in a repository file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: invalid YAML: {message}")]
pub struct YamlError {
    /// Repo-relative path (or any label the caller chose).
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parse every document of a (multi-document) YAML text. Empty and null documents are skipped.
pub fn parse_documents(text: &str, file: &str) -> Result<Vec<Value>, YamlError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| locate(&e, text, file))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Parse rendered manifests the way Argo CD reads them (`sigs.k8s.io/yaml`, i.e. go-yaml v2):
/// YAML 1.1 scalars (`0755` is 493, `yes`/`on` are booleans) and, for a key repeated in a
/// mapping, the last value. Returns the documents (null ones skipped, keys in source order)
/// and one warning per repeated key naming `file` and the line.
pub fn parse_manifest_documents(
    text: &str,
    file: &str,
) -> Result<(Vec<Value>, Vec<String>), YamlError> {
    use helmchart::yaml::{Numbers, parse_all};
    let docs = parse_all(text, Numbers::Typed).map_err(|e| YamlError {
        file: file.to_string(),
        line: e.line,
        column: e.col,
        message: e.message,
    })?;
    let mut docs: Vec<Value> = docs
        .iter()
        .map(|d| {
            let mut j = d.to_json();
            integral_floats_as_ints(&mut j);
            j
        })
        .filter(|d| !d.is_null())
        .collect();
    // go-yaml's decoding sorts keys; keep the author's order (what users read in diffs) from
    // a second, order-preserving parse when it agrees on the document count.
    let options = serde_saphyr::options! { duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::LastWins };
    if let Ok(ordered) = serde_saphyr::from_multiple_with_options::<Value>(text, options) {
        let ordered: Vec<Value> = ordered.into_iter().filter(|d| !d.is_null()).collect();
        if ordered.len() == docs.len() {
            for (d, o) in docs.iter_mut().zip(&ordered) {
                reorder_like(d, o);
            }
        }
    }
    let warnings = helmchart::dupkeys::duplicate_keys(text)
        .into_iter()
        .map(|d| {
            format!(
                "{file}: rendered line {}: duplicate key `{}` (first on line {}); the last value is used, as Argo CD applies it",
                d.line, d.key, d.first_line
            )
        })
        .collect();
    Ok((docs, warnings))
}

/// A float with an integral value becomes an int, as Kubernetes reads it: the YAML is turned
/// into JSON text (Go writes 1000.0 as `1000`) and a JSON number that parses as int64 is one.
fn integral_floats_as_ints(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && n.is_f64()
                && f.fract() == 0.0
                && f.abs() < 1e21
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral_floats_as_ints),
        Value::Object(m) => m.values_mut().for_each(integral_floats_as_ints),
        _ => {}
    }
}

/// Orders the keys of every map in `v` as in `like` (keys `like` lacks go last).
fn reorder_like(v: &mut Value, like: &Value) {
    match (v, like) {
        (Value::Object(m), Value::Object(l)) => {
            let mut old = std::mem::take(m);
            for k in l.keys() {
                if let Some((k, x)) = old.shift_remove_entry(k) {
                    m.insert(k, x);
                }
            }
            m.extend(old);
            for (k, x) in m.iter_mut() {
                if let Some(lx) = l.get(k) {
                    reorder_like(x, lx);
                }
            }
        }
        (Value::Array(a), Value::Array(l)) => {
            for (x, lx) in a.iter_mut().zip(l) {
                reorder_like(x, lx);
            }
        }
        _ => {}
    }
}

/// Parse one YAML document (e.g. a values file); an empty text is an empty map.
pub fn parse_one(text: &str, file: &str) -> Result<Value, YamlError> {
    let mut docs = parse_documents(text, file)?;
    match docs.len() {
        0 => Ok(Value::Object(Default::default())),
        1 => Ok(docs.remove(0)),
        n => Err(YamlError {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: format!("expected one YAML document, found {n}"),
        }),
    }
}

/// Parse a JSON file, or YAML when it is not JSON (kubectl accepts both).
pub fn parse_json_file(text: &str, file: &str) -> Result<Vec<Value>, YamlError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(vec![v]),
        Err(e) => parse_documents(text, file).map_err(|_| YamlError {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }),
    }
}

fn locate(e: &serde_saphyr::Error, text: &str, file: &str) -> YamlError {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .filter(|(l, _)| *l > 0)
        .unwrap_or_else(|| (text.lines().count().max(1), 1));
    let rendered = e.without_snippet().to_string();
    // The rendered message carries its own " at line X column Y" suffix; ours is in front.
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    YamlError {
        file: file.to_string(),
        line,
        column: column.max(1),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_files_skip_empty_documents() {
        let docs = parse_documents("---\na: 1\n---\n---\nb: [x]\n", "f.yaml").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["b"][0], "x");
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse_documents("a: 1\nb: [unclosed\nc: 3\n", "x/values.yaml").unwrap_err();
        assert_eq!(err.file, "x/values.yaml");
        assert!(err.line >= 2, "{err}");
        assert!(err.to_string().starts_with("x/values.yaml:"), "{err}");
        let err = parse_one("a:\n  b: 1\n c: 2\n", "v.yaml").unwrap_err();
        assert_eq!(err.line, 3, "{err}");
    }

    #[test]
    fn json_files_parse_and_errors_are_located() {
        assert_eq!(parse_json_file("{\"a\": 1}", "a.json").unwrap()[0]["a"], 1);
        let err = parse_json_file("{\"a\": \n  [1,}", "a.json").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn manifests_follow_go_yaml_v2_and_the_last_duplicate_wins() {
        let text = "kind: Secret\nmetadata:\n  name: s\n  labels:\n    app: a\n    release: one\n    app: b\ndata:\n  mode: 0755\n  flag: yes\n  n: on\n  big: 1e3\n  s: \"0755\"\n";
        let (docs, warnings) = parse_manifest_documents(text, "c/templates/s.yaml").unwrap();
        assert_eq!(
            serde_json::to_string(&docs[0]).unwrap(),
            r#"{"kind":"Secret","metadata":{"name":"s","labels":{"app":"b","release":"one"}},"data":{"mode":493,"flag":true,"big":1000,"s":"0755","false":true}}"#
        );
        assert_eq!(
            warnings,
            vec![
                "c/templates/s.yaml: rendered line 7: duplicate key `app` (first on line 5); the last value is used, as Argo CD applies it"
            ]
        );
    }

    #[test]
    fn empty_values_file_is_an_empty_map() {
        assert_eq!(
            parse_one("# only a comment\n", "v.yaml").unwrap(),
            serde_json::json!({})
        );
    }
}
