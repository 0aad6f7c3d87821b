//! Go's `fmt` package as templates use it: `Sprint`, `Sprintln`, `Sprintf` with Go's verbs,
//! flags and error notations (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA ...)`), and
//! `strconv.Quote`.

use crate::value::{Value, shortest_digits, write_v};

/// Go's `strconv.Quote`: a double-quoted Go string literal.
pub fn quote_go(s: &str) -> String {
    quote_with(s, '"', false)
}

fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        if c == q || c == '\\' {
            out.push('\\');
            out.push(c);
            continue;
        }
        if ascii_only {
            if c.is_ascii() && !c.is_ascii_control() {
                out.push(c);
                continue;
            }
        } else if is_print(c) {
            out.push(c);
            continue;
        }
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(q);
    out
}

/// Approximation of Go's `unicode.IsPrint` (letters, marks, numbers, punctuation, symbols and
/// the ASCII space).
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Unassigned/format/private-use ranges that Go does not consider printable.
    !matches!(u, 0xad | 0x600..=0x605 | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f
        | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xd800..=0xdfff | 0xfffe | 0xffff)
}

fn is_string(v: &Value) -> bool {
    matches!(v, Value::String(_))
}

/// Go's `fmt.Sprint`: operands formatted with `%v`, a space added between operands when
/// neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !is_string(a) && !is_string(&args[i - 1]) {
            out.push(' ');
        }
        write_v(&mut out, a, 0);
    }
    out
}

/// Go's `fmt.Sprintln`: operands separated by spaces, newline appended.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, a, 0);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

impl Flags {
    fn pad(&self, out: &mut String, s: &str) {
        let n = s.chars().count();
        let w = self.wid.unwrap_or(0);
        if n >= w {
            out.push_str(s);
            return;
        }
        let fill = w - n;
        if self.minus {
            out.push_str(s);
            out.extend(std::iter::repeat_n(' ', fill));
        } else {
            let c = if self.zero { '0' } else { ' ' };
            out.extend(std::iter::repeat_n(c, fill));
            out.push_str(s);
        }
    }
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let b = format.as_bytes();
    let mut i = 0;
    let mut argn = 0;
    let mut reordered = false;
    let mut good_argnum = true;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // skip %
        let mut f = Flags::default();
        while i < b.len() {
            match b[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus,
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        // Argument index.
        let (na, ni, ok) = arg_number(argn, format, i, args.len());
        argn = na;
        i = ni;
        if !ok {
            good_argnum = false;
        } else if ni != i {
            reordered = true;
        }
        // Width.
        if i < b.len() && b[i] == b'*' {
            i += 1;
            match args.get(argn) {
                Some(Value::Int(n)) => {
                    let n = *n;
                    if n < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.wid = Some(n.unsigned_abs().min(1_000_000) as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
        } else {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i > s {
                f.wid = format[s..i].parse::<usize>().ok().map(|w| w.min(1_000_000));
            }
        }
        // Precision.
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match args.get(argn) {
                    Some(Value::Int(n)) if *n >= 0 => f.prec = Some((*n).min(1_000_000) as usize),
                    _ => {
                        out.push_str("%!(BADPREC)");
                    }
                }
                argn += 1;
            } else {
                let s = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                f.prec = Some(format[s..i].parse::<usize>().unwrap_or(0).min(1_000_000));
            }
        }
        let (na, ni, ok) = arg_number(argn, format, i, args.len());
        if ni != i {
            reordered = true;
        }
        argn = na;
        i = ni;
        if !ok {
            good_argnum = false;
        }
        if i >= b.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('v');
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !good_argnum {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            good_argnum = true;
            continue;
        }
        let Some(arg) = args.get(argn) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argn += 1;
        print_arg(&mut out, arg, verb, f, 0);
    }
    if !reordered && argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argn..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            if a.is_nil() {
                out.push_str("<nil>");
            } else {
                out.push_str(&a.type_name());
                out.push('=');
                print_arg(&mut out, a, 'v', Flags::default(), 0);
            }
        }
        out.push(')');
    }
    out
}

