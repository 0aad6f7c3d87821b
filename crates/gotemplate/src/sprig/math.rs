//! Sprig math: int64 arithmetic via `cast`, float arithmetic via exact decimals (Sprig uses
//! shopspring/decimal for `addf`, `subf`, `mulf`, `divf`, `add1f`), ranges.

use super::conv::{to_f64, to_i64};
use super::{arg_int, check_size, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Value, shortest_digits};

/// A decimal number m × 10^e (what shopspring/decimal computes with), with i128 mantissa.
#[derive(Clone, Copy, Debug)]
struct Dec {
    m: i128,
    e: i32,
}

impl Dec {
    /// `decimal.NewFromFloat`: the shortest decimal that round-trips.
    fn from_f64(x: f64) -> Option<Dec> {
        if !x.is_finite() {
            return None;
        }
        if x == 0.0 {
            return Some(Dec { m: 0, e: 0 });
        }
        let (digits, dp) = shortest_digits(x);
        let m: i128 = digits.parse().ok()?;
        let m = if x < 0.0 { -m } else { m };
        Some(Dec {
            m,
            e: dp - digits.len() as i32,
        })
    }
    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(f64::NAN)
    }
    fn rescale(self, e: i32) -> Option<i128> {
        // Returns the mantissa expressed at exponent e (e <= self.e).
        let k = u32::try_from(self.e - e).ok()?;
        self.m.checked_mul(10i128.checked_pow(k)?)
    }
    fn add(self, o: Dec) -> Option<Dec> {
        let e = self.e.min(o.e);
        Some(Dec {
            m: self.rescale(e)?.checked_add(o.rescale(e)?)?,
            e,
        })
    }
    fn sub(self, o: Dec) -> Option<Dec> {
        self.add(Dec { m: -o.m, e: o.e })
    }
    fn mul(self, o: Dec) -> Option<Dec> {
        Some(Dec {
            m: self.m.checked_mul(o.m)?,
            e: self.e.checked_add(o.e)?,
        })
    }
    /// `Div`: rounded (half away from zero) to 16 fractional digits.
    fn div(self, o: Dec) -> Option<Dec> {
        if o.m == 0 {
            return None;
        }
        let shift = self.e - o.e + 16;
        let (num, den) = if shift >= 0 {
            (self.m.checked_mul(10i128.checked_pow(shift as u32)?)?, o.m)
        } else {
            (
                self.m,
                o.m.checked_mul(10i128.checked_pow((-shift) as u32)?)?,
            )
        };
        let q = num / den;
        let r = num % den;
        let q = if (r.abs() * 2) >= den.abs() {
            if (num < 0) != (den < 0) { q - 1 } else { q + 1 }
        } else {
            q
        };
        Some(Dec { m: q, e: -16 })
    }
}

type Op = fn(Dec, Dec) -> Option<Dec>;

/// Sprig's `execDecimalOp`, falling back to float arithmetic when decimals overflow.
fn decimal_op(first: &Value, rest: &[Value], op: Op, fop: fn(f64, f64) -> f64) -> FuncResult2 {
    let mut acc = Dec::from_f64(to_f64(first));
    let mut facc = to_f64(first);
    for v in rest {
        let x = to_f64(v);
        if fop(1.0, 0.0).is_infinite() && x == 0.0 {
            // Division by zero panics in shopspring/decimal.
            return Err("decimal division by 0".into());
        }
        facc = fop(facc, x);
        acc = match (acc, Dec::from_f64(x)) {
            (Some(a), Some(b)) => op(a, b),
            _ => None,
        };
    }
    Ok(Value::Float(acc.map_or(facc, Dec::to_f64)))
}

type FuncResult2 = Result<Value, FuncError>;

fn untils(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let count = if stop < start {
        if step >= 0 {
            return Ok(Vec::new());
        }
        ((start as i128 - stop as i128 + (-step as i128) - 1) / (-step as i128)) as u128
    } else {
        if step <= 0 {
            return Ok(Vec::new());
        }
        ((stop as i128 - start as i128 + step as i128 - 1) / step as i128) as u128
    };
    check_size(usize::try_from(count).unwrap_or(usize::MAX), "untilStep")?;
    let mut v = Vec::with_capacity(count as usize);
    let mut i = start;
    for _ in 0..count {
        v.push(i);
        i = i.wrapping_add(step);
    }
    Ok(v)
}

fn int_list(v: Vec<i64>) -> Value {
    Value::list(v.into_iter().map(Value::Int).collect())
}

fn seq(p: &[i64]) -> Result<String, FuncError> {
    let v = match p.len() {
        1 => {
            let (start, end) = (1, p[0]);
            let inc = if end < start { -1 } else { 1 };
            untils(start, end + inc, inc)?
        }
        2 => {
            let (start, end) = (p[0], p[1]);
            let step = if end < start { -1 } else { 1 };
            untils(start, end + step, step)?
        }
        3 => {
            let (start, step, end) = (p[0], p[1], p[2]);
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(String::new());
                }
            }
            untils(start, end + inc, step)?
        }
        _ => return Ok(String::new()),
    };
    Ok(v.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))
}

