//! Hand-built engine snapshots for the UI's snapshot tests and frame benchmark (included with
//! `#[path]`; this file has no tests of its own).
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use sextant::app::{App, AppSource, Automated, Destination, HelmSource, SourceKind, SyncPolicy};
use sextant::cli::output::rfc3339;
use sextant::engine::api::{
    AppState, AutoSyncState, Condition, ConditionKind, HealthStatus, HistoryEntry, LastSync,
    OperationInfo, OperationKind, PodDetails, PodEvent, RepoStatus, ResourceDiff, ResourceRow,
    ResourceState, Revision, Snapshot, SyncStatus,
};
use sextant::engine::pods;
use sextant::resource::ResourceKey;

/// A fixed "now" so relative times in snapshots never change.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

pub fn ago(secs: u64) -> SystemTime {
    now() - Duration::from_secs(secs)
}

pub fn rev(sha: &str, subject: &str) -> Revision {
    Revision {
        sha: sha.into(),
        subject: subject.into(),
    }
}

pub fn app(env: &str, origin: &str) -> App {
    App {
        name: format!("astromesh-{env}"),
        env: env.into(),
        project: "default".into(),
        origin: origin.into(),
        source: AppSource {
            repo_url: "https://github.com/example/astromesh-gitops.git".into(),
            path: "deploy/helm/astromesh".into(),
            target_revision: "HEAD".into(),
            kind: SourceKind::Helm(HelmSource {
                value_files: vec![format!("values-{env}.yaml")],
                ..HelmSource::default()
            }),
        },
        destination: Destination {
            server: Some("https://kubernetes.default.svc".into()),
            name: None,
            namespace: format!("astromesh-{env}"),
        },
        sync_policy: SyncPolicy {
            automated: Some(Automated {
                prune: true,
                self_heal: true,
                allow_empty: false,
            }),
            sync_options: vec!["CreateNamespace=true".into()],
            retry: None,
        },
        revision_history_limit: 10,
        ignore_differences: Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn row(
    group: &str,
    kind: &str,
    ns: &str,
    name: &str,
    state: ResourceState,
    health: Option<HealthStatus>,
    message: &str,
    owner: Option<ResourceKey>,
) -> ResourceRow {
    ResourceRow {
        key: ResourceKey::new(group, kind, ns, name),
        version: "v1".into(),
        state,
        sync: match state {
            ResourceState::Synced | ResourceState::Child => SyncStatus::Synced,
            _ => SyncStatus::OutOfSync,
        },
        health,
        message: message.into(),
        owners: owner.into_iter().collect(),
        wave: 0,
        hook: false,
        prune_disabled: false,
        foreign_owner: None,
        ignored_changes: Vec::new(),
        pod: None,
    }
}

/// How a fixture pod is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodShape {
    /// Running and ready for `age` seconds, with `restarts` (the last one 47 minutes ago).
    Running { age: u64, restarts: u64 },
    /// Its image does not exist: ImagePullBackOff for 12 minutes.
    ImagePullBackOff,
    /// Scheduled 20 seconds ago, container still being created.
    ContainerCreating,
}

/// A live Pod object as the API server would return it, `now()`-relative, so the Pods pane's
/// columns come from the engine's own `pod_details` rather than being typed in.
pub fn pod_object(
    ns: &str,
    name: &str,
    image: &str,
    node: &str,
    ip: &str,
    shape: PodShape,
) -> Value {
    let (age, status) = match shape {
        PodShape::Running { age, restarts } => {
            let mut c = json!({"name": "astromesh", "image": image, "ready": true, "started": true,
                "restartCount": restarts,
                "state": {"running": {"startedAt": rfc3339(ago(age.min(47 * 60)))}}});
            if restarts > 0 {
                c["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
                    "finishedAt": rfc3339(ago(47 * 60))}});
            }
            (
                age,
                json!({"phase": "Running", "podIP": ip,
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(ago(age))},
                    {"type": "Initialized", "status": "True", "lastTransitionTime": rfc3339(ago(age))},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": rfc3339(ago(age - 5))},
                    {"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(ago(age - 5))}],
                "containerStatuses": [c]}),
            )
        }
        PodShape::ImagePullBackOff => (
            12 * 60,
            json!({"phase": "Pending", "podIP": ip,
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                    "message": "containers with unready status: [astromesh]"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                    "message": "containers with unready status: [astromesh]"}],
            "containerStatuses": [{"name": "astromesh", "image": image, "ready": false, "started": false,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff",
                    "message": format!("Back-off pulling image \"{image}\"")}}}]}),
        ),
        PodShape::ContainerCreating => (
            20,
            json!({"phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{"name": "astromesh", "image": image, "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        ),
    };
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": rfc3339(ago(age))},
        "spec": {"nodeName": node, "containers": [{"name": "astromesh", "image": image}]},
        "status": status})
}

