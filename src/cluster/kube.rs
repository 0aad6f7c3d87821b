//! [`Cluster`] over kube-rs: dynamic objects, per-GVK discovery with a cache, server-side apply,
//! and kube-runtime watchers with backoff.
//!
//! Over 600 lines: to be split into `kube/{client,watch,convert}` (issue 16).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, PropagationPolicy,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use serde_json::Value;

use super::{
    ApplyOptions, Cluster, ClusterError, ClusterFuture, ClusterProvider, FIELD_MANAGER,
    FieldConflict, Gvk, Propagation, ResourceInfo, WatchEvent, describe, parse_conflicts,
    parse_forbidden,
};
use crate::app::{Destination, IN_CLUSTER_SERVER};
use crate::config::ClusterMapping;

/// A cluster reached through a kubeconfig context.
pub struct KubeCluster {
    client: kube::Client,
    name: String,
    user: Option<String>,
    discovery: Mutex<HashMap<Gvk, ResourceInfo>>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("name", &self.name)
            .finish()
    }
}

/// Reading the kubeconfig failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error(
        "cannot read kubeconfig {path}: {message}\n  set KUBECONFIG or --kubeconfig to a valid file"
    )]
    Read { path: String, message: String },
    #[error(
        "kubeconfig {path}: context {context:?} not found (contexts: {available})\n  fix the context name in config.toml [[clusters]] or the kubeconfig"
    )]
    NoContext {
        path: String,
        context: String,
        available: String,
    },
    #[error("kubeconfig {path}: {message}")]
    Invalid { path: String, message: String },
}

