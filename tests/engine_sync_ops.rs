//! Sync operation features against the real control plane (tests/support): hooks and their
//! delete policies, waves and the between-wave health wait, PruneLast / Prune=false /
//! foreground propagation, CRDs with their custom resources in one sync, unknown kinds, retry
//! with backoff, ApplyOutOfSyncOnly, Replace, ServerSideApply and Validate.
//!
//! kwok fakes the kubelet: pods of Deployments become Ready, pods owned by Jobs complete.
//! A hook that must fail is a Job whose pod cannot be scheduled (a nodeSelector no node has)
//! with `activeDeadlineSeconds`, so the Job controller marks it Failed (DeadlineExceeded).
//! Each test works in its own namespace with its own App.

mod scenario;
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sextant::app::{Backoff, RetryPolicy};
use sextant::cluster::SingleCluster;
use sextant::cluster::kube::KubeCluster;
use sextant::engine::api::{
    Command, EngineHandle, Event, OperationPhase, OperationResult, ResourceResult, ResultCode,
    SyncOptions, SyncStatus,
};
use sextant::engine::static_repo::StaticRepo;
use sextant::engine::{Engine, EngineOptions};

use scenario::{app, assert_succeeded, configmap, deployment, sync, wait_app};

const TIMEOUT: Duration = Duration::from_secs(90);
const HOOK: &str = "argocd.argoproj.io/hook";
const DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
const WAVE: &str = "argocd.argoproj.io/sync-wave";
const OPTIONS: &str = "argocd.argoproj.io/sync-options";

async fn engine(
    repo: Arc<StaticRepo>,
    kubeconfig: &Path,
    wave_timeout: Option<u64>,
) -> EngineHandle {
    let cluster = KubeCluster::connect(Some(kubeconfig), None)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(Arc::new(cluster))));
    opts.user = "ops@test".into();
    opts.poll = false;
    opts.auto_sync = false;
    if let Some(secs) = wave_timeout {
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

/// An App over `objs` in a fresh namespace, compared once; returns (engine, app, namespace).
async fn setup(
    prefix: &str,
    objs: Vec<Value>,
    customize: impl FnOnce(&mut sextant::app::App),
    wave_timeout: Option<u64>,
) -> (EngineHandle, Arc<StaticRepo>, String, String) {
    let kc = support::cluster().kubeconfig_path().to_path_buf();
    let ns = fresh_ns(prefix);
    let name = format!("{prefix}-{ns}");
    let repo = Arc::new(StaticRepo::new());
    let mut a = app(&name, &ns, None);
    customize(&mut a);
    repo.set_app(a);
    repo.commit(&name, "aaaaaaa1111", "initial", objs);
    let h = engine(repo.clone(), &kc, wave_timeout).await;
    wait_app(&h, &name, "first compare", TIMEOUT, |s| {
        s.compared_at.is_some()
    })
    .await;
    (h, repo, name, ns)
}

fn annotate(mut obj: Value, annotations: Value) -> Value {
    obj["metadata"]["annotations"] = annotations;
    obj
}

/// A Job that kwok completes in a second or two.
fn job(name: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "example.test/tool:1.0"}]
            }}
        }
    })
}

/// A Job that fails: its pod can never be scheduled, and the Job controller gives up after
/// `activeDeadlineSeconds` (condition Failed, reason DeadlineExceeded).
fn failing_job(name: &str, annotations: Value) -> Value {
    let mut j = job(name, annotations);
    j["spec"]["activeDeadlineSeconds"] = json!(2);
    j["spec"]["template"]["spec"]["nodeSelector"] = json!({"sextant.test/no-such-node": "true"});
    j
}

/// A Deployment whose pods can never be scheduled: it stays Progressing until the test patches
/// the nodeSelector away.
fn stuck_deployment(name: &str) -> Value {
    let mut d = deployment(name, 1);
    d["spec"]["template"]["spec"]["nodeSelector"] = json!({"sextant.test/no-such-node": "true"});
    d
}

fn result<'a>(r: &'a OperationResult, kind: &str, name: &str) -> &'a ResourceResult {
    r.resources
        .iter()
        .find(|x| x.key.kind == kind && x.key.name == name)
        .unwrap_or_else(|| panic!("no result for {kind}/{name}: {:?}", r.resources))
}

fn position(r: &OperationResult, kind: &str, name: &str) -> usize {
    r.resources
        .iter()
        .position(|x| x.key.kind == kind && x.key.name == name)
        .unwrap_or_else(|| panic!("no result for {kind}/{name}: {:?}", r.resources))
}

fn summary(r: &OperationResult) -> Vec<String> {
    r.resources
        .iter()
        .map(|x| {
            format!(
                "{}/{} {}:{} {:?}",
                x.key.kind, x.key.name, x.phase, x.wave, x.code
            )
        })
        .collect()
}

