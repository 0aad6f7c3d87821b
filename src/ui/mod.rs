//! The terminal UI: one event loop (terminal input, engine snapshots and events, ticks) over a
//! pure state machine (`state::update`) and pure rendering (`view::render`).
//!
//! The UI never talks to git or the cluster: it sends engine commands and renders snapshots.
//! Work the embedder can do that the engine API does not cover (promotion previews, the demo's
//! scripted keys) comes in through [`Hooks`].

pub mod errtext;
pub mod keymap;
pub mod state;
pub mod theme;
pub mod view;

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::{broadcast, mpsc, watch};

use crate::config::Config;
use crate::engine::api::{
    CommandOutcome, EngineHandle, Notice, NoticeLevel, PromoteRequest, Request, Snapshot,
};

pub use state::{
    Action, Effect, ExtraKey, PromotePreview, SessionSync, State, UiOptions, ValueChange, update,
};
pub use view::render;

/// Errors starting or running the UI.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error(transparent)]
    Theme(#[from] theme::ThemeError),
    #[error(transparent)]
    Keys(#[from] keymap::KeymapError),
    #[error(
        "terminal error: {0}\n  sextant needs an interactive terminal (use the CLI subcommands in scripts)"
    )]
    Terminal(#[from] io::Error),
}

/// Computes a promotion preview from the repository (keys that differ, resulting file diff).
pub type PreviewFn =
    Arc<dyn Fn(PromoteRequest) -> BoxFuture<'static, Result<PromotePreview, String>> + Send + Sync>;

/// Runs an extra key's action; the `Ok` text goes to the status line.
pub type ExtraFn = Arc<dyn Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// Embedder-supplied capabilities.
#[derive(Clone, Default)]
pub struct Hooks {
    pub promote_preview: Option<PreviewFn>,
    /// Handlers of `UiOptions::extras`, same order.
    pub extras: Vec<ExtraFn>,
}

/// UI options from `config.toml` (`ui.theme`, `ui.ascii`, `ui.keys`, `protected_envs`) and the
/// environment (`NO_COLOR`).
pub fn options_from_config(config: &Config, readonly: bool) -> Result<UiOptions, UiError> {
    let theme = theme::Theme::from_config(
        &config.ui.theme,
        config.ui.ascii,
        theme::Theme::no_color_env(),
    )?;
    let keymap = keymap::Keymap::from_config(&config.ui.keys)?;
    Ok(UiOptions {
        readonly,
        protected_envs: config.protected_envs.clone(),
        theme,
        keymap,
        extras: Vec::new(),
        title: "sextant".into(),
        promote_preview: true,
        session_sync: SessionSync::Unstated,
    })
}

/// What the TUI's engine does on its own: nothing in read-only mode; with `[reconcile] in_ui =
/// false` reconciling is left to `sextant reconcile`; otherwise it auto-syncs, leaving out the
/// protected environments unless `--yes` was given.
pub fn session_sync(config: &Config, readonly: bool, yes: bool) -> SessionSync {
    if readonly || !config.reconcile.in_ui {
        return SessionSync::External;
    }
    SessionSync::Auto {
        exclude: if yes {
            Vec::new()
        } else {
            config.protected_envs.clone()
        },
    }
}

/// Start the engine over `repo` and `clusters` (auto-sync and self-heal on, polling per config)
/// and run the UI until the user quits. Used by `sextant` (real clusters) and `sextant demo`
/// (the sandbox).
pub async fn run_with_engine(
    repo: Arc<dyn crate::engine::api::Repo>,
    clusters: Arc<dyn crate::cluster::ClusterProvider>,
    config: &Config,
    opts: UiOptions,
    hooks: Hooks,
) -> Result<(), UiError> {
    let mut eng = crate::engine::EngineOptions::new(repo, clusters);
    eng.reconcile = config.reconcile.clone();
    eng.readonly = opts.readonly;
    let handle = crate::engine::Engine::start(eng);
    run(handle, opts, hooks).await
}

/// Keys whose values are never shown in a promotion preview.
fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "apikey",
        "api_key",
        "privatekey",
        "private_key",
    ]
    .iter()
    .any(|s| k.contains(s))
        && !k.ends_with("secretname")
}

