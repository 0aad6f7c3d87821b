//! Snapshots of every screen and dialog at 80×24 and 160×48 (ratatui `TestBackend`), plus the
//! behaviour the screens promise: confirmations default to Cancel, protected envs need the name
//! typed, `--readonly` refuses mutations, keys are remappable.

#[path = "ui_fixtures.rs"]
mod fixtures;

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sextant::engine::api::{
    Command, CommandOutcome, Event, OperationKind, OperationPhase, OperationResult, PodEvent,
    ResourceDiff, ResourceResult, ResourceState, ResultCode,
};
use sextant::resource::ResourceKey;
use sextant::ui::keymap::{Key, Keymap};
use sextant::ui::state::{Dialog, Pane, Screen};
use sextant::ui::theme::{ASCII, Theme, UNICODE};
use sextant::ui::{
    Action, Effect, ExtraKey, PromotePreview, State, UiOptions, ValueChange, render, update,
};

fn opts() -> UiOptions {
    UiOptions {
        theme: Theme::dark(UNICODE),
        extras: vec![ExtraKey {
            key: Key::ch('m'),
            description: "demo: make a manual change in the sandbox (drift)".into(),
        }],
        title: "sextant".into(),
        ..UiOptions::default()
    }
}

fn state() -> State {
    State::new(opts(), fixtures::snapshot(), fixtures::now())
}

fn draw(s: &State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| render(s, f)).expect("draw");
    format!("{}", t.backend())
}

/// Snapshot at both sizes.
fn snap(name: &str, s: &State) {
    insta::assert_snapshot!(format!("{name}_80x24"), draw(s, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), draw(s, 160, 48));
}

fn key(s: &mut State, code: KeyCode) -> Vec<Effect> {
    update(s, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(s: &mut State, c: char) -> Vec<Effect> {
    key(s, KeyCode::Char(c))
}

fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        ch(s, c);
    }
}

fn select(s: &mut State, name: &str) {
    s.selected = Some(name.to_string());
}

#[test]
fn apps_home() {
    let s = state();
    snap("apps_home", &s);
}

#[test]
fn apps_filtered() {
    let mut s = state();
    ch(&mut s, '/');
    typed(&mut s, "prod");
    snap("apps_filter_typing", &s);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.visible_apps().len(), 1);
    snap("apps_filtered", &s);
}

#[test]
fn apps_grouped_with_errors() {
    let s = State::new(opts(), fixtures::snapshot_with_errors(), fixtures::now());
    snap("apps_grouped_errors", &s);
}

#[test]
fn apps_readonly_mono_ascii() {
    let mut o = opts();
    o.readonly = true;
    o.theme = Theme::mono(ASCII);
    let s = State::new(o, fixtures::snapshot(), fixtures::now());
    snap("apps_readonly_ascii", &s);
}

#[test]
fn apps_loading() {
    let snapshot = sextant::engine::api::Snapshot {
        loading: true,
        ..Default::default()
    };
    let s = State::new(opts(), snapshot, fixtures::now());
    snap("apps_loading", &s);
}

#[test]
fn help_on_apps_lists_every_key() {
    let mut s = state();
    ch(&mut s, '?');
    assert!(s.help);
    let screen = draw(&s, 160, 48);
    for k in [
        "sync",
        "roll back",
        "promote",
        "auto-sync",
        "hard refresh",
        "filter",
        "command palette",
        "log pane",
        "manual change",
    ] {
        assert!(screen.contains(k), "help lacks {k}:\n{screen}");
    }
    snap("help_apps", &s);
    key(&mut s, KeyCode::Esc);
    assert!(!s.help);
}

#[test]
fn palette_and_log() {
    let mut s = state();
    ch(&mut s, ':');
    typed(&mut s, "sy");
    snap("palette", &s);
    key(&mut s, KeyCode::Esc);
    ch(&mut s, 'L');
    s.set_status(
        sextant::engine::api::NoticeLevel::Warn,
        "astromesh-prod: sync refused: sync in progress by bob@ops since 05:12",
    );
    snap("log_pane", &s);
}

#[test]
fn palette_sync_by_env_opens_the_preview() {
    let mut s = state();
    ch(&mut s, ':');
    typed(&mut s, "sync dev");
    key(&mut s, KeyCode::Enter);
    assert!(matches!(&s.dialog, Some(Dialog::Sync(d)) if d.app == "astromesh-dev"));
    let mut s = state();
    ch(&mut s, ':');
    typed(&mut s, "frobnicate");
    key(&mut s, KeyCode::Enter);
    assert!(
        s.status
            .as_ref()
            .is_some_and(|m| m.text.contains("unknown command :frobnicate"))
    );
}

fn detail(pane: Pane) -> State {
    let mut s = state();
    select(&mut s, "astromesh-prod");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Detail);
    s.detail.pane = Some(pane);
    s
}

#[test]
fn detail_resources_tree() {
    let s = detail(Pane::Resources);
    let screen = draw(&s, 160, 48);
    assert!(
        screen.contains("└─ ReplicaSet/astromesh-prod-5d8f9c7b6"),
        "{screen}"
    );
    assert!(
        screen.contains("└─ Pod/astromesh-prod-5d8f9c7b6-x2k4m"),
        "{screen}"
    );
    assert!(
        screen.contains("├─ Pod/astromesh-prod-5d8f9c7b6-a1b2c"),
        "{screen}"
    );
    snap("detail_resources", &s);
}

#[test]
fn detail_diff_and_search() {
    let mut s = detail(Pane::Diff);
    key(&mut s, KeyCode::Down);
    snap("detail_diff", &s);
    ch(&mut s, '/');
    typed(&mut s, "image");
    snap("detail_diff_search_typing", &s);
    key(&mut s, KeyCode::Enter);
    let first = s.detail.match_at;
    assert!(first.is_some());
    ch(&mut s, 'n');
    assert_ne!(s.detail.match_at, first);
    ch(&mut s, 'N');
    assert_eq!(s.detail.match_at, first);
    snap("detail_diff_search", &s);
    // The pruned Secret is marked and its value stays masked.
    s.detail.diff_sel = 3;
    s.detail.diff_scroll = 0;
    let screen = draw(&s, 160, 48);
    assert!(
        screen.contains("will be pruned") && screen.contains("++++++++"),
        "{screen}"
    );
}

