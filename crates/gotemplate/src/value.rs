//! Go-typed values as seen by templates, and Go's `fmt` `%v` printing of them.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A value flowing through a template: the Rust image of the Go types that Go templates, Sprig
/// and Helm work with.
///
/// Cloning is cheap (strings, lists and maps are reference counted). Maps have Go's reference
/// semantics: a clone shares the same underlying map, so Sprig's `set`/`unset`/`merge` mutate it
/// for every holder, exactly as in Go. Lists are immutable (every Sprig list function returns a
/// new list, as in Go).
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Value {
    /// Go's invalid `reflect.Value`: the result of a missing map key or of evaluating a field of
    /// nothing. Printed by an action as `<no value>`; passed to a function it becomes `nil`.
    #[default]
    Missing,
    /// Go's untyped `nil` (a nil `interface{}`). Prints `<nil>` inside containers and in `print`.
    Nil,
    /// `bool`.
    Bool(bool),
    /// Go `int` / `int64` (Go's `int` is 64-bit on every platform Helm runs on).
    Int(i64),
    /// Go `uint` / `uint64`.
    Uint(u64),
    /// Go `float64`. Every number in Helm values read from YAML/JSON is a `float64`.
    Float(f64),
    /// Go `complex128` (only from complex constants in templates, e.g. `1+2i`).
    Complex(f64, f64),
    /// Go `string` (Go strings are bytes; ours are UTF-8, invalid input is replaced on entry).
    String(Arc<str>),
    /// Go `[]byte`. `%v` prints `[104 105]`, `%s` and `toString` print the text.
    Bytes(Arc<[u8]>),
    /// Go `[]interface{}`.
    List(Arc<Vec<Value>>),
    /// Go `map[string]interface{}` (reference semantics; iterated in sorted key order).
    Map(Map),
    /// Anything else: structs and pointers with fields and methods (semver versions, times,
    /// Helm's `.Files`, `.Capabilities`...), supplied by the embedding code.
    Object(Arc<dyn Object>),
}

/// A Go `map[string]interface{}`: shared, mutable, sorted by key (Go templates and `fmt` visit
/// map keys in sorted order).
#[derive(Clone, Default)]
pub struct Map(Arc<RwLock<BTreeMap<String, Value>>>);

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }
    /// A map holding these entries.
    pub fn from_btree(m: BTreeMap<String, Value>) -> Self {
        Map(Arc::new(RwLock::new(m)))
    }
    /// Read access. A poisoned lock (a panic elsewhere while writing) still yields the data.
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Value>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
    /// Write access (visible to every clone of this map, like a Go map).
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
    /// The value at `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }
    /// Sets `key` (shared by every clone of this map).
    pub fn insert(&self, key: impl Into<String>, v: Value) {
        self.write().insert(key.into(), v);
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }
    /// True when the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
    /// True when both handles refer to the same Go map.
    pub fn ptr_eq(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    /// A fresh map with the same entries (shallow copy).
    pub fn shallow_clone(&self) -> Map {
        Map::from_btree(self.read().clone())
    }
}

impl From<BTreeMap<String, Value>> for Map {
    fn from(m: BTreeMap<String, Value>) -> Self {
        Map::from_btree(m)
    }
}

/// A Go value that is not one of the plain kinds: a struct or pointer with fields and methods.
///
/// Field access `.Name` first tries [`Object::method`] (Go looks methods up first), then
/// [`Object::field`]. A method called with arguments (`.Files.Get "x"`, or at the end of a
/// pipeline) receives them in `args`.
pub trait Object: Send + Sync + fmt::Debug {
    /// Go's `%T` / Sprig `typeOf`, e.g. `*semver.Version`, `time.Time`.
    fn type_name(&self) -> String;
    /// Go's reflect kind (`kindOf`): `struct`, `ptr`, `map`, `slice`, `func`...
    fn kind(&self) -> &'static str {
        "struct"
    }
    /// A field or niladic method value, `None` when there is no such field.
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    /// A method call, `None` when there is no such method. Errors are the method's error text.
    fn method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    /// Go's `%v` rendering (what `{{ . }}` prints).
    fn format(&self) -> String;
    /// Go truthiness (structs are always true; nil pointers false).
    fn truthy(&self) -> bool {
        true
    }
    /// For the `call` builtin: `Some` when this value is a function.
    fn call(&self, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    /// Go `==` against another object (used by `eq`); `None` means not comparable.
    fn equals(&self, _other: &dyn Object) -> Option<bool> {
        None
    }
    /// What Go's `encoding/json` would marshal this value as (a `MarshalJSON` method), when it
    /// is not simply the `%v` text as a JSON string.
    fn to_json_value(&self) -> Option<Value> {
        None
    }
    /// The plain list or map this object is under Go's reflection, for a named slice or map
    /// type (Helm's `chartutil.VersionSet` is a `[]string`, `engine.files` a
    /// `map[string][]byte`): `range`, `len`, `index`, `slice` and Sprig's reflection-based
    /// list functions see this. `None` for structs and pointers.
    fn reflect(&self) -> Option<Value> {
        None
    }
    /// Downcasting support (e.g. Sprig's date functions recognise their own time objects).
    fn as_any(&self) -> &dyn Any;
}