/// The promotion preview of the UI (`p`): differing keys from `engine::promote::plan`, and for
/// chosen keys the target file edited by `engine::promote::apply` as a unified diff. Reads the
/// repository on the blocking pool.
pub fn promote_preview_hook(repo: crate::source::Repo, config: Config) -> PreviewFn {
    let repo = Arc::new(repo);
    let config = Arc::new(config);
    Arc::new(move |req: PromoteRequest| {
        let repo = repo.clone();
        let config = config.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || preview(&repo, &config, &req))
                .await
                .map_err(|e| format!("internal error: preview task failed: {e}"))?
        })
    })
}

fn preview(
    repo: &crate::source::Repo,
    config: &Config,
    req: &PromoteRequest,
) -> Result<PromotePreview, String> {
    use crate::engine::promote;
    let plan =
        promote::plan(repo, config, &req.source_env, &req.target_env).map_err(|e| e.to_string())?;
    let show = |key: &str, v: &Option<serde_json::Value>| {
        v.as_ref().map(|v| {
            if looks_secret(key) {
                "++++++++".to_string()
            } else {
                v.to_string()
            }
        })
    };
    let changes = plan
        .changes
        .iter()
        .map(|c| {
            let key = c.key();
            ValueChange {
                source: show(&key, &c.source),
                target: show(&key, &c.target),
                key,
            }
        })
        .collect();
    let mut diff = String::new();
    if !req.keys.is_empty() {
        let chosen = promote::select(&plan.changes, &req.keys, &req.source_env, &req.target_env)
            .map_err(|e| e.to_string())?;
        let read = |file: &str| -> Result<String, String> {
            let bytes = repo
                .read_file(&plan.base, file)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{file} not found at commit {}", plan.base.short()))?;
            String::from_utf8(bytes).map_err(|_| format!("{file} is not UTF-8 text"))
        };
        let target_text = read(&plan.target_file)?;
        let edited = promote::apply(
            &read(&plan.source_file)?,
            &target_text,
            &chosen,
            &plan.target_file,
        )
        .map_err(|e| e.to_string())?;
        diff = similar::TextDiff::from_lines(&target_text, &edited)
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("a/{}", plan.target_file),
                &format!("b/{}", plan.target_file),
            )
            .to_string();
    }
    Ok(PromotePreview {
        file: plan.target_file,
        changes,
        diff,
    })
}

/// `sextant` with no subcommand: the UI over the configured repository and real clusters.
pub fn cli(ctx: &crate::cli::Context) -> color_eyre::eyre::Result<()> {
    use color_eyre::eyre::WrapErr;
    let mut opts = options_from_config(&ctx.config, ctx.readonly)?;
    opts.session_sync = session_sync(&ctx.config, ctx.readonly, ctx.yes);
    let rt = crate::cli::session::runtime()?;
    rt.block_on(async {
        let handle = crate::cli::session::start(
            ctx,
            crate::cli::session::SessionOptions {
                fetch: true,
                auto_sync: matches!(opts.session_sync, SessionSync::Auto { .. }),
                poll: true,
            },
        )?;
        let hooks = Hooks {
            promote_preview: crate::source::open_repo(ctx.repo.as_deref(), &ctx.config)
                .ok()
                .map(|r| promote_preview_hook(r, ctx.config.clone())),
            extras: Vec::new(),
        };
        run(handle, opts, hooks)
            .await
            .wrap_err("the terminal UI failed")
    })
}