#[test]
fn detail_history() {
    let s = detail(Pane::History);
    snap("detail_history", &s);
}

fn prod_pod(suffix: &str) -> ResourceKey {
    ResourceKey::new(
        "",
        "Pod",
        "astromesh-prod",
        &format!("astromesh-prod-5d8f9c7b6-{suffix}"),
    )
}

fn pod_events_answer(pod: ResourceKey, events: Result<Vec<PodEvent>, String>) -> Action {
    Action::Event(Event::PodEvents {
        app: "astromesh-prod".into(),
        pod,
        events,
    })
}

#[test]
fn detail_pods_table_and_selected_pod_events() {
    let mut s = detail(Pane::Pods);
    // Moving onto a pod asks the engine for its events, once.
    let effects = key(&mut s, KeyCode::Down);
    assert_eq!(
        effects,
        vec![Effect::Send(Command::PodEvents {
            app: "astromesh-prod".into(),
            pod: prod_pod("d3e4f"),
        })]
    );
    assert!(update(&mut s, Action::Tick(fixtures::now())).is_empty());
    let screen = draw(&s, 80, 24);
    assert!(screen.contains("loading events"), "{screen}");
    snap("detail_pods_loading", &s);
    // An answer about another pod (a late one) is not shown for this one.
    update(&mut s, pod_events_answer(prod_pod("a1b2c"), Ok(Vec::new())));
    assert!(draw(&s, 80, 24).contains("loading events"));
    update(
        &mut s,
        pod_events_answer(prod_pod("d3e4f"), Ok(fixtures::failing_pod_events())),
    );
    let narrow = draw(&s, 80, 24);
    let wide = draw(&s, 160, 48);
    for text in [
        "READY",
        "RESTARTS",
        "0/1",
        "ImagePullBackOff",
        "Error: ImagePullBackOff (x47 over 11m)",
        "✗ ContainersReady",
    ] {
        assert!(narrow.contains(text), "{text:?} missing:\n{narrow}");
        assert!(wide.contains(text), "{text:?} missing:\n{wide}");
    }
    // Columns drop as the terminal narrows; kubectl's restart age only where there is room.
    for text in [
        "NODE",
        "IP",
        "OWNER",
        "pool-a-2",
        "10.244.1.17",
        "2 (47m ago)",
    ] {
        assert!(wide.contains(text), "{text:?} missing:\n{wide}");
    }
    assert!(
        !narrow.contains("NODE") && !narrow.contains("OWNER"),
        "{narrow}"
    );
    snap("detail_pods", &s);
    // Running pods: ready, restarts with the last one's age, conditions all true.
    let effects = key(&mut s, KeyCode::Up);
    assert_eq!(
        effects,
        vec![Effect::Send(Command::PodEvents {
            app: "astromesh-prod".into(),
            pod: prod_pod("a1b2c"),
        })]
    );
    update(
        &mut s,
        pod_events_answer(
            prod_pod("a1b2c"),
            Err("events of pod astromesh-prod/astromesh-prod-5d8f9c7b6-a1b2c: forbidden: user \"viewer\" cannot list events".into()),
        ),
    );
    let screen = draw(&s, 160, 48);
    assert!(screen.contains("cannot list events"), "{screen}");
    assert!(
        screen.contains("1/1 ready · 0 restarts · age 3d4h"),
        "{screen}"
    );
    snap("detail_pods_running_events_error", &s);
    // The selected pod's events are asked for again after a while; the old answer stays shown.
    let later = fixtures::now() + std::time::Duration::from_secs(11);
    assert_eq!(
        update(&mut s, Action::Tick(later)),
        vec![Effect::Send(Command::PodEvents {
            app: "astromesh-prod".into(),
            pod: prod_pod("a1b2c"),
        })]
    );
    assert!(draw(&s, 160, 48).contains("cannot list events"));
    // Leaving the pane stops asking.
    key(&mut s, KeyCode::Tab);
    let much_later = later + std::time::Duration::from_secs(60);
    assert!(update(&mut s, Action::Tick(much_later)).is_empty());
}

#[test]
fn help_on_detail() {
    let mut s = detail(Pane::Diff);
    ch(&mut s, '?');
    let screen = draw(&s, 160, 48);
    assert!(
        screen.contains("next search match") && screen.contains("next pane"),
        "{screen}"
    );
    snap("help_detail", &s);
}

#[test]
fn sync_dialog_defaults_to_cancel() {
    let mut s = state();
    select(&mut s, "astromesh-staging");
    s.snapshot.apps[2].operation = None;
    ch(&mut s, 's');
    snap("sync_dialog", &s);
    // Enter right away presses Cancel: nothing is sent.
    let fx = key(&mut s, KeyCode::Enter);
    assert!(fx.is_empty());
    assert!(s.dialog.is_none());
}

#[test]
fn sync_with_options_sends_them() {
    let mut s = state();
    select(&mut s, "astromesh-dev");
    ch(&mut s, 's');
    // Focus starts on Cancel; BackTab walks up to the options.
    key(&mut s, KeyCode::BackTab); // apply-out-of-sync-only
    key(&mut s, KeyCode::Char(' '));
    key(&mut s, KeyCode::BackTab); // force
    key(&mut s, KeyCode::BackTab); // dry-run
    key(&mut s, KeyCode::Char(' '));
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Tab); // Cancel
    key(&mut s, KeyCode::Tab); // Sync
    let fx = key(&mut s, KeyCode::Enter);
    match fx.as_slice() {
        [
            Effect::Call {
                command: Command::Sync { app, options },
                ..
            },
        ] => {
            assert_eq!(app, "astromesh-dev");
            assert!(options.dry_run && options.apply_out_of_sync_only && !options.force);
            assert!(!options.prune, "prune is off unless ticked");
        }
        other => panic!("unexpected effects {other:?}"),
    }
    assert!(matches!(s.dialog, Some(Dialog::Progress(_))));
}