impl Value {
    /// This value as Go's reflection sees it: an object that is a named slice or map type
    /// becomes that plain list or map ([`Object::reflect`]); anything else is returned as is.
    pub fn reflected(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Value::Object(o) => match o.reflect() {
                Some(v) => std::borrow::Cow::Owned(v),
                None => std::borrow::Cow::Borrowed(self),
            },
            v => std::borrow::Cow::Borrowed(v),
        }
    }

    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::String(Arc::from(s.as_ref()))
    }
    /// A list value.
    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Arc::new(v))
    }
    /// A map value from key/value pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(Map::from_btree(
            entries.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ))
    }
    /// A new empty map.
    pub fn empty_map() -> Value {
        Value::Map(Map::new())
    }

    /// Converts JSON the way Go's tests and `encoding/json` with exact integers see it:
    /// integers that fit become [`Value::Int`] (or [`Value::Uint`]), other numbers
    /// [`Value::Float`]. Use this for data that in Go would hold typed ints (e.g. `--set`
    /// parameters, which Helm's strvals parses as `int64`).
    pub fn from_json(j: &serde_json::Value) -> Value {
        json_to_value(j, false)
    }

    /// Converts JSON the way Helm sees values files: Helm reads YAML into JSON and decodes it
    /// into `map[string]interface{}`, so **every number is a `float64`**. With this constructor
    /// `{{ .Values.replicas }}` prints `3` and 1000000 prints `1e+06`, as Helm does.
    pub fn from_json_helm(j: &serde_json::Value) -> Value {
        json_to_value(j, true)
    }

    /// Converts to JSON as Go's `encoding/json` would marshal it (objects via their `%v` text).
    /// Values nested deeper than 200 levels (only possible with cycles) become null.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_depth(0)
    }

    fn to_json_depth(&self, depth: usize) -> serde_json::Value {
        use serde_json::Value as J;
        if depth > MAX_PRINT_DEPTH {
            return J::Null;
        }
        match self {
            Value::Missing | Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Uint(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Complex(..) => J::String(self.to_string()),
            Value::String(s) => J::String(s.to_string()),
            Value::Bytes(b) => {
                use base64::Engine;
                J::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::List(l) => J::Array(l.iter().map(|v| v.to_json_depth(depth + 1)).collect()),
            Value::Map(m) => J::Object(
                m.read()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json_depth(depth + 1)))
                    .collect(),
            ),
            Value::Object(o) => J::String(o.format()),
        }
    }

    /// Go truthiness as used by `if`, `with`, `and`, `or`, `not`: false for zero numbers, empty
    /// strings/lists/maps, false, nil and missing values; true otherwise.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Complex(r, i) => *r != 0.0 || *i != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.truthy(),
        }
    }

    /// True for `nil` and missing values.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Missing | Value::Nil)
    }

    /// Go's `%T` name of the value's dynamic type.
    pub fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Uint(_) => "uint".into(),
            Value::Float(_) => "float64".into(),
            Value::Complex(..) => "complex128".into(),
            Value::String(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's reflect kind name (`kindOf`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Missing | Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Float(_) => "float64",
            Value::Complex(..) => "complex128",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind(),
        }
    }

    /// The string inside a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Missing becomes nil (what a Go function parameter of type `interface{}` receives).
    pub(crate) fn or_nil(self) -> Value {
        match self {
            Value::Missing => Value::Nil,
            v => v,
        }
    }
}