impl KubeCluster {
    /// Connect through `context` (the current context when `None`) of the kubeconfig at `path`
    /// (`$KUBECONFIG` or `~/.kube/config` when `None`). Nothing is requested from the server yet.
    pub async fn connect(
        path: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Self, KubeconfigError> {
        let (kubeconfig, shown) = read_kubeconfig(path)?;
        let context_name = context
            .map(str::to_string)
            .or_else(|| kubeconfig.current_context.clone())
            .ok_or_else(|| KubeconfigError::Invalid {
                path: shown.clone(),
                message: "no current-context set and no context given".into(),
            })?;
        let ctx = kubeconfig
            .contexts
            .iter()
            .find(|c| c.name == context_name)
            .ok_or_else(|| KubeconfigError::NoContext {
                path: shown.clone(),
                context: context_name.clone(),
                available: kubeconfig
                    .contexts
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let user = ctx.context.as_ref().and_then(|c| c.user.clone());
        let options = KubeConfigOptions {
            context: Some(context_name.clone()),
            cluster: None,
            user: None,
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| KubeconfigError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        let client = kube::Client::try_from(config).map_err(|e| KubeconfigError::Invalid {
            path: shown,
            message: e.to_string(),
        })?;
        Ok(Self {
            client,
            name: context_name,
            user,
            discovery: Mutex::new(HashMap::new()),
        })
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    fn err(&self, resource: &str, e: kube::Error) -> ClusterError {
        map_error(&self.name, resource, e)
    }

    async fn resolve_uncached(&self, gvk: &Gvk) -> Result<ResourceInfo, ClusterError> {
        let k = GroupVersionKind::gvk(&gvk.group, &gvk.version, &gvk.kind);
        match kube::discovery::pinned_kind(&self.client, &k).await {
            Ok((ar, caps)) => Ok(ResourceInfo {
                gvk: gvk.clone(),
                plural: ar.plural,
                namespaced: caps.scope == kube::discovery::Scope::Namespaced,
            }),
            Err(kube::Error::Discovery(_)) => Err(unknown(gvk)),
            Err(kube::Error::Api(s)) if s.code == 404 => Err(unknown(gvk)),
            Err(e) => Err(self.err(&gvk.to_string(), e)),
        }
    }

    async fn api_for(
        &self,
        gvk: &Gvk,
        namespace: Option<&str>,
    ) -> Result<(Api<DynamicObject>, ResourceInfo), ClusterError> {
        let info = self.resolve(gvk).await?;
        let ar = ApiResource {
            group: gvk.group.clone(),
            version: gvk.version.clone(),
            api_version: gvk.api_version(),
            kind: gvk.kind.clone(),
            plural: info.plural.clone(),
        };
        let api = match namespace {
            Some(ns) if info.namespaced && !ns.is_empty() => {
                Api::namespaced_with(self.client.clone(), ns, &ar)
            }
            _ => Api::all_with(self.client.clone(), &ar),
        };
        Ok((api, info))
    }

    async fn api_for_object(
        &self,
        obj: &Value,
    ) -> Result<(Api<DynamicObject>, String), ClusterError> {
        let gvk = Gvk::of(obj).ok_or_else(|| ClusterError::Invalid {
            resource: describe(obj),
            message: "object has no apiVersion or kind".into(),
        })?;
        let meta = obj.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ClusterError::Invalid {
                resource: describe(obj),
                message: "object has no metadata.name".into(),
            })?
            .to_string();
        let ns = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str);
        let (api, info) = self.api_for(&gvk, ns).await?;
        if info.namespaced && ns.is_none_or(str::is_empty) {
            return Err(ClusterError::Invalid {
                resource: describe(obj),
                message: format!("{} is namespaced but the object has no namespace", gvk.kind),
            });
        }
        Ok((api, name))
    }
}

fn unknown(gvk: &Gvk) -> ClusterError {
    ClusterError::UnknownKind {
        api_version: gvk.api_version(),
        kind: gvk.kind.clone(),
    }
}

fn read_kubeconfig(path: Option<&Path>) -> Result<(Kubeconfig, String), KubeconfigError> {
    match path {
        Some(p) => Kubeconfig::read_from(p)
            .map(|k| (k, p.display().to_string()))
            .map_err(|e| KubeconfigError::Read {
                path: p.display().to_string(),
                message: innermost_message(&e),
            }),
        None => Kubeconfig::read()
            .map(|k| {
                let shown = std::env::var("KUBECONFIG").unwrap_or_else(|_| "~/.kube/config".into());
                (k, shown)
            })
            .map_err(|e| KubeconfigError::Read {
                path: std::env::var("KUBECONFIG").unwrap_or_else(|_| "~/.kube/config".into()),
                message: innermost_message(&e),
            }),
    }
}

/// The innermost cause of `e` ("No such file or directory", a YAML error with its line): kube's
/// own wrapper repeats the path, Debug-quoted (`'"/x/kubeconfig"'`), which our message already
/// names.
fn innermost_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Map a kube-rs error to a typed cluster error.
pub fn map_error(cluster: &str, resource: &str, e: kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(status) => {
            let message = status.message.clone();
            match status.code {
                403 => parse_forbidden(&message),
                401 => ClusterError::Forbidden {
                    user: String::new(),
                    verb: "authenticate".into(),
                    resource: resource.to_string(),
                    namespace: String::new(),
                    message: format!("unauthorized: {message} (credentials rejected or expired)"),
                },
                404 => ClusterError::NotFound {
                    resource: resource.to_string(),
                },
                409 if message.contains("Apply failed") || message.contains("conflict with") => {
                    let mut conflicts: Vec<FieldConflict> = status
                        .details
                        .as_ref()
                        .map(|d| {
                            d.causes
                                .iter()
                                .filter(|c| c.reason == "FieldManagerConflict")
                                .map(|c| FieldConflict {
                                    manager: c
                                        .message
                                        .split('"')
                                        .nth(1)
                                        .unwrap_or(&c.message)
                                        .to_string(),
                                    field: c.field.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if conflicts.is_empty() {
                        conflicts = parse_conflicts(&message);
                    }
                    ClusterError::Conflict {
                        resource: resource.to_string(),
                        conflicts,
                        message,
                    }
                }
                409 => ClusterError::AlreadyExists {
                    resource: resource.to_string(),
                    message,
                },
                400 | 422 => ClusterError::Invalid {
                    resource: resource.to_string(),
                    message,
                },
                500..=599 if status.reason == "ServiceUnavailable" || status.code == 503 => {
                    ClusterError::Unreachable {
                        cluster: cluster.to_string(),
                        message,
                    }
                }
                code => ClusterError::Other {
                    message: format!("{resource}: API error {code}: {message}"),
                },
            }
        }
        kube::Error::HyperError(e) => ClusterError::Unreachable {
            cluster: cluster.to_string(),
            message: e.to_string(),
        },
        kube::Error::Service(e) => ClusterError::Unreachable {
            cluster: cluster.to_string(),
            message: source_chain(e.as_ref()),
        },
        other => ClusterError::Other {
            message: format!("{resource}: {other}"),
        },
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn to_value(obj: DynamicObject) -> Result<Value, ClusterError> {
    serde_json::to_value(obj).map_err(|e| ClusterError::Other {
        message: format!("cannot encode object: {e}"),
    })
}

/// List items (and the initial events of a paginated list-watch) come without `apiVersion` and
/// `kind`; put them back so every object the engine sees is self-describing.
fn to_value_typed(obj: DynamicObject, gvk: &Gvk) -> Result<Value, ClusterError> {
    let mut v = to_value(obj)?;
    if let Some(m) = v.as_object_mut() {
        if !m.get("apiVersion").is_some_and(Value::is_string) {
            m.insert("apiVersion".into(), Value::String(gvk.api_version()));
        }
        if !m.get("kind").is_some_and(Value::is_string) {
            m.insert("kind".into(), Value::String(gvk.kind.clone()));
        }
    }
    Ok(v)
}

fn from_value(obj: &Value) -> Result<DynamicObject, ClusterError> {
    serde_json::from_value(obj.clone()).map_err(|e| ClusterError::Invalid {
        resource: describe(obj),
        message: format!("not a Kubernetes object: {e}"),
    })
}

impl Cluster for KubeCluster {
    fn name(&self) -> &str {
        &self.name
    }

    fn user(&self) -> Option<String> {
        self.user.clone()
    }

    fn server_version(&self) -> ClusterFuture<'_, String> {
        Box::pin(async move {
            self.client
                .apiserver_version()
                .await
                .map(|v| v.git_version)
                .map_err(|e| self.err("/version", e))
        })
    }

    fn resolve<'a>(&'a self, gvk: &'a Gvk) -> ClusterFuture<'a, ResourceInfo> {
        Box::pin(async move {
            if let Some(info) = self
                .discovery
                .lock()
                .map_err(|_| ClusterError::Other {
                    message: "discovery cache poisoned".into(),
                })?
                .get(gvk)
            {
                return Ok(info.clone());
            }
            // Misses are not cached, so a CRD created a moment ago becomes usable at once.
            let info = self.resolve_uncached(gvk).await?;
            if let Ok(mut cache) = self.discovery.lock() {
                cache.insert(gvk.clone(), info.clone());
            }
            Ok(info)
        })
    }

    fn apply<'a>(&'a self, obj: &'a Value, opts: ApplyOptions) -> ClusterFuture<'a, Value> {
        Box::pin(async move {
            let (api, name) = self.api_for_object(obj).await?;
            let mut pp = PatchParams::apply(FIELD_MANAGER);
            if opts.force {
                pp = pp.force();
            }
            if opts.dry_run {
                pp = pp.dry_run();
            }
            // managedFields must not be sent in an apply body; status is ignored by the server.
            let mut body = obj.clone();
            if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
            api.patch(&name, &pp, &Patch::Apply(&body))
                .await
                .map_err(|e| self.err(&describe(obj), e))
                .and_then(to_value)
        })
    }

    fn create<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value> {
        Box::pin(async move {
            let (api, _) = self.api_for_object(obj).await?;
            let pp = PostParams {
                dry_run: false,
                field_manager: Some(FIELD_MANAGER.into()),
            };
            api.create(&pp, &from_value(obj)?)
                .await
                .map_err(|e| self.err(&describe(obj), e))
                .and_then(to_value)
        })
    }

    fn replace<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value> {
        Box::pin(async move {
            let (api, name) = self.api_for_object(obj).await?;
            let pp = PostParams {
                dry_run: false,
                field_manager: Some(FIELD_MANAGER.into()),
            };
            api.replace(&name, &pp, &from_value(obj)?)
                .await
                .map_err(|e| self.err(&describe(obj), e))
                .and_then(to_value)
        })
    }

    fn get<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Option<Value>> {
        Box::pin(async move {
            let (api, _) = self.api_for(gvk, Some(namespace)).await?;
            let what = format!("{} {namespace}/{name}", gvk.kind);
            match api.get_opt(name).await {
                Ok(Some(o)) => to_value_typed(o, gvk).map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(self.err(&what, e)),
            }
        })
    }

    fn list<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: Option<&'a str>,
        label_selector: Option<&'a str>,
    ) -> ClusterFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (api, _) = self.api_for(gvk, namespace).await?;
            let mut lp = ListParams::default();
            if let Some(sel) = label_selector {
                lp = lp.labels(sel);
            }
            let list = api
                .list(&lp)
                .await
                .map_err(|e| self.err(&format!("{} list", gvk.kind), e))?;
            list.items
                .into_iter()
                .map(|o| to_value_typed(o, gvk))
                .collect()
        })
    }

    fn events_for<'a>(
        &'a self,
        kind: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let gvk = Gvk::new("", "v1", "Event");
            let (api, _) = self.api_for(&gvk, Some(namespace)).await?;
            // The server filters (kubectl describe does the same); names are DNS labels, so no
            // selector escaping is needed.
            let lp = ListParams::default().fields(&format!(
                "involvedObject.kind={kind},involvedObject.namespace={namespace},involvedObject.name={name}"
            ));
            let list = api
                .list(&lp)
                .await
                .map_err(|e| self.err(&format!("Event list for {kind} {namespace}/{name}"), e))?;
            list.items
                .into_iter()
                .map(|o| to_value_typed(o, &gvk))
                .collect()
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
            let (api, _) = self.api_for(gvk, Some(namespace)).await?;
            let dp = DeleteParams {
                propagation_policy: Some(match propagation {
                    Propagation::Foreground => PropagationPolicy::Foreground,
                    Propagation::Background => PropagationPolicy::Background,
                    Propagation::Orphan => PropagationPolicy::Orphan,
                }),
                ..DeleteParams::default()
            };
            match api.delete(name, &dp).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
                Err(e) => Err(self.err(&format!("{} {namespace}/{name}", gvk.kind), e)),
            }
        })
    }

    fn watch(&self, gvk: Gvk) -> BoxStream<'static, WatchEvent> {
        let (tx, rx) = tokio::sync::mpsc::channel::<WatchEvent>(256);
        let client = self.client.clone();
        let name = self.name.clone();
        let this = KubeWatchCtx {
            client,
            name,
            discovery: self
                .discovery
                .lock()
                .map(|c| c.get(&gvk).cloned())
                .ok()
                .flatten(),
        };
        tokio::spawn(async move { this.run(gvk, tx).await });
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) },
        )
        .boxed()
    }
}

