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
    fn empty_values_file_is_an_empty_map() {
        assert_eq!(
            parse_one("# only a comment\n", "v.yaml").unwrap(),
            serde_json::json!({})
        );
    }
}
