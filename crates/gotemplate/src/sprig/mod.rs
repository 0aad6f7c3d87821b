//! The Sprig function library (github.com/Masterminds/sprig v3) as Helm exposes it.
//!
//! Functions follow Sprig's Go signatures: where Sprig declares a typed parameter (`int`,
//! `string`, `map[string]interface{}`), a value of another type fails like Go does
//! (`wrong type for value; expected int; got float64`); where it takes `interface{}`, values are
//! converted like `spf13/cast` does.
//!
//! Certificates and keys (`genPrivateKey`, `genCA`, `genCAWithKey`, `genSelfSignedCert(WithKey)`,
//! `genSignedCert(WithKey)`, `buildCustomCert`) are generated as Sprig does on Go's
//! `crypto/x509` (see `pki.rs`); their output is random, so tests check properties, not bytes.

mod conv;
mod crypto;
mod dates;
mod dicts;
pub mod goregex;
mod json;
mod lists;
mod math;
mod pki;
mod regex_fns;
mod semver;
mod strings;

use crate::error::FuncError;
use crate::value::{Map, Value};
use crate::{CallCtx, FuncResult, Templates};

pub use conv::strval;
pub use crypto::htpasswd;
pub use dates::{GoTime, duration_string, go_format, go_parse, parse_duration};
pub use json::{to_json_string, to_json_string_pretty};
pub use semver::Version;

/// `spf13/cast.ToInt64` as Sprig uses it (`int`, `int64`, arithmetic): floats truncate,
/// strings parse (`"0x1F"`, `"3.0"`), bools are 0/1, anything else 0.
pub fn cast_to_int64(v: &Value) -> i64 {
    conv::to_i64(v)
}

/// `spf13/cast.ToFloat64` as Sprig uses it.
pub fn cast_to_float64(v: &Value) -> f64 {
    conv::to_f64(v)
}

/// Go `reflect.DeepEqual` over template values (Sprig `deepEqual`, `has`, `uniq`...).
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    conv::deep_equal(a, b)
}

/// Registers every Sprig function Helm exposes (all of Sprig's `TxtFuncMap` that Sextant
/// implements, except `env` and `expandenv`, which Helm removes).
pub fn register(t: &mut Templates) {
    strings::register(t);
    conv::register(t);
    math::register(t);
    lists::register(t);
    dicts::register(t);
    json::register(t);
    regex_fns::register(t);
    semver::register(t);
    crypto::register(t);
    pki::register(t);
    dates::register(t);
}

/// Like [`register`], plus `env` and `expandenv` (plain Sprig, not Helm).
pub fn register_with_env(t: &mut Templates) {
    register(t);
    func(t, "env", 1, Some(1), |a| {
        let k = arg_str(a, 0)?;
        Ok(Value::from(std::env::var(k).unwrap_or_default()))
    });
    func(t, "expandenv", 1, Some(1), |a| {
        let s = arg_str(a, 0)?;
        Ok(Value::from(expand_env(s)))
    });
}

/// Go's `os.ExpandEnv`: `$VAR` and `${VAR}`.
fn expand_env(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'{' {
                if let Some(end) = s[i + 2..].find('}') {
                    let name = &s[i + 2..i + 2 + end];
                    out.push_str(&std::env::var(name).unwrap_or_default());
                    i += end + 3;
                    continue;
                }
            } else {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > start {
                    out.push_str(&std::env::var(&s[start..j]).unwrap_or_default());
                    i = j;
                    continue;
                }
            }
        }
        let c = s[i..].chars().next().unwrap_or('$');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Registers a function that does not need the call context.
pub(crate) fn func<F>(t: &mut Templates, name: &str, min: usize, max: Option<usize>, f: F)
where
    F: Fn(&[Value]) -> FuncResult + Send + Sync + 'static,
{
    t.add_func_arity(
        name,
        min,
        max,
        move |_: &mut CallCtx<'_, '_>, a: &[Value]| f(a),
    );
}

/// Go's error for a value of the wrong type passed to typed parameter `i` (reported at that
/// argument's position).
pub(crate) fn wrong_type_at(i: usize, want: &str, v: &Value) -> FuncError {
    let msg = if v.is_nil() {
        format!("invalid value; expected {want}")
    } else {
        format!(
            "wrong type for value; expected {want}; got {}",
            v.type_name()
        )
    };
    FuncError::Arg(i, msg)
}

/// A Go `string` parameter.
pub(crate) fn arg_str(a: &[Value], i: usize) -> Result<&str, FuncError> {
    match a.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(wrong_type_at(i, "string", v)),
        None => Err(FuncError::Exec("missing argument".into())),
    }
}

/// A Go `int` parameter (untyped integer constants and ints are accepted).
pub(crate) fn arg_int(a: &[Value], i: usize) -> Result<i64, FuncError> {
    match a.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Uint(n)) => i64::try_from(*n).map_err(|_| wrong_type_at(i, "int", &a[i])),
        Some(v) => Err(wrong_type_at(i, "int", v)),
        None => Err(FuncError::Exec("missing argument".into())),
    }
}

/// A Go `bool` parameter.
pub(crate) fn arg_bool(a: &[Value], i: usize) -> Result<bool, FuncError> {
    match a.get(i) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(wrong_type_at(i, "bool", v)),
        None => Err(FuncError::Exec("missing argument".into())),
    }
}

/// Registers a function that sees `Value::Missing` (Go's invalid value) distinctly from a nil
/// interface: for map-typed parameters, where Go accepts the former as a nil map and rejects
/// the latter (`wrong type for value; expected map[string]interface {}; got interface {}`).
pub(crate) fn func_raw<F>(t: &mut Templates, name: &str, min: usize, max: Option<usize>, f: F)
where
    F: Fn(&[Value]) -> FuncResult + Send + Sync + 'static,
{
    t.add_func_raw(
        name,
        min,
        max,
        move |_: &mut CallCtx<'_, '_>, a: &[Value]| f(a),
    );
}

/// A Go `map[string]interface{}` parameter; Go's invalid value or an untyped `nil` gives
/// `None` (a nil map); a nil interface value (e.g. a null in values) is a type error, as in Go.
/// Only meaningful in functions registered with [`func_raw`].
pub(crate) fn arg_map(a: &[Value], i: usize) -> Result<Option<Map>, FuncError> {
    match a.get(i) {
        Some(Value::Map(m)) => Ok(Some(m.clone())),
        Some(Value::Missing) => Ok(None),
        Some(Value::Nil) => Err(FuncError::Arg(
            i,
            "wrong type for value; expected map[string]interface {}; got interface {}".into(),
        )),
        Some(v) => Err(wrong_type_at(i, "map[string]interface {}", v)),
        None => Err(FuncError::Exec("missing argument".into())),
    }
}

/// Largest list/string a Sprig function may build: guards `until 1e12`, `repeat`, etc.
pub(crate) const MAX_BUILD: usize = 16 * 1024 * 1024;

pub(crate) fn check_size(n: usize, what: &str) -> Result<(), FuncError> {
    if n > MAX_BUILD {
        return Err(FuncError::Call(format!(
            "{what}: result of {n} elements exceeds the limit of {MAX_BUILD}"
        )));
    }
    Ok(())
}