#[test]
fn protected_env_requires_typing_its_name() {
    let mut s = state();
    select(&mut s, "astromesh-prod");
    ch(&mut s, 's');
    key(&mut s, KeyCode::Tab); // Cancel → Sync
    let fx = key(&mut s, KeyCode::Enter);
    assert!(fx.is_empty(), "prod synced without typing its name");
    snap("sync_dialog_protected_refused", &s);
    typed(&mut s, "pro");
    snap("sync_dialog_protected_typing", &s);
    ch(&mut s, 'd');
    let fx = key(&mut s, KeyCode::Enter);
    assert!(matches!(
        fx.as_slice(),
        [Effect::Call {
            command: Command::Sync { .. },
            ..
        }]
    ));
}

fn result(code: ResultCode, kind: &str, name: &str, msg: &str) -> ResourceResult {
    ResourceResult {
        key: ResourceKey::new(
            if kind == "Deployment" { "apps" } else { "" },
            kind,
            "astromesh-dev",
            name,
        ),
        phase: "Sync".into(),
        wave: 0,
        code,
        message: msg.into(),
    }
}

#[test]
fn sync_progress_live_and_result() {
    let mut s = state();
    select(&mut s, "astromesh-dev");
    ch(&mut s, 's');
    key(&mut s, KeyCode::Tab);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::Call { tag, .. }) = fx.first().cloned() else {
        panic!("no call")
    };
    update(
        &mut s,
        Action::Event(Event::OperationStarted {
            app: "astromesh-dev".into(),
            kind: OperationKind::Sync,
            revision: "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345".into(),
            total: 7,
        }),
    );
    for (i, r) in [
        result(ResultCode::Unchanged, "ServiceAccount", "astromesh-dev", ""),
        result(
            ResultCode::Configured,
            "ConfigMap",
            "astromesh-dev-runtime",
            "configured",
        ),
        result(
            ResultCode::Configured,
            "Deployment",
            "astromesh-dev",
            "rolling out",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        update(
            &mut s,
            Action::Event(Event::Progress {
                app: "astromesh-dev".into(),
                phase: "Sync".into(),
                wave: 0,
                done: i + 1,
                total: 7,
                resource: Some(r),
                message: "waiting for Deployment astromesh-dev to become healthy".into(),
            }),
        );
    }
    snap("sync_progress", &s);
    let finished = OperationResult {
        app: "astromesh-dev".into(),
        kind: OperationKind::Sync,
        phase: OperationPhase::Succeeded,
        revision: "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345".into(),
        message: "successfully synced (all tasks run)".into(),
        resources: vec![
            result(ResultCode::Unchanged, "ServiceAccount", "astromesh-dev", ""),
            result(
                ResultCode::Configured,
                "ConfigMap",
                "astromesh-dev-runtime",
                "",
            ),
            result(ResultCode::Configured, "Deployment", "astromesh-dev", ""),
            result(
                ResultCode::Created,
                "HorizontalPodAutoscaler",
                "astromesh-dev",
                "",
            ),
            result(
                ResultCode::Pruned,
                "Secret",
                "astromesh-legacy-token",
                "pruned",
            ),
        ],
        dry_run: false,
        retries: 0,
        history_id: Some(5),
        diffs: Vec::new(),
    };
    update(
        &mut s,
        Action::Event(Event::OperationFinished(finished.clone())),
    );
    update(
        &mut s,
        Action::Outcome {
            tag,
            outcome: CommandOutcome::Operation(finished),
        },
    );
    snap("sync_result", &s);
    key(&mut s, KeyCode::Enter);
    assert!(s.dialog.is_none());
    assert!(
        s.status
            .as_ref()
            .is_some_and(|m| m.text.contains("Succeeded"))
    );
}

/// The command's reply may overtake the engine's OperationFinished event: the dialog shows the
/// reply's result at once, exactly as it will once the event arrives (no stale "Finished").
#[test]
fn sync_reply_before_finished_event_shows_the_result() {
    let mut s = state();
    select(&mut s, "astromesh-dev");
    ch(&mut s, 's');
    key(&mut s, KeyCode::Tab);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::Call { tag, .. }) = fx.first().cloned() else {
        panic!("no call")
    };
    let revision = "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345";
    update(
        &mut s,
        Action::Event(Event::OperationStarted {
            app: "astromesh-dev".into(),
            kind: OperationKind::Sync,
            revision: revision.into(),
            total: 2,
        }),
    );
    let first = result(
        ResultCode::Configured,
        "ConfigMap",
        "astromesh-dev-runtime",
        "",
    );
    update(
        &mut s,
        Action::Event(Event::Progress {
            app: "astromesh-dev".into(),
            phase: "Sync".into(),
            wave: 0,
            done: 1,
            total: 2,
            resource: Some(first.clone()),
            message: String::new(),
        }),
    );
    let finished = OperationResult {
        app: "astromesh-dev".into(),
        kind: OperationKind::Sync,
        phase: OperationPhase::Succeeded,
        revision: revision.into(),
        message: "successfully synced (all tasks run)".into(),
        resources: vec![
            first,
            result(ResultCode::Configured, "Deployment", "astromesh-dev", ""),
        ],
        dry_run: false,
        retries: 0,
        history_id: Some(6),
        diffs: Vec::new(),
    };
    update(
        &mut s,
        Action::Outcome {
            tag,
            outcome: CommandOutcome::Operation(finished.clone()),
        },
    );
    let before_event = draw(&s, 160, 48);
    assert!(before_event.contains("Succeeded"), "{before_event}");
    assert!(!before_event.contains("Finished"), "{before_event}");
    assert!(before_event.contains(" 2/2"), "{before_event}");
    update(&mut s, Action::Event(Event::OperationFinished(finished)));
    assert_eq!(before_event, draw(&s, 160, 48));
}

