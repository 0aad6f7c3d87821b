//! The seed scenario end to end (issue 5, "Tests against the real control plane"), as one test
//! in named steps, through the product's own paths: a real git repository (a working clone of a
//! `file://` bare remote) holding a copy of the demo chart and ApplicationSet, read by the
//! engine's git source (`GitRepo`: fetch, ApplicationSet, native Helm rendering with the `helm`
//! CLI as fallback), destinations mapped to the test cluster by `KubeClusters` (the in-cluster
//! URL → the kubeconfig's current context), synced into the real control plane.
//!
//! App names and namespaces get a per-run suffix, so the test can share a cluster with others.
//! The chart's prod environment runs a GPU model server (it requests `nvidia.com/gpu` and
//! tolerates the GPU taint): `testcluster/up` provides the tainted GPU node it lands on.
//!
//! Steps: three Apps from the ApplicationSet auto-sync their first revision (namespaces created
//! by `CreateNamespace`); Deployments become Healthy, prod's GPU pod on the GPU node; a values
//! commit scales prod to 5 (its HPA's `minReplicas`: prod's runtime is autoscaled), prod goes
//! OutOfSync and auto-syncs to 5 ready pods while dev and staging are Synced at the new revision
//! with history unchanged; a template removed from the chart is pruned (only it); a manual scale
//! is reverted by self-heal; history holds the revisions; rollback is refused with auto-sync on
//! and works after the override; promotion dev → staging of a new agent block commits (author
//! from git config, message naming the key), staging goes OutOfSync at that revision and
//! auto-syncs, and the staging values file keeps every comment (text compared).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use sextant::cli::gitrepo::GitRepo;
use sextant::cluster::kube::KubeClusters;
use sextant::config::{Config, RendererChoice};
use sextant::engine::api::{
    AppState, Command, CommandOutcome, EngineHandle, Event, HealthStatus, OperationKind,
    OperationPhase, OperationResult, PromoteRequest, ResourceState, ResultCode, Snapshot,
    SyncOptions, SyncStatus,
};
use sextant::engine::{Engine, EngineOptions};
use sextant::source::Repo;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo");
const APPSET: &str = "deploy/gitops/argocd/applicationset.yaml";
const CHART: &str = "deploy/helm/astromesh";
/// Per wait; the whole scenario takes well under this on an idle machine.
const TIMEOUT: Duration = Duration::from_secs(90);

/// Author of the test's own commits (environment), distinct from the repository's git config
/// (used by the promotion commit).
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Process::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Seed Test")
        .env("GIT_AUTHOR_EMAIL", "seed@example.test")
        .env("GIT_COMMITTER_NAME", "Seed Test")
        .env("GIT_COMMITTER_EMAIL", "seed@example.test")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Replace exactly one occurrence (a fixture edit that silently does nothing would make the
/// scenario meaningless).
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "expected one {from:?} in:\n{text}"
    );
    text.replacen(from, to, 1)
}

/// Commit everything in `work` and push it to the bare remote, as an operator would.
fn commit_and_push(work: &Path, message: &str) -> String {
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", message]);
    git(work, &["push", "-q", "origin", "main"]);
    git(work, &["rev-parse", "HEAD"])
}

/// Everything one step needs: the engine, the apps, the working clone.
struct Seed {
    h: EngineHandle,
    work: PathBuf,
    dev: String,
    staging: String,
    prod: String,
    /// Every operation result, in order (from the engine's event stream).
    finished: Arc<Mutex<Vec<OperationResult>>>,
    /// Every distinct (app, sync status, revision) the state stream showed, in order.
    seen: Arc<Mutex<Vec<(String, SyncStatus, String)>>>,
    /// The first OutOfSync state of each (app, revision) the state stream showed (with diffs).
    out_of_sync: Arc<Mutex<Vec<AppState>>>,
    started: Instant,
}

impl Seed {
    fn step(&self, what: &str) {
        eprintln!(
            "engine_seed: [{:5.1}s] {what}",
            self.started.elapsed().as_secs_f64()
        );
    }

    fn names(&self) -> [&str; 3] {
        [&self.dev, &self.staging, &self.prod]
    }