pub fn pod_details(
    ns: &str,
    name: &str,
    image: &str,
    node: &str,
    ip: &str,
    shape: PodShape,
) -> PodDetails {
    pods::pod_details(&pod_object(ns, name, image, node, ip, shape))
}

/// The events of the prod pod stuck in ImagePullBackOff, as the API server lists them (both the
/// old `count`/`lastTimestamp` shape and the newer `eventTime`/`series` one).
pub fn failing_pod_events() -> Vec<PodEvent> {
    let pod = "astromesh-prod-5d8f9c7b6-d3e4f";
    let image = "ghcr.io/example/astromesh:1.5.0-rc9";
    let ev = |rv: u64,
              kind: &str,
              reason: &str,
              message: String,
              count: u64,
              first: u64,
              last: u64| {
        json!({"type": kind, "reason": reason, "message": message, "count": count,
            "firstTimestamp": rfc3339(ago(first)), "lastTimestamp": rfc3339(ago(last)),
            "source": {"component": if reason == "Scheduled" { "default-scheduler" } else { "kubelet" }},
            "metadata": {"resourceVersion": rv.to_string()}})
    };
    let raw = vec![
        ev(
            1,
            "Normal",
            "Scheduled",
            format!("Successfully assigned astromesh-prod/{pod} to pool-a-1"),
            1,
            720,
            720,
        ),
        ev(
            2,
            "Normal",
            "Pulling",
            format!("Pulling image \"{image}\""),
            4,
            719,
            430,
        ),
        ev(
            3,
            "Warning",
            "Failed",
            format!(
                "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"
            ),
            4,
            718,
            429,
        ),
        ev(
            4,
            "Warning",
            "Failed",
            "Error: ErrImagePull".into(),
            4,
            718,
            429,
        ),
        json!({"type": "Normal", "reason": "BackOff", "message": format!("Back-off pulling image \"{image}\""),
            "eventTime": rfc3339(ago(717)), "reportingComponent": "kubelet",
            "series": {"count": 47, "lastObservedTime": rfc3339(ago(75))},
            "metadata": {"resourceVersion": "5"}}),
        ev(
            6,
            "Warning",
            "Failed",
            "Error: ImagePullBackOff".into(),
            47,
            717,
            75,
        ),
    ];
    pods::events_from(&raw)
}

