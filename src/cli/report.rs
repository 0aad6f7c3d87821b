//! How the binary reports a failed command on stderr.
//!
//! Into a terminal, as before, colour-eyre's report. Into a pipe or a file (CI logs, scripts,
//! `2>err.txt`) or with `NO_COLOR`, a plain `error: ...` keeping the messages' own fix lines and
//! nothing else: no ANSI colour codes, no source locations, no backtrace hints, which are noise
//! to an operator and garble logs. `--log-level debug` (or trace) and `RUST_BACKTRACE` ask for
//! the rich report anywhere. The exit status is the same either way.

use std::io::IsTerminal;

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
    pub stderr_is_terminal: bool,
    /// `NO_COLOR` (any non-empty value, per no-color.org).
    pub no_color: Option<String>,
    pub rust_backtrace: Option<String>,
    /// `--log-level` / `SEXTANT_LOG`.
    pub log_level: String,
}

impl ReportEnv {
    pub fn from_process(log_level: &str) -> Self {
        Self {
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: std::env::var("NO_COLOR").ok(),
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
        let no_color = self.no_color.as_deref().is_some_and(|v| !v.is_empty());
        if !self.stderr_is_terminal || no_color {
            ReportStyle::Plain
        } else {
            ReportStyle::Rich
        }
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

    fn env(tty: bool, no_color: Option<&str>, bt: Option<&str>, level: &str) -> ReportEnv {
        ReportEnv {
            stderr_is_terminal: tty,
            no_color: no_color.map(str::to_string),
            rust_backtrace: bt.map(str::to_string),
            log_level: level.into(),
        }
    }

    #[test]
    fn plain_off_a_terminal_or_with_no_color_rich_when_debugging() {
        use ReportStyle::*;
        assert_eq!(env(true, None, None, "info").style(), Rich);
        assert_eq!(env(false, None, None, "info").style(), Plain);
        assert_eq!(env(true, Some("1"), None, "info").style(), Plain);
        assert_eq!(env(true, Some(""), None, "info").style(), Rich);
        assert_eq!(env(false, None, Some("1"), "info").style(), Rich);
        assert_eq!(env(false, None, Some("0"), "info").style(), Plain);
        assert_eq!(env(false, Some("1"), None, "debug").style(), Rich);
        assert_eq!(env(false, None, None, "sextant=trace").style(), Rich);
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
