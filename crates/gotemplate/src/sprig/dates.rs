//! Sprig date functions over Go-like `time.Time` values, with Go's layout-based formatting
//! and parsing ("2006-01-02 15:04:05").

use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::{arg_str, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Object, Value};

/// A Go `time.Time` (instant plus location). `{{ . }}` prints Go's
/// `2006-01-02 15:04:05.999999999 -0700 MST` form.
#[derive(Debug, Clone)]
pub struct GoTime(pub Zoned);

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn abbrev(z: &Zoned) -> String {
    let tz = z.time_zone();
    let info = tz.to_offset_info(z.timestamp());
    let a = info.abbreviation().to_string();
    // Go's fixed zones from parsed offsets have no name and print as -0700.
    if a.is_empty() || (tz.iana_name().is_none() && z.offset().seconds() != 0) {
        let secs = z.offset().seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let s = secs.abs();
        return format!("{sign}{:02}{:02}", s / 3600, s % 3600 / 60);
    }
    a
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TzAbbrev,
    /// (with Z for UTC, colons, has seconds, has minutes)
    Offset(bool, bool, bool, bool),
    /// (fixed zeros?, digits, separator)
    Frac(bool, usize, char),
}

/// Go's `nextStdChunk`: returns (prefix, chunk, suffix).
fn next_chunk(layout: &str) -> Option<(&str, Chunk, &str)> {
    let b = layout.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let rest = &layout[i..];
        let found: Option<(Chunk, usize)> = match b[i] {
            b'J' if rest.starts_with("January") => Some((Chunk::LongMonth, 7)),
            b'J' if rest.starts_with("Jan") => Some((Chunk::Month, 3)),
            b'M' if rest.starts_with("Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if rest.starts_with("Mon") => Some((Chunk::WeekDay, 3)),
            b'M' if rest.starts_with("MST") => Some((Chunk::TzAbbrev, 3)),
            b'0' if rest.starts_with("002") => Some((Chunk::ZeroYearDay, 3)),
            b'0' if rest.len() >= 2 && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                [
                    Chunk::ZeroMonth,
                    Chunk::ZeroDay,
                    Chunk::ZeroHour12,
                    Chunk::ZeroMinute,
                    Chunk::ZeroSecond,
                    Chunk::Year,
                ][(b[i + 1] - b'1') as usize],
                2,
            )),
            b'1' if rest.starts_with("15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if rest.starts_with("2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if rest.starts_with("__2") => Some((Chunk::UnderYearDay, 3)),
            b'_' if rest.starts_with("_2") && !rest.starts_with("_2006") => {
                Some((Chunk::UnderDay, 2))
            }
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if rest.starts_with("PM") => Some((Chunk::PM, 2)),
            b'p' if rest.starts_with("pm") => Some((Chunk::Pm, 2)),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                let r = &rest[1..];
                if r.starts_with("070000") {
                    Some((Chunk::Offset(z, false, true, true), 7))
                } else if r.starts_with("07:00:00") {
                    Some((Chunk::Offset(z, true, true, true), 9))
                } else if r.starts_with("0700") {
                    Some((Chunk::Offset(z, false, false, true), 5))
                } else if r.starts_with("07:00") {
                    Some((Chunk::Offset(z, true, false, true), 6))
                } else if r.starts_with("07") {
                    Some((Chunk::Offset(z, false, false, false), 3))
                } else {
                    None
                }
            }
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((Chunk::Frac(ch == b'0', j - i - 1, b[i] as char), j - i))
                }
            }
            _ => None,
        };
        if let Some((c, n)) = found {
            return Some((&layout[..i], c, &layout[i + n..]));
        }
        i += layout[i..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Go's `Time.Format(layout)`.
pub fn go_format(z: &Zoned, layout: &str) -> String {
    let mut out = String::new();
    let mut l = layout;
    while let Some((pre, c, rest)) = next_chunk(l) {
        out.push_str(pre);
        l = rest;
        let hour = i32::from(z.hour());
        let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
        match c {
            Chunk::LongMonth => out.push_str(MONTHS[(z.month() - 1) as usize]),
            Chunk::Month => out.push_str(&MONTHS[(z.month() - 1) as usize][..3]),
            Chunk::NumMonth => out.push_str(&z.month().to_string()),
            Chunk::ZeroMonth => out.push_str(&format!("{:02}", z.month())),
            Chunk::LongWeekDay => out.push_str(DAYS[z.weekday().to_sunday_zero_offset() as usize]),
            Chunk::WeekDay => {
                out.push_str(&DAYS[z.weekday().to_sunday_zero_offset() as usize][..3])
            }
            Chunk::Day => out.push_str(&z.day().to_string()),
            Chunk::UnderDay => out.push_str(&format!("{:>2}", z.day())),
            Chunk::ZeroDay => out.push_str(&format!("{:02}", z.day())),
            Chunk::UnderYearDay => out.push_str(&format!("{:>3}", z.day_of_year())),
            Chunk::ZeroYearDay => out.push_str(&format!("{:03}", z.day_of_year())),
            Chunk::Hour => out.push_str(&format!("{hour:02}")),
            Chunk::Hour12 => out.push_str(&h12.to_string()),
            Chunk::ZeroHour12 => out.push_str(&format!("{h12:02}")),
            Chunk::Minute => out.push_str(&z.minute().to_string()),
            Chunk::ZeroMinute => out.push_str(&format!("{:02}", z.minute())),
            Chunk::Second => out.push_str(&z.second().to_string()),
            Chunk::ZeroSecond => out.push_str(&format!("{:02}", z.second())),
            Chunk::LongYear => out.push_str(&format!("{:04}", z.year())),
            Chunk::Year => out.push_str(&format!("{:02}", z.year().rem_euclid(100))),
            Chunk::PM => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
            Chunk::Pm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
            Chunk::TzAbbrev => out.push_str(&abbrev(z)),
            Chunk::Offset(zulu, colons, secs, mins) => {
                let off = z.offset().seconds();
                if zulu && off == 0 {
                    out.push('Z');
                    continue;
                }
                let sign = if off < 0 { '-' } else { '+' };
                let a = off.abs();
                out.push(sign);
                out.push_str(&format!("{:02}", a / 3600));
                if mins {
                    if colons {
                        out.push(':');
                    }
                    out.push_str(&format!("{:02}", a % 3600 / 60));
                }
                if secs {
                    if colons {
                        out.push(':');
                    }
                    out.push_str(&format!("{:02}", a % 60));
                }
            }
            Chunk::Frac(fixed, n, sep) => {
                let ns = format!("{:09}", z.subsec_nanosecond());
                let digits = &ns[..n.min(9)];
                if fixed {
                    out.push(sep);
                    out.push_str(digits);
                } else {
                    let t = digits.trim_end_matches('0');
                    if !t.is_empty() {
                        out.push(sep);
                        out.push_str(t);
                    }
                }
            }
        }
    }
    out.push_str(l);
    out
}

fn take_num(s: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// Go's `time.ParseInLocation(layout, value, loc)` for the common layout elements.
pub fn go_parse(layout: &str, value: &str, loc: &TimeZone) -> Result<Zoned, String> {
    let bad = || {
        format!(
            "parsing time {} as {}: cannot parse",
            crate::fmt::quote_go(value),
            crate::fmt::quote_go(layout)
        )
    };
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut l = layout;
    let mut v = value;
    while let Some((pre, c, rest)) = next_chunk(l) {
        v = v.strip_prefix(pre).ok_or_else(bad)?;
        l = rest;
        let r: (i64, &str) = match c {
            Chunk::LongMonth | Chunk::Month => {
                let idx = MONTHS
                    .iter()
                    .position(|m| {
                        let name = if c == Chunk::Month { &m[..3] } else { m };
                        v.len() >= name.len() && v[..name.len()].eq_ignore_ascii_case(name)
                    })
                    .ok_or_else(bad)?;
                let len = if c == Chunk::Month {
                    3
                } else {
                    MONTHS[idx].len()
                };
                month = idx as i64 + 1;
                v = &v[len..];
                continue;
            }
            Chunk::LongWeekDay | Chunk::WeekDay => {
                let idx = DAYS
                    .iter()
                    .position(|d| {
                        let name = if c == Chunk::WeekDay { &d[..3] } else { d };
                        v.len() >= name.len() && v[..name.len()].eq_ignore_ascii_case(name)
                    })
                    .ok_or_else(bad)?;
                v = &v[if c == Chunk::WeekDay {
                    3
                } else {
                    DAYS[idx].len()
                }..];
                continue;
            }
            Chunk::NumMonth | Chunk::Day | Chunk::Hour12 | Chunk::Minute | Chunk::Second => {
                take_num(v, 1, 2).ok_or_else(bad)?
            }
            Chunk::UnderDay => take_num(v.trim_start_matches(' '), 1, 2).ok_or_else(bad)?,
            Chunk::ZeroMonth
            | Chunk::ZeroDay
            | Chunk::Hour
            | Chunk::ZeroHour12
            | Chunk::ZeroMinute
            | Chunk::ZeroSecond
            | Chunk::Year => take_num(v, 2, 2).ok_or_else(bad)?,
            Chunk::LongYear => take_num(v, 4, 4).ok_or_else(bad)?,
            Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                take_num(v.trim_start_matches(' '), 1, 3).ok_or_else(bad)?
            }
            Chunk::PM | Chunk::Pm => {
                let p = v.get(..2).ok_or_else(bad)?;
                pm = Some(p.eq_ignore_ascii_case("PM"));
                if !p.eq_ignore_ascii_case("PM") && !p.eq_ignore_ascii_case("AM") {
                    return Err(bad());
                }
                v = &v[2..];
                continue;
            }
            Chunk::TzAbbrev => {
                let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                if n < 3 {
                    return Err(bad());
                }
                if &v[..n] == "UTC" || &v[..n] == "GMT" {
                    offset = Some(0);
                }
                v = &v[n..];
                continue;
            }
            Chunk::Offset(zulu, colons, secs, mins) => {
                if zulu && v.starts_with('Z') {
                    offset = Some(0);
                    v = &v[1..];
                    continue;
                }
                let sign = match v.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                let (h, mut r) = take_num(&v[1..], 2, 2).ok_or_else(bad)?;
                let mut total = h * 3600;
                if mins {
                    if colons {
                        r = r.strip_prefix(':').ok_or_else(bad)?;
                    }
                    let (m, r2) = take_num(r, 2, 2).ok_or_else(bad)?;
                    total += m * 60;
                    r = r2;
                }
                if secs {
                    if colons {
                        r = r.strip_prefix(':').ok_or_else(bad)?;
                    }
                    let (s, r2) = take_num(r, 2, 2).ok_or_else(bad)?;
                    total += s;
                    r = r2;
                }
                offset = Some((sign * total) as i32);
                v = r;
                continue;
            }
            Chunk::Frac(_, _, sep) => {
                let r = v.strip_prefix(sep).ok_or_else(bad)?;
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                let digits = format!("{:0<9}", &r[..n.min(9)]);
                nanos = digits.parse().map_err(|_| bad())?;
                v = &r[n..];
                continue;
            }
        };
        let (n, rest) = r;
        v = rest;
        match c {
            Chunk::NumMonth | Chunk::ZeroMonth => month = n,
            Chunk::Day | Chunk::UnderDay | Chunk::ZeroDay => day = n,
            Chunk::Hour | Chunk::Hour12 | Chunk::ZeroHour12 => hour = n,
            Chunk::Minute | Chunk::ZeroMinute => min = n,
            Chunk::Second | Chunk::ZeroSecond => sec = n,
            Chunk::LongYear => year = n,
            Chunk::Year => year = if n >= 69 { 1900 + n } else { 2000 + n },
            _ => {}
        }
    }
    if v != l {
        return Err(bad());
    }
    if let Some(p) = pm {
        if p && hour < 12 {
            hour += 12;
        } else if !p && hour == 12 {
            hour = 0;
        }
    }
    let dt = jiff::civil::DateTime::new(
        i16::try_from(year).map_err(|_| bad())?,
        i8::try_from(month).map_err(|_| bad())?,
        i8::try_from(day).map_err(|_| bad())?,
        i8::try_from(hour).map_err(|_| bad())?,
        i8::try_from(min).map_err(|_| bad())?,
        i8::try_from(sec).map_err(|_| bad())?,
        i32::try_from(nanos).map_err(|_| bad())?,
    )
    .map_err(|e| format!("parsing time {}: {e}", crate::fmt::quote_go(value)))?;
    let tz = match offset {
        Some(0) if loc.to_offset(Timestamp::UNIX_EPOCH).seconds() != 0 => TimeZone::UTC,
        Some(o) => match jiff::tz::Offset::from_seconds(o) {
            Ok(off) => TimeZone::fixed(off),
            Err(_) => return Err(bad()),
        },
        None => loc.clone(),
    };
    dt.to_zoned(tz).map_err(|e| e.to_string())
}

impl GoTime {
    fn value(z: Zoned) -> Value {
        Value::Object(Arc::new(GoTime(z)))
    }
}

impl Object for GoTime {
    fn type_name(&self) -> String {
        "time.Time".into()
    }
    fn format(&self) -> String {
        go_format(&self.0, "2006-01-02 15:04:05.999999999 -0700 MST")
    }
    fn field(&self, name: &str) -> Option<Value> {
        let z = &self.0;
        Some(match name {
            "Unix" => Value::Int(z.timestamp().as_second()),
            "UnixNano" => {
                Value::Int(i64::try_from(z.timestamp().as_nanosecond()).unwrap_or(i64::MAX))
            }
            "Year" => Value::Int(i64::from(z.year())),
            "Day" => Value::Int(i64::from(z.day())),
            "Hour" => Value::Int(i64::from(z.hour())),
            "Minute" => Value::Int(i64::from(z.minute())),
            "Second" => Value::Int(i64::from(z.second())),
            "YearDay" => Value::Int(i64::from(z.day_of_year())),
            "UTC" => GoTime::value(z.with_time_zone(TimeZone::UTC)),
            "Local" => GoTime::value(z.with_time_zone(TimeZone::system())),
            "String" => Value::from(self.format()),
            _ => return None,
        })
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Format" => Some(match args {
                [Value::String(l)] => Ok(Value::from(go_format(&self.0, l))),
                _ => Err("wrong arguments for Format: want a layout string".into()),
            }),
            _ => None,
        }
    }
    fn to_json_value(&self) -> Option<Value> {
        Some(Value::from(go_format(
            &self.0,
            "2006-01-02T15:04:05.999999999Z07:00",
        )))
    }
    fn equals(&self, other: &dyn Object) -> Option<bool> {
        other
            .as_any()
            .downcast_ref::<GoTime>()
            .map(|o| o.0.timestamp() == self.0.timestamp() && o.0.offset() == self.0.offset())
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn as_time(v: &Value) -> Option<Zoned> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<GoTime>().map(|t| t.0.clone()),
        Value::Int(i) => Timestamp::from_second(*i)
            .ok()
            .map(|t| t.to_zoned(TimeZone::system())),
        _ => None,
    }
}

