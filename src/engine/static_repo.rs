//! A [`Repo`] over manifests held in memory: Apps and, per App, the objects of each revision.
//! Used by the engine's integration tests and anywhere desired state does not come from git.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::Value;

use super::api::{DesiredApp, PromoteRequest, Repo, RepoPoll, RepoStatus, Revision};
use crate::app::App;

#[derive(Default)]
struct Inner {
    apps: Vec<App>,
    /// app → current revision
    heads: HashMap<String, Revision>,
    /// (app, sha) → objects, or why they cannot be generated
    manifests: HashMap<(String, String), Result<Vec<Value>, String>>,
}

/// In-memory desired state. `commit` makes a new revision the App's target.
#[derive(Default)]
pub struct StaticRepo {
    inner: Mutex<Inner>,
}

impl StaticRepo {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace an App (its target stays until the next `commit`).
    pub fn set_app(&self, app: App) {
        if let Ok(mut i) = self.inner.lock() {
            i.apps.retain(|a| a.name != app.name);
            i.apps.push(app);
        }
    }

    /// Record `objects` as revision `sha` of `app` and make it the target.
    pub fn commit(&self, app: &str, sha: &str, subject: &str, objects: Vec<Value>) {
        self.commit_result(app, sha, subject, Ok(objects));
    }

    /// Make revision `sha` of `app` the target, one whose manifests cannot be generated: a
    /// render answers `error` (a template error, as Helm would report it).
    pub fn commit_broken(&self, app: &str, sha: &str, subject: &str, error: &str) {
        self.commit_result(app, sha, subject, Err(error.to_string()));
    }

    fn commit_result(
        &self,
        app: &str,
        sha: &str,
        subject: &str,
        objects: Result<Vec<Value>, String>,
    ) {
        if let Ok(mut i) = self.inner.lock() {
            i.manifests
                .insert((app.to_string(), sha.to_string()), objects);
            i.heads.insert(
                app.to_string(),
                Revision {
                    sha: sha.to_string(),
                    subject: subject.to_string(),
                },
            );
        }
    }
}

impl Repo for StaticRepo {
    fn poll(&self, _fetch: bool) -> BoxFuture<'_, Result<RepoPoll, String>> {
        Box::pin(async move {
            let i = self.inner.lock().map_err(|_| "repo state poisoned")?;
            Ok(RepoPoll {
                status: RepoStatus {
                    url: "memory".into(),
                    branch: "main".into(),
                    ..RepoStatus::default()
                },
                apps: i
                    .apps
                    .iter()
                    .map(|a| DesiredApp {
                        app: a.clone(),
                        revision: i
                            .heads
                            .get(&a.name)
                            .cloned()
                            .ok_or_else(|| format!("{}: no revision committed", a.name)),
                    })
                    .collect(),
            })
        })
    }

    fn resolve<'a>(
        &'a self,
        app: &'a App,
        revision: &'a str,
    ) -> BoxFuture<'a, Result<Revision, String>> {
        Box::pin(async move {
            let i = self.inner.lock().map_err(|_| "repo state poisoned")?;
            let found = i
                .manifests
                .keys()
                .find(|(a, sha)| a == &app.name && sha.starts_with(revision));
            match found {
                Some((_, sha)) => Ok(Revision {
                    sha: sha.clone(),
                    subject: String::new(),
                }),
                None => Err(format!("revision {revision:?} not found for {}", app.name)),
            }
        })
    }

    fn render<'a>(
        &'a self,
        app: &'a App,
        sha: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async move {
            let i = self.inner.lock().map_err(|_| "repo state poisoned")?;
            i.manifests
                .get(&(app.name.clone(), sha.to_string()))
                .cloned()
                .unwrap_or_else(|| Err(format!("{}: revision {sha} has no manifests", app.name)))
        })
    }

    fn promote<'a>(
        &'a self,
        request: &'a PromoteRequest,
    ) -> BoxFuture<'a, Result<Revision, String>> {
        Box::pin(async move {
            Err(format!(
                "cannot promote {} → {}: in-memory manifests have no values files",
                request.source_env, request.target_env
            ))
        })
    }
}