async fn gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    support::wait_until(&format!("{name} deleted"), TIMEOUT, || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await;
}

fn uid<K: kube::Resource>(o: &K) -> String {
    o.meta().uid.clone().unwrap_or_default()
}

fn created_at<K: kube::Resource>(o: &K) -> k8s_openapi::jiff::Timestamp {
    o.meta()
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .expect("creationTimestamp")
}

/// PreSync → Sync → PostSync, Argo CD and Helm hook annotations, and the delete policies:
/// HookSucceeded deletes the hook after it succeeded, BeforeHookCreation (the default) keeps
/// it until the next sync replaces it, Helm `test` hooks and `Skip` are not run. The PostSync
/// hook starts only once the Sync phase is healthy (`minReadySeconds` keeps the Deployment
/// Progressing for a few seconds after its pods are Ready).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_in_phase_order_with_delete_policies_and_post_sync_waits_for_health() {
    let mut web = deployment("web", 1);
    web["spec"]["minReadySeconds"] = json!(3);
    let objs = vec![
        job(
            "migrate",
            json!({HOOK: "PreSync", DELETE_POLICY: "HookSucceeded"}),
        ),
        // Helm: pre-install → PreSync, hook-succeeded → HookSucceeded.
        job(
            "helm-pre",
            json!({"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": "hook-succeeded"}),
        ),
        web,
        job(
            "during",
            json!({HOOK: "Sync", DELETE_POLICY: "HookSucceeded"}),
        ),
        // Helm hooks: post-install → PostSync; no delete policy → BeforeHookCreation.
        job(
            "smoke",
            json!({"helm.sh/hook": "post-install,post-upgrade"}),
        ),
        // Not run by a sync (as in Argo CD): Helm test hooks, and Skip.
        annotate(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-conn"},
                "spec": {"restartPolicy": "Never",
                    "containers": [{"name": "t", "image": "example.test/t:1"}]}}),
            json!({"helm.sh/hook": "test"}),
        ),
        annotate(configmap("skipped", "x"), json!({HOOK: "Skip"})),
    ];
    let (h, _repo, name, ns) = setup("ops-hooks", objs, |_| {}, None).await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    let s = summary(&r);
    let (migrate, web, during, smoke) = (
        position(&r, "Job", "migrate"),
        position(&r, "Deployment", "web"),
        position(&r, "Job", "during"),
        position(&r, "Job", "smoke"),
    );
    assert!(migrate < web && web < smoke && during < smoke, "{s:?}");
    assert_eq!(result(&r, "Job", "migrate").phase, "PreSync", "{s:?}");
    assert_eq!(result(&r, "Job", "helm-pre").phase, "PreSync", "{s:?}");
    assert!(position(&r, "Job", "helm-pre") < web, "{s:?}");
    assert_eq!(result(&r, "Job", "during").phase, "Sync", "{s:?}");
    assert_eq!(result(&r, "Job", "smoke").phase, "PostSync", "{s:?}");
    for j in ["migrate", "helm-pre", "during", "smoke"] {
        assert_eq!(
            result(&r, "Job", j).code,
            ResultCode::HookSucceeded,
            "{s:?}"
        );
    }
    assert!(
        !r.resources
            .iter()
            .any(|x| x.key.name == "test-conn" || x.key.name == "skipped"),
        "{s:?}"
    );

    let client = support::client().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    // HookSucceeded: deleted after success. BeforeHookCreation: still there.
    gone(&jobs, "migrate").await;
    gone(&jobs, "helm-pre").await;
    gone(&jobs, "during").await;
    let smoke1 = jobs.get("smoke").await.expect("smoke kept");
    // PostSync started after the Deployment became Available (after minReadySeconds).
    let d = deps.get("web").await.expect("web");
    let available = d
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Available" && c.status == "True")
        .and_then(|c| c.last_transition_time)
        .expect("web Available");
    assert!(
        created_at(&smoke1) >= available.0,
        "PostSync hook created at {} before the Deployment was Available at {}",
        created_at(&smoke1),
        available.0
    );
    // Neither the Helm test hook nor the Skip hook was created.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    assert!(pods.get_opt("test-conn").await.expect("get").is_none());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    assert!(cms.get_opt("skipped").await.expect("get").is_none());

    // Next sync: BeforeHookCreation replaces the old smoke Job (a new object).
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    assert_eq!(result(&r, "Job", "smoke").code, ResultCode::HookSucceeded);
    let smoke2 = jobs.get("smoke").await.expect("smoke re-created");
    assert_ne!(
        uid(&smoke1),
        uid(&smoke2),
        "BeforeHookCreation re-creates the hook"
    );
    assert_eq!(result(&r, "Deployment", "web").code, ResultCode::Unchanged);
}

