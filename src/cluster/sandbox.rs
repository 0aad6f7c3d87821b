//! An in-process Kubernetes stand-in for `sextant demo` and fast engine tests: it stores JSON
//! objects and runs small controllers so a sync looks like one on a real cluster.
//!
//! What it models:
//! - discovery for the built-in kinds the demo and tests use, plus kinds of applied CRDs;
//! - server-side apply (fields dropped from the applied config are removed, as SSA does for the
//!   fields a manager owns), dry-run, create/replace with `resourceVersion` preconditions,
//!   `uid`/`generation`/`creationTimestamp`, and API-server defaulting of common fields;
//! - namespaces (objects need their namespace to exist; deleting one deletes its content);
//! - Deployments → ReplicaSets → Pods that move Pending → ContainerCreating → Running → Ready
//!   over about three seconds; an image the sandbox registry does not know ends in
//!   `ErrImagePull`/`ImagePullBackOff` and the Deployment never becomes available;
//! - deletes with foreground/background propagation (owner references) or orphaning;
//! - watches (a full list, then changes), Events for pods, load balancer addresses for Ingress.
//!
//! What it does not: field-manager conflicts, admission webhooks, RBAC.
//!
//! Over 600 lines: to be split into `sandbox/{store,discovery,apiserver,controllers/*}` (issue 16).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::{
    ApplyOptions, Cluster, ClusterError, ClusterFuture, Gvk, Propagation, ResourceInfo, WatchEvent,
    describe,
};

/// Seconds of a pod's life in the sandbox: scheduled, container created, running, ready.
const POD_SCHEDULED: Duration = Duration::from_millis(600);
const POD_CREATED: Duration = Duration::from_millis(1500);
const POD_RUNNING: Duration = Duration::from_millis(2200);
const POD_READY: Duration = Duration::from_millis(3200);
/// How often an image pull in back-off is retried (and its Events counted again).
const PULL_BACK_OFF: Duration = Duration::from_secs(10);
/// How often the controllers run.
const CONTROLLER_TICK: Duration = Duration::from_millis(200);

/// Which images "exist". Repositories not listed accept any tag, except tags containing
/// `does-not-exist`; listed repositories accept only their tags.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub repositories: HashMap<String, HashSet<String>>,
}

impl Registry {
    pub fn with(mut self, repository: &str, tags: &[&str]) -> Self {
        self.repositories.insert(
            repository.to_string(),
            tags.iter().map(|t| t.to_string()).collect(),
        );
        self
    }

    pub fn exists(&self, image: &str) -> bool {
        // `repo:tag` where the repo may contain a registry port (`host:5000/x`).
        let (repo, tag) = match image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (image, "latest"),
        };
        if tag.contains("does-not-exist") {
            return false;
        }
        match self.repositories.get(repo) {
            Some(tags) => tags.contains(tag),
            None => true,
        }
    }
}

/// Object identity inside the store.
type Key = (String, String, String, String); // group, kind, namespace, name

fn key_of(gvk: &Gvk, namespace: &str, name: &str) -> Key {
    (
        gvk.group.clone(),
        gvk.kind.clone(),
        namespace.to_string(),
        name.to_string(),
    )
}

struct Inner {
    kinds: Vec<ResourceInfo>,
    objects: BTreeMap<Key, Value>,
    /// The last configuration applied by our field manager, per object (what SSA would
    /// remember as the manager's owned fields).
    applied: HashMap<Key, Value>,
    /// When each pod was created (its lifecycle clock).
    pod_born: HashMap<Key, Instant>,
    /// Pods whose image was already reported missing (to emit the Event once).
    pull_failed: HashSet<Key>,
    /// Pods already in image-pull back-off (later back-offs bump the same Events' counts).
    pull_backoff: HashSet<Key>,
    resource_version: u64,
    uid: u64,
    /// Pod addresses handed out so far: each pod gets the next one and keeps it.
    pod_ips: u32,
    registry: Registry,
}

/// The sandbox cluster. Cheap to clone (shared state).
#[derive(Clone)]
pub struct SandboxCluster {
    inner: Arc<Mutex<Inner>>,
    events: broadcast::Sender<(Gvk, WatchEvent)>,
    name: String,
}

impl std::fmt::Debug for SandboxCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxCluster")
            .field("name", &self.name)
            .finish()
    }
}

