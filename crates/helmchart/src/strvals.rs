//! `--set` / `--set-string` parameters with Helm's `strvals` syntax: `a.b=c`, `a={x,y}`,
//! `a[0].b=x`, `a\.b=c` (escaped dot), several assignments separated by `,`. With `--set`,
//! `true`/`false`/`null` and decimal integers without a leading zero are typed (int64);
//! `--set-string` keeps every value a string.

use gotemplate::{Map, Value};

/// Helm's limit on `a.b.c...` nesting in one key.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;
/// Largest list index accepted (Helm guards against huge allocations the same way).
pub const MAX_INDEX: usize = 65_536;

/// A `--set` parse error (Helm's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StrvalsError(pub String);

#[derive(Debug)]
enum Stop {
    Eof,
    Char(char),
}

/// Turns a value's text into the value (Go's `runesToVal`): `--set-file` reads a file,
/// `--set-json` decodes JSON, `--set-literal` keeps the text.
pub type ValueReader<'a> = &'a dyn Fn(&str) -> Result<Value, StrvalsError>;

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    string_only: bool,
    reader: Option<ValueReader<'a>>,
}

impl Parser<'_> {
    fn runes_until(&mut self, stops: &[char]) -> (String, Stop) {
        let mut v = String::new();
        loop {
            let Some(&r) = self.chars.get(self.pos) else {
                return (v, Stop::Eof);
            };
            self.pos += 1;
            if stops.contains(&r) {
                return (v, Stop::Char(r));
            }
            if r == '\\' {
                let Some(&next) = self.chars.get(self.pos) else {
                    return (v, Stop::Eof);
                };
                self.pos += 1;
                v.push(next);
            } else {
                v.push(r);
            }
        }
    }

    fn typed(&self, s: &str) -> Value {
        if self.string_only {
            return Value::str(s);
        }
        if s.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if s.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if s.eq_ignore_ascii_case("null") {
            return Value::Nil;
        }
        if s == "0" {
            return Value::Int(0);
        }
        if !s.is_empty()
            && !s.starts_with('0')
            && let Ok(i) = parse_go_int10(s)
        {
            return Value::Int(i);
        }
        Value::str(s)
    }

    /// Returns Ok(true) at end of input.
    fn key(&mut self, data: &Map, level: usize) -> Result<bool, StrvalsError> {
        let (k, last) = self.runes_until(&['=', '[', ',', '.']);
        match last {
            Stop::Eof => {
                if k.is_empty() {
                    Ok(true)
                } else {
                    Err(StrvalsError(format!("key {k:?} has no value")))
                }
            }
            Stop::Char('[') => {
                let i = self.key_index()?;
                let list = match data.get(&k) {
                    Some(Value::List(l)) => l.as_ref().clone(),
                    Some(_) | None => Vec::new(),
                };
                let (list, res) = self.list_item(list, i, level);
                set(data, &k, Value::list(list));
                res
            }
            Stop::Char('=') => match self.val_list() {
                Ok(Some(vl)) => {
                    set(data, &k, Value::list(vl));
                    Ok(false)
                }
                Ok(None) => {
                    let (rs, stop) = self.runes_until(&[',']);
                    let v = match self.reader {
                        Some(read) => read(&rs)?,
                        None => self.typed(&rs),
                    };
                    set(data, &k, v);
                    Ok(matches!(stop, Stop::Eof))
                }
                Err(ListErr::Eof) => {
                    set(data, &k, Value::str(""));
                    Ok(true)
                }
                Err(ListErr::Msg(m)) => Err(StrvalsError(m)),
            },
            Stop::Char(',') => {
                set(data, &k, Value::str(""));
                Err(StrvalsError(format!(
                    "key {k:?} has no value (cannot end with ,)"
                )))
            }
            Stop::Char(_) => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(StrvalsError(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                let inner = match data.get(&k) {
                    Some(Value::Map(m)) => m,
                    _ => Map::new(),
                };
                let res = self.key(&inner, level);
                if res.is_ok() && inner.is_empty() {
                    return Err(StrvalsError(format!("key map {k:?} has no value")));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Map(inner));
                }
                res
            }
        }
    }

    fn key_index(&mut self) -> Result<usize, StrvalsError> {
        let (v, last) = self.runes_until(&[']']);
        if matches!(last, Stop::Eof) {
            return Err(StrvalsError("error parsing index: EOF".into()));
        }
        let i: i64 = v.parse().map_err(|_| {
            StrvalsError(format!(
                "error parsing index: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        })?;
        if i < 0 {
            return Err(StrvalsError(format!("negative {i} index not allowed")));
        }
        let i = i as usize;
        if i > MAX_INDEX {
            return Err(StrvalsError(format!(
                "index of {i} is greater than maximum supported index of {MAX_INDEX}"
            )));
        }
        Ok(i)
    }

    fn list_item(
        &mut self,
        mut list: Vec<Value>,
        i: usize,
        level: usize,
    ) -> (Vec<Value>, Result<bool, StrvalsError>) {
        let (k, last) = self.runes_until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                Err(StrvalsError(format!(
                    "unexpected data at end of array index: {k:?}"
                ))),
            );
        }
        match last {
            Stop::Eof => (list, Ok(true)),
            Stop::Char('=') => match self.val_list() {
                Ok(Some(vl)) => {
                    set_index(&mut list, i, Value::list(vl));
                    (list, Ok(false))
                }
                Ok(None) => {
                    let (rs, stop) = self.runes_until(&[',']);
                    let v = match self.reader {
                        Some(read) => match read(&rs) {
                            Ok(v) => v,
                            Err(e) => return (list, Err(e)),
                        },
                        None => self.typed(&rs),
                    };
                    set_index(&mut list, i, v);
                    (list, Ok(matches!(stop, Stop::Eof)))
                }
                Err(ListErr::Eof) => {
                    set_index(&mut list, i, Value::str(""));
                    (list, Ok(true))
                }
                Err(ListErr::Msg(m)) => (list, Err(StrvalsError(m))),
            },
            Stop::Char('[') => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(e)),
                };
                let crt = match list.get(i) {
                    Some(Value::List(l)) => l.as_ref().clone(),
                    _ => Vec::new(),
                };
                let (l2, res) = self.list_item(crt, next, level);
                if res.is_err() {
                    return (list, res);
                }
                set_index(&mut list, i, Value::list(l2));
                (list, res)
            }
            Stop::Char(_) => {
                let inner = match list.get(i) {
                    Some(Value::Map(m)) => m.clone(),
                    _ => Map::new(),
                };
                let res = self.key(&inner, level);
                if res.is_err() {
                    return (list, res);
                }
                set_index(&mut list, i, Value::Map(inner));
                (list, res)
            }
        }
    }

    fn val_list(&mut self) -> Result<Option<Vec<Value>>, ListErr> {
        match self.chars.get(self.pos) {
            None => return Err(ListErr::Eof),
            Some('{') => self.pos += 1,
            Some(_) => return Ok(None),
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.runes_until(&[',', '}']);
            match last {
                Stop::Eof => return Err(ListErr::Msg("list must terminate with '}'".into())),
                Stop::Char('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.typed(&rs));
                    return Ok(Some(list));
                }
                Stop::Char(_) => list.push(self.typed(&rs)),
            }
        }
    }
}

