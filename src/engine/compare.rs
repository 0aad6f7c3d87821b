//! Compare desired with live: server-side diff.
//!
//! 1. [`prepare`]: rendered objects → desired objects with the destination namespace filled in
//!    (discovery says which kinds are namespaced; kinds defined by a CRD in the same render are
//!    taken from that CRD) and the tracking annotation added.
//! 2. [`Comparer::compare`]: for each desired object with a live counterpart, a `dryRun=All`
//!    server-side apply gives the predicted live object; predicted and live are normalised and
//!    compared as each arrives, then dropped. The outcome (synced, or the diff) is memoised on
//!    (desired content, the App's ignoreDifferences, live resourceVersion), so a compare on a warm
//!    cache with nothing changed makes no request at all and holds no prediction. A live object
//!    whose newer version differs only in status (see [`LiveCache::compare_hash`]) keeps its
//!    outcome too: status never takes part in a comparison.
//!    When dry-run is forbidden (a view-only user), the prediction falls back to merging the
//!    desired fields into live, so diff still works without write rights.
//! 3. Tracked live objects that are no longer desired are extras (to prune).
//!
//! Over 600 lines: to become `compare/` with one desired-vs-live function (issue 16).

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::Value;

use super::api::{
    Condition, ConditionKind, HealthStatus, ResourceDiff, ResourceRow, ResourceState, SyncStatus,
};
use super::cache::{LiveCache, owner_keys};
use super::plan::{PlanOptions, SyncPhase, with_generated_name};
use super::{diff, health, ignore};
use crate::app::{App, IgnoreDifference};
use crate::cluster::{ApplyOptions, Cluster, ClusterError, FieldConflict, Gvk};
use crate::resource::{ResourceKey, TRACKING_ANNOTATION};

/// One desired object, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredObject {
    pub key: ResourceKey,
    pub gvk: Gvk,
    /// With namespace and tracking annotation. Shared: compare results and sync tasks refer to
    /// the same object instead of copying it.
    pub obj: Arc<Value>,
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

/// Non-empty `metadata.generateName` of an object.
fn generate_name_of(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
}

/// Whether `d` is a hook rendered with only `metadata.generateName`.
pub fn has_generated_name(d: &DesiredObject) -> bool {
    d.hook
        && d.obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        && generate_name_of(&d.obj).is_some()
}