/// Parses an `[n]` argument index at `i`; returns (new arg number, new index, ok).
fn arg_number(argn: usize, format: &str, i: usize, nargs: usize) -> (usize, usize, bool) {
    let b = format.as_bytes();
    if i >= b.len() || b[i] != b'[' {
        return (argn, i, true);
    }
    let Some(close) = format[i..].find(']') else {
        return (argn, i, false);
    };
    let inner = &format[i + 1..i + close];
    match inner.parse::<usize>() {
        Ok(n) if n >= 1 && n <= nargs => (n - 1, i + close + 1, true),
        _ => (argn, i + close + 1, false),
    }
}

/// Go's `badVerb`: the value is printed with `%v` but the current width/flags.
fn bad_verb_f(out: &mut String, v: &Value, verb: char, f: Flags) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if v.is_nil() {
        out.push_str("<nil>");
    } else {
        out.push_str(&v.type_name());
        out.push('=');
        print_arg(out, v, 'v', f, 0);
    }
    out.push(')');
}

fn print_arg(out: &mut String, v: &Value, verb: char, f: Flags, depth: usize) {
    if depth > 100 || out.len() > crate::value::MAX_PRINT_BYTES {
        out.push_str("...");
        return;
    }
    if verb == 'T' {
        f.pad(out, &v.type_name());
        return;
    }
    match v {
        // Go prints a nil inside a container as <nil> whatever the verb.
        Value::Missing | Value::Nil if depth > 0 => f.pad(out, "<nil>"),
        Value::Missing | Value::Nil => match verb {
            'v' | 'T' => f.pad(out, "<nil>"),
            _ => bad_verb_f(out, v, verb, f),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => f.pad(out, if *b { "true" } else { "false" }),
            _ => bad_verb_f(out, v, verb, f),
        },
        Value::Int(i) => fmt_integer(out, i128::from(*i), verb, f, v),
        Value::Uint(u) => fmt_integer(out, i128::from(*u), verb, f, v),
        Value::Float(x) => fmt_float(out, *x, verb, f, v),
        Value::Complex(re, im) => match verb {
            'v' | 'b' | 'g' | 'G' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' => {
                let mut s = String::from("(");
                let mut g = f;
                g.wid = None;
                fmt_float(&mut s, *re, verb, g, v);
                g.plus = true;
                fmt_float(&mut s, *im, verb, g, v);
                s.push_str("i)");
                let mut w = f;
                w.zero = false;
                w.pad(out, &s);
            }
            _ => bad_verb_f(out, v, verb, f),
        },
        Value::String(s) => fmt_string(out, s, verb, f, v),
        Value::Bytes(bs) => match verb {
            's' | 'q' | 'x' | 'X' => {
                let s = String::from_utf8_lossy(bs);
                if verb == 'x' || verb == 'X' {
                    fmt_hex_bytes(out, bs, verb == 'X', f);
                } else {
                    fmt_string(out, &s, verb, f, v);
                }
            }
            _ => {
                out.push('[');
                for (k, x) in bs.iter().enumerate() {
                    if k > 0 {
                        out.push(' ');
                    }
                    fmt_integer(out, i128::from(*x), verb, f, &Value::Int(i64::from(*x)));
                }
                out.push(']');
            }
        },
        Value::List(l) => {
            out.push('[');
            for (k, x) in l.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                print_arg(out, x, verb, f, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (k, (key, x)) in m.read().iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                fmt_string(out, key, verb, f, &Value::str(key));
                out.push(':');
                print_arg(out, x, verb, f, depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_string(out, &o.format(), verb, f, v),
            _ => bad_verb_f(out, v, verb, f),
        },
    }
}

fn fmt_hex_bytes(out: &mut String, bs: &[u8], upper: bool, f: Flags) {
    let bs = match f.prec {
        Some(p) if p < bs.len() => &bs[..p],
        _ => bs,
    };
    let mut s = String::new();
    for (k, b) in bs.iter().enumerate() {
        if f.space && k > 0 {
            s.push(' ');
        }
        if f.sharp && (f.space || k == 0) {
            s.push_str(if upper { "0X" } else { "0x" });
        }
        if upper {
            s.push_str(&format!("{b:02X}"));
        } else {
            s.push_str(&format!("{b:02x}"));
        }
    }
    f.pad(out, &s);
}

fn fmt_string(out: &mut String, s: &str, verb: char, f: Flags, v: &Value) {
    let truncated: String;
    let s = match f.prec {
        Some(p) if verb != 'x' && verb != 'X' => {
            truncated = s.chars().take(p).collect();
            &truncated
        }
        _ => s,
    };
    match verb {
        'v' | 's' => f.pad(out, s),
        'q' => {
            if f.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                f.pad(out, &format!("`{s}`"));
            } else {
                f.pad(out, &quote_with(s, '"', f.plus));
            }
        }
        'x' | 'X' => fmt_hex_bytes(out, s.as_bytes(), verb == 'X', f),
        _ => bad_verb_f(out, v, verb, f),
    }
}

