//! The reconcile engine against the real control plane (tests/support): sync, health, scaling,
//! prune, drift + self-heal, history, rollback, locks, RBAC. Each test works in its own
//! namespace with its own App name; desired state comes from an in-memory repository
//! (`StaticRepo`) so the tests exercise the engine itself.

mod scenario;
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use sextant::app::Automated;
use sextant::cluster::SingleCluster;
use sextant::cluster::kube::KubeCluster;
use sextant::engine::api::{
    Command, CommandOutcome, EngineHandle, HealthStatus, OperationPhase, ResultCode, SyncOptions,
    SyncStatus,
};
use sextant::engine::static_repo::StaticRepo;
use sextant::engine::{Engine, EngineOptions};

use scenario::{app, assert_succeeded, configmap, deployment, manifests, sync, wait_app};

const TIMEOUT: Duration = Duration::from_secs(120);

async fn engine(repo: Arc<StaticRepo>, kubeconfig: &Path, user: &str) -> EngineHandle {
    let cluster = KubeCluster::connect(Some(kubeconfig), None)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(Arc::new(cluster))));
    opts.user = user.into();
    opts.poll = false;
    Engine::start(opts)
}

/// A fresh namespace name the engine creates itself (CreateNamespace=true).
fn fresh_ns(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{prefix}-{:x}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

async fn ready_replicas(ns: &str, name: &str) -> Result<i32, String> {
    let api: Api<Deployment> = Api::namespaced(support::client().await, ns);
    let d = api.get(name).await.map_err(|e| e.to_string())?;
    Ok(d.status.and_then(|s| s.ready_replicas).unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_creates_namespace_and_resources_and_deployments_become_healthy() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-first");
    let name = format!("first-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    repo.commit(&name, "1111111aaaa", "initial", manifests(2, true));
    let h = engine(repo, &kc, "alice@test").await;
    let st = wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_eq!(st.sync, SyncStatus::OutOfSync);
    assert_eq!(
        st.diffs.len(),
        4,
        "all four resources missing: {:?}",
        st.diffs
    );
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    assert!(
        r.resources.iter().all(|x| x.code == ResultCode::Created),
        "{:?}",
        r.resources
    );
    let st = wait_app(&h, &name, "Synced and Healthy", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.health == HealthStatus::Healthy
    })
    .await;
    assert!(
        st.resources.iter().any(|r| r.key.kind == "Pod"),
        "tree has pods"
    );
    assert_eq!(st.history.len(), 1);
    assert_eq!(st.history[0].initiated_by, "alice@test");
    assert_eq!(
        st.deployed.as_ref().map(|d| d.sha.as_str()),
        Some("1111111aaaa")
    );
    assert_eq!(ready_replicas(&ns, "web").await, Ok(2));
    // Every object carries the tracking annotation.
    let cm: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    let settings = cm.get("settings").await.expect("settings exists");
    assert_eq!(
        settings
            .metadata
            .annotations
            .unwrap_or_default()
            .get("sextant.io/tracking-id")
            .map(String::as_str),
        Some(format!("{name}:/ConfigMap:{ns}/settings").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_by_values_change_goes_out_of_sync_then_synced_with_5_ready_pods() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-scale");
    let name = format!("scale-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    repo.commit(&name, "2222222aaaa", "initial", manifests(2, false));
    let h = engine(repo.clone(), &kc, "bob@test").await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    wait_app(&h, &name, "Synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;

    repo.commit(&name, "2222222bbbb", "scale web to 5", manifests(5, false));
    h.call(Command::Refresh {
        app: Some(name.clone()),
        hard: true,
    })
    .await;
    let st = wait_app(&h, &name, "OutOfSync at new revision", TIMEOUT, |s| {
        s.sync == SyncStatus::OutOfSync
            && s.revision.as_ref().is_some_and(|r| r.sha == "2222222bbbb")
    })
    .await;
    let diff = st
        .diffs
        .iter()
        .find(|d| d.key.kind == "Deployment")
        .expect("deployment diff");
    // Exactly one line leaves and one arrives: the live `spec.replicas: 2` for the desired 5.
    let changed = |sign: char| -> Vec<&str> {
        diff.unified
            .lines()
            .filter(|l| l.starts_with(sign) && !l.starts_with("---") && !l.starts_with("+++"))
            .collect()
    };
    assert_eq!(changed('-'), ["-  replicas: 2"], "{}", diff.unified);
    assert_eq!(changed('+'), ["+  replicas: 5"], "{}", diff.unified);
    assert_eq!(
        st.diffs.len(),
        1,
        "only the Deployment changed: {:?}",
        st.diffs
    );

    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    wait_app(&h, &name, "Synced and Healthy at 5", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.health == HealthStatus::Healthy
    })
    .await;
    support::wait_until("5 ready pods", TIMEOUT, || async {
        match ready_replicas(&ns, "web").await? {
            5 => Ok(()),
            n => Err(format!("{n} ready")),
        }
    })
    .await;
    let st = h.snapshot();
    let st = st.app(&name).expect("app");
    assert_eq!(st.history.len(), 2);
    assert_eq!(st.history[1].revision, "2222222bbbb");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_resource_is_pruned_and_only_it() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-prune");
    let name = format!("prune-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    repo.commit(&name, "3333333aaaa", "initial", manifests(1, true));
    let h = engine(repo.clone(), &kc, "carol@test").await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    // An object the App does not track, in the same namespace: must survive.
    let cms: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "bystander"}, "data": {"a": "b"}}))
            .expect("configmap"),
    )
    .await
    .expect("create bystander");

    repo.commit(&name, "3333333bbbb", "drop extra", manifests(1, false));
    h.call(Command::Refresh {
        app: Some(name.clone()),
        hard: true,
    })
    .await;
    let st = wait_app(&h, &name, "extra detected", TIMEOUT, |s| {
        s.revision.as_ref().is_some_and(|r| r.sha == "3333333bbbb")
            && s.sync == SyncStatus::OutOfSync
    })
    .await;
    let extras: Vec<_> = st
        .resources
        .iter()
        .filter(|r| r.state == sextant::engine::api::ResourceState::Extra)
        .map(|r| r.key.name.clone())
        .collect();
    assert_eq!(extras, vec!["extra".to_string()]);

    // Without prune the extra stays.
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    assert!(
        r.resources
            .iter()
            .any(|x| x.code == ResultCode::PruneSkipped)
    );
    assert!(cms.get_opt("extra").await.expect("get").is_some());

    let r = sync(
        &h,
        &name,
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
    support::wait_until("extra deleted", TIMEOUT, || async {
        match cms.get_opt("extra").await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".into()),
        }
    })
    .await;
    assert!(
        cms.get_opt("bystander").await.expect("get").is_some(),
        "untracked object kept"
    );
    assert!(
        cms.get_opt("settings").await.expect("get").is_some(),
        "desired object kept"
    );
    wait_app(&h, &name, "Synced after prune", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_scale_is_detected_as_drift_and_reverted_by_self_heal() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-heal");
    let name = format!("heal-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(
        &name,
        &ns,
        Some(Automated {
            prune: true,
            self_heal: true,
            allow_empty: false,
        }),
    ));
    repo.commit(&name, "4444444aaaa", "initial", manifests(2, false));
    let h = engine(repo, &kc, "dave@test").await;
    // Auto-sync applies the new revision by itself.
    wait_app(&h, &name, "auto-synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.history.len() == 1
    })
    .await;
    // `kubectl scale`-style edit by another field manager.
    let deps: Api<Deployment> = Api::namespaced(support::client().await, &ns);
    deps.patch(
        "web",
        &PatchParams::apply("kubectl-scale").force(),
        &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 4}})),
    )
    .await
    .expect("manual scale");
    // Drift is detected (from the watch) and reverted.
    support::wait_until("self-heal back to 2 replicas", TIMEOUT, || async {
        let d = deps.get("web").await.map_err(|e| e.to_string())?;
        match d.spec.and_then(|s| s.replicas) {
            Some(2) => Ok(()),
            other => Err(format!("replicas {other:?}")),
        }
    })
    .await;
    let st = wait_app(
        &h,
        &name,
        "Synced after self-heal, recorded",
        TIMEOUT,
        |s| s.sync == SyncStatus::Synced && s.history.len() >= 2,
    )
    .await;
    assert!(
        st.history.len() >= 2,
        "self-heal recorded: {:?}",
        st.history
    );
    assert!(
        st.history
            .last()
            .is_some_and(|e| e.initiated_by.contains("(auto)"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_holds_revisions_and_rollback_refused_with_auto_sync_then_works_after_override() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-rollback");
    let name = format!("rb-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(
        &name,
        &ns,
        Some(Automated {
            prune: false,
            self_heal: false,
            allow_empty: false,
        }),
    ));
    repo.commit(
        &name,
        "5555555aaaa",
        "v1",
        vec![configmap("settings", "one")],
    );
    let h = engine(repo.clone(), &kc, "erin@test").await;
    wait_app(&h, &name, "auto-synced v1", TIMEOUT, |s| {
        s.history.len() == 1
    })
    .await;
    repo.commit(
        &name,
        "5555555bbbb",
        "v2",
        vec![configmap("settings", "two")],
    );
    h.call(Command::Refresh {
        app: Some(name.clone()),
        hard: true,
    })
    .await;
    let st = wait_app(&h, &name, "auto-synced v2", TIMEOUT, |s| {
        s.history.len() == 2 && s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(st.history[0].revision, "5555555aaaa");
    assert_eq!(st.history[1].revision, "5555555bbbb");
    let first_id = st.history[0].id;

    let out = h
        .call(Command::Rollback {
            app: name.clone(),
            history_id: first_id,
            options: SyncOptions::default(),
        })
        .await;
    match out {
        CommandOutcome::Refused(m) => assert!(m.contains("auto-sync is on"), "{m}"),
        other => panic!("rollback with auto-sync on must be refused: {other:?}"),
    }

    // Turn auto-sync off (stored in the cluster), then roll back.
    assert_eq!(
        h.call(Command::SetAutoSync {
            app: name.clone(),
            enabled: Some(false),
            self_heal: None,
            prune: None,
        })
        .await,
        CommandOutcome::Done
    );
    let cms: Api<ConfigMap> = Api::namespaced(support::client().await, "sextant-system");
    let ov = cms
        .get(&format!("sextant-autosync-{name}"))
        .await
        .expect("override stored in the cluster");
    assert_eq!(
        ov.data
            .unwrap_or_default()
            .get("enabled")
            .map(String::as_str),
        Some("false")
    );

    let out = h
        .call(Command::Rollback {
            app: name.clone(),
            history_id: first_id,
            options: SyncOptions::default(),
        })
        .await;
    let CommandOutcome::Operation(r) = out else {
        panic!("rollback: {out:?}")
    };
    assert_succeeded(&r);
    let live: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    let cm = live.get("settings").await.expect("settings");
    assert_eq!(
        cm.data.unwrap_or_default().get("k").map(String::as_str),
        Some("one")
    );
    let st = wait_app(&h, &name, "rolled back, OutOfSync vs Git", TIMEOUT, |s| {
        s.history.len() == 3 && s.sync == SyncStatus::OutOfSync
    })
    .await;
    assert_eq!(st.history[2].revision, "5555555aaaa");
    assert!(st.auto_sync.overridden && !st.auto_sync.enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_syncs_one_is_refused_with_the_lease_holder() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-lock");
    let name = format!("lock-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    // Two waves: the first sync waits for wave 0 to be healthy, so it holds the lease a while.
    let mut first = deployment("web", 5);
    first["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-wave": "0"});
    let mut second = configmap("after", "x");
    second["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-wave": "1"});
    repo.commit(&name, "6666666aaaa", "two waves", vec![first, second]);
    let a = engine(repo.clone(), &kc, "frank@laptop").await;
    let b = engine(repo.clone(), &kc, "grace@desktop").await;
    wait_app(&a, &name, "compare a", TIMEOUT, |s| s.compared_at.is_some()).await;
    wait_app(&b, &name, "compare b", TIMEOUT, |s| s.compared_at.is_some()).await;
    // b starts once a holds the lease (a's first resource is applied; a then waits for the
    // Deployment's 5 pods before wave 1).
    let mut events = a.subscribe();
    let first = {
        let a = a.clone();
        let name = name.clone();
        tokio::spawn(async move {
            a.call(Command::Sync {
                app: name,
                options: SyncOptions::default(),
            })
            .await
        })
    };
    loop {
        match tokio::time::timeout(TIMEOUT, events.recv()).await {
            Ok(Ok(sextant::engine::api::Event::Progress {
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
            app: name.clone(),
            options: SyncOptions::default(),
        })
        .await;
    let ra = first.await.expect("join");
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_only_user_gets_forbidden_on_sync_while_diff_works() {
    let tc = support::cluster();
    let ns = support::namespace("eng-rbac").await;
    let name = format!("rbac-{ns}");
    let user = format!("viewer-{ns}");
    // Grant the built-in `view` ClusterRole cluster-wide (read everything but Secrets).
    let admin = support::client().await;
    let crb: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin.clone());
    crb.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": format!("view-{user}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
        }))
        .expect("binding"),
    )
    .await
    .expect("create binding");
    let kc = tc.client_cert_kubeconfig(&user, &[]);
    // Something live to diff against, applied by the admin.
    let cms: Api<ConfigMap> = Api::namespaced(admin, &ns);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"k": "old"}}))
            .expect("cm"),
    )
    .await
    .expect("create");
    let repo = Arc::new(StaticRepo::new());
    let mut a = app(&name, &ns, None);
    a.sync_policy.sync_options.clear();
    repo.set_app(a);
    repo.commit(
        &name,
        "7777777aaaa",
        "v1",
        vec![configmap("settings", "new")],
    );
    let h = engine(repo, &kc, "viewer@test").await;
    let st = wait_app(&h, &name, "compare as viewer", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_eq!(st.sync, SyncStatus::OutOfSync);
    let d = st
        .diffs
        .iter()
        .find(|d| d.key.name == "settings")
        .expect("diff");
    assert!(
        d.unified.contains("old") && d.unified.contains("new"),
        "{}",
        d.unified
    );

    let out = h
        .call(Command::Sync {
            app: name.clone(),
            options: SyncOptions::default(),
        })
        .await;
    let msg = match out {
        CommandOutcome::Operation(r) => {
            assert_eq!(r.phase, OperationPhase::Failed);
            r.message
        }
        CommandOutcome::Failed(m) | CommandOutcome::Refused(m) => m,
        other => panic!("unexpected {other:?}"),
    };
    assert!(msg.contains("forbidden"), "{msg}");
    assert!(msg.contains(&user), "names the user: {msg}");
    let cm = cms.get("settings").await.expect("still there");
    assert_eq!(
        cm.data.unwrap_or_default().get("k").map(String::as_str),
        Some("old")
    );
}

