//! Fault injection against the real control plane: the apiserver is stopped in the middle of a
//! sync. Its own test binary, because stopping the apiserver would break concurrent tests.

mod scenario;
mod support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use sextant::cluster::SingleCluster;
use sextant::cluster::kube::KubeCluster;
use sextant::engine::api::{Command, CommandOutcome, Event, OperationPhase, SyncOptions};
use sextant::engine::static_repo::StaticRepo;
use sextant::engine::{Engine, EngineOptions};

const TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_interrupted_by_stopping_the_apiserver_fails_records_no_history_and_retry_completes() {
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
    tokio::task::spawn_blocking(|| support::cluster().stop_apiserver())
        .await
        .expect("stop apiserver");
    let outcome = tokio::time::timeout(TIMEOUT, sync)
        .await
        .expect("sync finished")
        .expect("join");
    let CommandOutcome::Operation(result) = outcome else {
        panic!("unexpected outcome {outcome:?}")
    };
    tokio::task::spawn_blocking(|| support::cluster().start_apiserver())
        .await
        .expect("start apiserver");
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