    fn ns(&self, app: &str) -> String {
        self.h
            .snapshot()
            .app(app)
            .map(|a| a.app.destination.namespace.clone())
            .unwrap_or_else(|| panic!("no App {app}"))
    }

    async fn wait(&self, what: &str, pred: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let mut rx = self.h.state.clone();
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let snap = rx.borrow_and_update().clone();
            if pred(&snap) {
                return snap;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                panic!(
                    "timed out after {TIMEOUT:?} waiting for {what}:\n{}\nrepo: {:?}",
                    summary(&snap),
                    snap.repo
                );
            }
            let _ = tokio::time::timeout(deadline - now, rx.changed()).await;
        }
    }

    async fn wait_app(&self, app: &str, what: &str, pred: impl Fn(&AppState) -> bool) -> AppState {
        let snap = self
            .wait(&format!("{what} ({app})"), |s| {
                s.app(app).is_some_and(&pred)
            })
            .await;
        snap.app(app)
            .cloned()
            .unwrap_or_else(|| panic!("no App {app}"))
    }

    async fn refresh(&self) {
        let out = self
            .h
            .call(Command::Refresh {
                app: None,
                hard: true,
            })
            .await;
        assert_eq!(out, CommandOutcome::Done, "refresh");
    }

    /// The finished operation of `app` at `revision` of `kind` (waits for it).
    async fn finished(&self, app: &str, kind: OperationKind, revision: &str) -> OperationResult {
        support::wait_until(
            &format!("{kind:?} of {app} at {revision}"),
            TIMEOUT,
            || async {
                let done = self.finished.lock().map(|v| v.clone()).unwrap_or_default();
                done.iter()
                    .find(|r| r.app == app && r.kind == kind && r.revision == revision)
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "{:?}",
                            done.iter()
                                .map(|r| (&r.app, r.kind, &r.revision, r.phase))
                                .collect::<Vec<_>>()
                        )
                    })
            },
        )
        .await
    }

    fn saw(&self, app: &str, sync: SyncStatus, revision: &str) -> bool {
        self.seen.lock().is_ok_and(|v| {
            v.iter()
                .any(|(a, s, r)| a == app && *s == sync && r == revision)
        })
    }
}

