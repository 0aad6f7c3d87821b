//! Execute a sync: server-side apply (field manager `sextant`) of the desired objects in
//! phase → wave → kind → name order, hooks with their delete policies, wait for each wave to be
//! healthy before the next, prune of tracked extras, dry-run, force, ApplyOutOfSyncOnly.
//!
//! One call of [`run_once`] is one attempt; [`run`] retries with the App's backoff. Locking
//! and history are the caller's (`reconcile.rs`), so this module only talks to the cluster.
//!
//! Over 600 lines: to be split into `sync/{plan,annotations,execute,apply,hooks,prune,wait}` (issue 16).

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
use super::compare::{self, Comparer, Comparison, DesiredObject, Prepared};
use super::health::{self, HealthStatus};
use super::ignore;
use super::plan::{self, HookDeletePolicy};
use crate::app::{App, Backoff, RetryPolicy};
use crate::cluster::{ApplyOptions, ClusterError, Gvk, Propagation};
use crate::resource::ResourceKey;

/// How long one wave (or hook) may take to become healthy, unless configured otherwise
/// (`[reconcile] wave_timeout_secs`).
pub const DEFAULT_WAVE_TIMEOUT: Duration = Duration::from_secs(300);

/// Sync phases are plan.rs's; the executor orders tasks by them.
pub use super::plan::SyncPhase as Phase;

/// Wave of a live object (reporting of prunes only): its invalid wave annotation cannot stop
/// a sync from removing it, so it counts as wave 0.
fn live_wave(obj: &Value) -> i64 {
    plan::wave_of(obj).map_or(0, i64::from)
}

/// Sync options of a live object (prunes): unparsable ones count as none given.
fn live_options(obj: &Value) -> plan::ResourceOptions {
    plan::parse_sync_options(obj).unwrap_or_default()
}

fn problem(p: plan::ResourceProblem) -> String {
    format!("{}: {}", p.resource, p.message)
}

/// One unit of work.
#[derive(Debug, Clone)]
struct Task {
    phase: Phase,
    wave: i64,
    desired: DesiredObject,
    hook: bool,
    /// Delete policies of a hook (empty for a plain resource).
    delete_policies: Vec<HookDeletePolicy>,
    /// `argocd.argoproj.io/sync-options` of the object.
    options: plan::ResourceOptions,
}

