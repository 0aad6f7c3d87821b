//! Execute a sync: server-side apply (field manager `sextant`) of the desired objects in
//! phase → wave → kind → name order, hooks with their delete policies, wait for each wave to be
//! healthy before the next, prune of tracked extras, dry-run, force, ApplyOutOfSyncOnly.
//!
//! One call of [`run_once`] is one attempt; [`run`] retries with the App's backoff. Locking
//! and history are the caller's (`reconcile.rs`), so this module only talks to the cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::api::{
    Event, OperationKind, OperationPhase, OperationResult, ResourceResult, ResourceState,
    ResultCode, SyncOptions,
};
use super::cache::LiveCache;
use super::compare::{Comparison, DesiredObject, Prepared};
use super::health::{self, HealthStatus};
use crate::app::{App, Backoff, RetryPolicy};
use crate::cluster::{ApplyOptions, ClusterError, Gvk, Propagation};
use crate::resource::ResourceKey;

const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
const HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
const HELM_HOOK: &str = "helm.sh/hook";
const HELM_HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";
const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
const HELM_HOOK_WEIGHT: &str = "helm.sh/hook-weight";

/// How long one wave (or hook) may take to become healthy.
pub const DEFAULT_WAVE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    SyncFail,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")?.get(key)?.as_str()
}

/// The phases a hook runs in (empty for a plain resource; `Skip` hooks are never applied).
fn hook_phases(obj: &Value) -> Option<Vec<Phase>> {
    if let Some(v) = annotation(obj, HOOK_ANNOTATION) {
        let phases: Vec<Phase> = v
            .split(',')
            .filter_map(|t| match t.trim() {
                "PreSync" => Some(Phase::PreSync),
                "Sync" => Some(Phase::Sync),
                "PostSync" => Some(Phase::PostSync),
                "SyncFail" => Some(Phase::SyncFail),
                _ => None,
            })
            .collect();
        return Some(phases);
    }
    let v = annotation(obj, HELM_HOOK)?;
    let mut phases = Vec::new();
    for t in v.split(',').map(str::trim) {
        let p = match t {
            "pre-install" | "pre-upgrade" => Phase::PreSync,
            "post-install" | "post-upgrade" => Phase::PostSync,
            _ => continue,
        };
        if !phases.contains(&p) {
            phases.push(p);
        }
    }
    Some(phases)
}

/// Hook delete policies (Argo CD names; Helm's mapped). Default: BeforeHookCreation.
fn delete_policies(obj: &Value) -> Vec<&'static str> {
    let mut out = Vec::new();
    for key in [HOOK_DELETE_POLICY, HELM_HOOK_DELETE_POLICY] {
        if let Some(v) = annotation(obj, key) {
            for t in v.split(',').map(str::trim) {
                let p = match t {
                    "HookSucceeded" | "hook-succeeded" => "HookSucceeded",
                    "HookFailed" | "hook-failed" => "HookFailed",
                    "BeforeHookCreation" | "before-hook-creation" => "BeforeHookCreation",
                    _ => continue,
                };
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    if out.is_empty() {
        out.push("BeforeHookCreation");
    }
    out
}

fn wave_of(obj: &Value) -> i64 {
    annotation(obj, SYNC_WAVE)
        .or_else(|| annotation(obj, HELM_HOOK_WEIGHT))
        .and_then(|w| w.trim().parse().ok())
        .unwrap_or(0)
}

fn has_sync_option(obj: &Value, opt: &str) -> bool {
    annotation(obj, SYNC_OPTIONS).is_some_and(|v| v.split(',').any(|o| o.trim() == opt))
}

/// Helm's install order, as gitops-engine uses it; other kinds go after.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// One unit of work.
#[derive(Debug, Clone)]
struct Task {
    phase: Phase,
    wave: i64,
    desired: DesiredObject,
    hook: bool,
}

impl Task {
    fn order(&self) -> (Phase, i64, usize, &str, &str) {
        (
            self.phase,
            self.wave,
            kind_rank(&self.desired.key.kind),
            &self.desired.key.namespace,
            &self.desired.key.name,
        )
    }
}

/// What to sync, from where, with which options.
pub struct SyncRequest<'a> {
    pub app: &'a App,
    pub kind: OperationKind,
    pub revision: String,
    pub prepared: &'a Prepared,
    pub comparison: &'a Comparison,
    pub options: &'a SyncOptions,
    /// Prune extras (manual `--prune`, or `automated.prune` for auto-sync).
    pub prune: bool,
    pub cache: &'a Arc<LiveCache>,
    pub events: &'a broadcast::Sender<Event>,
}

struct Progress<'a> {
    app: &'a str,
    events: &'a broadcast::Sender<Event>,
    done: usize,
    total: usize,
    results: Vec<ResourceResult>,
}

