//! Sync planning: which objects to apply, prune or run as hooks, and in which order.
//!
//! [`plan`] turns the desired objects of an App and its tracked live objects into an ordered list
//! of [`SyncTask`]s, as gitops-engine orders a sync:
//! - phases PreSync → Sync → PostSync (SyncFail tasks run only when the sync fails);
//! - within a phase, waves (`argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0);
//! - within a wave, gitops-engine's kind order (Namespace, NetworkPolicy, ..., Ingress,
//!   APIService; other kinds last), then name;
//! - a Namespace moves up before the first resource in it, a CRD before the first resource of its
//!   kind (taking that resource's phase and wave);
//! - prune tasks run in reverse wave order (prune waves are mirrored), `PruneLast` ones in a wave
//!   after the last Sync wave.
//!
//! Hooks come from `argocd.argoproj.io/hook` or, when absent, Helm's `helm.sh/hook`
//! (pre-install/pre-upgrade → PreSync, post-install/post-upgrade → PostSync; other Helm hooks are
//! not run by a sync, as in Argo CD). Everything here is pure: no cluster access.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Value, json};

use crate::engine::health::is_hook;
use crate::resource::{ResourceKey, TRACKING_ANNOTATION};

pub const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";
pub const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";
pub const HELM_HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
pub const HELM_HOOK_DELETE_POLICY_ANNOTATION: &str = "helm.sh/hook-delete-policy";

/// gitops-engine's kind order (after Helm's install order). Kinds not listed sort after all of
/// these (custom resources last).
pub const KIND_ORDER: [&str; 35] = [
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

/// Position of `kind` in [`KIND_ORDER`] as gitops-engine numbers it: negative for listed kinds
/// (`-35` for Namespace), `0` for any other kind so those sort last.
pub fn kind_order(kind: &str) -> i32 {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .map_or(0, |i| i as i32 - KIND_ORDER.len() as i32)
}

/// A sync phase, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncPhase {
    PreSync,
    Sync,
    PostSync,
    /// Runs only when the sync failed.
    SyncFail,
}

impl SyncPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncPhase::PreSync => "PreSync",
            SyncPhase::Sync => "Sync",
            SyncPhase::PostSync => "PostSync",
            SyncPhase::SyncFail => "SyncFail",
        }
    }
}

impl fmt::Display for SyncPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a hook object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookDeletePolicy {
    /// Delete after the hook succeeded.
    HookSucceeded,
    /// Delete after the hook failed.
    HookFailed,
    /// Delete an existing object of the hook before creating it again (the default).
    BeforeHookCreation,
}

/// What a task does.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncAction {
    /// Server-side apply of the desired object (creates or updates).
    Apply,
    /// Create the destination namespace (`CreateNamespace=true`).
    CreateNamespace,
    /// Delete a tracked object that is no longer desired.
    Prune,
    /// A prune that will not happen; `reason` is what Argo CD reports
    /// (`ignored (requires pruning)`, `ignored (no prune)`, ...).
    PruneSkipped { reason: String },
    /// Create and wait for a hook; delete it per `delete_policies`.
    Hook {
        delete_policies: Vec<HookDeletePolicy>,
    },
}

/// Per-resource options from `argocd.argoproj.io/sync-options`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceOptions {
    /// `Prune=false`: never prune this object.
    pub no_prune: bool,
    /// `Prune=confirm`: prune only after explicit confirmation.
    pub prune_confirm: bool,
    /// `PruneLast=true`: prune after everything else.
    pub prune_last: bool,
    /// `Validate=false`.
    pub no_validate: bool,
    /// `ServerSideApply=true|false`, when set.
    pub server_side_apply: Option<bool>,
    /// `SkipDryRunOnMissingResource=true`: the kind may not exist yet (CRD applied in this sync).
    pub skip_dry_run_on_missing_resource: bool,
    /// `Replace=true`.
    pub replace: bool,
    /// `Force=true`.
    pub force: bool,
}

/// One step of a sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncTask {
    pub phase: SyncPhase,
    pub wave: i32,
    /// [`kind_order`] of the object's kind.
    pub kind_order: i32,
    pub key: ResourceKey,
    pub action: SyncAction,
    /// The desired object (Apply, Hook, CreateNamespace) or the live object (prunes). Hooks
    /// that only have `generateName` get a deterministic name here.
    pub object: Value,
    /// Whether a live object with this key exists.
    pub live_exists: bool,
    pub options: ResourceOptions,
}

impl SyncTask {
    pub fn is_hook(&self) -> bool {
        matches!(self.action, SyncAction::Hook { .. })
    }
    pub fn is_prune(&self) -> bool {
        matches!(
            self.action,
            SyncAction::Prune | SyncAction::PruneSkipped { .. }
        )
    }
}

/// Tasks of one (phase, wave): applied together, then waited on until healthy.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStep<'a> {
    pub phase: SyncPhase,
    pub wave: i32,
    pub tasks: Vec<&'a SyncTask>,
}

/// A desired object the sync leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedResource {
    pub key: ResourceKey,
    pub reason: String,
}

/// The ordered plan of a sync.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncPlan {
    /// All tasks in execution order; SyncFail tasks last.
    pub tasks: Vec<SyncTask>,
    /// Desired objects that get no task (Skip hooks, Helm hooks a sync does not run, synced
    /// objects under `ApplyOutOfSyncOnly`).
    pub skipped: Vec<SkippedResource>,
}