fn builtin_kinds() -> Vec<ResourceInfo> {
    let k = |g: &str, v: &str, kind: &str, plural: &str, namespaced: bool| ResourceInfo {
        gvk: Gvk::new(g, v, kind),
        plural: plural.into(),
        namespaced,
    };
    vec![
        k("", "v1", "Namespace", "namespaces", false),
        k("", "v1", "ConfigMap", "configmaps", true),
        k("", "v1", "Secret", "secrets", true),
        k("", "v1", "Service", "services", true),
        k("", "v1", "ServiceAccount", "serviceaccounts", true),
        k("", "v1", "Pod", "pods", true),
        k("", "v1", "Event", "events", true),
        k(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        ),
        k("", "v1", "Node", "nodes", false),
        k("apps", "v1", "Deployment", "deployments", true),
        k("apps", "v1", "ReplicaSet", "replicasets", true),
        k("apps", "v1", "StatefulSet", "statefulsets", true),
        k("apps", "v1", "DaemonSet", "daemonsets", true),
        k("batch", "v1", "Job", "jobs", true),
        k("batch", "v1", "CronJob", "cronjobs", true),
        k(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        ),
        k("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        k(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        ),
        k(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        ),
        k("coordination.k8s.io", "v1", "Lease", "leases", true),
        k("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        k(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        k(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        k(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        k(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    ]
}

fn rfc3339(t: SystemTime) -> String {
    // Civil-from-days (Howard Hinnant's algorithm) so no date crate is needed.
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn now() -> String {
    rfc3339(SystemTime::now())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

fn meta_name(v: &Value) -> String {
    str_at(v, &["metadata", "name"]).unwrap_or("").to_string()
}

fn meta_ns(v: &Value) -> String {
    str_at(v, &["metadata", "namespace"])
        .unwrap_or("")
        .to_string()
}

/// Ensure `v[key]` is an object and return it.
fn obj_mut<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.get(key).is_some_and(Value::is_object) {
        v[key] = json!({});
    }
    match v.get_mut(key) {
        Some(Value::Object(m)) => m,
        // The line above made it an object.
        _ => unreachable!("just inserted an object"),
    }
}

/// Remove from `target` the fields present in `old` but absent from `new` (recursively through
/// maps): what server-side apply does with fields a manager stops applying.
fn remove_dropped(target: &mut Value, old: &Value, new: &Value) {
    let (Some(t), Some(o)) = (target.as_object_mut(), old.as_object()) else {
        return;
    };
    for (k, ov) in o {
        match new.get(k) {
            None => {
                t.remove(k);
            }
            Some(nv) => {
                if let Some(tv) = t.get_mut(k)
                    && ov.is_object()
                    && nv.is_object()
                {
                    remove_dropped(tv, ov, nv);
                }
            }
        }
    }
}

/// Merge `src` into `dst`: maps recurse, everything else (lists included) is replaced.
fn merge(dst: &mut Value, src: &Value) {
    match (dst.as_object_mut(), src.as_object()) {
        (Some(d), Some(s)) => {
            for (k, v) in s {
                match d.get_mut(k) {
                    Some(dv) if dv.is_object() && v.is_object() => merge(dv, v),
                    _ => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *dst = src.clone(),
    }
}

fn default_pod_spec(spec: &mut Value) {
    let Some(s) = spec.as_object_mut() else {
        return;
    };
    s.entry("restartPolicy").or_insert(json!("Always"));
    s.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    s.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
    s.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    s.entry("securityContext").or_insert(json!({}));
    if let Some(Value::Array(containers)) = s.get_mut("containers") {
        for c in containers.iter_mut() {
            let Some(c) = c.as_object_mut() else { continue };
            let latest = c
                .get("image")
                .and_then(Value::as_str)
                .is_some_and(|i| !i.contains(':') || i.ends_with(":latest"));
            c.entry("imagePullPolicy").or_insert(json!(if latest {
                "Always"
            } else {
                "IfNotPresent"
            }));
            c.entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            c.entry("terminationMessagePolicy").or_insert(json!("File"));
            c.entry("resources").or_insert(json!({}));
            if let Some(Value::Array(ports)) = c.get_mut("ports") {
                for p in ports.iter_mut() {
                    if let Some(p) = p.as_object_mut() {
                        p.entry("protocol").or_insert(json!("TCP"));
                    }
                }
            }
        }
    }
}

/// API-server defaulting for the kinds the demo uses (what a dry-run apply shows).
fn apply_defaults(obj: &mut Value, cluster_ip: &str) {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match kind.as_str() {
        "Deployment" => {
            let spec = obj_mut(obj, "spec");
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            spec.entry("strategy").or_insert(json!({
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
            }));
            if let Some(t) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
                default_pod_spec(t);
            }
        }
        "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => {
            let spec = obj_mut(obj, "spec");
            if kind == "ReplicaSet" || kind == "StatefulSet" {
                spec.entry("replicas").or_insert(json!(1));
            }
            if let Some(t) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
                default_pod_spec(t);
            }
        }
        "Pod" => {
            if let Some(s) = obj.get_mut("spec") {
                default_pod_spec(s);
            }
        }
        "Service" => {
            let spec = obj_mut(obj, "spec");
            spec.entry("type").or_insert(json!("ClusterIP"));
            spec.entry("sessionAffinity").or_insert(json!("None"));
            if spec.get("clusterIP").is_none() {
                spec.insert("clusterIP".into(), json!(cluster_ip));
                spec.insert("clusterIPs".into(), json!([cluster_ip]));
            }
            spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
            spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
            spec.entry("internalTrafficPolicy")
                .or_insert(json!("Cluster"));
            if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                for p in ports.iter_mut() {
                    let Some(p) = p.as_object_mut() else { continue };
                    p.entry("protocol").or_insert(json!("TCP"));
                    if !p.contains_key("targetPort")
                        && let Some(port) = p.get("port").cloned()
                    {
                        p.insert("targetPort".into(), port);
                    }
                }
            }
        }
        "Ingress" => {
            if let Some(Value::Array(rules)) = obj.pointer_mut("/spec/rules") {
                for r in rules.iter_mut() {
                    if let Some(Value::Array(paths)) = r.pointer_mut("/http/paths") {
                        for p in paths.iter_mut() {
                            if let Some(p) = p.as_object_mut() {
                                p.entry("pathType")
                                    .or_insert(json!("ImplementationSpecific"));
                            }
                        }
                    }
                }
            }
        }
        "Namespace" => {
            let spec = obj_mut(obj, "spec");
            spec.entry("finalizers").or_insert(json!(["kubernetes"]));
        }
        _ => {}
    }
}

/// A stable 10-hex-digit hash of a pod template (the `pod-template-hash` label).
fn template_hash(template: &Value) -> String {
    // FNV-1a over the canonical JSON text: deterministic across runs.
    let text = template.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Kubernetes uses "safe" characters (no vowels) for generated names.
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| SAFE[((h >> (i * 6)) % SAFE.len() as u64) as usize] as char)
        .collect()
}

fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(json!("apps/v1")),
        "kind": owner.get("kind").cloned().unwrap_or(json!("")),
        "name": meta_name(owner),
        "uid": owner.pointer("/metadata/uid").cloned().unwrap_or(json!("")),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn owned_by(obj: &Value, owner_uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("uid").and_then(Value::as_str) == Some(owner_uid))
        })
}

fn label_selector_matches(obj: &Value, selector: &str) -> bool {
    let labels = obj.pointer("/metadata/labels");
    selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                labels.and_then(|l| l.get(k.trim())).and_then(Value::as_str) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once('=') {
                let v = v.trim_start_matches('=');
                labels.and_then(|l| l.get(k.trim())).and_then(Value::as_str) == Some(v.trim())
            } else if let Some(k) = term.strip_prefix('!') {
                labels.and_then(|l| l.get(k)).is_none()
            } else {
                labels.and_then(|l| l.get(term)).is_some()
            }
        })
}

impl Default for SandboxCluster {
    fn default() -> Self {
        Self::new(Registry::default())
    }
}

