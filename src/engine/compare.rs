//! Compare desired with live: server-side diff.
//!
//! 1. [`prepare`]: rendered objects → desired objects with the destination namespace filled in
//!    (discovery says which kinds are namespaced; kinds defined by a CRD in the same render are
//!    taken from that CRD) and the tracking annotation added.
//! 2. [`Comparer::compare`]: for each desired object with a live counterpart, a `dryRun=All`
//!    server-side apply gives the predicted live object; predicted and live are normalised and
//!    compared. Predictions are memoised on (desired content, live resourceVersion), so a compare
//!    on a warm cache with nothing changed makes no request at all.
//!    When dry-run is forbidden (a view-only user), the prediction falls back to merging the
//!    desired fields into live, so diff still works without write rights.
//! 3. Tracked live objects that are no longer desired are extras (to prune).

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::Value;

use super::api::{
    Condition, ConditionKind, HealthStatus, ResourceDiff, ResourceRow, ResourceState, SyncStatus,
};
use super::cache::{LiveCache, owner_keys};
use super::health;
use crate::app::App;
use crate::cluster::{ApplyOptions, Cluster, ClusterError, Gvk};
use crate::resource::{ResourceKey, TRACKING_ANNOTATION};

/// One desired object, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredObject {
    pub key: ResourceKey,
    pub gvk: Gvk,
    /// With namespace and tracking annotation.
    pub obj: Value,
    pub hook: bool,
    /// The kind is not served yet but a CRD in this render defines it.
    pub kind_pending: bool,
}

/// The desired state of an App at one revision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    pub objects: Vec<DesiredObject>,
    /// Objects that cannot be synced (unknown kind without CRD, no name...), by name with the fix.
    pub errors: Vec<String>,
}

impl Prepared {
    pub fn gvks(&self) -> Vec<Gvk> {
        let set: BTreeSet<Gvk> = self
            .objects
            .iter()
            .filter(|o| !o.kind_pending)
            .map(|o| o.gvk.clone())
            .collect();
        set.into_iter().collect()
    }
}

/// CRDs in the render: (group, kind) → namespaced.
fn crd_scopes(rendered: &[Value]) -> HashMap<(String, String), bool> {
    rendered
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
        .filter_map(|o| {
            let spec = o.get("spec")?;
            let group = spec.get("group")?.as_str()?.to_string();
            let kind = spec.get("names")?.get("kind")?.as_str()?.to_string();
            let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
            Some(((group, kind), namespaced))
        })
        .collect()
}

/// Fill namespaces, add the tracking annotation, find kinds the cluster does not know.
pub async fn prepare(app: &App, rendered: Vec<Value>, cluster: &dyn Cluster) -> Prepared {
    let crds = crd_scopes(&rendered);
    let mut out = Prepared::default();
    let mut scope_cache: HashMap<Gvk, Result<bool, ClusterError>> = HashMap::new();
    let mut seen = BTreeSet::new();
    for mut obj in rendered {
        let Some(gvk) = Gvk::of(&obj) else {
            out.errors.push(format!(
                "{}: object without apiVersion/kind in the rendered manifests; fix the template",
                crate::cluster::describe(&obj)
            ));
            continue;
        };
        let name_ok = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !name_ok {
            out.errors.push(format!(
                "{} without metadata.name in the rendered manifests; fix the template",
                gvk
            ));
            continue;
        }
        let scope = match scope_cache.get(&gvk) {
            Some(r) => r.clone(),
            None => {
                let r = cluster.resolve(&gvk).await.map(|i| i.namespaced);
                scope_cache.insert(gvk.clone(), r.clone());
                r
            }
        };
        let (namespaced, pending) = match scope {
            Ok(n) => (n, false),
            Err(ClusterError::UnknownKind { .. }) => {
                match crds.get(&(gvk.group.clone(), gvk.kind.clone())) {
                    Some(n) => (*n, true),
                    None => {
                        out.errors.push(format!(
                            "{} {}: kind {} ({}) is not known to the cluster\n  install its CustomResourceDefinition (or the operator that provides it, e.g. External Secrets) first, or add the CRD to the chart's crds/",
                            gvk.kind,
                            obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(""),
                            gvk.kind,
                            gvk.api_version()
                        ));
                        continue;
                    }
                }
            }
            Err(e) => {
                out.errors.push(format!("{gvk}: {e}"));
                continue;
            }
        };
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        if namespaced {
            let empty = meta
                .get("namespace")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty {
                meta.insert(
                    "namespace".into(),
                    Value::String(app.destination.namespace.clone()),
                );
            }
        } else {
            meta.remove("namespace");
        }
        let Some(key) = ResourceKey::of(&obj) else {
            continue;
        };
        if !seen.insert(key.clone()) {
            out.errors.push(format!(
                "{key} is rendered twice; remove the duplicate from the manifests"
            ));
            continue;
        }
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let ann = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if !ann.is_object() {
                *ann = Value::Object(Default::default());
            }
            if let Some(ann) = ann.as_object_mut() {
                ann.insert(
                    TRACKING_ANNOTATION.into(),
                    Value::String(key.tracking_id(&app.name)),
                );
            }
        }
        let hook = health::is_hook(&obj);
        out.objects.push(DesiredObject {
            key,
            gvk,
            obj,
            hook,
            kind_pending: pending,
        });
    }
    out
}

