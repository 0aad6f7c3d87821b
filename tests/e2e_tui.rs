//! End-to-end: the real `sextant` binary in a real terminal (tmux). `sextant demo` starts, the
//! first frame appears quickly, three Apps show up, the diff opens, a sync runs to the end, and
//! `q` leaves the terminal restored (normal screen, cursor visible, canonical mode).
//!
//! Needs `tmux` on PATH; the test fails (never skips) without it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
    _home: tempfile::TempDir,
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run tmux ({e}): install tmux to run the terminal end-to-end tests")
        });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Tmux {
    fn start(cmdline: &str, width: u16, height: u16) -> Self {
        let home = tempfile::tempdir().expect("temp dir");
        let session = format!("sextant-e2e-{}", std::process::id());
        let h = home.path().display().to_string();
        // Logs, caches and config of this run stay in a throwaway home.
        let env = [
            format!("HOME={h}"),
            format!("XDG_CONFIG_HOME={h}/config"),
            format!("XDG_CACHE_HOME={h}/cache"),
            format!("XDG_STATE_HOME={h}/state"),
            format!("XDG_DATA_HOME={h}/data"),
            "TERM=xterm-256color".to_string(),
        ];
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
        Self {
            session,
            _home: home,
        }
    }

    fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        tmux(&args);
    }

    /// Type text literally (no key-name interpretation).
    fn text(&self, text: &str) {
        tmux(&["send-keys", "-t", &self.session, "-l", text]);
    }

    fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&str) -> bool,
    ) -> (String, Duration) {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if f(&s) {
                return (s, start.elapsed());
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn format(&self, fmt: &str) -> String {
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

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sextant"))
}

#[test]
fn demo_diff_sync_and_quit_restore_the_terminal() {
    let cmd = format!(
        "{} demo; echo SEXTANT_EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 30",
        bin().display()
    );
    let t = Tmux::start(&cmd, 120, 40);

    // First frame: the header is drawn before any git, render or cluster work finishes.
    let (_, first) = t.wait_for("the first frame", Duration::from_secs(10), |s| {
        s.contains("sextant demo")
    });
    println!("first frame after {first:?} (includes tmux start-up)");
    assert!(first < Duration::from_secs(3), "first frame took {first:?}");

    let (_, three) = t.wait_for("three Apps", Duration::from_secs(30), |s| {
        ["astromesh-dev", "astromesh-staging", "astromesh-prod"]
            .iter()
            .all(|a| s.contains(a))
    });
    println!("three Apps after {three:?}");

    // Auto-sync brings staging to Synced/Healthy in the sandbox.
    let (_, healthy) = t.wait_for(
        "staging Synced and Healthy",
        Duration::from_secs(120),
        |s| {
            s.lines().any(|l| {
                l.contains("astromesh-staging") && l.contains("Synced") && l.contains("Healthy")
            })
        },
    );
    println!("staging Synced/Healthy after {healthy:?}");

    // Open prod's diff through the command palette.
    t.text(":diff prod");
    t.keys(&["Enter"]);
    t.wait_for("the Diff pane of prod", Duration::from_secs(10), |s| {
        s.contains("astromesh-prod  env prod") && s.contains("Diff (")
    });
    t.keys(&["Escape"]);
    t.wait_for("back on the Apps screen", Duration::from_secs(10), |s| {
        s.contains("REVISION")
    });

    // A manual sync of staging: preview, move to the Sync button, confirm, watch it finish.
    t.text(":sync staging");
    t.keys(&["Enter"]);
    t.wait_for("the sync preview", Duration::from_secs(10), |s| {
        s.contains("Sync astromesh-staging") && s.contains("[ Cancel ]")
    });
    t.keys(&["Tab"]);
    t.keys(&["Enter"]);
    let (done, took) = t.wait_for("the sync result", Duration::from_secs(120), |s| {
        s.contains("sync astromesh-staging — Succeeded")
    });
    println!("manual sync finished after {took:?}:\n{done}");
    assert!(!done.contains("Failed"), "{done}");
    t.keys(&["Enter"]);

    t.keys(&["q"]);
    let (after, _) = t.wait_for("the shell after exit", Duration::from_secs(15), |s| {
        s.contains("SEXTANT_EXIT=")
    });
    assert!(after.contains("SEXTANT_EXIT=0"), "{after}");
    // Restored: canonical mode back on (`icanon`, not `-icanon`), normal screen, cursor shown.
    let (after, _) = t.wait_for("stty output", Duration::from_secs(5), |s| {
        s.lines()
            .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
    });
    assert!(
        after.lines().any(|l| l.trim() == "icanon"),
        "raw mode left on:\n{after}"
    );
    assert_eq!(
        t.format("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(t.format("#{cursor_flag}"), "1", "cursor left hidden");
}