fn fmt_integer(out: &mut String, n: i128, verb: char, f: Flags, v: &Value) {
    let (base, upper) = match verb {
        'v' | 'd' => (10, false),
        'b' => (2, false),
        'o' | 'O' => (8, false),
        'x' => (16, false),
        'X' => (16, true),
        'c' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            f.pad(out, &c.to_string());
            return;
        }
        'q' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            let q = quote_with(&c.to_string(), '\'', f.plus);
            f.pad(out, &q);
            return;
        }
        'U' => {
            let mut s = format!("U+{:04X}", n.max(0));
            if f.sharp
                && let Some(c) = u32::try_from(n).ok().and_then(char::from_u32)
                && is_print(c)
            {
                s.push_str(&format!(" '{c}'"));
            }
            f.pad(out, &s);
            return;
        }
        _ => {
            bad_verb_f(out, v, verb, f);
            return;
        }
    };
    let neg = n < 0;
    let mag = n.unsigned_abs();
    let mut digits = match base {
        2 => format!("{mag:b}"),
        8 => format!("{mag:o}"),
        16 if upper => format!("{mag:X}"),
        16 => format!("{mag:x}"),
        _ => mag.to_string(),
    };
    // Precision: minimum digits; zero padding with width acts as precision.
    let mut prec = f.prec;
    let mut f2 = f;
    if prec.is_none() && f.zero && !f.minus {
        if let Some(w) = f.wid {
            let mut w = w;
            if neg || f.plus || f.space {
                w = w.saturating_sub(1);
            }
            if f.sharp && base != 10 {
                w = w.saturating_sub(if base == 8 { 1 } else { 2 });
            }
            prec = Some(w);
            f2.wid = None;
        }
    } else if prec.is_some() {
        f2.zero = false;
    }
    if let Some(p) = prec {
        if p == 0 && mag == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    } else if f.plus {
        s.push('+');
    } else if f.space {
        s.push(' ');
    }
    if f.sharp {
        match base {
            2 => s.push_str("0b"),
            8 if !digits.starts_with('0') => s.push('0'),
            16 => s.push_str(if upper { "0X" } else { "0x" }),
            _ => {}
        }
    }
    if verb == 'O' {
        s.push_str("0o");
    }
    s.push_str(&digits);
    f2.pad(out, &s);
}

