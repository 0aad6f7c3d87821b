//! `.helmignore` rules with Helm's semantics (`pkg/ignore`): a pattern without `/` matches the
//! base name, one with `/` the whole relative path, a leading `/` anchors at the root, a trailing
//! `/` matches directories only, `!` negates (with Helm's quirk: a negated rule ignores every
//! path it does NOT match), `**` is refused. Hidden files under `templates/` are always ignored.

use crate::glob::go_path_match;

#[derive(Debug, Clone)]
struct Pattern {
    raw: String,
    negate: bool,
    must_dir: bool,
    anchored: bool,
}

/// A parsed `.helmignore`.
#[derive(Debug, Clone)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

impl Default for Rules {
    fn default() -> Self {
        let mut r = Rules {
            patterns: Vec::new(),
        };
        // Helm's AddDefaults: hidden files in templates/.
        r.patterns.push(Pattern {
            raw: "templates/.?*".into(),
            negate: false,
            must_dir: false,
            anchored: false,
        });
        r
    }
}

impl Rules {
    /// Parses `.helmignore` text.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut r = Rules::default();
        for (n, line) in text.lines().enumerate() {
            let rule = line.trim();
            if rule.is_empty() || rule.starts_with('#') {
                continue;
            }
            if rule.contains("**") {
                return Err(format!(
                    "line {}: double-star (**) syntax is not supported",
                    n + 1
                ));
            }
            let mut p = Pattern {
                raw: rule.to_string(),
                negate: false,
                must_dir: false,
                anchored: false,
            };
            if let Some(rest) = p.raw.strip_prefix('!') {
                if rest.is_empty() {
                    continue;
                }
                p.raw = rest.to_string();
                p.negate = true;
            }
            if let Some(rest) = p.raw.strip_suffix('/') {
                p.raw = rest.to_string();
                p.must_dir = true;
            }
            if let Some(rest) = p.raw.strip_prefix('/') {
                p.raw = rest.to_string();
                p.anchored = true;
            }
            // Helm checks the pattern compiles (filepath.Match with an empty name).
            if go_path_match(&p.raw, "").is_err() {
                return Err(format!("line {}: bad pattern {:?}", n + 1, rule));
            }
            r.patterns.push(p);
        }
        Ok(r)
    }

    fn matches(p: &Pattern, path: &str) -> bool {
        if p.anchored || p.raw.contains('/') {
            go_path_match(&p.raw, path).unwrap_or(false)
        } else {
            let base = path.rsplit('/').next().unwrap_or(path);
            go_path_match(&p.raw, base).unwrap_or(false)
        }
    }

    /// Helm's `Ignore(path, fileInfo)`.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !Self::matches(p, path) {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if Self::matches(p, path) {
                return true;
            }
        }
        false
    }

    /// True when the file or one of its parent directories is ignored (Helm skips ignored
    /// directories entirely while walking).
    pub fn ignored_with_parents(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            if self.ignore(&parts[..i].join("/"), true) {
                return true;
            }
        }
        self.ignore(path, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helmignore_semantics() {
        let r = Rules::parse("# c\n*.bak\n/secret.txt\ndocs/\nsub/*.md\n").unwrap();
        assert!(r.ignored_with_parents("a/b/x.bak"));
        assert!(r.ignored_with_parents("secret.txt"));
        assert!(!r.ignored_with_parents("a/secret.txt"));
        assert!(r.ignored_with_parents("docs/readme"));
        assert!(r.ignored_with_parents("sub/a.md"));
        assert!(!r.ignored_with_parents("sub/a.txt"));
        assert!(r.ignored_with_parents("templates/.hidden"));
        assert!(!r.ignored_with_parents("templates/a.yaml"));
        assert!(Rules::parse("a/**/b").is_err());
    }
}