fn load_location(zone: &str) -> TimeZone {
    match zone {
        "" | "UTC" => TimeZone::UTC,
        "Local" => TimeZone::system(),
        z => TimeZone::get(z).unwrap_or(TimeZone::UTC),
    }
}

fn now() -> Zoned {
    Zoned::now()
}

fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    let t = as_time(date).unwrap_or_else(now);
    go_format(&t.with_time_zone(load_location(zone)), layout)
}

fn need_time(i: usize, v: &Value) -> Result<Zoned, FuncError> {
    match v {
        Value::Object(o) => match o.as_any().downcast_ref::<GoTime>() {
            Some(t) => Ok(t.0.clone()),
            None => Err(super::wrong_type_at(i, "time.Time", v)),
        },
        v => Err(super::wrong_type_at(i, "time.Time", v)),
    }
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {}", crate::fmt::quote_go(s));
    let (neg, mut r) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if r == "0" {
        return Ok(0);
    }
    if r.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !r.is_empty() {
        let n = r
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if n == 0 {
            return Err(err());
        }
        let num: f64 = r[..n].parse().map_err(|_| err())?;
        r = &r[n..];
        let u = r
            .char_indices()
            .take_while(|(_, c)| !c.is_ascii_digit() && *c != '.')
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        let unit = match &r[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    crate::fmt::quote_go(s)
                ));
            }
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::fmt::quote_go(other),
                    crate::fmt::quote_go(s)
                ));
            }
        };
        total += num * unit;
        r = &r[u..];
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let v = total.round() as i64;
    Ok(if neg { -v } else { v })
}

