//! Live cache of one cluster, fed by watches (kube-runtime reflectors behind [`Cluster::watch`]),
//! so a refresh or compare reads memory instead of re-listing the cluster.
//!
//! Kinds are watched on demand: the engine calls [`LiveCache::ensure`] with the kinds an App
//! renders (plus the kinds it synced before, so extras of a kind no longer rendered are still
//! found, and ReplicaSets/Pods for the resource tree). Every change bumps a generation counter
//! that the reconcile loop watches to detect drift.
//!
//! Memory: the cache holds every object of the watched kinds in the cluster, so each is stored
//! slimmed. `metadata.managedFields` is kept aside as compact JSON text (about a tenth of its
//! parsed size): only `ignoreDifferences.managedFieldsManagers` reads it, through
//! [`LiveCache::get_with_managed_fields`]. The kubectl last-applied annotation (a second copy of
//! the object) is dropped: every comparison removes it before comparing.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;

use super::diff::LAST_APPLIED_ANNOTATION;
use crate::cluster::{Cluster, ClusterError, Gvk, WatchEvent};
use crate::resource::{ResourceKey, TRACKING_ANNOTATION};

/// Group and kind: the cache's unit (versions are views of the same objects).
pub type GroupKind = (String, String);

/// One cached live object.
struct Cached {
    /// Without `metadata.managedFields` and the last-applied annotation.
    obj: Arc<Value>,
    /// `metadata.managedFields` serialised as JSON, when the object had them.
    managed_fields: Option<Box<str>>,
}

impl Cached {
    fn new(mut obj: Value) -> Self {
        let mut managed_fields = None;
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            if let Some(mf) = meta.remove("managedFields") {
                managed_fields = serde_json::to_string(&mf).ok().map(String::into_boxed_str);
            }
            let empty = match meta.get_mut("annotations") {
                Some(Value::Object(a)) => {
                    a.remove(LAST_APPLIED_ANNOTATION);
                    a.is_empty()
                }
                _ => false,
            };
            if empty {
                meta.remove("annotations");
            }
        }
        Self {
            obj: Arc::new(obj),
            managed_fields,
        }
    }

    /// A hash of what a comparison with this object depends on: everything but `status`,
    /// `metadata.resourceVersion`, and in managedFields the entries of the `status` subresource
    /// and every entry's `time`. A controller updating only the status (a Deployment's pods
    /// becoming ready) changes the resourceVersion but not this hash.
    fn compare_hash(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if let Value::Object(top) = &*self.obj {
            for (k, v) in top {
                match (k.as_str(), v) {
                    ("status", _) => continue,
                    ("metadata", Value::Object(meta)) => {
                        k.hash(&mut h);
                        for (mk, mv) in meta {
                            if mk != "resourceVersion" {
                                mk.hash(&mut h);
                                hash_json(&mut h, mv);
                            }
                        }
                    }
                    _ => {
                        k.hash(&mut h);
                        hash_json(&mut h, v);
                    }
                }
            }
        }
        let managed = self
            .managed_fields
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok());
        for entry in managed.iter().filter_map(Value::as_array).flatten() {
            if entry.get("subresource").and_then(Value::as_str) == Some("status") {
                continue;
            }
            for (k, v) in entry.as_object().into_iter().flatten() {
                if k != "time" {
                    k.hash(&mut h);
                    hash_json(&mut h, v);
                }
            }
        }
        h.finish()
    }

    /// The object with its managedFields put back.
    fn full(&self) -> Value {
        let mut obj = Value::clone(&self.obj);
        if let Some(mf) = self
            .managed_fields
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert("managedFields".into(), mf);
        }
        obj
    }
}

#[derive(Default)]
struct KindStore {
    objects: HashMap<ResourceKey, Cached>,
    /// The first full list has arrived.
    synced: bool,
    /// The last watch error, cleared by the next successful event.
    error: Option<ClusterError>,
}

/// The live objects of one cluster, per watched kind.
pub struct LiveCache {
    cluster: Arc<dyn Cluster>,
    kinds: Arc<RwLock<HashMap<GroupKind, KindStore>>>,
    started: std::sync::Mutex<HashSet<GroupKind>>,
    changed: watch::Sender<u64>,
}

impl LiveCache {
    pub fn new(cluster: Arc<dyn Cluster>) -> Arc<Self> {
        let (changed, _) = watch::channel(0);
        Arc::new(Self {
            cluster,
            kinds: Arc::new(RwLock::new(HashMap::new())),
            started: std::sync::Mutex::new(HashSet::new()),
            changed,
        })
    }

