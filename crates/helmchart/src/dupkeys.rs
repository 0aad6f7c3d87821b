//! Duplicate mapping keys in a YAML stream.
//!
//! go-yaml v2 (which `sigs.k8s.io/yaml`, and so Helm and Argo CD, decode manifests with) keeps
//! the last value of a repeated key without a word. Charts produce such documents often (a chart
//! label plus the same label from values), so callers use this to warn where it happened.

use granit_parser::{Event, Parser, ScalarStyle};

use crate::yaml::{Numbers, key_string, resolve_scalar};

/// A key that appears twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key as JSON sees it (`true` for a `yes` key, as go-yaml resolves it).
    pub key: String,
    /// 1-based line of the repeated (winning) occurrence.
    pub line: usize,
    /// 1-based line of the first occurrence.
    pub first_line: usize,
}

enum Frame {
    Seq,
    /// Keys seen (key → line) and whether the next node is a key.
    Map(Vec<(String, usize)>, bool),
}

/// Every repeated key of every mapping in `text`, in document order. A text that does not
/// parse gives the duplicates found before the error (the parse error is reported elsewhere).
pub fn duplicate_keys(text: &str) -> Vec<DuplicateKey> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut out = Vec::new();
    for ev in Parser::new_from_str(text) {
        let Ok((ev, span)) = ev else { break };
        let line = span.start.line();
        let done: Option<Option<String>> = match ev {
            Event::Scalar(t, style, _, tag) => {
                let tag = tag.map(|t| t.suffix().to_string());
                let merge = style == ScalarStyle::Plain && t == "<<";
                let v = resolve_scalar(&t, style, tag.as_deref(), Numbers::Typed);
                Some((!merge).then(|| key_string(&v)))
            }
            Event::Alias(_) => Some(None),
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq);
                None
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(Vec::new(), true));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
                Some(None)
            }
            _ => None,
        };
        // A node finished: in a mapping it is a key or a value, alternately.
        if let Some(key) = done
            && let Some(Frame::Map(seen, expect_key)) = stack.last_mut()
        {
            if *expect_key && let Some(k) = key {
                match seen.iter().find(|(s, _)| *s == k) {
                    Some((_, first)) => out.push(DuplicateKey {
                        key: k,
                        line,
                        first_line: *first,
                    }),
                    None => seen.push((k, line)),
                }
            }
            *expect_key = !*expect_key;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeated_keys_with_their_lines() {
        let text = "metadata:\n  labels:\n    app: a\n    release: one\n    app: b\n  name: x\nspec:\n  - {k: 1, k: 2}\n  - yes: 1\n    true: 2\n    <<: {a: 1}\n    <<: {b: 1}\n";
        let d = duplicate_keys(text);
        assert_eq!(
            d,
            vec![
                DuplicateKey {
                    key: "app".into(),
                    line: 5,
                    first_line: 3
                },
                DuplicateKey {
                    key: "k".into(),
                    line: 8,
                    first_line: 8
                },
                // `yes` is the boolean true under YAML 1.1, the same key as `true`.
                DuplicateKey {
                    key: "true".into(),
                    line: 10,
                    first_line: 9
                },
            ]
        );
        assert!(duplicate_keys("a: {b: 1}\nc: [1, {b: 2}]\nb: 3\n").is_empty());
    }
}
