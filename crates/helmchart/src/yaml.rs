//! YAML the way Helm reads and writes it.
//!
//! Reading follows `sigs.k8s.io/yaml`: the document is decoded by go-yaml v2 (YAML 1.1 scalar
//! resolution: `yes`/`on`/`y` are booleans, `0777` is octal, `1_000` is an int), converted to
//! JSON and decoded into `map[string]interface{}`, so every number becomes a float64 and
//! timestamps stay strings. Writing follows `yaml.Marshal` of `sigs.k8s.io/yaml` (JSON round
//! trip, then go-yaml v2's emitter: sorted keys in go-yaml's "natural" order, indentless
//! sequences, lines folded at 80 columns, go-yaml's quoting rules).
//!
//! Over 600 lines: go-yaml v2 reading and writing rules must agree exactly; reader/writer split is planned (issue 16).

use std::collections::{BTreeMap, HashMap};

use gotemplate::{Map, Value, format_float_g};
use granit_parser::{Event, Parser, ScalarStyle};

/// A YAML syntax or conversion error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {col}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl YamlError {
    /// The message as go-yaml words it (`yaml: line N: msg`), used where Helm's text shows it.
    pub fn go_style(&self) -> String {
        // libyaml words some scanner errors differently and reports them one line later
        // (go-yaml adds one to a scanner error's 0-based line after libyaml advanced past it).
        if self.message.contains("simple key expected ':'") {
            return format!("yaml: line {}: could not find expected ':'", self.line + 1);
        }
        format!("yaml: line {}: {}", self.line, self.message)
    }
}

/// How numbers come out of a parse.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Numbers {
    /// Every number a float64 (what Helm's values, `fromYaml` and manifests see).
    Float,
    /// Integers kept as ints (go-yaml's own typing, used for `toYaml`'s round trip).
    Typed,
}

/// Parses every document of a YAML stream.
pub fn parse_all(text: &str, numbers: Numbers) -> Result<Vec<Value>, YamlError> {
    let mut b = Builder {
        numbers,
        anchors: HashMap::new(),
        stack: Vec::new(),
        docs: Vec::new(),
        alias_nodes: 0,
    };
    let parser = Parser::new_from_str(text);
    for ev in parser {
        let (ev, span) = ev.map_err(|e| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info(),
        })?;
        b.event(ev, span.start.line(), span.start.col() + 1)?;
    }
    Ok(b.docs)
}

/// Parses a single-document YAML text (the first document; an empty text gives `Nil`).
pub fn parse(text: &str, numbers: Numbers) -> Result<Value, YamlError> {
    Ok(parse_all(text, numbers)?
        .into_iter()
        .next()
        .unwrap_or(Value::Nil))
}

/// Parses a values-style document that must be a mapping (empty documents give an empty map).
pub fn parse_map(text: &str) -> Result<Map, YamlError> {
    match parse(text, Numbers::Float)? {
        Value::Map(m) => Ok(m),
        Value::Nil | Value::Missing => Ok(Map::new()),
        other => Err(YamlError {
            line: 1,
            col: 1,
            message: format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            ),
        }),
    }
}

/// The JSON kind word Go's `encoding/json` uses in "cannot unmarshal X" errors.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "array",
        Value::Map(_) => "object",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Uint(_) | Value::Float(_) => "number",
        _ => "null",
    }
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(BTreeMap<String, Value>, Option<Value>, usize, Vec<Value>),
}

struct Builder {
    numbers: Numbers,
    anchors: HashMap<usize, Value>,
    stack: Vec<Frame>,
    docs: Vec<Value>,
    /// Nodes materialised through aliases so far (alias bombs expand exponentially).
    alias_nodes: usize,
}

/// Deepest nesting of sequences/mappings accepted (deeper input is refused, never a crash).
pub const MAX_NESTING: usize = 512;
/// Most nodes that aliases may expand to in one stream (go-yaml refuses "excessive aliasing").
pub const MAX_ALIAS_NODES: usize = 1_000_000;

