//! The Pods pane's data end to end through the engine, on the in-process sandbox: pod rows carry
//! kubectl-style details from the live Pod, and `Command::PodEvents` is answered with the pod's
//! events as `Event::PodEvents` — also by a `--readonly` engine, since it changes nothing.

mod scenario;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sextant::cluster::sandbox::{Registry, SandboxCluster};
use sextant::cluster::{Cluster, SingleCluster};
use sextant::engine::api::{Command, CommandOutcome, EngineHandle, Event, SyncOptions};
use sextant::engine::static_repo::StaticRepo;
use sextant::engine::{Engine, EngineOptions};
use sextant::resource::ResourceKey;

use scenario::{app, assert_succeeded, configmap, sync, wait_app};

const TIMEOUT: Duration = Duration::from_secs(25);

fn engine(repo: Arc<StaticRepo>, sb: &SandboxCluster, readonly: bool) -> EngineHandle {
    let cluster: Arc<dyn Cluster> = Arc::new(sb.clone());
    let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(cluster)));
    opts.user = "alice@test".into();
    opts.poll = false;
    opts.readonly = readonly;
    Engine::start(opts)
}

/// Ask for a pod's events and wait for the broadcast answer about that pod.
async fn pod_events(
    h: &EngineHandle,
    app: &str,
    pod: &ResourceKey,
) -> (
    CommandOutcome,
    Result<Vec<sextant::engine::api::PodEvent>, String>,
) {
    let mut events = h.subscribe();
    let outcome = h
        .call(Command::PodEvents {
            app: app.into(),
            pod: pod.clone(),
        })
        .await;
    let answer = tokio::time::timeout(TIMEOUT, async {
        loop {
            match events.recv().await {
                Ok(Event::PodEvents {
                    app: a,
                    pod: p,
                    events,
                }) if a == app && p == *pod => return events,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("engine events closed: {e}"),
            }
        }
    })
    .await
    .expect("an Event::PodEvents answer");
    (outcome, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_rows_carry_kubectl_status_and_events_are_fetched_on_demand() {
    let sb = SandboxCluster::new(Registry::default());
    sb.start();
    let (name, ns) = ("podev", "sb-podev");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(name, ns, None));
    let web = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "example.test/web:does-not-exist"}]}}}});
    repo.commit(
        name,
        "3333333aaaa",
        "a release whose image was never pushed",
        vec![configmap("settings", "a"), web],
    );
    let h = engine(repo.clone(), &sb, false);
    wait_app(&h, name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_succeeded(&sync(&h, name, SyncOptions::default()).await);

    let st = wait_app(&h, name, "a pod in ImagePullBackOff", TIMEOUT, |s| {
        s.resources.iter().any(|r| {
            r.pod
                .as_ref()
                .is_some_and(|p| p.status == "ImagePullBackOff")
        })
    })
    .await;
    let row = st
        .resources
        .iter()
        .find(|r| r.key.kind == "Pod")
        .expect("a pod row");
    let details = row.pod.as_ref().expect("pod details");
    assert_eq!((details.ready, details.total), (0, 1));
    assert_eq!(details.node, "sandbox-node-1");
    assert!(details.created.is_some());
    assert!(
        details
            .problems
            .iter()
            .any(|p| p.contains("Back-off pulling image")),
        "{details:?}"
    );
    assert!(
        details
            .conditions
            .iter()
            .any(|c| c.kind == "Ready" && !c.is_true()),
        "{details:?}"
    );
    // Rows of other kinds carry no pod details.
    assert!(
        st.resources
            .iter()
            .filter(|r| r.key.kind != "Pod")
            .all(|r| r.pod.is_none())
    );

    // A read-only engine answers too: fetching events changes nothing.
    let ro = engine(repo, &sb, true);
    wait_app(&ro, name, "first compare (read-only)", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    let (outcome, answer) = pod_events(&ro, name, &row.key).await;
    assert_eq!(outcome, CommandOutcome::Done);
    let events = answer.expect("events");
    let reasons: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.reason.as_str(), e.message.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(r, m)| *r == "Failed" && m.contains("Failed to pull image")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(r, m)| *r == "Scheduled" && m.contains("sandbox-node-1")),
        "{reasons:?}"
    );
    // Newest first.
    assert!(
        events.windows(2).all(|w| w[0].last >= w[1].last),
        "{events:?}"
    );

    // A pod with no events (none exists by that name) is an empty list, not an error.
    let ghost = ResourceKey::new("", "Pod", ns, "web-ghost");
    let (outcome, answer) = pod_events(&h, name, &ghost).await;
    assert_eq!(outcome, CommandOutcome::Done);
    assert_eq!(answer, Ok(Vec::new()));

    // An unknown App is refused with the list of Apps.
    match h
        .call(Command::PodEvents {
            app: "nope".into(),
            pod: ghost,
        })
        .await
    {
        CommandOutcome::Failed(m) => assert!(m.contains("unknown app"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
}