/// A PreSync hook that fails fails the sync: nothing of the Sync phase is applied, the
/// HookFailed policy deletes the failed hook, and the SyncFail hook runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_pre_sync_hook_fails_the_sync_applies_nothing_and_runs_sync_fail_hooks() {
    let objs = vec![
        failing_job(
            "migrate",
            json!({HOOK: "PreSync", DELETE_POLICY: "HookFailed"}),
        ),
        configmap("settings", "a"),
        job("post", json!({HOOK: "PostSync"})),
        job("on-fail", json!({HOOK: "SyncFail"})),
    ];
    let (h, _repo, name, ns) = setup("ops-hookfail", objs, |_| {}, None).await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    let s = summary(&r);
    assert_eq!(r.phase, OperationPhase::Failed, "{s:?}");
    assert!(
        r.message.contains("Job") && r.message.contains("migrate"),
        "names the hook: {}",
        r.message
    );
    assert!(
        r.message.contains("DeadlineExceeded") || r.message.contains("deadline"),
        "{}",
        r.message
    );
    assert_eq!(
        result(&r, "Job", "migrate").code,
        ResultCode::HookFailed,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "Job", "on-fail").code,
        ResultCode::HookSucceeded,
        "{s:?}"
    );
    assert_eq!(result(&r, "Job", "on-fail").phase, "SyncFail", "{s:?}");
    assert!(
        !r.resources
            .iter()
            .any(|x| x.key.name == "settings" || x.key.name == "post"),
        "{s:?}"
    );
    let client = support::client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    assert!(
        cms.get_opt("settings").await.expect("get").is_none(),
        "Sync phase not applied"
    );
    let jobs: Api<Job> = Api::namespaced(client, &ns);
    assert!(
        jobs.get_opt("post").await.expect("get").is_none(),
        "PostSync not run"
    );
    assert!(
        jobs.get_opt("on-fail").await.expect("get").is_some(),
        "SyncFail hook ran"
    );
    gone(&jobs, "migrate").await;
    let st = h.snapshot();
    // The App had no sync before this one, and a failed sync records none (as Argo CD).
    assert_eq!(
        st.app(&name).map(|s| s.history.len()),
        Some(0),
        "no history for a failure"
    );
}

/// Waves -1, 0, 1: wave 1 is applied only after wave 0 is healthy. Wave 0's Deployment cannot
/// be scheduled until the test removes its nodeSelector; until then wave 1 does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waves_apply_in_order_and_the_next_wave_waits_for_the_previous_to_be_healthy() {
    let objs = vec![
        annotate(configmap("last", "1"), json!({WAVE: "1"})),
        annotate(stuck_deployment("web"), json!({WAVE: "0"})),
        annotate(configmap("first", "-1"), json!({WAVE: "-1"})),
    ];
    let (h, _repo, name, ns) = setup("ops-waves", objs, |_| {}, None).await;
    let mut events = h.subscribe();
    let op = {
        let h = h.clone();
        let name = name.clone();
        tokio::spawn(async move { sync(&h, &name, SyncOptions::default()).await })
    };
    // Wait for the engine to start waiting on wave 0.
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
    let client = support::client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    assert!(
        cms.get_opt("first").await.expect("get").is_some(),
        "wave -1 applied"
    );
    assert!(
        deps.get_opt("web").await.expect("get").is_some(),
        "wave 0 applied"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        cms.get_opt("last").await.expect("get").is_none(),
        "wave 1 must wait for wave 0 to be healthy"
    );
    assert!(!op.is_finished(), "the sync waits");
    // Let wave 0 become healthy.
    deps.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"nodeSelector": null}}}})),
    )
    .await
    .expect("unstick web");
    let r = tokio::time::timeout(TIMEOUT, op)
        .await
        .expect("sync finished")
        .expect("join");
    assert_succeeded(&r);
    let s = summary(&r);
    assert!(
        position(&r, "ConfigMap", "first") < position(&r, "Deployment", "web")
            && position(&r, "Deployment", "web") < position(&r, "ConfigMap", "last"),
        "{s:?}"
    );
    assert_eq!(result(&r, "ConfigMap", "first").wave, -1);
    assert_eq!(result(&r, "ConfigMap", "last").wave, 1);
    let last = cms.get("last").await.expect("wave 1 applied");
    let ready = deps.get("web").await.expect("web");
    assert_eq!(
        ready.status.and_then(|s| s.ready_replicas),
        Some(1),
        "wave 0 was healthy"
    );
    assert!(created_at(&last) >= created_at(&cms.get("first").await.expect("first")));
}