/// Go's `strconv.FormatFloat(x, fmt, prec, 64)` for fmt in `e E f F g G`, prec -1 = shortest.
pub fn format_float(x: f64, verb: char, prec: Option<usize>) -> String {
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
    match verb {
        'f' | 'F' => match prec {
            Some(p) => format!("{x:.p$}"),
            None => {
                // Shortest digits in %f form.
                let (d, dp) = shortest_digits(x);
                let neg = if x.is_sign_negative() && x != 0.0 {
                    "-"
                } else {
                    ""
                };
                let nd = d.len() as i32;
                if x == 0.0 {
                    return "0".into();
                }
                if dp <= 0 {
                    format!("{neg}0.{}{d}", "0".repeat((-dp) as usize))
                } else if dp >= nd {
                    format!("{neg}{d}{}", "0".repeat((dp - nd) as usize))
                } else {
                    format!("{neg}{}.{}", &d[..dp as usize], &d[dp as usize..])
                }
            }
        },
        'e' | 'E' => {
            let s = match prec {
                Some(p) => format!("{x:.p$e}"),
                None => format!("{x:e}"),
            };
            let s = go_exponent(&s);
            if verb == 'E' { s.to_uppercase() } else { s }
        }
        _ => {
            // %g
            let s = match prec {
                None => crate::value::format_float_shortest(x, 'e', 21),
                Some(p) => {
                    let p = if p == 0 { 1 } else { p };
                    // Round to p significant digits, then choose %e or %f like Go.
                    let e = format!("{x:.prec$e}", prec = p - 1);
                    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
                    let exp: i32 = exp.parse().unwrap_or(0);
                    let mant = mant.to_string();
                    let eprec = p as i32;
                    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
                    let digits = digits.trim_end_matches('0');
                    let digits = if digits.is_empty() { "0" } else { digits };
                    let neg = if x.is_sign_negative() { "-" } else { "" };
                    if exp < -4 || exp >= eprec {
                        let m = if digits.len() > 1 {
                            format!("{}.{}", &digits[..1], &digits[1..])
                        } else {
                            digits.to_string()
                        };
                        go_exponent(&format!("{neg}{m}e{exp}"))
                    } else {
                        let dp = exp + 1;
                        let nd = digits.len() as i32;
                        if dp <= 0 {
                            format!("{neg}0.{}{digits}", "0".repeat((-dp) as usize))
                        } else if dp >= nd {
                            format!("{neg}{digits}{}", "0".repeat((dp - nd) as usize))
                        } else {
                            format!("{neg}{}.{}", &digits[..dp as usize], &digits[dp as usize..])
                        }
                    }
                }
            };
            if prec.is_none() {
                // shortest %g uses exponent threshold 21 only for %v? No: Go uses 6 for 'g'
                // with shortest precision as well; recompute with the proper threshold.
                let s2 = crate::value::format_float_shortest(x, 'e', 6);
                let _ = s;
                return if verb == 'G' { s2.to_uppercase() } else { s2 };
            }
            if verb == 'G' { s.to_uppercase() } else { s }
        }
    }
}

/// Go's `strconv.FormatFloat(x, 'x', prec, 64)`: `0x1.8p+00`.
fn hex_float(x: f64, prec: Option<usize>) -> String {
    if !x.is_finite() {
        return crate::value::format_float_g(x);
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        let frac = match prec {
            Some(p) if p > 0 => format!(".{}", "0".repeat(p)),
            _ => String::new(),
        };
        return format!("{sign}0x0{frac}p+00");
    }
    let bits = x.abs().to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        // Subnormal: normalise so the leading 1 is implicit.
        let shift = mant.leading_zeros() - 11;
        mant = (mant << shift) & ((1u64 << 52) - 1);
        exp = 1 - shift as i32;
    }
    exp -= 1023;
    // 52 bits = 13 hex digits after the point.
    let mut digits = format!("{mant:013x}");
    let mut lead = 1u64;
    if let Some(p) = prec
        && p < 13
    {
        // Round half to even at hex digit p.
        let shift = (13 - p) * 4;
        let full = (1u64 << 52) | mant;
        let half = 1u64 << (shift - 1);
        let rem = full & ((1u64 << shift) - 1);
        let mut kept = full >> shift;
        if rem > half || (rem == half && kept & 1 == 1) {
            kept += 1;
        }
        if kept >> (p * 4) >= 2 {
            kept >>= 1;
            exp += 1;
        }
        lead = kept >> (p * 4);
        let frac = kept & ((1u64 << (p * 4)) - 1);
        digits = if p == 0 {
            String::new()
        } else {
            format!("{frac:0w$x}", w = p)
        };
    } else {
        let d = digits.trim_end_matches('0').to_string();
        digits = match prec {
            Some(p) => format!("{d:0<p$}"),
            None => d,
        };
    }
    let frac = if digits.is_empty() {
        String::new()
    } else {
        format!(".{digits}")
    };
    let (es, ea) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
    format!("{sign}0x{lead}{frac}p{es}{ea:02}")
}

/// Rust prints exponents as `e6`/`e-7`; Go as `e+06`/`e-07`.
fn go_exponent(s: &str) -> String {
    let Some((m, e)) = s.split_once('e') else {
        return s.to_string();
    };
    let (sign, digits) = match e.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', e.trim_start_matches('+')),
    };
    let digits = if digits.len() < 2 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    format!("{m}e{sign}{digits}")
}

