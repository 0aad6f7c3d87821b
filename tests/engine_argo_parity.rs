//! Verdicts that must agree with Argo CD, against the real control plane (tests/support):
//! auto-sync does not repeat a failed attempt, a render failure keeps the live resources,
//! health and `status.resources` details, operation phases, and the wave semantics.
//!
//! kwok fakes the kubelet: pods of Deployments become Ready, pods owned by Jobs complete. A
//! hook that must fail is a Job whose pod cannot be scheduled, with `activeDeadlineSeconds`.

mod scenario;
mod support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use sextant::app::Automated;
use sextant::cluster::SingleCluster;
use sextant::cluster::kube::KubeCluster;
use sextant::engine::api::{
    AppState, Command, ConditionKind, EngineHandle, Event, HealthStatus, OperationKind,
    OperationPhase, RecordedPhase, ResourceRow, ResourceState, ResultCode, SyncOptions, SyncStatus,
};
use sextant::engine::static_repo::StaticRepo;
use sextant::engine::{Engine, EngineOptions};

use scenario::{app, assert_succeeded, configmap, deployment, sync, wait_app};

const TIMEOUT: Duration = Duration::from_secs(90);
const HOOK: &str = "argocd.argoproj.io/hook";
const WAVE: &str = "argocd.argoproj.io/sync-wave";

/// An engine over `repo` on the test cluster; `auto_sync` as the TUI runs it.
async fn engine(repo: Arc<StaticRepo>, auto_sync: bool) -> EngineHandle {
    engine_with(repo, auto_sync, None).await
}

/// [`engine`] with `[reconcile] wave_timeout_secs` set.
async fn engine_with(
    repo: Arc<StaticRepo>,
    auto_sync: bool,
    wave_timeout_secs: Option<u64>,
) -> EngineHandle {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let cluster = KubeCluster::connect(Some(&kc), None)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(Arc::new(cluster))));
    opts.user = "ops@test".into();
    opts.poll = false;
    opts.auto_sync = auto_sync;
    if let Some(secs) = wave_timeout_secs {
        opts.reconcile.wave_timeout_secs = secs;
    }
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

/// A PreSync hook Job: kwok completes it in a second or two, or, with `fail`, its pod can never
/// be scheduled and the Job controller marks it Failed after two seconds.
fn presync_job(name: &str, fail: bool) -> Value {
    let mut j = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": {HOOK: "PreSync"}},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "example.test/tool:1.0"}]
            }}
        }
    });
    if fail {
        j["spec"]["activeDeadlineSeconds"] = json!(2);
        j["spec"]["template"]["spec"]["nodeSelector"] =
            json!({"sextant.test/no-such-node": "true"});
    }
    j
}