/// A wave that does not become healthy within the engine's between-wave timeout (set to 3 s
/// here; 300 s by default) fails the operation with a message naming the resource; the next
/// wave is not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wave_not_healthy_within_the_wave_timeout_fails_naming_the_resource() {
    assert_eq!(
        sextant::config::ReconcileConfig::default().wave_timeout_secs,
        300,
        "default between-wave timeout (docs/engine.md)"
    );
    let objs = vec![
        annotate(stuck_deployment("web"), json!({WAVE: "0"})),
        annotate(configmap("after", "1"), json!({WAVE: "1"})),
    ];
    let (h, _repo, name, ns) = setup("ops-wavetimeout", objs, |_| {}, Some(3)).await;
    let started = Instant::now();
    let r = sync(&h, &name, SyncOptions::default()).await;
    let took = started.elapsed();
    assert_eq!(r.phase, OperationPhase::Failed, "{:?}", summary(&r));
    assert!(
        r.message.contains("timed out")
            && r.message.contains("Deployment")
            && r.message.contains(&format!("{ns}/web")),
        "{}",
        r.message
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(30),
        "{took:?}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    assert!(
        cms.get_opt("after").await.expect("get").is_none(),
        "wave 1 not applied"
    );
}

/// Prune with PruneLast=true objects pruned after every other wave, Prune=false objects kept
/// (and Prune=confirm ones: Sextant has no confirmation step),
/// and foreground propagation: a pruned object with a blocking dependent stays (with the
/// `foregroundDeletion` finalizer) until the dependent is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_last_goes_after_all_waves_prune_false_is_kept_and_deletion_is_foreground() {
    let v1 = vec![
        configmap("stay", "1"),
        configmap("plain", "1"),
        configmap("parent", "1"),
        annotate(configmap("late", "1"), json!({OPTIONS: "PruneLast=true"})),
        annotate(configmap("keep", "1"), json!({OPTIONS: "Prune=false"})),
        annotate(configmap("confirm", "1"), json!({OPTIONS: "Prune=confirm"})),
    ];
    let (h, repo, name, ns) = setup("ops-prune", v1, |_| {}, None).await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    let client = support::client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    // A dependent of `parent` that blocks its owner's foreground deletion until released.
    let parent = cms.get("parent").await.expect("parent");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "child", "finalizers": ["sextant.test/hold"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "parent",
                    "uid": uid(&parent), "blockOwnerDeletion": true}]},
            "data": {"a": "b"}}))
        .expect("child"),
    )
    .await
    .expect("create child");

    let v2 = vec![
        configmap("stay", "2"),
        annotate(configmap("tail", "1"), json!({WAVE: "1"})),
    ];
    repo.commit(&name, "aaaaaaa2222", "drop four", v2);
    h.call(Command::Refresh {
        app: Some(name.clone()),
        hard: true,
    })
    .await;
    wait_app(&h, &name, "extras at v2", TIMEOUT, |s| {
        s.revision.as_ref().is_some_and(|r| r.sha == "aaaaaaa2222")
    })
    .await;
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
    let s = summary(&r);
    assert_eq!(
        result(&r, "ConfigMap", "plain").code,
        ResultCode::Pruned,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "ConfigMap", "parent").code,
        ResultCode::Pruned,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "ConfigMap", "late").code,
        ResultCode::Pruned,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "ConfigMap", "keep").code,
        ResultCode::PruneSkipped,
        "{s:?}"
    );
    let late = position(&r, "ConfigMap", "late");
    for other in ["stay", "tail", "plain", "parent"] {
        assert!(
            position(&r, "ConfigMap", other) < late,
            "PruneLast last: {s:?}"
        );
    }
    assert!(
        cms.get_opt("keep").await.expect("get").is_some(),
        "Prune=false kept"
    );
    let confirm = result(&r, "ConfigMap", "confirm");
    assert_eq!(confirm.code, ResultCode::PruneSkipped, "{s:?}");
    assert!(
        confirm.message.contains("Prune=confirm"),
        "{}",
        confirm.message
    );
    assert!(
        cms.get_opt("confirm").await.expect("get").is_some(),
        "Prune=confirm kept"
    );
    gone(&cms, "plain").await;
    gone(&cms, "late").await;
    // Foreground: parent waits for its blocking dependent.
    let p = cms
        .get("parent")
        .await
        .expect("parent held by its dependent");
    assert!(p.metadata.deletion_timestamp.is_some());
    assert!(
        p.metadata
            .finalizers
            .unwrap_or_default()
            .iter()
            .any(|f| f == "foregroundDeletion"),
        "foreground propagation"
    );
    cms.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release child");
    gone(&cms, "child").await;
    gone(&cms, "parent").await;
}

fn crd(group: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]
        }
    })
}