fn json_to_value(j: &serde_json::Value, floats: bool) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if !floats {
                if let Some(i) = n.as_i64() {
                    return Value::Int(i);
                }
                if let Some(u) = n.as_u64() {
                    return Value::Uint(u);
                }
            }
            Value::Float(n.as_f64().unwrap_or(0.0))
        }
        J::String(s) => Value::str(s),
        J::Array(a) => Value::list(a.iter().map(|x| json_to_value(x, floats)).collect()),
        J::Object(o) => Value::Map(Map::from_btree(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v, floats)))
                .collect(),
        )),
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<usize> for Value {
    fn from(i: usize) -> Self {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::Uint(u)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(Arc::from(s))
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::list(v)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}

/// Depth limit when printing nested values: a map that contains itself (possible with `set`)
/// must not overflow the stack.
const MAX_PRINT_DEPTH: usize = 200;

impl fmt::Display for Value {
    /// Go's `fmt` `%v` (what `print` and `{{ . }}` produce), except that [`Value::Missing`] prints
    /// `<nil>` here; an action prints it as `<no value>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_v(&mut s, self, 0);
        f.write_str(&s)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str("Missing"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Object(o) => write!(f, "{o:?}"),
            v => write!(f, "{}({})", v.type_name(), v),
        }
    }
}

/// Printing stops growing a string past this size (a map that holds itself twice would
/// otherwise print exponentially); the executor's output limit then reports the error.
pub(crate) const MAX_PRINT_BYTES: usize = 32 * 1024 * 1024;

/// Appends Go's `%v` rendering of `v` to `out`.
pub(crate) fn write_v(out: &mut String, v: &Value, depth: usize) {
    if depth > MAX_PRINT_DEPTH || out.len() > MAX_PRINT_BYTES {
        out.push_str("...");
        return;
    }
    match v {
        Value::Missing | Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(x) => out.push_str(&format_float_g(*x)),
        Value::Complex(r, i) => {
            out.push('(');
            out.push_str(&format_float_g(*r));
            if *i >= 0.0 || i.is_nan() {
                out.push('+');
            }
            out.push_str(&format_float_g(*i));
            out.push_str("i)");
        }
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&x.to_string());
            }
            out.push(']');
        }
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, x, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.read().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, x, depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => out.push_str(&o.format()),
    }
}

/// Splits a finite float into its shortest round-trip decimal digits and decimal exponent
/// (value = 0.d1d2d3... × 10^exp), as Go's strconv computes for precision -1.
pub(crate) fn shortest_digits(x: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest round-trip representation, e.g. "1.2345e6".
    let s = format!("{:e}", x.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0').to_string();
    let exp: i32 = exp.parse().unwrap_or(0);
    if digits.is_empty() {
        return ("0".into(), 1);
    }
    (digits, exp + 1)
}

/// Go's `strconv.FormatFloat(x, 'g', -1, 64)`, i.e. `%v` of a float64: shortest round-trip
/// digits, exponent form when the decimal exponent is < -4 or >= 6 (so `1e+06` but `100000`).
pub fn format_float_g(x: f64) -> String {
    format_float_shortest(x, 'e', 6)
}

/// Shortest round-trip formatting, exponent form (`e` is the exponent letter) when the decimal
/// exponent is < -4 or >= `eprec`.
pub(crate) fn format_float_shortest(x: f64, e: char, eprec: i32) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = x.is_sign_negative();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if x == 0.0 {
        out.push('0');
        return out;
    }
    let (digits, dp) = shortest_digits(x);
    let exp = dp - 1;
    let nd = digits.len() as i32;
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push(e);
        let (sign, ae) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
        out.push(sign);
        if ae < 10 {
            out.push('0');
        }
        out.push_str(&ae.to_string());
        return out;
    }
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..(-dp) {
            out.push('0');
        }
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        for _ in 0..(dp - nd) {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float_g(3.0), "3");
        assert_eq!(format_float_g(1_000_000.0), "1e+06");
        assert_eq!(format_float_g(100_000.0), "100000");
        assert_eq!(format_float_g(1.5), "1.5");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(123456789.0), "1.23456789e+08");
        assert_eq!(format_float_g(1234567.5), "1.2345675e+06");
        assert_eq!(format_float_g(-2.5), "-2.5");
        assert_eq!(format_float_g(f64::INFINITY), "+Inf");
    }

    #[test]
    fn containers_print_like_go() {
        let v = Value::map([
            ("b", Value::list(vec![Value::from("x"), Value::Nil])),
            ("a", Value::Int(1)),
        ]);
        assert_eq!(v.to_string(), "map[a:1 b:[x <nil>]]");
    }

    #[test]
    fn helm_json_numbers_are_floats() {
        let j: serde_json::Value = serde_json::json!({"replicas": 3, "big": 1000000});
        let v = Value::from_json_helm(&j);
        assert_eq!(v.to_string(), "map[big:1e+06 replicas:3]");
        let v = Value::from_json(&j);
        assert_eq!(v.to_string(), "map[big:1000000 replicas:3]");
    }
}
