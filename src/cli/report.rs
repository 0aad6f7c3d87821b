//! How the binary reports a failed command on stderr.
//!
//! A plain `error: ...` keeping the messages' own fix lines and nothing else: no ANSI colour
//! codes, no source locations, no backtrace hints, which are noise to an operator, garble logs
//! and, in a terminal, bury the fix under a report (issue 22: started outside a repository, the
//! hint was lost under colour-eyre's sections). `--log-level debug` (or trace) and
//! `RUST_BACKTRACE` ask for colour-eyre's rich report. The exit status is the same either way.

/// Which form of report to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStyle {
    /// colour-eyre's report (sections, colours).
    Rich,
    /// `error: ...` with the fix lines, nothing else.
    Plain,
}

/// What decides the style, gathered from the process so the decision itself is testable.
#[derive(Debug, Clone, Default)]
pub struct ReportEnv {
    pub rust_backtrace: Option<String>,
    /// `--log-level` / `SEXTANT_LOG`.
    pub log_level: String,
}

impl ReportEnv {
    pub fn from_process(log_level: &str) -> Self {
        Self {
            rust_backtrace: std::env::var("RUST_BACKTRACE")
                .or_else(|_| std::env::var("RUST_LIB_BACKTRACE"))
                .ok(),
            log_level: log_level.to_string(),
        }
    }

    pub fn style(&self) -> ReportStyle {
        let backtrace = self
            .rust_backtrace
            .as_deref()
            .is_some_and(|v| !v.is_empty() && v != "0");
        let level = self.log_level.to_ascii_lowercase();
        let debug = level.contains("debug") || level.contains("trace");
        if backtrace || debug {
            return ReportStyle::Rich;
        }
        ReportStyle::Plain
    }
}

/// `error: outer: cause` with each message's own continuation (fix) lines. A cause whose text an
/// outer message already contains (errors that print their source) is not repeated; after a
/// multi-line message a cause goes on its own `caused by:` line.
pub fn plain(e: &color_eyre::eyre::Report) -> String {
    let mut out = String::from("error: ");
    let mut prev = String::new();
    for (i, cause) in e.chain().enumerate() {
        let text = cause.to_string();
        if i > 0 {
            if prev.contains(&text) {
                continue;
            }
            out.push_str(if prev.contains('\n') {
                "\n  caused by: "
            } else {
                ": "
            });
        }
        out.push_str(&text);
        prev = text;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::{WrapErr, eyre};

    fn env(bt: Option<&str>, level: &str) -> ReportEnv {
        ReportEnv {
            rust_backtrace: bt.map(str::to_string),
            log_level: level.into(),
        }
    }

    #[test]
    fn plain_unless_debugging() {
        use ReportStyle::*;
        // In a terminal too: the fix line must not be buried under colour-eyre's sections.
        assert_eq!(env(None, "info").style(), Plain);
        assert_eq!(env(Some("1"), "info").style(), Rich);
        assert_eq!(env(Some("0"), "info").style(), Plain);
        assert_eq!(env(Some(""), "info").style(), Plain);
        assert_eq!(env(None, "debug").style(), Rich);
        assert_eq!(env(None, "sextant=trace").style(), Rich);
    }

    #[test]
    fn plain_report_keeps_fix_lines_and_skips_repeated_causes() {
        let e = eyre!("refusing to sync web: --readonly is set\n  drop --readonly to allow it");
        assert_eq!(
            plain(&e),
            "error: refusing to sync web: --readonly is set\n  drop --readonly to allow it"
        );
        let io = std::io::Error::other("permission denied");
        let e = Err::<(), _>(io)
            .wrap_err("cannot start logging")
            .unwrap_err();
        assert_eq!(plain(&e), "error: cannot start logging: permission denied");
        #[derive(Debug, thiserror::Error)]
        #[error("git error in /r: {0}")]
        struct Wraps(#[source] std::io::Error);
        let e = color_eyre::eyre::Report::new(Wraps(std::io::Error::other("bad object")));
        assert_eq!(plain(&e), "error: git error in /r: bad object");
        let e = Err::<(), _>(eyre!("first\n  fix: one"))
            .wrap_err("outer\n  fix: two")
            .unwrap_err();
        assert_eq!(
            plain(&e),
            "error: outer\n  fix: two\n  caused by: first\n  fix: one"
        );
    }
}
