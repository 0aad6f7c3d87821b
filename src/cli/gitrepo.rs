//! The engine's [`Repo`](crate::engine::api::Repo) over a real git repository: the sources layer
//! (open/fetch/resolve, ApplicationSets and Applications) plus the render layer (Helm, directory).
//!
//! git and rendering block (libgit2, the `helm` process), so every call runs on tokio's blocking
//! pool; the engine's tasks never stall on them.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::app::App;
use crate::config::Config;
use crate::engine::api::{DesiredApp, PromoteRequest, Repo, RepoPoll, RepoStatus, Revision};
use crate::render::{RenderOptions, Renderer};
use crate::source::{self, Commit};

/// A git repository as the engine's source of desired state.
pub struct GitRepo {
    repo: Arc<source::Repo>,
    renderer: Arc<Renderer>,
    config: Arc<Config>,
    /// Renders run one at a time: one `helm` process at a time is kinder to small machines, and
    /// older render layers raced on a per-process export directory.
    render_lock: Arc<std::sync::Mutex<()>>,
}

impl GitRepo {
    pub fn new(repo: source::Repo, config: &Config) -> Self {
        Self {
            repo: Arc::new(repo),
            renderer: Arc::new(Renderer::new(RenderOptions::from_config(config))),
            config: Arc::new(config.clone()),
            render_lock: Arc::new(std::sync::Mutex::new(())),
        }
    }

    /// The underlying repository (for fetches before the engine starts).
    pub fn repo(&self) -> &source::Repo {
        &self.repo
    }
}

fn revision_of(c: &Commit) -> Revision {
    Revision {
        sha: c.sha.clone(),
        subject: c.summary.clone(),
    }
}

/// Run blocking git/render work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("internal error: repository task failed: {e}"))?
}

fn poll_blocking(repo: &source::Repo, config: &Config, fetch: bool) -> Result<RepoPoll, String> {
    let mut status = RepoStatus {
        url: repo
            .remote_url()
            .map(str::to_string)
            .unwrap_or_else(|| repo.root().display().to_string()),
        ..RepoStatus::default()
    };
    if fetch && let Err(e) = repo.fetch() {
        // Offline still works from the refs already fetched; the error is shown, not fatal.
        status.error = Some(format!("{e}; using the refs already fetched"));
    }
    if let Ok(Some(b)) = repo.branch_status() {
        status.branch = b.branch.unwrap_or_default();
        status.ahead = b.ahead;
        status.upstream = b.upstream;
    }
    // Edits not committed (or committed, not pushed) are what a user most easily mistakes for
    // deployed: the front ends say so (the engine deploys commits only).
    match repo.uncommitted_changes("") {
        Ok(files) => status.uncommitted = files,
        Err(e) => tracing::warn!("git status failed: {e}"),
    }
    let head = repo.resolve("HEAD").map_err(|e| e.to_string())?;
    status.head = Some(revision_of(&head));
    let loaded = source::load_apps(repo, &head, config).map_err(|e| e.to_string())?;
    if !loaded.errors.is_empty() {
        let msgs: Vec<String> = loaded.errors.iter().map(|e| e.to_string()).collect();
        let joined = msgs.join("\n");
        status.error = Some(match status.error.take() {
            Some(prev) => format!("{prev}\n{joined}"),
            None => joined,
        });
    }
    let apps = loaded
        .apps
        .into_iter()
        .map(|app| {
            let revision = repo
                .resolve(app.source.git_revision())
                .map(|c| revision_of(&c))
                .map_err(|e| e.to_string());
            DesiredApp { app, revision }
        })
        .collect();
    Ok(RepoPoll { status, apps })
}

impl Repo for GitRepo {
    fn poll(&self, fetch: bool) -> BoxFuture<'_, Result<RepoPoll, String>> {
        let repo = self.repo.clone();
        let config = self.config.clone();
        Box::pin(blocking(move || poll_blocking(&repo, &config, fetch)))
    }

    fn resolve<'a>(
        &'a self,
        app: &'a App,
        revision: &'a str,
    ) -> BoxFuture<'a, Result<Revision, String>> {
        let repo = self.repo.clone();
        let rev = revision.to_string();
        let name = app.name.clone();
        Box::pin(blocking(move || {
            repo.resolve(&rev)
                .map(|c| revision_of(&c))
                .map_err(|e| format!("{name}: revision {rev:?}: {e}"))
        }))
    }

    fn render<'a>(
        &'a self,
        app: &'a App,
        sha: &'a str,
    ) -> BoxFuture<'a, Result<Vec<serde_json::Value>, String>> {
        let repo = self.repo.clone();
        let renderer = self.renderer.clone();
        let app = app.clone();
        let sha = sha.to_string();
        let lock = self.render_lock.clone();
        Box::pin(blocking(move || {
            let _one_at_a_time = lock.lock().unwrap_or_else(|p| p.into_inner());
            let commit = repo.resolve(&sha).map_err(|e| e.to_string())?;
            let rendered = renderer
                .render(&repo, &app, &commit)
                .map_err(|e| e.to_string())?;
            for n in &rendered.notices {
                tracing::info!(app = %app.name, "render: {n}");
            }
            Ok(rendered
                .manifests
                .iter()
                .map(|m| m.object.clone())
                .collect())
        }))
    }

    fn promote<'a>(
        &'a self,
        request: &'a PromoteRequest,
    ) -> BoxFuture<'a, Result<Revision, String>> {
        let repo = self.repo.clone();
        let config = self.config.clone();
        let request = request.clone();
        Box::pin(blocking(move || {
            crate::cli::promote::execute(&repo, &config, &request)
        }))
    }
}