fn widget(group: &str, name: &str, annotations: Value) -> Value {
    json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": name, "annotations": annotations}, "spec": {"size": 3}})
}

/// A CRD and custom resources of its kind in one sync: the CRD is applied first (even when a
/// resource of its kind sits in an earlier wave), the resources once the kind is served. As in
/// Argo CD the dry run of such a resource is skipped whether or not it carries
/// `SkipDryRunOnMissingResource=true` (the CRD is part of the sync).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_and_its_custom_resources_in_one_sync_crd_first_then_resources() {
    let group = format!("w{:x}.sextant.test", std::process::id());
    let objs = vec![
        widget(
            &group,
            "early",
            json!({WAVE: "-1", OPTIONS: "SkipDryRunOnMissingResource=true"}),
        ),
        widget(&group, "plain", json!({})),
        crd(&group),
    ];
    let (h, _repo, name, ns) = setup("ops-crd", objs, |_| {}, None).await;
    // Dry run: nothing known yet, nothing fails.
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
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    let s = summary(&r);
    let crd_at = position(&r, "CustomResourceDefinition", &format!("widgets.{group}"));
    assert!(crd_at < position(&r, "Widget", "early"), "{s:?}");
    assert!(crd_at < position(&r, "Widget", "plain"), "{s:?}");
    assert_eq!(
        result(&r, "Widget", "early").code,
        ResultCode::Created,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "Widget", "plain").code,
        ResultCode::Created,
        "{s:?}"
    );
    let ar = ApiResource {
        group: group.clone(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<DynamicObject> = Api::namespaced_with(support::client().await, &ns, &ar);
    assert!(widgets.get_opt("early").await.expect("get").is_some());
    assert!(widgets.get_opt("plain").await.expect("get").is_some());
    wait_app(&h, &name, "Synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
}

/// A kind the cluster does not know and no CRD in the sync: the sync fails before applying
/// anything, naming the resource, the kind and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kind_without_crd_is_reported_by_name_with_the_fix() {
    let objs = vec![
        configmap("settings", "a"),
        json!({"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
            "metadata": {"name": "db-creds"}, "spec": {}}),
    ];
    let (h, _repo, name, ns) = setup("ops-unknown", objs, |_| {}, None).await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_eq!(r.phase, OperationPhase::Failed, "{:?}", summary(&r));
    for needle in [
        "ExternalSecret",
        "db-creds",
        "external-secrets.io",
        "CustomResourceDefinition",
    ] {
        assert!(
            r.message.contains(needle),
            "missing {needle:?} in: {}",
            r.message
        );
    }
    let cms: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    assert!(
        cms.get_opt("settings")
            .await
            .expect("get ConfigMap settings")
            .is_none(),
        "nothing applied"
    );
}

fn retry(limit: i64) -> RetryPolicy {
    RetryPolicy {
        limit,
        backoff: Backoff {
            duration: Duration::from_secs(1),
            factor: 2,
            max_duration: Duration::from_secs(5),
        },
    }
}

/// Collects Retrying events and the start time of each attempt of `app`; creates the
/// namespace `create_ns` when the `create_after`-th retry is announced.
async fn watch_retries(
    mut events: tokio::sync::broadcast::Receiver<Event>,
    app: String,
    create_ns: Option<(String, u32)>,
) -> (Vec<(u32, Duration)>, Vec<Instant>) {
    let mut retries = Vec::new();
    let mut starts = Vec::new();
    loop {
        match events.recv().await {
            Ok(Event::OperationStarted { app: a, .. }) if a == app => starts.push(Instant::now()),
            Ok(Event::Retrying {
                app: a,
                attempt,
                delay,
                ..
            }) if a == app => {
                retries.push((attempt, delay));
                if let Some((ns, after)) = &create_ns
                    && *after == attempt
                {
                    let api: Api<Namespace> = Api::all(support::client().await);
                    api.create(
                        &PostParams::default(),
                        &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
                    )
                    .await
                    .expect("create namespace");
                }
            }
            Ok(Event::OperationFinished(r)) if r.app == app => return (retries, starts),
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("events: {e}"),
        }
    }
}

/// retry {limit 2, backoff 1s ×2 max 5s}: the destination namespace does not exist (no
/// CreateNamespace), so attempts fail until the test creates it after the second failure; the
/// delays grow 1 s → 2 s and the third attempt succeeds. Each attempt starts from the live
/// state: wave -1, applied by the first attempt, is Unchanged in the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_backs_off_with_growing_delays_and_succeeds_once_the_cause_is_fixed() {
    let late_ns = fresh_ns("ops-retry-late");
    let mut settings = configmap("settings", "a");
    settings["metadata"]["namespace"] = json!(late_ns);
    let (h, _repo, name, ns) = setup(
        "ops-retry",
        vec![
            annotate(configmap("first", "a"), json!({WAVE: "-1"})),
            settings,
        ],
        |a| a.sync_policy.retry = Some(retry(2)),
        None,
    )
    .await;
    let watcher = tokio::spawn(watch_retries(
        h.subscribe(),
        name.clone(),
        Some((late_ns.clone(), 2)),
    ));
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    assert_eq!(r.retries, 2);
    let (retries, starts) = tokio::time::timeout(TIMEOUT, watcher)
        .await
        .expect("watcher")
        .expect("join");
    assert_eq!(
        retries,
        vec![(1, Duration::from_secs(1)), (2, Duration::from_secs(2))]
    );
    assert_eq!(starts.len(), 3, "three attempts");
    assert!(starts[1] - starts[0] >= Duration::from_secs(1));
    assert!(starts[2] - starts[1] >= Duration::from_secs(2));
    let s = summary(&r);
    assert_eq!(
        result(&r, "ConfigMap", "first").code,
        ResultCode::Unchanged,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "ConfigMap", "settings").code,
        ResultCode::Created,
        "{s:?}"
    );
    let client = support::client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &late_ns);
    assert!(cms.get_opt("settings").await.expect("get").is_some());
    let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
    assert!(cms.get_opt("first").await.expect("get").is_some());
}

