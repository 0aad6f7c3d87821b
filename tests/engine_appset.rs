//! The seed scenario through the real sources path: a git repository holding the demo
//! ApplicationSet (three Apps, dev/staging/prod, one Helm chart, automated with prune and
//! selfHeal), rendered by the `helm` CLI, synced by the engine into the real control plane.
//! Namespaces and App names get a unique suffix so the run cannot collide with other tests.

mod support;

use std::path::Path;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use sextant::cli::gitrepo::GitRepo;
use sextant::cluster::SingleCluster;
use sextant::cluster::kube::KubeCluster;
use sextant::config::{Config, RendererChoice};
use sextant::engine::api::{Command, EngineHandle, HealthStatus, Snapshot, SyncStatus};
use sextant::engine::{Engine, EngineOptions};
use sextant::source::Repo;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo");
const TIMEOUT: Duration = Duration::from_secs(180);

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Process::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read demo") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

async fn wait_snapshot(h: &EngineHandle, what: &str, pred: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let mut rx = h.state.clone();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let snap = rx.borrow_and_update().clone();
        if pred(&snap) {
            return snap;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let summary: Vec<String> = snap
                .apps
                .iter()
                .map(|a| {
                    format!(
                        "{} sync={:?} health={:?} ({}) rev={:?} history={} op={:?} cond={:?}",
                        a.app.name,
                        a.sync,
                        a.health,
                        a.health_message,
                        a.revision.as_ref().map(|r| r.short().to_string()),
                        a.history.len(),
                        a.operation.as_ref().map(|o| o.phase.clone()),
                        a.conditions
                    )
                })
                .collect();
            panic!(
                "timed out waiting for {what}: {summary:#?} repo={:?}",
                snap.repo
            );
        }
        let _ = tokio::time::timeout(deadline - now, rx.changed()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applicationset_apps_auto_sync_and_a_values_commit_scales_dev_to_5_ready_pods() {
    let tc = support::cluster();
    let suffix = format!("{:x}", std::process::id());
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new(DEMO), dir.path());
    let appset = dir.path().join("deploy/gitops/argocd/applicationset.yaml");
    let text = std::fs::read_to_string(&appset).expect("appset");
    let text = text
        .replace(
            "namespace: astromesh-",
            &format!("namespace: t{suffix}-astromesh-"),
        )
        .replace(
            "name: astromesh-{{env}}",
            &format!("name: t{suffix}-astromesh-{{{{env}}}}"),
        );
    std::fs::write(&appset, text).expect("write appset");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "demo repository"]);

    let mut config = Config::with_defaults();
    config.render.renderer = RendererChoice::Helm;
    config.render.helm_binary = support::bin("helm");
    let repo = GitRepo::new(Repo::open(dir.path()).expect("open repo"), &config);
    let cluster = KubeCluster::connect(Some(tc.kubeconfig_path()), None)
        .await
        .expect("connect");
    let mut opts = EngineOptions::new(Arc::new(repo), Arc::new(SingleCluster(Arc::new(cluster))));
    opts.poll = false;
    opts.user = "seed@test".into();
    let h = Engine::start(opts);

    let dev = format!("t{suffix}-astromesh-dev");
    let names = [
        dev.clone(),
        format!("t{suffix}-astromesh-staging"),
        format!("t{suffix}-astromesh-prod"),
    ];
    // Three Apps from the ApplicationSet; automated: each syncs its first revision by itself,
    // creating its namespace.
    let snap = wait_snapshot(&h, "three Apps synced", |s| {
        names.iter().all(|n| {
            s.app(n)
                .is_some_and(|a| a.sync == SyncStatus::Synced && a.history.len() == 1)
        })
    })
    .await;
    assert_eq!(snap.apps.len(), 3);
    let dev_ns = snap
        .app(&dev)
        .expect("dev")
        .app
        .destination
        .namespace
        .clone();
    wait_snapshot(&h, "dev Healthy", |s| {
        s.app(&dev)
            .is_some_and(|a| a.health == HealthStatus::Healthy)
    })
    .await;

    // A values commit: dev scales to 5.
    let values = dir.path().join("deploy/helm/astromesh/values-dev.yaml");
    let text = std::fs::read_to_string(&values).expect("values");
    std::fs::write(&values, text.replace("replicaCount: 1", "replicaCount: 5")).expect("write");
    git(dir.path(), &["commit", "-q", "-am", "dev: scale to 5"]);
    let sha = git(dir.path(), &["rev-parse", "HEAD"]);
    h.call(Command::Refresh {
        app: None,
        hard: true,
    })
    .await;
    let snap = wait_snapshot(&h, "dev synced at the new revision", |s| {
        s.app(&dev).is_some_and(|a| {
            a.sync == SyncStatus::Synced && a.history.len() == 2 && a.history[1].revision == sha
        })
    })
    .await;
    let a = snap.app(&dev).expect("dev");
    assert_eq!(a.history[1].subject, "dev: scale to 5");
    // staging and prod did not change: still one history entry each.
    for n in &names[1..] {
        assert_eq!(snap.app(n).map(|a| a.history.len()), Some(1), "{n}");
    }
    let deps: Api<Deployment> = Api::namespaced(support::client().await, &dev_ns);
    support::wait_until("5 ready pods in dev", TIMEOUT, || async {
        let list = deps
            .list(&Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let five = list.items.iter().any(|d| {
            d.spec.as_ref().and_then(|s| s.replicas) == Some(5)
                && d.status.as_ref().and_then(|s| s.ready_replicas) == Some(5)
        });
        if five {
            Ok(())
        } else {
            Err(format!(
                "{:?}",
                list.items
                    .iter()
                    .map(|d| (
                        d.metadata.name.clone(),
                        d.status.as_ref().and_then(|s| s.ready_replicas)
                    ))
                    .collect::<Vec<_>>()
            ))
        }
    })
    .await;
}
