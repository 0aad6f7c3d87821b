//! A tmux driver for end-to-end tests of the real `sextant` binary in a real terminal: start a
//! detached session of a fixed size, type keys, capture the pane, wait for text with a timeout
//! (the pane is printed when it does not appear), read tmux formats (`#{alternate_on}`).
//!
//! Use it from an integration test with `mod tmux;`. Needs `tmux` on PATH; tests fail (never
//! skip) without it.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Tests of one binary run in parallel in one process; each needs its own tmux session.
static SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// One detached tmux session, killed when dropped.
pub struct Tmux {
    session: String,
    home: tempfile::TempDir,
}

/// Runs `tmux ARGS` and returns its stdout.
pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run tmux ({e}): install tmux to run the terminal end-to-end tests")
        });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How to start a session beyond the command line and the size.
#[derive(Default)]
pub struct Launch {
    /// The throwaway home (`HOME`, `XDG_*` under it); a new temporary directory if `None`.
    pub home: Option<tempfile::TempDir>,
    /// Working directory of the pane's command.
    pub cwd: Option<PathBuf>,
    /// Extra environment variables of the pane's command (after the home's).
    pub env: Vec<(String, String)>,
}

impl Tmux {
    /// Runs `cmdline` in a new `width`×`height` session with a throwaway home.
    pub fn start(cmdline: &str, width: u16, height: u16) -> Self {
        Self::launch(cmdline, width, height, Launch::default())
    }

    /// Runs `cmdline` in a new `width`×`height` session as described by `launch`.
    pub fn launch(cmdline: &str, width: u16, height: u16, launch: Launch) -> Self {
        let home = launch
            .home
            .unwrap_or_else(|| tempfile::tempdir().expect("temp dir for the session's home"));
        let session = format!(
            "sextant-e2e-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        );
        let h = home.path().display().to_string();
        // Logs, caches and config of this run stay in a throwaway home.
        let mut env = vec![
            format!("HOME={h}"),
            format!("XDG_CONFIG_HOME={h}/config"),
            format!("XDG_CACHE_HOME={h}/cache"),
            format!("XDG_STATE_HOME={h}/state"),
            format!("XDG_DATA_HOME={h}/data"),
            "TERM=xterm-256color".to_string(),
        ];
        env.extend(launch.env.iter().map(|(k, v)| format!("{k}={v}")));
        let mut args: Vec<String> = vec![
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            session.clone(),
            "-x".into(),
            width.to_string(),
            "-y".into(),
            height.to_string(),
        ];
        if let Some(cwd) = &launch.cwd {
            args.push("-c".into());
            args.push(cwd.display().to_string());
        }
        for e in &env {
            args.push("-e".into());
            args.push(e.clone());
        }
        args.push(cmdline.to_string());
        let status = Command::new("tmux")
            .args(&args)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run tmux ({e}): install tmux to run the terminal end-to-end tests")
            });
        assert!(status.success(), "tmux new-session failed");
        Self { session, home }
    }

    /// The session's throwaway home directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The visible pane, one line per row.
    pub fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Send keys by tmux name (`Enter`, `Escape`, `C-s`, `Down`, or plain characters).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        tmux(&args);
    }

    /// Type text literally (no key-name interpretation).
    pub fn text(&self, text: &str) {
        tmux(&["send-keys", "-t", &self.session, "-l", text]);
    }

    /// Polls the pane every 50 ms until `f` accepts it on two captures in a row; returns the
    /// second and how long it took. Panics with `what` and the last pane after `timeout`.
    /// (Two: a capture can land between the writes of one redraw, so a pane that matches once
    /// may still be half old, half new; the later capture is the settled frame callers assert on.)
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&str) -> bool,
    ) -> (String, Duration) {
        let start = Instant::now();
        let mut matched_before = false;
        loop {
            let s = self.screen();
            let matched = f(&s);
            if matched && matched_before {
                return (s, start.elapsed());
            }
            matched_before = matched;
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Press `q` to quit. When an operation of this session is still running (a demo's or a
    /// test's auto-sync can be mid-flight at that moment) the TUI asks first; answer "leave it",
    /// which quits at once. Callers then wait for the shell as before.
    pub fn quit(&self) {
        self.keys(&["q"]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let s = self.screen();
            if s.contains("An operation of this session is running") {
                self.keys(&["l"]);
                return;
            }
            if self.format("#{alternate_on}") == "0" {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A tmux format of the pane, e.g. `#{alternate_on}`, `#{cursor_flag}`.
    pub fn format(&self, fmt: &str) -> String {
        tmux(&["display-message", "-p", "-t", &self.session, fmt])
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.session]);
    }
}

/// The row of the Apps table for `app`, if on screen.
pub fn row<'a>(screen: &'a str, app: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.trim_start_matches('│').starts_with(&format!("{app} ")))
}