/// With the retry limit exhausted the operation fails with the last attempt's error and says
/// how often it retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_limit_exhausted_fails_with_the_last_error() {
    let (h, _repo, name, ns) = setup(
        "ops-retryx",
        vec![configmap("settings", "a")],
        |a| {
            a.sync_policy.sync_options.clear();
            a.sync_policy.retry = Some(retry(2));
        },
        None,
    )
    .await;
    let watcher = tokio::spawn(watch_retries(h.subscribe(), name.clone(), None));
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_eq!(r.phase, OperationPhase::Failed);
    assert_eq!(r.retries, 2);
    assert!(
        r.message.contains(&ns) && r.message.contains("not found"),
        "last error: {}",
        r.message
    );
    assert!(r.message.contains("retried 2 times"), "{}", r.message);
    let (retries, starts) = tokio::time::timeout(TIMEOUT, watcher)
        .await
        .expect("watcher")
        .expect("join");
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert_eq!(starts.len(), 3);
    assert_eq!(
        result(&r, "ConfigMap", "settings").code,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
}

/// ApplyOutOfSyncOnly (sync option of the operation, and of the App): only out-of-sync
/// resources are applied; the others are reported as unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_out_of_sync_only_applies_only_the_out_of_sync_resources() {
    let v1 = vec![
        configmap("a", "1"),
        configmap("b", "1"),
        configmap("c", "1"),
    ];
    let (h, repo, name, _ns) = setup("ops-oos", v1, |_| {}, None).await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    wait_app(&h, &name, "Synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    let refresh = |sha: &'static str| {
        let h = h.clone();
        let name = name.clone();
        async move {
            h.call(Command::Refresh {
                app: Some(name.clone()),
                hard: true,
            })
            .await;
            wait_app(&h, &name, "OutOfSync", TIMEOUT, |s| {
                s.sync == SyncStatus::OutOfSync && s.revision.as_ref().is_some_and(|r| r.sha == sha)
            })
            .await;
        }
    };
    repo.commit(
        &name,
        "aaaaaaa2222",
        "change b",
        vec![
            configmap("a", "1"),
            configmap("b", "2"),
            configmap("c", "1"),
        ],
    );
    refresh("aaaaaaa2222").await;
    let r = sync(
        &h,
        &name,
        SyncOptions {
            apply_out_of_sync_only: true,
            ..SyncOptions::default()
        },
    )
    .await;
    assert_succeeded(&r);
    let s = summary(&r);
    assert_eq!(
        result(&r, "ConfigMap", "b").code,
        ResultCode::Configured,
        "{s:?}"
    );
    for n in ["a", "c"] {
        let x = result(&r, "ConfigMap", n);
        assert_eq!(x.code, ResultCode::Unchanged, "{s:?}");
        assert!(x.message.contains("ApplyOutOfSyncOnly"), "{}", x.message);
    }

    // The same as an App-level sync option.
    let mut a = app(&name, &_ns, None);
    a.sync_policy
        .sync_options
        .push("ApplyOutOfSyncOnly=true".into());
    repo.set_app(a);
    repo.commit(
        &name,
        "aaaaaaa3333",
        "change c",
        vec![
            configmap("a", "1"),
            configmap("b", "2"),
            configmap("c", "3"),
        ],
    );
    refresh("aaaaaaa3333").await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    let s = summary(&r);
    assert_eq!(
        result(&r, "ConfigMap", "c").code,
        ResultCode::Configured,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "ConfigMap", "a").code,
        ResultCode::Unchanged,
        "{s:?}"
    );
    assert_eq!(
        result(&r, "ConfigMap", "b").code,
        ResultCode::Unchanged,
        "{s:?}"
    );
}

