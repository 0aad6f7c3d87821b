//! The engine's seed scenarios (tests/engine_sync.rs) against the in-process sandbox cluster
//! (`src/cluster/sandbox.rs`) instead of the real control plane: fast feedback, no external
//! process. Each test has its own sandbox, App and namespace; desired state comes from an
//! in-memory repository (`StaticRepo`), so these exercise the engine itself.

mod scenario;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sextant::app::Automated;
use sextant::cluster::sandbox::{Registry, SandboxCluster};
use sextant::cluster::{Cluster, Gvk, SingleCluster};
use sextant::engine::api::{
    AppState, Command, CommandOutcome, EngineHandle, Event, HealthStatus, OperationPhase,
    ResourceState, ResultCode, SyncOptions, SyncStatus,
};
use sextant::engine::static_repo::StaticRepo;
use sextant::engine::{Engine, EngineOptions};

use scenario::{app, assert_succeeded, configmap, deployment, manifests, sync, wait_app};

/// Sandbox pods are Ready about 3.2 s after creation; this leaves room on a loaded machine
/// while keeping a hang far below the suite's 60 s budget.
const TIMEOUT: Duration = Duration::from_secs(25);

const NO_SELF_HEAL: Automated = Automated {
    prune: false,
    self_heal: false,
    allow_empty: false,
};

/// A running sandbox (controllers started inside the test's runtime).
fn sandbox() -> SandboxCluster {
    let sb = SandboxCluster::new(Registry::default());
    sb.start();
    sb
}

fn engine(repo: Arc<StaticRepo>, sb: &SandboxCluster, user: &str) -> EngineHandle {
    let cluster: Arc<dyn Cluster> = Arc::new(sb.clone());
    let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(cluster)));
    opts.user = user.into();
    opts.poll = false;
    Engine::start(opts)
}

/// One object from the sandbox (`None` when absent); a sandbox error fails the test.
async fn live(
    sb: &SandboxCluster,
    api_version: &str,
    kind: &str,
    ns: &str,
    name: &str,
) -> Option<Value> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    sb.get(&Gvk::new(group, version, kind), ns, name)
        .await
        .unwrap_or_else(|e| panic!("sandbox get {kind} {ns}/{name}: {e}"))
}

