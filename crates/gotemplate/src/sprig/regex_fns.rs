//! Sprig regular expression functions: Go RE2 syntax translated for the `regex` crate
//! ([`super::goregex`]), with Go's match and replacement rules. Compiled expressions are cached: charts call these in loops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;

use super::{arg_int, arg_str, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::Value;

fn compile(re: &str) -> Result<Arc<Regex>, FuncError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock()
        && let Some(r) = c.get(re)
    {
        return Ok(r.clone());
    }
    let translated = super::goregex::translate(re).map_err(FuncError::Call)?;
    let r = regex::RegexBuilder::new(&translated)
        .size_limit(1 << 22)
        .build()
        .map(Arc::new)
        .map_err(|e| FuncError::Call(format!("error parsing regexp: {e}")))?;
    if let Ok(mut c) = cache.lock() {
        if c.len() > 1024 {
            c.clear();
        }
        c.insert(re.to_string(), r.clone());
    }
    Ok(r)
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn find_all(re: &Regex, s: &str, n: i64) -> Vec<Value> {
    super::goregex::find_all(re, s, n)
        .into_iter()
        .map(|(a, b)| Value::str(&s[a..b]))
        .collect()
}

/// Go's `Regexp.Split`.
fn split(re: &Regex, s: &str, n: i64) -> Vec<Value> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return vec![Value::str("")];
    }
    let matches = super::goregex::find_all(re, s, n);
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for (ms, me) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = ms;
        if me != 0 {
            out.push(Value::str(&s[beg..end]));
        }
        beg = me;
    }
    if end != s.len() {
        out.push(Value::str(&s[beg..]));
    }
    out
}

pub(super) fn register(t: &mut Templates) {
    for (name, must) in [("regexMatch", false), ("mustRegexMatch", true)] {
        func(t, name, 2, Some(2), move |a| {
            let (re, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
            match compile(re) {
                Ok(r) => Ok(Value::Bool(r.is_match(s))),
                Err(e) if must => Err(e),
                Err(_) => Ok(Value::Bool(false)),
            }
        });
    }
    for (name, must) in [("regexFindAll", false), ("mustRegexFindAll", true)] {
        func(t, name, 3, Some(3), move |a| {
            let (re, s, n) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_int(a, 2)?);
            match compile(re) {
                Ok(r) => Ok(Value::list(find_all(&r, s, n))),
                Err(e) if must => Err(e),
                Err(_) => Ok(Value::list(Vec::new())),
            }
        });
    }
    for (name, must) in [("regexFind", false), ("mustRegexFind", true)] {
        func(t, name, 2, Some(2), move |a| {
            let (re, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
            match compile(re) {
                Ok(r) => Ok(Value::str(
                    super::goregex::find_all(&r, s, 1)
                        .first()
                        .map_or("", |&(a, b)| &s[a..b]),
                )),
                Err(e) if must => Err(e),
                Err(_) => Ok(Value::str("")),
            }
        });
    }
    for (name, must) in [("regexReplaceAll", false), ("mustRegexReplaceAll", true)] {
        func(t, name, 3, Some(3), move |a| {
            let (re, s, repl) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
            match compile(re) {
                Ok(r) => Ok(Value::from(super::goregex::replace_all(&r, s, repl, false))),
                Err(e) if must => Err(e),
                Err(_) => Ok(Value::str("")),
            }
        });
    }
    for (name, must) in [
        ("regexReplaceAllLiteral", false),
        ("mustRegexReplaceAllLiteral", true),
    ] {
        func(t, name, 3, Some(3), move |a| {
            let (re, s, repl) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
            match compile(re) {
                Ok(r) => Ok(Value::from(super::goregex::replace_all(&r, s, repl, true))),
                Err(e) if must => Err(e),
                Err(_) => Ok(Value::str("")),
            }
        });
    }
    for (name, must) in [("regexSplit", false), ("mustRegexSplit", true)] {
        func(t, name, 3, Some(3), move |a| {
            let (re, s, n) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_int(a, 2)?);
            match compile(re) {
                Ok(r) => Ok(Value::list(split(&r, s, n))),
                Err(e) if must => Err(e),
                Err(_) => Ok(Value::list(Vec::new())),
            }
        });
    }
    func(t, "regexQuoteMeta", 1, Some(1), |a| {
        Ok(Value::from(quote_meta(arg_str(a, 0)?)))
    });
}