/// The resources of one astromesh environment: config, workloads with ReplicaSets and Pods.
pub fn resources(env: &str, replicas: usize, bad_pod: bool) -> Vec<ResourceRow> {
    use HealthStatus::*;
    use ResourceState::*;
    let ns = format!("astromesh-{env}");
    let full = format!("astromesh-{env}");
    let mut v = vec![
        row("", "ServiceAccount", &ns, &full, Synced, None, "", None),
        row(
            "",
            "ConfigMap",
            &ns,
            &format!("{full}-runtime"),
            OutOfSync,
            None,
            "",
            None,
        ),
        row(
            "",
            "ConfigMap",
            &ns,
            &format!("{full}-providers"),
            Synced,
            None,
            "",
            None,
        ),
        row(
            "",
            "ConfigMap",
            &ns,
            &format!("{full}-agents"),
            Synced,
            None,
            "",
            None,
        ),
        row("", "Service", &ns, &full, Synced, Some(Healthy), "", None),
    ];
    let dep = ResourceKey::new("apps", "Deployment", &ns, &full);
    let rs = ResourceKey::new("apps", "ReplicaSet", &ns, &format!("{full}-5d8f9c7b6"));
    v.push(row(
        "apps",
        "Deployment",
        &ns,
        &full,
        OutOfSync,
        Some(if bad_pod { Degraded } else { Healthy }),
        if bad_pod {
            "Deployment \"astromesh-prod\" exceeded its progress deadline"
        } else {
            ""
        },
        None,
    ));
    v.push(row(
        "apps",
        "ReplicaSet",
        &ns,
        &rs.name,
        Child,
        Some(Healthy),
        "",
        Some(dep.clone()),
    ));
    let suffixes = ["x2k4m", "a1b2c", "d3e4f", "g5h6i", "j7k8l"];
    for (i, s) in suffixes.iter().take(replicas).enumerate() {
        let failing = bad_pod && i == replicas - 1;
        // Staging is mid-rollout: its last pod is still being created.
        let creating = env == "staging" && i == replicas - 1;
        let shape = if failing {
            PodShape::ImagePullBackOff
        } else if creating {
            PodShape::ContainerCreating
        } else {
            PodShape::Running {
                age: 3 * 86_400 + 4 * 3600 + i as u64 * 60,
                restarts: if i == 0 { 2 } else { 0 },
            }
        };
        let image = if failing {
            "ghcr.io/example/astromesh:1.5.0-rc9"
        } else {
            "ghcr.io/example/astromesh:1.4.2"
        };
        let details = pod_details(
            &ns,
            &format!("{}-{s}", rs.name),
            image,
            &format!("pool-a-{}", 1 + i % 2),
            &format!("10.244.{}.{}", 1 + i % 2, 17 + i * 9),
            shape,
        );
        v.push(row(
            "",
            "Pod",
            &ns,
            &format!("{}-{s}", rs.name),
            Child,
            Some(if failing { Degraded } else { Healthy }),
            if failing {
                "ImagePullBackOff: Back-off pulling image \"ghcr.io/example/astromesh:1.5.0-rc9\"\nready 0/1 · restarts 0 · node sandbox-node-1\nWarning Failed 2m: manifest unknown"
            } else {
                ""
            },
            Some(rs.clone()),
        ));
        if let Some(last) = v.last_mut() {
            last.pod = Some(details);
        }
    }
    v
}

fn deployment_diff(name: &str) -> String {
    let mut s = format!("--- live apps/Deployment {name}\n+++ desired apps/Deployment {name}\n");
    s.push_str("@@ -1,40 +1,40 @@\n");
    for l in [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        "  labels:",
        "    app.kubernetes.io/instance: astromesh-prod",
        "    app.kubernetes.io/managed-by: Helm",
        "    app.kubernetes.io/name: astromesh",
    ] {
        s.push_str(&format!(" {l}\n"));
    }
    s.push_str("-    app.kubernetes.io/version: \"1.4.2\"\n");
    s.push_str("+    app.kubernetes.io/version: \"1.5.0-rc9\"\n");
    for l in [
        "    helm.sh/chart: astromesh-0.10.0",
        "  name: astromesh-prod",
        "  namespace: astromesh-prod",
        "spec:",
        "  selector:",
        "    matchLabels:",
        "      app.kubernetes.io/component: runtime",
        "  template:",
        "    metadata:",
        "      annotations:",
    ] {
        s.push_str(&format!(" {l}\n"));
    }
    s.push_str("-        checksum/config: 7020ce458123de5df2a98e7a6bc9900bb34efb2cd6975f6eb00c3dc467ac1e99\n");
    s.push_str("+        checksum/config: 1c4b2f0e9d77a3b5e6f8a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0\n");
    for l in ["    spec:", "      containers:", "      - name: astromesh"] {
        s.push_str(&format!(" {l}\n"));
    }
    s.push_str("-        image: ghcr.io/example/astromesh:1.4.2\n");
    s.push_str("+        image: ghcr.io/example/astromesh:1.5.0-rc9\n");
    for l in [
        "        imagePullPolicy: Always",
        "        ports:",
        "        - containerPort: 8000",
        "          name: http",
        "        resources:",
        "          limits:",
        "            cpu: \"2\"",
        "            memory: 4Gi",
    ] {
        s.push_str(&format!(" {l}\n"));
    }
    s
}