    pub fn cluster(&self) -> &Arc<dyn Cluster> {
        &self.cluster
    }

    /// A receiver whose value changes whenever a watched object changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Start watches for kinds not watched yet. Must be called within a tokio runtime.
    pub fn ensure(self: &Arc<Self>, gvks: &[Gvk]) {
        for gvk in gvks {
            let gk = (gvk.group.clone(), gvk.kind.clone());
            {
                let Ok(mut started) = self.started.lock() else {
                    return;
                };
                if !started.insert(gk.clone()) {
                    continue;
                }
            }
            if let Ok(mut kinds) = self.kinds.write() {
                kinds.entry(gk.clone()).or_default();
            }
            let this = Arc::downgrade(self);
            let mut stream = self.cluster.watch(gvk.clone());
            tokio::spawn(async move {
                while let Some(ev) = stream.next().await {
                    // The cache was dropped: stop watching.
                    let Some(cache) = this.upgrade() else { return };
                    cache.handle(&gk, ev);
                }
            });
        }
    }

    fn handle(&self, gk: &GroupKind, ev: WatchEvent) {
        {
            let Ok(mut kinds) = self.kinds.write() else {
                return;
            };
            let store = kinds.entry(gk.clone()).or_default();
            match ev {
                WatchEvent::Restarted(list) => {
                    // Drop the old objects before converting the new list: a re-list of a large
                    // kind would otherwise hold both at once (under the lock, so no reader sees
                    // the store in between).
                    store.objects.clear();
                    store.objects.extend(
                        list.into_iter()
                            .filter_map(|o| ResourceKey::of(&o).map(|k| (k, Cached::new(o)))),
                    );
                    store.objects.shrink_to_fit();
                    store.synced = true;
                    store.error = None;
                }
                WatchEvent::Applied(o) => {
                    if let Some(k) = ResourceKey::of(&o) {
                        store.objects.insert(k, Cached::new(o));
                    }
                    store.error = None;
                }
                WatchEvent::Deleted(o) => {
                    if let Some(k) = ResourceKey::of(&o) {
                        store.objects.remove(&k);
                    }
                    store.error = None;
                }
                WatchEvent::Error(e) => {
                    store.error = Some(e);
                }
            }
        }
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Record an object we just wrote (the watch event follows; this avoids a stale read).
    pub fn observe(&self, obj: &Value) {
        let Some(k) = ResourceKey::of(obj) else {
            return;
        };
        if let Ok(mut kinds) = self.kinds.write()
            && let Some(store) = kinds.get_mut(&(k.group.clone(), k.kind.clone()))
        {
            // Never replace a newer object with an older one.
            let newer = store
                .objects
                .get(&k)
                .and_then(|cur| resource_version(&cur.obj))
                .zip(resource_version(obj))
                .is_none_or(|(cur, new)| new >= cur);
            if newer {
                store.objects.insert(k, Cached::new(obj.clone()));
            }
        }
    }

    /// Forget an object we just deleted.
    pub fn forget(&self, key: &ResourceKey) {
        if let Ok(mut kinds) = self.kinds.write()
            && let Some(store) = kinds.get_mut(&(key.group.clone(), key.kind.clone()))
        {
            store.objects.remove(key);
        }
    }

    /// Wait until every kind in `gvks` has its first list, or report the first watch error
    /// (unknown kind, forbidden, unreachable) once `timeout` has passed.
    pub async fn wait_ready(&self, gvks: &[Gvk], timeout: Duration) -> Result<(), ClusterError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.subscribe();
        loop {
            let mut pending = None;
            {
                let kinds = self.kinds.read().map_err(|_| ClusterError::Other {
                    message: "live cache poisoned".into(),
                })?;
                for gvk in gvks {
                    match kinds.get(&(gvk.group.clone(), gvk.kind.clone())) {
                        Some(s) if s.synced => {}
                        Some(s) => {
                            pending = Some(s.error.clone());
                            // Errors that will not go away by waiting fail fast. So does an
                            // unreachable server for a kind never listed (a stopped cluster at
                            // start-up): the App says so at once instead of "loading" for the
                            // whole timeout, and the watch keeps retrying meanwhile.
                            if let Some(e) = &s.error
                                && matches!(
                                    e,
                                    ClusterError::Forbidden { .. }
                                        | ClusterError::Unreachable { .. }
                                )
                            {
                                return Err(e.clone());
                            }
                        }
                        None => pending = Some(None),
                    }
                }
            }
            let Some(err) = pending else { return Ok(()) };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(err.unwrap_or_else(|| ClusterError::Unreachable {
                    cluster: self.cluster.name().to_string(),
                    message: format!("no answer to the watch within {timeout:?}"),
                }));
            }
            let _ = tokio::time::timeout(deadline - now, rx.changed()).await;
        }
    }

    /// Whether the kind's first list has arrived.
    pub fn is_synced(&self, group: &str, kind: &str) -> bool {
        self.kinds
            .read()
            .ok()
            .and_then(|k| k.get(&(group.into(), kind.into())).map(|s| s.synced))
            .unwrap_or(false)
    }

    /// The current error of a kind's watch, if any.
    pub fn error(&self, group: &str, kind: &str) -> Option<ClusterError> {
        self.kinds.read().ok().and_then(|k| {
            k.get(&(group.into(), kind.into()))
                .and_then(|s| s.error.clone())
        })
    }

    /// The live object, without `metadata.managedFields` and the last-applied annotation.
    pub fn get(&self, key: &ResourceKey) -> Option<Arc<Value>> {
        let kinds = self.kinds.read().ok()?;
        kinds
            .get(&(key.group.clone(), key.kind.clone()))?
            .objects
            .get(key)
            .map(|c| c.obj.clone())
    }

    /// [`Cached::compare_hash`] of the live object, if it is still at `resource_version`: lets a
    /// compare reuse its outcome across status-only updates without a new dry run.
    pub fn compare_hash(&self, key: &ResourceKey, resource_version: &str) -> Option<u64> {
        let kinds = self.kinds.read().ok()?;
        let cached = kinds
            .get(&(key.group.clone(), key.kind.clone()))?
            .objects
            .get(key)?;
        let current = cached
            .obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        (current == Some(resource_version)).then(|| cached.compare_hash())
    }

    /// The live object with its `metadata.managedFields` (a copy, for the few comparisons that
    /// read them: `ignoreDifferences.managedFieldsManagers`).
    pub fn get_with_managed_fields(&self, key: &ResourceKey) -> Option<Value> {
        let kinds = self.kinds.read().ok()?;
        kinds
            .get(&(key.group.clone(), key.kind.clone()))?
            .objects
            .get(key)
            .map(Cached::full)
    }

    /// Objects carrying `app`'s tracking id whose id names the object itself (a copied
    /// annotation on another object does not count).
    pub fn tracked(&self, app: &str) -> Vec<(ResourceKey, Arc<Value>)> {
        let Ok(kinds) = self.kinds.read() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for store in kinds.values() {
            for (k, c) in &store.objects {
                let o = &c.obj;
                if let Some((a, tk)) = tracking_of(o)
                    && a == app
                    && tk.group == k.group
                    && tk.kind == k.kind
                    && tk.name == k.name
                    && tk.namespace == k.namespace
                {
                    out.push((k.clone(), o.clone()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Objects of a kind in a namespace (all namespaces when empty).
    pub fn list(&self, group: &str, kind: &str, namespace: &str) -> Vec<Arc<Value>> {
        let Ok(kinds) = self.kinds.read() else {
            return Vec::new();
        };
        kinds
            .get(&(group.into(), kind.into()))
            .map(|s| {
                s.objects
                    .iter()
                    .filter(|(k, _)| namespace.is_empty() || k.namespace == namespace)
                    .map(|(_, c)| c.obj.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Objects in `namespace` owned (directly) by the object with `uid`.
    pub fn children(&self, namespace: &str, uid: &str) -> Vec<(ResourceKey, Arc<Value>)> {
        let Ok(kinds) = self.kinds.read() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for store in kinds.values() {
            for (k, c) in &store.objects {
                if k.namespace == namespace && owner_uids(&c.obj).any(|u| u == uid) {
                    out.push((k.clone(), c.obj.clone()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Number of cached objects (for diagnostics and benchmarks).
    pub fn len(&self) -> usize {
        self.kinds
            .read()
            .map(|k| k.values().map(|s| s.objects.len()).sum())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `(app, key)` from an object's tracking annotation.
pub fn tracking_of(obj: &Value) -> Option<(String, ResourceKey)> {
    let id = obj
        .get("metadata")?
        .get("annotations")?
        .get(TRACKING_ANNOTATION)?
        .as_str()?;
    ResourceKey::parse_tracking_id(id)
}

/// Feeds a value's JSON into a hasher without building the text.
fn hash_json(h: &mut impl Hasher, v: &Value) {
    struct W<'a, H: Hasher>(&'a mut H);
    impl<H: Hasher> std::io::Write for W<'_, H> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Writing into a hasher cannot fail, and a `Value` always serialises.
    let _ = serde_json::to_writer(W(h), v);
}

fn resource_version(obj: &Value) -> Option<u64> {
    obj.get("metadata")?
        .get("resourceVersion")?
        .as_str()?
        .parse()
        .ok()
}

/// UIDs of an object's owners.
pub fn owner_uids(obj: &Value) -> impl Iterator<Item = &str> {
    obj.get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

/// Owner keys of an object (same namespace), for the resource tree.
pub fn owner_keys(obj: &Value, namespace: &str) -> Vec<ResourceKey> {
    obj.get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let av = r.get("apiVersion")?.as_str()?;
            let group = av.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            Some(ResourceKey::new(
                group,
                r.get("kind")?.as_str()?,
                namespace,
                r.get("name")?.as_str()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tracking_annotation_is_read() {
        let o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n",
            "annotations": {TRACKING_ANNOTATION: "app1:/ConfigMap:n/c"}}});
        let (app, key) = tracking_of(&o).unwrap();
        assert_eq!(app, "app1");
        assert_eq!(key, ResourceKey::new("", "ConfigMap", "n", "c"));
        assert!(tracking_of(&json!({"metadata": {}})).is_none());
    }

    #[test]
    fn cached_objects_keep_managed_fields_aside_and_drop_last_applied() {
        let mf = json!([{"manager": "sextant", "operation": "Apply", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:k": {}}}}]);
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "n", "resourceVersion": "7",
                "annotations": {LAST_APPLIED_ANNOTATION: "{\"data\":{\"k\":\"v\"}}",
                    TRACKING_ANNOTATION: "app1:/ConfigMap:n/c"},
                "managedFields": mf},
            "data": {"k": "v"}});
        let c = Cached::new(live.clone());
        assert!(c.obj.pointer("/metadata/managedFields").is_none());
        assert_eq!(
            c.obj.pointer("/metadata/annotations"),
            Some(&json!({TRACKING_ANNOTATION: "app1:/ConfigMap:n/c"}))
        );
        assert_eq!(c.obj["data"], live["data"]);
        let full = c.full();
        assert_eq!(full.pointer("/metadata/managedFields"), Some(&mf));
        assert_eq!(full.pointer("/metadata/resourceVersion"), Some(&json!("7")));

        // Only the last-applied annotation: `annotations` goes with it; no managedFields: none.
        let c = Cached::new(json!({"metadata": {"name": "c",
            "annotations": {LAST_APPLIED_ANNOTATION: "{}"}}}));
        assert_eq!(*c.obj, json!({"metadata": {"name": "c"}}));
        assert!(c.managed_fields.is_none());
        assert_eq!(c.full(), json!({"metadata": {"name": "c"}}));
    }

    #[test]
    fn compare_hash_ignores_status_only_updates() {
        let obj = |rv: &str, replicas: i64, ready: i64, status_time: &str| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "n", "resourceVersion": rv,
                    "managedFields": [
                        {"manager": "sextant", "operation": "Apply", "time": "t0",
                            "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                        {"manager": "kube-controller-manager", "operation": "Update",
                            "subresource": "status", "time": status_time,
                            "fieldsV1": {"f:status": {"f:readyReplicas": {}}}}]},
                "spec": {"replicas": replicas}, "status": {"readyReplicas": ready}})
        };
        let base = Cached::new(obj("1", 2, 0, "t1")).compare_hash();
        assert_eq!(Cached::new(obj("2", 2, 2, "t2")).compare_hash(), base);
        assert_ne!(Cached::new(obj("3", 3, 2, "t2")).compare_hash(), base);
        // Ownership matters (conflicts, managedFieldsManagers): another manager's entry counts.
        let mut shared = obj("4", 2, 0, "t1");
        shared["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(json!({"manager": "kubectl", "operation": "Update",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}}));
        assert_ne!(Cached::new(shared).compare_hash(), base);
    }

    #[test]
    fn owners_are_read() {
        let o = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1"}]}});
        assert_eq!(owner_uids(&o).collect::<Vec<_>>(), vec!["u1"]);
        assert_eq!(
            owner_keys(&o, "n"),
            vec![ResourceKey::new("apps", "ReplicaSet", "n", "web-1")]
        );
    }
}
