//! Sprig string functions.

use super::conv::{strslice, strval};
use super::{arg_int, arg_str, check_size, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Map, Value};

fn s(v: impl Into<String>) -> Result<Value, FuncError> {
    Ok(Value::from(v.into()))
}

/// Byte-slices a string like Go, replacing a split UTF-8 sequence with U+FFFD.
fn byte_slice(st: &str, from: usize, to: usize) -> String {
    String::from_utf8_lossy(&st.as_bytes()[from..to]).into_owned()
}

fn go_title(st: &str) -> String {
    // strings.Title: upper-case letters that start a word (preceded by a separator).
    let mut out = String::with_capacity(st.len());
    let mut prev = ' ';
    for c in st.chars() {
        if is_separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

fn uncapitalize_words(st: &str) -> String {
    let mut out = String::with_capacity(st.len());
    let mut at_start = true;
    for c in st.chars() {
        if c.is_whitespace() {
            at_start = true;
            out.push(c);
        } else if at_start {
            out.extend(c.to_lowercase());
            at_start = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn swapcase(st: &str) -> String {
    let mut out = String::with_capacity(st.len());
    for c in st.chars() {
        if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else if c.is_lowercase() {
            // goutils uses title case after whitespace, which equals upper case for the
            // scripts Rust's `to_uppercase` handles here.
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// goutils `WrapCustom`.
fn wrap_custom(st: &str, wrap_length: i64, new_line: &str, wrap_long_words: bool) -> String {
    if st.is_empty() {
        return String::new();
    }
    let nl = if new_line.is_empty() { "\n" } else { new_line };
    let wl = wrap_length.max(1) as usize;
    let b = st.as_bytes();
    let len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(len + 8);
    while len - offset > wl {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (wl + offset + 1).min(len);
        let space = b[offset..end].iter().rposition(|&c| c == b' ');
        if let Some(sp) = space {
            let at = sp + offset;
            out.extend_from_slice(&b[offset..at]);
            out.extend_from_slice(nl.as_bytes());
            offset = at + 1;
        } else if wrap_long_words {
            let end = wl + offset;
            out.extend_from_slice(&b[offset..end]);
            out.extend_from_slice(nl.as_bytes());
            offset += wl;
        } else {
            let end = wl + offset;
            match b[end..].iter().position(|&c| c == b' ') {
                None => {
                    out.extend_from_slice(&b[offset..]);
                    offset = len;
                }
                Some(i) => {
                    let at = i + end;
                    out.extend_from_slice(&b[offset..at]);
                    out.extend_from_slice(nl.as_bytes());
                    offset = at + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    String::from_utf8_lossy(&out).into_owned()
}

/// goutils `AbbreviateFull` (byte-based like Go).
fn abbreviate_full(st: &str, offset: i64, max_width: i64) -> String {
    let len = st.len() as i64;
    if st.is_empty() || max_width < 4 || len <= max_width {
        return st.to_string();
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    if offset <= 4 {
        return format!("{}...", byte_slice(st, 0, (max_width - 3) as usize));
    }
    if max_width < 7 {
        return st.to_string();
    }
    if offset + max_width - 3 < len {
        let rest = byte_slice(st, offset as usize, st.len());
        return format!("...{}", abbreviate_full(&rest, 0, max_width - 3));
    }
    format!(
        "...{}",
        byte_slice(st, (len - (max_width - 3)) as usize, st.len())
    )
}

/// Splits for snake/kebab case: separators, lower→upper, and acronym ends ("HTTPServer").
fn case_words(st: &str) -> Vec<String> {
    let chars: Vec<char> = st.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c.is_whitespace() || c == '.' {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if !cur.is_empty() && c.is_alphabetic() && chars[i - 1].is_ascii_digit() {
            // "HTTP2Server": digits stay with the word before them.
            if c.is_uppercase() {
                words.push(std::mem::take(&mut cur));
            }
        } else if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || (prev.is_uppercase() && next_lower) {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn lower_joined(st: &str, sep: &str) -> String {
    case_words(st)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(sep)
}

fn is_connector(c: char) -> bool {
    c == '_' || c == '-' || c.is_whitespace()
}

/// xstrings v1.5 `ToCamelCase` (Sprig's `camelcase`): "http_server" -> "HttpServer".
fn camelcase(st: &str) -> String {
    let mut out = String::new();
    let mut chars = st.chars();
    let mut r0 = '\0';
    let mut got = false;
    for c in chars.by_ref() {
        r0 = c;
        got = true;
        if !is_connector(c) {
            break;
        }
        out.push(c);
    }
    let rest: Vec<char> = chars.collect();
    if is_connector(r0) || !got {
        return out;
    }
    if rest.is_empty() {
        out.extend(r0.to_uppercase());
        return out;
    }
    let mut r0 = r0.to_uppercase().next().unwrap_or(r0);
    for c in rest {
        let r1 = r0;
        r0 = c;
        if is_connector(r1) && is_connector(r0) {
            out.push(r1);
            continue;
        }
        r0 = if is_connector(r1) {
            r0.to_uppercase().next().unwrap_or(r0)
        } else {
            r0.to_lowercase().next().unwrap_or(r0)
        };
        if !is_connector(r1) {
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

fn initials(st: &str) -> String {
    st.split_whitespace()
        .filter_map(|w| w.chars().next())
        .collect()
}

fn random_string(count: i64, pool: &[u8]) -> Result<Value, FuncError> {
    use rand::Rng;
    if count < 0 {
        return Err("randomString: count must be >= 0".into());
    }
    check_size(count as usize, "random string")?;
    let mut rng = rand::thread_rng();
    let out: String = (0..count)
        .map(|_| pool[rng.gen_range(0..pool.len())] as char)
        .collect();
    s(out)
}

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const NUMERIC: &[u8] = b"0123456789";

fn split_map(parts: Vec<&str>) -> Value {
    let m = Map::new();
    {
        let mut w = m.write();
        for (i, p) in parts.into_iter().enumerate() {
            w.insert(format!("_{i}"), Value::str(p));
        }
    }
    Value::Map(m)
}

pub(super) fn register(t: &mut Templates) {
    func(t, "hello", 0, Some(0), |_| s("Hello!"));
    func(t, "trim", 1, Some(1), |a| s(arg_str(a, 0)?.trim()));
    func(t, "upper", 1, Some(1), |a| s(arg_str(a, 0)?.to_uppercase()));
    func(t, "lower", 1, Some(1), |a| s(arg_str(a, 0)?.to_lowercase()));
    func(t, "title", 1, Some(1), |a| s(go_title(arg_str(a, 0)?)));
    func(t, "untitle", 1, Some(1), |a| {
        s(uncapitalize_words(arg_str(a, 0)?))
    });
    func(t, "substr", 3, Some(3), |a| {
        let (start, end, st) = (arg_int(a, 0)?, arg_int(a, 1)?, arg_str(a, 2)?);
        let len = st.len() as i64;
        let oob = || {
            FuncError::Call(format!(
                "runtime error: slice bounds out of range [{start}:{end}]"
            ))
        };
        if start < 0 {
            if end < 0 || end > len {
                return Err(oob());
            }
            return s(byte_slice(st, 0, end as usize));
        }
        if end < 0 || end > len {
            if start > len {
                return Err(oob());
            }
            return s(byte_slice(st, start as usize, st.len()));
        }
        if start > end {
            return Err(oob());
        }
        s(byte_slice(st, start as usize, end as usize))
    });
    func(t, "repeat", 2, Some(2), |a| {
        let (n, st) = (arg_int(a, 0)?, arg_str(a, 1)?);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        check_size((n as usize).saturating_mul(st.len()), "repeat")?;
        s(st.repeat(n as usize))
    });
    for name in ["trimAll", "trimall"] {
        func(t, name, 2, Some(2), |a| {
            let cut = arg_str(a, 0)?;
            s(arg_str(a, 1)?.trim_matches(|c| cut.contains(c)))
        });
    }
    func(t, "trimSuffix", 2, Some(2), |a| {
        let (suf, st) = (arg_str(a, 0)?, arg_str(a, 1)?);
        s(st.strip_suffix(suf).unwrap_or(st))
    });
    func(t, "trimPrefix", 2, Some(2), |a| {
        let (pre, st) = (arg_str(a, 0)?, arg_str(a, 1)?);
        s(st.strip_prefix(pre).unwrap_or(st))
    });
    func(t, "nospace", 1, Some(1), |a| {
        s(arg_str(a, 0)?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>())
    });
    func(t, "initials", 1, Some(1), |a| s(initials(arg_str(a, 0)?)));
    func(t, "randAlphaNum", 1, Some(1), |a| {
        random_string(arg_int(a, 0)?, ALNUM)
    });
    func(t, "randAlpha", 1, Some(1), |a| {
        random_string(arg_int(a, 0)?, ALPHA)
    });
    func(t, "randNumeric", 1, Some(1), |a| {
        random_string(arg_int(a, 0)?, NUMERIC)
    });
    func(t, "randAscii", 1, Some(1), |a| {
        let pool: Vec<u8> = (32u8..=126).collect();
        random_string(arg_int(a, 0)?, &pool)
    });
    func(t, "swapcase", 1, Some(1), |a| s(swapcase(arg_str(a, 0)?)));
    func(t, "shuffle", 1, Some(1), |a| {
        use rand::seq::SliceRandom;
        let mut chars: Vec<char> = arg_str(a, 0)?.chars().collect();
        chars.shuffle(&mut rand::thread_rng());
        s(chars.into_iter().collect::<String>())
    });
    func(t, "snakecase", 1, Some(1), |a| {
        s(lower_joined(arg_str(a, 0)?, "_"))
    });
    func(t, "kebabcase", 1, Some(1), |a| {
        s(lower_joined(arg_str(a, 0)?, "-"))
    });
    func(t, "camelcase", 1, Some(1), |a| s(camelcase(arg_str(a, 0)?)));
    func(t, "wrap", 2, Some(2), |a| {
        s(wrap_custom(arg_str(a, 1)?, arg_int(a, 0)?, "", false))
    });
    func(t, "wrapWith", 3, Some(3), |a| {
        s(wrap_custom(
            arg_str(a, 2)?,
            arg_int(a, 0)?,
            arg_str(a, 1)?,
            true,
        ))
    });
    func(t, "contains", 2, Some(2), |a| {
        Ok(Value::Bool(arg_str(a, 1)?.contains(arg_str(a, 0)?)))
    });
    func(t, "hasPrefix", 2, Some(2), |a| {
        Ok(Value::Bool(arg_str(a, 1)?.starts_with(arg_str(a, 0)?)))
    });
    func(t, "hasSuffix", 2, Some(2), |a| {
        Ok(Value::Bool(arg_str(a, 1)?.ends_with(arg_str(a, 0)?)))
    });
    func(t, "quote", 0, None, |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| crate::fmt::quote_go(&strval(v)))
            .collect();
        s(parts.join(" "))
    });
    func(t, "squote", 0, None, |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        s(parts.join(" "))
    });
    func(t, "cat", 0, None, |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| crate::fmt::sprint(std::slice::from_ref(v)))
            .collect();
        s(parts.join(" "))
    });
    func(t, "indent", 2, Some(2), |a| {
        let (n, st) = (arg_int(a, 0)?, arg_str(a, 1)?);
        s(indent(n, st)?)
    });
    func(t, "nindent", 2, Some(2), |a| {
        let (n, st) = (arg_int(a, 0)?, arg_str(a, 1)?);
        s(format!("\n{}", indent(n, st)?))
    });
    func(t, "replace", 3, Some(3), |a| {
        let (old, new, src) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
        s(go_replace_all(src, old, new))
    });
    func(t, "plural", 3, Some(3), |a| {
        let (one, many, n) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_int(a, 2)?);
        s(if n == 1 { one } else { many })
    });
    func(t, "abbrev", 2, Some(2), |a| {
        let (w, st) = (arg_int(a, 0)?, arg_str(a, 1)?);
        if w < 4 {
            return s(st);
        }
        s(abbreviate_full(st, 0, w))
    });
    func(t, "abbrevboth", 3, Some(3), |a| {
        let (l, r, st) = (arg_int(a, 0)?, arg_int(a, 1)?, arg_str(a, 2)?);
        if r < 4 || (l > 0 && r < 7) {
            return s(st);
        }
        s(abbreviate_full(st, l, r))
    });
    func(t, "trunc", 2, Some(2), |a| {
        let (c, st) = (arg_int(a, 0)?, arg_str(a, 1)?);
        let len = st.len() as i64;
        if c < 0 && len + c > 0 {
            return s(byte_slice(st, (len + c) as usize, st.len()));
        }
        if c >= 0 && len > c {
            return s(byte_slice(st, 0, c as usize));
        }
        s(st)
    });
    func(t, "split", 2, Some(2), |a| {
        let (sep, orig) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(split_map(go_split(orig, sep, -1)))
    });
    func(t, "splitList", 2, Some(2), |a| {
        let (sep, orig) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(Value::list(
            go_split(orig, sep, -1)
                .into_iter()
                .map(Value::str)
                .collect(),
        ))
    });
    func(t, "splitn", 3, Some(3), |a| {
        let (sep, n, orig) = (arg_str(a, 0)?, arg_int(a, 1)?, arg_str(a, 2)?);
        Ok(split_map(go_split(orig, sep, n)))
    });
    func(t, "join", 2, Some(2), |a| {
        let sep = arg_str(a, 0)?;
        s(strslice(&a[1]).join(sep))
    });
    func(t, "sortAlpha", 1, Some(1), |a| {
        let mut v = match &a[0] {
            Value::List(_) | Value::Bytes(_) => strslice(&a[0]),
            v => vec![strval(v)],
        };
        v.sort();
        Ok(Value::list(v.into_iter().map(Value::from).collect()))
    });
    func(t, "base", 1, Some(1), |a| s(path_base(arg_str(a, 0)?)));
    func(t, "dir", 1, Some(1), |a| s(path_dir(arg_str(a, 0)?)));
    func(t, "clean", 1, Some(1), |a| s(path_clean(arg_str(a, 0)?)));
    func(t, "ext", 1, Some(1), |a| s(path_ext(arg_str(a, 0)?)));
    func(t, "isAbs", 1, Some(1), |a| {
        Ok(Value::Bool(arg_str(a, 0)?.starts_with('/')))
    });
    func(t, "osBase", 1, Some(1), |a| s(path_base(arg_str(a, 0)?)));
    func(t, "osDir", 1, Some(1), |a| s(path_dir(arg_str(a, 0)?)));
    func(t, "osClean", 1, Some(1), |a| s(path_clean(arg_str(a, 0)?)));
    func(t, "osExt", 1, Some(1), |a| s(path_ext(arg_str(a, 0)?)));
    func(t, "osIsAbs", 1, Some(1), |a| {
        Ok(Value::Bool(arg_str(a, 0)?.starts_with('/')))
    });
}

fn indent(n: i64, st: &str) -> Result<String, FuncError> {
    if n < 0 {
        return Err("strings: negative Repeat count".into());
    }
    check_size(n as usize, "indent")?;
    let pad = " ".repeat(n as usize);
    let mut out = String::with_capacity(st.len() + pad.len());
    out.push_str(&pad);
    out.push_str(&st.replace('\n', &format!("\n{pad}")));
    Ok(out)
}

/// Go's `strings.Replace(s, old, new, -1)` (an empty `old` inserts between runes).
fn go_replace_all(src: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        let mut out = String::from(new);
        for c in src.chars() {
            out.push(c);
            out.push_str(new);
        }
        return out;
    }
    src.replace(old, new)
}

/// Go's `strings.SplitN` (n < 0: all; n == 0: none; empty sep splits into runes).
fn go_split<'a>(s: &'a str, sep: &str, n: i64) -> Vec<&'a str> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut v: Vec<&str> = Vec::new();
        let mut idx: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
        idx.push(s.len());
        for w in idx.windows(2) {
            if n > 0 && v.len() as i64 == n - 1 {
                v.push(&s[w[0]..]);
                return v;
            }
            v.push(&s[w[0]..w[1]]);
        }
        return v;
    }
    if n < 0 {
        return s.split(sep).collect();
    }
    s.splitn(n as usize, sep).collect()
}

/// Go's `path.Clean`.
pub(crate) fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn path_dir(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    path_clean(dir)
}

fn path_ext(p: &str) -> String {
    let b = p.as_bytes();
    for i in (0..b.len()).rev() {
        if b[i] == b'/' {
            break;
        }
        if b[i] == b'.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(lower_joined("HTTPServer", "_"), "http_server");
        assert_eq!(lower_joined("NoHTTPS", "-"), "no-https");
        assert_eq!(camelcase("_complex__case_"), "_Complex_Case_");
        assert_eq!(camelcase("http_server"), "HttpServer");
        assert_eq!(wrap_custom("Hello World", 5, "", false), "Hello\nWorld");
        assert_eq!(abbreviate_full("1234 5678 9123", 5, 10), "...5678...");
        assert_eq!(path_clean("a/../../b/./c/"), "../b/c");
    }
}