fn diffs(env: &str) -> Vec<ResourceDiff> {
    let ns = format!("astromesh-{env}");
    let full = format!("astromesh-{env}");
    vec![
        ResourceDiff {
            key: ResourceKey::new("", "ConfigMap", &ns, &format!("{full}-runtime")),
            state: ResourceState::OutOfSync,
            unified: format!(
                "--- live v1/ConfigMap {full}-runtime\n+++ desired v1/ConfigMap {full}-runtime\n@@ -3,4 +3,4 @@\n   runtime.yaml: |\n-    logLevel: info\n+    logLevel: warn\n     maxConcurrentSessions: 64\n"
            ),
        },
        ResourceDiff {
            key: ResourceKey::new("apps", "Deployment", &ns, &full),
            state: ResourceState::OutOfSync,
            unified: deployment_diff(&full),
        },
        ResourceDiff {
            key: ResourceKey::new("autoscaling", "HorizontalPodAutoscaler", &ns, &full),
            state: ResourceState::Missing,
            unified: format!(
                "--- live\n+++ desired autoscaling/HorizontalPodAutoscaler {full}\n+apiVersion: autoscaling/v2\n+kind: HorizontalPodAutoscaler\n+metadata:\n+  name: {full}\n+spec:\n+  maxReplicas: 10\n+  minReplicas: 3\n"
            ),
        },
        ResourceDiff {
            key: ResourceKey::new("", "Secret", &ns, "astromesh-legacy-token"),
            state: ResourceState::Extra,
            unified: "--- live v1/Secret astromesh-legacy-token\n+++ desired\n-apiVersion: v1\n-data:\n-  token: ++++++++\n-kind: Secret\n".to_string(),
        },
    ]
}

fn history(n: u64) -> Vec<HistoryEntry> {
    let subjects = [
        (
            "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            "initial astromesh chart",
        ),
        (
            "1b2c3d4e5f60718293a4b5c6d7e8f90123456789",
            "bump image to 1.4.1",
        ),
        (
            "2c3d4e5f60718293a4b5c6d7e8f9012345678901",
            "tune prod resources",
        ),
        (
            "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "bump image to 1.4.2",
        ),
    ];
    subjects
        .iter()
        .take(n as usize)
        .enumerate()
        .map(|(i, (sha, subj))| HistoryEntry {
            id: i as u64 + 1,
            revision: sha.to_string(),
            subject: subj.to_string(),
            deployed_at: format!("2026-11-2{}T0{}:1{}:00Z", 4 + i, 8 + i / 2, i),
            initiated_by: if i % 2 == 0 {
                "alice@laptop".into()
            } else {
                "auto-sync".into()
            },
            source: "deploy/helm/astromesh values-prod.yaml".into(),
        })
        .collect()
}