impl Progress<'_> {
    fn record(&mut self, r: ResourceResult) {
        self.done += 1;
        let _ = self.events.send(Event::Progress {
            app: self.app.to_string(),
            phase: r.phase.clone(),
            wave: r.wave,
            done: self.done,
            total: self.total,
            message: format!("{:?} {}", r.code, r.key),
            resource: Some(r.clone()),
        });
        self.results.push(r);
    }

    fn note(&self, phase: Phase, wave: i64, message: String) {
        let _ = self.events.send(Event::Progress {
            app: self.app.to_string(),
            phase: phase.as_str().into(),
            wave,
            done: self.done,
            total: self.total,
            resource: None,
            message,
        });
    }
}

/// Why an attempt failed.
struct Failure {
    message: String,
}

fn selected(req: &SyncRequest<'_>, key: &ResourceKey) -> bool {
    req.options.resources.is_empty() || req.options.resources.iter().any(|f| f.matches(key))
}

/// One attempt of a sync.
pub async fn run_once(req: &SyncRequest<'_>) -> OperationResult {
    let dry = req.options.dry_run;
    // Tasks.
    let mut tasks: Vec<Task> = Vec::new();
    let mut skipped: Vec<ResourceResult> = Vec::new();
    for d in &req.prepared.objects {
        if !selected(req, &d.key) {
            continue;
        }
        if d.hook {
            // Partial syncs do not run hooks (as Argo CD).
            if !req.options.resources.is_empty() {
                continue;
            }
            for phase in hook_phases(&d.obj).unwrap_or_default() {
                tasks.push(Task {
                    phase,
                    wave: wave_of(&d.obj),
                    desired: d.clone(),
                    hook: true,
                });
            }
            continue;
        }
        let state = req
            .comparison
            .item(&d.key)
            .map(|i| i.state)
            .unwrap_or(ResourceState::Missing);
        if req.options.apply_out_of_sync_only && state == ResourceState::Synced {
            skipped.push(ResourceResult {
                key: d.key.clone(),
                phase: "Sync".into(),
                wave: wave_of(&d.obj),
                code: ResultCode::Unchanged,
                message: "already in sync (ApplyOutOfSyncOnly)".into(),
            });
            continue;
        }
        tasks.push(Task {
            phase: Phase::Sync,
            wave: wave_of(&d.obj),
            desired: d.clone(),
            hook: false,
        });
    }
    tasks.sort_by(|a, b| a.order().cmp(&b.order()));
    let extras: Vec<(ResourceKey, Option<Gvk>, Arc<Value>)> = req
        .comparison
        .items
        .iter()
        .filter(|i| i.state == ResourceState::Extra && selected(req, &i.key))
        .filter_map(|i| Some((i.key.clone(), i.gvk.clone(), i.live.clone()?)))
        .collect();
    let sync_fail_tasks: Vec<Task> = tasks
        .iter()
        .filter(|t| t.phase == Phase::SyncFail)
        .cloned()
        .collect();
    tasks.retain(|t| t.phase != Phase::SyncFail);

    let mut p = Progress {
        app: &req.app.name,
        events: req.events,
        done: 0,
        total: tasks.len() + extras.len(),
        results: skipped,
    };
    let _ = req.events.send(Event::OperationStarted {
        app: req.app.name.clone(),
        kind: req.kind,
        revision: req.revision.clone(),
        total: p.total,
    });

    let outcome = execute(req, &tasks, &extras, &mut p).await;
    let (phase, message) = match outcome {
        Ok(()) => (
            OperationPhase::Succeeded,
            if dry {
                "dry run: nothing was changed".to_string()
            } else {
                format!("successfully synced (revision {})", short(&req.revision))
            },
        ),
        Err(f) => {
            // SyncFail hooks run after a failure (not on dry runs).
            if !dry && !sync_fail_tasks.is_empty() {
                for t in &sync_fail_tasks {
                    let r = run_hook(req, t, &mut p).await;
                    p.record(r);
                }
            }
            (OperationPhase::Failed, f.message)
        }
    };
    OperationResult {
        app: req.app.name.clone(),
        kind: req.kind,
        phase,
        revision: req.revision.clone(),
        message,
        resources: p.results,
        dry_run: dry,
        retries: 0,
        history_id: None,
    }
}