fn node_count(v: &Value) -> usize {
    match v {
        Value::List(l) => 1 + l.iter().map(node_count).sum::<usize>(),
        Value::Map(m) => 1 + m.read().values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

impl Builder {
    fn event(&mut self, ev: Event<'_>, line: usize, col: usize) -> Result<(), YamlError> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix().to_string());
                let v = resolve_scalar(&text, style, tag.as_deref(), self.numbers);
                // A plain `<<` key is go-yaml's merge key.
                let is_merge = style == ScalarStyle::Plain && text == "<<";
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.push(v, is_merge, line, col)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.check_depth(line, col)?;
                self.stack.push(Frame::Seq(Vec::new(), anchor));
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                self.check_depth(line, col)?;
                self.stack
                    .push(Frame::Map(BTreeMap::new(), None, anchor, Vec::new()));
                Ok(())
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, anchor)) = self.stack.pop() {
                    let v = Value::list(items);
                    if anchor != 0 {
                        self.anchors.insert(anchor, v.clone());
                    }
                    self.push(v, false, line, col)?;
                }
                Ok(())
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(mut m, _, anchor, merges)) = self.stack.pop() {
                    // Merged keys never override explicit ones; earlier merge sources win.
                    for src in merges {
                        merge_into(&mut m, &src);
                    }
                    let v = Value::Map(Map::from_btree(m));
                    if anchor != 0 {
                        self.anchors.insert(anchor, deep_copy(&v));
                    }
                    self.push(v, false, line, col)?;
                }
                Ok(())
            }
            Event::Alias(id) => {
                let anchored = self.anchors.get(&id).ok_or(YamlError {
                    line,
                    col,
                    message: "unknown anchor referenced".into(),
                })?;
                self.alias_nodes += node_count(anchored);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(YamlError {
                        line,
                        col,
                        message: "document contains excessive aliasing".into(),
                    });
                }
                let v = deep_copy(anchored);
                self.push(v, false, line, col)
            }
            Event::DocumentEnd => Ok(()),
            Event::DocumentStart(..) => {
                self.anchors.clear();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_depth(&self, line: usize, col: usize) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_NESTING {
            return Err(YamlError {
                line,
                col,
                message: format!("nesting deeper than {MAX_NESTING} levels"),
            });
        }
        Ok(())
    }

    fn push(&mut self, v: Value, is_merge: bool, line: usize, col: usize) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.docs.push(v);
                Ok(())
            }
            Some(Frame::Seq(items, _)) => {
                items.push(v);
                Ok(())
            }
            Some(Frame::Map(m, pending, _, merges)) => match pending.take() {
                None => {
                    if is_merge {
                        *pending = Some(Value::str("\u{0}<<merge>>"));
                    } else {
                        *pending = Some(v);
                    }
                    Ok(())
                }
                Some(key) => {
                    if let Value::String(s) = &key
                        && &**s == "\u{0}<<merge>>"
                    {
                        match &v {
                            Value::Map(_) => merges.push(v),
                            Value::List(l) => merges.extend(l.iter().cloned()),
                            _ => {
                                return Err(YamlError {
                                    line,
                                    col,
                                    message:
                                        "map merge requires map or sequence of maps as the value"
                                            .into(),
                                });
                            }
                        }
                        return Ok(());
                    }
                    m.insert(key_string(&key), v);
                    Ok(())
                }
            },
        }
    }
}