#[test]
fn rollback_flow_with_auto_sync_on() {
    let mut s = state();
    select(&mut s, "astromesh-dev");
    ch(&mut s, 'r');
    snap("rollback_pick", &s);
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Enter);
    snap("rollback_autosync_on", &s);
    key(&mut s, KeyCode::Tab);
    let fx = key(&mut s, KeyCode::Enter);
    let tag = match fx.as_slice() {
        [
            Effect::Send(Command::SetAutoSync {
                enabled: Some(false),
                ..
            }),
            Effect::Call {
                tag,
                command:
                    Command::Rollback {
                        history_id: 3,
                        options,
                        ..
                    },
            },
        ] => {
            assert!(options.dry_run);
            *tag
        }
        other => panic!("unexpected effects {other:?}"),
    };
    snap("rollback_review_pending", &s);
    update(
        &mut s,
        Action::Outcome {
            tag,
            outcome: CommandOutcome::Operation(OperationResult {
                app: "astromesh-dev".into(),
                kind: OperationKind::Rollback,
                phase: OperationPhase::Succeeded,
                revision: "2c3d4e5f60718293a4b5c6d7e8f9012345678901".into(),
                message: String::new(),
                resources: vec![
                    result(
                        ResultCode::WouldConfigure,
                        "Deployment",
                        "astromesh-dev",
                        "image 1.5.0-rc9 → 1.4.1",
                    ),
                    result(
                        ResultCode::WouldConfigure,
                        "ConfigMap",
                        "astromesh-dev-runtime",
                        "",
                    ),
                    result(ResultCode::Unchanged, "Service", "astromesh-dev", ""),
                    result(
                        ResultCode::PruneSkipped,
                        "Secret",
                        "astromesh-legacy-token",
                        "prune disabled",
                    ),
                ],
                dry_run: true,
                retries: 0,
                history_id: None,
                diffs: vec![
                    ResourceDiff {
                        key: ResourceKey::new("apps", "Deployment", "astromesh-dev", "astromesh-dev"),
                        state: ResourceState::OutOfSync,
                        unified: "--- live apps/v1/Deployment astromesh-dev\n+++ desired apps/v1/Deployment astromesh-dev\n@@ -20,3 +20,3 @@\n       containers:\n-      - image: ghcr.io/example/astromesh:1.5.0-rc9\n+      - image: ghcr.io/example/astromesh:1.4.1\n         name: astromesh\n".into(),
                    },
                    ResourceDiff {
                        key: ResourceKey::new("", "ConfigMap", "astromesh-dev", "astromesh-dev-runtime"),
                        state: ResourceState::OutOfSync,
                        unified: "--- live v1/ConfigMap astromesh-dev-runtime\n+++ desired v1/ConfigMap astromesh-dev-runtime\n@@ -3,2 +3,2 @@\n   runtime.yaml: |\n-    logLevel: debug\n+    logLevel: info\n".into(),
                    },
                ],
            }),
        },
    );
    // Point 11: only what changes is counted (not the unchanged Service or the skipped
    // prune), and the diff of each is shown.
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = draw(&s, w, h);
        assert!(screen.contains("2 resources would change"), "{screen}");
        assert!(
            screen.contains("+       - image: ghcr.io/example/astromesh:1.4.1"),
            "{screen}"
        );
    }
    assert!(draw(&s, 160, 48).contains("+     logLevel: info"));
    snap("rollback_review", &s);
    key(&mut s, KeyCode::Tab);
    let fx = key(&mut s, KeyCode::Enter);
    assert!(matches!(
        fx.as_slice(),
        [Effect::Call {
            command: Command::Rollback { history_id: 3, .. },
            ..
        }]
    ));
}

fn preview() -> PromotePreview {
    PromotePreview {
        file: "deploy/helm/astromesh/values-staging.yaml".into(),
        changes: vec![
            ValueChange { key: "image.tag".into(), source: Some("\"1.5.0-rc9\"".into()), target: Some("\"1.4.2\"".into()) },
            ValueChange { key: "runtime.logLevel".into(), source: Some("debug".into()), target: Some("info".into()) },
            ValueChange { key: "runtime.maxConcurrentSessions".into(), source: Some("8".into()), target: Some("16".into()) },
            ValueChange { key: "replicaCount".into(), source: Some("1".into()), target: Some("2".into()) },
        ],
        diff: "--- a/deploy/helm/astromesh/values-staging.yaml\n+++ b/deploy/helm/astromesh/values-staging.yaml\n@@ -2,6 +2,6 @@\n replicaCount: 2\n \n image:\n-  tag: \"1.4.2\"\n+  tag: \"1.5.0-rc9\"\n \n runtime:\n   logLevel: info\n".into(),
    }
}

#[test]
fn promote_flow() {
    let mut s = state();
    select(&mut s, "astromesh-dev");
    ch(&mut s, 'p');
    snap("promote_envs", &s);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::PromotePreview { tag, request }) = fx.first().cloned() else {
        panic!("no preview requested: {fx:?}")
    };
    assert_eq!(
        (request.source_env.as_str(), request.target_env.as_str()),
        ("dev", "staging")
    );
    update(
        &mut s,
        Action::PromotePreview {
            tag,
            result: Ok(preview()),
        },
    );
    // Keep only image.tag: unpick the other three.
    for _ in 0..3 {
        key(&mut s, KeyCode::Down);
        ch(&mut s, ' ');
    }
    snap("promote_keys", &s);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::PromotePreview { tag, request }) = fx.first().cloned() else {
        panic!("no file preview requested")
    };
    assert_eq!(request.keys, vec!["image.tag".to_string()]);
    update(
        &mut s,
        Action::PromotePreview {
            tag,
            result: Ok(preview()),
        },
    );
    snap("promote_review", &s);
    key(&mut s, KeyCode::Enter);
    snap("promote_message", &s);
    typed(&mut s, " (canary ok)");
    let fx = update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
    );
    let (tag, req) = match fx.as_slice() {
        [
            Effect::Call {
                tag,
                command: Command::Promote(req),
            },
        ] => (*tag, req.clone()),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        req.message.as_deref(),
        Some("promote image.tag from dev to staging (canary ok)")
    );
    update(
        &mut s,
        Action::Outcome {
            tag,
            outcome: CommandOutcome::Done,
        },
    );
    snap("promote_committed", &s);
}