fn short(rev: &str) -> &str {
    &rev[..rev.len().min(7)]
}

async fn execute(
    req: &SyncRequest<'_>,
    tasks: &[Task],
    extras: &[(ResourceKey, Option<Gvk>, Arc<Value>)],
    p: &mut Progress<'_>,
) -> Result<(), Failure> {
    let dry = req.options.dry_run;
    let cluster = req.cache.cluster().clone();
    // Refuse objects another controller tracks unless forced.
    if !req.options.force {
        let foreign: Vec<String> = req
            .comparison
            .items
            .iter()
            .filter(|i| selected(req, &i.key))
            .filter_map(|i| i.foreign.as_ref().map(|f| format!("{} ({f})", i.key)))
            .collect();
        if !foreign.is_empty() {
            return Err(Failure {
                message: format!(
                    "refusing to sync objects tracked by another GitOps controller: {}\n  its self-heal would revert our changes; remove them from that app, or sync with --force",
                    foreign.join(", ")
                ),
            });
        }
    }
    if !req.prepared.errors.is_empty() {
        return Err(Failure {
            message: req.prepared.errors.join("\n"),
        });
    }
    // CreateNamespace=true: the destination namespace first (untracked, as Argo CD).
    // On a dry run nothing is created, so objects in a namespace this sync would create
    // cannot be dry-run on the server (it answers "namespace not found"); like Argo CD we
    // report them as would-be-created instead of failing.
    let mut pending_ns: Option<&str> = None;
    let dest_ns = req.app.destination.namespace.as_str();
    if req.app.sync_policy.has_option("CreateNamespace=true") && !dest_ns.is_empty() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": dest_ns}});
        let gvk = Gvk::new("", "v1", "Namespace");
        let exists = cluster.get(&gvk, "", dest_ns).await.map_err(fail)?;
        if exists.is_none() && dry {
            pending_ns = Some(dest_ns);
            p.note(
                Phase::PreSync,
                0,
                format!("namespace {dest_ns} would be created (CreateNamespace=true)"),
            );
        } else if exists.is_none() {
            let created = cluster
                .apply(&ns, ApplyOptions::default())
                .await
                .map_err(fail)?;
            req.cache.observe(&created);
        }
    }
    let wave_timeout = req.options.timeout.unwrap_or(DEFAULT_WAVE_TIMEOUT);
    // Group by (phase, wave).
    let mut groups: BTreeMap<(Phase, i64), Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        groups.entry((t.phase, t.wave)).or_default().push(t);
    }
    let mut pruned = false;
    let prune_last: Vec<_> = extras
        .iter()
        .filter(|(_, _, live)| has_sync_option(live, "PruneLast=true"))
        .collect();
    let prune_now: Vec<_> = extras
        .iter()
        .filter(|(_, _, live)| !has_sync_option(live, "PruneLast=true"))
        .collect();
    let keys: Vec<(Phase, i64)> = groups.keys().copied().collect();
    for (gi, (phase, wave)) in keys.iter().enumerate() {
        // Prune runs after the Sync phase's applies, before PostSync hooks.
        if *phase > Phase::Sync && !pruned {
            pruned = true;
            prune(req, &prune_now, p).await?;
        }
        let group = &groups[&(*phase, *wave)];
        p.note(*phase, *wave, format!("{} wave {wave}", phase.as_str()));
        let mut applied: Vec<ResourceKey> = Vec::new();
        for t in group {
            if t.hook {
                if dry {
                    p.record(ResourceResult {
                        key: t.desired.key.clone(),
                        phase: phase.as_str().into(),
                        wave: *wave,
                        code: ResultCode::WouldCreate,
                        message: "hook (not run on dry run)".into(),
                    });
                    continue;
                }
                let r = run_hook(req, t, p).await;
                let failed = r.code.is_failure();
                let msg = r.message.clone();
                p.record(r);
                if failed {
                    return Err(Failure {
                        message: format!("hook {} failed: {msg}", t.desired.key),
                    });
                }
                continue;
            }
            let r = apply_one(req, t, pending_ns).await;
            match r {
                Ok(r) => {
                    if !dry {
                        applied.push(t.desired.key.clone());
                    }
                    p.record(r);
                }
                Err((r, f)) => {
                    p.record(r);
                    return Err(f);
                }
            }
        }
        // Wait for health before the next wave (not after the last one).
        let last = gi + 1 == keys.len();
        if !dry && !last && !applied.is_empty() {
            p.note(
                *phase,
                *wave,
                format!("waiting for wave {wave} to become healthy"),
            );
            wait_healthy(req, &applied, wave_timeout).await?;
        }
    }
    if !pruned {
        prune(req, &prune_now, p).await?;
    }
    prune(req, &prune_last, p).await?;
    Ok(())
}

