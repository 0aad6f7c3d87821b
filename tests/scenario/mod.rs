//! Scenario fixtures shared by the engine tests against the real control plane
//! (`engine_sync.rs`) and against the in-process sandbox (`engine_sandbox.rs`): the test App,
//! its manifests, and small helpers around engine commands.
#![allow(dead_code)]

use serde_json::{Value, json};
use sextant::app::{
    App, AppSource, Automated, Destination, DirectorySource, SourceKind, SyncPolicy,
};
use std::time::Duration;

use sextant::engine::api::{
    AppState, Command, CommandOutcome, EngineHandle, OperationPhase, OperationResult, SyncOptions,
};

pub fn app(name: &str, ns: &str, automated: Option<Automated>) -> App {
    App {
        name: name.into(),
        env: name.into(),
        project: "default".into(),
        origin: "test".into(),
        source: AppSource {
            repo_url: "memory".into(),
            path: "manifests".into(),
            target_revision: "HEAD".into(),
            kind: SourceKind::Directory(DirectorySource::default()),
        },
        destination: Destination {
            server: None,
            name: None,
            namespace: ns.into(),
        },
        sync_policy: SyncPolicy {
            automated,
            sync_options: vec!["CreateNamespace=true".into()],
            retry: None,
        },
        revision_history_limit: 10,
        ignore_differences: vec![],
    }
}

pub fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "example.test/web:1.0"}]}
            }
        }
    })
}

pub fn configmap(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}})
}

pub fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

/// Manifests of the test App: web Deployment, a Service, two ConfigMaps (one optional).
pub fn manifests(replicas: i64, with_extra: bool) -> Vec<Value> {
    let mut v = vec![
        configmap("settings", "a"),
        deployment("web", replicas),
        service("web"),
    ];
    if with_extra {
        v.push(configmap("extra", "x"));
    }
    v
}

pub async fn sync(h: &EngineHandle, app: &str, options: SyncOptions) -> OperationResult {
    match h
        .call(Command::Sync {
            app: app.into(),
            options,
        })
        .await
    {
        CommandOutcome::Operation(r) => r,
        other => panic!("sync of {app}: unexpected outcome {other:?}"),
    }
}

pub fn assert_succeeded(r: &OperationResult) {
    assert_eq!(
        r.phase,
        OperationPhase::Succeeded,
        "operation failed: {} {:?}",
        r.message,
        r.resources
    );
}

/// Wait until the engine's state of `app` satisfies `pred`; on timeout, panic with the App's
/// whole state.
pub async fn wait_app(
    h: &EngineHandle,
    app: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&AppState) -> bool,
) -> AppState {
    let mut rx = h.state.clone();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let snap = rx.borrow_and_update().clone();
        if let Some(s) = snap.app(app)
            && pred(s)
        {
            return s.clone();
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let s = snap.app(app);
            panic!(
                "timed out after {timeout:?} waiting for {what} on {app}; sync={:?} health={:?} ({}) conditions={:?} op={:?} history={} rows={:?}",
                s.map(|s| s.sync),
                s.map(|s| s.health),
                s.map(|s| s.health_message.clone()).unwrap_or_default(),
                s.map(|s| s.conditions.clone()),
                s.and_then(|s| s.operation.clone()),
                s.map_or(0, |s| s.history.len()),
                s.map(|s| s
                    .resources
                    .iter()
                    .map(|r| format!("{} {:?} {:?}", r.key, r.state, r.health))
                    .collect::<Vec<_>>())
            );
        }
        let _ = tokio::time::timeout(deadline - now, rx.changed()).await;
    }
}