#[test]
fn promote_to_protected_env_needs_its_name() {
    let mut s = state();
    ch(&mut s, ':');
    typed(&mut s, "promote staging prod");
    key(&mut s, KeyCode::Enter);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::PromotePreview { tag, .. }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    update(
        &mut s,
        Action::PromotePreview {
            tag,
            result: Ok(preview()),
        },
    );
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::PromotePreview { tag, .. }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    update(
        &mut s,
        Action::PromotePreview {
            tag,
            result: Ok(preview()),
        },
    );
    key(&mut s, KeyCode::Enter);
    let fx = update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
    );
    assert!(fx.is_empty(), "committed to prod without typing its name");
    typed(&mut s, "prod");
    let fx = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Call {
                command: Command::Promote(_),
                ..
            }]
        ),
        "{fx:?}"
    );
}

#[test]
fn autosync_toggle_confirm() {
    let mut s = state();
    select(&mut s, "astromesh-prod");
    ch(&mut s, 'a');
    snap("autosync_confirm", &s);
    // Typing goes straight to the env-name field.
    typed(&mut s, "prod");
    let fx = key(&mut s, KeyCode::Enter);
    // prod's auto-sync is off by override while Git says on: turning it on clears the override.
    assert_eq!(
        fx,
        vec![Effect::Send(Command::SetAutoSync {
            app: "astromesh-prod".into(),
            enabled: None,
            self_heal: None,
            prune: None
        })]
    );
}

#[test]
fn readonly_refuses_and_hides_mutations() {
    let mut o = opts();
    o.readonly = true;
    let mut s = State::new(o, fixtures::snapshot(), fixtures::now());
    for c in ['s', 'r', 'p', 'a'] {
        assert!(ch(&mut s, c).is_empty());
        assert!(s.dialog.is_none(), "{c} opened a dialog in read-only mode");
    }
    assert!(
        s.status
            .as_ref()
            .is_some_and(|m| m.text.contains("read-only"))
    );
    ch(&mut s, ':');
    typed(&mut s, "sync dev");
    key(&mut s, KeyCode::Enter);
    assert!(s.dialog.is_none());
    ch(&mut s, '?');
    let screen = draw(&s, 160, 48);
    assert!(!screen.contains("sync (preview"), "{screen}");
    snap("help_readonly", &s);
}

#[test]
fn remapped_keys_work_and_show_in_help() {
    let mut cfg = BTreeMap::new();
    cfg.insert("sync".to_string(), "S".to_string());
    let mut o = opts();
    o.keymap = Keymap::from_config(&cfg).expect("keymap");
    let mut s = State::new(o, fixtures::snapshot(), fixtures::now());
    select(&mut s, "astromesh-dev");
    ch(&mut s, 's');
    assert!(s.dialog.is_none());
    ch(&mut s, 'S');
    assert!(matches!(s.dialog, Some(Dialog::Sync(_))));
    key(&mut s, KeyCode::Esc);
    ch(&mut s, '?');
    let screen = draw(&s, 160, 48);
    assert!(screen.contains("S sync"), "{screen}");
}

#[test]
fn extra_key_and_refresh_effects() {
    let mut o = opts();
    o.keymap.bind_extra(Key::ch('m'), 0).expect("bind");
    let mut s = State::new(o, fixtures::snapshot(), fixtures::now());
    assert_eq!(ch(&mut s, 'm'), vec![Effect::Extra(0)]);
    assert_eq!(
        ch(&mut s, 'R'),
        vec![Effect::Send(Command::Refresh {
            app: None,
            hard: true
        })]
    );
    select(&mut s, "astromesh-prod");
    key(&mut s, KeyCode::Enter);
    assert_eq!(
        ch(&mut s, 'R'),
        vec![Effect::Send(Command::Refresh {
            app: Some("astromesh-prod".into()),
            hard: true
        })]
    );
    // The fixture has an operation of this session running: quitting asks first; `l` leaves it.
    ch(&mut s, 'q');
    assert!(!s.quit);
    let screen = draw(&s, 80, 24);
    assert!(
        screen.contains("wait for it to finish") && screen.contains("abandon it"),
        "{screen}"
    );
    ch(&mut s, 'l');
    assert!(s.quit);
}

#[test]
fn selection_survives_new_snapshots() {
    let mut s = state();
    select(&mut s, "astromesh-staging");
    let mut next = fixtures::snapshot();
    next.apps.reverse();
    update(&mut s, Action::Snapshot(next));
    assert_eq!(s.selected.as_deref(), Some("astromesh-staging"));
}

#[test]
fn detail_pods_empty_says_why_and_asks_for_nothing() {
    let mut snapshot = fixtures::snapshot();
    for a in &mut snapshot.apps {
        a.resources.retain(|r| r.key.kind != "Pod");
    }
    let mut s = State::new(opts(), snapshot, fixtures::now());
    select(&mut s, "astromesh-prod");
    key(&mut s, KeyCode::Enter);
    assert!(key(&mut s, KeyCode::Tab).is_empty());
    assert!(key(&mut s, KeyCode::Tab).is_empty());
    assert!(key(&mut s, KeyCode::Tab).is_empty(), "no pod, no request");
    assert_eq!(s.detail.pane(), Pane::Pods);
    let screen = draw(&s, 80, 24);
    assert!(screen.contains("Pods (0)"), "{screen}");
    assert!(
        screen.contains("no pods: this App runs no workloads"),
        "{screen}"
    );
}

// --- A first-time user's walk-through (issue 22, points 9–17) ---

/// Point 9: actions go to the row the user sees. With the cursor on prod, a filter showing only
/// dev moves the cursor to dev (`s` previews dev's sync, never prod's); with a filter matching
/// nothing, no action opens anything.
#[test]
fn actions_never_go_to_an_app_the_filter_hides() {
    let mut s = state();
    select(&mut s, "astromesh-prod");
    ch(&mut s, '/');
    typed(&mut s, "dev");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.selected.as_deref(), Some("astromesh-dev"));
    ch(&mut s, 's');
    assert!(
        matches!(&s.dialog, Some(Dialog::Sync(d)) if d.app == "astromesh-dev"),
        "{:?}",
        s.dialog
    );
    key(&mut s, KeyCode::Esc);
    // The summary under the table is about the visible row too.
    let screen = draw(&s, 80, 24);
    assert!(!screen.contains("astromesh-prod"), "{screen}");

    let mut s = state();
    select(&mut s, "astromesh-prod");
    ch(&mut s, '/');
    typed(&mut s, "nothing-matches");
    key(&mut s, KeyCode::Enter);
    assert!(s.visible_apps().is_empty());
    for c in ['s', 'r', 'a', 'd'] {
        assert!(ch(&mut s, c).is_empty(), "{c} did something");
        assert!(s.dialog.is_none(), "{c} opened {:?}", s.dialog);
        assert_eq!(s.screen, Screen::Apps, "{c} left the Apps screen");
    }
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Apps, "Enter opened a hidden App");
    snap("apps_filter_matches_nothing", &s);
    // Clearing the filter selects a visible row again.
    key(&mut s, KeyCode::Esc);
    assert!(s.current_app().is_some());
}