impl SandboxCluster {
    /// A sandbox with namespaces `default` and `kube-system` and one node. Call
    /// [`SandboxCluster::start`] inside a tokio runtime to run the controllers.
    pub fn new(registry: Registry) -> Self {
        let (events, _) = broadcast::channel(4096);
        let sandbox = Self {
            inner: Arc::new(Mutex::new(Inner {
                kinds: builtin_kinds(),
                objects: BTreeMap::new(),
                applied: HashMap::new(),
                pod_born: HashMap::new(),
                pull_failed: HashSet::new(),
                pull_backoff: HashSet::new(),
                resource_version: 1000,
                uid: 0,
                pod_ips: 0,
                registry,
            })),
            events,
            name: "sandbox".into(),
        };
        for ns in ["default", "kube-system"] {
            let _ = sandbox.store_new(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns}, "status": {"phase": "Active"}
            }));
        }
        let _ = sandbox.store_new(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "sandbox-node-1", "labels": {"kubernetes.io/hostname": "sandbox-node-1"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "capacity": {"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "4"}}
        }));
        sandbox
    }

    /// Run the controllers (Deployments, ReplicaSets, pods, status of Ingress/HPA/Namespaces)
    /// until the sandbox is dropped everywhere.
    pub fn start(&self) {
        let weak = Arc::downgrade(&self.inner);
        let events = self.events.clone();
        let name = self.name.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CONTROLLER_TICK);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let sb = SandboxCluster {
                    inner,
                    events: events.clone(),
                    name: name.clone(),
                };
                sb.reconcile();
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn info(inner: &Inner, gvk: &Gvk) -> Result<ResourceInfo, ClusterError> {
        inner
            .kinds
            .iter()
            .find(|k| k.gvk.group == gvk.group && k.gvk.kind == gvk.kind)
            .cloned()
            .ok_or_else(|| ClusterError::UnknownKind {
                api_version: gvk.api_version(),
                kind: gvk.kind.clone(),
            })
    }

    fn emit(&self, gvk: &Gvk, ev: WatchEvent) {
        // No receivers is fine: nobody watches that kind yet.
        let _ = self.events.send((gvk.clone(), ev));
    }

    /// Store a new object (internal; no checks beyond bookkeeping).
    fn store_new(&self, mut obj: Value) -> Result<Value, ClusterError> {
        let gvk = Gvk::of(&obj).ok_or_else(|| ClusterError::Invalid {
            resource: describe(&obj),
            message: "apiVersion and kind are required".into(),
        })?;
        let out = {
            let mut inner = self.lock();
            let info = Self::info(&inner, &gvk)?;
            inner.resource_version += 1;
            inner.uid += 1;
            let rv = inner.resource_version.to_string();
            let uid = format!("00000000-0000-4000-8000-{:012x}", inner.uid);
            let meta = obj_mut(&mut obj, "metadata");
            meta.insert("resourceVersion".into(), json!(rv));
            meta.insert("uid".into(), json!(uid));
            meta.insert("creationTimestamp".into(), json!(now()));
            meta.insert("generation".into(), json!(1));
            if !info.namespaced {
                meta.remove("namespace");
            }
            let key = key_of(&gvk, &meta_ns(&obj), &meta_name(&obj));
            if gvk.kind == "Pod" {
                inner.pod_born.insert(key.clone(), Instant::now());
            }
            inner.objects.insert(key, obj.clone());
            obj
        };
        self.emit(&gvk, WatchEvent::Applied(out.clone()));
        Ok(out)
    }

    /// Replace a stored object's content without precondition (controllers), bumping the
    /// resourceVersion only when something changed.
    fn store_update(&self, gvk: &Gvk, mut obj: Value) {
        let key = key_of(gvk, &meta_ns(&obj), &meta_name(&obj));
        let changed = {
            let mut inner = self.lock();
            match inner.objects.get(&key) {
                Some(old) if *old == obj => None,
                Some(_) => {
                    inner.resource_version += 1;
                    let rv = inner.resource_version.to_string();
                    obj_mut(&mut obj, "metadata").insert("resourceVersion".into(), json!(rv));
                    inner.objects.insert(key, obj.clone());
                    Some(obj)
                }
                None => None,
            }
        };
        if let Some(obj) = changed {
            self.emit(gvk, WatchEvent::Applied(obj));
        }
    }

    /// A pod address no other pod of this sandbox was given: 10.244.0.10, .11, ... then on
    /// into 10.244.1.10 (a real CNI hands out unique addresses from the node's pod CIDR).
    fn next_pod_ip(&self) -> String {
        let mut inner = self.lock();
        let n = inner.pod_ips;
        inner.pod_ips += 1;
        format!("10.244.{}.{}", (n / 240) % 256, 10 + n % 240)
    }

    /// Delete one object and, unless orphaning, its dependents (recursively).
    fn remove(&self, key: &Key, propagation: Propagation) -> bool {
        let removed = {
            let mut inner = self.lock();
            let Some(obj) = inner.objects.remove(key) else {
                return false;
            };
            inner.applied.remove(key);
            inner.pod_born.remove(key);
            inner.pull_failed.remove(key);
            inner.pull_backoff.remove(key);
            obj
        };
        if let Some(gvk) = Gvk::of(&removed) {
            self.emit(&gvk, WatchEvent::Deleted(removed.clone()));
        }
        let uid = str_at(&removed, &["metadata", "uid"])
            .unwrap_or("")
            .to_string();
        let mut dependents: Vec<Key> = Vec::new();
        {
            let inner = self.lock();
            for (k, o) in &inner.objects {
                let in_ns = key.1 == "Namespace" && k.2 == key.3;
                if in_ns || (propagation != Propagation::Orphan && owned_by(o, &uid)) {
                    dependents.push(k.clone());
                }
            }
        }
        for d in dependents {
            self.remove(&d, propagation);
        }
        true
    }

    /// Simulate an operator editing the cluster by hand (the demo's drift key): scale the first
    /// tracked Deployment of `namespace` (or of any namespace) up by one, as `kubectl scale`.
    pub fn manual_change(&self, namespace: Option<&str>) -> Result<String, String> {
        let gvk = Gvk::new("apps", "v1", "Deployment");
        let target = {
            let inner = self.lock();
            inner
                .objects
                .iter()
                .filter(|(k, o)| {
                    k.0 == "apps"
                        && k.1 == "Deployment"
                        && namespace.is_none_or(|n| k.2 == n)
                        && o.pointer("/metadata/annotations")
                            .and_then(|a| a.get(crate::resource::TRACKING_ANNOTATION))
                            .is_some()
                })
                .map(|(_, o)| o.clone())
                .next()
        };
        let Some(mut dep) = target else {
            return Err(
                "no synced Deployment to change yet: sync an App first, then press the key again"
                    .into(),
            );
        };
        let replicas = dep
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        dep["spec"]["replicas"] = json!(replicas + 1);
        let gen_ = dep
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        dep["metadata"]["generation"] = json!(gen_ + 1);
        let (ns, name) = (meta_ns(&dep), meta_name(&dep));
        self.store_update(&gvk, dep);
        Ok(format!(
            "manual change: kubectl scale deployment/{name} -n {ns} --replicas={} (live now differs from Git; self-heal reverts it)",
            replicas + 1
        ))
    }

    /// One pass of every controller.
    fn reconcile(&self) {
        self.reconcile_deployments();
        self.reconcile_replicasets();
        self.reconcile_pods();
        self.reconcile_misc();
    }

    fn all_of(&self, group: &str, kind: &str) -> Vec<Value> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .filter(|(k, _)| k.0 == group && k.1 == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn reconcile_deployments(&self) {
        let rs_gvk = Gvk::new("apps", "v1", "ReplicaSet");
        let dep_gvk = Gvk::new("apps", "v1", "Deployment");
        let all_rs = self.all_of("apps", "ReplicaSet");
        for dep in self.all_of("apps", "Deployment") {
            let ns = meta_ns(&dep);
            let name = meta_name(&dep);
            let uid = str_at(&dep, &["metadata", "uid"]).unwrap_or("").to_string();
            let desired = dep
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let template = dep.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let hash = template_hash(&template);
            let rs_name = format!("{name}-{hash}");
            let owned: Vec<&Value> = all_rs
                .iter()
                .filter(|r| meta_ns(r) == ns && owned_by(r, &uid))
                .collect();
            let current = owned.iter().find(|r| meta_name(r) == rs_name).copied();
            let new_ready = match current {
                None => {
                    let mut tpl = template.clone();
                    let labels = obj_mut(&mut tpl, "metadata")
                        .entry("labels")
                        .or_insert(json!({}));
                    if let Some(l) = labels.as_object_mut() {
                        l.insert("pod-template-hash".into(), json!(hash));
                    }
                    let mut selector = dep.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                    if let Some(m) = selector
                        .get_mut("matchLabels")
                        .and_then(Value::as_object_mut)
                    {
                        m.insert("pod-template-hash".into(), json!(hash));
                    }
                    let labels = tpl
                        .pointer("/metadata/labels")
                        .cloned()
                        .unwrap_or(json!({}));
                    let rs = json!({
                        "apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "metadata": {
                            "name": rs_name, "namespace": ns, "labels": labels,
                            "annotations": {"deployment.kubernetes.io/revision": (owned.len() + 1).to_string()},
                            "ownerReferences": [owner_ref(&dep)]
                        },
                        "spec": {"replicas": desired, "selector": selector, "template": tpl}
                    });
                    let _ = self.store_new(rs);
                    0
                }
                Some(rs) => {
                    if rs.pointer("/spec/replicas").and_then(Value::as_i64) != Some(desired) {
                        let mut rs = rs.clone();
                        rs["spec"]["replicas"] = json!(desired);
                        self.store_update(&rs_gvk, rs);
                    }
                    rs.pointer("/status/readyReplicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                }
            };
            // Rolling update: old ReplicaSets go to zero once the new one is fully ready.
            let mut old_ready = 0;
            for old in owned.iter().filter(|r| meta_name(r) != rs_name) {
                let spec = old
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                old_ready += old
                    .pointer("/status/readyReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if new_ready >= desired && spec != 0 {
                    let mut o = (*old).clone();
                    o["spec"]["replicas"] = json!(0);
                    self.store_update(&rs_gvk, o);
                }
            }
            let generation = dep
                .pointer("/metadata/generation")
                .cloned()
                .unwrap_or(json!(1));
            let total = current
                .and_then(|r| r.pointer("/status/replicas").and_then(Value::as_i64))
                .unwrap_or(0);
            let available = new_ready + old_ready;
            let created = str_at(&dep, &["metadata", "creationTimestamp"])
                .unwrap_or("")
                .to_string();
            let failing = current.is_some() && self.image_missing_in(&ns, &rs_name);
            let progressing = if failing {
                json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                       "message": format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                       "lastUpdateTime": created, "lastTransitionTime": created})
            } else if new_ready >= desired {
                json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                       "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                       "lastUpdateTime": created, "lastTransitionTime": created})
            } else {
                json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                       "message": format!("ReplicaSet \"{rs_name}\" is progressing."),
                       "lastUpdateTime": created, "lastTransitionTime": created})
            };
            let status = json!({
                "observedGeneration": generation,
                "replicas": total.max(available),
                "updatedReplicas": total,
                "readyReplicas": available,
                "availableReplicas": available,
                "unavailableReplicas": (desired - available).max(0),
                "conditions": [
                    {"type": "Available", "status": if available >= desired { "True" } else { "False" },
                     "reason": if available >= desired { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                     "lastUpdateTime": created, "lastTransitionTime": created},
                    progressing
                ]
            });
            if dep.get("status") != Some(&status) {
                let mut d = dep.clone();
                d["status"] = status;
                self.store_update(&dep_gvk, d);
            }
        }
    }

    fn image_missing_in(&self, ns: &str, rs_name: &str) -> bool {
        let inner = self.lock();
        inner
            .pull_failed
            .iter()
            .any(|k| k.2 == ns && k.3.starts_with(rs_name))
    }

    fn reconcile_replicasets(&self) {
        let rs_gvk = Gvk::new("apps", "v1", "ReplicaSet");
        let pods = self.all_of("", "Pod");
        for rs in self.all_of("apps", "ReplicaSet") {
            let ns = meta_ns(&rs);
            let name = meta_name(&rs);
            let uid = str_at(&rs, &["metadata", "uid"]).unwrap_or("").to_string();
            let desired = rs
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .max(0) as usize;
            let mut mine: Vec<&Value> = pods
                .iter()
                .filter(|p| meta_ns(p) == ns && owned_by(p, &uid))
                .collect();
            mine.sort_by_key(|p| meta_name(p));
            if mine.len() < desired {
                for i in mine.len()..desired {
                    let suffix: String = template_hash(&json!([
                        name,
                        i,
                        SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .map(|d| d.as_nanos())
                            .unwrap_or(0)
                            .to_string()
                    ]))
                    .chars()
                    .take(5)
                    .collect();
                    let tpl = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
                    let mut spec = tpl.get("spec").cloned().unwrap_or(json!({}));
                    default_pod_spec(&mut spec);
                    let pod = json!({
                        "apiVersion": "v1", "kind": "Pod",
                        "metadata": {
                            "name": format!("{name}-{suffix}"), "namespace": ns,
                            "labels": tpl.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                            "annotations": tpl.pointer("/metadata/annotations").cloned().unwrap_or(json!({})),
                            "ownerReferences": [owner_ref(&rs)]
                        },
                        "spec": spec,
                        "status": {"phase": "Pending", "conditions": [
                            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
                        ], "qosClass": "Burstable"}
                    });
                    let _ = self.store_new(pod);
                }
            } else if mine.len() > desired {
                for p in mine.iter().skip(desired) {
                    let key = key_of(&Gvk::new("", "v1", "Pod"), &ns, &meta_name(p));
                    self.remove(&key, Propagation::Background);
                }
            }
            let ready = mine.iter().take(desired).filter(|p| pod_ready(p)).count();
            let status = json!({
                "replicas": mine.len().min(desired),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "fullyLabeledReplicas": mine.len().min(desired),
                "observedGeneration": rs.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            });
            if rs.get("status") != Some(&status) {
                let mut r = rs.clone();
                r["status"] = status;
                self.store_update(&rs_gvk, r);
            }
        }
    }

    fn reconcile_pods(&self) {
        let pod_gvk = Gvk::new("", "v1", "Pod");
        let pods: Vec<(Key, Value, Duration, bool)> = {
            let inner = self.lock();
            inner
                .objects
                .iter()
                .filter(|(k, _)| k.0.is_empty() && k.1 == "Pod")
                .map(|(k, v)| {
                    let age = inner
                        .pod_born
                        .get(k)
                        .map(|t| t.elapsed())
                        .unwrap_or(POD_READY);
                    let images_ok = v
                        .pointer("/spec/containers")
                        .and_then(Value::as_array)
                        .map(|cs| {
                            cs.iter().all(|c| {
                                c.get("image")
                                    .and_then(Value::as_str)
                                    .is_none_or(|i| inner.registry.exists(i))
                            })
                        })
                        .unwrap_or(true);
                    (k.clone(), v.clone(), age, images_ok)
                })
                .collect()
        };
        for (key, pod, age, images_ok) in pods {
            let containers: Vec<(String, String)> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .map(|c| {
                            (
                                c.get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("main")
                                    .to_string(),
                                c.get("image")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let created = str_at(&pod, &["metadata", "creationTimestamp"])
                .unwrap_or("")
                .to_string();
            let cond = |t: &str, s: bool| json!({"type": t, "status": if s { "True" } else { "False" }, "lastTransitionTime": created});
            let scheduled = age >= POD_SCHEDULED;
            // (type, reason, message, fixed name): events with a fixed name repeat, as the
            // kubelet's do, and later occurrences bump their count instead of adding objects.
            let mut events: Vec<(&str, &str, String, Option<String>)> = Vec::new();
            let (phase, conditions, statuses) = if !scheduled {
                ("Pending", vec![cond("PodScheduled", false)], json!([]))
            } else if !images_ok && age >= POD_CREATED {
                let back_off = age >= POD_RUNNING;
                let reason = if back_off {
                    "ImagePullBackOff"
                } else {
                    "ErrImagePull"
                };
                let cs: Vec<Value> = containers
                    .iter()
                    .map(|(n, i)| json!({
                        "name": n, "image": i, "ready": false, "restartCount": 0, "started": false,
                        "state": {"waiting": {"reason": reason,
                            "message": format!("Back-off pulling image \"{i}\": manifest unknown")}}
                    }))
                    .collect();
                let first = self.lock().pull_failed.insert(key.clone());
                if first {
                    for (_, i) in &containers {
                        events.push(("Normal", "Pulling", format!("Pulling image \"{i}\""), None));
                        events.push((
                            "Warning",
                            "Failed",
                            format!(
                                "Failed to pull image \"{i}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{i}\": failed to resolve reference \"{i}\": {i}: not found"
                            ),
                            None,
                        ));
                        events.push(("Warning", "Failed", "Error: ErrImagePull".into(), None));
                    }
                }
                if back_off {
                    let first_back_off = self.lock().pull_backoff.insert(key.clone());
                    for (n, i) in &containers {
                        let names = [
                            format!("{}.backoff-{n}", key.3),
                            format!("{}.backoff-error-{n}", key.3),
                        ];
                        if first_back_off {
                            events.push((
                                "Normal",
                                "BackOff",
                                format!("Back-off pulling image \"{i}\""),
                                Some(names[0].clone()),
                            ));
                            events.push((
                                "Warning",
                                "Failed",
                                "Error: ImagePullBackOff".into(),
                                Some(names[1].clone()),
                            ));
                        } else {
                            for name in &names {
                                self.bump_event(&key.2, name, PULL_BACK_OFF);
                            }
                        }
                    }
                }
                (
                    "Pending",
                    vec![
                        cond("PodScheduled", true),
                        cond("Initialized", true),
                        cond("ContainersReady", false),
                        cond("Ready", false),
                    ],
                    json!(cs),
                )
            } else if age < POD_CREATED {
                let cs: Vec<Value> = containers
                    .iter()
                    .map(|(n, i)| json!({"name": n, "image": i, "ready": false, "restartCount": 0, "started": false,
                        "state": {"waiting": {"reason": "ContainerCreating"}}}))
                    .collect();
                (
                    "Pending",
                    vec![
                        cond("PodScheduled", true),
                        cond("Initialized", true),
                        cond("ContainersReady", false),
                        cond("Ready", false),
                    ],
                    json!(cs),
                )
            } else {
                let ready = age >= POD_READY;
                let cs: Vec<Value> = containers
                    .iter()
                    .map(|(n, i)| json!({"name": n, "image": i, "imageID": format!("{i}@sha256:0"), "ready": ready,
                        "restartCount": 0, "started": age >= POD_RUNNING,
                        "state": {"running": {"startedAt": created}}}))
                    .collect();
                (
                    "Running",
                    vec![
                        cond("PodScheduled", true),
                        cond("Initialized", true),
                        cond("ContainersReady", ready),
                        cond("Ready", ready),
                    ],
                    json!(cs),
                )
            };
            let mut status = json!({
                "phase": phase, "conditions": conditions, "containerStatuses": statuses,
                "qosClass": "Burstable",
            });
            if scheduled {
                status["hostIP"] = json!("10.0.0.10");
                let ip = match pod.pointer("/status/podIP").and_then(Value::as_str) {
                    Some(ip) => ip.to_string(),
                    None => self.next_pod_ip(),
                };
                status["podIP"] = json!(ip);
                status["startTime"] = json!(created);
            }
            let mut p = pod.clone();
            if scheduled && p.pointer("/spec/nodeName").is_none() {
                p["spec"]["nodeName"] = json!("sandbox-node-1");
                events.push((
                    "Normal",
                    "Scheduled",
                    format!(
                        "Successfully assigned {}/{} to sandbox-node-1",
                        key.2, key.3
                    ),
                    None,
                ));
            }
            if p.get("status") != Some(&status) {
                if phase == "Running"
                    && pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running")
                {
                    for (n, i) in &containers {
                        events.push(("Normal", "Pulling", format!("Pulling image \"{i}\""), None));
                        events.push((
                            "Normal",
                            "Pulled",
                            format!("Successfully pulled image \"{i}\" in 612ms (612ms including waiting)"),
                            None,
                        ));
                        events.push(("Normal", "Created", format!("Created container: {n}"), None));
                        events.push(("Normal", "Started", format!("Started container {n}"), None));
                    }
                }
                p["status"] = status;
                self.store_update(&pod_gvk, p);
            }
            for (type_, reason, message, name) in events {
                let name = name.unwrap_or_else(|| {
                    format!(
                        "{}.{}",
                        key.3,
                        template_hash(&json!([reason, message, now()]))
                    )
                });
                let component = if reason == "Scheduled" {
                    "default-scheduler"
                } else {
                    "kubelet"
                };
                let _ = self.store_new(json!({
                    "apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": name, "namespace": key.2},
                    "involvedObject": {"kind": "Pod", "name": key.3, "namespace": key.2, "apiVersion": "v1"},
                    "type": type_, "reason": reason, "message": message,
                    "firstTimestamp": now(), "lastTimestamp": now(), "count": 1,
                    "source": {"component": component, "host": "sandbox-node-1"}
                }));
            }
        }
    }

    /// Count one more occurrence of a repeating Event once `every` has passed since its last.
    fn bump_event(&self, namespace: &str, name: &str, every: Duration) {
        let gvk = Gvk::new("", "v1", "Event");
        let Some(mut e) = self
            .lock()
            .objects
            .get(&key_of(&gvk, namespace, name))
            .cloned()
        else {
            return;
        };
        let due = str_at(&e, &["lastTimestamp"])
            .and_then(crate::engine::history::parse_time)
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_none_or(|d| d >= every);
        if due {
            let count = e.get("count").and_then(Value::as_u64).unwrap_or(1);
            e["count"] = json!(count + 1);
            e["lastTimestamp"] = json!(now());
            self.store_update(&gvk, e);
        }
    }

    fn reconcile_misc(&self) {
        for ing in self.all_of("networking.k8s.io", "Ingress") {
            let status = json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.100"}]}});
            if ing.get("status") != Some(&status) {
                let mut i = ing.clone();
                i["status"] = status;
                self.store_update(&Gvk::new("networking.k8s.io", "v1", "Ingress"), i);
            }
        }
        for svc in self.all_of("", "Service") {
            if str_at(&svc, &["spec", "type"]) == Some("LoadBalancer")
                && svc.pointer("/status/loadBalancer/ingress").is_none()
            {
                let mut s = svc.clone();
                s["status"] = json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.101"}]}});
                self.store_update(&Gvk::new("", "v1", "Service"), s);
            }
        }
        for hpa in self.all_of("autoscaling", "HorizontalPodAutoscaler") {
            let min = hpa
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let status = json!({
                "currentReplicas": min, "desiredReplicas": min,
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                    {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                    {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"}
                ]
            });
            if hpa.get("status") != Some(&status) {
                let mut h = hpa.clone();
                h["status"] = status;
                self.store_update(&Gvk::new("autoscaling", "v2", "HorizontalPodAutoscaler"), h);
            }
        }
        for ns in self.all_of("", "Namespace") {
            if ns.pointer("/status/phase").is_none() {
                let mut n = ns.clone();
                n["status"] = json!({"phase": "Active"});
                self.store_update(&Gvk::new("", "v1", "Namespace"), n);
            }
        }
    }

    fn do_apply(&self, obj: &Value, opts: ApplyOptions) -> Result<Value, ClusterError> {
        let gvk = Gvk::of(obj).ok_or_else(|| ClusterError::Invalid {
            resource: describe(obj),
            message: "apiVersion and kind are required".into(),
        })?;
        let name = meta_name(obj);
        if name.is_empty() {
            return Err(ClusterError::Invalid {
                resource: describe(obj),
                message: "metadata.name: Required value".into(),
            });
        }
        let mut applied = obj.clone();
        if let Some(m) = applied.as_object_mut() {
            m.remove("status");
        }
        if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in [
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
                "managedFields",
            ] {
                meta.remove(f);
            }
        }
        let (result, changed, is_new) = {
            let mut inner = self.lock();
            let info = Self::info(&inner, &gvk)?;
            let ns = if info.namespaced {
                let ns = meta_ns(obj);
                if ns.is_empty() {
                    return Err(ClusterError::Invalid {
                        resource: describe(obj),
                        message: "metadata.namespace: Required value for a namespaced kind".into(),
                    });
                }
                let ns_key = key_of(&Gvk::new("", "v1", "Namespace"), "", &ns);
                if !inner.objects.contains_key(&ns_key) {
                    return Err(ClusterError::NotFound {
                        resource: format!("namespace {ns:?} (needed by {})", describe(obj)),
                    });
                }
                ns
            } else {
                if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("namespace");
                }
                String::new()
            };
            let key = key_of(&gvk, &ns, &name);
            let existing = inner.objects.get(&key).cloned();
            if let (Some(rv), Some(ex)) = (
                str_at(obj, &["metadata", "resourceVersion"]),
                existing.as_ref(),
            ) && str_at(ex, &["metadata", "resourceVersion"]) != Some(rv)
            {
                return Err(ClusterError::AlreadyExists {
                    resource: describe(obj),
                    message: "the object has been modified; please apply your changes to the latest version".into(),
                });
            }
            let cluster_ip = format!("10.96.{}.{}", (inner.uid / 250) % 250, 10 + inner.uid % 240);
            let mut next = match &existing {
                Some(ex) => {
                    let mut n = ex.clone();
                    if let Some(last) = inner.applied.get(&key) {
                        remove_dropped(&mut n, last, &applied);
                    }
                    merge(&mut n, &applied);
                    n
                }
                None => applied.clone(),
            };
            apply_defaults(&mut next, &cluster_ip);
            let is_new = existing.is_none();
            let changed = existing.as_ref() != Some(&next);
            if !opts.dry_run && changed {
                inner.resource_version += 1;
                let rv = inner.resource_version.to_string();
                let spec_changed =
                    existing.as_ref().map(|e| e.get("spec")) != Some(next.get("spec"));
                let meta = obj_mut(&mut next, "metadata");
                meta.insert("resourceVersion".into(), json!(rv));
                meta.insert(
                    "managedFields".into(),
                    json!([{"manager": super::FIELD_MANAGER, "operation": "Apply", "apiVersion": gvk.api_version(), "time": now()}]),
                );
                match &existing {
                    Some(ex) => {
                        let g = ex
                            .pointer("/metadata/generation")
                            .and_then(Value::as_i64)
                            .unwrap_or(1);
                        meta.insert(
                            "generation".into(),
                            json!(if spec_changed { g + 1 } else { g }),
                        );
                    }
                    None => {
                        inner.uid += 1;
                        meta.insert(
                            "uid".into(),
                            json!(format!("00000000-0000-4000-8000-{:012x}", inner.uid)),
                        );
                        meta.insert("creationTimestamp".into(), json!(now()));
                        meta.insert("generation".into(), json!(1));
                    }
                }
                inner.objects.insert(key.clone(), next.clone());
                if gvk.kind == "Pod" && is_new {
                    inner.pod_born.insert(key.clone(), Instant::now());
                }
                if gvk.kind == "CustomResourceDefinition" {
                    register_crd(&mut inner.kinds, &next);
                }
            } else if opts.dry_run && is_new {
                // A dry-run create still shows server-populated metadata, as the API server does.
                let meta = obj_mut(&mut next, "metadata");
                meta.insert("uid".into(), json!("00000000-0000-4000-8000-dryrun000000"));
                meta.insert("creationTimestamp".into(), json!(now()));
                meta.insert("generation".into(), json!(1));
            }
            if !opts.dry_run {
                inner.applied.insert(key, applied);
            }
            (next, changed, is_new)
        };
        if !opts.dry_run && changed {
            self.emit(&gvk, WatchEvent::Applied(result.clone()));
        }
        let _ = is_new;
        Ok(result)
    }
}