pub fn state_for(env: &str) -> AppState {
    let mut a = AppState::new(
        app(env, "deploy/gitops/argocd/applicationset.yaml"),
        "in-cluster".into(),
    );
    a.compared_at = Some(ago(5));
    a.history = history(4);
    a.last_sync = Some(LastSync {
        time: ago(3600 * 5),
        initiated_by: "alice@laptop".into(),
        revision: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678".into(),
        succeeded: true,
    });
    let deployed = rev(
        "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "bump image to 1.4.2",
    );
    match env {
        "dev" => {
            a.sync = SyncStatus::Synced;
            a.health = HealthStatus::Healthy;
            a.deployed = Some(rev(
                "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345",
                "bump image to 1.5.0-rc9",
            ));
            a.revision = a.deployed.clone();
            a.resources = resources(env, 1, false);
            for r in &mut a.resources {
                if r.state == ResourceState::OutOfSync {
                    r.state = ResourceState::Synced;
                    r.sync = SyncStatus::Synced;
                }
            }
            a.last_sync = Some(LastSync {
                time: ago(120),
                initiated_by: "auto-sync".into(),
                revision: "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345".into(),
                succeeded: true,
            });
        }
        "staging" => {
            a.sync = SyncStatus::OutOfSync;
            a.health = HealthStatus::Progressing;
            a.health_message = "waiting for rollout: 1 of 2 updated replicas available".into();
            a.deployed = Some(deployed);
            a.revision = Some(rev(
                "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345",
                "bump image to 1.5.0-rc9",
            ));
            a.resources = resources(env, 2, false);
            a.diffs = diffs(env).into_iter().take(2).collect();
            a.operation = Some(OperationInfo {
                kind: OperationKind::AutoSync,
                initiated_by: "auto-sync".into(),
                since: ago(8),
                phase: "Sync".into(),
                wave: 0,
                done: 4,
                total: 9,
                attempt: 0,
            });
        }
        _ => {
            a.sync = SyncStatus::OutOfSync;
            a.health = HealthStatus::Degraded;
            a.health_message = "1 pod in ImagePullBackOff".into();
            a.deployed = Some(deployed);
            a.revision = Some(rev(
                "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345",
                "bump image to 1.5.0-rc9",
            ));
            a.resources = resources(env, 3, true);
            a.diffs = diffs(env);
            a.auto_sync = AutoSyncState {
                enabled: false,
                self_heal: false,
                prune: false,
                overridden: true,
            };
        }
    }
    a
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        apps: vec![state_for("dev"), state_for("prod"), state_for("staging")],
        repo: RepoStatus {
            url: "https://github.com/example/astromesh-gitops.git".into(),
            branch: "main".into(),
            head: Some(rev(
                "f00ba12c3d4e5f60718293a4b5c6d7e8f9012345",
                "bump image to 1.5.0-rc9",
            )),
            last_fetch: Some(ago(30)),
            error: None,
            ahead: 0,
            upstream: Some("origin/main".into()),
            uncommitted: Vec::new(),
        },
        notices: Vec::new(),
        loading: false,
    }
}

/// Apps from two sources, one failing to render and one whose cluster is unreachable.
pub fn snapshot_with_errors() -> Snapshot {
    let mut s = snapshot();
    let mut web = AppState::new(
        App {
            name: "web-dev".into(),
            env: "dev".into(),
            origin: String::new(),
            sync_policy: SyncPolicy::default(),
            ..app("dev", "")
        },
        "dev-cluster".into(),
    );
    web.conditions.push(Condition {
        kind: ConditionKind::ComparisonError,
        message: "charts/web/values-dev.yaml:12:3: mapping values are not allowed here".into(),
    });
    s.apps.push(web);
    s.apps[1].conditions.push(Condition {
        kind: ConditionKind::ClusterError,
        message: "cluster in-cluster unreachable: connection refused".into(),
    });
    s.repo.error = Some("fetch origin: authentication required (git auth)".into());
    s
}

/// `apps` Apps with `per_app` resources each (for the frame benchmark).
pub fn big_snapshot(apps: usize, per_app: usize) -> Snapshot {
    let mut s = snapshot();
    s.apps.clear();
    for i in 0..apps {
        let mut a = state_for(if i % 3 == 0 { "prod" } else { "dev" });
        a.app.name = format!("svc-{i:03}-{}", a.app.env);
        a.resources.clear();
        let ns = a.app.destination.namespace.clone();
        for j in 0..per_app {
            let dep = ResourceKey::new("apps", "Deployment", &ns, &format!("d{}", j / 10));
            if j % 10 == 0 {
                a.resources.push(row(
                    "apps",
                    "Deployment",
                    &ns,
                    &dep.name,
                    ResourceState::Synced,
                    Some(HealthStatus::Healthy),
                    "",
                    None,
                ));
            } else {
                a.resources.push(row(
                    "",
                    "Pod",
                    &ns,
                    &format!("d{}-p{j}", j / 10),
                    ResourceState::Child,
                    Some(HealthStatus::Healthy),
                    "",
                    Some(dep),
                ));
            }
        }
        s.apps.push(a);
    }
    s
}