/// `sync --dry-run` of a fresh App whose destination namespace does not exist yet
/// (CreateNamespace=true): the server cannot dry-run objects in a missing namespace, so the
/// engine reports them as would-be-created (as Argo CD does) instead of failing, and leaves
/// the cluster untouched; the real sync afterwards creates everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_into_namespace_not_yet_created_reports_would_create_and_changes_nothing() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-dry");
    let name = format!("dry-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    let mut objs = manifests(1, false);
    objs.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}}));
    repo.commit(&name, "2222222bbbb", "initial", objs);
    let h = engine(repo, &kc, "alice@test").await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    let r = sync(
        &h,
        &name,
        SyncOptions {
            dry_run: true,
            ..SyncOptions::default()
        },
    )
    .await;
    assert_succeeded(&r);
    assert!(r.dry_run);
    assert_eq!(r.resources.len(), 4, "{:?}", r.resources);
    assert!(
        r.resources
            .iter()
            .all(|x| x.code == ResultCode::WouldCreate && x.key.namespace == ns),
        "{:?}",
        r.resources
    );
    // Nothing was created: not the namespace, not the objects.
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(support::client().await);
    assert!(
        nss.get_opt(&ns).await.expect("namespace lookup").is_none(),
        "dry run created namespace {ns}"
    );
    // The real sync then creates the namespace and all four objects.
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    assert!(
        r.resources.iter().all(|x| x.code == ResultCode::Created),
        "{:?}",
        r.resources
    );
    assert!(nss.get_opt(&ns).await.expect("namespace lookup").is_some());
}