fn register_crd(kinds: &mut Vec<ResourceInfo>, crd: &Value) {
    let group = str_at(crd, &["spec", "group"]).unwrap_or("").to_string();
    let kind = str_at(crd, &["spec", "names", "kind"])
        .unwrap_or("")
        .to_string();
    let plural = str_at(crd, &["spec", "names", "plural"])
        .unwrap_or("")
        .to_string();
    let namespaced = str_at(crd, &["spec", "scope"]) != Some("Cluster");
    let version = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("v1")
        .to_string();
    if kind.is_empty() {
        return;
    }
    kinds.retain(|k| !(k.gvk.group == group && k.gvk.kind == kind));
    kinds.push(ResourceInfo {
        gvk: Gvk::new(&group, &version, &kind),
        plural,
        namespaced,
    });
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

impl Cluster for SandboxCluster {
    fn name(&self) -> &str {
        &self.name
    }

    fn server_version(&self) -> ClusterFuture<'_, String> {
        Box::pin(async { Ok("v1.36.0-sandbox".to_string()) })
    }

    fn user(&self) -> Option<String> {
        Some("sandbox-admin".into())
    }

    fn resolve<'a>(&'a self, gvk: &'a Gvk) -> ClusterFuture<'a, ResourceInfo> {
        Box::pin(async move { Self::info(&self.lock(), gvk) })
    }

    fn apply<'a>(&'a self, obj: &'a Value, opts: ApplyOptions) -> ClusterFuture<'a, Value> {
        Box::pin(async move { self.do_apply(obj, opts) })
    }

    fn create<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value> {
        Box::pin(async move {
            let gvk = Gvk::of(obj).ok_or_else(|| ClusterError::Invalid {
                resource: describe(obj),
                message: "apiVersion and kind are required".into(),
            })?;
            {
                let inner = self.lock();
                let info = Self::info(&inner, &gvk)?;
                let ns = if info.namespaced {
                    meta_ns(obj)
                } else {
                    String::new()
                };
                if inner
                    .objects
                    .contains_key(&key_of(&gvk, &ns, &meta_name(obj)))
                {
                    return Err(ClusterError::AlreadyExists {
                        resource: describe(obj),
                        message: "already exists".into(),
                    });
                }
                if info.namespaced
                    && !inner.objects.contains_key(&key_of(
                        &Gvk::new("", "v1", "Namespace"),
                        "",
                        &ns,
                    ))
                {
                    return Err(ClusterError::NotFound {
                        resource: format!("namespace {ns:?}"),
                    });
                }
            }
            let mut o = obj.clone();
            if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("resourceVersion");
            }
            self.store_new(o)
        })
    }

    fn replace<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value> {
        Box::pin(async move {
            let gvk = Gvk::of(obj).ok_or_else(|| ClusterError::Invalid {
                resource: describe(obj),
                message: "apiVersion and kind are required".into(),
            })?;
            let out = {
                let mut inner = self.lock();
                let info = Self::info(&inner, &gvk)?;
                let ns = if info.namespaced {
                    meta_ns(obj)
                } else {
                    String::new()
                };
                let key = key_of(&gvk, &ns, &meta_name(obj));
                let Some(existing) = inner.objects.get(&key).cloned() else {
                    return Err(ClusterError::NotFound {
                        resource: describe(obj),
                    });
                };
                let want = str_at(obj, &["metadata", "resourceVersion"]);
                if want.is_some() && want != str_at(&existing, &["metadata", "resourceVersion"]) {
                    return Err(ClusterError::AlreadyExists {
                        resource: describe(obj),
                        message: "the object has been modified; please apply your changes to the latest version".into(),
                    });
                }
                let mut next = obj.clone();
                inner.resource_version += 1;
                let rv = inner.resource_version.to_string();
                let meta = obj_mut(&mut next, "metadata");
                meta.insert("resourceVersion".into(), json!(rv));
                for f in ["uid", "creationTimestamp", "generation"] {
                    if let Some(v) = existing.pointer(&format!("/metadata/{f}")) {
                        meta.insert(f.into(), v.clone());
                    }
                }
                inner.objects.insert(key, next.clone());
                next
            };
            self.emit(&gvk, WatchEvent::Applied(out.clone()));
            Ok(out)
        })
    }

    fn get<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Option<Value>> {
        Box::pin(async move {
            let inner = self.lock();
            let info = Self::info(&inner, gvk)?;
            let ns = if info.namespaced { namespace } else { "" };
            Ok(inner.objects.get(&key_of(gvk, ns, name)).cloned())
        })
    }

    fn list<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: Option<&'a str>,
        label_selector: Option<&'a str>,
    ) -> ClusterFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let inner = self.lock();
            Self::info(&inner, gvk)?;
            Ok(inner
                .objects
                .iter()
                .filter(|(k, _)| k.0 == gvk.group && k.1 == gvk.kind)
                .filter(|(k, _)| namespace.is_none_or(|n| k.2 == n))
                .filter(|(_, o)| label_selector.is_none_or(|s| label_selector_matches(o, s)))
                .map(|(_, o)| o.clone())
                .collect())
        })
    }

    fn events_for<'a>(
        &'a self,
        kind: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(inner
                .objects
                .range(
                    (
                        String::new(),
                        "Event".to_string(),
                        namespace.to_string(),
                        String::new(),
                    )..,
                )
                .take_while(|(k, _)| k.0.is_empty() && k.1 == "Event" && k.2 == namespace)
                .filter(|(_, e)| {
                    str_at(e, &["involvedObject", "kind"]) == Some(kind)
                        && str_at(e, &["involvedObject", "name"]) == Some(name)
                })
                .map(|(_, e)| e.clone())
                .collect())
        })
    }

    fn delete<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: &'a str,
        name: &'a str,
        propagation: Propagation,
    ) -> ClusterFuture<'a, bool> {
        Box::pin(async move {
            let key = {
                let inner = self.lock();
                let info = Self::info(&inner, gvk)?;
                key_of(gvk, if info.namespaced { namespace } else { "" }, name)
            };
            Ok(self.remove(&key, propagation))
        })
    }

    fn watch(&self, gvk: Gvk) -> BoxStream<'static, WatchEvent> {
        let rx = self.events.subscribe();
        let this = self.clone();
        let initial = {
            let inner = self.lock();
            match Self::info(&inner, &gvk) {
                Ok(_) => WatchEvent::Restarted(
                    inner
                        .objects
                        .iter()
                        .filter(|(k, _)| k.0 == gvk.group && k.1 == gvk.kind)
                        .map(|(_, o)| o.clone())
                        .collect(),
                ),
                Err(e) => WatchEvent::Error(e),
            }
        };
        let head = futures::stream::iter([initial]);
        let tail = futures::stream::unfold((rx, this, gvk), |(mut rx, this, gvk)| async move {
            loop {
                match rx.recv().await {
                    Ok((g, ev)) if g.group == gvk.group && g.kind == gvk.kind => {
                        return Some((ev, (rx, this, gvk)));
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Missed changes: replay the full list, as a relisting watcher does.
                        let list = {
                            let inner = this.lock();
                            inner
                                .objects
                                .iter()
                                .filter(|(k, _)| k.0 == gvk.group && k.1 == gvk.kind)
                                .map(|(_, o)| o.clone())
                                .collect()
                        };
                        return Some((WatchEvent::Restarted(list), (rx, this, gvk)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        head.chain(tail).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(ns: &str, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns,
                         "annotations": {"sextant.io/tracking-id": format!("app:apps/Deployment:{ns}/web")}},
            "spec": {"replicas": 2,
                     "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}
        })
    }

    fn ns(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    }

    async fn wait_for(sb: &SandboxCluster, what: &str, f: impl Fn(&SandboxCluster) -> bool) {
        for _ in 0..100 {
            if f(sb) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}");
    }

    fn dep_status(sb: &SandboxCluster, ns: &str) -> Value {
        sb.lock()
            .objects
            .get(&key_of(&Gvk::new("apps", "v1", "Deployment"), ns, "web"))
            .and_then(|d| d.get("status").cloned())
            .unwrap_or(Value::Null)
    }

    #[tokio::test]
    async fn apply_needs_the_namespace_and_defaults_fields() {
        let sb = SandboxCluster::default();
        let err = sb
            .apply(&deployment("shop", "nginx:1.27"), ApplyOptions::default())
            .await;
        assert!(matches!(err, Err(ClusterError::NotFound { .. })), "{err:?}");
        sb.apply(&ns("shop"), ApplyOptions::default())
            .await
            .unwrap();
        let dry = sb
            .apply(
                &deployment("shop", "nginx:1.27"),
                ApplyOptions {
                    dry_run: true,
                    force: false,
                },
            )
            .await
            .unwrap();
        assert_eq!(dry["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(
            dry["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        let gvk = Gvk::new("apps", "v1", "Deployment");
        assert!(
            sb.get(&gvk, "shop", "web").await.unwrap().is_none(),
            "dry run stored the object"
        );
        let live = sb
            .apply(&deployment("shop", "nginx:1.27"), ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(live["metadata"]["generation"], 1);
        // Re-applying the same config changes nothing.
        let again = sb
            .apply(&deployment("shop", "nginx:1.27"), ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(
            again["metadata"]["resourceVersion"],
            live["metadata"]["resourceVersion"]
        );
        let bumped = sb
            .apply(&deployment("shop", "nginx:1.28"), ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(bumped["metadata"]["generation"], 2);
    }

    #[tokio::test]
    async fn fields_dropped_from_the_applied_config_are_removed() {
        let sb = SandboxCluster::default();
        sb.apply(&ns("a"), ApplyOptions::default()).await.unwrap();
        let cm = |data: Value| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "a"}, "data": data})
        };
        sb.apply(&cm(json!({"x": "1", "y": "2"})), ApplyOptions::default())
            .await
            .unwrap();
        let live = sb
            .apply(&cm(json!({"x": "1"})), ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(live["data"], json!({"x": "1"}));
    }

    #[tokio::test]
    async fn deployments_roll_out_to_ready_pods() {
        let sb = SandboxCluster::default();
        sb.start();
        sb.apply(&ns("shop"), ApplyOptions::default())
            .await
            .unwrap();
        sb.apply(&deployment("shop", "nginx:1.27"), ApplyOptions::default())
            .await
            .unwrap();
        wait_for(&sb, "pods pending", |sb| {
            sb.all_of("", "Pod")
                .iter()
                .filter(|p| meta_ns(p) == "shop")
                .count()
                == 2
        })
        .await;
        let pods = sb.all_of("", "Pod");
        assert!(
            pods.iter().all(|p| !pod_ready(p)),
            "pods were ready at once"
        );
        wait_for(&sb, "deployment available", |sb| {
            dep_status(sb, "shop")["availableReplicas"] == 2
        })
        .await;
        let st = dep_status(&sb, "shop");
        assert_eq!(st["conditions"][1]["reason"], "NewReplicaSetAvailable");
        // A new image rolls a new ReplicaSet; the old one goes to zero.
        sb.apply(&deployment("shop", "nginx:1.28"), ApplyOptions::default())
            .await
            .unwrap();
        wait_for(&sb, "rollout of the new image", |sb| {
            let pods = sb.all_of("", "Pod");
            pods.len() == 2
                && pods.iter().all(|p| {
                    pod_ready(p)
                        && p.pointer("/spec/containers/0/image")
                            .and_then(Value::as_str)
                            == Some("nginx:1.28")
                })
        })
        .await;
        assert_eq!(sb.all_of("apps", "ReplicaSet").len(), 2);
    }

    #[tokio::test]
    async fn every_pod_gets_its_own_address_and_keeps_it() {
        let sb = SandboxCluster::default();
        sb.start();
        for n in ["shop", "cart"] {
            sb.apply(&ns(n), ApplyOptions::default()).await.unwrap();
            sb.apply(&deployment(n, "nginx:1.27"), ApplyOptions::default())
                .await
                .unwrap();
        }
        let ips = |sb: &SandboxCluster| -> Vec<(String, String)> {
            sb.all_of("", "Pod")
                .iter()
                .filter_map(|p| {
                    let ip = p.pointer("/status/podIP")?.as_str()?;
                    Some((meta_name(p), ip.to_string()))
                })
                .collect()
        };
        wait_for(&sb, "4 pods with addresses", |sb| ips(sb).len() == 4).await;
        let first = ips(&sb);
        let mut distinct: Vec<&String> = first.iter().map(|(_, ip)| ip).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "pods share an address: {first:?}");
        // Later status updates (Running, Ready) keep each pod's address.
        wait_for(&sb, "ready pods", |sb| {
            dep_status(sb, "shop")["readyReplicas"] == 2
                && dep_status(sb, "cart")["readyReplicas"] == 2
        })
        .await;
        let mut later = ips(&sb);
        let mut first = first;
        first.sort();
        later.sort();
        assert_eq!(first, later);
    }

    #[tokio::test]
    async fn unknown_image_ends_in_image_pull_back_off() {
        let registry = Registry::default().with("ghcr.io/example/app", &["1.0.0"]);
        let sb = SandboxCluster::new(registry);
        sb.start();
        sb.apply(&ns("shop"), ApplyOptions::default())
            .await
            .unwrap();
        sb.apply(
            &deployment("shop", "ghcr.io/example/app:9.9.9"),
            ApplyOptions::default(),
        )
        .await
        .unwrap();
        wait_for(&sb, "ImagePullBackOff", |sb| {
            sb.all_of("", "Pod").iter().any(|p| {
                p.pointer("/status/containerStatuses/0/state/waiting/reason")
                    .and_then(Value::as_str)
                    == Some("ImagePullBackOff")
            })
        })
        .await;
        wait_for(&sb, "deadline exceeded", |sb| {
            dep_status(sb, "shop")["conditions"][1]["reason"] == "ProgressDeadlineExceeded"
        })
        .await;
        let events = sb.all_of("", "Event");
        assert!(
            events.iter().any(|e| e["reason"] == "Failed"),
            "no Failed event"
        );
        // The pod's own events, as `kubectl describe pod` lists them.
        let pod = sb.all_of("", "Pod").into_iter().next().expect("a pod");
        let mine = sb
            .events_for("Pod", "shop", &meta_name(&pod))
            .await
            .unwrap();
        let reasons: Vec<(&str, &str)> = mine
            .iter()
            .map(|e| {
                (
                    e["reason"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or(""),
                )
            })
            .collect();
        for (reason, needle) in [
            ("Scheduled", "Successfully assigned shop/"),
            ("Pulling", "Pulling image \"ghcr.io/example/app:9.9.9\""),
            (
                "Failed",
                "Failed to pull image \"ghcr.io/example/app:9.9.9\"",
            ),
            ("Failed", "Error: ErrImagePull"),
            ("BackOff", "Back-off pulling image"),
            ("Failed", "Error: ImagePullBackOff"),
        ] {
            assert!(
                reasons
                    .iter()
                    .any(|(r, m)| *r == reason && m.contains(needle)),
                "no {reason} {needle:?} event in {reasons:?}"
            );
        }
        assert!(
            mine.iter()
                .all(|e| e["involvedObject"]["name"] == pod["metadata"]["name"])
        );
        assert!(
            sb.events_for("Pod", "other", &meta_name(&pod))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn deletes_propagate_to_dependents_and_namespaces_empty_out() {
        let sb = SandboxCluster::default();
        sb.start();
        sb.apply(&ns("shop"), ApplyOptions::default())
            .await
            .unwrap();
        sb.apply(&deployment("shop", "nginx:1.27"), ApplyOptions::default())
            .await
            .unwrap();
        wait_for(&sb, "pods", |sb| sb.all_of("", "Pod").len() == 2).await;
        let gvk = Gvk::new("apps", "v1", "Deployment");
        assert!(
            sb.delete(&gvk, "shop", "web", Propagation::Foreground)
                .await
                .unwrap()
        );
        assert!(sb.all_of("apps", "ReplicaSet").is_empty());
        assert!(sb.all_of("", "Pod").is_empty());
        assert!(
            !sb.delete(&gvk, "shop", "web", Propagation::Foreground)
                .await
                .unwrap()
        );
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}});
        sb.apply(&cm, ApplyOptions::default()).await.unwrap();
        sb.delete(
            &Gvk::new("", "v1", "Namespace"),
            "",
            "shop",
            Propagation::Background,
        )
        .await
        .unwrap();
        assert!(sb.all_of("", "ConfigMap").is_empty());
    }

    #[tokio::test]
    async fn leases_use_create_and_replace_preconditions() {
        let sb = SandboxCluster::default();
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "sync-web", "namespace": "default"},
            "spec": {"holderIdentity": "alice"}});
        let created = sb.create(&lease).await.unwrap();
        assert!(matches!(
            sb.create(&lease).await,
            Err(ClusterError::AlreadyExists { .. })
        ));
        let mut stale = created.clone();
        stale["metadata"]["resourceVersion"] = json!("1");
        stale["spec"]["holderIdentity"] = json!("bob");
        assert!(matches!(
            sb.replace(&stale).await,
            Err(ClusterError::AlreadyExists { .. })
        ));
        let mut fresh = created.clone();
        fresh["spec"]["holderIdentity"] = json!("bob");
        let replaced = sb.replace(&fresh).await.unwrap();
        assert_eq!(replaced["spec"]["holderIdentity"], "bob");
        assert_eq!(replaced["metadata"]["uid"], created["metadata"]["uid"]);
    }

    #[tokio::test]
    async fn watch_lists_then_follows_changes() {
        let sb = SandboxCluster::default();
        sb.apply(&ns("a"), ApplyOptions::default()).await.unwrap();
        let mut w = sb.watch(Gvk::new("", "v1", "ConfigMap"));
        assert!(matches!(w.next().await, Some(WatchEvent::Restarted(l)) if l.is_empty()));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}, "data": {"k": "v"}});
        sb.apply(&cm, ApplyOptions::default()).await.unwrap();
        assert!(matches!(w.next().await, Some(WatchEvent::Applied(o)) if o["data"]["k"] == "v"));
        sb.delete(
            &Gvk::new("", "v1", "ConfigMap"),
            "a",
            "c",
            Propagation::Background,
        )
        .await
        .unwrap();
        assert!(matches!(w.next().await, Some(WatchEvent::Deleted(_))));
    }

    #[tokio::test]
    async fn unknown_kinds_and_crds() {
        let sb = SandboxCluster::default();
        let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}});
        assert!(matches!(
            sb.apply(&widget, ApplyOptions::default()).await,
            Err(ClusterError::UnknownKind { .. })
        ));
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets"},
                     "versions": [{"name": "v1", "served": true, "storage": true}]}});
        sb.apply(&crd, ApplyOptions::default()).await.unwrap();
        sb.apply(&widget, ApplyOptions::default()).await.unwrap();
    }

    #[tokio::test]
    async fn manual_change_scales_a_tracked_deployment() {
        let sb = SandboxCluster::default();
        assert!(sb.manual_change(None).is_err());
        sb.apply(&ns("shop"), ApplyOptions::default())
            .await
            .unwrap();
        sb.apply(&deployment("shop", "nginx:1.27"), ApplyOptions::default())
            .await
            .unwrap();
        let msg = sb.manual_change(Some("shop")).unwrap();
        assert!(msg.contains("--replicas=3"), "{msg}");
        let d = sb
            .get(&Gvk::new("apps", "v1", "Deployment"), "shop", "web")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d["spec"]["replicas"], 3);
    }

    #[test]
    fn registry_and_time_helpers() {
        let r = Registry::default().with("ghcr.io/example/astromesh", &["1.4.2"]);
        assert!(r.exists("ghcr.io/example/astromesh:1.4.2"));
        assert!(!r.exists("ghcr.io/example/astromesh:1.5.0-rc1"));
        assert!(r.exists("nginx:1.27"));
        assert!(!r.exists("nginx:does-not-exist"));
        assert!(r.exists("localhost:5000/x"));
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026-11-18T11:06:40Z"
        );
        assert_eq!(
            template_hash(&json!({"a": 1})),
            template_hash(&json!({"a": 1}))
        );
        assert!(label_selector_matches(
            &json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            "a=1,b"
        ));
        assert!(!label_selector_matches(
            &json!({"metadata": {"labels": {"a": "1"}}}),
            "a!=1"
        ));
    }
}