struct KubeWatchCtx {
    client: kube::Client,
    name: String,
    discovery: Option<ResourceInfo>,
}

impl KubeWatchCtx {
    async fn run(self, gvk: Gvk, tx: tokio::sync::mpsc::Sender<WatchEvent>) {
        let cluster = KubeCluster {
            client: self.client,
            name: self.name,
            user: None,
            discovery: Mutex::new(
                self.discovery
                    .map(|i| HashMap::from([(gvk.clone(), i)]))
                    .unwrap_or_default(),
            ),
        };
        // Discovery can fail (unknown kind not yet installed, apiserver down): keep trying.
        let mut delay = Duration::from_millis(500);
        let api = loop {
            match cluster.api_for(&gvk, None).await {
                Ok((api, _)) => break api,
                Err(e) => {
                    if tx.send(WatchEvent::Error(e)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(super::WATCH_RETRY_MAX);
                }
            }
        };
        // No stream backoff: it would also delay the relist after a 410 (see below). Errors
        // pause here instead, briefly (WATCH_RECONNECT_MAX), reset by the next good event.
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        let mut buffer: Vec<Value> = Vec::new();
        let mut pause = WATCH_RECONNECT_MIN;
        while let Some(item) = stream.next().await {
            if item.is_ok() {
                pause = WATCH_RECONNECT_MIN;
            }
            let ev = match item {
                Ok(watcher::Event::Init) => {
                    buffer.clear();
                    continue;
                }
                Ok(watcher::Event::InitApply(o)) => {
                    if let Ok(v) = to_value_typed(o, &gvk) {
                        buffer.push(v);
                    }
                    continue;
                }
                Ok(watcher::Event::InitDone) => WatchEvent::Restarted(std::mem::take(&mut buffer)),
                Ok(watcher::Event::Apply(o)) => match to_value_typed(o, &gvk) {
                    Ok(v) => WatchEvent::Applied(v),
                    Err(_) => continue,
                },
                Ok(watcher::Event::Delete(o)) => match to_value_typed(o, &gvk) {
                    Ok(v) => WatchEvent::Deleted(v),
                    Err(_) => continue,
                },
                // 410 Gone: our resourceVersion is older than the history the apiserver keeps
                // (it restarted, or compacted). Nothing is unreachable: the watcher relists at
                // once, and the relist replaces every object of the kind.
                Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                    WatchEvent::Error(ClusterError::Other {
                        message: format!(
                            "watch of {gvk} expired (resource version too old: the apiserver restarted or compacted its history); relisting"
                        ),
                    })
                }
                Err(e) => {
                    let ev = WatchEvent::Error(ClusterError::Unreachable {
                        cluster: cluster.name.clone(),
                        message: format!("watch of {gvk}: {e}"),
                    });
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(super::WATCH_RECONNECT_MAX);
                    continue;
                }
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    }
}

/// First pause before reconnecting a failed watch.
const WATCH_RECONNECT_MIN: Duration = Duration::from_millis(250);

/// Maps App destinations to kubeconfig contexts and keeps one [`KubeCluster`] per context.
pub struct KubeClusters {
    kubeconfig: Option<PathBuf>,
    mappings: Vec<ClusterMapping>,
    /// A context forced for every destination (tests, `--context`).
    force_context: Option<String>,
    cache: tokio::sync::Mutex<HashMap<String, Arc<KubeCluster>>>,
}

impl KubeClusters {
    pub fn new(
        kubeconfig: Option<PathBuf>,
        mappings: Vec<ClusterMapping>,
        force_context: Option<String>,
    ) -> Self {
        Self {
            kubeconfig,
            mappings,
            force_context,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The kubeconfig context for a destination: `--context`, else a `[[clusters]]` mapping,
    /// else the in-cluster URL → current context, else a kubeconfig cluster with that server
    /// URL or name.
    pub fn context_for(&self, dest: &Destination) -> Result<Option<String>, String> {
        if let Some(c) = &self.force_context {
            return Ok(Some(c.clone()));
        }
        for m in &self.mappings {
            let server_match = m.server.is_some() && m.server == dest.server;
            let name_match = m.name.is_some() && m.name == dest.name;
            if server_match || name_match {
                return Ok(Some(m.context.clone()));
            }
        }
        let server = dest.server.as_deref();
        if dest.name.as_deref() == Some("in-cluster")
            || server == Some(IN_CLUSTER_SERVER)
            || (server.is_none() && dest.name.is_none())
        {
            return Ok(None);
        }
        let (kc, shown) = read_kubeconfig(self.kubeconfig.as_deref()).map_err(|e| e.to_string())?;
        for ctx in &kc.contexts {
            let Some(c) = &ctx.context else { continue };
            let cluster = kc.clusters.iter().find(|k| k.name == c.cluster);
            let url = cluster
                .and_then(|k| k.cluster.as_ref())
                .and_then(|k| k.server.as_deref());
            if (server.is_some() && url == server) || dest.name.as_deref() == Some(&c.cluster) {
                return Ok(Some(ctx.name.clone()));
            }
        }
        Err(format!(
            "no kubeconfig context for destination {} in {shown}\n  add to config.toml: [[clusters]] server = \"{}\" context = \"<context>\"",
            dest.server
                .clone()
                .or_else(|| dest.name.clone())
                .unwrap_or_default(),
            dest.server.clone().unwrap_or_default()
        ))
    }
}

impl ClusterProvider for KubeClusters {
    fn cluster_for<'a>(
        &'a self,
        dest: &'a Destination,
    ) -> BoxFuture<'a, Result<Arc<dyn Cluster>, String>> {
        Box::pin(async move {
            let context = self.context_for(dest)?;
            let key = context.clone().unwrap_or_default();
            let mut cache = self.cache.lock().await;
            if let Some(c) = cache.get(&key) {
                return Ok(c.clone() as Arc<dyn Cluster>);
            }
            let c = Arc::new(
                KubeCluster::connect(self.kubeconfig.as_deref(), context.as_deref())
                    .await
                    .map_err(|e| e.to_string())?,
            );
            cache.insert(key, c.clone());
            Ok(c as Arc<dyn Cluster>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            status: None,
            code,
            message: message.into(),
            metadata: None,
            reason: reason.into(),
            details: None,
        }))
    }

    /// Issue 22 point 15: a bad KUBECONFIG path is named once, plainly, with the OS's reason
    /// (kube's own wrapper quoted it twice: `'"/x/kubeconfig"'`).
    #[tokio::test]
    async fn a_missing_kubeconfig_is_named_once_with_the_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("no-such-kubeconfig");
        let e = KubeCluster::connect(Some(&path), None)
            .await
            .expect_err("no file")
            .to_string();
        let first = e.lines().next().unwrap_or("");
        assert_eq!(
            first,
            format!(
                "cannot read kubeconfig {}: No such file or directory (os error 2)",
                path.display()
            ),
            "{e}"
        );
        assert!(!e.contains("'\""), "{e}");
        std::fs::write(&path, "clusters: [").expect("write");
        let e = KubeCluster::connect(Some(&path), None)
            .await
            .expect_err("bad YAML")
            .to_string();
        assert!(!e.contains("'\""), "{e}");
        assert!(
            e.contains("line") || e.contains("EOF") || e.contains("end"),
            "{e}"
        );
    }

    #[test]
    fn api_errors_are_typed() {
        assert!(matches!(
            map_error("c", "x", status(404, "NotFound", "nope")),
            ClusterError::NotFound { .. }
        ));
        assert!(matches!(
            map_error(
                "c",
                "x",
                status(
                    409,
                    "Conflict",
                    "Operation cannot be fulfilled: the object has been modified"
                )
            ),
            ClusterError::AlreadyExists { .. }
        ));
        let ClusterError::Conflict { conflicts, .. } = map_error(
            "c",
            "Deployment p/web",
            status(
                409,
                "Conflict",
                r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#,
            ),
        ) else {
            panic!("expected conflict")
        };
        assert_eq!(conflicts[0].manager, "kubectl-edit");
        assert!(matches!(
            map_error("c", "x", status(403, "Forbidden", r#"pods is forbidden: User "u" cannot list resource "pods" in API group "" in the namespace "n""#)),
            ClusterError::Forbidden { ref user, .. } if user == "u"
        ));
        assert!(matches!(
            map_error(
                "c",
                "x",
                status(422, "Invalid", "spec.replicas: Invalid value")
            ),
            ClusterError::Invalid { .. }
        ));
    }

    #[test]
    fn in_cluster_destination_uses_current_context() {
        let k = KubeClusters::new(None, vec![], None);
        let d = Destination {
            server: Some(IN_CLUSTER_SERVER.into()),
            name: None,
            namespace: "n".into(),
        };
        assert_eq!(k.context_for(&d), Ok(None));
        let mapped = KubeClusters::new(
            None,
            vec![ClusterMapping {
                server: Some("https://prod:6443".into()),
                name: None,
                context: "prod-ctx".into(),
            }],
            None,
        );
        let p = Destination {
            server: Some("https://prod:6443".into()),
            name: None,
            namespace: "n".into(),
        };
        assert_eq!(mapped.context_for(&p), Ok(Some("prod-ctx".into())));
    }
}
