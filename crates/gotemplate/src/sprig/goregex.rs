//! Go's `regexp` (RE2 syntax, Perl flags) on top of the `regex` crate.
//!
//! The two syntaxes look alike but differ where charts notice: Go's `\w`, `\d`, `\s` and `\b`
//! are ASCII-only (Rust's are Unicode); inside a class Go takes `[\w-\.]` as `\w`, `-`, `.`
//! (Rust rejects it) and `[`, `&&`, `--`, `~~` literally (Rust nests classes and has set
//! operators); Go has `\Q…\E` and octal escapes, and takes a `{` that starts no repetition
//! literally; Rust reads `\<`/`\>` as word boundaries. [`translate`] rewrites a Go pattern into
//! a Rust pattern with the same meaning, and [`expand`], [`find_all`] and [`replace_all`] follow
//! Go's `Expand` (`$1`, `${name}`, `$$`) and its empty-match rules.

use regex::Regex;

/// A Go syntax error, worded as Go's `regexp/syntax` does.
fn syntax_err(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

const PERL_D: &str = "0-9";
const PERL_S: &str = "\\t\\n\\x0C\\r ";
const PERL_W: &str = "0-9A-Za-z_";

/// The ASCII set of Go's Perl class escape `\c` (`d`, `s`, `w`), without brackets.
fn perl_class(c: char) -> Option<&'static str> {
    match c.to_ascii_lowercase() {
        'd' => Some(PERL_D),
        's' => Some(PERL_S),
        'w' => Some(PERL_W),
        _ => None,
    }
}

/// A literal character written so that Rust reads it as that character anywhere.
fn push_lit(out: &mut String, c: char) {
    // Rust's meta characters (not `<`/`>`: `\<` is a word boundary there).
    if "\\.+*?()|[]{}^$#&-~".contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_control() {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    } else {
        out.push(c);
    }
}

/// Go's `\`-escape at `chars[i]` (just after the backslash) that stands for one character:
/// returns (char, chars consumed). `None` when it is not a single-character escape.
fn escaped_char(chars: &[char], i: usize, expr: &str) -> Result<Option<(char, usize)>, String> {
    let Some(&c) = chars.get(i) else {
        return Err(syntax_err("trailing backslash at end of expression", ""));
    };
    Ok(Some(match c {
        '1'..='7' if !matches!(chars.get(i + 1), Some('0'..='7')) => {
            // A lone \1..\7 would be a backreference, which RE2 does not have.
            return Err(syntax_err("invalid escape sequence", &format!("\\{c}")));
        }
        '0'..='7' => {
            let mut n = 0u32;
            let mut k = 0;
            while k < 3 && matches!(chars.get(i + k), Some('0'..='7')) {
                n = n * 8 + chars[i + k].to_digit(8).unwrap_or(0);
                k += 1;
            }
            (char::from_u32(n).unwrap_or('\0'), k)
        }
        'x' => {
            if chars.get(i + 1) == Some(&'{') {
                let end = chars[i + 2..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| syntax_err("invalid escape sequence", expr))?;
                let hex: String = chars[i + 2..i + 2 + end].iter().collect();
                let n = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        syntax_err("invalid escape sequence", &format!("\\x{{{hex}}}"))
                    })?;
                (n, end + 3)
            } else {
                let hex: String = chars.iter().skip(i + 1).take(2).collect();
                let n = (hex.len() == 2)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or_else(|| syntax_err("invalid escape sequence", &format!("\\x{hex}")))?;
                (n, 3)
            }
        }
        'a' => ('\x07', 1),
        'f' => ('\x0C', 1),
        'n' => ('\n', 1),
        'r' => ('\r', 1),
        't' => ('\t', 1),
        'v' => ('\x0B', 1),
        c if c.is_ascii_punctuation() => (c, 1),
        _ => return Ok(None),
    }))
}

/// `\p{Greek}` / `\pL` / `\P…` starting at `chars[i]` (the `p`/`P`): (text, consumed).
fn unicode_class(chars: &[char], i: usize, expr: &str) -> Result<(String, usize), String> {
    let p = chars[i];
    match chars.get(i + 1) {
        Some('{') => {
            let end = chars[i + 2..]
                .iter()
                .position(|&c| c == '}')
                .ok_or_else(|| syntax_err("invalid character class range", expr))?;
            let name: String = chars[i + 2..i + 2 + end].iter().collect();
            Ok((format!("\\{p}{{{name}}}"), end + 3))
        }
        Some(&c) => Ok((format!("\\{p}{c}"), 2)),
        None => Err(syntax_err("invalid character class range", expr)),
    }
}