/// One compared resource.
#[derive(Debug, Clone)]
pub struct CompareItem {
    pub key: ResourceKey,
    pub gvk: Option<Gvk>,
    pub desired: Option<DesiredObject>,
    pub live: Option<Arc<Value>>,
    /// Predicted live object after apply (server-side dry run or its fallback).
    pub predicted: Option<Value>,
    pub state: ResourceState,
    pub message: String,
    /// Another GitOps controller tracks the live object.
    pub foreign: Option<String>,
}

/// The result of comparing one App.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub items: Vec<CompareItem>,
    pub sync: SyncStatus,
    pub health: HealthStatus,
    pub health_message: String,
    pub conditions: Vec<Condition>,
}

impl Comparison {
    pub fn item(&self, key: &ResourceKey) -> Option<&CompareItem> {
        self.items.iter().find(|i| &i.key == key)
    }

    pub fn out_of_sync(&self) -> impl Iterator<Item = &CompareItem> {
        self.items
            .iter()
            .filter(|i| i.state != ResourceState::Synced && i.state != ResourceState::Child)
    }
}

#[derive(Clone)]
struct Memo {
    desired_hash: u64,
    live_rv: String,
    predicted: Value,
}

/// Compares one App; keeps the prediction memo between compares.
#[derive(Default)]
pub struct Comparer {
    memo: Mutex<HashMap<ResourceKey, Memo>>,
}

