//! Starting the engine for a headless command and waiting for its first complete picture.
//!
//! Every CLI command that needs live state runs the same engine the TUI runs: repository poll,
//! render, live cache, compare. One-shot commands start it without auto-sync and without polling;
//! `sextant reconcile` starts it with both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::Context;
use super::gitrepo::GitRepo;
use crate::app::App;
use crate::cluster::kube::KubeClusters;
use crate::engine::api::{AppState, EngineHandle, Snapshot};
use crate::engine::{Engine, EngineOptions};

/// How to start the engine.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// Fetch the remote before the first poll.
    pub fetch: bool,
    /// Run auto-sync and self-heal (only `sextant reconcile`).
    pub auto_sync: bool,
    /// Poll the repository periodically (only `sextant reconcile`).
    pub poll: bool,
}

/// A current-thread-free runtime for the command (the engine spawns several tasks).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")
}

/// Open the repository and start the engine over it. Must run inside the runtime.
pub fn start(ctx: &Context, opts: SessionOptions) -> Result<EngineHandle> {
    let repo =
        crate::source::open_repo(ctx.repo.as_deref(), &ctx.config)?.with_read_only(ctx.readonly);
    if opts.fetch
        && let Err(e) = repo.fetch()
    {
        eprintln!("warning: {e}\n  continuing with the refs already fetched");
    }
    let git = Arc::new(GitRepo::new(repo, &ctx.config));
    let clusters = Arc::new(KubeClusters::new(
        ctx.kubeconfig.clone(),
        ctx.config.clusters.clone(),
        ctx.kube_context.clone(),
    ));
    let mut eo = EngineOptions::new(git, clusters);
    eo.reconcile = ctx.config.reconcile.clone();
    eo.readonly = ctx.readonly;
    eo.auto_sync = opts.auto_sync;
    // Auto-sync never touches a protected environment unless the operator said --yes.
    if !ctx.yes {
        eo.auto_sync_exclude = ctx.config.protected_envs.clone();
    }
    eo.poll = opts.poll;
    Ok(Engine::start(eo))
}

/// Whether every App has been compared once (or failed to be) and the repository was polled.
/// (Per-App compare marks rather than `Snapshot::loading`: `loading` says whether a compare is in
/// flight at this instant; the marks say each App has had its first one, which a command needs.)
fn is_settled(s: &Snapshot) -> bool {
    let polled = s.repo.last_fetch.is_some() || s.repo.error.is_some();
    polled
        && s.apps
            .iter()
            .all(|a| a.compared_at.is_some() || !a.conditions.is_empty())
}

/// Wait until the first compare of every App is done; when that takes a while, say so on stderr.
pub async fn settled(handle: &EngineHandle, timeout: Duration) -> Result<Snapshot> {
    let mut rx = handle.state.clone();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    // Quick compares say nothing; a slow one (large App, slow cluster) says what it waits for,
    // on stderr so stdout stays a clean document.
    let announce_at = tokio::time::Instant::now() + PROGRESS_AFTER;
    let mut announced = false;
    loop {
        {
            let snap = rx.borrow_and_update();
            if is_settled(&snap) {
                return Ok(snap.clone());
            }
        }
        let wake = if announced {
            deadline
        } else {
            announce_at.min(deadline)
        };
        match tokio::time::timeout_at(wake, rx.changed()).await {
            Ok(Ok(())) => {}
            Err(_) if !announced && tokio::time::Instant::now() < deadline => {
                announced = true;
                let snap = rx.borrow().clone();
                eprintln!(
                    "comparing {} with the cluster (up to {}; --compare-timeout)",
                    pending_names(&snap),
                    super::duration::format_duration(timeout)
                );
            }
            Ok(Err(_)) => return Err(eyre!("the engine stopped before comparing the Apps")),
            Err(_) => {
                let snap = rx.borrow().clone();
                return Err(eyre!(
                    "timed out after {:.0}s waiting for the first compare of {}\n  check that the cluster is reachable, or raise --compare-timeout",
                    started.elapsed().as_secs_f64(),
                    pending_names(&snap)
                ));
            }
        }
    }
}

/// After this long without a complete first compare, say on stderr what is being waited for.
const PROGRESS_AFTER: Duration = Duration::from_secs(5);

/// The Apps whose first compare is still pending (or "the repository" before the first poll).
fn pending_names(snap: &Snapshot) -> String {
    let pending: Vec<&str> = snap
        .apps
        .iter()
        .filter(|a| a.compared_at.is_none() && a.conditions.is_empty())
        .map(|a| a.app.name.as_str())
        .collect();
    if pending.is_empty() {
        "the repository".to_string()
    } else {
        pending.join(", ")
    }
}