/// Operations started for `app` among `events` within `window`.
async fn starts_within(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    app: &str,
    window: Duration,
) -> Vec<OperationKind> {
    let mut kinds = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(ev) = tokio::time::timeout_at(deadline, events.recv()).await {
        match ev {
            Ok(Event::OperationStarted { app: a, kind, .. }) if a == app => kinds.push(kind),
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
    kinds
}

/// Issue 22 point 4. An automated sync whose PreSync hook fails is not repeated for the same
/// revision and source — neither by self-heal in this session nor by a new session reading the
/// operation record — and the App says why (condition `SyncError`, "Skipping auto-sync: failed
/// previous sync attempt to <rev>"). A new commit starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_automated_sync_is_not_repeated_until_a_new_commit() {
    let ns = fresh_ns("autofail");
    let name = format!("autofail-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(
        &name,
        &ns,
        Some(Automated {
            prune: false,
            self_heal: true,
            allow_empty: false,
        }),
    ));
    let rev1 = "f00dfa11000000000000000000000000000000aa";
    repo.commit(
        &name,
        rev1,
        "migration that cannot run",
        vec![presync_job("migrate", true), configmap("settings", "a")],
    );
    let h = engine(repo.clone(), true).await;
    let mut events = h.subscribe();
    let failed = loop {
        match tokio::time::timeout(TIMEOUT, events.recv()).await {
            Ok(Ok(Event::OperationFinished(r))) if r.app == name => break r,
            Ok(Ok(_)) => {}
            other => panic!("no automated sync finished: {other:?}"),
        }
    };
    assert_eq!(failed.kind, OperationKind::AutoSync, "{failed:?}");
    assert_eq!(failed.phase, OperationPhase::Failed, "{failed:?}");
    assert!(failed.message.contains("migrate"), "{}", failed.message);

    // Still OutOfSync (the ConfigMap was never applied) with selfHeal on: before the fix,
    // self-heal re-ran the sync after 2 s, 6 s, 18 s, ... for ever.
    let again = starts_within(&mut events, &name, Duration::from_secs(15)).await;
    assert!(
        again.is_empty(),
        "operations started again at the failed revision: {again:?}"
    );
    let s = wait_app(&h, &name, "SyncError condition", TIMEOUT, |s| {
        s.conditions.iter().any(|c| {
            c.kind == ConditionKind::SyncError
                && c.message
                    .starts_with(&format!("Failed sync attempt to {rev1}: "))
                && c.message.contains("migrate")
        })
    })
    .await;
    assert_eq!(s.sync, SyncStatus::OutOfSync);
    let notice = h
        .snapshot()
        .notices
        .iter()
        .filter(|n| {
            n.message.contains(&format!(
                "Skipping auto-sync: failed previous sync attempt to {rev1}"
            ))
        })
        .count();
    assert_eq!(notice, 1, "{:?}", h.snapshot().notices);

    // A new session finds the failed attempt in the operation record and skips it too.
    let h2 = engine(repo.clone(), true).await;
    let mut events2 = h2.subscribe();
    wait_app(&h2, &name, "second session skips", TIMEOUT, |s| {
        s.conditions
            .iter()
            .any(|c| c.kind == ConditionKind::SyncError && c.message.contains(rev1))
    })
    .await;
    let started = starts_within(&mut events2, &name, Duration::from_secs(4)).await;
    assert!(started.is_empty(), "second session synced: {started:?}");

    // A new commit (the migration fixed) is synced at once, by one of the sessions.
    let rev2 = "f00dfa11000000000000000000000000000000bb";
    repo.commit(
        &name,
        rev2,
        "fix the migration",
        vec![presync_job("migrate", false), configmap("settings", "a")],
    );
    h.send(Command::Refresh {
        app: None,
        hard: true,
    })
    .await
    .expect("refresh");
    let s = wait_app(&h, &name, "synced at the new commit", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.history.len() == 1
    })
    .await;
    assert_eq!(s.history[0].revision, rev2);
    assert!(
        !s.conditions
            .iter()
            .any(|c| c.kind == ConditionKind::SyncError),
        "{:?}",
        s.conditions
    );
}

fn row<'a>(s: &'a AppState, kind: &str, name: &str) -> &'a ResourceRow {
    s.resources
        .iter()
        .find(|r| r.key.kind == kind && r.key.name == name && r.state != ResourceState::Child)
        .unwrap_or_else(|| panic!("no row {kind}/{name}: {:?}", s.resources))
}