/// A desired object with an unparsable sync-wave annotation fails the sync before anything is
/// applied, with plan.rs's message naming the object and the annotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_wave_annotation_fails_the_sync_before_applying_anything() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-wave");
    let name = format!("wave-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    let mut bad = configmap("bad", "b");
    bad["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-wave": "soon"});
    repo.commit(
        &name,
        "3333333cccc",
        "initial",
        vec![configmap("good", "g"), bad],
    );
    let h = engine(repo, &kc, "alice@test").await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_eq!(r.phase, OperationPhase::Failed, "{r:?}");
    assert!(
        r.message.contains("ConfigMap")
            && r.message.contains("bad")
            && r.message.contains("argocd.argoproj.io/sync-wave")
            && r.message.contains("\"soon\""),
        "{}",
        r.message
    );
    assert!(r.resources.is_empty(), "{:?}", r.resources);
    let cm: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    assert!(
        cm.get_opt("good")
            .await
            .expect("get ConfigMap good")
            .is_none(),
        "nothing applied"
    );
}

/// Issue 22 point 11: a dry run (sync or rollback) counts what the compare found different, as
/// the TUI's preview does, and carries each changing resource's diff: after a commit changing
/// one ConfigMap of three resources, the dry run reports one `WouldConfigure` (not three) and
/// that ConfigMap's diff; a rollback dry run to the first entry likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_report_only_what_changes_with_its_diff() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns("eng-drydiff");
    let name = format!("drydiff-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    repo.commit(&name, "6666666aaaa", "v1", manifests(1, false));
    let h = engine(repo.clone(), &kc, "frank@test").await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    let mut v2 = manifests(1, false);
    v2[0] = configmap("settings", "b");
    repo.commit(&name, "6666666bbbb", "v2", v2);
    h.call(Command::Refresh {
        app: Some(name.clone()),
        hard: true,
    })
    .await;
    let st = wait_app(&h, &name, "v2 compared, OutOfSync", TIMEOUT, |s| {
        s.revision.as_ref().is_some_and(|r| r.sha == "6666666bbbb")
            && s.sync == SyncStatus::OutOfSync
    })
    .await;
    assert_eq!(st.diffs.len(), 1, "{:?}", st.diffs);
    let would = |r: &sextant::engine::api::OperationResult| -> Vec<String> {
        r.resources
            .iter()
            .filter(|x| {
                matches!(
                    x.code,
                    ResultCode::WouldConfigure | ResultCode::WouldCreate | ResultCode::WouldPrune
                )
            })
            .map(|x| x.key.name.clone())
            .collect()
    };
    let dry = SyncOptions {
        dry_run: true,
        ..SyncOptions::default()
    };
    let r = sync(&h, &name, dry.clone()).await;
    assert_succeeded(&r);
    assert_eq!(would(&r), vec!["settings".to_string()], "{:?}", r.resources);
    assert_eq!(r.resources.len(), 3, "{:?}", r.resources);
    assert_eq!(r.diffs.len(), 1, "{:?}", r.diffs);
    assert_eq!(r.diffs[0].key.name, "settings");
    assert!(
        r.diffs[0].unified.contains("+  k: b"),
        "{}",
        r.diffs[0].unified
    );

    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    let st = wait_app(&h, &name, "v2 recorded", TIMEOUT, |s| {
        s.history.len() == 2 && s.sync == SyncStatus::Synced
    })
    .await;
    let out = h
        .call(Command::Rollback {
            app: name.clone(),
            history_id: st.history[0].id,
            options: dry,
        })
        .await;
    let CommandOutcome::Operation(r) = out else {
        panic!("rollback dry run: {out:?}")
    };
    assert_succeeded(&r);
    assert_eq!(would(&r), vec!["settings".to_string()], "{:?}", r.resources);
    assert_eq!(r.diffs.len(), 1, "{:?}", r.diffs);
    assert!(
        r.diffs[0].unified.contains("+  k: a"),
        "{}",
        r.diffs[0].unified
    );
}

/// Issue 22 point 15: a stopped cluster (nothing listening at the kubeconfig's server) explains
/// itself at once — the App gets an "unreachable" ClusterError within seconds — instead of
/// staying "loading" for the whole watch timeout (10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cluster_is_reported_at_once() {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let text = std::fs::read_to_string(&kc).expect("kubeconfig");
    let dead: String = text
        .lines()
        .map(|l| match l.split_once("server:") {
            Some((indent, _)) => format!("{indent}server: https://127.0.0.1:{port}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, dead).expect("write kubeconfig");
    let ns = fresh_ns("eng-stopped");
    let name = format!("stopped-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    repo.commit(&name, "7777777aaaa", "v1", manifests(1, false));
    let started = std::time::Instant::now();
    let h = engine(repo, &path, "grace@test").await;
    let st = wait_app(
        &h,
        &name,
        "the stopped cluster reported",
        Duration::from_secs(6),
        |s| {
            s.conditions.iter().any(|c| {
                c.kind == sextant::engine::api::ConditionKind::ClusterError
                    && c.message.contains("unreachable")
            })
        },
    )
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}: {:?}",
        st.conditions
    );
    assert!(!h.snapshot().loading, "still loading after the error");
}