fn summary(snap: &Snapshot) -> String {
    snap.apps
        .iter()
        .map(|a| {
            format!(
                "  {} sync={:?} health={:?} ({}) rev={:?} deployed={:?} history={:?} op={:?} auto={:?} cond={:?}\n    rows: {:?}",
                a.app.name,
                a.sync,
                a.health,
                a.health_message,
                a.revision.as_ref().map(|r| r.short().to_string()),
                a.deployed.as_ref().map(|r| r.short().to_string()),
                a.history.iter().map(|e| (e.id, e.revision.chars().take(7).collect::<String>())).collect::<Vec<_>>(),
                a.operation.as_ref().map(|o| o.phase.clone()),
                a.auto_sync,
                a.conditions,
                a.resources
                    .iter()
                    .filter(|r| r.state != ResourceState::Child)
                    .map(|r| format!("{}/{} {:?} {:?}", r.key.kind, r.key.name, r.state, r.health))
                    .collect::<Vec<_>>()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_synced_at(a: &AppState, sha: &str) -> bool {
    a.sync == SyncStatus::Synced && a.revision.as_ref().is_some_and(|r| r.sha == sha)
}

/// Tracked objects of an App (what Git declares and the cluster holds), as `Kind/name`.
fn tracked(a: &AppState) -> BTreeSet<String> {
    a.resources
        .iter()
        .filter(|r| r.state != ResourceState::Child)
        .map(|r| format!("{}/{}", r.key.kind, r.key.name))
        .collect()
}

fn deployments_healthy(a: &AppState) -> bool {
    let deps: Vec<_> = a
        .resources
        .iter()
        .filter(|r| r.key.kind == "Deployment" && r.state != ResourceState::Child)
        .collect();
    !deps.is_empty() && deps.iter().all(|r| r.health == Some(HealthStatus::Healthy))
}

async fn ready_pods(ns: &str, name: &str, want: i32) -> Result<(), String> {
    let api: Api<Deployment> = Api::namespaced(support::client().await, ns);
    let d = api.get(name).await.map_err(|e| e.to_string())?;
    let spec = d.spec.as_ref().and_then(|s| s.replicas);
    let ready = d
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    let updated = d
        .status
        .as_ref()
        .and_then(|s| s.updated_replicas)
        .unwrap_or(0);
    let total = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    if spec == Some(want) && ready == want && updated == want && total == want {
        Ok(())
    } else {
        Err(format!(
            "{ns}/{name}: spec {spec:?}, ready {ready}, updated {updated}, total {total}"
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_end_to_end_on_the_real_control_plane() {
    let tc = support::cluster();
    let started = Instant::now();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let suffix = format!("{:x}{:x}", std::process::id(), secs & 0xfff);

    // ---- the GitOps repository: a bare remote and a working clone ----------------------------
    let tmp = tempfile::tempdir().expect("tempdir");
    let bare = tmp.path().join("astromesh-gitops.git");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&bare).expect("mkdir bare");
    git(&bare, &["init", "-q", "--bare", "-b", "main"]);
    copy_dir(Path::new(DEMO), &work);
    let url = format!("file://{}", bare.display());
    let appset_path = work.join(APPSET);
    let mut appset = read(&appset_path);
    appset = appset.replace(
        "namespace: astromesh-",
        &format!("namespace: seed{suffix}-astromesh-"),
    );
    appset = replace_once(
        &appset,
        "name: astromesh-{{env}}",
        &format!("name: seed{suffix}-astromesh-{{{{env}}}}"),
    );
    appset = replace_once(
        &appset,
        "repoURL: https://github.com/example/astromesh-gitops.git",
        &format!("repoURL: {url}"),
    );
    write(&appset_path, &appset);
    git(&work, &["init", "-q", "-b", "main"]);
    // The promotion's author comes from here (the test's own commits override it).
    git(&work, &["config", "user.name", "Promo Tester"]);
    git(&work, &["config", "user.email", "promo@example.test"]);
    git(&work, &["remote", "add", "origin", &url]);
    let rev1 = commit_and_push(&work, "astromesh: demo chart and ApplicationSet");
    git(&work, &["branch", "-q", "--set-upstream-to", "origin/main"]);
    git(&work, &["remote", "set-head", "origin", "main"]);

    let mut config = Config::with_defaults();
    config.render.renderer = RendererChoice::Auto;
    config.render.helm_binary = support::bin("helm");
    let repo = GitRepo::new(Repo::open(&work).expect("open the working clone"), &config);
    // The product's destination mapping: the ApplicationSet's in-cluster URL → current context.
    let clusters = KubeClusters::new(Some(tc.kubeconfig_path().to_path_buf()), vec![], None);
    let mut opts = EngineOptions::new(Arc::new(repo), Arc::new(clusters));
    opts.poll = false;
    opts.user = "seed@test".into();
    let h = Engine::start(opts);

    let finished = Arc::new(Mutex::new(Vec::new()));
    let mut events = h.subscribe();
    let sink = finished.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::OperationFinished(r)) => {
                    if let Ok(mut v) = sink.lock() {
                        v.push(r);
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
    let seen = Arc::new(Mutex::new(Vec::<(String, SyncStatus, String)>::new()));
    let mut rx = h.state.clone();
    let record = seen.clone();
    let out_of_sync = Arc::new(Mutex::new(Vec::<AppState>::new()));
    let record_oos = out_of_sync.clone();
    tokio::spawn(async move {
        loop {
            {
                let snap = rx.borrow_and_update();
                if let Ok(mut v) = record_oos.lock() {
                    for a in snap.apps.iter().filter(|a| a.sync == SyncStatus::OutOfSync) {
                        if !v
                            .iter()
                            .any(|o| o.app.name == a.app.name && o.revision == a.revision)
                        {
                            v.push(a.clone());
                        }
                    }
                }
                if let Ok(mut v) = record.lock() {
                    for a in &snap.apps {
                        let item = (
                            a.app.name.clone(),
                            a.sync,
                            a.revision
                                .as_ref()
                                .map(|r| r.sha.clone())
                                .unwrap_or_default(),
                        );
                        if !v.contains(&item) {
                            v.push(item);
                        }
                    }
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    });

    let app_name = |env: &str| format!("seed{suffix}-astromesh-{env}");
    let s = Seed {
        h,
        work: work.clone(),
        dev: app_name("dev"),
        staging: app_name("staging"),
        prod: app_name("prod"),
        finished,
        seen,
        out_of_sync,
        started,
    };
    let client = support::client().await;

    // ---- 1. three Apps from the ApplicationSet; the first sync creates namespaces + resources --
    s.step("three Apps auto-sync their first revision");
    let snap = s
        .wait(
            "three Apps Synced at the first revision, one history entry each",
            |snap| {
                s.names().iter().all(|n| {
                    snap.app(n)
                        .is_some_and(|a| is_synced_at(a, &rev1) && a.history.len() == 1)
                })
            },
        )
        .await;
    assert_eq!(
        snap.apps
            .iter()
            .map(|a| a.app.name.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([s.dev.as_str(), s.prod.as_str(), s.staging.as_str()]),
        "exactly the ApplicationSet's three Apps"
    );
    assert!(!snap.loading, "every App compared: not loading");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for n in s.names() {
        let a = snap.app(n).expect("app");
        assert_eq!(a.history[0].revision, rev1);
        assert!(
            a.history[0].initiated_by.contains("(auto)"),
            "{:?}",
            a.history
        );
        assert_eq!(
            a.cluster, "sextant-test",
            "destination mapped to the test context"
        );
        let ns = &a.app.destination.namespace;
        assert!(
            namespaces
                .get_opt(ns)
                .await
                .expect("get namespace")
                .is_some(),
            "CreateNamespace created {ns}"
        );
        let first = s.finished(n, OperationKind::AutoSync, &rev1).await;
        assert_eq!(first.phase, OperationPhase::Succeeded, "{first:?}");
        let created: BTreeSet<String> = first
            .resources
            .iter()
            .filter(|r| r.code == ResultCode::Created)
            .map(|r| format!("{}/{}", r.key.kind, r.key.name))
            .collect();
        assert_eq!(
            created,
            tracked(a),
            "{n}: the first sync created every resource"
        );
    }
    let prod_tracked = tracked(snap.app(&s.prod).expect("prod"));
    for kind in [
        "Deployment/",
        "HorizontalPodAutoscaler/",
        "Ingress/",
        "ConfigMap/",
    ] {
        assert!(
            prod_tracked.iter().any(|k| k.starts_with(kind)),
            "prod renders a {kind}: {prod_tracked:?}"
        );
    }
    // The chart names its objects after the release (the App): the runtime is `<app>`.
    let runtime = s.prod.clone();
    assert!(
        prod_tracked.contains(&format!("Deployment/{runtime}")),
        "{prod_tracked:?}"
    );
    assert!(
        prod_tracked.contains(&format!("Deployment/{runtime}-vllm")),
        "{prod_tracked:?}"
    );

    // ---- 2. Deployments become Healthy, prod's GPU model server on the GPU node --------------
    s.step("Deployments Healthy (prod's GPU pod on kwok-node-gpu)");
    for n in s.names() {
        s.wait_app(n, "every Deployment Healthy", deployments_healthy)
            .await;
    }
    s.wait_app(&s.dev, "dev Healthy", |a| a.health == HealthStatus::Healthy)
        .await;
    let prod_ns = s.ns(&s.prod);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &prod_ns);
    let gpu_pods = pods
        .list(&ListParams::default().labels("app.kubernetes.io/component=model-server"))
        .await
        .expect("list model-server pods");
    assert_eq!(gpu_pods.items.len(), 1, "one vLLM replica");
    for p in &gpu_pods.items {
        let spec = p.spec.as_ref().expect("pod spec");
        assert_eq!(
            spec.node_name.as_deref(),
            Some("kwok-node-gpu"),
            "GPU pod placement"
        );
        let ready = p
            .status
            .as_ref()
            .and_then(|st| st.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        assert!(ready, "GPU pod Ready: {:?}", p.status);
    }
    // The HPA brings prod's runtime to its minReplicas (3) without metrics.
    support::wait_until(
        "prod runtime at 3 ready pods (HPA minReplicas)",
        TIMEOUT,
        || ready_pods(&prod_ns, &runtime, 3),
    )
    .await;

    // ---- 3. a values commit scales prod to 5: OutOfSync, then Synced with 5 ready pods -------
    s.step("values commit: prod minReplicas 3 → 5");
    let prod_values = work.join(CHART).join("values-prod.yaml");
    write(
        &prod_values,
        &replace_once(
            &read(&prod_values),
            "  minReplicas: 3\n",
            "  minReplicas: 5\n",
        ),
    );
    let rev2 = commit_and_push(&work, "prod: scale to 5 (autoscaling.minReplicas)");
    s.refresh().await;
    let op = s.finished(&s.prod, OperationKind::AutoSync, &rev2).await;
    assert_eq!(op.phase, OperationPhase::Succeeded, "{op:?}");
    let configured: Vec<String> = op
        .resources
        .iter()
        .filter(|r| r.code != ResultCode::Unchanged && r.code != ResultCode::Synced)
        .map(|r| format!("{}/{} {:?}", r.key.kind, r.key.name, r.code))
        .collect();
    assert_eq!(
        configured,
        vec![format!("HorizontalPodAutoscaler/{runtime} Configured")],
        "only the HPA changed: {:?}",
        op.resources
    );
    let a = s
        .wait_app(&s.prod, "Synced at rev2 with two history entries", |a| {
            is_synced_at(a, &rev2) && a.history.len() == 2
        })
        .await;
    assert_eq!(a.history[1].revision, rev2);
    assert_eq!(
        a.history[1].subject,
        "prod: scale to 5 (autoscaling.minReplicas)"
    );
    assert!(
        s.saw(&s.prod, SyncStatus::OutOfSync, &rev2),
        "prod was OutOfSync at rev2 before its auto-sync: {:?}",
        s.seen.lock().map(|v| v.clone()).unwrap_or_default()
    );
    support::wait_until("prod runtime at 5 ready pods", TIMEOUT, || {
        ready_pods(&prod_ns, &runtime, 5)
    })
    .await;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &prod_ns);
    let hpa = hpas.get(&runtime).await.expect("prod HPA");
    assert_eq!(hpa.spec.min_replicas, Some(5));
    // dev and staging: the commit did not change their manifests — Synced at rev2 (deployed ==
    // target), no sync ran, history unchanged.
    for n in [&s.dev, &s.staging] {
        let a = s
            .wait_app(n, "Synced at rev2 without a sync", |a| {
                is_synced_at(a, &rev2)
            })
            .await;
        assert_eq!(
            a.deployed.as_ref().map(|d| d.sha.as_str()),
            Some(rev2.as_str()),
            "{n}"
        );
        assert_eq!(a.history.len(), 1, "{n}: history unchanged");
        assert!(
            !s.saw(n, SyncStatus::OutOfSync, &rev2),
            "{n} must never look OutOfSync at rev2"
        );
    }

    // ---- 4. a resource removed from the chart is pruned, and only it -------------------------
    s.step("template removed from the chart: Ingress pruned in staging and prod");
    let staging_ns = s.ns(&s.staging);
    let bystander: Api<ConfigMap> = Api::namespaced(client.clone(), &prod_ns);
    bystander
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "bystander"}, "data": {"a": "b"}}))
                .expect("configmap"),
        )
        .await
        .expect("create an untracked ConfigMap in prod's namespace");
    let before: Vec<BTreeSet<String>> = s
        .names()
        .iter()
        .map(|n| tracked(s.h.snapshot().app(n).expect("app")))
        .collect();
    git(
        &work,
        &["rm", "-q", &format!("{CHART}/templates/ingress.yaml")],
    );
    let rev3 = commit_and_push(
        &work,
        "chart: drop the Ingress (exposed by the mesh gateway)",
    );
    s.refresh().await;
    for (n, ns) in [(&s.staging, &staging_ns), (&s.prod, &prod_ns)] {
        let op = s.finished(n, OperationKind::AutoSync, &rev3).await;
        assert_eq!(op.phase, OperationPhase::Succeeded, "{op:?}");
        let changed: Vec<String> = op
            .resources
            .iter()
            .filter(|r| r.code != ResultCode::Unchanged && r.code != ResultCode::Synced)
            .map(|r| format!("{}/{} {:?}", r.key.kind, r.key.name, r.code))
            .collect();
        assert_eq!(changed, vec![format!("Ingress/{n} Pruned")], "{n}");
        let ingresses: Api<Ingress> = Api::namespaced(client.clone(), ns);
        support::wait_until(&format!("Ingress gone from {ns}"), TIMEOUT, || async {
            match ingresses.get_opt(n).await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(_) => Err("still there".into()),
            }
        })
        .await;
    }
    let snap = s
        .wait(
            "staging and prod Synced at rev3, dev too (unchanged manifests)",
            |snap| {
                s.names()
                    .iter()
                    .all(|n| snap.app(n).is_some_and(|a| is_synced_at(a, &rev3)))
            },
        )
        .await;
    for (i, n) in s.names().iter().enumerate() {
        let mut expected = before[i].clone();
        expected.remove(&format!("Ingress/{n}"));
        assert_eq!(
            tracked(snap.app(n).expect("app")),
            expected,
            "{n}: only the Ingress went"
        );
    }
    assert_eq!(
        snap.app(&s.dev).map(|a| a.history.len()),
        Some(1),
        "dev: no sync needed"
    );
    assert!(
        bystander.get_opt("bystander").await.expect("get").is_some(),
        "an untracked object in the namespace survives the prune"
    );
    let deps: Api<Deployment> = Api::namespaced(client.clone(), &prod_ns);
    for d in [
        runtime.clone(),
        format!("{runtime}-vllm"),
        format!("{runtime}-embeddings"),
    ] {
        assert!(
            deps.get_opt(&d).await.expect("get").is_some(),
            "prod {d} kept"
        );
    }

    // ---- 5. a manual scale is drift, reverted by self-heal -----------------------------------
    s.step("manual scale of dev: drift, self-heal");
    let dev_ns = s.ns(&s.dev);
    let dev_deps: Api<Deployment> = Api::namespaced(client.clone(), &dev_ns);
    dev_deps
        .patch_scale(
            &s.dev,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("kubectl scale --replicas=3");
    let healed = s.finished(&s.dev, OperationKind::SelfHeal, &rev3).await;
    assert_eq!(healed.phase, OperationPhase::Succeeded, "{healed:?}");
    support::wait_until("dev back to 1 ready replica", TIMEOUT, || {
        ready_pods(&dev_ns, &s.dev, 1)
    })
    .await;
    assert!(
        s.saw(&s.dev, SyncStatus::OutOfSync, &rev3),
        "the manual scale was seen as drift"
    );
    let a = s
        .wait_app(&s.dev, "Synced after self-heal, recorded", |a| {
            is_synced_at(a, &rev3) && a.history.len() == 2
        })
        .await;
    assert!(
        a.history[1].initiated_by.contains("(auto)"),
        "{:?}",
        a.history
    );

    // ---- 6. history holds the revisions -------------------------------------------------------
    s.step("history");
    let snap = s.h.snapshot();
    let revs = |n: &str| -> Vec<String> {
        snap.app(n)
            .map(|a| a.history.iter().map(|e| e.revision.clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        revs(&s.prod),
        vec![rev1.clone(), rev2.clone(), rev3.clone()]
    );
    assert_eq!(revs(&s.staging), vec![rev1.clone(), rev3.clone()]);
    assert_eq!(revs(&s.dev), vec![rev1.clone(), rev3.clone()]);
    let prod_history = snap.app(&s.prod).expect("prod").history.clone();
    let ids: Vec<u64> = prod_history.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let history_cm: Api<ConfigMap> = Api::namespaced(client.clone(), "sextant-system");
    assert!(
        history_cm
            .get_opt(&format!("sextant-history-{}", s.prod))
            .await
            .expect("get")
            .is_some(),
        "history is stored in the cluster"
    );

    // ---- 7. rollback: refused with auto-sync on, works after the override --------------------
    s.step("rollback prod to rev1");
    let first_id = prod_history[0].id;
    match s
        .h
        .call(Command::Rollback {
            app: s.prod.clone(),
            history_id: first_id,
            options: SyncOptions::default(),
        })
        .await
    {
        CommandOutcome::Refused(m) => assert!(m.contains("auto-sync is on"), "{m}"),
        other => panic!("rollback with auto-sync on must be refused: {other:?}"),
    }
    assert_eq!(
        s.h.call(Command::SetAutoSync {
            app: s.prod.clone(),
            enabled: Some(false),
            self_heal: None,
            prune: None,
        })
        .await,
        CommandOutcome::Done
    );
    let out =
        s.h.call(Command::Rollback {
            app: s.prod.clone(),
            history_id: first_id,
            options: SyncOptions::default(),
        })
        .await;
    let CommandOutcome::Operation(r) = out else {
        panic!("rollback after the override: {out:?}")
    };
    assert_eq!(r.phase, OperationPhase::Succeeded, "{r:?}");
    assert_eq!(r.revision, rev1);
    let hpa = hpas.get(&runtime).await.expect("prod HPA");
    assert_eq!(hpa.spec.min_replicas, Some(3), "rev1's HPA");
    let prod_ingresses: Api<Ingress> = Api::namespaced(client.clone(), &prod_ns);
    assert!(
        prod_ingresses
            .get_opt(&runtime)
            .await
            .expect("get")
            .is_some(),
        "rev1's Ingress is back"
    );
    let a = s
        .wait_app(
            &s.prod,
            "rolled back: OutOfSync vs Git, deployed rev1",
            |a| {
                a.history.len() == 4
                    && a.sync == SyncStatus::OutOfSync
                    && a.deployed.as_ref().is_some_and(|d| d.sha == rev1)
            },
        )
        .await;
    assert_eq!(a.history[3].revision, rev1);
    assert!(
        a.auto_sync.overridden && !a.auto_sync.enabled,
        "{:?}",
        a.auto_sync
    );

    // ---- 8. promotion dev → staging of a new agent block --------------------------------------
    s.step("dev gets a new agent; promote dev → staging");
    let dev_values = work.join(CHART).join("values-dev.yaml");
    let agents_block = "\
# Agents under evaluation: dev first, then promoted.
agents:
  - name: support-assistant
    model: llama3.1:8b
    tools: [search, tickets]
  - name: code-reviewer
    model: qwen2.5-coder:7b
    tools: [git]
  - name: incident-triage
    model: llama3.1:8b
    tools: [search, pager]
";
    write(
        &dev_values,
        &format!("{}\n{agents_block}", read(&dev_values)),
    );
    let rev4 = commit_and_push(&work, "dev: add the incident-triage agent");
    s.refresh().await;
    let op = s.finished(&s.dev, OperationKind::AutoSync, &rev4).await;
    assert_eq!(op.phase, OperationPhase::Succeeded, "{op:?}");
    let staging_values = work.join(CHART).join("values-staging.yaml");
    let staging_before = read(&staging_values);
    let out =
        s.h.call(Command::Promote(PromoteRequest {
            source_env: "dev".into(),
            target_env: "staging".into(),
            keys: vec!["agents".into()],
            message: None,
            push: true,
        }))
        .await;
    assert_eq!(out, CommandOutcome::Done, "promotion");
    let rev5 = git(&work, &["rev-parse", "HEAD"]);
    assert_ne!(rev5, rev4, "the promotion committed");
    assert_eq!(
        git(&bare, &["rev-parse", "main"]),
        rev5,
        "the promotion was pushed to the remote"
    );
    assert_eq!(
        git(&work, &["log", "-1", "--format=%an <%ae>"]),
        "Promo Tester <promo@example.test>",
        "author from git config"
    );
    let message = git(&work, &["log", "-1", "--format=%B"]);
    let subject = message.lines().next().unwrap_or_default().to_string();
    assert!(
        subject.contains("dev") && subject.contains("staging") && subject.contains("agents"),
        "the message names the key and the source env: {message}"
    );
    assert_eq!(
        git(&work, &["diff", "--name-only", &rev4, &rev5]),
        format!("{CHART}/values-staging.yaml"),
        "one file changed"
    );
    // The staging file, text compared: every byte of it kept (comments, blank lines, quoting),
    // the agents block appended as dev writes it (with its comment), set off by a blank line.
    let staging_after = read(&staging_values);
    let expected = format!("{staging_before}\n{agents_block}");
    assert!(
        staging_after == expected,
        "promoted staging values differ from the expected text:\n{}",
        similar::TextDiff::from_lines(&expected, &staging_after).unified_diff()
    );
    assert_eq!(
        git(
            &work,
            &["show", &format!("{rev5}:{CHART}/values-staging.yaml")]
        ),
        staging_after.trim_end(),
        "the working tree file is what was committed"
    );
    // The engine re-reads the repository after the promotion: staging (automated) is OutOfSync
    // at the promotion's revision, with the new agent in its diff, and auto-syncs it.
    let op = s.finished(&s.staging, OperationKind::AutoSync, &rev5).await;
    assert_eq!(op.phase, OperationPhase::Succeeded, "{op:?}");
    let a = s
        .out_of_sync
        .lock()
        .ok()
        .and_then(|v| {
            v.iter()
                .find(|a| {
                    a.app.name == s.staging && a.revision.as_ref().is_some_and(|r| r.sha == rev5)
                })
                .cloned()
        })
        .unwrap_or_else(|| panic!("staging was never seen OutOfSync at {rev5}"));
    let agents_cm = format!("{}-agents", s.staging);
    let agents_diff = a
        .diffs
        .iter()
        .find(|d| d.key.kind == "ConfigMap" && d.key.name == agents_cm)
        .unwrap_or_else(|| {
            panic!(
                "the agents ConfigMap differs: {:?}",
                a.diffs.iter().map(|d| &d.key).collect::<Vec<_>>()
            )
        });
    assert!(
        agents_diff
            .unified
            .lines()
            .any(|l| l.starts_with('+') && l.contains("incident-triage")),
        "{}",
        agents_diff.unified
    );
    let configured: BTreeSet<String> = op
        .resources
        .iter()
        .filter(|r| r.code == ResultCode::Configured)
        .map(|r| format!("{}/{}", r.key.kind, r.key.name))
        .collect();
    assert_eq!(
        configured,
        BTreeSet::from([
            format!("ConfigMap/{agents_cm}"),
            // The pod template's checksum/agents annotation rolls the runtime.
            format!("Deployment/{}", s.staging),
        ]),
        "{:?}",
        op.resources
    );
    let a = s
        .wait_app(&s.staging, "Synced at the promotion's revision", |a| {
            is_synced_at(a, &rev5) && a.history.last().is_some_and(|e| e.revision == rev5)
        })
        .await;
    assert_eq!(
        a.history.last().map(|e| e.subject.clone()),
        Some(subject.clone())
    );
    assert_eq!(
        a.deployed.as_ref().map(|d| d.sha.as_str()),
        Some(rev5.as_str())
    );
    let staging_cms: Api<ConfigMap> = Api::namespaced(client.clone(), &staging_ns);
    let agents = staging_cms
        .get(&agents_cm)
        .await
        .expect("staging agents ConfigMap");
    assert!(
        agents
            .data
            .unwrap_or_default()
            .get("agents.yaml")
            .is_some_and(|t| t.contains("incident-triage")),
        "staging runs the promoted agent"
    );
    // dev: the promotion commit did not change its manifests.
    s.wait_app(&s.dev, "Synced at the promotion's revision", |a| {
        is_synced_at(a, &rev5) && a.deployed.as_ref().is_some_and(|d| d.sha == rev5)
    })
    .await;

    // ---- 9. prod's override removed: back to Git's policy, auto-sync returns it to Git --------
    s.step("prod auto-sync back on: synced to Git again");
    assert_eq!(
        s.h.call(Command::SetAutoSync {
            app: s.prod.clone(),
            enabled: None,
            self_heal: None,
            prune: None,
        })
        .await,
        CommandOutcome::Done
    );
    let op = s.finished(&s.prod, OperationKind::AutoSync, &rev5).await;
    assert_eq!(op.phase, OperationPhase::Succeeded, "{op:?}");
    let a = s
        .wait_app(
            &s.prod,
            "Synced at HEAD after the override is removed",
            |a| is_synced_at(a, &rev5) && a.history.last().is_some_and(|e| e.revision == rev5),
        )
        .await;
    assert!(
        !a.auto_sync.overridden && a.auto_sync.enabled,
        "{:?}",
        a.auto_sync
    );
    assert!(
        op.resources
            .iter()
            .any(|r| r.key.kind == "Ingress" && r.code == ResultCode::Pruned),
        "the Ingress rev1 brought back is pruned again: {:?}",
        op.resources
    );
    let hpa = hpas.get(&runtime).await.expect("prod HPA");
    assert_eq!(hpa.spec.min_replicas, Some(5));
    s.step("done");
    let _ = &s.work;
}