fn int_at(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

/// Poll `check` until it succeeds; on timeout, panic with `what` and the last reason.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let last = match check().await {
            Ok(()) => return,
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {TIMEOUT:?} waiting for {what}; last: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn compared(h: &EngineHandle, app: &str) -> AppState {
    wait_app(h, app, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await
}

async fn refresh(h: &EngineHandle, app: &str) {
    h.call(Command::Refresh {
        app: Some(app.into()),
        hard: true,
    })
    .await;
}

async fn wait_ready_replicas(sb: &SandboxCluster, ns: &str, want: i64) {
    wait_until(&format!("{want} ready replicas of web in {ns}"), || async {
        let d = live(sb, "apps/v1", "Deployment", ns, "web")
            .await
            .ok_or("no Deployment web")?;
        match int_at(&d, "/status/readyReplicas") {
            Some(n) if n == want => Ok(()),
            n => Err(format!("readyReplicas {n:?}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_creates_namespace_and_resources_and_deployment_becomes_healthy() {
    let sb = sandbox();
    let (name, ns) = ("first", "sb-first");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(name, ns, None));
    repo.commit(name, "1111111aaaa", "initial", manifests(2, true));
    let h = engine(repo, &sb, "alice@test");
    let st = compared(&h, name).await;
    assert_eq!(st.sync, SyncStatus::OutOfSync);
    assert_eq!(
        st.diffs.len(),
        4,
        "all four resources missing: {:?}",
        st.diffs
    );
    assert!(live(&sb, "v1", "Namespace", "", ns).await.is_none());

    let r = sync(&h, name, SyncOptions::default()).await;
    assert_succeeded(&r);
    assert!(
        r.resources.iter().all(|x| x.code == ResultCode::Created),
        "{:?}",
        r.resources
    );
    assert!(
        live(&sb, "v1", "Namespace", "", ns).await.is_some(),
        "CreateNamespace=true created {ns}"
    );
    let st = wait_app(&h, name, "Synced and Healthy", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.health == HealthStatus::Healthy
    })
    .await;
    assert!(
        st.resources.iter().any(|r| r.key.kind == "Pod"),
        "tree has pods: {:?}",
        st.resources
    );
    assert_eq!(st.history.len(), 1);
    assert_eq!(st.history[0].initiated_by, "alice@test");
    assert_eq!(
        st.deployed.as_ref().map(|d| d.sha.as_str()),
        Some("1111111aaaa")
    );
    wait_ready_replicas(&sb, ns, 2).await;
    let settings = live(&sb, "v1", "ConfigMap", ns, "settings")
        .await
        .expect("settings exists");
    assert_eq!(
        settings
            .pointer("/metadata/annotations/sextant.io~1tracking-id")
            .and_then(Value::as_str),
        Some(format!("{name}:/ConfigMap:{ns}/settings").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_change_goes_out_of_sync_then_synced_with_new_replicas_ready() {
    let sb = sandbox();
    let (name, ns) = ("scale", "sb-scale");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(name, ns, None));
    repo.commit(name, "2222222aaaa", "initial", manifests(2, false));
    let h = engine(repo.clone(), &sb, "bob@test");
    compared(&h, name).await;
    assert_succeeded(&sync(&h, name, SyncOptions::default()).await);
    wait_app(&h, name, "Synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;

    repo.commit(name, "2222222bbbb", "scale web to 5", manifests(5, false));
    refresh(&h, name).await;
    let st = wait_app(&h, name, "OutOfSync at the new revision", TIMEOUT, |s| {
        s.sync == SyncStatus::OutOfSync
            && s.revision.as_ref().is_some_and(|r| r.sha == "2222222bbbb")
    })
    .await;
    assert_eq!(
        st.diffs.len(),
        1,
        "only the Deployment changed: {:?}",
        st.diffs
    );
    let diff = &st.diffs[0];
    assert_eq!(diff.key.kind, "Deployment");
    assert!(
        diff.unified.contains("replicas: 2") && diff.unified.contains("replicas: 5"),
        "{}",
        diff.unified
    );

    assert_succeeded(&sync(&h, name, SyncOptions::default()).await);
    wait_app(&h, name, "Synced and Healthy at 5", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.health == HealthStatus::Healthy
    })
    .await;
    wait_ready_replicas(&sb, ns, 5).await;
    let snap = h.snapshot();
    let st = snap.app(name).expect("app in snapshot");
    assert_eq!(st.history.len(), 2);
    assert_eq!(st.history[1].revision, "2222222bbbb");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_resource_is_pruned_and_only_it() {
    let sb = sandbox();
    let (name, ns) = ("prune", "sb-prune");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(name, ns, None));
    repo.commit(name, "3333333aaaa", "initial", manifests(1, true));
    let h = engine(repo.clone(), &sb, "carol@test");
    compared(&h, name).await;
    assert_succeeded(&sync(&h, name, SyncOptions::default()).await);
    // An object the App does not track, in the same namespace: must survive the prune.
    let bystander = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bystander", "namespace": ns}, "data": {"a": "b"}});
    sb.create(&bystander).await.expect("create bystander");

    repo.commit(name, "3333333bbbb", "drop extra", manifests(1, false));
    refresh(&h, name).await;
    let st = wait_app(&h, name, "extra detected", TIMEOUT, |s| {
        s.revision.as_ref().is_some_and(|r| r.sha == "3333333bbbb")
            && s.sync == SyncStatus::OutOfSync
    })
    .await;
    let extras: Vec<_> = st
        .resources
        .iter()
        .filter(|r| r.state == ResourceState::Extra)
        .map(|r| r.key.name.clone())
        .collect();
    assert_eq!(extras, vec!["extra".to_string()]);

    // Without prune the extra stays.
    let r = sync(&h, name, SyncOptions::default()).await;
    assert_succeeded(&r);
    assert!(
        r.resources
            .iter()
            .any(|x| x.code == ResultCode::PruneSkipped),
        "{:?}",
        r.resources
    );
    assert!(live(&sb, "v1", "ConfigMap", ns, "extra").await.is_some());

    let r = sync(
        &h,
        name,
        SyncOptions {
            prune: true,
            ..SyncOptions::default()
        },
    )
    .await;
    assert_succeeded(&r);
    let pruned: Vec<_> = r
        .resources
        .iter()
        .filter(|x| x.code == ResultCode::Pruned)
        .map(|x| x.key.name.clone())
        .collect();
    assert_eq!(pruned, vec!["extra".to_string()]);
    wait_until("extra deleted", || async {
        match live(&sb, "v1", "ConfigMap", ns, "extra").await {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await;
    for kept in ["bystander", "settings"] {
        assert!(
            live(&sb, "v1", "ConfigMap", ns, kept).await.is_some(),
            "{kept} must not be pruned"
        );
    }
    assert!(
        live(&sb, "apps/v1", "Deployment", ns, "web")
            .await
            .is_some()
    );
    wait_app(&h, name, "Synced after prune", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_change_is_detected_as_drift_and_reverted_by_self_heal() {
    let sb = sandbox();
    let (name, ns) = ("heal", "sb-heal");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(
        name,
        ns,
        Some(Automated {
            prune: true,
            self_heal: true,
            allow_empty: false,
        }),
    ));
    repo.commit(name, "4444444aaaa", "initial", manifests(2, false));
    let h = engine(repo, &sb, "dave@test");
    // Auto-sync applies the new revision by itself.
    wait_app(&h, name, "auto-synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.history.len() == 1
    })
    .await;
    // `kubectl scale`-style edit: 2 → 3 replicas, outside the engine.
    let msg = sb.manual_change(Some(ns)).expect("manual change");
    assert!(msg.contains("--replicas=3"), "{msg}");
    // Drift is detected from the watch and reverted.
    wait_until("self-heal back to 2 replicas", || async {
        let d = live(&sb, "apps/v1", "Deployment", ns, "web")
            .await
            .ok_or("no Deployment web")?;
        match int_at(&d, "/spec/replicas") {
            Some(2) => Ok(()),
            other => Err(format!("replicas {other:?}")),
        }
    })
    .await;
    let st = wait_app(&h, name, "Synced after self-heal, recorded", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.history.len() >= 2
    })
    .await;
    assert!(
        st.history
            .last()
            .is_some_and(|e| e.initiated_by.contains("(auto)")),
        "self-heal recorded as automatic: {:?}",
        st.history
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_holds_revisions_and_rollback_refused_with_auto_sync_then_works_after_override() {
    let sb = sandbox();
    let (name, ns) = ("rollback", "sb-rollback");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(name, ns, Some(NO_SELF_HEAL)));
    repo.commit(
        name,
        "5555555aaaa",
        "v1",
        vec![configmap("settings", "one")],
    );
    let h = engine(repo.clone(), &sb, "erin@test");
    wait_app(&h, name, "auto-synced v1", TIMEOUT, |s| {
        s.history.len() == 1
    })
    .await;
    repo.commit(
        name,
        "5555555bbbb",
        "v2",
        vec![configmap("settings", "two")],
    );
    refresh(&h, name).await;
    let st = wait_app(&h, name, "auto-synced v2", TIMEOUT, |s| {
        s.history.len() == 2 && s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(st.history[0].revision, "5555555aaaa");
    assert_eq!(st.history[1].revision, "5555555bbbb");
    let first_id = st.history[0].id;
    let rollback = || Command::Rollback {
        app: name.into(),
        history_id: first_id,
        options: SyncOptions::default(),
    };

    match h.call(rollback()).await {
        CommandOutcome::Refused(m) => assert!(m.contains("auto-sync is on"), "{m}"),
        other => panic!("rollback with auto-sync on must be refused: {other:?}"),
    }

    assert_eq!(
        h.call(Command::SetAutoSync {
            app: name.into(),
            enabled: Some(false),
            self_heal: None,
            prune: None,
        })
        .await,
        CommandOutcome::Done
    );
    // The override lives in the cluster, like the history.
    let ov = live(
        &sb,
        "v1",
        "ConfigMap",
        "sextant-system",
        &format!("sextant-autosync-{name}"),
    )
    .await
    .expect("auto-sync override stored in the sandbox");
    assert_eq!(
        ov.pointer("/data/enabled").and_then(Value::as_str),
        Some("false")
    );

    let out = h.call(rollback()).await;
    let CommandOutcome::Operation(r) = out else {
        panic!("rollback after turning auto-sync off: {out:?}")
    };
    assert_succeeded(&r);
    let cm = live(&sb, "v1", "ConfigMap", ns, "settings")
        .await
        .expect("settings");
    assert_eq!(cm.pointer("/data/k").and_then(Value::as_str), Some("one"));
    let st = wait_app(&h, name, "rolled back, OutOfSync vs Git", TIMEOUT, |s| {
        s.history.len() == 3 && s.sync == SyncStatus::OutOfSync
    })
    .await;
    assert_eq!(st.history[2].revision, "5555555aaaa");
    assert!(st.auto_sync.overridden && !st.auto_sync.enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_syncs_one_is_refused_with_the_lease_holder() {
    let sb = sandbox();
    let (name, ns) = ("lock", "sb-lock");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(name, ns, None));
    // Two waves: the first sync waits ~3 s for wave 0's pods to be ready, holding the lease.
    let mut first = deployment("web", 3);
    first["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-wave": "0"});
    let mut second = configmap("after", "x");
    second["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-wave": "1"});
    repo.commit(name, "6666666aaaa", "two waves", vec![first, second]);
    // Two engines (two operators' consoles) over the same cluster.
    let a = engine(repo.clone(), &sb, "frank@laptop");
    let b = engine(repo, &sb, "grace@desktop");
    compared(&a, name).await;
    compared(&b, name).await;
    let mut events = a.subscribe();
    let first = {
        let a = a.clone();
        tokio::spawn(async move {
            a.call(Command::Sync {
                app: name.into(),
                options: SyncOptions::default(),
            })
            .await
        })
    };
    // b starts once a holds the lease (a has applied its first resource).
    loop {
        match tokio::time::timeout(TIMEOUT, events.recv()).await {
            Ok(Ok(Event::Progress {
                app,
                resource: Some(_),
                ..
            })) if app == name => break,
            Ok(Ok(_)) => continue,
            other => panic!("no progress from the first sync: {other:?}"),
        }
    }
    let rb = b
        .call(Command::Sync {
            app: name.into(),
            options: SyncOptions::default(),
        })
        .await;
    let ra = tokio::time::timeout(TIMEOUT, first)
        .await
        .expect("first sync finishes in time")
        .expect("join first sync");
    let outcomes = [ra, rb];
    let refused: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            CommandOutcome::Refused(m) => Some(m),
            _ => None,
        })
        .collect();
    let succeeded = outcomes
        .iter()
        .filter(
            |o| matches!(o, CommandOutcome::Operation(r) if r.phase == OperationPhase::Succeeded),
        )
        .count();
    assert_eq!(refused.len(), 1, "exactly one refused: {outcomes:?}");
    assert_eq!(succeeded, 1, "exactly one succeeded: {outcomes:?}");
    assert!(
        refused[0].contains("sync in progress by frank@laptop sync since"),
        "{}",
        refused[0]
    );
    assert!(live(&sb, "v1", "ConfigMap", ns, "after").await.is_some());
}