/// Translates a Go regular expression into a Rust `regex` pattern with the same matches.
pub fn translate(expr: &str) -> Result<String, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err(syntax_err("trailing backslash at end of expression", ""));
                };
                match e {
                    'd' | 's' | 'w' => out.push_str(&format!("[{}]", perl_class(e).unwrap_or(""))),
                    'D' | 'S' | 'W' => out.push_str(&format!("[^{}]", perl_class(e).unwrap_or(""))),
                    'b' | 'B' => out.push_str(&format!("(?-u:\\{e})")),
                    'A' | 'z' => out.push_str(&format!("\\{e}")),
                    'p' | 'P' => {
                        let (t, n) = unicode_class(&chars, i + 1, expr)?;
                        out.push_str(&t);
                        i += 1 + n;
                        continue;
                    }
                    'Q' => {
                        let rest = &chars[i + 2..];
                        let end = (0..rest.len())
                            .find(|&k| rest[k] == '\\' && rest.get(k + 1) == Some(&'E'))
                            .unwrap_or(rest.len());
                        for &lc in &rest[..end] {
                            push_lit(&mut out, lc);
                        }
                        i += 2 + (end + 2).min(rest.len());
                        continue;
                    }
                    _ => match escaped_char(&chars, i + 1, expr)? {
                        Some((lc, n)) => {
                            push_lit(&mut out, lc);
                            i += 1 + n;
                            continue;
                        }
                        None => {
                            return Err(syntax_err("invalid escape sequence", &format!("\\{e}")));
                        }
                    },
                }
                i += 2;
            }
            '[' => i = class(&chars, i, expr, &mut out)?,
            '{' => {
                let n = repeat_len(&chars[i..]);
                if n == 0 {
                    out.push_str("\\{");
                    i += 1;
                } else {
                    out.extend(&chars[i..i + n]);
                    i += n;
                }
            }
            '}' => {
                out.push_str("\\}");
                i += 1;
            }
            '#' | '&' | '~' | '-' => {
                push_lit(&mut out, c);
                i += 1;
            }
            c if c.is_control() => {
                push_lit(&mut out, c);
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Length of a Go repetition `{n}`, `{n,}` or `{n,m}` at the start of `s` (0 if none: Go then
/// takes the `{` literally).
fn repeat_len(s: &[char]) -> usize {
    let mut k = 1;
    let digits = |k: &mut usize| {
        let st = *k;
        while s.get(*k).is_some_and(char::is_ascii_digit) {
            *k += 1;
        }
        *k > st
    };
    if !digits(&mut k) {
        return 0;
    }
    if s.get(k) == Some(&',') {
        k += 1;
        digits(&mut k);
    }
    if s.get(k) == Some(&'}') { k + 1 } else { 0 }
}

/// Translates the class starting at `chars[start]` (`[`); returns the index after it.
fn class(chars: &[char], start: usize, expr: &str, out: &mut String) -> Result<usize, String> {
    let mut i = start + 1;
    let mut body = String::new();
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(syntax_err(
                "missing closing ]",
                &chars[start..].iter().collect::<String>(),
            ));
        };
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        // POSIX [:alpha:] / [:^alpha:] (ASCII in both engines).
        if c == '['
            && chars.get(i + 1) == Some(&':')
            && let Some(end) = (i + 2..chars.len().saturating_sub(1))
                .find(|&k| chars[k] == ':' && chars[k + 1] == ']')
        {
            body.extend(&chars[i..end + 2]);
            i = end + 2;
            continue;
        }
        if c == '\\' {
            match chars.get(i + 1) {
                Some(&e @ ('d' | 's' | 'w')) => {
                    body.push_str(perl_class(e).unwrap_or(""));
                    i += 2;
                    continue;
                }
                Some(&e @ ('D' | 'S' | 'W')) => {
                    body.push_str(&format!("[^{}]", perl_class(e).unwrap_or("")));
                    i += 2;
                    continue;
                }
                Some('p' | 'P') => {
                    let (t, n) = unicode_class(chars, i + 1, expr)?;
                    body.push_str(&t);
                    i += 1 + n;
                    continue;
                }
                _ => {}
            }
        }
        let (lo, n) = class_char(chars, i, expr)?;
        i += n;
        let mut hi = lo;
        // `a-` before `]` is `a` and `-`; otherwise `-` makes a range.
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
            let (h, n) = class_char(chars, i + 1, expr)?;
            if h < lo {
                let text: String = chars[i - 1..i + 1 + n].iter().collect();
                return Err(syntax_err("invalid character class range", &text));
            }
            hi = h;
            i += 1 + n;
        }
        push_lit(&mut body, lo);
        if hi != lo {
            body.push('-');
            push_lit(&mut body, hi);
        }
    }
    out.push('[');
    if negated {
        out.push('^');
    }
    out.push_str(&body);
    out.push(']');
    Ok(i)
}