/// The run of a hook rendered with only `generateName` in `phase` of the sync of `revision`
/// started at `started_at_unix`: the object named as Argo CD names it
/// (`<generateName><revision[:7]>-<phase>-<start>`, see [`plan`](super::plan)), with its key and
/// tracking id following the name. Other objects are returned as they are.
pub fn named_hook(
    d: &DesiredObject,
    app: &str,
    phase: SyncPhase,
    revision: &str,
    started_at_unix: i64,
) -> DesiredObject {
    if !has_generated_name(d) {
        return d.clone();
    }
    let opts = PlanOptions {
        revision: revision.to_string(),
        started_at_unix,
        ..PlanOptions::default()
    };
    let mut obj = with_generated_name(&d.obj, phase, &opts);
    let key = ResourceKey::of(&obj).unwrap_or_else(|| d.key.clone());
    if let Some(ann) = obj
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        ann.insert(
            TRACKING_ANNOTATION.into(),
            Value::String(key.tracking_id(app)),
        );
    }
    DesiredObject {
        key,
        gvk: d.gvk.clone(),
        obj: Arc::new(obj),
        hook: true,
        kind_pending: d.kind_pending,
    }
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
        // Argo CD hooks may have only `generateName` (`generateName: db-migrate-` with
        // `argocd.argoproj.io/hook: PreSync`): each run is created under a fresh name (see
        // [`named_hook`]), so only hooks may go without a name.
        let generate_name = generate_name_of(&obj).filter(|_| health::is_hook(&obj));
        if !name_ok && generate_name.is_none() {
            out.errors.push(match generate_name_of(&obj) {
                Some(g) => format!(
                    "{gvk} with generateName {g:?} but no metadata.name in the rendered manifests: only hooks (annotation argocd.argoproj.io/hook) may go without a name; set metadata.name in the template"
                ),
                None => format!(
                    "{gvk} without metadata.name in the rendered manifests; set metadata.name in the template"
                ),
            });
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
        let key = match (&generate_name, ResourceKey::of(&obj)) {
            (_, Some(k)) if name_ok => k,
            // Stands for the hook until a sync names it; no live object has this name.
            (Some(g), _) => ResourceKey::new(
                &gvk.group,
                &gvk.kind,
                obj.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                g,
            ),
            _ => continue,
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
            obj: Arc::new(obj),
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
    /// Shares the desired object with the [`Prepared`] it came from.
    pub desired: Option<DesiredObject>,
    /// As the live cache holds it: without `metadata.managedFields` (kept only when an
    /// `ignoreDifferences.managedFieldsManagers` rule reads them) and the last-applied annotation.
    pub live: Option<Arc<Value>>,
    pub state: ResourceState,
    pub message: String,
    /// Another GitOps controller tracks the live object.
    pub foreign: Option<String>,
    /// Unified diff live → desired (Secrets masked), from `engine::diff`; empty when Synced.
    pub diff: String,
    /// The prediction was computed locally (dry run not possible), not by the server.
    pub predicted_locally: bool,
    /// Ignored fields (ignoreDifferences) whose live value differs from Git's, as
    /// `/spec/replicas: 6 → 1`: they never make the item OutOfSync, but a sync without
    /// `RespectIgnoreDifferences=true` overwrites them.
    pub ignored: Vec<String>,
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

/// What comparing a server prediction with live found. Only this is memoised, never the
/// prediction itself: a warm compare needs nothing else, and 10,000 retained predictions cost
/// as much memory as the live cache.
#[derive(Clone)]
enum Outcome {
    Synced {
        ignored: Vec<String>,
    },
    OutOfSync {
        diff: String,
        ignored: Vec<String>,
    },
    /// `engine::diff` refused the comparison (e.g. a bad ignoreDifferences rule).
    Failed {
        message: String,
    },
}

impl Outcome {
    fn apply_to(self, item: &mut CompareItem) {
        match self {
            Outcome::Synced { ignored } => {
                item.state = ResourceState::Synced;
                item.ignored = ignored;
            }
            Outcome::OutOfSync { diff, ignored } => {
                item.state = ResourceState::OutOfSync;
                item.diff = diff;
                item.ignored = ignored;
            }
            Outcome::Failed { message } => {
                item.state = ResourceState::OutOfSync;
                item.message = message;
            }
        }
    }
}

/// What an outcome was computed from.
struct MemoKey {
    /// Hash of the desired object and of the App's ignoreDifferences.
    desired_hash: u64,
    live_rv: String,
    /// [`LiveCache::compare_hash`] of that live version: a newer resourceVersion with the same
    /// hash (a status-only update) reuses the outcome instead of a new dry run.
    live_hash: Option<u64>,
}

struct Memo {
    key: MemoKey,
    outcome: Outcome,
}

/// Compares one App; keeps the outcome memo between compares.
#[derive(Default)]
pub struct Comparer {
    memo: Mutex<HashMap<ResourceKey, Memo>>,
}

/// Feeds serialised JSON straight into a hasher (no intermediate string per object).
struct HashWriter<'a, H: Hasher>(&'a mut H);

impl<H: Hasher> std::io::Write for HashWriter<'_, H> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hash_value(v: &Value, seed: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    // Writing into a hasher cannot fail; a serialisation error would only weaken the memo key
    // for this object, and `Value` always serialises.
    let _ = serde_json::to_writer(HashWriter(&mut h), v);
    h.finish()
}