/// Go's `time.Duration.String()`.
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    let frac = |v: u64, prec: u32| -> (String, u64) {
        let p = 10u64.pow(prec);
        let (int, fr) = (v / p, v % p);
        if fr == 0 {
            return (String::new(), int);
        }
        let s = format!("{fr:0width$}", width = prec as usize);
        (format!(".{}", s.trim_end_matches('0')), int)
    };
    if u < 1_000_000_000 {
        if u < 1_000 {
            out = format!("{u}ns");
        } else if u < 1_000_000 {
            let (f, i) = frac(u, 3);
            out = format!("{i}{f}µs");
        } else {
            let (f, i) = frac(u, 6);
            out = format!("{i}{f}ms");
        }
    } else {
        let (f, secs) = frac(u, 9);
        let s = secs % 60;
        let mins = secs / 60;
        out.push_str(&format!("{s}{f}s"));
        if mins > 0 {
            let m = mins % 60;
            let h = mins / 60;
            out = format!("{m}m{out}");
            if h > 0 {
                out = format!("{h}h{out}");
            }
        }
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn duration_round(v: &Value) -> String {
    let d: i64 = match v {
        Value::String(s) => parse_duration(s).unwrap_or(0),
        Value::Int(i) => *i,
        Value::Object(_) => match as_time(v) {
            Some(t) => (Timestamp::now().as_nanosecond() - t.timestamp().as_nanosecond())
                .clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            None => 0,
        },
        _ => 0,
    };
    let u = d.unsigned_abs();
    let second = 1_000_000_000u64;
    let (minute, hour) = (60 * second, 3600 * second);
    let (day, month, year) = (24 * hour, 30 * 24 * hour, 365 * 24 * hour);
    if u > year {
        format!("{}y", u / year)
    } else if u > month {
        format!("{}mo", u / month)
    } else if u > day {
        format!("{}d", u / day)
    } else if u > hour {
        format!("{}h", u / hour)
    } else if u > minute {
        format!("{}m", u / minute)
    } else if u > second {
        format!("{}s", u / second)
    } else {
        "0s".into()
    }
}

pub(super) fn register(t: &mut Templates) {
    func(t, "now", 0, Some(0), |_| Ok(GoTime::value(now())));
    func(t, "date", 2, Some(2), |a| {
        Ok(Value::from(date_in_zone(arg_str(a, 0)?, &a[1], "Local")))
    });
    for name in ["dateInZone", "date_in_zone"] {
        func(t, name, 3, Some(3), |a| {
            Ok(Value::from(date_in_zone(
                arg_str(a, 0)?,
                &a[1],
                arg_str(a, 2)?,
            )))
        });
    }
    func(t, "htmlDate", 1, Some(1), |a| {
        Ok(Value::from(date_in_zone("2006-01-02", &a[0], "Local")))
    });
    func(t, "htmlDateInZone", 2, Some(2), |a| {
        Ok(Value::from(date_in_zone(
            "2006-01-02",
            &a[0],
            arg_str(a, 1)?,
        )))
    });
    func(t, "toDate", 2, Some(2), |a| {
        let (layout, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(GoTime::value(
            go_parse(layout, s, &TimeZone::system()).unwrap_or_else(|_| zero_time()),
        ))
    });
    func(t, "mustToDate", 2, Some(2), |a| {
        let (layout, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        go_parse(layout, s, &TimeZone::system())
            .map(GoTime::value)
            .map_err(FuncError::Call)
    });
    func(t, "unixEpoch", 1, Some(1), |a| {
        Ok(Value::from(
            need_time(0, &a[0])?.timestamp().as_second().to_string(),
        ))
    });
    for (name, must) in [
        ("dateModify", false),
        ("date_modify", false),
        ("mustDateModify", true),
        ("must_date_modify", true),
    ] {
        func(t, name, 2, Some(2), move |a| {
            let m = arg_str(a, 0)?;
            let z = need_time(1, &a[1])?;
            match parse_duration(m) {
                Ok(ns) => z
                    .checked_add(jiff::SignedDuration::from_nanos(ns))
                    .map(GoTime::value)
                    .map_err(|e| FuncError::Call(e.to_string())),
                Err(e) if must => Err(FuncError::Call(e)),
                Err(_) => Ok(GoTime::value(z)),
            }
        });
    }
    func(t, "ago", 1, Some(1), |a| {
        let t = as_time(&a[0]).unwrap_or_else(now);
        let ns = Timestamp::now().as_nanosecond() - t.timestamp().as_nanosecond();
        let secs = (ns as f64 / 1e9).round() as i64;
        Ok(Value::from(duration_string(
            secs.saturating_mul(1_000_000_000),
        )))
    });
    func(t, "duration", 1, Some(1), |a| {
        // Sprig accepts only a string or an int64; a template integer constant is a Go
        // `int`, so `duration 95` is "0s" in Helm, and so it is here.
        let n = match &a[0] {
            Value::String(s) => s.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        Ok(Value::from(duration_string(
            n.saturating_mul(1_000_000_000),
        )))
    });
    func(t, "durationRound", 1, Some(1), |a| {
        Ok(Value::from(duration_round(&a[0])))
    });
}

/// Go's zero `time.Time` (0001-01-01 00:00:00 UTC).
fn zero_time() -> Zoned {
    jiff::civil::DateTime::new(1, 1, 1, 0, 0, 0, 0)
        .and_then(|d| d.to_zoned(TimeZone::UTC))
        .unwrap_or_else(|_| Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_layouts() {
        let z = go_parse("2006-01-02", "2017-12-31", &TimeZone::UTC)
            .map(|z| go_format(&z, "02/01/2006 Mon Jan 3PM -07:00 MST"));
        assert_eq!(
            z.ok().as_deref(),
            Some("31/12/2017 Sun Dec 12AM +00:00 UTC")
        );
        let z = Timestamp::from_second(1560458379).map(|t| t.to_zoned(TimeZone::UTC));
        let s = z.map(|z| go_format(&z, "02 Jan 06 15:04 -0700"));
        assert_eq!(s.ok().as_deref(), Some("13 Jun 19 20:39 +0000"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration_string(61_000_000_000), "1m1s");
        assert_eq!(duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration_string(1_500_000), "1.5ms");
        assert_eq!(parse_duration("2h5s").ok(), Some(7_205_000_000_000));
        assert_eq!(duration_round(&Value::str("24h5s")), "1d");
        assert_eq!(duration_round(&Value::str("2400h5s")), "3mo");
    }
}
