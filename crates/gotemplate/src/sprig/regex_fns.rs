//! Sprig regular expression functions (Go RE2 syntax; the `regex` crate implements the same
//! family of syntax). Compiled expressions are cached: charts call these in loops.

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
    let r = regex::RegexBuilder::new(re)
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
    let it = re.find_iter(s).map(|m| Value::str(m.as_str()));
    if n < 0 {
        it.collect()
    } else {
        it.take(n as usize).collect()
    }
}

/// Go's `Regexp.Split`.
fn split(re: &Regex, s: &str, n: i64) -> Vec<Value> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return vec![Value::str("")];
    }
    let matches: Vec<(usize, usize)> = {
        let it = re.find_iter(s).map(|m| (m.start(), m.end()));
        if n < 0 {
            it.collect()
        } else {
            it.take(n as usize).collect()
        }
    };
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
                Ok(r) => Ok(Value::str(r.find(s).map_or("", |m| m.as_str()))),
                Err(e) if must => Err(e),
                Err(_) => Ok(Value::str("")),
            }
        });
    }
    for (name, must) in [("regexReplaceAll", false), ("mustRegexReplaceAll", true)] {
        func(t, name, 3, Some(3), move |a| {
            let (re, s, repl) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
            match compile(re) {
                Ok(r) => Ok(Value::from(r.replace_all(s, repl).into_owned())),
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
                Ok(r) => Ok(Value::from(
                    r.replace_all(s, regex::NoExpand(repl)).into_owned(),
                )),
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
