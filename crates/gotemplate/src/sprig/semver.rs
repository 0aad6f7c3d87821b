//! Semantic versions and constraints with Masterminds/semver v3 rules (`semver`,
//! `semverCompare`).

use std::cmp::Ordering;
use std::sync::Arc;

use super::{arg_str, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Object, Value};

/// A parsed semantic version (Go's `*semver.Version`). Fields and methods are reachable from
/// templates: `.Major`, `.Minor`, `.Patch`, `.Prerelease`, `.Metadata`, `.Original`,
/// `.Compare v`, `.LessThan v`, `.GreaterThan v`, `.Equal v`, `.IncMajor`...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release part (after `-`), empty when absent.
    pub pre: String,
    /// Build metadata (after `+`), empty when absent.
    pub meta: String,
    /// The text it was parsed from.
    pub original: String,
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

impl Version {
    /// Parses leniently like `semver.NewVersion` ("v1.2" is 1.2.0).
    pub fn parse(s: &str) -> Result<Version, String> {
        let invalid = || "invalid semantic version".to_string();
        let body = s.strip_prefix('v').unwrap_or(s);
        let (rest, meta) = match body.split_once('+') {
            Some((r, m)) => (r, m.to_string()),
            None => (body, String::new()),
        };
        let (nums, pre) = match rest.split_once('-') {
            Some((n, p)) => (n, p.to_string()),
            None => (rest, String::new()),
        };
        if (!pre.is_empty() || rest.contains('-')) && !valid_ident(&pre) {
            return Err(invalid());
        }
        if (!meta.is_empty() || body.contains('+')) && !valid_ident(&meta) {
            return Err(invalid());
        }
        let parts: Vec<&str> = nums.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(invalid());
        }
        let mut n = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            n[i] = p.parse().map_err(|_| invalid())?;
        }
        Ok(Version {
            major: n[0],
            minor: n[1],
            patch: n[2],
            pre,
            meta,
            original: s.to_string(),
        })
    }

    /// Precedence comparison (metadata ignored).
    pub fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| compare_pre(&self.pre, &o.pre))
    }
}

fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.meta.is_empty() {
            write!(f, "+{}", self.meta)?;
        }
        Ok(())
    }
}

fn other_version(args: &[Value]) -> Result<Arc<Version>, String> {
    match args.first() {
        Some(Value::Object(o)) => o
            .as_any()
            .downcast_ref::<Version>()
            .map(|v| Arc::new(v.clone()))
            .ok_or_else(|| {
                format!(
                    "wrong type for value; expected *semver.Version; got {}",
                    o.type_name()
                )
            }),
        Some(v) => Err(format!(
            "wrong type for value; expected *semver.Version; got {}",
            v.type_name()
        )),
        None => Err("wrong number of args: want 1 got 0".into()),
    }
}

impl Object for Version {
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }
    fn kind(&self) -> &'static str {
        "ptr"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Major" => Value::Uint(self.major),
            "Minor" => Value::Uint(self.minor),
            "Patch" => Value::Uint(self.patch),
            "Prerelease" => Value::str(&self.pre),
            "Metadata" => Value::str(&self.meta),
            "Original" => Value::str(&self.original),
            "String" => Value::from(self.to_string()),
            _ => return None,
        })
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let cmp = |args: &[Value]| other_version(args).map(|o| self.compare(&o));
        let bump = |v: Version| Ok(Value::Object(Arc::new(v)));
        Some(match name {
            "Compare" => cmp(args).map(|o| Value::Int(o as i64)),
            "LessThan" => cmp(args).map(|o| Value::Bool(o == Ordering::Less)),
            "GreaterThan" => cmp(args).map(|o| Value::Bool(o == Ordering::Greater)),
            "Equal" => cmp(args).map(|o| Value::Bool(o == Ordering::Equal)),
            "IncMajor" if args.is_empty() => bump(Version {
                major: self.major + 1,
                minor: 0,
                patch: 0,
                pre: String::new(),
                meta: String::new(),
                original: String::new(),
            }),
            "IncMinor" if args.is_empty() => bump(Version {
                minor: self.minor + 1,
                patch: 0,
                pre: String::new(),
                meta: String::new(),
                original: String::new(),
                ..self.clone()
            }),
            "IncPatch" if args.is_empty() => bump(Version {
                patch: if self.pre.is_empty() {
                    self.patch + 1
                } else {
                    self.patch
                },
                pre: String::new(),
                meta: String::new(),
                original: String::new(),
                ..self.clone()
            }),
            _ => return None,
        })
    }
    fn format(&self) -> String {
        self.to_string()
    }
    fn equals(&self, other: &dyn Object) -> Option<bool> {
        // Go compares *Version pointers; distinct parses are distinct pointers.
        Some(std::ptr::addr_eq(
            self as *const Self,
            other.as_any() as *const dyn std::any::Any,
        ))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A constraint version: parts may be wildcards/missing (`1.2`, `1.x`, `*`).
struct CVer {
    v: Version,
    /// Number of leading parts given explicitly (0..=3).
    given: usize,
}

fn parse_cver(s: &str) -> Result<CVer, String> {
    let s = s.trim();
    let body = s.strip_prefix('v').unwrap_or(s);
    let (core, tail) = match body.find(['-', '+']) {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    let mut given = 0;
    let mut nums = [0u64; 3];
    let mut wild = false;
    for (i, p) in core.split('.').enumerate() {
        if i >= 3 {
            return Err(format!("improper constraint: {s}"));
        }
        if matches!(p, "x" | "X" | "*") {
            wild = true;
            continue;
        }
        if wild || p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("improper constraint: {s}"));
        }
        nums[i] = p.parse().map_err(|_| format!("improper constraint: {s}"))?;
        given = i + 1;
    }
    let v = Version::parse(&format!("{}.{}.{}{tail}", nums[0], nums[1], nums[2]))
        .map_err(|_| format!("improper constraint: {s}"))?;
    Ok(CVer { v, given })
}