fn managed_by_sextant(cm: &ConfigMap) -> Vec<String> {
    cm.metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.manager.as_deref() == Some("sextant"))
        .filter_map(|m| m.operation)
        .collect()
}

fn labels(cm: &ConfigMap) -> std::collections::BTreeMap<String, String> {
    cm.metadata.labels.clone().unwrap_or_default()
}

/// `Replace=true` replaces the object with the manifest (`kubectl replace`/`create` in Argo
/// CD): fields another manager added are dropped. `ServerSideApply=true` is what Sextant
/// always does (fields of other managers survive); `ServerSideApply=false` is reported as
/// ignored rather than silently obeyed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_true_replaces_the_object_and_server_side_apply_keeps_other_managers_fields() {
    let objs = |v: &str| {
        vec![
            annotate(configmap("replaced", v), json!({OPTIONS: "Replace=true"})),
            annotate(
                configmap("applied", v),
                json!({OPTIONS: "ServerSideApply=true"}),
            ),
            annotate(
                configmap("csa", v),
                json!({OPTIONS: "ServerSideApply=false"}),
            ),
        ]
    };
    let (h, repo, name, ns) = setup("ops-replace", objs("1"), |_| {}, None).await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    let s = summary(&r);
    assert_eq!(
        result(&r, "ConfigMap", "replaced").code,
        ResultCode::Created,
        "{s:?}"
    );
    assert!(
        result(&r, "ConfigMap", "replaced")
            .message
            .contains("Replace=true")
    );
    assert!(
        result(&r, "ConfigMap", "csa")
            .message
            .contains("ServerSideApply=false ignored"),
        "{:?}",
        result(&r, "ConfigMap", "csa")
    );
    let cms: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    assert_eq!(
        managed_by_sextant(&cms.get("replaced").await.expect("get")),
        ["Update"]
    );
    assert_eq!(
        managed_by_sextant(&cms.get("applied").await.expect("get")),
        ["Apply"]
    );
    // Another field manager labels both.
    for n in ["replaced", "applied"] {
        cms.patch(
            n,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "blue"}}})),
        )
        .await
        .expect("label");
    }
    repo.commit(&name, "aaaaaaa2222", "v2", objs("2"));
    h.call(Command::Refresh {
        app: Some(name.clone()),
        hard: true,
    })
    .await;
    wait_app(&h, &name, "OutOfSync at v2", TIMEOUT, |s| {
        s.sync == SyncStatus::OutOfSync
            && s.revision.as_ref().is_some_and(|r| r.sha == "aaaaaaa2222")
    })
    .await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    let s = summary(&r);
    assert_eq!(
        result(&r, "ConfigMap", "replaced").code,
        ResultCode::Configured,
        "{s:?}"
    );
    let replaced = cms.get("replaced").await.expect("get");
    let applied = cms.get("applied").await.expect("get");
    assert_eq!(
        replaced
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("2")
    );
    assert_eq!(
        applied
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("2")
    );
    assert!(
        !labels(&replaced).contains_key("team"),
        "replace drops other managers' fields"
    );
    assert_eq!(
        labels(&applied).get("team").map(String::as_str),
        Some("blue")
    );
}

/// Server-side apply checks every field against the kind's schema whatever `fieldValidation`
/// says, so `Validate=false` (Argo CD: skip kubectl's client-side check) cannot let an unknown
/// field through: the sync fails naming the resource and the field, says how to fix it, and
/// says that Validate=false cannot skip the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_false_cannot_skip_the_server_schema_check_and_the_error_says_so() {
    let mut typo = annotate(deployment("web", 1), json!({OPTIONS: "Validate=false"}));
    typo["spec"]["replica"] = json!(2);
    let mut fine = annotate(
        configmap("settings", "a"),
        json!({OPTIONS: "Validate=false"}),
    );
    fine["metadata"]["annotations"][WAVE] = json!("-1");
    let (h, _repo, name, ns) = setup("ops-validate", vec![fine, typo], |_| {}, None).await;
    let r = sync(&h, &name, SyncOptions::default()).await;
    let s = summary(&r);
    assert_eq!(r.phase, OperationPhase::Failed, "{s:?}");
    assert_eq!(
        result(&r, "ConfigMap", "settings").code,
        ResultCode::Created,
        "{s:?}"
    );
    let web = result(&r, "Deployment", "web");
    assert_eq!(web.code, ResultCode::Failed, "{s:?}");
    for needle in [
        ".spec.replica",
        "not declared in schema",
        "remove it",
        "Validate=false cannot skip",
    ] {
        assert!(
            web.message.contains(needle),
            "missing {needle:?}: {}",
            web.message
        );
    }
    assert!(r.message.contains("web"), "{}", r.message);
    let deps: Api<Deployment> = Api::namespaced(support::client().await, &ns);
    assert!(deps.get_opt("web").await.expect("get").is_none());
}