fn fail(e: ClusterError) -> Failure {
    Failure {
        message: e.to_string(),
    }
}

/// `pending_ns`: on a dry run, the destination namespace that does not exist yet but that
/// this sync would create (CreateNamespace=true); objects in it skip the server dry run.
async fn apply_one(
    req: &SyncRequest<'_>,
    t: &Task,
    pending_ns: Option<&str>,
) -> Result<ResourceResult, (ResourceResult, Failure)> {
    let dry = req.options.dry_run;
    let cluster = req.cache.cluster();
    let key = &t.desired.key;
    let existed = req.comparison.item(key).is_some_and(|i| i.live.is_some());
    let mk = |code: ResultCode, message: String| ResourceResult {
        key: key.clone(),
        phase: t.phase.as_str().into(),
        wave: t.wave,
        code,
        message,
    };
    if dry && pending_ns.is_some_and(|ns| ns == key.namespace) {
        return Ok(mk(
            ResultCode::WouldCreate,
            format!(
                "namespace {} does not exist yet (created by this sync): dry run skipped",
                key.namespace
            ),
        ));
    }
    if t.desired.kind_pending {
        if dry {
            // SkipDryRunOnMissingResource: the CRD is created by this very sync.
            return Ok(mk(
                ResultCode::WouldCreate,
                "kind defined by a CRD in this sync: dry run skipped".into(),
            ));
        }
        // The CRD was applied in an earlier position; wait for its kind to be served.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match cluster.resolve(&t.desired.gvk).await {
                Ok(_) => break,
                Err(ClusterError::UnknownKind { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    let f = fail(e);
                    return Err((mk(ResultCode::Failed, f.message.clone()), f));
                }
            }
        }
    }
    // Automated operations take conflicting fields (as Argo CD's server-side apply always
    // does): reverting drift made by another field manager is their whole point.
    let automated = matches!(req.kind, OperationKind::AutoSync | OperationKind::SelfHeal);
    let opts = ApplyOptions {
        force: req.options.force || automated,
        dry_run: dry,
    };
    match cluster.apply(&t.desired.obj, opts).await {
        Ok(obj) => {
            if !dry {
                req.cache.observe(&obj);
            }
            let changed = req
                .comparison
                .item(key)
                .map(|i| i.state != ResourceState::Synced)
                .unwrap_or(true);
            let code = match (dry, existed, changed) {
                (true, false, _) => ResultCode::WouldCreate,
                (true, true, _) => ResultCode::WouldConfigure,
                (false, false, _) => ResultCode::Created,
                (false, true, true) => ResultCode::Configured,
                (false, true, false) => ResultCode::Unchanged,
            };
            Ok(mk(code, String::new()))
        }
        Err(e) => {
            let f = fail(e);
            Err((mk(ResultCode::Failed, f.message.clone()), f))
        }
    }
}

/// Wait until the applied resources are healthy (Degraded fails the sync at once).
async fn wait_healthy(
    req: &SyncRequest<'_>,
    keys: &[ResourceKey],
    timeout: Duration,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rx = req.cache.subscribe();
    loop {
        let mut waiting = None;
        for k in keys {
            let live = req.cache.get(k);
            let h = health::resource_health(live.as_deref());
            match h.status {
                HealthStatus::Healthy | HealthStatus::Suspended => {}
                HealthStatus::Degraded => {
                    return Err(Failure {
                        message: format!("{k} is Degraded: {}", h.message),
                    });
                }
                _ => {
                    waiting = Some(format!("{k} is {}: {}", h.status, h.message));
                    break;
                }
            }
        }
        let Some(w) = waiting else { return Ok(()) };
        // Losing the cluster while waiting fails the wave instead of waiting out the timeout
        // (a watch error alone may be a routine re-list, so ask the server to be sure).
        if keys
            .iter()
            .any(|k| req.cache.error(&k.group, &k.kind).is_some())
            && let Err(e) = req.cache.cluster().server_version().await
            && e.is_transient()
        {
            return Err(Failure {
                message: format!("lost the cluster while waiting for health: {e}"),
            });
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(Failure {
                message: format!("timed out after {timeout:?} waiting for health: {w}"),
            });
        }
        // Health comes from the watch; also re-check periodically in case it is lagging.
        let _ =
            tokio::time::timeout((deadline - now).min(Duration::from_secs(2)), rx.changed()).await;
    }
}