/// Restores the terminal when dropped (normal exit and error paths; panics are covered by the
/// hook `ratatui::try_init` installs).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Run the UI until the user quits. The first frame is drawn before anything is awaited.
pub async fn run(handle: EngineHandle, mut opts: UiOptions, hooks: Hooks) -> Result<(), UiError> {
    for (i, extra) in opts.extras.iter().enumerate() {
        opts.keymap.bind_extra(extra.key, i)?;
    }
    opts.promote_preview = hooks.promote_preview.is_some();
    let mut terminal = ratatui::try_init()?;
    let _guard = TerminalGuard;
    let mut state_rx = handle.state.clone();
    let initial = state_rx.borrow_and_update().clone();
    let mut state = State::new(opts, initial, SystemTime::now());
    terminal.draw(|f| render(&state, f))?;

    let mut events_rx = handle.subscribe();
    // New snapshots are cloned out of the engine's watch channel by a task on the runtime's
    // worker threads, not here: cloning 10,000 resources would stall input and drawing. The
    // channel holds one; the watch channel coalesces anything newer meanwhile.
    let (snap_tx, mut snap_rx) = mpsc::channel::<Snapshot>(1);
    let forwarder = tokio::spawn(forward_snapshots(state_rx, snap_tx));
    let mut input = EventStream::new();
    let (act_tx, mut act_rx) = mpsc::unbounded_channel::<Action>();
    let dispatch = spawn_dispatcher(handle.clone(), hooks, act_tx.clone());
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut engine_alive = true;
    let mut events_alive = true;

    loop {
        let action = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => Action::Key(k),
                Some(Ok(_)) => Action::Tick(SystemTime::now()),
                Some(Err(e)) => return Err(UiError::Terminal(e)),
                None => break,
            },
            snapshot = snap_rx.recv(), if engine_alive => match snapshot {
                Some(s) => Action::Snapshot(s),
                None => {
                    engine_alive = false;
                    Action::Event(crate::engine::api::Event::Notice(Notice {
                        level: NoticeLevel::Error,
                        message: "the engine stopped; the screen no longer updates (see the log file)".into(),
                        at: SystemTime::now(),
                        app: None,
                    }))
                }
            },
            ev = events_rx.recv(), if events_alive => match ev {
                Ok(e) => Action::Event(e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "UI lagged behind engine events");
                    Action::Tick(SystemTime::now())
                }
                Err(broadcast::error::RecvError::Closed) => {
                    events_alive = false;
                    Action::Tick(SystemTime::now())
                }
            },
            Some(a) = act_rx.recv() => a,
            _ = tick.tick() => Action::Tick(SystemTime::now()),
        };
        for effect in update(&mut state, action) {
            // The dispatcher only stops when the UI does.
            let _ = dispatch.send(effect);
        }
        if state.quit {
            break;
        }
        terminal.draw(|f| render(&state, f))?;
    }
    forwarder.abort();
    Ok(())
}

/// Clone each new engine snapshot and hand it to the UI loop; ends when either side is gone.
async fn forward_snapshots(mut rx: watch::Receiver<Snapshot>, tx: mpsc::Sender<Snapshot>) {
    while rx.changed().await.is_ok() {
        let snapshot = rx.borrow_and_update().clone();
        if tx.send(snapshot).await.is_err() {
            break;
        }
    }
}

/// Executes effects in order: each command is queued on the engine before the next effect is
/// looked at (so "turn auto-sync off, then preview the rollback" arrive in that order), while
/// waiting for outcomes happens in separate tasks so a long sync never blocks the UI.
fn spawn_dispatcher(
    handle: EngineHandle,
    hooks: Hooks,
    actions: mpsc::UnboundedSender<Action>,
) -> mpsc::UnboundedSender<Effect> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Effect>();
    tokio::spawn(async move {
        while let Some(effect) = rx.recv().await {
            match effect {
                Effect::Send(command) => {
                    if let Err(e) = handle.send(command).await {
                        let _ = actions.send(Action::Outcome {
                            tag: 0,
                            outcome: CommandOutcome::Failed(e),
                        });
                    }
                }
                Effect::Call { tag, command } => {
                    let (reply, rx) = tokio::sync::oneshot::channel();
                    let queued = handle
                        .commands
                        .send(Request {
                            command,
                            reply: Some(reply),
                        })
                        .await;
                    let actions = actions.clone();
                    tokio::spawn(async move {
                        let outcome = match queued {
                            Err(_) => CommandOutcome::Failed("the engine has stopped".into()),
                            Ok(()) => rx.await.unwrap_or_else(|_| {
                                CommandOutcome::Failed("the engine stopped before answering".into())
                            }),
                        };
                        let _ = actions.send(Action::Outcome { tag, outcome });
                    });
                }
                Effect::PromotePreview { tag, request } => {
                    let actions = actions.clone();
                    let preview = hooks.promote_preview.clone();
                    tokio::spawn(async move {
                        let result = match preview {
                            Some(p) => p(request).await,
                            None => Err("promotion preview is not available here: use `sextant promote` (it prints the change)".into()),
                        };
                        let _ = actions.send(Action::PromotePreview { tag, result });
                    });
                }
                Effect::Extra(i) => {
                    if let Some(f) = hooks.extras.get(i).cloned() {
                        let actions = actions.clone();
                        tokio::spawn(async move {
                            let (level, text) = match f().await {
                                Ok(t) => (NoticeLevel::Info, t),
                                Err(e) => (NoticeLevel::Error, e),
                            };
                            let _ = actions.send(Action::Event(crate::engine::api::Event::Notice(
                                Notice {
                                    level,
                                    message: text,
                                    at: SystemTime::now(),
                                    app: None,
                                },
                            )));
                        });
                    }
                }
            }
        }
    });
    tx
}