/// Issue 22 points 3 and 5. A revision whose manifests cannot be generated keeps the App's live
/// resources listed (sync status Unknown, never to prune), its health from the live objects and
/// the error as a `ComparisonError` condition — in this session and in a new one — and a sync
/// of it ends in `Error` (it could not start), not `Failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_failure_keeps_the_live_resources_and_a_sync_of_it_ends_in_error() {
    let ns = fresh_ns("broken");
    let name = format!("broken-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    repo.commit(
        &name,
        "b0000000000000000000000000000000000000a1",
        "web",
        vec![deployment("web", 1), configmap("settings", "a")],
    );
    let h = engine(repo.clone(), false).await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    wait_app(&h, &name, "synced and healthy", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced && s.health == HealthStatus::Healthy
    })
    .await;

    let error = "template: web/templates/deployment.yaml:7:20: executing \"web\" at <.Values.image.tag>: nil pointer evaluating interface {}.tag";
    repo.commit_broken(
        &name,
        "b0000000000000000000000000000000000000b2",
        "typo",
        error,
    );
    h.send(Command::Refresh {
        app: None,
        hard: true,
    })
    .await
    .expect("refresh");
    let check = |s: &AppState| {
        s.sync == SyncStatus::Unknown
            && s.health == HealthStatus::Healthy
            && s.conditions
                .iter()
                .any(|c| c.kind == ConditionKind::ComparisonError && c.message.contains(error))
            && ["Deployment", "ConfigMap"].iter().all(|k| {
                s.resources.iter().any(|r| {
                    r.key.kind == *k
                        && r.state == ResourceState::Unknown
                        && r.sync == SyncStatus::Unknown
                })
            })
    };
    let s = wait_app(
        &h,
        &name,
        "live resources kept, sync Unknown",
        TIMEOUT,
        check,
    )
    .await;
    assert!(s.diffs.is_empty(), "nothing to diff against: {:?}", s.diffs);
    assert_eq!(
        row(&s, "Deployment", "web").health,
        Some(HealthStatus::Healthy)
    );

    // A new session (nothing rendered yet) finds them too, from the kinds of the last sync.
    let h2 = engine(repo.clone(), false).await;
    wait_app(
        &h2,
        &name,
        "new session: live resources kept",
        TIMEOUT,
        check,
    )
    .await;

    // The operation cannot start: Error, recorded as such; nothing is pruned.
    let r = sync(
        &h,
        &name,
        SyncOptions {
            prune: true,
            ..SyncOptions::default()
        },
    )
    .await;
    assert_eq!(r.phase, OperationPhase::Error, "{r:?}");
    assert!(r.message.contains(error), "{}", r.message);
    let s = wait_app(&h, &name, "Error recorded", TIMEOUT, |s| {
        s.operation_state
            .as_ref()
            .is_some_and(|o| o.phase == RecordedPhase::Error)
    })
    .await;
    assert_eq!(
        row(&s, "ConfigMap", "settings").state,
        ResourceState::Unknown
    );
}