impl Task {
    fn order(&self) -> (Phase, i64, i32, &str, &str) {
        (
            self.phase,
            self.wave,
            plan::kind_order(&self.desired.key.kind),
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
    /// How long one wave (or hook) may take to become healthy ([`DEFAULT_WAVE_TIMEOUT`]);
    /// `None` waits without limit, as Argo CD does.
    pub wave_timeout: Option<Duration>,
}

/// The moment `timeout` from now runs out; `None` never does.
fn deadline_after(timeout: Option<Duration>) -> Option<tokio::time::Instant> {
    timeout.map(|t| tokio::time::Instant::now() + t)
}

fn passed(deadline: Option<tokio::time::Instant>) -> bool {
    deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
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
        self.announce(r.clone());
        self.results.push(r);
    }

    /// A progress event for one resource's (new) result.
    fn announce(&self, r: ResourceResult) {
        let _ = self.events.send(Event::Progress {
            app: self.app.to_string(),
            phase: r.phase.clone(),
            wave: r.wave,
            done: self.done,
            total: self.total,
            message: format!("{:?} {}", r.code, r.key),
            resource: Some(r),
        });
    }

    /// A resource applied earlier in this attempt failed afterwards (it became Degraded while
    /// its wave was waited on): its result says so.
    fn fail(&mut self, key: &ResourceKey, message: String) {
        let Some(r) = self.results.iter_mut().rev().find(|r| &r.key == key) else {
            return;
        };
        r.code = ResultCode::Failed;
        r.message = message;
        let r = r.clone();
        self.announce(r);
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

/// What a dependency task provides to the tasks after it.
#[derive(PartialEq)]
enum Provides {
    /// A Namespace: the objects in it.
    Namespace(String),
    /// A CRD: the objects of its (group, kind).
    Kind(String, String),
}

fn provides(t: &Task) -> Option<Provides> {
    let k = &t.desired.key;
    if t.hook {
        return None;
    }
    if k.group.is_empty() && k.kind == "Namespace" {
        return Some(Provides::Namespace(k.name.clone()));
    }
    if k.group == "apiextensions.k8s.io" && k.kind == "CustomResourceDefinition" {
        let group = t.desired.obj.pointer("/spec/group")?.as_str()?;
        let kind = t.desired.obj.pointer("/spec/names/kind")?.as_str()?;
        return Some(Provides::Kind(group.into(), kind.into()));
    }
    None
}

fn needs(t: &Task, p: &Provides) -> bool {
    let k = &t.desired.key;
    match p {
        Provides::Namespace(ns) => !k.namespace.is_empty() && &k.namespace == ns,
        Provides::Kind(group, kind) => &k.group == group && &k.kind == kind,
    }
}

/// A Namespace moves up to the phase and wave of the first resource in it, a CRD to that of
/// the first resource of its kind (gitops-engine's dependency ordering), so a custom resource
/// in an earlier wave than its CRD does not wait for a kind that would never come.
fn bubble_dependencies(tasks: &mut [Task]) {
    for i in 0..tasks.len() {
        let Some(p) = provides(&tasks[i]) else {
            continue;
        };
        let earliest = tasks
            .iter()
            .enumerate()
            .filter(|(j, t)| *j != i && needs(t, &p))
            .map(|(_, t)| (t.phase, t.wave))
            .min();
        if let Some((phase, wave)) = earliest
            && (phase, wave) < (tasks[i].phase, tasks[i].wave)
        {
            tasks[i].phase = phase;
            tasks[i].wave = wave;
        }
    }
}

/// One attempt of a sync.
pub async fn run_once(req: &SyncRequest<'_>) -> OperationResult {
    let dry = req.options.dry_run;
    // ApplyOutOfSyncOnly as an operation option or as the App's sync option (Argo CD's place).
    let out_of_sync_only = req.options.apply_out_of_sync_only
        || req.app.sync_policy.has_option("ApplyOutOfSyncOnly=true");
    // Tasks.
    let mut tasks: Vec<Task> = Vec::new();
    let mut skipped: Vec<ResourceResult> = Vec::new();
    // Invalid wave/hook annotations on desired objects fail the attempt before anything is
    // applied (plan.rs's parsers name the object and the annotation).
    let mut problems: Vec<String> = Vec::new();
    // Names the runs of hooks that only have generateName (one name per attempt and phase).
    let started_at_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    for d in &req.prepared.objects {
        if !selected(req, &d.key) {
            continue;
        }
        let (wave, options) = match (plan::wave_of(&d.obj), plan::parse_sync_options(&d.obj)) {
            (Ok(w), Ok(o)) => (i64::from(w), o),
            (w, o) => {
                problems.extend(w.err().map(problem));
                problems.extend(o.err().map(problem));
                continue;
            }
        };
        // `hook: Skip`: left out of the sync (as Argo CD), not applied, not reported.
        if !d.hook && plan::is_skipped(&d.obj) {
            continue;
        }
        if d.hook {
            // Partial syncs do not run hooks (as Argo CD).
            if !req.options.resources.is_empty() {
                continue;
            }
            let parsed = plan::hook_phases(&d.obj).and_then(|phases| {
                Ok((phases.unwrap_or_default(), plan::delete_policies(&d.obj)?))
            });
            let (phases, delete_policies) = match parsed {
                Ok(x) => x,
                Err(e) => {
                    problems.push(problem(e));
                    continue;
                }
            };
            for phase in phases {
                tasks.push(Task {
                    phase,
                    wave,
                    // A hook with only generateName gets a fresh name for this run.
                    desired: compare::named_hook(
                        d,
                        &req.app.name,
                        phase,
                        &req.revision,
                        started_at_unix,
                    ),
                    hook: true,
                    delete_policies: delete_policies.clone(),
                    options: options.clone(),
                });
            }
            continue;
        }
        let state = req
            .comparison
            .item(&d.key)
            .map(|i| i.state)
            .unwrap_or(ResourceState::Missing);
        if out_of_sync_only && state == ResourceState::Synced {
            skipped.push(ResourceResult {
                key: d.key.clone(),
                phase: "Sync".into(),
                wave,
                code: ResultCode::Unchanged,
                message: "already in sync (ApplyOutOfSyncOnly)".into(),
            });
            continue;
        }
        tasks.push(Task {
            phase: Phase::Sync,
            wave,
            desired: d.clone(),
            hook: false,
            delete_policies: Vec::new(),
            options,
        });
    }
    bubble_dependencies(&mut tasks);
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

    let outcome = execute(req, &tasks, &extras, &problems, &mut p).await;
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
        diffs: Vec::new(),
    }
}

fn short(rev: &str) -> &str {
    &rev[..rev.len().min(7)]
}

async fn execute(
    req: &SyncRequest<'_>,
    tasks: &[Task],
    extras: &[(ResourceKey, Option<Gvk>, Arc<Value>)],
    problems: &[String],
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
    if !req.prepared.errors.is_empty() || !problems.is_empty() {
        let all: Vec<&str> = req
            .prepared
            .errors
            .iter()
            .chain(problems)
            .map(String::as_str)
            .collect();
        return Err(Failure {
            message: all.join("\n"),
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
    let wave_timeout = req.wave_timeout;
    // Group by (phase, wave).
    let mut groups: BTreeMap<(Phase, i64), Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        groups.entry((t.phase, t.wave)).or_default().push(t);
    }
    let mut pruned = false;
    // PruneLast (on the object, or the App's sync option): after every other Sync wave, once
    // the last one is healthy, still before PostSync (gitops-engine gives them the wave after
    // the last Sync wave).
    let all_last = req.app.sync_policy.has_option("PruneLast=true");
    let (prune_last, prune_now): (Vec<_>, Vec<_>) = extras
        .iter()
        .partition(|(_, _, live)| all_last || live_options(live).prune_last);
    let keys: Vec<(Phase, i64)> = groups.keys().copied().collect();
    for (gi, (phase, wave)) in keys.iter().enumerate() {
        // Prune runs after the Sync phase's applies, before PostSync hooks.
        if *phase > Phase::Sync && !pruned {
            pruned = true;
            prune(req, &prune_now, p).await?;
            prune(req, &prune_last, p).await?;
        }
        let group = &groups[&(*phase, *wave)];
        p.note(*phase, *wave, format!("{} wave {wave}", phase.as_str()));
        let mut applied: Vec<(ResourceKey, Gvk)> = Vec::new();
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
                        applied.push((t.desired.key.clone(), t.desired.gvk.clone()));
                    }
                    p.record(r);
                }
                Err((r, f)) => {
                    p.record(r);
                    return Err(f);
                }
            }
        }
        // Wait for health before the next wave, or before PruneLast prunes (not after the
        // last wave: the operation does not wait for the App to become healthy).
        let more = gi + 1 < keys.len() || (!pruned && !prune_last.is_empty());
        if !dry && more && !applied.is_empty() {
            p.note(
                *phase,
                *wave,
                format!("waiting for wave {wave} to become healthy"),
            );
            wait_healthy(req, &applied, wave_timeout, p).await?;
        }
    }
    if !pruned {
        prune(req, &prune_now, p).await?;
        prune(req, &prune_last, p).await?;
    }
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
        // The CRD was applied in an earlier position; wait for its kind to be served (as long
        // as a wave may take: a CRD is established in seconds, a slow apiserver gets longer).
        let deadline = deadline_after(req.wave_timeout);
        loop {
            match cluster.resolve(&t.desired.gvk).await {
                Ok(_) => break,
                Err(ClusterError::UnknownKind { .. }) if !passed(deadline) => {
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
    // Replace=true (on the object or the App): `kubectl replace`/`create` as Argo CD does —
    // the object becomes exactly the manifest, fields other managers set are dropped. A dry
    // run predicts it with a server-side apply dry run.
    let replace = t.options.replace || req.app.sync_policy.has_option("Replace=true");
    let mut note = String::new();
    if t.options.server_side_apply == Some(false) {
        note = "ServerSideApply=false ignored: Sextant always applies server-side".into();
    }
    let rules = &req.app.ignore_differences;
    let live = req.comparison.item(key).and_then(|i| i.live.clone());
    // RespectIgnoreDifferences=true: ignored fields keep their live values (Argo CD's
    // normalizeTargetResources), so the sync leaves what an HPA or operator set alone.
    let respected = match &live {
        Some(l) if !t.hook && respects_ignored(req.app) && ignore::applies(key, rules) => {
            match ignore::respect_ignored(key, &t.desired.obj, l, rules) {
                Ok(o) => Some(o),
                Err(e) => {
                    let f = Failure {
                        message: format!("RespectIgnoreDifferences: {e}"),
                    };
                    return Err((mk(ResultCode::Failed, f.message.clone()), f));
                }
            }
        }
        _ => None,
    };
    let obj = respected.as_ref().unwrap_or(&t.desired.obj);
    let mut outcome = if replace && !dry {
        note = "Replace=true: replaced, not applied".into();
        if existed {
            cluster.replace(obj).await
        } else {
            cluster.create(obj).await
        }
    } else {
        cluster.apply(obj, opts).await
    };
    // Without RespectIgnoreDifferences a sync applies Git's value of ignored fields (the sync
    // preview lists them): a conflict on them alone is expected, so they are taken. A conflict
    // on any other field still needs `force`.
    if let (Err(ClusterError::Conflict { conflicts, .. }), Some(l)) = (&outcome, &live)
        && !conflicts.is_empty()
        && conflicts
            .iter()
            .all(|c| ignore::conflict_ignored(key, c, l, rules))
    {
        let managers: std::collections::BTreeSet<&str> =
            conflicts.iter().map(|c| c.manager.as_str()).collect();
        note = format!(
            "took ignored fields from {} (RespectIgnoreDifferences=true would keep them)",
            managers.into_iter().collect::<Vec<_>>().join(", ")
        );
        outcome = cluster
            .apply(
                obj,
                ApplyOptions {
                    force: true,
                    dry_run: dry,
                },
            )
            .await;
    }
    match outcome {
        Ok(obj) => {
            if !dry {
                if t.desired.kind_pending {
                    // Its kind exists now: watch it like the others.
                    req.cache.ensure(std::slice::from_ref(&t.desired.gvk));
                }
                req.cache.observe(&obj);
            }
            let changed = req
                .comparison
                .item(key)
                .map(|i| i.state != ResourceState::Synced)
                .unwrap_or(true);
            // A dry run counts what the compare found different, as the preview does: the
            // server accepting an apply of an identical object changes nothing.
            let code = match (dry, existed, changed) {
                (true, false, _) => ResultCode::WouldCreate,
                (true, true, true) => ResultCode::WouldConfigure,
                (true, true, false) => ResultCode::Unchanged,
                (false, false, _) => ResultCode::Created,
                (false, true, true) => ResultCode::Configured,
                (false, true, false) => ResultCode::Unchanged,
            };
            Ok(mk(code, note))
        }
        Err(e) => {
            let mut f = fail(e);
            if f.message.contains("field not declared in schema") {
                f.message.push_str(&schema_hint(t.options.no_validate));
            }
            Err((mk(ResultCode::Failed, f.message.clone()), f))
        }
    }
}

/// Whether the App's sync options keep the live values of ignored fields on sync.
fn respects_ignored(app: &App) -> bool {
    app.sync_policy.has_option("RespectIgnoreDifferences=true")
}

/// How to fix a field the kind's schema does not declare. Server-side apply checks every
/// field against the schema whatever `fieldValidation` says, so Argo CD's `Validate=false`
/// (which only turns off kubectl's client-side check) cannot let such an object through.
fn schema_hint(no_validate: bool) -> String {
    let mut s = String::from(
        "\n  the manifest has a field the kind's schema does not declare: remove it or fix its name/indentation",
    );
    if no_validate {
        s.push_str(
            "\n  Validate=false cannot skip this: server-side apply always checks fields against the schema",
        );
    }
    s
}

/// Why a wave waits for `k`: its health and message. Argo CD's health checks give Ingresses and
/// LoadBalancer Services no message while they wait for an address, which read as "is
/// Progressing:"; say what they wait for instead.
fn waiting_text(k: &ResourceKey, h: &health::HealthState) -> String {
    if !h.message.is_empty() {
        return format!("{k} is {}: {}", h.status, h.message);
    }
    match (h.status, k.kind.as_str()) {
        (HealthStatus::Progressing, "Ingress" | "Service") => format!(
            "{k} is {}: waiting for a load balancer address (status.loadBalancer.ingress is empty)",
            h.status
        ),
        _ => format!("{k} is {}", h.status),
    }
}

/// Wait until the applied resources of a wave are healthy, as gitops-engine's sync context does:
/// a resource that becomes Degraded fails its own step, and the wave is still waited on until
/// every other resource is healthy (or failed); then the operation fails naming the Degraded
/// ones ("one or more synchronization tasks completed unsuccessfully"). `timeout` `None` waits
/// without limit (Argo CD); a timeout fails the operation naming what it waited for.
async fn wait_healthy(
    req: &SyncRequest<'_>,
    keys: &[(ResourceKey, Gvk)],
    timeout: Option<Duration>,
    p: &mut Progress<'_>,
) -> Result<(), Failure> {
    let deadline = deadline_after(timeout);
    let mut rx = req.cache.subscribe();
    let mut degraded: Vec<(ResourceKey, String)> = Vec::new();
    loop {
        let mut waiting = None;
        for (k, gvk) in keys {
            if degraded.iter().any(|(d, _)| d == k) {
                continue;
            }
            let mut live = req.cache.get(k);
            // A kind the cache does not watch yet (one a CRD of this sync defines): ask the
            // server, or the wave would wait for an object it can never see.
            if live.is_none() && !req.cache.is_synced(&k.group, &k.kind) {
                live = req
                    .cache
                    .cluster()
                    .get(gvk, &k.namespace, &k.name)
                    .await
                    .ok()
                    .flatten()
                    .map(Arc::new);
            }
            let h = health::resource_health(live.as_deref());
            match h.status {
                HealthStatus::Healthy | HealthStatus::Suspended => {}
                HealthStatus::Degraded => {
                    let message = format!("Degraded: {}", h.message);
                    p.fail(k, message.clone());
                    degraded.push((k.clone(), message));
                }
                _ => {
                    if waiting.is_none() {
                        waiting = Some(waiting_text(k, &h));
                    }
                }
            }
        }
        let failed = || {
            degraded
                .iter()
                .map(|(k, m)| format!("{k} is {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let Some(w) = waiting else {
            if degraded.is_empty() {
                return Ok(());
            }
            return Err(Failure {
                message: format!(
                    "one or more synchronization tasks completed unsuccessfully: {}",
                    failed()
                ),
            });
        };
        // Losing the cluster while waiting fails the wave instead of waiting out the timeout
        // (a watch error alone may be a routine re-list, so ask the server to be sure).
        if keys
            .iter()
            .any(|(k, _)| req.cache.error(&k.group, &k.kind).is_some())
            && let Err(e) = req.cache.cluster().server_version().await
            && e.is_transient()
        {
            return Err(Failure {
                message: format!("lost the cluster while waiting for health: {e}"),
            });
        }
        if let (Some(t), true) = (timeout, passed(deadline)) {
            let mut message = format!("timed out after {t:?} waiting for health: {w}");
            if !degraded.is_empty() {
                message.push_str(&format!("; and {}", failed()));
            }
            return Err(Failure { message });
        }
        // Health comes from the watch; also re-check periodically in case it is lagging.
        let mut nap = Duration::from_secs(2);
        if let Some(d) = deadline {
            nap = nap.min(d.saturating_duration_since(tokio::time::Instant::now()));
        }
        let _ = tokio::time::timeout(nap, rx.changed()).await;
    }
}

async fn run_hook(req: &SyncRequest<'_>, t: &Task, p: &mut Progress<'_>) -> ResourceResult {
    let cluster = req.cache.cluster();
    let key = &t.desired.key;
    let policies = &t.delete_policies;
    let mk = |code: ResultCode, message: String| ResourceResult {
        key: key.clone(),
        phase: t.phase.as_str().into(),
        wave: t.wave,
        code,
        message,
    };
    let gvk = &t.desired.gvk;
    if policies.contains(&HookDeletePolicy::BeforeHookCreation) {
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
    let timeout = req.wave_timeout;
    let deadline = deadline_after(timeout);
    let (code, message) = loop {
        let live = match cluster.get(gvk, &key.namespace, &key.name).await {
            Ok(l) => l,
            Err(e) => break (ResultCode::HookFailed, e.to_string()),
        };
        let h = health::resource_health(live.as_ref());
        match h.status {
            HealthStatus::Healthy => break (ResultCode::HookSucceeded, h.message),
            HealthStatus::Degraded => break (ResultCode::HookFailed, h.message),
            _ if passed(deadline) => {
                break (
                    ResultCode::HookFailed,
                    format!(
                        "did not complete within {:?}: {}",
                        timeout.unwrap_or_default(),
                        h.message
                    ),
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let delete = (code == ResultCode::HookSucceeded
        && policies.contains(&HookDeletePolicy::HookSucceeded))
        || (code == ResultCode::HookFailed && policies.contains(&HookDeletePolicy::HookFailed));
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
            wave: live_wave(live),
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
        let options = live_options(live);
        if options.no_prune {
            p.record(mk(ResultCode::PruneSkipped, "Prune=false on the object"));
            continue;
        }
        // Argo CD prunes these only after an operator confirms in its UI; Sextant has no such
        // confirmation, so it never prunes them by itself.
        if options.prune_confirm {
            p.record(mk(
                ResultCode::PruneSkipped,
                "Prune=confirm on the object: not pruned without confirmation; delete it by hand, or drop the option",
            ));
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
    // A retry compares again first (as each Argo CD attempt works from the live state it
    // finds): what an earlier attempt applied is then Unchanged, not Created again, and
    // ApplyOutOfSyncOnly and prune see the cluster as it is now.
    let mut fresh: Option<Comparison> = None;
    loop {
        let mut result = match &fresh {
            None => run_once(req).await,
            Some(comparison) => {
                run_once(&SyncRequest {
                    comparison,
                    revision: req.revision.clone(),
                    ..*req
                })
                .await
            }
        };
        result.retries = attempt;
        if result.phase == OperationPhase::Succeeded || req.options.dry_run {
            return result;
        }
        let Some(policy) = policy else { return result };
        if policy.limit >= 0 && i64::from(attempt) >= policy.limit {
            // As Argo CD: the last attempt's error, and how often it was retried.
            if attempt > 0 {
                result.message = format!("{} (retried {attempt} times)", result.message);
            }
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
        fresh = Some(
            Comparer::new()
                .compare(req.app, req.prepared, req.cache)
                .await,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 22 point 17: an Ingress waiting for its address says so (it read "is Progressing:").
    #[test]
    fn waiting_text_never_ends_in_an_empty_message() {
        let ing = ResourceKey::new("networking.k8s.io", "Ingress", "ns", "web");
        let obj = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "ns"}, "spec": {}, "status": {}});
        let h = health::resource_health(Some(&obj));
        assert_eq!(h.status, HealthStatus::Progressing);
        let text = waiting_text(&ing, &h);
        assert!(!text.trim_end().ends_with(':'), "{text}");
        assert!(
            text.contains("waiting for a load balancer address"),
            "{text}"
        );
        let cm = ResourceKey::new("", "ConfigMap", "ns", "c");
        let bare = health::HealthState::new(HealthStatus::Unknown, "");
        assert_eq!(waiting_text(&cm, &bare), format!("{cm} is Unknown"));
    }

    #[test]
    fn live_objects_parse_leniently() {
        let w = |v: &str| json!({"metadata": {"annotations": {plan::SYNC_WAVE_ANNOTATION: v}}});
        assert_eq!(live_wave(&w("-2")), -2);
        assert_eq!(live_wave(&w("soon")), 0);
        assert_eq!(live_wave(&json!({})), 0);
    }

    #[test]
    fn kind_order_puts_namespaces_first_and_unknown_kinds_last() {
        let k = plan::kind_order;
        assert!(k("Namespace") < k("ConfigMap"));
        assert!(k("ConfigMap") < k("Deployment"));
        assert!(k("CustomResourceDefinition") < k("Deployment"));
        assert!(k("Deployment") < k("Widget"));
    }

    fn task(phase: Phase, wave: i64, obj: Value) -> Task {
        let key = ResourceKey::of(&obj).expect("key");
        let gvk = Gvk::of(&obj).expect("gvk");
        Task {
            phase,
            wave,
            desired: DesiredObject {
                key,
                gvk,
                obj: Arc::new(obj),
                hook: false,
                kind_pending: false,
            },
            hook: false,
            delete_policies: Vec::new(),
            options: plan::ResourceOptions::default(),
        }
    }

    #[test]
    fn crds_and_namespaces_move_up_to_their_first_dependent() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget"}}});
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
        let w = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "prod"}});
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "team"}});
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "o", "namespace": "prod"}});
        let mut tasks = vec![
            task(Phase::Sync, 3, crd),
            task(Phase::Sync, 0, ns),
            task(Phase::Sync, 1, w.clone()),
            task(Phase::PreSync, 2, w),
            task(Phase::Sync, -4, cm),
            task(Phase::Sync, -9, other),
        ];
        bubble_dependencies(&mut tasks);
        // The CRD takes the earliest (phase, wave) of its kind's resources (a PreSync one).
        assert_eq!((tasks[0].phase, tasks[0].wave), (Phase::PreSync, 2));
        // The Namespace that of the first object in it; objects elsewhere do not count.
        assert_eq!((tasks[1].phase, tasks[1].wave), (Phase::Sync, -4));
        // A dependency already early enough stays.
        let mut late = vec![
            task(
                Phase::Sync,
                0,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}),
            ),
            task(
                Phase::Sync,
                2,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}),
            ),
        ];
        bubble_dependencies(&mut late);
        assert_eq!(late[0].wave, 0);
    }

    #[test]
    fn schema_errors_say_how_to_fix_them() {
        assert!(schema_hint(false).contains("remove it"));
        assert!(!schema_hint(false).contains("Validate=false"));
        assert!(schema_hint(true).contains("Validate=false cannot skip this"));
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
    fn sync_options_on_live_objects() {
        let o = |v: &str| json!({"metadata": {"annotations": {plan::SYNC_OPTIONS_ANNOTATION: v}}});
        let opts = live_options(&o("Prune=false, PruneLast=true"));
        assert!(opts.no_prune && opts.prune_last);
        assert!(!live_options(&o("Validate=false")).prune_last);
        // Unparsable options on a live object: treated as none, the prune goes ahead.
        assert!(!live_options(&o("Prune=maybe")).no_prune);
    }
}