async fn run_hook(req: &SyncRequest<'_>, t: &Task, p: &mut Progress<'_>) -> ResourceResult {
    let cluster = req.cache.cluster();
    let key = &t.desired.key;
    let policies = delete_policies(&t.desired.obj);
    let mk = |code: ResultCode, message: String| ResourceResult {
        key: key.clone(),
        phase: t.phase.as_str().into(),
        wave: t.wave,
        code,
        message,
    };
    let gvk = &t.desired.gvk;
    if policies.contains(&"BeforeHookCreation") {
        match cluster
            .delete(gvk, &key.namespace, &key.name, Propagation::Foreground)
            .await
        {
            Ok(true) => {
                // Wait until it is gone before re-creating it.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                while tokio::time::Instant::now() < deadline {
                    match cluster.get(gvk, &key.namespace, &key.name).await {
                        Ok(None) => break,
                        Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(300)).await,
                        Err(e) => return mk(ResultCode::HookFailed, e.to_string()),
                    }
                }
                req.cache.forget(key);
            }
            Ok(false) => {}
            Err(e) => return mk(ResultCode::HookFailed, e.to_string()),
        }
    }
    p.note(t.phase, t.wave, format!("running hook {key}"));
    let created = match cluster.apply(&t.desired.obj, ApplyOptions::default()).await {
        Ok(o) => o,
        Err(e) => return mk(ResultCode::HookFailed, e.to_string()),
    };
    req.cache.observe(&created);
    // Wait for the hook to complete: Healthy (Job complete, Pod succeeded) or Degraded.
    let timeout = req.options.timeout.unwrap_or(DEFAULT_WAVE_TIMEOUT);
    let deadline = tokio::time::Instant::now() + timeout;
    let (code, message) = loop {
        let live = match cluster.get(gvk, &key.namespace, &key.name).await {
            Ok(l) => l,
            Err(e) => break (ResultCode::HookFailed, e.to_string()),
        };
        let h = health::resource_health(live.as_ref());
        match h.status {
            HealthStatus::Healthy => break (ResultCode::HookSucceeded, h.message),
            HealthStatus::Degraded => break (ResultCode::HookFailed, h.message),
            _ if tokio::time::Instant::now() >= deadline => {
                break (
                    ResultCode::HookFailed,
                    format!("did not complete within {timeout:?}: {}", h.message),
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let delete = (code == ResultCode::HookSucceeded && policies.contains(&"HookSucceeded"))
        || (code == ResultCode::HookFailed && policies.contains(&"HookFailed"));
    if delete {
        let _ = cluster
            .delete(gvk, &key.namespace, &key.name, Propagation::Background)
            .await;
        req.cache.forget(key);
    }
    mk(code, message)
}

async fn prune(
    req: &SyncRequest<'_>,
    extras: &[&(ResourceKey, Option<Gvk>, Arc<Value>)],
    p: &mut Progress<'_>,
) -> Result<(), Failure> {
    let dry = req.options.dry_run;
    let cluster = req.cache.cluster();
    let propagation = req
        .app
        .sync_policy
        .sync_options
        .iter()
        .find_map(|o| o.trim().strip_prefix("PrunePropagationPolicy="))
        .and_then(Propagation::parse)
        .unwrap_or_default();
    for (key, gvk, live) in extras {
        let mk = |code: ResultCode, message: &str| ResourceResult {
            key: key.clone(),
            phase: "Sync".into(),
            wave: wave_of(live),
            code,
            message: message.to_string(),
        };
        if !req.prune {
            p.record(mk(
                ResultCode::PruneSkipped,
                "ignored (requires pruning: sync with prune)",
            ));
            continue;
        }
        if has_sync_option(live, "Prune=false") {
            p.record(mk(ResultCode::PruneSkipped, "Prune=false on the object"));
            continue;
        }
        if dry {
            p.record(mk(ResultCode::WouldPrune, "would be pruned"));
            continue;
        }
        let Some(gvk) = gvk else {
            p.record(mk(ResultCode::Failed, "object without apiVersion"));
            continue;
        };
        match cluster
            .delete(gvk, &key.namespace, &key.name, propagation)
            .await
        {
            Ok(_) => {
                req.cache.forget(key);
                p.record(mk(ResultCode::Pruned, "pruned"));
            }
            Err(e) => {
                let f = fail(e);
                p.record(mk(ResultCode::Failed, &f.message));
                return Err(f);
            }
        }
    }
    Ok(())
}

/// The retry policy in effect: the override, else the App's, else none.
pub fn retry_policy(app: &App, options: &SyncOptions) -> Option<RetryPolicy> {
    options
        .retry
        .map(|r| RetryPolicy {
            limit: r.limit,
            backoff: r.backoff,
        })
        .or(app.sync_policy.retry)
}

/// Delay before retry number `attempt` (1-based): duration × factor^(attempt-1), capped.
pub fn backoff_delay(b: &Backoff, attempt: u32) -> Duration {
    let factor = u64::from(b.factor.max(1));
    let mut d = b.duration;
    for _ in 1..attempt {
        d = d.saturating_mul(factor as u32);
        if d >= b.max_duration {
            return b.max_duration;
        }
    }
    d.min(b.max_duration)
}

/// Run with retries per the policy; each failed attempt emits [`Event::Retrying`].
pub async fn run(req: &SyncRequest<'_>) -> OperationResult {
    let policy = retry_policy(req.app, req.options);
    let mut attempt = 0u32;
    loop {
        let mut result = run_once(req).await;
        result.retries = attempt;
        if result.phase == OperationPhase::Succeeded || req.options.dry_run {
            return result;
        }
        let Some(policy) = policy else { return result };
        if policy.limit >= 0 && i64::from(attempt) >= policy.limit {
            return result;
        }
        attempt += 1;
        let delay = backoff_delay(&policy.backoff, attempt);
        let _ = req.events.send(Event::Retrying {
            app: req.app.name.clone(),
            attempt,
            delay,
            error: result.message.clone(),
        });
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_phases_from_argo_and_helm() {
        let a = json!({"metadata": {"annotations": {HOOK_ANNOTATION: "PreSync,PostSync"}}});
        assert_eq!(hook_phases(&a), Some(vec![Phase::PreSync, Phase::PostSync]));
        let h = json!({"metadata": {"annotations": {HELM_HOOK: "pre-install,pre-upgrade"}}});
        assert_eq!(hook_phases(&h), Some(vec![Phase::PreSync]));
        let plain = json!({"metadata": {}});
        assert_eq!(hook_phases(&plain), None);
    }

    #[test]
    fn delete_policy_default_and_helm() {
        assert_eq!(delete_policies(&json!({})), vec!["BeforeHookCreation"]);
        let h = json!({"metadata": {"annotations": {HELM_HOOK_DELETE_POLICY: "hook-succeeded"}}});
        assert_eq!(delete_policies(&h), vec!["HookSucceeded"]);
    }

    #[test]
    fn waves_and_kind_order() {
        assert_eq!(
            wave_of(&json!({"metadata": {"annotations": {SYNC_WAVE: "-2"}}})),
            -2
        );
        assert_eq!(wave_of(&json!({})), 0);
        assert!(kind_rank("Namespace") < kind_rank("ConfigMap"));
        assert!(kind_rank("ConfigMap") < kind_rank("Deployment"));
        assert!(kind_rank("CustomResourceDefinition") < kind_rank("Deployment"));
        assert!(kind_rank("Deployment") < kind_rank("Widget"));
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff::default();
        assert_eq!(backoff_delay(&b, 1), Duration::from_secs(5));
        assert_eq!(backoff_delay(&b, 2), Duration::from_secs(10));
        assert_eq!(backoff_delay(&b, 3), Duration::from_secs(20));
        assert_eq!(backoff_delay(&b, 10), Duration::from_secs(180));
    }

    #[test]
    fn sync_options_on_objects() {
        let o = json!({"metadata": {"annotations": {SYNC_OPTIONS: "Prune=false, PruneLast=true"}}});
        assert!(has_sync_option(&o, "Prune=false"));
        assert!(has_sync_option(&o, "PruneLast=true"));
        assert!(!has_sync_option(&o, "Validate=false"));
    }
}
