//! A small glob matcher for repository paths (`/`-separated, relative to some root).
//!
//! Two flavours are needed: manifest discovery (`deploy/gitops/**/*.yaml`, where `*` stays inside
//! one path segment and `**` spans segments, like a shell with globstar) and Argo CD's directory
//! `include`/`exclude`, which compiles globs without separators so `*` also matches `/`.
//! Both support `?`, `[abc]`, `[a-z]`, `[!x]` and `{a,b}` alternatives.

/// Errors in a glob pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("invalid glob `{pattern}`: {reason}")]
    Invalid { pattern: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` (optionally followed by `/`, which is then optional in the text).
    GlobStar {
        slash: bool,
    },
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled glob; see the module docs for the syntax.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    /// One token list per `{a,b}` expansion.
    alternatives: Vec<Vec<Token>>,
    /// Whether `*` and `?` stop at `/` (discovery) or not (Argo CD include/exclude).
    separator_aware: bool,
}

impl Glob {
    /// A glob where `*` stays within a path segment and `**` spans segments.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        Self::compile(pattern, true)
    }

    /// A glob where `*` also matches `/`, as Argo CD's directory include/exclude.
    pub fn new_unseparated(pattern: &str) -> Result<Self, GlobError> {
        Self::compile(pattern, false)
    }

    fn compile(pattern: &str, separator_aware: bool) -> Result<Self, GlobError> {
        let alternatives = expand_braces(pattern)
            .map_err(|reason| GlobError::Invalid {
                pattern: pattern.to_string(),
                reason,
            })?
            .iter()
            .map(|alt| tokenize(alt))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| GlobError::Invalid {
                pattern: pattern.to_string(),
                reason,
            })?;
        Ok(Self {
            pattern: pattern.to_string(),
            alternatives,
            separator_aware,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `path` (with `/` separators, no leading `/`) matches.
    pub fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.chars().collect();
        self.alternatives
            .iter()
            .any(|toks| match_tokens(toks, &text, self.separator_aware))
    }

    /// The literal directory prefix before the first wildcard (e.g. `deploy/gitops/` for
    /// `deploy/gitops/**/*.yaml`), used to avoid walking the whole tree.
    pub fn literal_prefix(&self) -> String {
        let first_meta = self
            .pattern
            .find(['*', '?', '[', '{'])
            .unwrap_or(self.pattern.len());
        let lit = &self.pattern[..first_meta];
        match lit.rfind('/') {
            Some(i) => lit[..=i].to_string(),
            None => String::new(),
        }
    }
}

/// Expand `{a,b}` groups (nested allowed) into every alternative.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let Some(open) = find_unescaped(&chars, '{', 0) else {
        if find_unescaped(&chars, '}', 0).is_some() {
            return Err("`}` without a matching `{`".into());
        }
        return Ok(vec![pattern.to_string()]);
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
        i += 1;
    }
    let close = close.ok_or_else(|| "`{` without a matching `}`".to_string())?;
    let prefix: String = chars[..open].iter().collect();
    let suffix: String = chars[close + 1..].iter().collect();
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let part: String = chars[w[0] + 1..w[1]].iter().collect();
        for expanded in expand_braces(&format!("{prefix}{part}{suffix}"))? {
            out.push(expanded);
        }
    }
    Ok(out)
}

fn find_unescaped(chars: &[char], c: char, from: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == c {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn tokenize(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = chars
                    .get(i + 1)
                    .ok_or_else(|| "trailing `\\`".to_string())?;
                toks.push(Token::Char(*c));
                i += 2;
            }
            '?' => {
                toks.push(Token::One);
                i += 1;
            }
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    // `***` is just `**`.
                    let mut j = i + 2;
                    while chars.get(j) == Some(&'*') {
                        j += 1;
                    }
                    let slash = chars.get(j) == Some(&'/');
                    toks.push(Token::GlobStar { slash });
                    i = if slash { j + 1 } else { j };
                } else {
                    toks.push(Token::Star);
                    i += 1;
                }
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!') | Some('^'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let c = *chars
                        .get(j)
                        .ok_or_else(|| "`[` without a matching `]`".to_string())?;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|&e| e != ']')
                    {
                        ranges.push((c, chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((c, c));
                        j += 1;
                    }
                }
                toks.push(Token::Class { negated, ranges });
                i = j + 1;
            }
            c => {
                toks.push(Token::Char(c));
                i += 1;
            }
        }
    }
    Ok(toks)
}

fn match_tokens(toks: &[Token], text: &[char], sep: bool) -> bool {
    let Some((tok, rest)) = toks.split_first() else {
        return text.is_empty();
    };
    match tok {
        Token::Char(c) => text.first() == Some(c) && match_tokens(rest, &text[1..], sep),
        Token::One => {
            text.first().is_some_and(|&c| !(sep && c == '/')) && match_tokens(rest, &text[1..], sep)
        }
        Token::Class { negated, ranges } => {
            text.first().is_some_and(|&c| {
                let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                inside != *negated && !(sep && c == '/')
            }) && match_tokens(rest, &text[1..], sep)
        }
        Token::Star => {
            for n in 0..=text.len() {
                if match_tokens(rest, &text[n..], sep) {
                    return true;
                }
                if n < text.len() && sep && text[n] == '/' {
                    return false;
                }
            }
            false
        }
        Token::GlobStar { slash } => {
            if !sep {
                // Without separators `**` is just `*` (plus the literal slash if written).
                for n in 0..=text.len() {
                    let after = &text[n..];
                    if *slash {
                        if after.first() == Some(&'/') && match_tokens(rest, &after[1..], sep) {
                            return true;
                        }
                        if n == 0 && match_tokens(rest, after, sep) {
                            return true;
                        }
                    } else if match_tokens(rest, after, sep) {
                        return true;
                    }
                }
                return false;
            }
            if *slash {
                // `**/` matches zero or more whole directories.
                if match_tokens(rest, text, sep) {
                    return true;
                }
                for (n, &c) in text.iter().enumerate() {
                    if c == '/' && match_tokens(rest, &text[n + 1..], sep) {
                        return true;
                    }
                }
                false
            } else {
                (0..=text.len()).any(|n| match_tokens(rest, &text[n..], sep))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().matches(t)
    }

    #[test]
    fn globstar_spans_zero_or_more_directories() {
        assert!(m("deploy/gitops/**/*.yaml", "deploy/gitops/a.yaml"));
        assert!(m("deploy/gitops/**/*.yaml", "deploy/gitops/argocd/a.yaml"));
        assert!(m("deploy/gitops/**/*.yaml", "deploy/gitops/x/y/a.yaml"));
        assert!(!m("deploy/gitops/**/*.yaml", "deploy/gitopsx/a.yaml"));
        assert!(!m("deploy/gitops/**/*.yaml", "deploy/gitops/a.yml"));
        assert!(m("**/*.yaml", "a.yaml"));
        assert!(m("a/***/b", "a/x/y/b"));
    }

    #[test]
    fn star_stays_in_segment_when_separator_aware() {
        assert!(m("*.yaml", "a.yaml"));
        assert!(!m("*.yaml", "d/a.yaml"));
        assert!(Glob::new_unseparated("*.yaml").unwrap().matches("d/a.yaml"));
    }

    #[test]
    fn classes_braces_and_question_mark() {
        assert!(m("{a,b}.yaml", "b.yaml"));
        assert!(m("*.{yaml,yml,json}", "x.json"));
        assert!(!m("*.{yaml,yml}", "x.json"));
        assert!(m("v[0-9].txt", "v7.txt"));
        assert!(!m("v[!0-9].txt", "v7.txt"));
        assert!(m("a?c", "abc"));
        assert!(m("{x,{y,z}}", "z"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Glob::new("{a,b").is_err());
        assert!(Glob::new("[abc").is_err());
        assert!(Glob::new("a}").is_err());
    }

    #[test]
    fn literal_prefix_is_directory_before_wildcard() {
        let g = Glob::new("deploy/gitops/**/*.yaml").unwrap();
        assert_eq!(g.literal_prefix(), "deploy/gitops/");
        assert_eq!(Glob::new("*.yaml").unwrap().literal_prefix(), "");
    }
}