/// One class character at `chars[i]`: (char, consumed).
fn class_char(chars: &[char], i: usize, expr: &str) -> Result<(char, usize), String> {
    match chars.get(i) {
        Some('\\') => match escaped_char(chars, i + 1, expr)? {
            Some((c, n)) => Ok((c, n + 1)),
            None => {
                let e: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                Err(syntax_err("invalid escape sequence", &e))
            }
        },
        Some(&c) => Ok((c, 1)),
        None => Err(syntax_err("missing closing ]", expr)),
    }
}

/// Go's `FindAllStringIndex`: successive non-overlapping matches; an empty match right after
/// the previous match is skipped. `n < 0` means all.
pub fn find_all(re: &Regex, s: &str, n: i64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut pos, mut prev_end) = (0usize, None);
    while (n < 0 || (out.len() as i64) < n) && pos <= s.len() {
        let Some(m) = re.find_at(s, pos) else { break };
        let mut accept = true;
        if m.end() == pos {
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            out.push((m.start(), m.end()));
        }
    }
    out
}

/// Go's `ReplaceAllString` (`literal`: `ReplaceAllLiteralString`).
pub fn replace_all(re: &Regex, s: &str, repl: &str, literal: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut last_end, mut pos) = (0usize, 0usize);
    while pos <= s.len() {
        let Some(caps) = re.captures_at(s, pos) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        out.push_str(&s[last_end..m.start()]);
        // No replacement for an empty match right after the previous one.
        if m.end() > last_end || m.start() == 0 {
            if literal {
                out.push_str(repl);
            } else {
                expand(re, &caps, repl, &mut out);
            }
        }
        last_end = m.end();
        let width = s[pos..].chars().next().map_or(1, char::len_utf8);
        pos = if pos + width > m.end() {
            pos + width
        } else {
            m.end()
        };
    }
    out.push_str(s.get(last_end..).unwrap_or(""));
    out
}

/// Go's `Regexp.Expand`: `$1`, `$name`, `${1}`, `${name}`, `$$`; the longest name is taken,
/// unknown or unmatched groups expand to nothing, a malformed `$` stays as it is.
pub fn expand(re: &Regex, caps: &regex::Captures<'_>, template: &str, out: &mut String) {
    let mut t = template;
    while let Some(p) = t.find('$') {
        out.push_str(&t[..p]);
        t = &t[p + 1..];
        if let Some(rest) = t.strip_prefix('$') {
            out.push('$');
            t = rest;
            continue;
        }
        let Some((name, rest)) = extract_name(t) else {
            out.push('$');
            continue;
        };
        t = rest;
        let numeric =
            name.bytes().all(|b| b.is_ascii_digit()) && !(name.starts_with('0') && name.len() > 1);
        let group = if numeric {
            name.parse::<usize>().ok().and_then(|i| caps.get(i))
        } else {
            re.capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i))
        };
        if let Some(g) = group {
            out.push_str(g.as_str());
        }
    }
    out.push_str(t);
}

/// Go's `extract`: a name of letters, digits and `_`, optionally in braces.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if brace {
        body[end..].strip_prefix('}').map(|rest| (name, rest))
    } else {
        Some((name, &body[end..]))
    }
}