/// Point 11: the sync dialog's prune box starts unchecked whatever auto-sync's prune says (Argo
/// CD's sync panel): dev's Git policy prunes, prod's override does not; neither pre-checks it.
#[test]
fn sync_dialog_prune_starts_unchecked() {
    for app in ["astromesh-dev", "astromesh-prod"] {
        let mut s = state();
        select(&mut s, app);
        ch(&mut s, 's');
        match &s.dialog {
            Some(Dialog::Sync(d)) => assert!(!d.flags[0], "{app}: prune pre-checked"),
            other => panic!("{app}: {other:?}"),
        }
    }
}

/// Point 17: a second `/` starts a new filter (old code appended to the first: `/proddev`), and
/// a second `/` on the Detail screen a new search.
#[test]
fn a_second_slash_starts_a_new_filter() {
    let mut s = state();
    ch(&mut s, '/');
    typed(&mut s, "prod");
    key(&mut s, KeyCode::Enter);
    ch(&mut s, '/');
    typed(&mut s, "dev");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.filter, "dev");
    assert_eq!(s.selected.as_deref(), Some("astromesh-dev"));
    let mut s = detail(Pane::Diff);
    ch(&mut s, '/');
    typed(&mut s, "image");
    key(&mut s, KeyCode::Enter);
    ch(&mut s, '/');
    typed(&mut s, "replicas");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.detail.search, "replicas");
}

fn finished(app: &str, phase: OperationPhase, message: &str) -> OperationResult {
    OperationResult {
        app: app.into(),
        kind: OperationKind::Sync,
        phase,
        revision: "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345".into(),
        message: message.into(),
        resources: Vec::new(),
        dry_run: false,
        retries: 0,
        history_id: None,
        diffs: Vec::new(),
    }
}

fn last_line(screen: &str) -> String {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim_matches(|c| c == '"' || c == ' ').is_empty())
        .unwrap_or("")
        .to_string()
}

/// Point 12: a status message leaves the key hints visible, and a message about another App is
/// not shown on an App's screen (it stays in the log pane).
#[test]
fn status_messages_keep_hints_and_stay_with_their_app() {
    let mut s = state();
    s.set_status(
        sextant::engine::api::NoticeLevel::Warn,
        "astromesh-prod: sync refused: sync in progress by bob@ops since 05:12",
    );
    for (w, h) in [(80, 24), (160, 48)] {
        let bottom = last_line(&draw(&s, w, h));
        assert!(
            bottom.contains("sync refused") && bottom.contains("? help"),
            "{w}x{h}: {bottom}"
        );
    }
    assert!(last_line(&draw(&s, 160, 48)).contains("q quit"));
    snap("status_with_hints", &s);

    select(&mut s, "astromesh-prod");
    key(&mut s, KeyCode::Enter);
    update(
        &mut s,
        Action::Event(Event::OperationFinished(finished(
            "astromesh-dev",
            OperationPhase::Failed,
            "one or more objects failed to apply",
        ))),
    );
    let bottom = last_line(&draw(&s, 160, 48));
    assert!(!bottom.contains("astromesh-dev"), "{bottom}");
    assert!(bottom.contains("? help"), "{bottom}");
    assert!(
        s.log
            .iter()
            .any(|l| l.text.contains("astromesh-dev: sync Failed")),
        "kept in the log"
    );
    // Prod's own news shows on prod's screen, and dev's on the Apps screen.
    update(
        &mut s,
        Action::Event(Event::OperationFinished(finished(
            "astromesh-prod",
            OperationPhase::Succeeded,
            "successfully synced",
        ))),
    );
    assert!(last_line(&draw(&s, 160, 48)).contains("astromesh-prod: sync Succeeded"));
    key(&mut s, KeyCode::Esc);
    update(
        &mut s,
        Action::Event(Event::OperationFinished(finished(
            "astromesh-dev",
            OperationPhase::Succeeded,
            "successfully synced",
        ))),
    );
    assert!(last_line(&draw(&s, 160, 48)).contains("astromesh-dev: sync Succeeded"));
}

/// Point 17: the command's reply and the engine's event about one sync make one log line.
#[test]
fn the_log_does_not_repeat_one_operation() {
    let mut s = state();
    select(&mut s, "astromesh-dev");
    ch(&mut s, 's');
    key(&mut s, KeyCode::Tab);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::Call { tag, .. }) = fx.first().cloned() else {
        panic!("no call")
    };
    let r = finished(
        "astromesh-dev",
        OperationPhase::Succeeded,
        "successfully synced",
    );
    update(&mut s, Action::Event(Event::OperationFinished(r.clone())));
    update(
        &mut s,
        Action::Outcome {
            tag,
            outcome: CommandOutcome::Operation(r),
        },
    );
    let lines: Vec<&str> = s
        .log
        .iter()
        .map(|l| l.text.as_str())
        .filter(|t| t.contains("Succeeded"))
        .collect();
    assert_eq!(
        lines,
        vec!["astromesh-dev: sync Succeeded: successfully synced"]
    );
}

