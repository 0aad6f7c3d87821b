//! Fault injection against the real control plane: the apiserver is stopped in the middle of a
//! sync, or restarted under a running engine. Its own test binary, because stopping the
//! apiserver would break concurrent tests; its tests take turns (`SERIAL`).

mod scenario;
mod support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use sextant::cluster::SingleCluster;
use sextant::cluster::kube::KubeCluster;
use sextant::engine::api::{
    Command, CommandOutcome, ConditionKind, Event, OperationPhase, SyncOptions, SyncStatus,
};
use sextant::engine::static_repo::StaticRepo;
use sextant::engine::{Engine, EngineOptions};

const TIMEOUT: Duration = Duration::from_secs(120);

/// One apiserver outage at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The apiserver stopped until [`Outage::end`], or until this is dropped: a test that panics
/// during the outage still starts it again, so the tests after it (and the other engineers'
/// runs sharing this control plane) do not fail for a reason that is not theirs.
struct Outage {
    stopped: bool,
}

impl Outage {
    async fn begin() -> Self {
        tokio::task::spawn_blocking(|| support::cluster().stop_apiserver())
            .await
            .expect("stop apiserver");
        Self { stopped: true }
    }

    async fn end(mut self) {
        // Cleared first: when the start itself fails, the drop does not start it a second time.
        self.stopped = false;
        tokio::task::spawn_blocking(|| support::cluster().start_apiserver())
            .await
            .expect("start apiserver");
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if !self.stopped {
            return;
        }
        // Dropped while unwinding: a second panic would abort the process, so a failed start is
        // reported, not raised.
        if std::panic::catch_unwind(|| support::cluster().start_apiserver()).is_err() {
            eprintln!("engine_faults: could not start the apiserver again after a failed test");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_interrupted_by_stopping_the_apiserver_fails_records_no_history_and_retry_completes() {
    let _turn = SERIAL.lock().await;
    let tc = support::cluster();
    let ns = format!("eng-fault-{:x}", std::process::id());
    let name = format!("fault-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(scenario::app(&name, &ns, None));
    // Wave 0 is a Deployment the sync must wait for; wave 1 comes after the outage began.
    let manifests = vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"argocd.argoproj.io/sync-wave": "0"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "main", "image": "registry.invalid/web:1.0"}]}}}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "after", "annotations": {"argocd.argoproj.io/sync-wave": "1"}},
            "data": {"k": "v"}}),
    ];
    repo.commit(&name, "8888888aaaa", "two waves", manifests);
    let cluster = KubeCluster::connect(Some(tc.kubeconfig_path()), None)
        .await
        .expect("connect");
    let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(Arc::new(cluster))));
    opts.poll = false;
    opts.user = "ops@test".into();
    let h = Engine::start(opts);
    support::wait_until("first compare", TIMEOUT, || async {
        match h.snapshot().app(&name).and_then(|s| s.compared_at) {
            Some(_) => Ok(()),
            None => Err("not yet".into()),
        }
    })
    .await;

    let mut events = h.subscribe();
    let sync = {
        let h = h.clone();
        let name = name.clone();
        tokio::spawn(async move {
            h.call(Command::Sync {
                app: name,
                options: SyncOptions {
                    timeout: Some(Duration::from_secs(90)),
                    ..SyncOptions::default()
                },
            })
            .await
        })
    };
    // Stop the apiserver right after the first resource was applied.
    loop {
        match tokio::time::timeout(TIMEOUT, events.recv()).await {
            Ok(Ok(Event::Progress {
                app,
                resource: Some(_),
                ..
            })) if app == name => break,
            Ok(Ok(_)) => continue,
            other => panic!("no progress event: {other:?}"),
        }
    }
    let outage = Outage::begin().await;
    let outcome = tokio::time::timeout(TIMEOUT, sync)
        .await
        .expect("sync finished")
        .expect("join");
    let CommandOutcome::Operation(result) = outcome else {
        panic!("unexpected outcome {outcome:?}")
    };
    outage.end().await;
    assert_eq!(result.phase, OperationPhase::Failed, "{result:?}");
    assert!(
        result.message.contains("unreachable") || result.message.contains("lost the cluster"),
        "{}",
        result.message
    );
    assert_eq!(result.history_id, None);

    let admin = support::client().await;
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), "sextant-system");
    let history = cms
        .get_opt(&format!("sextant-history-{name}"))
        .await
        .expect("read history");
    assert!(
        history.is_none(),
        "no history after a failed sync: {history:?}"
    );
    // Our lease is released once the apiserver is back.
    let leases: Api<Lease> = Api::namespaced(admin, "sextant-system");
    support::wait_until("lease released", TIMEOUT, || async {
        match leases.get_opt(&format!("sextant-op-{name}")).await {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err("still held".into()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;

    // Retry after the restart completes and records history.
    let out = h
        .call(Command::Sync {
            app: name.clone(),
            options: SyncOptions::default(),
        })
        .await;
    let CommandOutcome::Operation(r) = out else {
        panic!("retry: {out:?}")
    };
    assert_eq!(r.phase, OperationPhase::Succeeded, "{r:?}");
    assert_eq!(r.history_id, Some(1));
}

/// Issue 22 point 7. After an apiserver restart the watches resume from a resourceVersion the new
/// apiserver no longer has (410 "too old resource version"): the engine relists at once, so a
/// change made right after the restart shows within seconds and no "unreachable" condition stays
/// (before: the backoff grown during the outage, then again after the 410, kept the stale rows
/// and the unreachable condition for up to a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_apiserver_restart_the_engine_relists_at_once() {
    let _turn = SERIAL.lock().await;
    let tc = support::cluster();
    let ns = format!("eng-restart-{:x}", std::process::id());
    let name = format!("restart-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(scenario::app(&name, &ns, None));
    repo.commit(
        &name,
        "9999999aaaa",
        "settings",
        vec![scenario::configmap("settings", "a")],
    );
    let cluster = KubeCluster::connect(Some(tc.kubeconfig_path()), None)
        .await
        .expect("connect");
    let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(Arc::new(cluster))));
    opts.poll = false;
    opts.auto_sync = false;
    opts.user = "ops@test".into();
    let h = Engine::start(opts);
    scenario::wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    scenario::assert_succeeded(&scenario::sync(&h, &name, SyncOptions::default()).await);
    scenario::wait_app(&h, &name, "synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;

    let outage = Outage::begin().await;
    scenario::wait_app(&h, &name, "outage seen", TIMEOUT, |s| {
        s.conditions
            .iter()
            .any(|c| c.kind == ConditionKind::ClusterError)
    })
    .await;
    // Long enough for a growing backoff to reach many seconds.
    tokio::time::sleep(Duration::from_secs(12)).await;
    outage.end().await;
    let back = std::time::Instant::now();
    // Drift made right after the restart: only a relisted (or resumed) watch can see it.
    let cms: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    cms.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "changed by hand"}})),
    )
    .await
    .expect("change the ConfigMap");
    let s = scenario::wait_app(&h, &name, "drift seen after the restart", TIMEOUT, |s| {
        s.sync == SyncStatus::OutOfSync
            && !s
                .conditions
                .iter()
                .any(|c| c.kind == ConditionKind::ClusterError)
    })
    .await;
    let took = back.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "the engine took {took:?} after the restart to show live state (conditions {:?})",
        s.conditions
    );
}