fn fmt_float(out: &mut String, x: f64, verb: char, f: Flags, v: &Value) {
    let (verb, prec) = match verb {
        'v' => ('g', f.prec),
        'e' | 'E' | 'f' | 'F' => (verb, Some(f.prec.unwrap_or(6))),
        'g' | 'G' => (verb, f.prec),
        'x' | 'X' | 'b' => {
            // Rare hex/binary float forms: print via %v to stay readable.
            (verb, f.prec)
        }
        _ => {
            bad_verb_f(out, v, verb, f);
            return;
        }
    };
    let mut num = if verb == 'x' || verb == 'X' {
        let h = hex_float(x, f.prec);
        if verb == 'X' { h.to_uppercase() } else { h }
    } else if verb == 'b' {
        crate::value::format_float_g(x)
    } else {
        format_float(x, verb, prec)
    };
    if f.sharp && !num.contains('.') && verb != 'b' && !num.contains("Inf") && num != "NaN" {
        // '#' forces a decimal point.
        match num.find(['e', 'E']) {
            Some(p) => num.insert(p, '.'),
            None => num.push('.'),
        }
    }
    let (sign, body) = if let Some(r) = num.strip_prefix('-') {
        ("-", r.to_string())
    } else if let Some(r) = num.strip_prefix('+') {
        ("+", r.to_string())
    } else {
        ("+", num.clone())
    };
    let is_special = body == "Inf" || body == "NaN";
    let sign = if sign == "+" {
        if f.plus {
            "+"
        } else if f.space {
            " "
        } else {
            ""
        }
    } else {
        "-"
    };
    let sign = if body == "NaN" && !f.plus && !f.space {
        ""
    } else {
        sign
    };
    if is_special {
        let mut f2 = f;
        f2.zero = false;
        f2.pad(out, &format!("{sign}{body}"));
        return;
    }
    if f.zero
        && !f.minus
        && let Some(w) = f.wid
        && w > sign.len() + body.len()
    {
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', w - sign.len() - body.len()));
        out.push_str(&body);
        return;
    }
    f.pad(out, &format!("{sign}{body}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_basics() {
        let a = [Value::Int(42), Value::str("hi"), Value::Float(2.5)];
        assert_eq!(sprintf("%d %s %.2f", &a), "42 hi 2.50");
        assert_eq!(sprintf("%5d|%-5s|%05.1f", &a), "   42|hi   |002.5");
        assert_eq!(
            sprintf(
                "%x %X %o %b",
                &[
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5)
                ]
            ),
            "ff FF 10 101"
        );
        assert_eq!(sprintf("%q", &[Value::str("a\"b\n")]), "\"a\\\"b\\n\"");
        assert_eq!(sprintf("%d", &[Value::str("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            sprintf("%d", &[Value::Int(1), Value::str("x")]),
            "1%!(EXTRA string=x)"
        );
        assert_eq!(
            sprintf("%v %v", &[Value::Nil, Value::Float(1e6)]),
            "<nil> 1e+06"
        );
        assert_eq!(
            sprintf("%T %T", &[Value::Int(1), Value::Float(1.0)]),
            "int float64"
        );
        assert_eq!(sprintf("%e", &[Value::Float(1234.5678)]), "1.234568e+03");
        assert_eq!(sprintf("%g", &[Value::Float(1234.5678)]), "1234.5678");
        assert_eq!(sprintf("%6.2f%%", &[Value::Float(99.5)]), " 99.50%");
        assert_eq!(sprintf("%t", &[Value::Bool(true)]), "true");
        assert_eq!(sprintf("%c%c", &[Value::Int(72), Value::Int(105)]), "Hi");
        assert_eq!(sprintf("%+d", &[Value::Int(5)]), "+5");
        assert_eq!(
            sprintf("%x %X", &[Value::Float(1.5), Value::Float(-0.1)]),
            "0x1.8p+00 -0X1.999999999999AP-04"
        );
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(sprint(&[Value::str("a"), Value::Int(2)]), "a2");
        assert_eq!(sprint(&[Value::str("a"), Value::str("b")]), "ab");
    }
}