fn go_round(x: f64, places: f64, round_on: f64) -> f64 {
    let pow = 10f64.powf(places);
    let digit = pow * x;
    let div = digit.fract();
    let r = if div >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

pub(super) fn register(t: &mut Templates) {
    func(t, "add1", 1, Some(1), |a| {
        Ok(Value::Int(to_i64(&a[0]).wrapping_add(1)))
    });
    func(t, "add", 0, None, |a| {
        Ok(Value::Int(
            a.iter().fold(0i64, |s, v| s.wrapping_add(to_i64(v))),
        ))
    });
    func(t, "sub", 2, Some(2), |a| {
        Ok(Value::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    func(t, "div", 2, Some(2), |a| {
        let b = to_i64(&a[1]);
        if b == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_i64(&a[0]).wrapping_div(b)))
    });
    func(t, "mod", 2, Some(2), |a| {
        let b = to_i64(&a[1]);
        if b == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_i64(&a[0]).wrapping_rem(b)))
    });
    func(t, "mul", 1, None, |a| {
        Ok(Value::Int(
            a[1..]
                .iter()
                .fold(to_i64(&a[0]), |s, v| s.wrapping_mul(to_i64(v))),
        ))
    });
    func(t, "randInt", 2, Some(2), |a| {
        use rand::Rng;
        let (lo, hi) = (arg_int(a, 0)?, arg_int(a, 1)?);
        if hi <= lo {
            return Err("invalid argument to Intn".into());
        }
        Ok(Value::Int(rand::thread_rng().gen_range(lo..hi)))
    });
    func(t, "add1f", 1, Some(1), |a| {
        decimal_op(&a[0], &[Value::Int(1)], Dec::add, |x, y| x + y)
    });
    func(t, "addf", 0, None, |a| {
        decimal_op(&Value::Float(0.0), a, Dec::add, |x, y| x + y)
    });
    func(t, "subf", 1, None, |a| {
        decimal_op(&a[0], &a[1..], Dec::sub, |x, y| x - y)
    });
    func(t, "mulf", 1, None, |a| {
        decimal_op(&a[0], &a[1..], Dec::mul, |x, y| x * y)
    });
    func(t, "divf", 1, None, |a| {
        decimal_op(&a[0], &a[1..], Dec::div, |x, y| x / y)
    });
    for name in ["biggest", "max"] {
        func(t, name, 1, None, |a| {
            Ok(Value::Int(
                a[1..].iter().map(to_i64).fold(to_i64(&a[0]), i64::max),
            ))
        });
    }
    func(t, "min", 1, None, |a| {
        Ok(Value::Int(
            a[1..].iter().map(to_i64).fold(to_i64(&a[0]), i64::min),
        ))
    });
    func(t, "maxf", 1, None, |a| {
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_max),
        ))
    });
    func(t, "minf", 1, None, |a| {
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_min),
        ))
    });
    func(t, "ceil", 1, Some(1), |a| {
        Ok(Value::Float(to_f64(&a[0]).ceil()))
    });
    func(t, "floor", 1, Some(1), |a| {
        Ok(Value::Float(to_f64(&a[0]).floor()))
    });
    func(t, "round", 2, Some(3), |a| {
        let p = arg_int(a, 1)?;
        let on = match a.get(2) {
            Some(Value::Float(f)) => *f,
            Some(Value::Int(i)) => *i as f64,
            Some(v) => return Err(super::wrong_type_at(2, "float64", v)),
            None => 0.5,
        };
        Ok(Value::Float(go_round(to_f64(&a[0]), p as f64, on)))
    });
    func(t, "until", 1, Some(1), |a| {
        let n = arg_int(a, 0)?;
        let step = if n < 0 { -1 } else { 1 };
        Ok(int_list(untils(0, n, step)?))
    });
    func(t, "untilStep", 3, Some(3), |a| {
        Ok(int_list(untils(
            arg_int(a, 0)?,
            arg_int(a, 1)?,
            arg_int(a, 2)?,
        )?))
    });
    func(t, "seq", 0, None, |a| {
        let p: Vec<i64> = (0..a.len())
            .map(|i| arg_int(a, i))
            .collect::<Result<_, _>>()?;
        Ok(Value::from(seq(&p)?))
    });
}

fn go_max(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.max(y)
    }
}

fn go_min(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.min(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_float_ops() {
        let r = decimal_op(
            &Value::Float(0.0),
            &[Value::Float(1.5), Value::Float(2.2), Value::Int(3)],
            Dec::add,
            |x, y| x + y,
        );
        assert_eq!(r.ok().map(|v| v.to_string()), Some("6.7".into()));
        let r = decimal_op(
            &Value::Int(5),
            &[Value::Int(4), Value::Int(2)],
            Dec::div,
            |x, y| x / y,
        );
        assert_eq!(r.ok().map(|v| v.to_string()), Some("0.625".into()));
        assert_eq!(seq(&[-5]).ok().as_deref(), Some("1 0 -1 -2 -3 -4 -5"));
        assert_eq!(seq(&[3, -3, 2]).ok().as_deref(), Some("3"));
    }
}
