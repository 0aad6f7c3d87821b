//! End-to-end: the real `sextant` binary in a real terminal (tmux). `sextant demo` starts, the
//! first frame appears quickly, three Apps show up, the diff opens, a sync runs to the end, and
//! `q` leaves the terminal restored (normal screen, cursor visible, canonical mode). A second
//! run promotes one value dev → staging through the `p` dialog (checked in the kept git
//! repository) and rolls staging back through `r`, turning auto-sync off on the way.
//!
//! Needs `tmux` on PATH; the test fails (never skips) without it.

mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tmux::{Launch, Tmux, row};

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

    t.quit();
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

/// `git -C dir ARGS`, trimmed stdout; panics with git's stderr on failure.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git ({e}): install git to run this test"));
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn demo_promotes_dev_to_staging_and_rolls_staging_back() {
    const STEP: Duration = Duration::from_secs(30);
    let repo = tempfile::tempdir().expect("temp dir for --keep");
    let cmd = format!(
        "{} demo --keep {}; echo SEXTANT_EXIT=$?; sleep 30",
        bin().display(),
        repo.path().display()
    );
    let t = Tmux::start(&cmd, 120, 40);
    let started = Instant::now();

    // Wait until the scripted history has landed (dev runs the release candidate) and staging
    // is settled, so the promotion compares the final values and staging has a history.
    t.wait_for(
        "dev on the last demo commit and staging Synced/Healthy",
        Duration::from_secs(120),
        |s| {
            s.contains("try astromesh 1.5.0-rc1 in dev")
                && row(s, "astromesh-staging")
                    .is_some_and(|l| l.contains("Synced") && l.contains("Healthy"))
        },
    );
    let before = git(repo.path(), &["rev-parse", "HEAD"]);

    // --- Promotion dev → staging through the `p` dialog ---
    t.keys(&["p"]);
    t.wait_for("the promotion env picker", STEP, |s| {
        s.contains("Choose the source and target environments")
    });
    // Choose explicitly: source column to dev (first), target column to staging (second).
    t.keys(&["Left", "Up", "Up", "Right", "Up", "Up", "Down", "Enter"]);
    let (keys, _) = t.wait_for("the value keys dev vs staging", STEP, |s| {
        s.contains("Promote dev → staging") && s.contains("runtime.logLevel")
    });
    assert!(
        keys.contains("values-staging.yaml"),
        "the key list does not name the target values file:\n{keys}"
    );
    // `A` picks all, a second `A` none; then pick runtime.logLevel alone.
    t.keys(&["A", "A"]);
    let (none, _) = t.wait_for("no key picked", STEP, |s| {
        s.contains("runtime.logLevel") && !s.contains("[x]")
    });
    let rows: Vec<&str> = none
        .lines()
        .filter(|l| l.contains("[ ] ") || l.contains("[x] "))
        .collect();
    let idx = rows
        .iter()
        .position(|l| l.contains("runtime.logLevel"))
        .unwrap_or_else(|| panic!("runtime.logLevel is not in the key list:\n{none}"));
    let mut moves = vec!["Down"; idx];
    moves.push("Space");
    t.keys(&moves);
    let (picked, _) = t.wait_for("runtime.logLevel picked", STEP, |s| {
        s.contains("[x] runtime.logLevel")
    });
    assert_eq!(
        picked.matches("[x]").count(),
        1,
        "more than one key picked:\n{picked}"
    );
    t.keys(&["Enter"]);
    let (diff, _) = t.wait_for("the file diff of the promotion", STEP, |s| {
        s.contains("keys: runtime.logLevel") && s.contains("enter write the commit message")
    });
    assert!(
        diff.contains("- ") && diff.contains("logLevel: info") && diff.contains("logLevel: debug"),
        "the diff does not show logLevel info → debug:\n{diff}"
    );
    t.keys(&["Enter"]);
    t.wait_for("the commit message editor", STEP, |s| {
        s.contains("commit message (ctrl-s commit")
            && s.contains("promote runtime.logLevel from dev to staging")
    });
    // The cursor sits at the end of the default message: extend it, then commit with ctrl-s.
    t.text(" (e2e)");
    t.keys(&["C-s"]);
    let (committed, took) = t.wait_for("the promotion commit", STEP, |s| {
        s.contains("committed: staging will show")
    });
    println!("promotion committed after {took:?}");
    let subject = git(repo.path(), &["log", "-1", "--format=%s"]);
    assert_eq!(
        subject, "promote runtime.logLevel from dev to staging (e2e)",
        "screen:\n{committed}"
    );
    assert_eq!(
        git(repo.path(), &["rev-parse", "HEAD~1"]),
        before,
        "the promotion is not one commit on top of the previous head"
    );
    let staging_values = git(
        repo.path(),
        &["show", "HEAD:deploy/helm/astromesh/values-staging.yaml"],
    );
    assert!(
        staging_values.contains("logLevel: debug"),
        "values-staging.yaml was not changed:\n{staging_values}"
    );
    let changed = git(repo.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(changed, "deploy/helm/astromesh/values-staging.yaml");
    let sha = git(repo.path(), &["rev-parse", "--short=7", "HEAD"]);
    t.keys(&["Enter"]);
    // Auto-sync deploys the new revision to staging: deployed == target, no `old→new`.
    let (_, took) = t.wait_for(
        &format!("staging deployed at the promoted revision {sha}"),
        Duration::from_secs(120),
        |s| {
            row(s, "astromesh-staging")
                .is_some_and(|l| l.contains(&sha) && !l.contains('→') && l.contains("Synced"))
        },
    );
    println!("staging at {sha} after {took:?}");

    // --- Rollback of staging through `r` ---
    // Select staging: the footer names the selected App.
    let deadline = Instant::now() + STEP;
    while !t
        .screen()
        .lines()
        .any(|l| l.starts_with("astromesh-staging →"))
    {
        assert!(
            Instant::now() < deadline,
            "cannot select astromesh-staging; screen:\n{}",
            t.screen()
        );
        t.keys(&["Down"]);
        std::thread::sleep(Duration::from_millis(200));
    }
    t.keys(&["r"]);
    let (pick, _) = t.wait_for("the rollback history picker", STEP, |s| {
        s.contains("Roll back astromesh-staging")
            && s.contains("Pick the history entry to roll back to")
    });
    // Newest first: the promoted revision, then the one before it.
    assert!(
        pick.contains(&sha),
        "the promoted revision is not in the history:\n{pick}"
    );
    t.keys(&["Down", "Enter"]);
    let (explain, _) = t.wait_for("the auto-sync explanation", STEP, |s| {
        s.contains("Auto-sync is on for astromesh-staging")
            && s.contains("Turn off auto-sync and continue")
    });
    let target_line = explain
        .lines()
        .find(|l| l.contains("Roll back to #"))
        .unwrap_or_else(|| panic!("no rollback target line:\n{explain}"));
    assert!(
        !target_line.contains(&sha),
        "the rollback targets the current revision:\n{explain}"
    );
    // Focus starts on Cancel: move to the accept button.
    t.keys(&["Tab", "Enter"]);
    let (review, _) = t.wait_for("the rollback preview", STEP, |s| {
        s.contains("[ Roll back ]") && (s.contains("would change") || s.contains("no changes"))
    });
    assert!(
        review.contains("auto-sync off"),
        "auto-sync was not turned off:\n{review}"
    );
    t.keys(&["Tab", "Enter"]);
    let (done, took) = t.wait_for("the rollback result", Duration::from_secs(120), |s| {
        s.contains("rollback astromesh-staging — Succeeded")
            || s.contains("rollback astromesh-staging — Failed")
    });
    println!("rollback finished after {took:?}:\n{done}");
    assert!(
        done.contains("rollback astromesh-staging — Succeeded"),
        "{done}"
    );
    t.keys(&["Enter"]);

    t.quit();
    let (after, _) = t.wait_for("the shell after exit", Duration::from_secs(15), |s| {
        s.contains("SEXTANT_EXIT=")
    });
    assert!(after.contains("SEXTANT_EXIT=0"), "{after}");
    println!("promotion + rollback run took {:?}", started.elapsed());
}

/// Issue 22 point 15: started outside any git repository (and with no repository configured),
/// `sextant` says so in its first lines, the fix right under it, with no source location or
/// backtrace notes around them (color-eyre's report buried the hint).
#[test]
fn outside_a_repository_the_hint_is_the_first_thing_shown() {
    let dir = tempfile::tempdir().expect("temp dir outside any repository");
    let cmd = format!(
        "unset RUST_BACKTRACE RUST_LIB_BACKTRACE; {}; echo SEXTANT_EXIT=$?; sleep 30",
        bin().display()
    );
    let t = Tmux::launch(
        &cmd,
        160,
        30,
        Launch {
            cwd: Some(dir.path().to_path_buf()),
            ..Launch::default()
        },
    );
    let (screen, _) = t.wait_for("the exit", Duration::from_secs(15), |s| {
        s.contains("SEXTANT_EXIT=")
    });
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.first().is_some_and(
            |l| l.starts_with("error: ") && l.contains("is not inside a git repository")
        ),
        "{screen}"
    );
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.trim_start().starts_with("fix: ") && l.contains("--repo")),
        "{screen}"
    );
    assert_eq!(lines.get(2).copied(), Some("SEXTANT_EXIT=1"), "{screen}");
    for noise in ["Location:", "Backtrace", "RUST_BACKTRACE"] {
        assert!(!screen.contains(noise), "{noise}:\n{screen}");
    }
}
