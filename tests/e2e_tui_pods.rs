//! End-to-end: the Pods pane of the real `sextant demo` binary in an 80×24 terminal (tmux). The
//! demo's last commit runs an image the sandbox registry does not have in dev, so dev's Pods pane
//! must show the stuck pod as kubectl would (`0/1`, `ImagePullBackOff`) with the kubelet's events,
//! and the still-running pod of the previous ReplicaSet with its own.
//!
//! Needs `tmux` on PATH; the test fails (never skips) without it.

mod tmux;

use std::path::PathBuf;
use std::time::Duration;

use tmux::{Tmux, row};

const STEP: Duration = Duration::from_secs(20);

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sextant"))
}

/// Rows of the Pods table: lines naming a dev pod with a READY cell.
fn pod_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.contains("│astromesh-dev-") && l.contains("/1 "))
        .collect()
}

#[test]
fn demo_pods_pane_shows_kubectl_status_and_the_selected_pods_events() {
    let repo = tempfile::tempdir().expect("temp dir");
    let cmd = format!(
        "{} demo --keep {}; echo SEXTANT_EXIT=$?; sleep 30",
        bin().display(),
        repo.path().join("demo").display()
    );
    let t = Tmux::start(&cmd, 80, 24);
    t.wait_for(
        "dev degraded by the missing release-candidate image",
        Duration::from_secs(120),
        |s| row(s, "astromesh-dev").is_some_and(|l| l.contains("Degraded")),
    );
    // Apps are sorted by env: dev is the first row and selected.
    t.keys(&["Enter"]);
    t.wait_for("dev's detail", STEP, |s| s.contains("env dev"));
    t.keys(&["Tab", "Tab", "Tab"]);
    // The stuck pod's own row, not just the word: its events say ImagePullBackOff while the
    // row may still read ErrImagePull.
    let (table, _) = t.wait_for("the Pods table with the stuck pod", STEP, |s| {
        s.contains("READY")
            && s.contains("RESTARTS")
            && pod_rows(s)
                .iter()
                .any(|l| l.contains("0/1") && l.contains("ImagePullBackOff"))
    });
    // 80 columns: node, IP and owner columns are dropped from the table.
    assert!(
        !table.contains("NODE") && !table.contains("OWNER"),
        "{table}"
    );
    let rows = pod_rows(&table);
    let stuck = rows
        .iter()
        .position(|l| l.contains("0/1") && l.contains("ImagePullBackOff"))
        .unwrap_or_else(|| panic!("no 0/1 ImagePullBackOff row:\n{table}"));
    let running = rows
        .iter()
        .position(|l| l.contains("1/1") && l.contains("Running"))
        .unwrap_or_else(|| panic!("no 1/1 Running row (the previous ReplicaSet):\n{table}"));
    // The selection starts on the first row; move to the stuck pod.
    t.keys(&vec!["Down"; stuck]);
    let (detail, _) = t.wait_for("the stuck pod's events", STEP, |s| {
        s.contains("Events (newest first)")
            && s.contains("Error: ErrImagePull")
            && s.contains("Back-off pulling image")
    });
    assert!(
        detail.contains("✗ Ready") && detail.contains("node sandbox-node-1"),
        "{detail}"
    );
    // The running pod's events are its start-up.
    let moves = if running > stuck {
        vec!["Down"; running - stuck]
    } else {
        vec!["Up"; stuck - running]
    };
    t.keys(&moves);
    let (detail, _) = t.wait_for("the running pod's events", STEP, |s| {
        s.contains("Started container astromesh") && s.contains("Scheduled")
    });
    assert!(detail.contains("✓ Ready"), "{detail}");
    t.quit();
    t.wait_for("the demo to exit", STEP, |s| s.contains("SEXTANT_EXIT=0"));
}