/// Issue 22 point 5. Health only where Argo CD gives one (not for a ConfigMap, a Secret or a
/// hook's own row); `app get -o json`'s `status.resources` lists the managed resources only,
/// their ReplicaSets and Pods are in `status.children`; a sync that ran and failed is `Failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_status_resources_as_argo_cd_reports_them() {
    let ns = fresh_ns("verdict");
    let name = format!("verdict-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
        "stringData": {"password": "hunter2"}});
    let objs = vec![
        presync_job("migrate", false),
        deployment("web", 1),
        configmap("settings", "a"),
        secret,
    ];
    repo.commit(
        &name,
        "c0000000000000000000000000000000000000c1",
        "v1",
        objs,
    );
    let h = engine(repo.clone(), false).await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    let s = wait_app(&h, &name, "healthy with pods", TIMEOUT, |s| {
        s.health == HealthStatus::Healthy
            && s.resources
                .iter()
                .any(|r| r.key.kind == "Pod" && r.state == ResourceState::Child)
    })
    .await;
    assert_eq!(row(&s, "ConfigMap", "settings").health, None);
    assert_eq!(row(&s, "Secret", "creds").health, None);
    assert_eq!(row(&s, "Job", "migrate").health, None, "a hook's own row");
    assert_eq!(
        row(&s, "Deployment", "web").health,
        Some(HealthStatus::Healthy)
    );

    let ctx = sextant::cli::Context {
        config: sextant::config::Config::default(),
        config_path: None,
        repo: None,
        readonly: false,
        yes: false,
        kubeconfig: None,
        kube_context: None,
    };
    let doc = sextant::cli::ops::app_state_json(&s, &ctx);
    let kinds = |field: &str| -> Vec<String> {
        doc["status"][field]
            .as_array()
            .unwrap_or_else(|| panic!("status.{field}: {doc:#}"))
            .iter()
            .map(|r| r["kind"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let managed = kinds("resources");
    assert!(
        !managed.iter().any(|k| k == "Pod" || k == "ReplicaSet"),
        "{managed:?}"
    );
    for k in ["Deployment", "ConfigMap", "Secret", "Job"] {
        assert!(managed.iter().any(|m| m == k), "{k} missing: {managed:?}");
    }
    let children = kinds("children");
    assert!(children.iter().any(|k| k == "Pod"), "{children:?}");
    assert!(children.iter().any(|k| k == "ReplicaSet"), "{children:?}");

    // A sync that runs and fails (its hook fails) is Failed.
    repo.commit(
        &name,
        "c0000000000000000000000000000000000000c2",
        "bad migration",
        vec![presync_job("migrate", true), configmap("settings", "b")],
    );
    h.call(Command::Refresh {
        app: None,
        hard: true,
    })
    .await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_eq!(r.phase, OperationPhase::Failed, "{r:?}");
}

/// Issue 22 point 6, gitops-engine's sync context: a resource of a non-final wave that becomes
/// Degraded fails its own step, the rest of the wave is still waited on (here without limit:
/// `wave_timeout_secs = 0`), and only then does the operation fail, naming it; the next wave
/// is not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_resource_fails_its_wave_after_the_rest_of_the_wave_is_waited_on() {
    let ns = fresh_ns("waves");
    let name = format!("waves-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    // Unschedulable pods: `bad` exceeds its progress deadline (Degraded) within seconds, `slow`
    // stays Progressing until the test lets its pods schedule.
    let unschedulable = |name: &str| {
        let mut d = deployment(name, 1);
        d["spec"]["template"]["spec"]["nodeSelector"] =
            json!({"sextant.test/no-such-node": "true"});
        d
    };
    let mut bad = unschedulable("bad");
    bad["spec"]["progressDeadlineSeconds"] = json!(1);
    let slow = unschedulable("slow");
    let mut after = configmap("after", "x");
    after["metadata"]["annotations"] = json!({WAVE: "1"});
    repo.commit(
        &name,
        "d0000000000000000000000000000000000000d1",
        "waves",
        vec![bad, slow, after],
    );
    let h = engine_with(repo.clone(), false, Some(0)).await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    let op = {
        let h = h.clone();
        let name = name.clone();
        tokio::spawn(async move { sync(&h, &name, SyncOptions::default()).await })
    };
    let client = support::client().await;
    let deployments: Api<Deployment> = Api::namespaced(client, &ns);
    support::wait_until("bad is past its progress deadline", TIMEOUT, || async {
        let d = deployments
            .get_opt("bad")
            .await
            .map_err(|e| e.to_string())?;
        let exceeded = d
            .and_then(|d| d.status)
            .and_then(|s| s.conditions)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
            });
        if exceeded {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
    // Before: the operation failed at once (or timed out at once with a timeout of 0).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !op.is_finished(),
        "the operation did not wait for the rest of the wave"
    );
    deployments
        .patch(
            "slow",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"nodeSelector": null}}}})),
        )
        .await
        .expect("let slow schedule");
    let r = tokio::time::timeout(TIMEOUT, op)
        .await
        .expect("operation ended")
        .expect("join");
    assert_eq!(r.phase, OperationPhase::Failed, "{r:?}");
    assert!(
        r.message
            .contains("one or more synchronization tasks completed unsuccessfully")
            && r.message.contains("bad"),
        "{}",
        r.message
    );
    let bad = r
        .resources
        .iter()
        .find(|x| x.key.name == "bad")
        .expect("bad's result");
    assert_eq!(bad.code, ResultCode::Failed, "{bad:?}");
    assert!(bad.message.contains("Degraded"), "{bad:?}");
    assert!(
        !r.resources.iter().any(|x| x.key.name == "after"),
        "wave 1 was applied: {:?}",
        r.resources
    );
    let slow = deployments.get("slow").await.expect("slow");
    assert_eq!(
        slow.status.and_then(|s| s.available_replicas),
        Some(1),
        "the rest of the wave became healthy before the operation ended"
    );
}