/// Point 15: when the engine cannot compare (a bad KUBECONFIG), the sync dialog says so with
/// the whole error instead of "no differences", and a refused sync shows the engine's answer
/// whole instead of "waiting for the engine…" forever.
#[test]
fn sync_without_a_compare_says_why_and_does_not_wait_forever() {
    let error = "cannot read kubeconfig /home/alice/.kube/config-typo: No such file or directory (os error 2)\n  set KUBECONFIG or --kubeconfig to a valid file";
    let mut snapshot = fixtures::snapshot();
    let dev = &mut snapshot.apps[0];
    dev.diffs.clear();
    dev.sync = sextant::engine::api::SyncStatus::Unknown;
    dev.conditions.push(sextant::engine::api::Condition {
        kind: sextant::engine::api::ConditionKind::ClusterError,
        message: error.into(),
    });
    let mut s = State::new(opts(), snapshot, fixtures::now());
    select(&mut s, "astromesh-dev");
    ch(&mut s, 's');
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = draw(&s, w, h);
        assert!(!screen.contains("no differences"), "{screen}");
        assert!(screen.contains("cannot preview"), "{screen}");
        assert!(screen.contains("config-typo"), "{screen}");
        assert!(screen.contains("valid file"), "{screen}");
        assert!(!screen.contains("'\""), "{screen}");
    }
    snap("sync_dialog_cannot_compare", &s);
    key(&mut s, KeyCode::Tab);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::Call { tag, .. }) = fx.first().cloned() else {
        panic!("no call: {fx:?}")
    };
    update(
        &mut s,
        Action::Outcome {
            tag,
            outcome: CommandOutcome::Refused(format!("astromesh-dev: {error}")),
        },
    );
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = draw(&s, w, h);
        assert!(!screen.contains("waiting for the engine"), "{screen}");
        assert!(screen.contains("No such file or directory"), "{screen}");
        assert!(screen.contains("valid file"), "{screen}");
    }
    snap("sync_refused_whole_error", &s);
}

/// Issue 20: the sync preview names the ignored fields (ignoreDifferences) a sync will overwrite
/// with Git's value, and says nothing of them when the App keeps live values
/// (`RespectIgnoreDifferences=true`) or does not apply Synced resources (`ApplyOutOfSyncOnly`).
#[test]
fn sync_preview_names_ignored_fields_it_overwrites() {
    let with = |option: Option<&str>| {
        let mut snap = fixtures::snapshot();
        let app = snap
            .apps
            .iter_mut()
            .find(|a| a.app.name == "astromesh-dev")
            .expect("dev in the fixture");
        let row = app
            .resources
            .iter_mut()
            .find(|r| r.key.kind == "Deployment")
            .expect("a Deployment in dev");
        row.ignored_changes = vec!["/spec/replicas: 6 → 1".into()];
        let name = row.key.name.clone();
        row.state = ResourceState::Synced;
        if let Some(o) = option {
            app.app.sync_policy.sync_options.push(o.into());
        }
        let mut s = State::new(opts(), snap, fixtures::now());
        select(&mut s, "astromesh-dev");
        ch(&mut s, 's');
        assert!(matches!(s.dialog, Some(Dialog::Sync(_))));
        (draw(&s, 160, 48), name)
    };
    let (screen, name) = with(None);
    assert!(
        screen.contains("1 ignored field(s) get Git's value")
            && screen.contains(&format!("! Deployment/{name} /spec/replicas: 6 → 1")),
        "{screen}"
    );
    // Kept live, or not applied at all (a Synced resource under ApplyOutOfSyncOnly).
    for option in ["RespectIgnoreDifferences=true", "ApplyOutOfSyncOnly=true"] {
        let (screen, _) = with(Some(option));
        assert!(!screen.contains("ignored field"), "{option}: {screen}");
    }
}

/// Point 10: edits in the clone that are not committed and pushed are not deployed, and the
/// screen says so — in the header, and in the detail of the App whose files changed (not in
/// another App's).
#[test]
fn uncommitted_and_unpushed_changes_are_not_deployed_and_say_so() {
    let mut snapshot = fixtures::snapshot();
    snapshot.repo.uncommitted = vec!["deploy/helm/astromesh/values-dev.yaml".into()];
    snapshot.apps[1].app.source.path = "deploy/helm/other".into();
    let mut s = State::new(opts(), snapshot.clone(), fixtures::now());
    let wide = draw(&s, 160, 48);
    assert!(
        wide.lines()
            .next()
            .is_some_and(|l| l.contains("1 uncommitted: not deployed until committed and pushed")),
        "{wide}"
    );
    assert!(draw(&s, 80, 24).contains("not deployed"));
    select(&mut s, "astromesh-dev");
    key(&mut s, KeyCode::Enter);
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = draw(&s, w, h);
        assert!(
            screen.contains("values-dev.yaml has uncommitted changes"),
            "{w}x{h}:\n{screen}"
        );
    }
    assert!(draw(&s, 160, 48).contains(
        "deploy/helm/astromesh/values-dev.yaml has uncommitted changes: not deployed until committed and pushed"
    ));
    snap("detail_uncommitted", &s);
    // prod's chart is elsewhere: its screen has nothing to say about dev's file.
    let mut s = State::new(opts(), snapshot.clone(), fixtures::now());
    select(&mut s, "astromesh-prod");
    key(&mut s, KeyCode::Enter);
    assert!(!draw(&s, 160, 48).contains("uncommitted changes"));
    // A commit not pushed: every App's screen says so.
    snapshot.repo.uncommitted.clear();
    snapshot.repo.ahead = 2;
    let mut s = State::new(opts(), snapshot, fixtures::now());
    select(&mut s, "astromesh-prod");
    key(&mut s, KeyCode::Enter);
    let screen = draw(&s, 160, 48);
    assert!(
        screen.contains(
            "2 local commits not on origin/main: not deployed until committed and pushed"
        ),
        "{screen}"
    );
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.contains("2 unpushed"))
    );
}

/// Point 14: at 120 columns NAME takes what the names need and a message column shows the
/// health message whole; at 70 no status is cut mid-word (the revision and last-sync columns
/// go first).
#[test]
fn apps_table_columns_fit_the_width() {
    let s = state();
    let at120 = draw(&s, 120, 30);
    let header = at120
        .lines()
        .find(|l| l.contains("NAME"))
        .expect("header row");
    let name_col = header.find("ENV").expect("ENV") - header.find("NAME").expect("NAME");
    assert!(name_col <= 25, "NAME takes {name_col} columns:\n{at120}");
    assert!(header.contains("MESSAGE"), "{header}");
    assert!(at120.contains("1 pod in ImagePullBackOff"), "{at120}");
    assert!(
        at120.contains("waiting for rollout") || at120.contains("auto-sync"),
        "{at120}"
    );
    let at70 = draw(&s, 70, 20);
    for status in ["Synced", "OutOfSync", "Healthy", "Degraded", "Progressing"] {
        assert!(at70.contains(status), "{status} cut at 70 columns:\n{at70}");
    }
    assert!(at70.contains("⠋ auto-sync"), "{at70}");
    insta::assert_snapshot!("apps_120x30", at120);
    insta::assert_snapshot!("apps_70x20", at70);
}