fn check_one(op: &str, c: &CVer, v: &Version) -> bool {
    if !v.pre.is_empty() && c.v.pre.is_empty() {
        return false;
    }
    let cv = &c.v;
    let ord = v.compare(cv);
    let tuple_eq = |n: usize| {
        (n < 1 || v.major == cv.major)
            && (n < 2 || v.minor == cv.minor)
            && (n < 3 || v.patch == cv.patch)
    };
    match op {
        "" | "=" => {
            if c.given == 3 {
                ord == Ordering::Equal
            } else {
                tuple_eq(c.given)
            }
        }
        "!=" => {
            if c.given == 3 {
                ord != Ordering::Equal
            } else {
                !tuple_eq(c.given)
            }
        }
        ">" => match c.given {
            0 => false,
            1 => v.major > cv.major,
            2 => v.major > cv.major || (v.major == cv.major && v.minor > cv.minor),
            _ => ord == Ordering::Greater,
        },
        "<" => ord == Ordering::Less,
        ">=" | "=>" => ord != Ordering::Less,
        "<=" | "=<" => match c.given {
            0 => true,
            1 => v.major <= cv.major,
            2 => v.major < cv.major || (v.major == cv.major && v.minor <= cv.minor),
            _ => ord != Ordering::Greater,
        },
        "~" | "~>" => {
            ord != Ordering::Less
                && (c.given < 1 || v.major == cv.major)
                && (c.given < 2 || v.minor == cv.minor)
        }
        "^" => {
            if ord == Ordering::Less {
                return false;
            }
            if cv.major > 0 || c.given < 2 {
                return v.major == cv.major;
            }
            if cv.minor > 0 || c.given < 3 {
                return v.major == 0 && v.minor == cv.minor;
            }
            v.major == 0 && v.minor == 0 && v.patch == cv.patch
        }
        _ => false,
    }
}

/// Parses a constraint string (`^1.2`, `>= 1.0, < 2`, `1.2 - 1.4 || 2.x`) and checks `v`.
pub(crate) fn constraint_check(c: &str, v: &Version) -> Result<bool, String> {
    let mut any = false;
    for group in c.split("||") {
        let mut terms: Vec<(String, String)> = Vec::new();
        let toks: Vec<&str> = group.split([',', ' ']).filter(|t| !t.is_empty()).collect();
        let mut i = 0;
        // Rejoin "op version" pairs split by spaces ("> 1.2") and hyphen ranges.
        while i < toks.len() {
            let t = toks[i];
            let op_len = t
                .find(|ch: char| ch.is_ascii_alphanumeric() || ch == '*')
                .unwrap_or(t.len());
            let (op, ver) = t.split_at(op_len);
            if ver.is_empty() {
                let next = toks
                    .get(i + 1)
                    .ok_or_else(|| format!("improper constraint: {c}"))?;
                terms.push((op.to_string(), next.to_string()));
                i += 2;
                continue;
            }
            if toks.get(i + 1) == Some(&"-") {
                let hi = toks
                    .get(i + 2)
                    .ok_or_else(|| format!("improper constraint: {c}"))?;
                terms.push((">=".into(), ver.to_string()));
                terms.push(("<=".into(), hi.to_string()));
                i += 3;
                continue;
            }
            terms.push((op.to_string(), ver.to_string()));
            i += 1;
        }
        if terms.is_empty() {
            return Err(format!("improper constraint: {c}"));
        }
        let mut all = true;
        for (op, ver) in &terms {
            if ![
                "", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^",
            ]
            .contains(&op.as_str())
            {
                return Err(format!("improper constraint: {c}"));
            }
            let cv = parse_cver(ver)?;
            if !check_one(op, &cv, v) {
                all = false;
            }
        }
        if all {
            any = true;
        }
    }
    Ok(any)
}

pub(super) fn register(t: &mut Templates) {
    func(t, "semver", 1, Some(1), |a| {
        let v = Version::parse(arg_str(a, 0)?).map_err(FuncError::Call)?;
        Ok(Value::Object(Arc::new(v)))
    });
    func(t, "semverCompare", 2, Some(2), |a| {
        let (c, v) = (arg_str(a, 0)?, arg_str(a, 1)?);
        let v = Version::parse(v).map_err(FuncError::Call)?;
        constraint_check(c, &v)
            .map(Value::Bool)
            .map_err(FuncError::Call)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Version::parse(v)
            .ok()
            .and_then(|v| constraint_check(c, &v).ok())
            .unwrap_or(false)
    }

    #[test]
    fn constraints() {
        assert!(ok("^1.2.0", "1.2.3"));
        assert!(!ok("^1.2.0", "2.2.3"));
        assert!(ok(">=1.16.0-0", "1.20.0"));
        assert!(ok(">= 1.19-0 < 1.25", "1.20.0"));
        assert!(ok("~1.2", "1.2.9"));
        assert!(!ok("~1.2", "1.3.0"));
        assert!(ok("1.2 - 1.4", "1.3.5"));
        assert!(ok("<1.0 || >=2", "2.1.0"));
        assert!(!ok(">=1.0", "1.5.0-beta"));
        assert!(ok("1.x", "1.9.9"));
    }
}
