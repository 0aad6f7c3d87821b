//! What the TUI says about its own session and about failing Apps (ratatui `TestBackend`):
//!
//! - the status line names the environments this session auto-syncs (protected ones left out
//!   unless `--yes`), says when reconciling is left to `sextant reconcile`, and says a read-only
//!   session changes nothing, and keeps saying it while messages come and go;
//! - a multi-line error (a chart that does not render: preamble, then the cause on the next
//!   line) is summarised on one line ending with the cause in the Apps table, and shown whole in
//!   the detail header.

#[path = "ui_fixtures.rs"]
mod fixtures;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sextant::config::Config;
use sextant::engine::api::{Condition, ConditionKind, NoticeLevel, Snapshot};
use sextant::ui::state::Screen;
use sextant::ui::{Action, SessionSync, State, UiOptions, render, session_sync, update};

fn draw(s: &State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| render(s, f)).expect("draw");
    // The backend prints each row quoted; the rows as on a terminal.
    format!("{}", t.backend())
        .lines()
        .map(|l| l.trim_start_matches('"').trim_end_matches('"'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The screen's last row (the status line).
fn status_line(screen: &str) -> String {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

/// dev, qa, staging and prod, every one with auto-sync on (Git's policy).
fn four_envs() -> Snapshot {
    let mut s = fixtures::snapshot();
    s.apps.push(fixtures::state_for("qa"));
    for a in &mut s.apps {
        a.auto_sync.enabled = true;
        a.auto_sync.overridden = false;
    }
    s
}

fn with(session_sync: SessionSync, readonly: bool) -> State {
    let opts = UiOptions {
        session_sync,
        readonly,
        ..UiOptions::default()
    };
    State::new(opts, four_envs(), fixtures::now())
}

#[test]
fn status_line_names_the_environments_this_session_auto_syncs() {
    let mut s = with(
        SessionSync::Auto {
            exclude: vec!["prod".into()],
        },
        false,
    );
    let line = status_line(&draw(&s, 160, 48));
    assert!(
        line.contains(
            "this session auto-syncs: dev, qa, staging (not prod: protected, start with --yes)"
        ),
        "{line}"
    );
    // A message on the status line does not hide it.
    s.set_status(NoticeLevel::Warn, "astromesh-qa: sync Failed: something");
    let line = status_line(&draw(&s, 160, 48));
    assert!(
        line.contains("something") && line.contains("this session auto-syncs: dev, qa, staging"),
        "{line}"
    );

    // --yes: nothing excluded. An App whose auto-sync is off is not listed.
    let mut s = with(SessionSync::Auto { exclude: vec![] }, false);
    let mut snap = four_envs();
    snap.apps.retain(|a| a.app.env != "staging");
    update(&mut s, Action::Snapshot(snap));
    let line = status_line(&draw(&s, 160, 48));
    assert!(
        line.contains("this session auto-syncs: dev, prod, qa"),
        "{line}"
    );
    assert!(!line.contains("not prod"), "{line}");
}

#[test]
fn status_line_says_when_the_session_does_not_reconcile() {
    let s = with(SessionSync::External, false);
    let line = status_line(&draw(&s, 160, 48));
    assert!(
        line.contains("auto-sync left to `sextant reconcile` ([reconcile] in_ui = false)"),
        "{line}"
    );
    let s = with(SessionSync::External, true);
    let line = status_line(&draw(&s, 160, 48));
    assert!(
        line.contains("read-only: this session changes nothing"),
        "{line}"
    );
    // Embedders that do not describe their engine get no note.
    let s = with(SessionSync::Unstated, false);
    let line = status_line(&draw(&s, 160, 48));
    assert!(!line.contains("auto-sync"), "{line}");
}

#[test]
fn session_sync_follows_readonly_in_ui_and_yes() {
    let mut config = Config::with_defaults();
    assert_eq!(
        session_sync(&config, false, false),
        SessionSync::Auto {
            exclude: vec!["prod".into()]
        }
    );
    assert_eq!(
        session_sync(&config, false, true),
        SessionSync::Auto { exclude: vec![] }
    );
    assert_eq!(session_sync(&config, true, true), SessionSync::External);
    config.reconcile.in_ui = false;
    assert_eq!(session_sync(&config, false, true), SessionSync::External);
}

const CAUSE: &str =
    "chart requires kubeVersion: >=1.40.0-0 which is incompatible with Kubernetes v1.36.3";

fn failing_render() -> State {
    let mut snap = fixtures::snapshot();
    let dev = &mut snap.apps[0];
    dev.operation = None;
    dev.conditions.push(Condition {
        kind: ConditionKind::ComparisonError,
        message: format!(
            "render failed: app `astromesh-dev`: helm template failed for chart deploy/helm/astromesh:\nError: {CAUSE}\n  fix: check the chart's kubeVersion and render.kube_version in config.toml"
        ),
    });
    let mut s = State::new(UiOptions::default(), snap, fixtures::now());
    s.selected = Some("astromesh-dev".into());
    s
}

#[test]
fn apps_table_summarises_a_multi_line_error_ending_with_the_cause() {
    let s = failing_render();
    // The message column grows with the terminal: from a bare cause to "what failed: …cause".
    for (width, start) in [(160, "…"), (220, "render failed: …")] {
        let screen = draw(&s, width, 48);
        let row = screen
            .lines()
            .find(|l| l.trim_start_matches('│').starts_with("astromesh-dev !"))
            .unwrap_or_else(|| panic!("no row for astromesh-dev:\n{screen}"));
        let cell = row.trim_end().trim_end_matches('│').trim_end();
        assert!(
            cell.ends_with("Kubernetes v1.36.3") && cell.contains(&format!("  {start}")),
            "the row should end with the cause at {width} columns:\n{row}"
        );
        // The summary under the table, too.
        assert!(
            screen.lines().any(|l| l
                .trim_end()
                .ends_with("incompatible with Kubernetes v1.36.3")
                && l.starts_with("render failed: ")),
            "the summary line should end with the cause:\n{screen}"
        );
    }
}

#[test]
fn detail_header_shows_the_whole_multi_line_error() {
    let mut s = failing_render();
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    assert_eq!(s.screen, Screen::Detail);
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = draw(&s, w, h);
        let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let text = words(&screen).join(" ");
        for part in [
            "render failed: app `astromesh-dev`: helm template failed",
            CAUSE,
            "fix: check the chart's kubeVersion",
        ] {
            assert!(
                text.contains(&words(part).join(" ")),
                "{part:?} not on the {w}x{h} detail screen:\n{screen}"
            );
        }
        // The pane tabs are still there below the header.
        assert!(screen.contains("Resources"), "{screen}");
    }
}

#[test]
fn a_new_multi_line_error_goes_to_the_log_whole_once() {
    let mut s = State::new(UiOptions::default(), fixtures::snapshot(), fixtures::now());
    let failing = failing_render().snapshot.clone();
    update(&mut s, Action::Snapshot(failing.clone()));
    let log: Vec<&str> = s.log.iter().map(|l| l.text.as_str()).collect();
    assert!(
        log.iter()
            .any(|l| l.starts_with("astromesh-dev: render failed: app `astromesh-dev`"))
            && log.iter().any(|l| l.contains(CAUSE))
            && log
                .iter()
                .any(|l| l.contains("fix: check the chart's kubeVersion")),
        "{log:#?}"
    );
    let n = s.log.len();
    // The same error in the next snapshot is not logged again.
    update(&mut s, Action::Snapshot(failing));
    assert_eq!(s.log.len(), n);
}

#[test]
fn the_note_gets_shorter_on_a_narrow_terminal() {
    let s = with(
        SessionSync::Auto {
            exclude: vec!["prod".into()],
        },
        false,
    );
    let line = status_line(&draw(&s, 80, 24));
    assert!(
        line.contains("this session auto-syncs: dev, qa, staging") && !line.contains("not prod"),
        "{line}"
    );
    let line = status_line(&draw(&s, 60, 24));
    assert!(line.contains("auto-syncs: dev, qa, staging"), "{line}");
    let s = with(SessionSync::External, true);
    let line = status_line(&draw(&s, 80, 24));
    assert!(line.contains("read-only: changes nothing"), "{line}");
}