/// `PrunePropagationPolicy=background` (App sync option): the pruned object goes at once, its
/// blocking dependent is collected afterwards (foreground would keep the owner until then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_propagation_policy_background_deletes_the_owner_at_once() {
    let (h, repo, name, ns) = setup(
        "ops-prunebg",
        vec![configmap("stay", "1"), configmap("parent", "1")],
        |a| {
            a.sync_policy
                .sync_options
                .push("PrunePropagationPolicy=background".into())
        },
        None,
    )
    .await;
    assert_succeeded(&sync(&h, &name, SyncOptions::default()).await);
    let cms: Api<ConfigMap> = Api::namespaced(support::client().await, &ns);
    let parent = cms.get("parent").await.expect("parent");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "child", "finalizers": ["sextant.test/hold"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "parent",
                    "uid": uid(&parent), "blockOwnerDeletion": true}]},
            "data": {"a": "b"}}))
        .expect("child"),
    )
    .await
    .expect("create child");
    repo.commit(
        &name,
        "aaaaaaa2222",
        "drop parent",
        vec![configmap("stay", "1")],
    );
    h.call(Command::Refresh {
        app: Some(name.clone()),
        hard: true,
    })
    .await;
    wait_app(&h, &name, "extra at v2", TIMEOUT, |s| {
        s.revision.as_ref().is_some_and(|r| r.sha == "aaaaaaa2222")
    })
    .await;
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
    assert_eq!(result(&r, "ConfigMap", "parent").code, ResultCode::Pruned);
    // Gone although its blocking dependent is still there (held by the test's finalizer).
    gone(&cms, "parent").await;
    assert!(cms.get_opt("child").await.expect("get").is_some());
    cms.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release child");
    gone(&cms, "child").await;
}

/// Argo CD hooks are often named only by `generateName` (`db-migrate-` with a PreSync hook
/// annotation): the App is compared without an error, the hook runs in PreSync under Argo CD's
/// generated name (`<generateName><revision[:7]>-<phase>-<start>`) before the Sync phase, and
/// neither the desired hook nor the Job it left behind makes the App OutOfSync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_sync_hook_with_generate_name_runs_and_does_not_affect_sync_status() {
    let mut migrate = job("unused", json!({HOOK: "PreSync"}));
    let meta = migrate["metadata"].as_object_mut().expect("metadata");
    meta.remove("name");
    meta.insert("generateName".into(), json!("db-migrate-"));
    let objs = vec![migrate, configmap("settings", "a")];
    let (h, _repo, name, ns) = setup("ops-genname", objs, |_| {}, None).await;
    let before = wait_app(&h, &name, "compared", TIMEOUT, |s| s.compared_at.is_some()).await;
    assert!(
        before.conditions.is_empty(),
        "a generateName hook is no comparison error: {:?}",
        before.conditions
    );
    // Only the missing ConfigMap is out of sync, not the hook.
    assert_eq!(before.sync, SyncStatus::OutOfSync);

    let r = sync(&h, &name, SyncOptions::default()).await;
    assert_succeeded(&r);
    let s = summary(&r);
    let run = r
        .resources
        .iter()
        .find(|x| x.key.kind == "Job")
        .unwrap_or_else(|| panic!("no hook result: {s:?}"));
    assert!(
        run.key.name.starts_with("db-migrate-aaaaaaa-presync-"),
        "generated name: {s:?}"
    );
    assert_eq!(run.phase, "PreSync", "{s:?}");
    assert_eq!(run.code, ResultCode::HookSucceeded, "{s:?}");
    assert!(
        position(&r, "Job", &run.key.name) < position(&r, "ConfigMap", "settings"),
        "{s:?}"
    );
    // Created under that name (no delete policy given: BeforeHookCreation keeps it).
    let jobs: Api<Job> = Api::namespaced(support::client().await, &ns);
    assert!(
        jobs.get_opt(&run.key.name).await.expect("get").is_some(),
        "hook Job {} in {ns}",
        run.key.name
    );
    // Hooks never make the App OutOfSync: neither the unnamed desired hook nor the live run.
    let after = wait_app(&h, &name, "Synced", TIMEOUT, |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    assert!(after.conditions.is_empty(), "{:?}", after.conditions);
}