fn merge_into(m: &mut BTreeMap<String, Value>, src: &Value) {
    if let Value::Map(s) = src {
        for (k, v) in s.read().iter() {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// How `sigs.k8s.io/yaml` turns a non-string key into a JSON object key.
pub(crate) fn key_string(k: &Value) -> String {
    match k {
        Value::String(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => format_float_g(*f),
        Value::Nil | Value::Missing => "null".to_string(),
        other => other.to_string(),
    }
}

/// A deep copy (maps are shared references in [`Value`]).
pub fn deep_copy(v: &Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(Map::from_btree(
            m.read()
                .iter()
                .map(|(k, v)| (k.clone(), deep_copy(v)))
                .collect(),
        )),
        Value::List(l) => Value::list(l.iter().map(deep_copy).collect()),
        other => other.clone(),
    }
}

/// Deep copy of a map.
pub fn deep_copy_map(m: &Map) -> Map {
    match deep_copy(&Value::Map(m.clone())) {
        Value::Map(m) => m,
        _ => Map::new(),
    }
}

/// go-yaml v2's resolution of a scalar, then the JSON number conversion of `sigs.k8s.io/yaml`.
pub(crate) fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    numbers: Numbers,
) -> Value {
    if let Some(tag) = tag {
        match tag {
            "str" => return Value::str(text),
            "null" => return Value::Nil,
            "bool" | "int" | "float" => {}
            "binary" => return Value::str(text),
            _ => {}
        }
    }
    if style != ScalarStyle::Plain && tag.is_none() {
        return Value::str(text);
    }
    match resolve_plain(text) {
        Resolved::Null => Value::Nil,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => match numbers {
            Numbers::Float => Value::Float(i as f64),
            Numbers::Typed => Value::Int(i),
        },
        Resolved::Uint(u) => match numbers {
            Numbers::Float => Value::Float(u as f64),
            Numbers::Typed => Value::Uint(u),
        },
        Resolved::Float(f) => Value::Float(f),
        Resolved::Str => Value::str(text),
    }
}

/// What go-yaml v2 makes of a plain scalar.
#[derive(Debug, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
}

pub(crate) fn resolve_plain(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => match go_parse_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Resolved::Int(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Resolved::Uint(u);
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Resolved::Float(f);
            }
            if let Some(rest) = plain.strip_prefix("0b")
                && let Ok(i) = i64::from_str_radix(rest, 2)
            {
                return Resolved::Int(i);
            }
            if let Some(rest) = plain.strip_prefix("-0b")
                && let Ok(i) = i64::from_str_radix(rest, 2)
            {
                return Resolved::Int(-i);
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)` (base prefixes 0x, 0o, 0b and leading-0 octal).
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = go_parse_uint(body)?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((-(mag as i128)) as i64)
        } else {
            None
        }
    } else if mag <= i64::MAX as u64 {
        Some(mag as i64)
    } else {
        None
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn go_parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || s.starts_with('+') || s.starts_with('-') {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms YAML produces.
fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// A node ready for go-yaml's emitter.
#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    /// An integer or float, already in go-yaml's textual form.
    Num(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// Error from marshalling (e.g. a NaN, which JSON cannot carry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MarshalError(pub String);

/// `yaml.Marshal` of `sigs.k8s.io/yaml` (what Helm's `toYaml` uses), with the final newline.
pub fn to_yaml(v: &Value) -> Result<String, MarshalError> {
    let node = json_round_trip(v, 0)?;
    let mut e = Emitter::new(80, false);
    e.document(&node);
    Ok(e.out)
}

/// go-yaml v3 with a 2-space indent (Helm's `toYamlPretty`): sequences indented under their
/// key, no JSON round trip, no line folding.
pub fn to_yaml_pretty(v: &Value) -> Result<String, MarshalError> {
    let node = direct_node(v, 0)?;
    let mut e = Emitter::new(usize::MAX, true);
    e.document(&node);
    Ok(e.out)
}

const MAX_DEPTH: usize = 10_000;

/// The node go-yaml sees after `json.Marshal` and go-yaml's decode of that JSON.
fn json_round_trip(v: &Value, depth: usize) -> Result<Node, MarshalError> {
    if depth > MAX_DEPTH {
        return Err(MarshalError(
            "json: unsupported value: encountered a cycle".into(),
        ));
    }
    Ok(match v {
        Value::Missing | Value::Nil => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Int(i) => Node::Num(i.to_string()),
        Value::Uint(u) => Node::Num(u.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(MarshalError(format!(
                    "json: unsupported value: {}",
                    format_float_g(*f)
                )));
            }
            let text = go_json_float(*f);
            match resolve_plain(&text) {
                Resolved::Int(i) => Node::Num(i.to_string()),
                Resolved::Uint(u) => Node::Num(u.to_string()),
                Resolved::Float(g) => Node::Num(yaml_float(g)),
                _ => Node::Num(text),
            }
        }
        Value::String(s) => Node::Str(json_yaml_string(s)?),
        Value::Bytes(b) => Node::Str(base64_std(b)),
        Value::List(l) => Node::Seq(
            l.iter()
                .map(|x| json_round_trip(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => {
            let mut entries = Vec::new();
            for (k, x) in m.read().iter() {
                entries.push((json_yaml_string(k)?, json_round_trip(x, depth + 1)?));
            }
            entries.sort_by(|a, b| natural_cmp(&a.0, &b.0));
            Node::Map(entries)
        }
        // toYaml goes through encoding/json: an object with a MarshalJSON form (a Sprig
        // certificate's {Cert, Key}, a time) is written as that form, not its `%v` text.
        Value::Object(o) => match o.to_json_value() {
            Some(json) => json_round_trip(&json, depth + 1)?,
            None => Node::Str(o.format()),
        },
        other => Node::Str(other.to_string()),
    })
}

/// A string as go-yaml reads it back from Go's JSON text: characters JSON leaves raw but
/// libyaml's reader refuses (DEL, C1 controls, U+FFFE/U+FFFF) make the marshal fail (Helm's
/// `toYaml` then prints nothing), and a raw NEL (U+0085) is a YAML line break inside the
/// double-quoted JSON string, so it folds like one.
fn json_yaml_string(s: &str) -> Result<String, MarshalError> {
    if s.chars().any(|c| {
        let u = c as u32;
        u == 0x7F || ((0x80..=0x9F).contains(&u) && u != 0x85) || u == 0xFFFE || u == 0xFFFF
    }) {
        return Err(MarshalError(
            "yaml: control characters are not allowed".into(),
        ));
    }
    if !s.contains('\u{85}') {
        return Ok(s.to_string());
    }
    // Double-quoted scalar folding: trailing blanks before a break and leading blanks after it
    // go; one break becomes a space, n breaks become n-1 newlines.
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\u{85}' {
            while out.ends_with(' ') || out.ends_with('\t') {
                out.pop();
            }
            let mut breaks = 0;
            while i < chars.len() && matches!(chars[i], '\u{85}' | ' ' | '\t') {
                if chars[i] == '\u{85}' {
                    breaks += 1;
                }
                i += 1;
            }
            if breaks == 1 {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n('\n', breaks - 1));
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    Ok(out)
}

fn direct_node(v: &Value, depth: usize) -> Result<Node, MarshalError> {
    if depth > MAX_DEPTH {
        return Err(MarshalError("encountered a cycle".into()));
    }
    Ok(match v {
        Value::Missing | Value::Nil => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Int(i) => Node::Num(i.to_string()),
        Value::Uint(u) => Node::Num(u.to_string()),
        Value::Float(f) => Node::Num(yaml_float(*f)),
        Value::String(s) => Node::Str(s.to_string()),
        Value::Bytes(b) => Node::Str(String::from_utf8_lossy(b).into_owned()),
        Value::List(l) => Node::Seq(
            l.iter()
                .map(|x| direct_node(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => {
            let mut entries = Vec::new();
            for (k, x) in m.read().iter() {
                entries.push((k.clone(), direct_node(x, depth + 1)?));
            }
            entries.sort_by(|a, b| natural_cmp(&a.0, &b.0));
            Node::Map(entries)
        }
        Value::Object(o) => Node::Str(o.format()),
        other => Node::Str(other.to_string()),
    })
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f == f64::INFINITY {
        ".inf".into()
    } else if f == f64::NEG_INFINITY {
        "-.inf".into()
    } else {
        format_float_g(f)
    }
}

/// Go's `encoding/json` float formatting: `%f`-like unless the magnitude is below 1e-6 or at
/// least 1e21, then exponent form with a two-digit minimum exponent trimmed (`1e-07` → `1e-7`).
pub fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format_float_g(f);
        // format_float_g gives Go's %g: e.g. 1e+21, 1e-07. JSON trims a leading exponent zero.
        if let Some(pos) = s.find("e-0") {
            let mut t = s.clone();
            t.replace_range(pos..pos + 3, "e-");
            return t;
        }
        s
    } else {
        // Shortest representation without exponent.
        let s = format!("{f}");
        if s == "-0" { "-0".into() } else { s }
    }
}

fn base64_std(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = match chunk.len() {
            3 => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]),
            2 => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8),
            _ => u32::from(chunk[0]) << 16,
        };
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// go-yaml v2's map key order (`keyList.Less`): letters compare by code point, runs of digits
/// compare numerically, and a letter sorts after a non-letter.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let less = |x: &[char], y: &[char]| -> Option<bool> {
        let mut i = 0;
        while i < x.len() && i < y.len() {
            if x[i] == y[i] {
                i += 1;
                continue;
            }
            let al = x[i].is_alphabetic();
            let bl = y[i].is_alphabetic();
            if al && bl {
                return Some(x[i] < y[i]);
            }
            if al || bl {
                return Some(bl);
            }
            let (mut an, mut bn) = (0i64, 0i64);
            if x[i] == '0' || y[i] == '0' {
                let mut j = i;
                while j > 0 && x[j - 1].is_ascii_digit() {
                    j -= 1;
                    if x[j] != '0' {
                        an = 1;
                        bn = 1;
                        break;
                    }
                }
            }
            let mut ai = i;
            while ai < x.len() && x[ai].is_ascii_digit() {
                an = an.wrapping_mul(10).wrapping_add(x[ai] as i64 - '0' as i64);
                ai += 1;
            }
            let mut bi = i;
            while bi < y.len() && y[bi].is_ascii_digit() {
                bn = bn.wrapping_mul(10).wrapping_add(y[bi] as i64 - '0' as i64);
                bi += 1;
            }
            if an != bn {
                return Some(an < bn);
            }
            if ai != bi {
                return Some(ai < bi);
            }
            return Some(x[i] < y[i]);
        }
        None
    };
    match less(&ar, &br) {
        Some(true) => Ordering::Less,
        Some(false) => match less(&br, &ar) {
            Some(true) => Ordering::Greater,
            _ => Ordering::Equal,
        },
        None => ar.len().cmp(&br.len()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    multiline: bool,
    flow_plain: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (with go-yaml's unicode mode): 4-byte characters are not.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain: false,
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_ind = false;
    let mut flow_ind = false;
    let mut line_breaks = false;
    let mut special = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;
    if value.starts_with("---") || value.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_by_ws =
            i + 1 >= n || matches!(chars[i + 1], ' ' | '\t') || is_break(chars[i + 1]);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_ind = true,
                ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t' | '\0') || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain: true,
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if flow_ind {
        a.flow_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

/// go-yaml's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    if b[0] == b'-' || b[0] == b'+' {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let len = i - st;
        if len == 0 || (len == 2 && b[st] > b'5') {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

struct Emitter {
    out: String,
    column: usize,
    best_width: usize,
    /// go-yaml v3 style (sequences indented inside mappings).
    indent_seqs: bool,
    whitespace: bool,
}

impl Emitter {
    fn new(best_width: usize, indent_seqs: bool) -> Self {
        Emitter {
            out: String::new(),
            column: 0,
            best_width,
            indent_seqs,
            whitespace: true,
        }
    }

    fn put(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.out.push_str(s);
    }

    fn newline_indent(&mut self, indent: usize) {
        self.out.push('\n');
        self.column = 0;
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.column = indent;
        self.whitespace = true;
    }

    fn document(&mut self, n: &Node) {
        match n {
            Node::Map(m) if !m.is_empty() => self.block_map(m, 0, true),
            Node::Seq(s) if !s.is_empty() => self.block_seq(s, 0, true),
            other => {
                // go-yaml's emitter gives a root scalar the best indent (2): continuation lines
                // of a folded string and the body of a `|` block are indented by it.
                self.scalar_or_flow(other, 2, false);
                self.out.push('\n');
            }
        }
    }

    /// Emits a block mapping whose first key starts at the current position.
    fn block_map(&mut self, m: &[(String, Node)], indent: usize, first_inline: bool) {
        for (i, (k, v)) in m.iter().enumerate() {
            if (i > 0 || !first_inline) && !(i == 0 && self.out.is_empty()) {
                self.newline_indent(indent);
            }
            self.key(k, indent);
            self.put(":");
            self.value_after_key(v, indent);
        }
        if indent == 0 && first_inline {
            self.out.push('\n');
            self.column = 0;
        }
    }

    fn value_after_key(&mut self, v: &Node, indent: usize) {
        match v {
            Node::Map(m) if !m.is_empty() => {
                self.newline_indent(indent + 2);
                self.block_map_body(m, indent + 2);
            }
            Node::Seq(s) if !s.is_empty() => {
                let ind = if self.indent_seqs { indent + 2 } else { indent };
                self.newline_indent(ind);
                self.block_seq_body(s, ind);
            }
            other => {
                self.put(" ");
                self.whitespace = true;
                self.scalar_or_flow(other, indent + 2, false);
            }
        }
    }

    fn block_map_body(&mut self, m: &[(String, Node)], indent: usize) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                self.newline_indent(indent);
            }
            self.key(k, indent);
            self.put(":");
            self.value_after_key(v, indent);
        }
    }

    fn block_seq(&mut self, s: &[Node], indent: usize, top: bool) {
        self.block_seq_body(s, indent);
        if top {
            self.out.push('\n');
            self.column = 0;
        }
    }

    fn block_seq_body(&mut self, s: &[Node], indent: usize) {
        for (i, item) in s.iter().enumerate() {
            if i > 0 {
                self.newline_indent(indent);
            }
            self.put("-");
            match item {
                Node::Map(m) if !m.is_empty() => {
                    self.put(" ");
                    self.block_map_body(m, indent + 2);
                }
                Node::Seq(inner) if !inner.is_empty() => {
                    self.put(" ");
                    self.block_seq_body(inner, indent + 2);
                }
                other => {
                    self.put(" ");
                    self.whitespace = true;
                    self.scalar_or_flow(other, indent + 2, false);
                }
            }
        }
    }

    fn key(&mut self, k: &str, indent: usize) {
        self.whitespace = true;
        self.string(k, indent, true);
    }

    fn scalar_or_flow(&mut self, n: &Node, indent: usize, key: bool) {
        match n {
            Node::Null => self.put("null"),
            Node::Bool(b) => self.put(if *b { "true" } else { "false" }),
            Node::Num(s) => self.put(s),
            Node::Str(s) => self.string(s, indent, key),
            Node::Seq(_) => self.put("[]"),
            Node::Map(_) => self.put("{}"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        let can_plain = matches!(resolve_plain_for_emit(s), Resolved::Str) && !is_base60_float(s);
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if can_plain {
            Style::Plain
        } else {
            Style::Double
        };
        let a = analyze(s);
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if !a.block_plain {
                style = Style::Single;
            }
            if s.is_empty() && simple_key {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || simple_key) {
            style = Style::Double;
        }
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, indent, allow_breaks),
            Style::Single => self.write_single(s, indent, allow_breaks),
            Style::Double => self.write_double(s, indent, allow_breaks),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn write_plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.newline_indent(indent);
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
            i += 1;
        }
        self.whitespace = false;
    }

    fn put_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn write_single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.put_char('\'');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let n = chars.len();
        let mut i = 0;
        while i < n {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && i > 0
                    && i < n - 1
                    && chars[i + 1] != ' '
                {
                    self.newline_indent(indent);
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.out.push('\n');
                }
                self.out.push('\n');
                self.column = 0;
                breaks = true;
            } else {
                if breaks {
                    self.indent_to(indent);
                }
                if c == '\'' {
                    self.put_char('\'');
                }
                self.put_char(c);
                spaces = false;
                breaks = false;
            }
            i += 1;
        }
        if breaks {
            self.indent_to(indent);
        }
        self.put_char('\'');
        self.whitespace = false;
    }

    fn indent_to(&mut self, indent: usize) {
        while self.column < indent {
            self.put_char(' ');
        }
    }

    fn write_double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.put_char('"');
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let mut spaces = false;
        let mut i = 0;
        while i < n {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put_char('\\');
                let u = c as u32;
                let esc = match u {
                    0x00 => Some('0'),
                    0x07 => Some('a'),
                    0x08 => Some('b'),
                    0x09 => Some('t'),
                    0x0A => Some('n'),
                    0x0B => Some('v'),
                    0x0C => Some('f'),
                    0x0D => Some('r'),
                    0x1B => Some('e'),
                    0x22 => Some('"'),
                    0x5C => Some('\\'),
                    0x85 => Some('N'),
                    0xA0 => Some('_'),
                    0x2028 => Some('L'),
                    0x2029 => Some('P'),
                    _ => None,
                };
                match esc {
                    Some(e) => self.put_char(e),
                    None => {
                        let text = if u <= 0xFF {
                            format!("x{u:02X}")
                        } else if u <= 0xFFFF {
                            format!("u{u:04X}")
                        } else {
                            format!("U{u:08X}")
                        };
                        self.put(&text);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > self.best_width && i > 0 && i < n - 1 {
                    self.newline_indent(indent);
                    if chars[i + 1] == ' ' {
                        self.put_char('\\');
                    }
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
            i += 1;
        }
        self.put_char('"');
        self.whitespace = false;
    }

    fn write_literal(&mut self, s: &str, indent: usize) {
        self.put_char('|');
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
            self.put_char('2');
        }
        // Chomping indicator.
        let n = chars.len();
        if n == 0 || !is_break(chars[n - 1]) {
            self.put_char('-');
        } else if n == 1 || is_break(chars[n - 2]) {
            self.put_char('+');
        }
        self.out.push('\n');
        self.column = 0;
        let mut breaks = true;
        for c in chars {
            if is_break(c) {
                self.out.push('\n');
                self.column = 0;
                breaks = true;
            } else {
                if breaks {
                    self.indent_to(indent);
                }
                self.put_char(c);
                breaks = false;
            }
        }
        // A literal block always ends the line; the next key starts on a fresh one.
        if !self.out.ends_with('\n') {
            // unreachable for Literal with a trailing break; keep column consistent otherwise
        } else {
            // Remove the trailing newline: the caller's newline_indent adds the separator.
            self.out.pop();
            self.column = usize::MAX / 2;
        }
        self.whitespace = false;
    }
}

/// Resolution used by the emitter to decide whether a string needs quotes (go-yaml's
/// `resolve("", s)` — the same table as decoding, plus timestamps resolving to a non-string).
fn resolve_plain_for_emit(s: &str) -> Resolved {
    if s.is_empty() {
        return Resolved::Null;
    }
    let r = resolve_plain(s);
    if r == Resolved::Str && looks_like_timestamp(s) {
        // A timestamp tag is not `!!str`, so go-yaml quotes it.
        return Resolved::Null;
    }
    r
}

/// go-yaml's `parseTimestamp` formats: `2006-1-2T15:4:5.999999999Z07:00`, with `t`, with a
/// space, and the date alone.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    // Date part: YYYY-M(M)-D(D)
    let mut i = 0;
    let digits = |i: &mut usize, min: usize, max: usize| -> bool {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - st < max {
            *i += 1;
        }
        *i - st >= min
    };
    if !digits(&mut i, 4, 4) || i >= b.len() || b[i] != b'-' {
        return false;
    }
    i += 1;
    if !digits(&mut i, 1, 2) || i >= b.len() || b[i] != b'-' {
        return false;
    }
    i += 1;
    if !digits(&mut i, 1, 2) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    if !matches!(b[i], b'T' | b't' | b' ') {
        return false;
    }
    i += 1;
    if !digits(&mut i, 1, 2) || i >= b.len() || b[i] != b':' {
        return false;
    }
    i += 1;
    if !digits(&mut i, 1, 2) || i >= b.len() || b[i] != b':' {
        return false;
    }
    i += 1;
    if !digits(&mut i, 1, 2) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        digits(&mut i, 1, 9);
    }
    let rest = &s[i..];
    if b.get(10) == Some(&b' ') {
        // the space-separated form has no zone
        return rest.is_empty();
    }
    rest.is_empty() || rest == "Z" || {
        let r = rest.as_bytes();
        r.len() == 6 && (r[0] == b'+' || r[0] == b'-') && r[3] == b':'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(v: serde_json::Value) -> String {
        to_yaml(&Value::from_json_helm(&v)).unwrap()
    }

    #[test]
    fn reads_yaml_1_1_scalars_like_helm() {
        let v = parse(
            "a: yes\nb: on\nc: 0777\nd: 1_000\ne: '1'\nf: 2001-12-14\ng: 1e3\nh: ~\ni: 0x1F\n",
            Numbers::Float,
        )
        .unwrap();
        let m = match v {
            Value::Map(m) => m,
            _ => panic!("not a map"),
        };
        assert!(matches!(m.get("a"), Some(Value::Bool(true))));
        assert!(matches!(m.get("b"), Some(Value::Bool(true))));
        assert!(matches!(m.get("c"), Some(Value::Float(f)) if f == 511.0));
        assert!(matches!(m.get("d"), Some(Value::Float(f)) if f == 1000.0));
        assert!(matches!(m.get("e"), Some(Value::String(s)) if &*s == "1"));
        assert!(matches!(m.get("f"), Some(Value::String(s)) if &*s == "2001-12-14"));
        assert!(matches!(m.get("g"), Some(Value::Float(f)) if f == 1000.0));
        assert!(matches!(m.get("h"), Some(Value::Nil)));
        assert!(matches!(m.get("i"), Some(Value::Float(f)) if f == 31.0));
    }

    #[test]
    fn hostile_input_is_refused_not_fatal() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep, Numbers::Float).is_err());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let e = parse(&bomb, Numbers::Float).unwrap_err();
        assert!(e.message.contains("excessive aliasing"), "{e}");
    }

    #[test]
    fn anchors_and_merge_keys() {
        let v = parse("a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  k: 3\n", Numbers::Typed).unwrap();
        assert_eq!(
            to_yaml(&v).unwrap(),
            "a:\n  j: 2\n  k: 1\nb:\n  j: 2\n  k: 3\n"
        );
    }

    #[test]
    fn writes_like_go_yaml_v2() {
        assert_eq!(y(serde_json::json!({"foo": "bar"})), "foo: bar\n");
        assert_eq!(
            y(serde_json::json!({"a": [1, 2], "b": {"c": "yes", "d": "", "e": "x: y"}})),
            "a:\n- 1\n- 2\nb:\n  c: \"yes\"\n  d: \"\"\n  e: 'x: y'\n"
        );
        assert_eq!(
            y(serde_json::json!({"m": 1000000, "f": 1.5, "z": null, "n": "y"})),
            "f: 1.5\nm: 1000000\n\"n\": \"y\"\nz: null\n"
        );
        assert_eq!(
            y(serde_json::json!({"s": "line1\nline2\n"})),
            "s: |\n  line1\n  line2\n"
        );
        assert_eq!(y(serde_json::json!({"s": "a\nb"})), "s: |-\n  a\n  b\n");
        assert_eq!(y(serde_json::json!({"e": {}, "l": []})), "e: {}\nl: []\n");
        assert_eq!(
            y(serde_json::json!([{"a": 1, "b": 2}, "x"])),
            "- a: 1\n  b: 2\n- x\n"
        );
        assert_eq!(
            y(serde_json::json!({"t": "tab\there"})),
            "t: \"tab\\there\"\n"
        );
        assert_eq!(
            y(serde_json::json!({"k": "1.0", "v": "2001-12-14"})),
            "k: \"1.0\"\nv: \"2001-12-14\"\n"
        );
    }

    #[test]
    fn folds_long_lines_at_80_columns() {
        let long = "word ".repeat(30);
        let out = y(serde_json::json!({"k": long.trim_end()}));
        assert!(out.lines().count() > 1, "{out}");
        assert!(out.lines().nth(1).unwrap().starts_with("  word"));
    }

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["a10", "a2", "a_b", "aB", "b"];
        keys.sort_by(|a, b| natural_cmp(a, b));
        // A non-digit, non-letter counts as the number 0 against a run of digits.
        assert_eq!(keys, vec!["a_b", "a2", "a10", "aB", "b"]);
    }

    #[test]
    fn pretty_indents_sequences() {
        let v = Value::from_json_helm(&serde_json::json!({"baz": [1, 2, 3]}));
        assert_eq!(to_yaml_pretty(&v).unwrap(), "baz:\n  - 1\n  - 2\n  - 3\n");
    }
}
