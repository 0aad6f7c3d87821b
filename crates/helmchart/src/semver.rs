//! The part of Masterminds/semver v3 Helm needs for charts: lenient version parsing
//! (`v1.2`, `1`, prerelease, build metadata) and range checks (`^1.2`, `~1.2.3`, `>=1 <2`,
//! `1.2.x`, `1.2 - 1.4`, `||`), used for `Chart.yaml` versions, dependency ranges and
//! `kubeVersion`.

use std::cmp::Ordering;

/// A semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Prerelease (after `-`).
    pub pre: String,
}

impl Version {
    /// Parses leniently as Masterminds' `NewVersion` does.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (core, _meta) = s.split_once('+').unwrap_or((s, ""));
        let (core, pre) = core.split_once('-').unwrap_or((core, ""));
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut nums = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            nums[i] = p.parse().ok()?;
        }
        if !pre.is_empty()
            && !pre
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return None;
        }
        Some(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre: pre.to_string(),
        })
    }

    fn cmp_core(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => cmp_pre(&self.pre, &o.pre),
            })
    }
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    let ap: Vec<&str> = a.split('.').collect();
    let bp: Vec<&str> = b.split('.').collect();
    for (x, y) in ap.iter().zip(bp.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ap.len().cmp(&bp.len())
}

/// One comparison of a range, with wildcard information.
#[derive(Debug, Clone)]
struct Cmp {
    op: String,
    v: Version,
    /// How many components were given (1 for `1`, `1.x`; 2 for `1.2`; 3 for `1.2.3`).
    given: usize,
}

/// Checks `version` against a Masterminds range. An unparsable range or version is `false`.
pub fn satisfies(range: &str, version: &str) -> bool {
    let Some(v) = Version::parse(version) else {
        return false;
    };
    let Some(groups) = parse_range(range) else {
        return false;
    };
    groups
        .iter()
        .any(|and| !and.is_empty() && and.iter().all(|c| check(c, &v)))
}

fn parse_range(range: &str) -> Option<Vec<Vec<Cmp>>> {
    let mut out = Vec::new();
    for alt in range.split("||") {
        let alt = alt.trim();
        let mut cmps = Vec::new();
        // Hyphen ranges "a - b".
        let tokens: Vec<&str> = alt
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .collect();
        let mut i = 0;
        let mut merged: Vec<String> = Vec::new();
        while i < tokens.len() {
            let t = tokens[i];
            if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                merged.push(format!(">={t}"));
                merged.push(format!("<={}", tokens[i + 2]));
                i += 3;
                continue;
            }
            // An operator separated from its version by a space ("> 1.2").
            if matches!(
                t,
                "=" | "!=" | ">" | "<" | ">=" | "<=" | "=>" | "=<" | "~" | "~>" | "^"
            ) && i + 1 < tokens.len()
            {
                merged.push(format!("{t}{}", tokens[i + 1]));
                i += 2;
                continue;
            }
            merged.push(t.to_string());
            i += 1;
        }
        for t in merged {
            cmps.push(parse_cmp(&t)?);
        }
        if cmps.is_empty() {
            return None;
        }
        out.push(cmps);
    }
    Some(out)
}

fn parse_cmp(t: &str) -> Option<Cmp> {
    let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"];
    let mut op = "";
    let mut rest = t;
    for o in ops {
        if let Some(r) = t.strip_prefix(o) {
            op = o;
            rest = r;
            break;
        }
    }
    let rest = rest.trim().strip_prefix('v').unwrap_or(rest.trim());
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, p),
        None => (rest, ""),
    };
    let core = core.split('+').next().unwrap_or(core);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut nums = [0u64; 3];
    let mut given = 0;
    for (i, p) in parts.iter().enumerate() {
        if matches!(*p, "x" | "X" | "*") {
            break;
        }
        nums[i] = p.parse().ok()?;
        given = i + 1;
    }
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        o => o,
    };
    Some(Cmp {
        op: op.to_string(),
        v: Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre: pre.to_string(),
        },
        given,
    })
}

fn check(c: &Cmp, v: &Version) -> bool {
    // Masterminds: a prerelease version only satisfies comparisons that carry a prerelease.
    if !v.pre.is_empty() && c.v.pre.is_empty() {
        return false;
    }
    let base = &c.v;
    let upper = |level: usize| -> Version {
        let mut u = Version {
            major: base.major,
            minor: base.minor,
            patch: 0,
            pre: String::new(),
        };
        match level {
            0 => {
                u.major += 1;
                u.minor = 0;
            }
            _ => u.minor += 1,
        }
        u
    };
    let ge = v.cmp_core(base) != Ordering::Less;
    match c.op.as_str() {
        "" | "=" => match c.given {
            0 => true,
            1 => v.major == base.major,
            2 => v.major == base.major && v.minor == base.minor,
            _ => v.cmp_core(base) == Ordering::Equal,
        },
        "!=" => match c.given {
            0 => false,
            1 => v.major != base.major,
            2 => !(v.major == base.major && v.minor == base.minor),
            _ => v.cmp_core(base) != Ordering::Equal,
        },
        ">" => match c.given {
            0 => false,
            1 => v.major > base.major,
            2 => (v.major, v.minor) > (base.major, base.minor),
            _ => v.cmp_core(base) == Ordering::Greater,
        },
        ">=" => ge,
        "<" => v.cmp_core(base) == Ordering::Less,
        "<=" => match c.given {
            0 => true,
            1 => v.major <= base.major,
            2 => (v.major, v.minor) <= (base.major, base.minor),
            _ => v.cmp_core(base) != Ordering::Greater,
        },
        "~" => {
            // ~1.2.3 := >=1.2.3 <1.3.0 ; ~1 := >=1 <2
            let up = if c.given <= 1 { upper(0) } else { upper(1) };
            ge && v.cmp_core(&up) == Ordering::Less
        }
        "^" => {
            // ^1.2.3 := >=1.2.3 <2 ; ^0.2.3 := >=0.2.3 <0.3 ; ^0.0.3 := >=0.0.3 <0.0.4
            let up = if base.major > 0 || c.given <= 1 {
                upper(0)
            } else if base.minor > 0 || c.given == 2 {
                upper(1)
            } else {
                Version {
                    major: 0,
                    minor: 0,
                    patch: base.patch + 1,
                    pre: String::new(),
                }
            };
            ge && v.cmp_core(&up) == Ordering::Less
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(satisfies("0.1.0", "0.1.0"));
        assert!(satisfies("^1.2.0", "1.9.3"));
        assert!(!satisfies("^1.2.0", "2.0.0"));
        assert!(satisfies("~1.2.0", "1.2.9"));
        assert!(!satisfies("~1.2.0", "1.3.0"));
        assert!(satisfies(">=1.16.0-0", "1.20.0"));
        assert!(satisfies(">= 1.13.0 < 1.21.0", "1.20.0"));
        assert!(satisfies("1.x", "1.5.0"));
        assert!(satisfies("1.2 - 1.4", "1.3.0"));
        assert!(satisfies("<1 || >=2", "2.1.0"));
        assert!(!satisfies("", "1.0.0"));
        assert!(Version::parse("v1.2").is_some());
        assert!(Version::parse("1.2.3.4").is_none());
    }
}