fn hash_value(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

fn rv(v: &Value) -> String {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Concurrency of dry-run requests.
const DRY_RUN_CONCURRENCY: usize = 16;

impl Comparer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget predictions (after a sync or hard refresh).
    pub fn clear(&self) {
        if let Ok(mut m) = self.memo.lock() {
            m.clear();
        }
    }

    pub async fn compare(&self, app: &App, prepared: &Prepared, cache: &LiveCache) -> Comparison {
        let cluster = cache.cluster().clone();
        let mut conditions: Vec<Condition> = prepared
            .errors
            .iter()
            .map(|e| Condition {
                kind: ConditionKind::ComparisonError,
                message: e.clone(),
            })
            .collect();
        // Predictions needed: desired, non-hook objects with a live counterpart.
        let mut todo = Vec::new();
        let mut items: Vec<CompareItem> = Vec::new();
        for d in &prepared.objects {
            let live = cache.get(&d.key);
            let foreign = live.as_deref().and_then(foreign_owner);
            let mut item = CompareItem {
                key: d.key.clone(),
                gvk: Some(d.gvk.clone()),
                desired: Some(d.clone()),
                live: live.clone(),
                predicted: None,
                state: ResourceState::Missing,
                message: String::new(),
                foreign,
            };
            if d.hook {
                // Hooks are not part of the sync status (Argo CD): they run during a sync.
                item.state = ResourceState::Synced;
                item.message = "hook".into();
            } else if let Some(live) = &live {
                let h = hash_value(&d.obj);
                let memo = self
                    .memo
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&d.key).cloned())
                    .filter(|m| m.desired_hash == h && m.live_rv == rv(live));
                match memo {
                    Some(m) => item.predicted = Some(m.predicted),
                    None => todo.push((items.len(), h, rv(live))),
                }
            }
            items.push(item);
        }
        // Owned, boxed futures: keeps this future `Send` for any caller lifetime.
        let jobs: Vec<futures::future::BoxFuture<'static, Result<Value, ClusterError>>> = todo
            .iter()
            .map(|(idx, _, _)| {
                let obj = items[*idx]
                    .desired
                    .as_ref()
                    .map(|d| d.obj.clone())
                    .unwrap_or(Value::Null);
                let c = cluster.clone();
                let fut: futures::future::BoxFuture<'static, Result<Value, ClusterError>> =
                    Box::pin(async move {
                        c.apply(
                            &obj,
                            ApplyOptions {
                                force: false,
                                dry_run: true,
                            },
                        )
                        .await
                    });
                fut
            })
            .collect();
        let results: Vec<Result<Value, ClusterError>> = futures::stream::iter(jobs)
            .buffered(DRY_RUN_CONCURRENCY)
            .collect()
            .await;
        let mut forbidden_noted = false;
        for ((idx, h, live_rv), res) in todo.into_iter().zip(results) {
            let item = &mut items[idx];
            match res {
                Ok(pred) => {
                    if let Ok(mut m) = self.memo.lock() {
                        m.insert(
                            item.key.clone(),
                            Memo {
                                desired_hash: h,
                                live_rv,
                                predicted: pred.clone(),
                            },
                        );
                    }
                    item.predicted = Some(pred);
                }
                Err(ClusterError::Conflict { conflicts, .. }) => {
                    // Fields we set are owned by another manager with other values: out of sync.
                    item.predicted = merge_prediction(item);
                    item.message = format!(
                        "fields owned by another manager: {}; sync with force to take them",
                        conflicts
                            .iter()
                            .map(|c| format!("{} ({})", c.field, c.manager))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                Err(e @ ClusterError::Forbidden { .. }) => {
                    item.predicted = merge_prediction(item);
                    if !forbidden_noted {
                        forbidden_noted = true;
                        conditions.push(Condition {
                            kind: ConditionKind::Info,
                            message: format!(
                                "server-side dry run not permitted, diff computed locally: {e}"
                            ),
                        });
                    }
                }
                Err(e) => {
                    item.predicted = merge_prediction(item);
                    item.message = format!("dry run failed: {e}");
                }
            }
        }
        // Decide states.
        for item in items.iter_mut() {
            if item.message == "hook" {
                continue;
            }
            match (&item.live, &item.predicted) {
                (None, _) => {
                    item.state = ResourceState::Missing;
                    if item.message.is_empty() {
                        item.message = if item.desired.as_ref().is_some_and(|d| d.kind_pending) {
                            "kind defined by a CRD in this sync".into()
                        } else {
                            "to create".into()
                        };
                    }
                }
                (Some(live), Some(pred)) => {
                    let ignore = ignore_pointers(app, &item.key);
                    let same = normalize(live, &ignore) == normalize(pred, &ignore);
                    item.state = if same && item.message.is_empty() {
                        ResourceState::Synced
                    } else {
                        ResourceState::OutOfSync
                    };
                }
                (Some(_), None) => item.state = ResourceState::OutOfSync,
            }
        }
        // Extras: tracked by this App, not desired.
        let desired_keys: BTreeSet<&ResourceKey> =
            prepared.objects.iter().map(|d| &d.key).collect();
        let mut extras = Vec::new();
        for (key, live) in cache.tracked(&app.name) {
            if desired_keys.contains(&key) {
                continue;
            }
            // Hooks left behind by a delete policy are not extras.
            if health::is_hook(&live) {
                continue;
            }
            extras.push(CompareItem {
                gvk: Gvk::of(&live),
                key,
                desired: None,
                foreign: foreign_owner(&live),
                live: Some(live),
                predicted: None,
                state: ResourceState::Extra,
                message: "not in Git: pruned by a sync with prune".into(),
            });
        }
        items.extend(extras);
        let sync = if items.iter().any(|i| {
            matches!(
                i.state,
                ResourceState::OutOfSync | ResourceState::Missing | ResourceState::Extra
            )
        }) {
            SyncStatus::OutOfSync
        } else if prepared.errors.is_empty() {
            SyncStatus::Synced
        } else {
            SyncStatus::Unknown
        };
        // Health: worst of the App's non-hook resources.
        let mut worst = HealthStatus::Healthy;
        let mut message = String::new();
        for i in &items {
            if i.desired.as_ref().is_some_and(|d| d.hook) {
                continue;
            }
            let h = health::resource_health(i.live.as_deref());
            if worst.is_worse(h.status) {
                worst = h.status;
                message = if h.message.is_empty() {
                    format!("{}: {}", i.key, h.status)
                } else {
                    format!("{}: {}", i.key, h.message)
                };
            }
        }
        let foreign: Vec<String> = items
            .iter()
            .filter_map(|i| i.foreign.as_ref().map(|f| format!("{} ({f})", i.key)))
            .collect();
        if !foreign.is_empty() {
            conditions.push(Condition {
                kind: ConditionKind::SharedResourceWarning,
                message: format!(
                    "tracked by another GitOps controller: {}; its self-heal would fight ours — sync only with force",
                    foreign.join(", ")
                ),
            });
        }
        Comparison {
            items,
            sync,
            health: worst,
            health_message: message,
            conditions,
        }
    }
}

/// Predict live after apply without the server: desired fields merged over live.
fn merge_prediction(item: &CompareItem) -> Option<Value> {
    let live = item.live.as_deref()?;
    let desired = &item.desired.as_ref()?.obj;
    let mut out = live.clone();
    merge_into(&mut out, desired);
    Some(out)
}

fn merge_into(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(tv) if tv.is_object() && v.is_object() => merge_into(tv, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// JSON pointers to ignore for `key` from the App's `ignoreDifferences`.
fn ignore_pointers(app: &App, key: &ResourceKey) -> Vec<String> {
    app.ignore_differences
        .iter()
        .filter(|d| {
            d.group == key.group
                && d.kind == key.kind
                && d.name.as_ref().is_none_or(|n| n == &key.name)
                && d.namespace.as_ref().is_none_or(|n| n == &key.namespace)
        })
        .flat_map(|d| d.json_pointers.iter().cloned())
        .collect()
}

/// Drop what the server manages (and ignored paths) so predicted and live compare equal when in sync.
pub fn normalize(obj: &Value, ignore: &[String]) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            m.remove(f);
        }
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            if a.is_empty() {
                m.remove("annotations");
            }
        }
    }
    for p in ignore {
        remove_pointer(&mut v, p);
    }
    v
}