impl SyncPlan {
    /// Tasks grouped into (phase, wave) steps in execution order, without SyncFail tasks.
    pub fn steps(&self) -> Vec<SyncStep<'_>> {
        let mut steps: Vec<SyncStep<'_>> = Vec::new();
        for t in self.tasks.iter().filter(|t| t.phase != SyncPhase::SyncFail) {
            match steps.last_mut() {
                Some(s) if s.phase == t.phase && s.wave == t.wave => s.tasks.push(t),
                _ => steps.push(SyncStep {
                    phase: t.phase,
                    wave: t.wave,
                    tasks: vec![t],
                }),
            }
        }
        steps
    }

    /// Tasks to run when the sync fails.
    pub fn sync_fail_tasks(&self) -> Vec<&SyncTask> {
        self.tasks
            .iter()
            .filter(|t| t.phase == SyncPhase::SyncFail)
            .collect()
    }
}

/// Options of a sync that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Name of the App; only live objects whose tracking id names it are pruned.
    pub app_name: String,
    /// Destination namespace.
    pub namespace: String,
    /// Prune allowed (manual sync with prune, or `automated.prune`).
    pub prune: bool,
    /// Prune confirmed by the operator (`Prune=confirm` objects).
    pub prune_confirmed: bool,
    /// App-level `PruneLast=true`.
    pub prune_last: bool,
    /// `ApplyOutOfSyncOnly=true`: skip objects in `synced`.
    pub apply_out_of_sync_only: bool,
    /// Keys the compare found Synced (used with `apply_out_of_sync_only`).
    pub synced: HashSet<ResourceKey>,
    /// `CreateNamespace=true`.
    pub create_namespace: bool,
    /// Whether the destination namespace exists in the cluster.
    pub namespace_exists: bool,
    /// Do not run hooks.
    pub skip_hooks: bool,
    /// Revision being synced; names hooks that only have `generateName`.
    pub revision: String,
    /// Start of the operation (Unix seconds); names hooks that only have `generateName`.
    pub started_at_unix: i64,
}

/// A problem with one resource that prevents planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceProblem {
    pub resource: String,
    pub message: String,
}

/// Errors of [`plan`] and [`parse_sync_options`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("cannot plan the sync:{}", .0.iter().map(|p| format!("\n  {}: {}", p.resource, p.message)).collect::<String>())]
    Invalid(Vec<ResourceProblem>),
}

fn annotations(obj: &Value) -> Option<&serde_json::Map<String, Value>> {
    obj.get("metadata")?.get("annotations")?.as_object()
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    annotations(obj)?.get(key)?.as_str()
}

fn csv(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|t| !t.is_empty())
}

fn describe(obj: &Value) -> String {
    ResourceKey::of(obj).map_or_else(
        || {
            let kind = obj
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("<no kind>");
            let name = obj
                .pointer("/metadata/name")
                .or_else(|| obj.pointer("/metadata/generateName"))
                .and_then(Value::as_str)
                .unwrap_or("<no name>");
            format!("{kind}/{name}")
        },
        |k| k.to_string(),
    )
}