/// Outcomes depend on the App's ignoreDifferences too: a changed rule must not reuse them.
fn hash_rules(rules: &[IgnoreDifference]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{rules:?}").hash(&mut h);
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

/// A dry run to make: item index, memo key, desired object.
type DryRun = (usize, MemoKey, Arc<Value>);
/// Item index, memo key, the conflicts of a non-forced dry run (then retried with force), and the
/// prediction.
type DryRunDone = (
    usize,
    MemoKey,
    Vec<FieldConflict>,
    Result<Value, ClusterError>,
);

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

    /// The memoised outcome for `key` if it was computed from this desired object and live
    /// version, or from an older live version that differs only in status.
    fn recall(
        &self,
        key: &ResourceKey,
        desired_hash: u64,
        live_rv: &str,
        cache: &LiveCache,
    ) -> Option<Outcome> {
        let mut memo = self.memo.lock().ok()?;
        let entry = memo
            .get_mut(key)
            .filter(|e| e.key.desired_hash == desired_hash)?;
        if entry.key.live_rv != live_rv {
            let now = cache.compare_hash(key, live_rv)?;
            if entry.key.live_hash != Some(now) {
                return None;
            }
            entry.key.live_rv = live_rv.to_string();
        }
        Some(entry.outcome.clone())
    }

    pub async fn compare(&self, app: &App, prepared: &Prepared, cache: &LiveCache) -> Comparison {
        let cluster = cache.cluster().clone();
        let rules = &app.ignore_differences;
        let rules_hash = hash_rules(rules);
        let mut conditions: Vec<Condition> = prepared
            .errors
            .iter()
            .map(|e| Condition {
                kind: ConditionKind::ComparisonError,
                message: e.clone(),
            })
            .collect();
        // Predictions needed: desired, non-hook objects with a live counterpart.
        let mut todo: Vec<DryRun> = Vec::new();
        let mut items: Vec<CompareItem> = Vec::with_capacity(prepared.objects.len());
        for d in &prepared.objects {
            // managedFields are read only for managedFieldsManagers rules; one read of the
            // cache, so live and its managedFields are the same version.
            let live = if diff::needs_live_managed_fields(&d.key, rules) {
                cache.get_with_managed_fields(&d.key).map(Arc::new)
            } else {
                cache.get(&d.key)
            };
            let foreign = live.as_deref().and_then(diff::foreign_owner);
            let mut item = CompareItem {
                key: d.key.clone(),
                gvk: Some(d.gvk.clone()),
                desired: Some(d.clone()),
                live,
                state: ResourceState::Missing,
                message: String::new(),
                foreign,
                diff: String::new(),
                predicted_locally: false,
                ignored: Vec::new(),
            };
            if d.hook {
                // Hooks are not part of the sync status (Argo CD): they run during a sync.
                item.state = ResourceState::Synced;
                item.message = "hook".into();
            } else if let Some(live) = &item.live {
                let desired_hash = hash_value(&d.obj, rules_hash);
                let live_rv = rv(live);
                match self.recall(&d.key, desired_hash, &live_rv, cache) {
                    Some(outcome) => outcome.apply_to(&mut item),
                    None => {
                        let live_hash = cache.compare_hash(&d.key, &live_rv);
                        let key = MemoKey {
                            desired_hash,
                            live_rv,
                            live_hash,
                        };
                        todo.push((items.len(), key, d.obj.clone()));
                    }
                }
            } else {
                item.message = if d.kind_pending {
                    "kind defined by a CRD in this sync".into()
                } else {
                    "to create".into()
                };
                let opts = diff::DiffOptions {
                    ignore_differences: rules,
                    ..diff::DiffOptions::default()
                };
                match diff::compare(&d.key, Some(&d.obj), None, &opts) {
                    Ok(r) => item.diff = r.diff,
                    Err(e) => item.message = e.to_string(),
                }
            }
            items.push(item);
        }
        // Dry runs, DRY_RUN_CONCURRENCY in flight; each prediction is compared as soon as it
        // arrives and dropped, so at most a handful are held at once. Owned, boxed futures keep
        // this future `Send` for any caller lifetime.
        let mut results = futures::stream::iter(todo.into_iter().map(move |(idx, key, obj)| {
            let c = cluster.clone();
            let fut: futures::future::BoxFuture<'static, DryRunDone> = Box::pin(async move {
                let opts = ApplyOptions {
                    force: false,
                    dry_run: true,
                };
                match c.apply(&obj, opts).await {
                    // Fields another manager owns (a `kubectl scale`, an HPA): the server still
                    // predicts the result of taking them, as Argo CD's forced dry run does, so
                    // the comparison normalises exactly like any other; the conflicts are
                    // reported below unless ignoreDifferences covers them.
                    Err(ClusterError::Conflict { conflicts, .. }) => {
                        let forced = ApplyOptions {
                            force: true,
                            dry_run: true,
                        };
                        let res = c.apply(&obj, forced).await;
                        (idx, key, conflicts, res)
                    }
                    res => (idx, key, Vec::new(), res),
                }
            });
            fut
        }))
        .buffered(DRY_RUN_CONCURRENCY);
        let mut forbidden_noted = false;
        while let Some((idx, memo_key, conflicts, res)) = results.next().await {
            let item = &mut items[idx];
            let live = item.live.clone();
            let taken: Vec<&FieldConflict> = conflicts
                .iter()
                .filter(|c| {
                    live.as_deref()
                        .is_none_or(|l| !ignore::conflict_ignored(&item.key, c, l, rules))
                })
                .collect();
            if !taken.is_empty() {
                item.message = format!(
                    "fields owned by another manager: {}; sync with force to take them",
                    taken
                        .iter()
                        .map(|c| format!("{} ({})", c.field, c.manager))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let predicted = match res {
                Ok(pred) => Some(pred),
                Err(ClusterError::Conflict { conflicts, .. }) => {
                    // Fields we set are owned by another manager with other values: out of sync.
                    item.predicted_locally = true;
                    item.message = format!(
                        "fields owned by another manager: {}; sync with force to take them",
                        conflicts
                            .iter()
                            .map(|c| format!("{} ({})", c.field, c.manager))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    merge_prediction(item)
                }
                Err(e @ ClusterError::Forbidden { .. }) => {
                    item.predicted_locally = true;
                    if !forbidden_noted {
                        forbidden_noted = true;
                        conditions.push(Condition {
                            kind: ConditionKind::Info,
                            message: format!(
                                "server-side dry run not permitted, diff computed locally: {e}"
                            ),
                        });
                    }
                    merge_prediction(item)
                }
                Err(e) => {
                    item.predicted_locally = true;
                    item.message = format!("dry run failed: {e}");
                    merge_prediction(item)
                }
            };
            let outcome = decide(item, predicted.as_ref(), rules);
            if let Some(outcome) = outcome
                && let Ok(mut m) = self.memo.lock()
            {
                m.insert(
                    item.key.clone(),
                    Memo {
                        key: memo_key,
                        outcome,
                    },
                );
            }
        }
        drop(results);
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
            let opts = diff::DiffOptions {
                ignore_differences: rules,
                ..diff::DiffOptions::default()
            };
            let d = diff::compare(&key, None, Some(&live), &opts)
                .map(|d| d.diff)
                .unwrap_or_default();
            extras.push(CompareItem {
                gvk: Gvk::of(&live),
                key,
                desired: None,
                foreign: diff::foreign_owner(&live),
                live: Some(live),
                state: ResourceState::Extra,
                message: "not in Git: pruned by a sync with prune".into(),
                diff: d,
                predicted_locally: false,
                ignored: Vec::new(),
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

/// Compare one item's prediction with its live object: sets state, diff and (on error) message.
/// Returns the outcome to memoise: only for server predictions that raised no message (a local
/// prediction or a conflict is worked out again next time, with a new dry run).
fn decide(
    item: &mut CompareItem,
    predicted: Option<&Value>,
    rules: &[IgnoreDifference],
) -> Option<Outcome> {
    let (Some(live), Some(pred)) = (item.live.as_deref(), predicted) else {
        item.state = ResourceState::OutOfSync;
        return None;
    };
    let memoise = !item.predicted_locally && item.message.is_empty();
    let opts = diff::DiffOptions {
        ignore_differences: rules,
        // A local prediction has no managedFields of ours to filter webhooks by.
        ignore_mutation_webhook: !item.predicted_locally,
        ..diff::DiffOptions::default()
    };
    match diff::compare(&item.key, Some(pred), Some(live), &opts) {
        Ok(d) => {
            // Only an error in the rules could fail here, and compare just accepted them.
            item.ignored =
                ignore::ignored_changes(&item.key, pred, live, &opts).unwrap_or_default();
            let synced = d.status == diff::DiffStatus::Synced;
            item.state = if synced && item.message.is_empty() {
                ResourceState::Synced
            } else {
                ResourceState::OutOfSync
            };
            item.diff = d.diff;
            memoise.then(|| {
                if synced {
                    Outcome::Synced {
                        ignored: item.ignored.clone(),
                    }
                } else {
                    Outcome::OutOfSync {
                        diff: item.diff.clone(),
                        ignored: item.ignored.clone(),
                    }
                }
            })
        }
        Err(e) => {
            item.state = ResourceState::OutOfSync;
            item.message = e.to_string();
            memoise.then(|| Outcome::Failed {
                message: item.message.clone(),
            })
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

/// Rows and diffs for the front ends. `children` adds ReplicaSets/Pods under workloads.
pub fn rows_and_diffs(
    cmp: &Comparison,
    cache: &LiveCache,
) -> (Vec<ResourceRow>, Vec<ResourceDiff>) {
    let mut rows = Vec::new();
    let mut diffs = Vec::new();
    let mut seen: BTreeSet<ResourceKey> = BTreeSet::new();
    for i in &cmp.items {
        seen.insert(i.key.clone());
        let desired = i.desired.as_ref().map(|d| &*d.obj);
        let hook = i.desired.as_ref().is_some_and(|d| d.hook);
        // As Argo CD: no health for kinds without a health check (ConfigMap, Secret, ...) nor
        // for a hook's own row; Missing when a desired object is not in the cluster.
        let h = match i.live.as_deref() {
            _ if hook => None,
            None => Some(health::resource_health(None)),
            Some(live) => health::assess(live),
        };
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
                ResourceState::Unknown => SyncStatus::Unknown,
                _ => SyncStatus::OutOfSync,
            },
            health: h.as_ref().map(|h| h.status),
            message: match &h {
                Some(h) if i.message.is_empty() => h.message.clone(),
                _ => i.message.clone(),
            },
            owners: i
                .live
                .as_deref()
                .map(|l| owner_keys(l, &i.key.namespace))
                .unwrap_or_default(),
            wave,
            hook,
            prune_disabled,
            foreign_owner: i.foreign.clone(),
            ignored_changes: i.ignored.clone(),
            pod: None,
        });
        if !matches!(i.state, ResourceState::Synced | ResourceState::Unknown) {
            diffs.push(ResourceDiff {
                key: i.key.clone(),
                state: i.state,
                unified: i.diff.clone(),
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
                let h = health::assess(&o);
                rows.push(ResourceRow {
                    version: Gvk::of(&o).map(|g| g.version).unwrap_or_default(),
                    state: ResourceState::Child,
                    sync: SyncStatus::Synced,
                    health: h.as_ref().map(|h| h.status),
                    message: h.map(|h| h.message).unwrap_or_default(),
                    owners: owner_keys(&o, ns),
                    wave: 0,
                    hook: false,
                    prune_disabled: false,
                    foreign_owner: None,
                    ignored_changes: Vec::new(),
                    pod: super::pods::details_of(&o),
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

    /// A PreSync hook with only `generateName` is accepted, stands under its generateName until
    /// a sync names it, and does not count for the sync status; a non-hook object with only
    /// `generateName` is still refused, naming it and the fix.
    #[tokio::test]
    async fn generate_name_hooks_are_accepted_named_per_run_and_kept_out_of_sync_status() {
        let cluster: Arc<dyn Cluster> =
            Arc::new(crate::cluster::sandbox::SandboxCluster::default());
        let app = crate::cli::session::tests::app("shop", "prod");
        let hook = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"generateName": "db-migrate-",
                "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
            "spec": {"template": {"spec": {"containers": []}}}});
        let plain = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"generateName": "settings-"}, "data": {"a": "1"}});
        let p = prepare(&app, vec![hook, plain], cluster.as_ref()).await;
        assert_eq!(p.objects.len(), 1, "{:?}", p.errors);
        let d = &p.objects[0];
        assert!(d.hook);
        assert!(has_generated_name(d));
        assert_eq!(
            d.key,
            ResourceKey::new("batch", "Job", "shop", "db-migrate-")
        );
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        let e = &p.errors[0];
        assert!(
            e.contains("ConfigMap")
                && e.contains("\"settings-\"")
                && e.contains("argocd.argoproj.io/hook")
                && e.contains("set metadata.name"),
            "{e}"
        );

        // Hooks never make the App OutOfSync.
        let only_hook = Prepared {
            objects: p.objects.clone(),
            errors: Vec::new(),
        };
        let cache = LiveCache::new(cluster);
        let c = Comparer::new().compare(&app, &only_hook, &cache).await;
        assert_eq!(c.sync, SyncStatus::Synced);
        assert_eq!(c.items.len(), 1);
        assert_eq!(c.items[0].state, ResourceState::Synced);

        // Each run gets Argo CD's name; key and tracking id follow it.
        let run = named_hook(d, "shop", SyncPhase::PreSync, "ABCDEF0123", 1_700_000_000);
        let name = "db-migrate-abcdef0-presync-1700000000";
        assert_eq!(run.key, ResourceKey::new("batch", "Job", "shop", name));
        assert_eq!(run.obj["metadata"]["name"], json!(name));
        assert_eq!(
            run.obj["metadata"]["annotations"][TRACKING_ANNOTATION],
            json!(run.key.tracking_id("shop"))
        );
        assert!(!has_generated_name(&run));
        // An object with a name keeps it.
        assert_eq!(
            named_hook(&run, "shop", SyncPhase::PostSync, "ffffffff", 1),
            run
        );
    }

    #[tokio::test]
    async fn outcomes_survive_status_only_updates_but_not_spec_changes() {
        let cluster: Arc<dyn Cluster> =
            Arc::new(crate::cluster::sandbox::SandboxCluster::default());
        let cache = LiveCache::new(cluster);
        let gvk = Gvk {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
        };
        cache.ensure(std::slice::from_ref(&gvk));
        cache
            .wait_ready(&[gvk], std::time::Duration::from_secs(10))
            .await
            .expect("watch ready");
        let live = |rv: &str, replicas: i64, ready: i64| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "n", "resourceVersion": rv},
                "spec": {"replicas": replicas}, "status": {"readyReplicas": ready}})
        };
        let key = ResourceKey::new("apps", "Deployment", "n", "web");
        cache.observe(&live("5", 2, 0));
        let comparer = Comparer::new();
        comparer.memo.lock().expect("memo").insert(
            key.clone(),
            Memo {
                key: MemoKey {
                    desired_hash: 1,
                    live_rv: "5".into(),
                    live_hash: cache.compare_hash(&key, "5"),
                },
                outcome: Outcome::OutOfSync {
                    diff: "the diff".into(),
                    ignored: Vec::new(),
                },
            },
        );
        assert!(matches!(
            comparer.recall(&key, 1, "5", &cache),
            Some(Outcome::OutOfSync { diff, .. }) if diff == "the diff"
        ));
        // Another desired object: no outcome.
        assert!(comparer.recall(&key, 2, "5", &cache).is_none());
        // The controller updates the status: same outcome, and the memo follows the new version.
        cache.observe(&live("6", 2, 2));
        assert!(comparer.recall(&key, 1, "6", &cache).is_some());
        assert_eq!(comparer.memo.lock().expect("memo")[&key].key.live_rv, "6");
        // The caller's snapshot is older than the cache: no outcome (no hash to check against).
        assert!(comparer.recall(&key, 1, "5", &cache).is_none());
        // Someone scales it: a new dry run is needed.
        cache.observe(&live("7", 3, 2));
        assert!(comparer.recall(&key, 1, "7", &cache).is_none());
    }

    #[test]
    fn merge_prediction_overlays_desired() {
        let mut live = json!({"spec": {"replicas": 5, "template": {"a": 1}}, "status": {}});
        merge_into(&mut live, &json!({"spec": {"replicas": 2}}));
        assert_eq!(live["spec"], json!({"replicas": 2, "template": {"a": 1}}));
    }
}