fn remove_pointer(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    let target = if parent.is_empty() {
        Some(v)
    } else {
        v.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(o)) => {
            o.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Whether another GitOps controller (Argo CD) tracks `live`, and which app.
pub fn foreign_owner(live: &Value) -> Option<String> {
    let meta = live.get("metadata")?;
    if let Some(id) = meta
        .get("annotations")
        .and_then(|a| a.get("argocd.argoproj.io/tracking-id"))
        .and_then(Value::as_str)
    {
        let app = id.split(':').next().unwrap_or(id);
        return Some(format!("Argo CD app {app}"));
    }
    // The instance label alone is set by Helm charts too; it is Argo CD's only when Argo CD's
    // controller is among the field managers.
    let instance = meta
        .get("labels")
        .and_then(|l| l.get("app.kubernetes.io/instance"))
        .and_then(Value::as_str)?;
    let by_argo = meta
        .get("managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("manager").and_then(Value::as_str))
        .any(|m| m.starts_with("argocd"));
    by_argo.then(|| format!("Argo CD app {instance}"))
}

/// Mask Secret values: equal values get equal masks, distinct values distinct lengths, so a
/// change stays visible without showing anything.
pub fn mask_secret(obj: &Value) -> Value {
    let mut v = obj.clone();
    if v.get("kind").and_then(Value::as_str) != Some("Secret") {
        return v;
    }
    let mut seen: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(d) = v.get_mut(field).and_then(Value::as_object_mut) {
            for (_, val) in d.iter_mut() {
                let s = val.to_string();
                let idx = match seen.iter().position(|x| x == &s) {
                    Some(i) => i,
                    None => {
                        seen.push(s);
                        seen.len() - 1
                    }
                };
                *val = Value::String("+".repeat(8 + idx));
            }
        }
    }
    if let Some(a) = v
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    v
}

/// Mask both sides of a Secret diff consistently.
fn mask_pair(live: Option<&Value>, desired: Option<&Value>) -> (Option<Value>, Option<Value>) {
    let is_secret = live
        .or(desired)
        .and_then(|o| o.get("kind"))
        .and_then(Value::as_str)
        == Some("Secret");
    if !is_secret {
        return (live.cloned(), desired.cloned());
    }
    // Shared numbering so an unchanged value masks identically on both sides.
    let mut seen: Vec<String> = Vec::new();
    let mut mask = |o: &Value| {
        let mut v = o.clone();
        for field in ["data", "stringData"] {
            if let Some(d) = v.get_mut(field).and_then(Value::as_object_mut) {
                for (_, val) in d.iter_mut() {
                    let s = val.to_string();
                    let idx = match seen.iter().position(|x| x == &s) {
                        Some(i) => i,
                        None => {
                            seen.push(s);
                            seen.len() - 1
                        }
                    };
                    *val = Value::String("+".repeat(8 + idx));
                }
            }
        }
        v
    };
    (live.map(&mut mask), desired.map(&mut mask))
}

fn to_yaml(v: &Value) -> String {
    serde_saphyr::to_string(v)
        .unwrap_or_else(|_| serde_json::to_string_pretty(v).unwrap_or_default())
}

/// Unified diff live → predicted (or desired when missing), Secrets masked.
pub fn unified_diff(item: &CompareItem, ignore: &[String]) -> String {
    let live = item.live.as_deref().map(|l| normalize(l, ignore));
    let target = match item.state {
        ResourceState::Extra => None,
        _ => item
            .predicted
            .as_ref()
            .or(item.desired.as_ref().map(|d| &d.obj))
            .map(|p| normalize(p, ignore)),
    };
    let (live, target) = mask_pair(live.as_ref(), target.as_ref());
    let a = live.as_ref().map(to_yaml).unwrap_or_default();
    let b = target.as_ref().map(to_yaml).unwrap_or_default();
    let diff = similar::TextDiff::from_lines(&a, &b);
    diff.unified_diff()
        .context_radius(3)
        .header("live", "desired")
        .to_string()
}

/// Rows and diffs for the front ends. `children` adds ReplicaSets/Pods under workloads.
pub fn rows_and_diffs(
    app: &App,
    cmp: &Comparison,
    cache: &LiveCache,
) -> (Vec<ResourceRow>, Vec<ResourceDiff>) {
    let mut rows = Vec::new();
    let mut diffs = Vec::new();
    let mut seen: BTreeSet<ResourceKey> = BTreeSet::new();
    for i in &cmp.items {
        seen.insert(i.key.clone());
        let desired = i.desired.as_ref().map(|d| &d.obj);
        let h = health::resource_health(i.live.as_deref());
        let ann = |k: &str| {
            desired
                .or(i.live.as_deref())
                .and_then(|o| o.pointer("/metadata/annotations"))
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let wave = ann("argocd.argoproj.io/sync-wave")
            .and_then(|w| w.trim().parse().ok())
            .unwrap_or(0);
        let prune_disabled = ann("argocd.argoproj.io/sync-options")
            .is_some_and(|o| o.split(',').any(|x| x.trim() == "Prune=false"));
        rows.push(ResourceRow {
            key: i.key.clone(),
            version: i
                .gvk
                .as_ref()
                .map(|g| g.version.clone())
                .unwrap_or_default(),
            state: i.state,
            sync: match i.state {
                ResourceState::Synced => SyncStatus::Synced,
                _ => SyncStatus::OutOfSync,
            },
            health: Some(h.status),
            message: if i.message.is_empty() {
                h.message.clone()
            } else {
                i.message.clone()
            },
            owners: i
                .live
                .as_deref()
                .map(|l| owner_keys(l, &i.key.namespace))
                .unwrap_or_default(),
            wave,
            hook: i.desired.as_ref().is_some_and(|d| d.hook),
            prune_disabled,
            foreign_owner: i.foreign.clone(),
        });
        if i.state != ResourceState::Synced {
            diffs.push(ResourceDiff {
                key: i.key.clone(),
                state: i.state,
                unified: unified_diff(i, &ignore_pointers(app, &i.key)),
            });
        }
    }
    // Children for the tree (two levels: Deployment → ReplicaSet → Pod).
    let mut frontier: Vec<(String, String)> = cmp
        .items
        .iter()
        .filter_map(|i| {
            let uid = i.live.as_deref()?.pointer("/metadata/uid")?.as_str()?;
            Some((i.key.namespace.clone(), uid.to_string()))
        })
        .collect();
    for _ in 0..2 {
        let mut next = Vec::new();
        for (ns, uid) in &frontier {
            if ns.is_empty() {
                continue;
            }
            for (k, o) in cache.children(ns, uid) {
                if !seen.insert(k.clone()) {
                    continue;
                }
                let h = health::resource_health(Some(&o));
                rows.push(ResourceRow {
                    version: Gvk::of(&o).map(|g| g.version).unwrap_or_default(),
                    state: ResourceState::Child,
                    sync: SyncStatus::Synced,
                    health: Some(h.status),
                    message: h.message,
                    owners: owner_keys(&o, ns),
                    wave: 0,
                    hook: false,
                    prune_disabled: false,
                    foreign_owner: None,
                    key: k,
                });
                if let Some(u) = o.pointer("/metadata/uid").and_then(Value::as_str) {
                    next.push((ns.clone(), u.to_string()));
                }
            }
        }
        frontier = next;
    }
    (rows, diffs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalize_drops_server_fields() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "uid": "1", "resourceVersion": "5", "managedFields": [], "generation": 2,
                "creationTimestamp": "x", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"a": "1"}, "status": {"x": 1}});
        let n = normalize(&live, &[]);
        assert_eq!(
            n,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}})
        );
        let ign = normalize(&live, &["/data/a".to_string()]);
        assert_eq!(ign["data"], json!({}));
    }

    #[test]
    fn secrets_are_masked_consistently() {
        let a =
            json!({"kind": "Secret", "data": {"x": "c2VjcmV0", "y": "c2VjcmV0", "z": "b3RoZXI="}});
        let b = json!({"kind": "Secret", "data": {"x": "c2VjcmV0", "y": "bmV3", "z": "b3RoZXI="}});
        let (ma, mb) = mask_pair(Some(&a), Some(&b));
        let (ma, mb) = (ma.unwrap(), mb.unwrap());
        assert_eq!(
            ma["data"]["x"], mb["data"]["x"],
            "unchanged value masks the same"
        );
        assert_ne!(
            ma["data"]["y"], mb["data"]["y"],
            "changed value stays visible"
        );
        assert!(!ma.to_string().contains("c2VjcmV0"));
        assert!(!mb.to_string().contains("bmV3"));
        assert!(
            mask_secret(&a)["data"]["x"]
                .as_str()
                .unwrap()
                .starts_with("++++++++")
        );
    }

    #[test]
    fn foreign_owner_needs_argo_evidence() {
        let helm_only = json!({"metadata": {"labels": {"app.kubernetes.io/instance": "rel"}}});
        assert_eq!(foreign_owner(&helm_only), None);
        let argo = json!({"metadata": {"labels": {"app.kubernetes.io/instance": "rel"},
            "managedFields": [{"manager": "argocd-controller"}]}});
        assert_eq!(foreign_owner(&argo).as_deref(), Some("Argo CD app rel"));
        let ann = json!({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "guestbook:apps/Deployment:default/web"}}});
        assert_eq!(
            foreign_owner(&ann).as_deref(),
            Some("Argo CD app guestbook")
        );
    }

    #[test]
    fn merge_prediction_overlays_desired() {
        let mut live = json!({"spec": {"replicas": 5, "template": {"a": 1}}, "status": {}});
        merge_into(&mut live, &json!({"spec": {"replicas": 2}}));
        assert_eq!(live["spec"], json!({"replicas": 2, "template": {"a": 1}}));
    }
}