/// Parse `argocd.argoproj.io/sync-options` of `obj` (comma-separated `Key=Value`).
pub fn parse_sync_options(obj: &Value) -> Result<ResourceOptions, ResourceProblem> {
    let mut o = ResourceOptions::default();
    let Some(raw) = annotation(obj, SYNC_OPTIONS_ANNOTATION) else {
        return Ok(o);
    };
    let problem = |message: String| ResourceProblem {
        resource: describe(obj),
        message,
    };
    for item in csv(raw) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(problem(format!(
                "sync option {item:?} in {SYNC_OPTIONS_ANNOTATION} is not Key=Value (e.g. Prune=false)"
            )));
        };
        let (k, v) = (k.trim(), v.trim());
        let flag = |o: &mut bool| -> Result<(), ResourceProblem> {
            *o = parse_bool(v)
                .ok_or_else(|| problem(format!("sync option {k}={v}: expected true or false")))?;
            Ok(())
        };
        match k {
            "Prune" => match v.to_ascii_lowercase().as_str() {
                "false" => o.no_prune = true,
                "true" => {}
                "confirm" => o.prune_confirm = true,
                _ => {
                    return Err(problem(format!(
                        "sync option Prune={v}: expected true, false or confirm"
                    )));
                }
            },
            "PruneLast" => flag(&mut o.prune_last)?,
            "Validate" => {
                let mut validate = true;
                flag(&mut validate)?;
                o.no_validate = !validate;
            }
            "ServerSideApply" => {
                let mut ssa = false;
                flag(&mut ssa)?;
                o.server_side_apply = Some(ssa);
            }
            "SkipDryRunOnMissingResource" => flag(&mut o.skip_dry_run_on_missing_resource)?,
            "Replace" => flag(&mut o.replace)?,
            "Force" => flag(&mut o.force)?,
            // App-level or deletion options Argo CD also accepts here; they do not shape a plan.
            _ => {}
        }
    }
    Ok(o)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Wave of `obj`: `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0.
pub fn wave_of(obj: &Value) -> Result<i32, ResourceProblem> {
    for key in [SYNC_WAVE_ANNOTATION, HELM_HOOK_WEIGHT_ANNOTATION] {
        if let Some(v) = annotation(obj, key) {
            return v.trim().parse::<i32>().map_err(|_| ResourceProblem {
                resource: describe(obj),
                message: format!(
                    "annotation {key}: {v:?} is not an integer (e.g. \"-1\", \"0\", \"5\")"
                ),
            });
        }
    }
    Ok(0)
}

/// Phases a hook runs in; empty for a hook a sync does not run (e.g. Helm `test`, `pre-delete`).
/// `None` when `obj` is not a hook. Argo CD's annotation wins over Helm's.
pub fn hook_phases(obj: &Value) -> Result<Option<Vec<SyncPhase>>, ResourceProblem> {
    if !is_hook(obj) {
        return Ok(None);
    }
    let mut phases = Vec::new();
    if let Some(raw) = annotation(obj, HOOK_ANNOTATION) {
        for t in csv(raw) {
            let p = match t {
                "PreSync" => SyncPhase::PreSync,
                "Sync" => SyncPhase::Sync,
                "PostSync" => SyncPhase::PostSync,
                "SyncFail" => SyncPhase::SyncFail,
                // Skip next to real types is ignored; PostDelete hooks run on App deletion.
                "Skip" | "PostDelete" => continue,
                other => {
                    return Err(ResourceProblem {
                        resource: describe(obj),
                        message: format!(
                            "annotation {HOOK_ANNOTATION}: unknown hook type {other:?} (expected PreSync, Sync, PostSync, SyncFail, Skip or PostDelete)"
                        ),
                    });
                }
            };
            if !phases.contains(&p) {
                phases.push(p);
            }
        }
    } else if let Some(raw) = annotation(obj, HELM_HOOK_ANNOTATION) {
        for t in csv(raw) {
            let p = match t {
                "pre-install" | "pre-upgrade" => SyncPhase::PreSync,
                "post-install" | "post-upgrade" => SyncPhase::PostSync,
                _ => continue,
            };
            if !phases.contains(&p) {
                phases.push(p);
            }
        }
    }
    phases.sort();
    Ok(Some(phases))
}

/// `argocd.argoproj.io/hook: Skip` alone: the object is neither a hook nor synced (Argo CD
/// leaves it out of the sync entirely).
pub fn is_skipped(obj: &Value) -> bool {
    annotation(obj, HOOK_ANNOTATION).is_some_and(|h| csv(h).eq(["Skip"]))
}

/// Delete policies of a hook; BeforeHookCreation when none is given (Argo CD's default).
pub fn delete_policies(obj: &Value) -> Result<Vec<HookDeletePolicy>, ResourceProblem> {
    let mut out = Vec::new();
    if let Some(raw) = annotation(obj, HOOK_DELETE_POLICY_ANNOTATION) {
        for t in csv(raw) {
            out.push(match t {
                "HookSucceeded" => HookDeletePolicy::HookSucceeded,
                "HookFailed" => HookDeletePolicy::HookFailed,
                "BeforeHookCreation" => HookDeletePolicy::BeforeHookCreation,
                other => {
                    return Err(ResourceProblem {
                        resource: describe(obj),
                        message: format!(
                            "annotation {HOOK_DELETE_POLICY_ANNOTATION}: unknown policy {other:?} (expected HookSucceeded, HookFailed or BeforeHookCreation)"
                        ),
                    });
                }
            });
        }
    }
    if let Some(raw) = annotation(obj, HELM_HOOK_DELETE_POLICY_ANNOTATION) {
        for t in csv(raw) {
            out.push(match t {
                "hook-succeeded" => HookDeletePolicy::HookSucceeded,
                "hook-failed" => HookDeletePolicy::HookFailed,
                "before-hook-creation" => HookDeletePolicy::BeforeHookCreation,
                other => {
                    return Err(ResourceProblem {
                        resource: describe(obj),
                        message: format!(
                            "annotation {HELM_HOOK_DELETE_POLICY_ANNOTATION}: unknown policy {other:?} (expected hook-succeeded, hook-failed or before-hook-creation)"
                        ),
                    });
                }
            });
        }
    }
    if out.is_empty() {
        out.push(HookDeletePolicy::BeforeHookCreation);
    }
    out.dedup();
    Ok(out)
}

fn needs_generated_name(obj: &Value) -> bool {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && obj
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .is_some()
}

/// `<generateName><revision[:7]>-<phase>-<start unix>`, lower-cased, as Argo CD names such hooks
/// so that re-planning the same operation gives the same names.
pub fn with_generated_name(obj: &Value, phase: SyncPhase, opts: &PlanOptions) -> Value {
    let mut obj = obj.clone();
    let gen_name = obj
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let rev: String = opts.revision.chars().take(7).collect();
    let name = format!("{gen_name}{rev}-{phase}-{}", opts.started_at_unix).to_lowercase();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("name".into(), Value::String(name));
    }
    obj
}

/// Whether the live object carries this App's tracking id.
fn tracked_by(obj: &Value, app: &str) -> bool {
    annotation(obj, TRACKING_ANNOTATION)
        .and_then(ResourceKey::parse_tracking_id)
        .is_some_and(|(a, _)| a == app)
}

/// Argo CD's live-object match: same group, kind and name, and the same namespace unless the
/// live object is cluster-scoped (it has none even when the manifest names one).
fn same_object(desired: &ResourceKey, live: &ResourceKey) -> bool {
    desired.group == live.group
        && desired.kind == live.kind
        && desired.name == live.name
        && (live.namespace.is_empty() || live.namespace == desired.namespace)
}

/// Plan a sync of `desired` (rendered objects) against `live` (the App's tracked live objects,
/// and live counterparts of desired objects). Namespaces are taken as the objects carry them; the
/// caller fills in the destination namespace for namespaced kinds before planning.
pub fn plan(desired: &[Value], live: &[Value], opts: &PlanOptions) -> Result<SyncPlan, PlanError> {
    let mut problems = Vec::new();
    let mut tasks: Vec<SyncTask> = Vec::new();
    let mut skipped = Vec::new();
    let live_keys: Vec<(ResourceKey, &Value)> = live
        .iter()
        .filter_map(|o| ResourceKey::of(o).map(|k| (k, o)))
        .collect();
    let find_live = |k: &ResourceKey| live_keys.iter().find(|(lk, _)| same_object(k, lk));
    let mut desired_keys: Vec<ResourceKey> = Vec::new();

    for obj in desired {
        let mut obj = obj.clone();
        let phases = match hook_phases(&obj) {
            Ok(p) => p,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        // Hooks may have only generateName; they get the name Argo CD would give them, one per
        // phase (the key below uses the first phase's name).
        let generated = phases.as_ref().is_some_and(|_| needs_generated_name(&obj));
        if let Some(first) = phases
            .as_ref()
            .and_then(|p| p.first())
            .filter(|_| generated)
        {
            obj = with_generated_name(&obj, *first, opts);
        }
        let Some(key) = ResourceKey::of(&obj) else {
            problems.push(ResourceProblem {
                resource: describe(&obj),
                message: "object needs apiVersion, kind and metadata.name".into(),
            });
            continue;
        };
        let (wave, options) = match (wave_of(&obj), parse_sync_options(&obj)) {
            (Ok(w), Ok(o)) => (w, o),
            (w, o) => {
                problems.extend(w.err());
                problems.extend(o.err());
                continue;
            }
        };
        if desired_keys.contains(&key) {
            problems.push(ResourceProblem {
                resource: key.to_string(),
                message: "appears more than once in the desired manifests; keep one".into(),
            });
            continue;
        }
        let live_exists = find_live(&key).is_some();
        desired_keys.push(key.clone());
        match phases {
            None if is_skipped(&obj) => {
                skipped.push(SkippedResource {
                    key,
                    reason: "hook type Skip: not synced".into(),
                });
            }
            None => {
                if opts.apply_out_of_sync_only && live_exists && opts.synced.contains(&key) {
                    skipped.push(SkippedResource {
                        key,
                        reason: "synced (ApplyOutOfSyncOnly)".into(),
                    });
                    continue;
                }
                tasks.push(SyncTask {
                    phase: SyncPhase::Sync,
                    wave,
                    kind_order: kind_order(&key.kind),
                    key,
                    action: SyncAction::Apply,
                    object: obj,
                    live_exists,
                    options,
                });
            }
            Some(_) if opts.skip_hooks => skipped.push(SkippedResource {
                key,
                reason: "hooks skipped for this sync".into(),
            }),
            Some(phases) if phases.is_empty() => skipped.push(SkippedResource {
                key,
                reason: "hook type not run by a sync (e.g. Helm test or delete hooks)".into(),
            }),
            Some(phases) => {
                let policies = match delete_policies(&obj) {
                    Ok(p) => p,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                };
                for phase in phases {
                    let (object, key) = if generated {
                        let o = with_generated_name(&obj, phase, opts);
                        let k = ResourceKey::of(&o).unwrap_or_else(|| key.clone());
                        (o, k)
                    } else {
                        (obj.clone(), key.clone())
                    };
                    tasks.push(SyncTask {
                        phase,
                        wave,
                        kind_order: kind_order(&key.kind),
                        key,
                        action: SyncAction::Hook {
                            delete_policies: policies.clone(),
                        },
                        object,
                        live_exists,
                        options: options.clone(),
                    });
                }
            }
        }
    }

    // Prune: tracked live objects of this App that are no longer desired. Live hooks are left to
    // their delete policies, as in Argo CD.
    for (key, obj) in &live_keys {
        if desired_keys.iter().any(|d| same_object(d, key))
            || !tracked_by(obj, &opts.app_name)
            || is_hook(obj)
        {
            continue;
        }
        let (wave, options) = match (wave_of(obj), parse_sync_options(obj)) {
            (Ok(w), Ok(o)) => (w, o),
            (w, o) => {
                problems.extend(w.err());
                problems.extend(o.err());
                continue;
            }
        };
        let action = if options.no_prune {
            SyncAction::PruneSkipped {
                reason: "ignored (no prune)".into(),
            }
        } else if !opts.prune {
            SyncAction::PruneSkipped {
                reason: "ignored (requires pruning)".into(),
            }
        } else if options.prune_confirm && !opts.prune_confirmed {
            SyncAction::PruneSkipped {
                reason: "ignored (Prune=confirm: needs confirmation)".into(),
            }
        } else {
            SyncAction::Prune
        };
        tasks.push(SyncTask {
            phase: SyncPhase::Sync,
            wave,
            kind_order: kind_order(&key.kind),
            key: key.clone(),
            action,
            object: (*obj).clone(),
            live_exists: true,
            options,
        });
    }

    if !problems.is_empty() {
        return Err(PlanError::Invalid(problems));
    }

    if opts.create_namespace && !opts.namespace.is_empty() && !opts.namespace_exists {
        let declared = desired_keys
            .iter()
            .any(|k| k.group.is_empty() && k.kind == "Namespace" && k.name == opts.namespace);
        if !declared {
            let key = ResourceKey::new("", "Namespace", "", &opts.namespace);
            tasks.push(SyncTask {
                phase: SyncPhase::PreSync,
                wave: 0,
                kind_order: kind_order("Namespace"),
                key,
                action: SyncAction::CreateNamespace,
                object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": opts.namespace}}),
                live_exists: false,
                options: ResourceOptions::default(),
            });
        }
    }

    mirror_prune_waves(&mut tasks);
    // PruneLast prunes go one wave after the last Sync-phase wave (prunes included).
    let last_sync_wave = tasks
        .iter()
        .filter(|t| t.phase == SyncPhase::Sync)
        .map(|t| t.wave)
        .max()
        .unwrap_or(0)
        .max(0)
        + 1;
    for t in tasks.iter_mut() {
        if t.is_prune() && (opts.prune_last || t.options.prune_last) {
            t.wave = last_sync_wave;
        }
    }

    tasks.sort_by(|a, b| {
        (
            a.phase,
            a.wave,
            a.kind_order,
            &a.key.name,
            &a.key.namespace,
            &a.key.group,
        )
            .cmp(&(
                b.phase,
                b.wave,
                b.kind_order,
                &b.key.name,
                &b.key.namespace,
                &b.key.group,
            ))
    });
    // Namespaces before the resources in them; CRDs before resources of their kind.
    adjust_deps(
        &mut tasks,
        |t| (t.key.group.is_empty() && t.key.kind == "Namespace").then(|| t.key.name.clone()),
        |t| (!t.key.namespace.is_empty()).then(|| t.key.namespace.clone()),
    );
    adjust_deps(
        &mut tasks,
        |t| {
            if t.key.kind != "CustomResourceDefinition" || t.key.group != "apiextensions.k8s.io" {
                return None;
            }
            let group = t.object.pointer("/spec/group")?.as_str()?;
            let kind = t.object.pointer("/spec/names/kind")?.as_str()?;
            Some(format!("{group}/{kind}"))
        },
        |t| Some(format!("{}/{}", t.key.group, t.key.kind)),
    );
    Ok(SyncPlan { tasks, skipped })
}

/// Mirror prune waves so prunes run in reverse creation order: with prune waves [a < b < c],
/// tasks of wave a move to c and those of c to a (gitops-engine's symmetric swap).
fn mirror_prune_waves(tasks: &mut [SyncTask]) {
    let mut waves: Vec<i32> = tasks
        .iter()
        .filter(|t| t.is_prune())
        .map(|t| t.wave)
        .collect();
    waves.sort_unstable();
    waves.dedup();
    let n = waves.len();
    let mirror: HashMap<i32, i32> = waves
        .iter()
        .enumerate()
        .map(|(i, w)| (*w, waves[n - 1 - i]))
        .collect();
    for t in tasks.iter_mut().filter(|t| t.is_prune()) {
        if let Some(w) = mirror.get(&t.wave) {
            t.wave = *w;
        }
    }
}

/// Move each dependency task (per `is_dep`) before the first task that refers to it (per
/// `refers`), giving it that task's phase and wave. Prunes neither depend nor are depended on.
fn adjust_deps(
    tasks: &mut Vec<SyncTask>,
    is_dep: impl Fn(&SyncTask) -> Option<String>,
    refers: impl Fn(&SyncTask) -> Option<String>,
) {
    let mut first_ref: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < tasks.len() {
        if tasks[i].is_prune() {
            i += 1;
            continue;
        }
        if let Some(dep) = is_dep(&tasks[i]) {
            if let Some(&index) = first_ref.get(&dep) {
                let mut t = tasks.remove(i);
                t.phase = tasks[index].phase;
                t.wave = tasks[index].wave;
                tasks.insert(index, t);
                for v in first_ref.values_mut() {
                    if *v >= index {
                        *v += 1;
                    }
                }
            }
        } else if let Some(r) = refers(&tasks[i]) {
            first_ref.entry(r).or_insert(i);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(api: &str, kind: &str, ns: &str, name: &str, annotations: Value) -> Value {
        let mut meta = json!({"name": name, "annotations": annotations});
        if !ns.is_empty() {
            meta["namespace"] = json!(ns);
        }
        json!({"apiVersion": api, "kind": kind, "metadata": meta})
    }

    fn tracked(mut o: Value, app: &str) -> Value {
        let key = ResourceKey::of(&o).expect("key");
        o["metadata"]["annotations"][TRACKING_ANNOTATION] = json!(key.tracking_id(app));
        o
    }

    fn opts() -> PlanOptions {
        PlanOptions {
            app_name: "app".into(),
            namespace: "prod".into(),
            prune: true,
            namespace_exists: true,
            ..PlanOptions::default()
        }
    }

    fn order(p: &SyncPlan) -> Vec<String> {
        p.tasks
            .iter()
            .map(|t| format!("{}/{}:{}/{}", t.phase, t.wave, t.key.kind, t.key.name))
            .collect()
    }

    #[test]
    fn kind_order_matches_gitops_engine() {
        assert_eq!(kind_order("Namespace"), -35);
        assert_eq!(kind_order("APIService"), -1);
        assert_eq!(kind_order("Widget"), 0);
        assert!(kind_order("ConfigMap") < kind_order("Service"));
        assert!(kind_order("Service") < kind_order("Deployment"));
        assert!(kind_order("Deployment") < kind_order("Ingress"));
    }

    #[test]
    fn orders_by_phase_wave_kind_name() {
        let desired = vec![
            obj("apps/v1", "Deployment", "prod", "web", json!({})),
            obj("v1", "Service", "prod", "web", json!({})),
            obj("v1", "ConfigMap", "prod", "b", json!({})),
            obj("v1", "ConfigMap", "prod", "a", json!({})),
            obj(
                "batch/v1",
                "Job",
                "prod",
                "migrate",
                json!({HOOK_ANNOTATION: "PreSync"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "prod",
                "smoke",
                json!({HELM_HOOK_ANNOTATION: "post-install,post-upgrade"}),
            ),
            obj(
                "apps/v1",
                "Deployment",
                "prod",
                "late",
                json!({SYNC_WAVE_ANNOTATION: "2"}),
            ),
            obj(
                "apps/v1",
                "Deployment",
                "prod",
                "early",
                json!({SYNC_WAVE_ANNOTATION: "-1"}),
            ),
            obj("example.com/v1", "Widget", "prod", "w", json!({})),
        ];
        let p = plan(&desired, &[], &opts()).expect("plan");
        assert_eq!(
            order(&p),
            vec![
                "PreSync/0:Job/migrate",
                "Sync/-1:Deployment/early",
                "Sync/0:ConfigMap/a",
                "Sync/0:ConfigMap/b",
                "Sync/0:Service/web",
                "Sync/0:Deployment/web",
                "Sync/0:Widget/w",
                "Sync/2:Deployment/late",
                "PostSync/0:Job/smoke",
            ]
        );
        let steps = p.steps();
        assert_eq!(steps.len(), 5);
        assert_eq!(
            (steps[2].phase, steps[2].wave, steps[2].tasks.len()),
            (SyncPhase::Sync, 0, 5)
        );
    }

    #[test]
    fn hooks_policies_and_helm_weights() {
        let desired = vec![
            obj(
                "batch/v1",
                "Job",
                "prod",
                "a",
                json!({HELM_HOOK_ANNOTATION: "pre-upgrade", HELM_HOOK_WEIGHT_ANNOTATION: "5",
                HELM_HOOK_DELETE_POLICY_ANNOTATION: "hook-succeeded,before-hook-creation"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "prod",
                "b",
                json!({HOOK_ANNOTATION: "PreSync"}),
            ),
            obj(
                "v1",
                "Pod",
                "prod",
                "t",
                json!({HELM_HOOK_ANNOTATION: "test"}),
            ),
            obj(
                "v1",
                "ConfigMap",
                "prod",
                "skip",
                json!({HOOK_ANNOTATION: "Skip"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "prod",
                "fail",
                json!({HOOK_ANNOTATION: "SyncFail"}),
            ),
        ];
        let p = plan(&desired, &[], &opts()).expect("plan");
        assert_eq!(
            order(&p),
            vec!["PreSync/0:Job/b", "PreSync/5:Job/a", "SyncFail/0:Job/fail"]
        );
        assert_eq!(
            p.tasks[1].action,
            SyncAction::Hook {
                delete_policies: vec![
                    HookDeletePolicy::HookSucceeded,
                    HookDeletePolicy::BeforeHookCreation
                ]
            }
        );
        assert_eq!(
            p.tasks[0].action,
            SyncAction::Hook {
                delete_policies: vec![HookDeletePolicy::BeforeHookCreation]
            }
        );
        assert_eq!(p.skipped.len(), 2);
        assert_eq!(p.steps().len(), 2);
        assert_eq!(p.sync_fail_tasks().len(), 1);
        let no_hooks = plan(
            &desired,
            &[],
            &PlanOptions {
                skip_hooks: true,
                ..opts()
            },
        )
        .expect("plan");
        assert!(no_hooks.tasks.is_empty());
    }

    #[test]
    fn generate_name_hooks_get_deterministic_names() {
        let mut job = obj(
            "batch/v1",
            "Job",
            "prod",
            "",
            json!({HOOK_ANNOTATION: "PostSync"}),
        );
        job["metadata"]
            .as_object_mut()
            .expect("meta")
            .remove("name");
        job["metadata"]["generateName"] = json!("smoke-");
        let o = PlanOptions {
            revision: "ABCDEF0123".into(),
            started_at_unix: 1700000000,
            ..opts()
        };
        let p = plan(&[job], &[], &o).expect("plan");
        assert_eq!(p.tasks[0].key.name, "smoke-abcdef0-postsync-1700000000");
        assert_eq!(
            p.tasks[0].object["metadata"]["name"],
            json!("smoke-abcdef0-postsync-1700000000")
        );
        let mut both = p.tasks[0].object.clone();
        both["metadata"]
            .as_object_mut()
            .expect("meta")
            .remove("name");
        both["metadata"]["annotations"][HOOK_ANNOTATION] = json!("PreSync,PostSync");
        let p = plan(&[both], &[], &o).expect("plan");
        let names: Vec<&str> = p.tasks.iter().map(|t| t.key.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "smoke-abcdef0-presync-1700000000",
                "smoke-abcdef0-postsync-1700000000"
            ]
        );
    }

    #[test]
    fn bad_annotations_are_reported_with_the_resource() {
        let desired = vec![
            obj(
                "v1",
                "ConfigMap",
                "prod",
                "a",
                json!({SYNC_WAVE_ANNOTATION: "first"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "prod",
                "j",
                json!({HOOK_ANNOTATION: "PreSink"}),
            ),
            obj(
                "v1",
                "ConfigMap",
                "prod",
                "c",
                json!({SYNC_OPTIONS_ANNOTATION: "Prune=maybe"}),
            ),
        ];
        let dup = vec![
            obj("v1", "ConfigMap", "prod", "d", json!({})),
            obj("v1", "ConfigMap", "prod", "d", json!({})),
        ];
        let err = plan(&dup, &[], &opts()).expect_err("duplicate");
        assert!(err.to_string().contains("more than once"), "{err}");
        let err = plan(&desired, &[], &opts()).expect_err("invalid");
        let text = err.to_string();
        assert!(
            text.contains("ConfigMap prod/a") && text.contains("\"first\""),
            "{text}"
        );
        assert!(
            text.contains("Job.batch prod/j") && text.contains("PreSink"),
            "{text}"
        );
        assert!(text.contains("Prune=maybe"), "{text}");
    }

    #[test]
    fn prunes_only_this_apps_tracked_objects_in_reverse_waves() {
        let live = vec![
            tracked(obj("v1", "ConfigMap", "prod", "w0", json!({})), "app"),
            tracked(
                obj(
                    "v1",
                    "ConfigMap",
                    "prod",
                    "w1",
                    json!({SYNC_WAVE_ANNOTATION: "1"}),
                ),
                "app",
            ),
            tracked(
                obj(
                    "v1",
                    "ConfigMap",
                    "prod",
                    "w3",
                    json!({SYNC_WAVE_ANNOTATION: "3"}),
                ),
                "app",
            ),
            tracked(
                obj("v1", "ConfigMap", "prod", "other", json!({})),
                "other-app",
            ),
            obj("v1", "ConfigMap", "prod", "untracked", json!({})),
            tracked(
                obj(
                    "v1",
                    "ConfigMap",
                    "prod",
                    "keep",
                    json!({SYNC_OPTIONS_ANNOTATION: "Prune=false"}),
                ),
                "app",
            ),
            tracked(obj("v1", "ConfigMap", "prod", "kept", json!({})), "app"),
        ];
        let desired = vec![obj("v1", "ConfigMap", "prod", "kept", json!({}))];
        let p = plan(&desired, &live, &opts()).expect("plan");
        assert_eq!(
            order(&p),
            vec![
                "Sync/0:ConfigMap/kept",
                "Sync/0:ConfigMap/w3",
                "Sync/1:ConfigMap/w1",
                "Sync/3:ConfigMap/keep",
                "Sync/3:ConfigMap/w0",
            ]
        );
        let keep = p.tasks.iter().find(|t| t.key.name == "keep").expect("keep");
        assert_eq!(
            keep.action,
            SyncAction::PruneSkipped {
                reason: "ignored (no prune)".into()
            }
        );
        let no_prune = plan(
            &desired,
            &live,
            &PlanOptions {
                prune: false,
                ..opts()
            },
        )
        .expect("plan");
        assert!(no_prune.tasks.iter().all(|t| t.action != SyncAction::Prune));
    }

    #[test]
    fn prune_last_goes_after_the_last_sync_wave() {
        let live = vec![
            tracked(
                obj(
                    "v1",
                    "ConfigMap",
                    "prod",
                    "old",
                    json!({SYNC_OPTIONS_ANNOTATION: "PruneLast=true"}),
                ),
                "app",
            ),
            tracked(obj("v1", "ConfigMap", "prod", "older", json!({})), "app"),
        ];
        let desired = vec![obj(
            "apps/v1",
            "Deployment",
            "prod",
            "web",
            json!({SYNC_WAVE_ANNOTATION: "4"}),
        )];
        let p = plan(&desired, &live, &opts()).expect("plan");
        assert_eq!(
            order(&p),
            vec![
                "Sync/0:ConfigMap/older",
                "Sync/4:Deployment/web",
                "Sync/5:ConfigMap/old"
            ]
        );
        let all_last = plan(
            &desired,
            &live,
            &PlanOptions {
                prune_last: true,
                ..opts()
            },
        )
        .expect("plan");
        assert_eq!(all_last.tasks.iter().filter(|t| t.wave == 5).count(), 2);
    }

    #[test]
    fn apply_out_of_sync_only_skips_synced() {
        let desired = vec![
            obj("v1", "ConfigMap", "prod", "same", json!({})),
            obj("v1", "ConfigMap", "prod", "changed", json!({})),
        ];
        let live = vec![
            tracked(obj("v1", "ConfigMap", "prod", "same", json!({})), "app"),
            tracked(obj("v1", "ConfigMap", "prod", "changed", json!({})), "app"),
        ];
        let mut o = opts();
        o.apply_out_of_sync_only = true;
        o.synced
            .insert(ResourceKey::new("", "ConfigMap", "prod", "same"));
        let p = plan(&desired, &live, &o).expect("plan");
        assert_eq!(order(&p), vec!["Sync/0:ConfigMap/changed"]);
        assert_eq!(p.skipped[0].key.name, "same");
        assert!(p.tasks[0].live_exists);
    }

    #[test]
    fn create_namespace_and_dependency_bubbling() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com", "annotations": {SYNC_WAVE_ANNOTATION: "3"}},
            "spec": {"group": "example.com", "names": {"kind": "Widget"}}});
        let desired = vec![
            crd,
            obj(
                "example.com/v1",
                "Widget",
                "prod",
                "w",
                json!({SYNC_WAVE_ANNOTATION: "-2"}),
            ),
            obj(
                "v1",
                "ConfigMap",
                "other",
                "c",
                json!({SYNC_WAVE_ANNOTATION: "-5"}),
            ),
            obj("v1", "Namespace", "", "other", json!({})),
        ];
        let mut o = opts();
        o.create_namespace = true;
        o.namespace_exists = false;
        let p = plan(&desired, &[], &o).expect("plan");
        assert_eq!(
            order(&p),
            vec![
                "PreSync/0:Namespace/prod",
                "Sync/-5:Namespace/other",
                "Sync/-5:ConfigMap/c",
                "Sync/-2:CustomResourceDefinition/widgets.example.com",
                "Sync/-2:Widget/w",
            ]
        );
        assert_eq!(p.tasks[0].action, SyncAction::CreateNamespace);
        o.namespace_exists = true;
        assert_eq!(plan(&desired, &[], &o).expect("plan").tasks.len(), 4);
    }

    #[test]
    fn sync_options_parse() {
        let o = obj(
            "v1",
            "ConfigMap",
            "prod",
            "c",
            json!({SYNC_OPTIONS_ANNOTATION:
            "Prune=false, Validate=false,ServerSideApply=true,SkipDryRunOnMissingResource=true,PruneLast=true,Unknown=x"}),
        );
        let r = parse_sync_options(&o).expect("options");
        assert!(r.no_prune && r.no_validate && r.prune_last && r.skip_dry_run_on_missing_resource);
        assert_eq!(r.server_side_apply, Some(true));
        let bad = obj(
            "v1",
            "ConfigMap",
            "prod",
            "c",
            json!({SYNC_OPTIONS_ANNOTATION: "PruneLast"}),
        );
        assert!(parse_sync_options(&bad).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const KINDS: [(&str, &str); 8] = [
            ("v1", "Namespace"),
            ("v1", "ConfigMap"),
            ("v1", "Service"),
            ("apps/v1", "Deployment"),
            ("batch/v1", "Job"),
            ("networking.k8s.io/v1", "Ingress"),
            ("example.com/v1", "Widget"),
            ("v1", "Secret"),
        ];

        fn object() -> impl Strategy<Value = Value> {
            (
                0..KINDS.len(),
                "[a-c]",
                prop::option::of(-2i32..3),
                0..4usize,
                "[a-b]",
            )
                .prop_map(|(k, name, wave, hook, ns)| {
                    let (api, kind) = KINDS[k];
                    let mut ann = serde_json::Map::new();
                    if let Some(w) = wave {
                        ann.insert(SYNC_WAVE_ANNOTATION.into(), json!(w.to_string()));
                    }
                    match hook {
                        1 => {
                            ann.insert(HOOK_ANNOTATION.into(), json!("PreSync"));
                        }
                        2 => {
                            ann.insert(HELM_HOOK_ANNOTATION.into(), json!("post-upgrade"));
                        }
                        _ => {}
                    }
                    let ns = if kind == "Namespace" { "" } else { ns.as_str() };
                    obj(api, kind, ns, &name, Value::Object(ann))
                })
        }

        proptest! {
            #[test]
            fn plan_is_ordered_by_phase_then_wave(
                desired in proptest::collection::vec(object(), 0..12),
                live in proptest::collection::vec(object(), 0..6),
            ) {
                let live: Vec<Value> = live.into_iter().map(|o| tracked(o, "app")).collect();
                let mut seen = HashSet::new();
                let desired: Vec<Value> = desired
                    .into_iter()
                    .filter(|d| ResourceKey::of(d).is_some_and(|k| seen.insert(k)))
                    .collect();
                let mut o = opts();
                o.create_namespace = true;
                o.namespace_exists = false;
                let p = plan(&desired, &live, &o).expect("plan");
                for w in p.tasks.windows(2) {
                    prop_assert!((w[0].phase, w[0].wave) <= (w[1].phase, w[1].wave),
                        "{:?}", order(&p));
                }
                // Every desired non-hook object is applied or skipped; nothing is lost.
                let applied = p.tasks.iter().filter(|t| t.action == SyncAction::Apply).count();
                let non_hooks = desired.iter().filter(|d| !is_hook(d)).count();
                prop_assert!(applied <= non_hooks);
            }
        }
    }
}