enum ListErr {
    Eof,
    Msg(String),
}

fn parse_go_int10(s: &str) -> Result<i64, ()> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit()) {
        return Err(());
    }
    s.parse::<i64>().map_err(|_| ())
}

fn set(data: &Map, key: &str, v: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), v);
    }
}

fn set_index(list: &mut Vec<Value>, i: usize, v: Value) {
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = v;
}

fn parse_into_impl(
    s: &str,
    dest: &Map,
    string_only: bool,
    reader: Option<ValueReader<'_>>,
) -> Result<(), StrvalsError> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        string_only,
        reader,
    };
    loop {
        if p.key(dest, 0)? {
            return Ok(());
        }
    }
}

/// `strvals.ParseInto`: a `--set` argument merged into `dest`.
pub fn parse_into(s: &str, dest: &Map) -> Result<(), StrvalsError> {
    parse_into_impl(s, dest, false, None)
}

/// `key=value` whose value `reader` produces from its text (`--set-file`, `--set-json`).
pub fn parse_into_with(s: &str, dest: &Map, reader: ValueReader<'_>) -> Result<(), StrvalsError> {
    parse_into_impl(s, dest, false, Some(reader))
}

/// `strvals.ParseIntoString`: a `--set-string` argument merged into `dest`.
pub fn parse_into_string(s: &str, dest: &Map) -> Result<(), StrvalsError> {
    parse_into_impl(s, dest, true, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> serde_json::Value {
        let m = Map::new();
        parse_into(s, &m).unwrap();
        Value::Map(m).to_json()
    }

    #[test]
    fn set_syntax() {
        assert_eq!(p("a.b=c"), serde_json::json!({"a": {"b": "c"}}));
        assert_eq!(
            p("a=1,b=true,c=null,d=007"),
            serde_json::json!({"a": 1, "b": true, "c": null, "d": "007"})
        );
        assert_eq!(p("a={x,y,3}"), serde_json::json!({"a": ["x", "y", 3]}));
        assert_eq!(p("a[1]=x"), serde_json::json!({"a": [null, "x"]}));
        assert_eq!(
            p("a[0].b=x,a[0].c=y"),
            serde_json::json!({"a": [{"b": "x", "c": "y"}]})
        );
        assert_eq!(p(r"a\.b=c"), serde_json::json!({"a.b": "c"}));
        assert_eq!(p("a=x\\,y"), serde_json::json!({"a": "x,y"}));
        assert_eq!(p("name=value=2"), serde_json::json!({"name": "value=2"}));
        let m = Map::new();
        assert!(parse_into("a", &m).is_err());
        assert!(parse_into("a[-1]=x", &m).is_err());
        let m = Map::new();
        parse_into_string("a=1", &m).unwrap();
        assert_eq!(Value::Map(m).to_json(), serde_json::json!({"a": "1"}));
    }
}
