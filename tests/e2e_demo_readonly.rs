//! End-to-end: `sextant --readonly demo` in a real terminal (tmux) changes nothing in its
//! sandbox. The demo's Apps all say `automated: {prune, selfHeal}` and start undeployed, so a
//! session that auto-syncs brings them to Synced within seconds; a read-only one must leave
//! them OutOfSync with no operation and no last sync, across several repository polls (the
//! demo polls every 5 s), and say on its status line that it changes nothing.
//!
//! Needs `tmux` on PATH; the test fails (never skips) without it.

mod tmux;

use std::time::Duration;

use tmux::{Tmux, row};

const APPS: [&str; 3] = ["astromesh-dev", "astromesh-staging", "astromesh-prod"];

#[test]
fn readonly_demo_never_syncs() {
    let cmd = format!(
        "{} --readonly demo; echo SEXTANT_EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_sextant")
    );
    let t = Tmux::start(&cmd, 180, 40);
    let (screen, _) = t.wait_for(
        "three Apps compared, OutOfSync",
        Duration::from_secs(60),
        |s| {
            APPS.iter()
                .all(|a| row(s, a).is_some_and(|l| l.contains("OutOfSync")))
        },
    );
    assert!(screen.contains("[READ-ONLY]"), "{screen}");
    // Three polls of the demo repository, each a chance for auto-sync to start.
    std::thread::sleep(Duration::from_secs(16));
    let screen = t.screen();
    for app in APPS {
        let line = row(&screen, app).unwrap_or_else(|| panic!("no row for {app}:\n{screen}"));
        assert!(
            line.contains("OutOfSync") && !line.contains("auto-sync") && !line.contains("ago"),
            "{app} was synced by a read-only session:\n{screen}"
        );
        // Not even attempted: an attempt would be refused below and leave a sync error mark.
        assert!(
            !line
                .trim_start_matches('│')
                .starts_with(&format!("{app} !")),
            "{app} shows an error in a read-only session:\n{screen}"
        );
    }
    assert!(
        screen.contains("read-only: this session changes nothing"),
        "the status line should say the session changes nothing:\n{screen}"
    );
    t.quit();
    t.wait_for("sextant exits", Duration::from_secs(10), |s| {
        s.contains("SEXTANT_EXIT=0")
    });
}
