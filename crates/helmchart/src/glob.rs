//! Glob matching: Go's `path.Match` (for `.helmignore` and `--show-only`) and the
//! `gobwas/glob` dialect with `/` as separator (for `.Files.Glob`: `*`, `**`, `?`, `[...]`,
//! `{a,b}`).

/// A malformed glob pattern (Go's `path.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Go's `path.Match(pattern, name)`: `*` does not cross `/`. `Err` for a malformed pattern.
pub fn go_path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Validate the whole pattern first (Go reports ErrBadPattern even when matching fails early).
    validate(&p)?;
    Ok(match_here(&p, &n, false))
}

/// `gobwas/glob` with separator `/` (Helm's `.Files.Glob`).
pub fn files_glob_match(pattern: &str, name: &str) -> bool {
    // Expand `{a,b}` alternatives first.
    for alt in expand_braces(pattern) {
        let p: Vec<char> = alt.chars().collect();
        let n: Vec<char> = name.chars().collect();
        if match_here(&p, &n, true) {
            return true;
        }
    }
    false
}

fn expand_braces(p: &str) -> Vec<String> {
    let chars: Vec<char> = p.chars().collect();
    let mut depth = 0;
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match c {
            '\\' => {}
            '{' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0
                    && let Some(s) = start
                {
                    let prefix: String = chars[..s].iter().collect();
                    let suffix: String = chars[i + 1..].iter().collect();
                    let inner: String = chars[s + 1..i].iter().collect();
                    let mut out = Vec::new();
                    for part in split_top_level(&inner) {
                        for rest in expand_braces(&format!("{prefix}{part}{suffix}")) {
                            out.push(rest);
                        }
                    }
                    return out;
                }
            }
            _ => {}
        }
    }
    vec![p.to_string()]
}

fn split_top_level(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn validate(p: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(BadPattern);
                }
                i += 2;
            }
            '[' => {
                let (_, next) = class_end(p, i).ok_or(BadPattern)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parses a `[...]` class starting at `i`; returns (negated+ranges, index after `]`).
#[allow(clippy::type_complexity)]
fn class_end(p: &[char], i: usize) -> Option<((bool, Vec<(char, char)>), usize)> {
    let mut j = i + 1;
    let mut neg = false;
    if j < p.len() && (p[j] == '^' || p[j] == '!') {
        neg = true;
        j += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        if j >= p.len() {
            return None;
        }
        if p[j] == ']' && !first {
            return Some(((neg, ranges), j + 1));
        }
        first = false;
        let mut lo = p[j];
        if lo == '\\' {
            j += 1;
            lo = *p.get(j)?;
        }
        j += 1;
        let mut hi = lo;
        if j + 1 < p.len() && p[j] == '-' && p[j + 1] != ']' {
            hi = p[j + 1];
            if hi == '\\' {
                hi = *p.get(j + 2)?;
                j += 1;
            }
            j += 2;
        }
        ranges.push((lo, hi));
    }
}

fn match_here(p: &[char], n: &[char], double_star: bool) -> bool {
    // Iterative backtracking matcher over pattern/name with memoless recursion on `*`.
    if p.is_empty() {
        return n.is_empty();
    }
    match p[0] {
        '*' => {
            let any_sep = double_star && p.get(1) == Some(&'*');
            let rest = if any_sep { &p[2..] } else { &p[1..] };
            for k in 0..=n.len() {
                if k > 0 && !any_sep && n[k - 1] == '/' {
                    break;
                }
                if match_here(rest, &n[k..], double_star) {
                    return true;
                }
            }
            false
        }
        '?' => !n.is_empty() && n[0] != '/' && match_here(&p[1..], &n[1..], double_star),
        '[' => {
            let Some(((neg, ranges), next)) = class_end(p, 0) else {
                return false;
            };
            if n.is_empty() || n[0] == '/' {
                return false;
            }
            let c = n[0];
            let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
            inside != neg && match_here(&p[next..], &n[1..], double_star)
        }
        '\\' if p.len() > 1 => {
            !n.is_empty() && n[0] == p[1] && match_here(&p[2..], &n[1..], double_star)
        }
        c => !n.is_empty() && n[0] == c && match_here(&p[1..], &n[1..], double_star),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_match() {
        assert_eq!(
            go_path_match("templates/subdir/role*", "templates/subdir/role.yaml"),
            Ok(true)
        );
        assert_eq!(go_path_match("*.yaml", "a/b.yaml"), Ok(false));
        assert_eq!(go_path_match("[a-c]x", "bx"), Ok(true));
        assert!(go_path_match("[", "x").is_err());
    }

    #[test]
    fn files_glob() {
        assert!(files_glob_match("files/*.conf", "files/a.conf"));
        assert!(!files_glob_match("files/*.conf", "files/sub/a.conf"));
        assert!(files_glob_match("files/**.conf", "files/sub/a.conf"));
        assert!(files_glob_match("files/{a,b}.txt", "files/b.txt"));
        assert!(files_glob_match("**", "x/y/z"));
    }
}