/// Find an App's state by app name or (unambiguous) env name.
pub fn find<'a>(snap: &'a Snapshot, query: &str) -> Result<&'a AppState> {
    let apps: Vec<App> = snap.apps.iter().map(|s| s.app.clone()).collect();
    if apps.is_empty() {
        let hint = snap
            .repo
            .error
            .as_deref()
            .map(|e| format!("\n  repository: {e}"))
            .unwrap_or_default();
        return Err(eyre!(
            "unknown app `{query}`: the repository declares no Apps{hint}"
        ));
    }
    let app = super::app::find_app(&apps, query)?;
    snap.app(&app.name)
        .ok_or_else(|| eyre!("app {} vanished from the engine state", app.name))
}

/// Refuse a mutating command in `--readonly` mode, or on a protected env without `--yes`.
pub fn check_mutation(ctx: &Context, app: &App, action: &str) -> Result<()> {
    if ctx.readonly {
        return Err(eyre!(
            "refusing to {action} {}: --readonly is set (mutating commands are disabled)\n  drop --readonly to allow it",
            app.name
        ));
    }
    check_protected(ctx, &app.env, &app.name, action)
}

/// Protected environments (config `protected_envs`) need `--yes` for non-interactive changes.
pub fn check_protected(ctx: &Context, env: &str, name: &str, action: &str) -> Result<()> {
    if ctx.config.protected_envs.iter().any(|p| p == env) && !ctx.yes {
        return Err(eyre!(
            "refusing to {action} {name}: environment {env:?} is protected (config protected_envs)\n  add --yes to confirm"
        ));
    }
    Ok(())
}

/// Default wait for the first compare.
pub const DEFAULT_COMPARE_TIMEOUT: Duration = Duration::from_secs(120);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::api::{Condition, ConditionKind, RepoStatus};

    pub(crate) fn app(name: &str, env: &str) -> App {
        use crate::app::*;
        App {
            name: name.into(),
            env: env.into(),
            project: "default".into(),
            origin: "test".into(),
            source: AppSource {
                repo_url: "https://example.com/r.git".into(),
                path: "chart".into(),
                target_revision: "HEAD".into(),
                kind: SourceKind::Directory(DirectorySource::default()),
            },
            destination: Destination {
                server: Some(IN_CLUSTER_SERVER.into()),
                name: None,
                namespace: name.into(),
            },
            sync_policy: SyncPolicy::default(),
            revision_history_limit: 10,
            ignore_differences: Vec::new(),
        }
    }

    fn state(name: &str, env: &str) -> AppState {
        AppState::new(app(name, env), String::new())
    }

    #[test]
    fn settled_needs_poll_and_every_app() {
        let mut s = Snapshot {
            loading: true,
            ..Snapshot::default()
        };
        assert!(!is_settled(&s), "not polled yet");
        s.repo = RepoStatus {
            last_fetch: Some(std::time::SystemTime::now()),
            ..RepoStatus::default()
        };
        assert!(is_settled(&s), "polled, no apps");
        s.apps.push(state("a-dev", "dev"));
        assert!(!is_settled(&s), "a-dev not compared");
        s.apps[0].conditions.push(Condition {
            kind: ConditionKind::ClusterError,
            message: "x".into(),
        });
        assert!(is_settled(&s), "errored counts as settled");
    }

    #[test]
    fn pending_names_lists_uncompared_apps() {
        let mut s = Snapshot::default();
        assert_eq!(pending_names(&s), "the repository");
        s.apps = vec![state("a-dev", "dev"), state("a-prod", "prod")];
        s.apps[0].compared_at = Some(std::time::SystemTime::now());
        assert_eq!(pending_names(&s), "a-prod");
    }

    #[test]
    fn find_by_name_env_and_errors() {
        let s = Snapshot {
            apps: vec![
                state("web-dev", "dev"),
                state("web-prod", "prod"),
                state("db-prod", "prod"),
            ],
            ..Snapshot::default()
        };
        assert_eq!(find(&s, "web-dev").unwrap().app.name, "web-dev");
        assert_eq!(find(&s, "dev").unwrap().app.name, "web-dev");
        let e = find(&s, "prod").unwrap_err().to_string();
        assert!(e.contains("ambiguous") && e.contains("db-prod"), "{e}");
        let e = find(&s, "qa").unwrap_err().to_string();
        assert!(
            e.contains("unknown app `qa`") && e.contains("web-prod"),
            "{e}"
        );
        let e = find(&Snapshot::default(), "x").unwrap_err().to_string();
        assert!(e.contains("declares no Apps"), "{e}");
    }
}