/// Point 14: the rollback list's columns line up; the promotion dialog's title follows the pair
/// being chosen; Esc in a later promotion step goes back one step, not out of the wizard.
#[test]
fn rollback_list_aligns_and_promote_title_and_esc_follow_the_user() {
    let mut s = state();
    select(&mut s, "astromesh-dev");
    ch(&mut s, 'r');
    let screen = draw(&s, 160, 48);
    let dates: Vec<usize> = screen
        .lines()
        .filter(|l| l.contains(" #"))
        .filter_map(|l| l.find("2026-11-2"))
        .collect();
    assert_eq!(dates.len(), 4, "{screen}");
    assert!(
        dates.windows(2).all(|w| w[0] == w[1]),
        "{dates:?}\n{screen}"
    );
    key(&mut s, KeyCode::Esc);

    ch(&mut s, 'p');
    assert!(draw(&s, 160, 48).contains("Promote dev → staging"));
    key(&mut s, KeyCode::Down); // target column: staging → prod
    let screen = draw(&s, 160, 48);
    assert!(screen.contains("Promote dev → prod"), "{screen}");
    key(&mut s, KeyCode::Up);
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::PromotePreview { tag, .. }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    update(
        &mut s,
        Action::PromotePreview {
            tag,
            result: Ok(preview()),
        },
    );
    ch(&mut s, ' '); // unpick image.tag
    let fx = key(&mut s, KeyCode::Enter);
    let Some(Effect::PromotePreview { tag, .. }) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    update(
        &mut s,
        Action::PromotePreview {
            tag,
            result: Ok(preview()),
        },
    );
    assert!(draw(&s, 160, 48).contains("j/k scroll · enter write the commit message"));
    // Esc: back to the key picker with the picks kept, then to the env picker, then closed.
    key(&mut s, KeyCode::Esc);
    match &s.dialog {
        Some(Dialog::Promote(p)) => match &p.step {
            sextant::ui::state::PromoteStep::Keys { picked, .. } => {
                assert_eq!(picked, &vec![false, true, true, true])
            }
            _ => panic!("not back on the keys step"),
        },
        other => panic!("Esc closed the wizard: {other:?}"),
    }
    key(&mut s, KeyCode::Esc);
    assert!(draw(&s, 160, 48).contains("Choose the source and target environments"));
    key(&mut s, KeyCode::Esc);
    assert!(s.dialog.is_none());
}

/// Point 13: at 80×24 the help scrolls and every key can be reached; no description is cut
/// ("stored in clust…"); the Pods pane's help speaks of pods, not of searching the diff.
#[test]
fn help_scrolls_at_80x24_cuts_nothing_and_fits_the_pane() {
    let mut s = state();
    ch(&mut s, '?');
    let mut seen = String::new();
    for _ in 0..40 {
        let screen = draw(&s, 80, 24);
        // The help box's lines (the header's URL and the summary are cut on purpose).
        let boxed = screen
            .lines()
            .skip(1)
            .filter(|l| l.starts_with("\"│") || l.starts_with("\"┌") || l.starts_with("\"└"));
        for l in boxed {
            assert!(!l.contains('…'), "a cut line {l}:\n{screen}");
        }
        seen.push_str(&screen);
        key(&mut s, KeyCode::Down);
    }
    for k in [
        "toggle auto-sync (stored in cluster)",
        "hard refresh",
        "toggle the log pane",
        "quit",
        "manual change",
        "commands:",
    ] {
        assert!(seen.contains(k), "{k:?} never shown at 80x24:\n{seen}");
    }
    assert!(draw(&s, 80, 24).contains("↑/↓ pgup/pgdn scroll"));
    key(&mut s, KeyCode::Esc);
    assert!(!s.help);

    let mut s = detail(Pane::Pods);
    ch(&mut s, '?');
    let screen = draw(&s, 160, 48);
    assert!(screen.contains("Pods pane"), "{screen}");
    assert!(screen.contains("next pod (its events below)"), "{screen}");
    assert!(!screen.contains("search the diff "), "{screen}");
    assert!(!screen.contains("next search match"), "{screen}");
    snap("help_pods", &s);
}

/// Point 17: Tab in the palette completes commands and App names (or envs); with several
/// candidates it completes their common prefix and lists them.
#[test]
fn palette_tab_completes_commands_and_apps() {
    let mut s = state();
    ch(&mut s, ':');
    typed(&mut s, "sy");
    key(&mut s, KeyCode::Tab);
    assert_eq!(
        s.input,
        Some(sextant::ui::state::Input::Palette("sync ".into()))
    );
    typed(&mut s, "astromesh-p");
    key(&mut s, KeyCode::Tab);
    assert_eq!(
        s.input,
        Some(sextant::ui::state::Input::Palette(
            "sync astromesh-prod ".into()
        ))
    );
    key(&mut s, KeyCode::Enter);
    assert!(matches!(&s.dialog, Some(Dialog::Sync(d)) if d.app == "astromesh-prod"));
    key(&mut s, KeyCode::Esc);
    ch(&mut s, ':');
    typed(&mut s, "diff astro");
    key(&mut s, KeyCode::Tab);
    assert_eq!(
        s.input,
        Some(sextant::ui::state::Input::Palette("diff astromesh-".into()))
    );
    let screen = draw(&s, 160, 48);
    assert!(
        screen.contains("tab: astromesh-dev  astromesh-prod  astromesh-staging"),
        "{screen}"
    );
    typed(&mut s, "s");
    key(&mut s, KeyCode::Tab);
    assert_eq!(
        s.input,
        Some(sextant::ui::state::Input::Palette(
            "diff astromesh-staging ".into()
        ))
    );
}
