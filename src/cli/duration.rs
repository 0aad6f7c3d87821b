//! Durations on the command line: `5s`, `2m`, `1h30m`, `250ms`, as Go's `time.ParseDuration`
//! accepts them (what `argocd --retry-backoff-duration` takes), without signs or fractions of
//! units larger than a second being needed in practice (fractions are still accepted: `1.5s`).

use std::time::Duration;

/// A duration that could not be parsed; the message says what is wrong and shows valid forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason}\n  use a number with a unit, e.g. 5s, 2m, 1h30m, 250ms"
)]
pub struct DurationError {
    pub input: String,
    pub reason: String,
}

/// Parse `5s`, `2m`, `1h30m`, `1.5s`, `100ms`, `0`. A bare number other than 0 is refused:
/// seconds or minutes would be a guess.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason: String| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty".into()));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(err("negative durations are not allowed".into()));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err(format!("expected a number at {rest:?}")));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| err(format!("{:?} is not a number", &rest[..num_len])))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let seconds = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            "" => return Err(err(format!("missing unit after {number}"))),
            other => {
                return Err(err(format!(
                    "unknown unit {other:?} (units: h, m, s, ms, us, ns)"
                )));
            }
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(err("too large".into()));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Format like Go's `Duration.String` for whole seconds: `1h30m0s`, `2m0s`, `5s`; sub-second
/// values as milliseconds.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration(" 3m ").unwrap(), Duration::from_secs(180));
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        let e = parse_duration("5").unwrap_err();
        assert!(e.to_string().contains("missing unit"), "{e}");
        let e = parse_duration("5x").unwrap_err();
        assert!(e.to_string().contains("unknown unit \"x\""), "{e}");
        let e = parse_duration("").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = parse_duration("-5s").unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
        let e = parse_duration("m").unwrap_err();
        assert!(e.to_string().contains("expected a number"), "{e}");
        let e = parse_duration("1..2s").unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
        assert!(e.to_string().contains("e.g. 5s"), "{e}");
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }
}
