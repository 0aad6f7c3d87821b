//! Helm v4's duration helpers (`mustToDuration`, `durationSeconds`, `durationRoundTo`...),
//! on Go's `time.Duration` (int64 nanoseconds) with Go's parsing and formatting.

use gotemplate::{FuncError, Templates, Value};

const NS: i128 = 1;
const SECOND: i128 = 1_000_000_000;

/// Go's `time.ParseDuration`.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let err = || format!("time: invalid duration {}", gotemplate::fmt::quote_go(orig));
    let mut s = s;
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return Err(err());
        }
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    gotemplate::fmt::quote_go(orig)
                ));
            }
            u => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    gotemplate::fmt::quote_go(u),
                    gotemplate::fmt::quote_go(orig)
                ));
            }
        };
        let v: f64 = num.parse().map_err(|_| err())?;
        total += v * scale;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let n = total.round() as i64;
    Ok(if neg { -n } else { n })
}

fn frac(mut v: u64, prec: usize) -> (String, u64) {
    let mut digits = Vec::new();
    let mut print = false;
    for _ in 0..prec {
        let d = v % 10;
        print = print || d != 0;
        if print {
            digits.push((b'0' + d as u8) as char);
        }
        v /= 10;
    }
    let mut s = String::new();
    if print {
        s.push('.');
        s.extend(digits.iter().rev());
    }
    (s, v)
}

/// Go's `Duration.String()`.
pub fn format_go_duration(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out;
    if u < SECOND as u64 {
        if u == 0 {
            return "0s".into();
        }
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (f, rest) = frac(u, prec);
        out = format!("{rest}{f}{unit}");
    } else {
        let (f, secs) = frac(u, 9);
        u = secs;
        out = format!("{}{f}s", u % 60);
        u /= 60;
        if u > 0 {
            out = format!("{}m{out}", u % 60);
            u /= 60;
            if u > 0 {
                out = format!("{u}h{out}");
            }
        }
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn seconds_to_ns(f: f64) -> Result<i64, String> {
    let ns = f * SECOND as f64;
    if !ns.is_finite() || ns >= i64::MAX as f64 || ns <= i64::MIN as f64 {
        return Err(format!(
            "duration out of range: {}",
            gotemplate::format_float_g(f)
        ));
    }
    Ok(ns.round() as i64)
}

/// Helm v4's `toDuration`: numbers are seconds, strings are Go durations or seconds.
pub fn to_duration(v: &Value) -> Result<i64, String> {
    match v {
        Value::Nil | Value::Missing => Ok(0),
        Value::Int(i) => i128::from(*i)
            .checked_mul(SECOND)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| format!("duration out of range: {i}")),
        Value::Uint(u) => i128::from(*u)
            .checked_mul(SECOND)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| format!("duration out of range: {u}")),
        Value::Float(f) => seconds_to_ns(*f),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Err("empty duration string".into());
            }
            if let Ok(f) = t.parse::<f64>() {
                return seconds_to_ns(f);
            }
            parse_go_duration(t)
        }
        other => Err(format!("unsupported duration type {}", other.type_name())),
    }
    .map(|n| n * NS as i64)
}

fn round_to(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let mut r = d % m;
    let less_than_half = |x: i64, y: i64| (x as u64).wrapping_add(x as u64) < y as u64;
    if d < 0 {
        r = -r;
        if less_than_half(r, m) {
            return d + r;
        }
        return d.checked_sub(m - r).unwrap_or(i64::MIN);
    }
    if less_than_half(r, m) {
        return d - r;
    }
    d.checked_add(m - r).unwrap_or(i64::MAX)
}

/// Registers the v4 duration helpers.
pub fn register(t: &mut Templates) {
    let arg = |a: &[Value], i: usize| a.get(i).cloned().unwrap_or(Value::Nil);
    t.add_func_arity("mustToDuration", 1, Some(1), move |_, a| {
        to_duration(&arg(a, 0))
            .map(|d| Value::str(format_go_duration(d)))
            .map_err(FuncError::Call)
    });
    let float_fn = |div: f64| {
        move |_: &mut gotemplate::CallCtx<'_, '_>, a: &[Value]| {
            let d = to_duration(&a.first().cloned().unwrap_or(Value::Nil)).unwrap_or(0);
            Ok(Value::Float(d as f64 / div))
        }
    };
    t.add_func_arity("durationSeconds", 1, Some(1), float_fn(1e9));
    t.add_func_arity("durationMinutes", 1, Some(1), float_fn(60e9));
    t.add_func_arity("durationHours", 1, Some(1), float_fn(3600e9));
    t.add_func_arity("durationDays", 1, Some(1), float_fn(86400e9));
    t.add_func_arity("durationWeeks", 1, Some(1), float_fn(604800e9));
    let int_fn = |div: i64| {
        move |_: &mut gotemplate::CallCtx<'_, '_>, a: &[Value]| {
            let d = to_duration(&a.first().cloned().unwrap_or(Value::Nil)).unwrap_or(0);
            Ok(Value::Int(d / div))
        }
    };
    t.add_func_arity("durationMilliseconds", 1, Some(1), int_fn(1_000_000));
    t.add_func_arity("durationMicroseconds", 1, Some(1), int_fn(1_000));
    t.add_func_arity("durationNanoseconds", 1, Some(1), int_fn(1));
    t.add_func_arity("durationRoundTo", 2, Some(2), move |_, a| {
        let d = to_duration(&arg(a, 0)).unwrap_or(0);
        let m = to_duration(&arg(a, 1)).unwrap_or(0);
        Ok(Value::str(format_go_duration(round_to(d, m))))
    });
    t.add_func_arity("durationTruncateTo", 2, Some(2), move |_, a| {
        let d = to_duration(&arg(a, 0)).unwrap_or(0);
        let m = to_duration(&arg(a, 1)).unwrap_or(0);
        let r = if m <= 0 { d } else { d - d % m };
        Ok(Value::str(format_go_duration(r)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1m30s"), Ok(90 * SECOND as i64));
        assert_eq!(parse_go_duration("1.5h"), Ok(5400 * SECOND as i64));
        assert!(parse_go_duration("nope").is_err());
        assert_eq!(format_go_duration(90 * SECOND as i64), "1m30s");
        assert_eq!(format_go_duration(1_500_000), "1.5ms");
        assert_eq!(format_go_duration(3600 * SECOND as i64), "1h0m0s");
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(
            round_to(93 * SECOND as i64, 60 * SECOND as i64),
            120 * SECOND as i64
        );
    }
}