/// Issue 22 point 8, engine side. Abandoning (the TUI's "abandon and record it" on quit) stops a
/// running operation, records it `Failed` ("abandoned by …") and releases its lease, so another
/// session syncs at once. A lease whose holder stopped renewing (its process is gone) is named
/// so in the refusal, with when it expires; after that a sync takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_operation_is_recorded_and_a_gone_holder_is_named_then_taken_over() {
    let ns = fresh_ns("quit");
    let name = format!("quit-{ns}");
    let repo = Arc::new(StaticRepo::new());
    repo.set_app(app(&name, &ns, None));
    let mut stuck = deployment("web", 1);
    stuck["spec"]["template"]["spec"]["nodeSelector"] =
        json!({"sextant.test/no-such-node": "true"});
    let mut after = configmap("after", "x");
    after["metadata"]["annotations"] = json!({WAVE: "1"});
    repo.commit(
        &name,
        "e0000000000000000000000000000000000000e1",
        "stuck",
        vec![stuck, after],
    );
    let h = engine(repo.clone(), false).await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    let mut events = h.subscribe();
    let op = {
        let h = h.clone();
        let name = name.clone();
        tokio::spawn(async move { sync(&h, &name, SyncOptions::default()).await })
    };
    loop {
        match tokio::time::timeout(TIMEOUT, events.recv()).await {
            Ok(Ok(Event::Progress { app, message, .. }))
                if app == name && message.contains("waiting for wave 0") =>
            {
                break;
            }
            Ok(Ok(_)) => {}
            other => panic!("no wave-0 wait: {other:?}"),
        }
    }
    let out = tokio::time::timeout(TIMEOUT, h.call(Command::Abandon { app: None }))
        .await
        .expect("abandon answered");
    assert_eq!(out, sextant::engine::api::CommandOutcome::Done);
    let r = op.await.expect("join");
    assert_eq!(r.phase, OperationPhase::Failed, "{r:?}");
    assert!(r.message.contains("abandoned by ops@test"), "{}", r.message);

    // Another session sees the record and is not refused.
    let h2 = engine(repo.clone(), false).await;
    wait_app(&h2, &name, "abandoned operation recorded", TIMEOUT, |s| {
        s.operation_state.as_ref().is_some_and(|o| {
            o.phase == RecordedPhase::Failed && o.message.contains("abandoned by ops@test")
        })
    })
    .await;
    let dry = SyncOptions {
        dry_run: true,
        ..SyncOptions::default()
    };
    assert_succeeded(&sync(&h2, &name, dry.clone()).await);

    // A holder that stopped renewing 50 s ago (its process quit without a word).
    let leases: Api<Lease> = Api::namespaced(support::client().await, "sextant-system");
    let lease_name = format!("sextant-op-{name}");
    let _ = leases.delete(&lease_name, &Default::default()).await;
    let then = k8s_openapi::jiff::Timestamp::now()
        .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(50))
        .expect("time")
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string();
    let ghost: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": lease_name, "namespace": "sextant-system"},
        "spec": {"holderIdentity": "ghost@gone sync #00000000000000aa",
            "leaseDurationSeconds": 60, "acquireTime": then, "renewTime": then}
    }))
    .expect("lease");
    leases
        .create(&Default::default(), &ghost)
        .await
        .expect("create the ghost's lease");
    // Seen without trying: the App's operation names the silent holder.
    h2.call(Command::Refresh {
        app: Some(name.clone()),
        hard: false,
    })
    .await;
    wait_app(&h2, &name, "the silent holder named", TIMEOUT, |s| {
        s.operation_state.as_ref().is_some_and(|o| {
            o.phase == RecordedPhase::Running
                && o.message.contains("ghost@gone")
                && o.message.contains("most likely stopped")
        })
    })
    .await;
    let refused = match h2
        .call(Command::Sync {
            app: name.clone(),
            options: dry.clone(),
        })
        .await
    {
        sextant::engine::api::CommandOutcome::Refused(m) => m,
        other => panic!("not refused: {other:?}"),
    };
    assert!(
        refused.contains("ghost@gone sync")
            && refused.contains("has not been renewed")
            && refused.contains("most likely stopped")
            && refused.contains("expires in"),
        "{refused}"
    );
    // Once the lease has expired, a sync takes over.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_succeeded(&sync(&h2, &name, dry).await);
}
