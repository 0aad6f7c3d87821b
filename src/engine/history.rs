//! Shared operational state in the cluster: sync history and auto-sync overrides.
//!
//! Everything lives in the namespace [`STATE_NAMESPACE`] (`sextant-system`) of the App's
//! destination cluster, so every operator sees the same state and nothing important lives on one
//! laptop. It is never in an App's destination namespace, so no prune or namespace deletion of
//! an App can remove it, and objects there carry no tracking annotation (sync never touches them).
//!
//! - `ConfigMap sextant-history-<app>`: `data.history` = JSON list of [`HistoryEntry`] (oldest
//!   first, at most `revisionHistoryLimit`), `data.inventory` = JSON list of `group/version/kind`
//!   the App's last sync applied (so extras of kinds no longer rendered are still found).
//! - `ConfigMap sextant-autosync-<app>`: an operator's override of Git's `syncPolicy.automated`.
//! - `ConfigMap sextant-operation-<app>`: `data.operation` = JSON of the App's last or current
//!   operation ([`OperationState`], Argo CD's `status.operationState`): written as `Running` when
//!   an operation starts (after its Lease is taken), updated with the result when it ends, also
//!   when it fails. A `Running` record whose Lease is gone reads as `Error` (the process died).
//!
//! Writes are read-modify-write with the `resourceVersion` as precondition, retried on conflict,
//! so two operators finishing syncs at once both land in history.
//!
//! Over 600 lines: to become `state/{history,overrides,operation,lock}` with serde (issue 16).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api::{
    HistoryEntry, OperationKind, OperationPhase, OperationResult, OperationState, RecordedPhase,
    ResourceResult, ResultCode, Revision, SyncOptions,
};
use crate::cluster::{ApplyOptions, Cluster, ClusterError, Gvk};
use crate::resource::ResourceKey;

/// Namespace holding Sextant's shared state on each cluster.
pub const STATE_NAMESPACE: &str = "sextant-system";

/// Label put on every state object.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "sextant");

fn configmap_gvk() -> Gvk {
    Gvk::new("", "v1", "ConfigMap")
}

pub fn history_name(app: &str) -> String {
    format!("sextant-history-{app}")
}

pub fn override_name(app: &str) -> String {
    format!("sextant-autosync-{app}")
}

/// Create the state namespace if missing (server-side apply is idempotent).
pub async fn ensure_state_namespace(cluster: &dyn Cluster) -> Result<(), ClusterError> {
    let ns = Gvk::new("", "v1", "Namespace");
    if cluster.get(&ns, "", STATE_NAMESPACE).await?.is_some() {
        return Ok(());
    }
    let obj = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": STATE_NAMESPACE, "labels": {MANAGED_BY.0: MANAGED_BY.1}}
    });
    cluster
        .apply(&obj, ApplyOptions::default())
        .await
        .map(|_| ())
}

pub fn operation_name(app: &str) -> String {
    format!("sextant-operation-{app}")
}

/// History and inventory of one App.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
    /// Kinds applied by the last successful sync.
    pub inventory: Vec<Gvk>,
    /// The last or current operation (any operator's), when one was recorded and could be read.
    pub operation: Option<OperationState>,
}

impl History {
    pub fn find(&self, id: u64) -> Option<&HistoryEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn last(&self) -> Option<&HistoryEntry> {
        self.entries.last()
    }
}

fn parse_history(cm: &Value) -> History {
    let data = cm.get("data");
    let entries = data
        .and_then(|d| d.get("history"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<HistoryEntry>>(s).ok())
        .unwrap_or_default();
    let inventory = data
        .and_then(|d| d.get("inventory"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let mut p = s.splitn(3, '/');
            Some(Gvk::new(p.next()?, p.next()?, p.next()?))
        })
        .collect();
    History {
        entries,
        inventory,
        operation: None,
    }
}

/// Read an App's history (empty when none was recorded yet) and its last or current operation.
/// The operation is best effort: when it cannot be read the history still loads.
pub async fn load(cluster: &dyn Cluster, app: &str) -> Result<History, ClusterError> {
    let mut h = match cluster
        .get(&configmap_gvk(), STATE_NAMESPACE, &history_name(app))
        .await
    {
        Ok(Some(cm)) => parse_history(&cm),
        Ok(None) => History::default(),
        // The state namespace does not exist yet.
        Err(e) if e.is_not_found() => History::default(),
        Err(e) => return Err(e),
    };
    h.operation = load_operation(cluster, app).await.unwrap_or_else(|e| {
        tracing::debug!(app, "operation record not readable: {e}");
        None
    });
    Ok(h)
}

/// What to record after a successful sync.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub revision: String,
    pub subject: String,
    pub initiated_by: String,
    pub source: String,
}

/// Append an entry (id = last id + 1), keep the newest `limit`, store the inventory; returns the id.
pub async fn record(
    cluster: &dyn Cluster,
    app: &str,
    entry: NewEntry,
    limit: usize,
    inventory: &[Gvk],
) -> Result<u64, ClusterError> {
    ensure_state_namespace(cluster).await?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = cluster
            .get(&configmap_gvk(), STATE_NAMESPACE, &history_name(app))
            .await?;
        let mut h = current.as_ref().map(parse_history).unwrap_or_default();
        let id = h.entries.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        h.entries.push(HistoryEntry {
            id,
            revision: entry.revision.clone(),
            subject: entry.subject.clone(),
            deployed_at: now_rfc3339(),
            initiated_by: entry.initiated_by.clone(),
            source: entry.source.clone(),
        });
        let keep = limit.max(1);
        if h.entries.len() > keep {
            let drop = h.entries.len() - keep;
            h.entries.drain(..drop);
        }
        let mut kinds: Vec<String> = inventory
            .iter()
            .map(|g| format!("{}/{}/{}", g.group, g.version, g.kind))
            .collect();
        kinds.sort();
        kinds.dedup();
        let mut obj = state_configmap(
            &history_name(app),
            app,
            BTreeMap::from([
                (
                    "history".to_string(),
                    serde_json::to_string(&h.entries).unwrap_or_default(),
                ),
                (
                    "inventory".to_string(),
                    serde_json::to_string(&kinds).unwrap_or_default(),
                ),
            ]),
        );
        if let Some(rv) = current
            .as_ref()
            .and_then(|c| c.pointer("/metadata/resourceVersion"))
        {
            obj["metadata"]["resourceVersion"] = rv.clone();
        }
        match cluster
            .apply(
                &obj,
                ApplyOptions {
                    force: true,
                    dry_run: false,
                },
            )
            .await
        {
            Ok(_) => return Ok(id),
            Err(ClusterError::AlreadyExists { .. }) if attempts < 5 => continue,
            Err(e) => return Err(e),
        }
    }
}

fn state_configmap(name: &str, app: &str, data: BTreeMap<String, String>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": STATE_NAMESPACE,
            "labels": {MANAGED_BY.0: MANAGED_BY.1, "sextant.io/app": label_value(app)},
        },
        "data": data,
    })
}

/// Label values are at most 63 characters.
fn label_value(s: &str) -> String {
    s.chars().take(63).collect()
}

/// RFC 3339 UTC timestamp, second precision.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Parse an RFC 3339 timestamp into a `SystemTime`.
pub fn parse_time(s: &str) -> Option<std::time::SystemTime> {
    let ts: k8s_openapi::jiff::Timestamp = s.parse().ok()?;
    Some(std::time::SystemTime::from(ts))
}

/// An operator's auto-sync override for one App.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSyncOverride {
    pub enabled: bool,
    pub self_heal: bool,
    pub prune: bool,
    pub set_by: String,
    pub set_at: String,
}

pub async fn load_override(
    cluster: &dyn Cluster,
    app: &str,
) -> Result<Option<AutoSyncOverride>, ClusterError> {
    let cm = match cluster
        .get(&configmap_gvk(), STATE_NAMESPACE, &override_name(app))
        .await
    {
        Ok(Some(cm)) => cm,
        Ok(None) => return Ok(None),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let get = |k: &str| {
        cm.get("data")
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Ok(Some(AutoSyncOverride {
        enabled: get("enabled") == "true",
        self_heal: get("selfHeal") == "true",
        prune: get("prune") == "true",
        set_by: get("setBy"),
        set_at: get("setAt"),
    }))
}

/// Store an override (visible to every operator); `None` removes it (back to Git's policy).
pub async fn store_override(
    cluster: &dyn Cluster,
    app: &str,
    value: Option<&AutoSyncOverride>,
) -> Result<(), ClusterError> {
    match value {
        None => cluster
            .delete(
                &configmap_gvk(),
                STATE_NAMESPACE,
                &override_name(app),
                crate::cluster::Propagation::Background,
            )
            .await
            .map(|_| ())
            .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) }),
        Some(o) => {
            ensure_state_namespace(cluster).await?;
            let obj = state_configmap(
                &override_name(app),
                app,
                BTreeMap::from([
                    ("enabled".to_string(), o.enabled.to_string()),
                    ("selfHeal".to_string(), o.self_heal.to_string()),
                    ("prune".to_string(), o.prune.to_string()),
                    ("setBy".to_string(), o.set_by.clone()),
                    ("setAt".to_string(), o.set_at.clone()),
                ]),
            );
            cluster
                .apply(
                    &obj,
                    ApplyOptions {
                        force: true,
                        dry_run: false,
                    },
                )
                .await
                .map(|_| ())
        }
    }
}

// ------------------------------------------------------------------------ operation record

/// Most per-resource results kept in a record; a ConfigMap holds at most 1 MiB and an App of
/// thousands of objects would not fit. Counts by result code cover every resource.
pub const MAX_RECORDED_RESOURCES: usize = 250;

/// The record of an operation that is starting (phase `Running`). `id` is the operation's lease
/// identity, so a late end-of-operation write never overwrites a newer operation's record.
pub fn operation_starting(
    id: &str,
    kind: OperationKind,
    initiated_by: &str,
    revision: &Revision,
    options: &SyncOptions,
    sync_options: &[String],
) -> OperationState {
    OperationState {
        id: id.to_string(),
        kind,
        phase: RecordedPhase::Running,
        message: "operation in progress".into(),
        initiated_by: initiated_by.to_string(),
        started_at: now_rfc3339(),
        finished_at: None,
        revision: revision.clone(),
        requested_revision: options.revision.clone(),
        dry_run: options.dry_run,
        prune: options.prune,
        force: options.force,
        apply_out_of_sync_only: options.apply_out_of_sync_only,
        resource_filters: options
            .resources
            .iter()
            .map(|f| {
                if f.namespace.is_empty() {
                    format!("{}:{}:{}", f.group, f.kind, f.name)
                } else {
                    format!("{}:{}:{}/{}", f.group, f.kind, f.namespace, f.name)
                }
            })
            .collect(),
        sync_options: sync_options.to_vec(),
        retry_limit: options.retry.map(|r| r.limit),
        timeout_secs: options.timeout.map(|t| t.as_secs()),
        retries: 0,
        history_id: None,
        summary: BTreeMap::new(),
        resources: Vec::new(),
        resources_omitted: 0,
        source: None,
    }
}

/// The record of a finished operation: its phase, message and per-resource results (failures
/// first, capped at [`MAX_RECORDED_RESOURCES`]).
pub fn operation_finished(started: &OperationState, result: &OperationResult) -> OperationState {
    let mut rec = started.clone();
    rec.phase = match result.phase {
        OperationPhase::Succeeded => RecordedPhase::Succeeded,
        OperationPhase::Failed | OperationPhase::Refused => RecordedPhase::Failed,
        OperationPhase::Error => RecordedPhase::Error,
    };
    rec.message = result.message.clone();
    rec.finished_at = Some(now_rfc3339());
    if !result.revision.is_empty() {
        rec.revision.sha = result.revision.clone();
    }
    rec.dry_run = result.dry_run;
    rec.retries = result.retries;
    rec.history_id = result.history_id;
    rec.summary = super::api::summarize(&result.resources);
    let mut ordered: Vec<&ResourceResult> = result.resources.iter().collect();
    // Stable: failures first, the rest in execution order.
    ordered.sort_by_key(|r| !r.code.is_failure());
    rec.resources = ordered
        .into_iter()
        .take(MAX_RECORDED_RESOURCES)
        .cloned()
        .collect();
    rec.resources_omitted = result.resources.len().saturating_sub(rec.resources.len());
    rec
}

fn kind_str(k: OperationKind) -> &'static str {
    match k {
        OperationKind::Sync => "Sync",
        OperationKind::Rollback => "Rollback",
        OperationKind::AutoSync => "AutoSync",
        OperationKind::SelfHeal => "SelfHeal",
    }
}

fn parse_kind(s: &str) -> Option<OperationKind> {
    Some(match s {
        "Sync" => OperationKind::Sync,
        "Rollback" => OperationKind::Rollback,
        "AutoSync" => OperationKind::AutoSync,
        "SelfHeal" => OperationKind::SelfHeal,
        _ => return None,
    })
}

/// The operation kind of a lease identity's operation word (`sync`, `auto-sync`, ...).
fn kind_of_lease_word(w: &str) -> OperationKind {
    match w {
        "rollback" => OperationKind::Rollback,
        "auto-sync" => OperationKind::AutoSync,
        "self-heal" => OperationKind::SelfHeal,
        _ => OperationKind::Sync,
    }
}

pub fn recorded_phase_str(p: RecordedPhase) -> &'static str {
    match p {
        RecordedPhase::Running => "Running",
        RecordedPhase::Succeeded => "Succeeded",
        RecordedPhase::Failed => "Failed",
        RecordedPhase::Error => "Error",
    }
}

fn parse_phase(s: &str) -> Option<RecordedPhase> {
    Some(match s {
        "Running" => RecordedPhase::Running,
        "Succeeded" => RecordedPhase::Succeeded,
        "Failed" => RecordedPhase::Failed,
        "Error" => RecordedPhase::Error,
        _ => return None,
    })
}

const RESULT_CODES: [ResultCode; 13] = [
    ResultCode::Synced,
    ResultCode::Created,
    ResultCode::Configured,
    ResultCode::Unchanged,
    ResultCode::Pruned,
    ResultCode::PruneSkipped,
    ResultCode::HookRunning,
    ResultCode::HookSucceeded,
    ResultCode::HookFailed,
    ResultCode::Failed,
    ResultCode::WouldCreate,
    ResultCode::WouldConfigure,
    ResultCode::WouldPrune,
];

fn parse_code(s: &str) -> Option<ResultCode> {
    RESULT_CODES.into_iter().find(|c| format!("{c:?}") == s)
}

/// The stored JSON of a record (field names as in `docs/cli-json-schema.md`).
pub fn operation_to_json(o: &OperationState) -> Value {
    json!({
        "id": o.id,
        "kind": kind_str(o.kind),
        "phase": recorded_phase_str(o.phase),
        "message": o.message,
        "initiatedBy": o.initiated_by,
        "startedAt": o.started_at,
        "finishedAt": o.finished_at,
        "revision": {"sha": o.revision.sha, "subject": o.revision.subject},
        "requestedRevision": o.requested_revision,
        "dryRun": o.dry_run,
        "prune": o.prune,
        "force": o.force,
        "applyOutOfSyncOnly": o.apply_out_of_sync_only,
        "resourceFilters": o.resource_filters,
        "syncOptions": o.sync_options,
        "retryLimit": o.retry_limit,
        "timeoutSeconds": o.timeout_secs,
        "retries": o.retries,
        "historyId": o.history_id,
        "summary": o.summary,
        "resources": o.resources.iter().map(|r| json!({
            "group": r.key.group, "kind": r.key.kind, "namespace": r.key.namespace,
            "name": r.key.name, "phase": r.phase, "syncWave": r.wave,
            "result": format!("{:?}", r.code), "message": r.message,
        })).collect::<Vec<_>>(),
        "resourcesOmitted": o.resources_omitted,
        "sourceFingerprint": o.source,
    })
}

/// Parse a stored record; `None` when it is not one (hand-edited, another version).
pub fn operation_from_json(v: &Value) -> Option<OperationState> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let strings = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let resources = v
        .get("resources")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let f = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
                    Some(ResourceResult {
                        key: ResourceKey::new(f("group"), f("kind"), f("namespace"), f("name")),
                        phase: f("phase").to_string(),
                        wave: r.get("syncWave").and_then(Value::as_i64).unwrap_or(0),
                        code: parse_code(f("result"))?,
                        message: f("message").to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(OperationState {
        id: s("id").unwrap_or_default(),
        kind: parse_kind(&s("kind")?)?,
        phase: parse_phase(&s("phase")?)?,
        message: s("message").unwrap_or_default(),
        initiated_by: s("initiatedBy").unwrap_or_default(),
        started_at: s("startedAt").unwrap_or_default(),
        finished_at: s("finishedAt"),
        revision: Revision {
            sha: v
                .pointer("/revision/sha")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            subject: v
                .pointer("/revision/subject")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        },
        requested_revision: s("requestedRevision"),
        dry_run: b("dryRun"),
        prune: b("prune"),
        force: b("force"),
        apply_out_of_sync_only: b("applyOutOfSyncOnly"),
        resource_filters: strings("resourceFilters"),
        sync_options: strings("syncOptions"),
        retry_limit: v.get("retryLimit").and_then(Value::as_i64),
        timeout_secs: v.get("timeoutSeconds").and_then(Value::as_u64),
        retries: v
            .get("retries")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        history_id: v.get("historyId").and_then(Value::as_u64),
        summary: v
            .get("summary")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, n)| Some((k.clone(), usize::try_from(n.as_u64()?).ok()?)))
                    .collect()
            })
            .unwrap_or_default(),
        resources,
        resources_omitted: v
            .get("resourcesOmitted")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        source: s("sourceFingerprint"),
    })
}

fn parse_operation_cm(cm: &Value) -> Option<OperationState> {
    let text = cm.pointer("/data/operation")?.as_str()?;
    operation_from_json(&serde_json::from_str(text).ok()?)
}

/// What a reader makes of the stored record and the lease: a `Running` record whose lease is
/// gone (or now held by another operation) never finished; a lease held by an operation that has
/// not written its record yet (or whose operator cannot) is shown as running from the lease.
pub fn reconcile_with_lease(
    record: Option<OperationState>,
    lease: Option<(String, String)>,
) -> Option<OperationState> {
    match (record, lease) {
        (Some(r), Some((holder, _))) if r.id == holder => Some(r),
        (Some(mut r), lease) if r.phase == RecordedPhase::Running && lease.is_none() => {
            r.phase = RecordedPhase::Error;
            r.message = format!(
                "interrupted: the operation started by {} never recorded a result (its process stopped or lost the cluster, and its lease expired)",
                r.initiated_by
            );
            Some(r)
        }
        // An older record (finished, or Running and superseded) gives way to the lease holder.
        (_, Some((holder, since))) => {
            let (who, what) = super::lock::split_identity(&holder);
            let mut r = operation_starting(
                &holder,
                kind_of_lease_word(&what),
                &who,
                &Revision::default(),
                &SyncOptions::default(),
                &[],
            );
            r.started_at = since
                .parse::<k8s_openapi::jiff::Timestamp>()
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or(since);
            r.message = format!("{what} in progress by {who}");
            Some(r)
        }
        (record, None) => record,
    }
}

/// Read the App's last or current operation (see [`reconcile_with_lease`]).
pub async fn load_operation(
    cluster: &dyn Cluster,
    app: &str,
) -> Result<Option<OperationState>, ClusterError> {
    let record = match cluster
        .get(&configmap_gvk(), STATE_NAMESPACE, &operation_name(app))
        .await
    {
        Ok(cm) => cm.as_ref().and_then(parse_operation_cm),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    // A user who may read ConfigMaps but not Leases still sees the record as stored.
    let lease = match super::lock::holder_with_silence(cluster, app).await {
        Ok(l) => l,
        Err(_) => return Ok(record),
    };
    let silent = lease.as_ref().and_then(|(_, _, s)| *s);
    let mut op = reconcile_with_lease(record, lease.map(|(h, since, _)| (h, since)));
    // A holder gone silent (its session quit or lost the cluster): say so, and when a sync can
    // take over.
    if let (Some(o), Some(secs)) = (op.as_mut(), silent)
        && o.phase == RecordedPhase::Running
    {
        o.message = format!("{}; {}", o.message, super::lock::silent_holder_note(secs));
    }
    Ok(op)
}

fn operation_configmap(app: &str, o: &OperationState) -> Value {
    state_configmap(
        &operation_name(app),
        app,
        BTreeMap::from([("operation".to_string(), operation_to_json(o).to_string())]),
    )
}

/// Record an operation that starts (the caller holds the App's lease).
pub async fn store_operation_start(
    cluster: &dyn Cluster,
    app: &str,
    o: &OperationState,
) -> Result<(), ClusterError> {
    ensure_state_namespace(cluster).await?;
    cluster
        .apply(
            &operation_configmap(app, o),
            ApplyOptions {
                force: true,
                dry_run: false,
            },
        )
        .await
        .map(|_| ())
}

/// Record the end of an operation, unless another operation's record replaced ours meanwhile
/// (our lease expired and someone else took it). The write is conditional on the
/// `resourceVersion` read, retried on a concurrent change.
pub async fn store_operation_end(
    cluster: &dyn Cluster,
    app: &str,
    o: &OperationState,
) -> Result<(), ClusterError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = match cluster
            .get(&configmap_gvk(), STATE_NAMESPACE, &operation_name(app))
            .await
        {
            Ok(c) => c,
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let result = match &current {
            Some(cm) => {
                if parse_operation_cm(cm).is_some_and(|r| r.id != o.id) {
                    return Ok(());
                }
                let mut obj = operation_configmap(app, o);
                obj["metadata"]["resourceVersion"] = cm
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                cluster.replace(&obj).await
            }
            None => {
                ensure_state_namespace(cluster).await?;
                cluster.create(&operation_configmap(app, o)).await
            }
        };
        match result {
            Ok(_) => return Ok(()),
            Err(ClusterError::AlreadyExists { .. }) if attempts < 5 => continue,
            Err(e) => return Err(e),
        }
    }
}

/// [`store_operation_end`]; when the cluster cannot be reached (the operation probably failed
/// for that reason), keep trying in the background for a lease lifetime so the record does not
/// stay `Running`.
pub async fn finish_operation_record(
    cluster: std::sync::Arc<dyn Cluster>,
    app: &str,
    o: OperationState,
) -> Result<(), ClusterError> {
    let first = store_operation_end(cluster.as_ref(), app, &o).await;
    if let Err(e) = &first
        && e.is_transient()
    {
        let app = app.to_string();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now()
                + std::time::Duration::from_secs(super::lock::LEASE_SECONDS as u64);
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                if store_operation_end(cluster.as_ref(), &app, &o)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        });
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_configmap_round_trips() {
        let entries = vec![HistoryEntry {
            id: 3,
            revision: "abc".into(),
            subject: "s".into(),
            deployed_at: "2026-01-01T00:00:00Z".into(),
            initiated_by: "me@host".into(),
            source: "repo path".into(),
        }];
        let cm = state_configmap(
            "x",
            "app",
            BTreeMap::from([
                ("history".into(), serde_json::to_string(&entries).unwrap()),
                (
                    "inventory".into(),
                    r#"["apps/v1/Deployment","/v1/ConfigMap"]"#.into(),
                ),
            ]),
        );
        let h = parse_history(&cm);
        assert_eq!(h.entries, entries);
        assert_eq!(
            h.inventory,
            vec![
                Gvk::new("apps", "v1", "Deployment"),
                Gvk::new("", "v1", "ConfigMap")
            ]
        );
        assert_eq!(h.find(3).map(|e| e.revision.as_str()), Some("abc"));
        assert!(h.find(4).is_none());
    }

    fn result(name: &str, code: ResultCode) -> ResourceResult {
        ResourceResult {
            key: ResourceKey::new("", "ConfigMap", "ns", name),
            phase: "Sync".into(),
            wave: 0,
            code,
            message: if code.is_failure() {
                format!("ConfigMap {name:?} is invalid")
            } else {
                String::new()
            },
        }
    }

    fn started() -> OperationState {
        let options = SyncOptions {
            prune: true,
            revision: Some("v1".into()),
            resources: vec![super::super::api::ResourceFilter::parse(":ConfigMap:ns/a").unwrap()],
            timeout: Some(std::time::Duration::from_secs(90)),
            ..SyncOptions::default()
        };
        operation_starting(
            "me@host sync #01",
            OperationKind::Sync,
            "me@host",
            &Revision {
                sha: "a".repeat(40),
                subject: "s".into(),
            },
            &options,
            &["CreateNamespace=true".to_string()],
        )
    }

    #[test]
    fn operation_record_round_trips_through_the_configmap() {
        let rec = started();
        assert_eq!(rec.phase, RecordedPhase::Running);
        assert_eq!(rec.resource_filters, vec![":ConfigMap:ns/a".to_string()]);
        assert_eq!(rec.timeout_secs, Some(90));
        assert_eq!(
            parse_operation_cm(&operation_configmap("app", &rec)),
            Some(rec.clone())
        );
        let done = operation_finished(
            &rec,
            &OperationResult {
                app: "app".into(),
                kind: OperationKind::Sync,
                phase: OperationPhase::Failed,
                revision: "b".repeat(40),
                message: "one object failed".into(),
                resources: vec![
                    result("ok", ResultCode::Configured),
                    result("bad", ResultCode::Failed),
                ],
                dry_run: false,
                retries: 2,
                history_id: None,
                diffs: Vec::new(),
            },
        );
        assert_eq!(done.phase, RecordedPhase::Failed);
        assert!(done.finished_at.is_some());
        assert_eq!(done.revision.sha, "b".repeat(40));
        assert_eq!(done.retries, 2);
        assert_eq!(done.resources[0].key.name, "bad", "failures first");
        assert_eq!(done.summary.get("Failed"), Some(&1));
        assert_eq!(done.summary.get("Configured"), Some(&1));
        let back = parse_operation_cm(&operation_configmap("app", &done)).unwrap();
        assert_eq!(back, done);
        // Not a record: ignored rather than misread.
        assert_eq!(operation_from_json(&json!({"kind": "Dance"})), None);
    }

    #[test]
    fn large_operations_keep_counts_but_cap_the_list() {
        let many: Vec<ResourceResult> = (0..MAX_RECORDED_RESOURCES + 40)
            .map(|i| {
                result(
                    &format!("cm-{i}"),
                    if i == MAX_RECORDED_RESOURCES + 10 {
                        ResultCode::Failed
                    } else {
                        ResultCode::Created
                    },
                )
            })
            .collect();
        let done = operation_finished(
            &started(),
            &OperationResult {
                app: "app".into(),
                kind: OperationKind::Sync,
                phase: OperationPhase::Failed,
                revision: String::new(),
                message: "m".into(),
                resources: many,
                dry_run: false,
                retries: 0,
                history_id: None,
                diffs: Vec::new(),
            },
        );
        assert_eq!(done.resources.len(), MAX_RECORDED_RESOURCES);
        assert_eq!(done.resources_omitted, 40);
        assert_eq!(
            done.resources[0].code,
            ResultCode::Failed,
            "the failure is kept although it came late"
        );
        assert_eq!(
            done.summary.values().sum::<usize>(),
            MAX_RECORDED_RESOURCES + 40
        );
        assert_eq!(
            done.revision.sha,
            "a".repeat(40),
            "kept when the result has none"
        );
    }

    #[test]
    fn readers_reconcile_the_record_with_the_lease() {
        let running = started();
        let lease = |id: &str| Some((id.to_string(), "2026-01-01T10:00:00.123456Z".to_string()));
        // Our lease is held: Running as recorded.
        assert_eq!(
            reconcile_with_lease(Some(running.clone()), lease("me@host sync #01")),
            Some(running.clone())
        );
        // Running but the lease is gone: it never finished.
        let dead = reconcile_with_lease(Some(running.clone()), None).unwrap();
        assert_eq!(dead.phase, RecordedPhase::Error);
        assert!(
            dead.message.contains("never recorded a result"),
            "{}",
            dead.message
        );
        // Finished records stand when no one holds the lease.
        let mut done = running.clone();
        done.phase = RecordedPhase::Succeeded;
        assert_eq!(
            reconcile_with_lease(Some(done.clone()), None),
            Some(done.clone())
        );
        assert_eq!(reconcile_with_lease(None, None), None);
        // Another operation holds the lease: shown running from the lease.
        for record in [Some(done), Some(running), None] {
            let other = reconcile_with_lease(record, lease("bob@box self-heal #02")).unwrap();
            assert_eq!(other.phase, RecordedPhase::Running);
            assert_eq!(other.kind, OperationKind::SelfHeal);
            assert_eq!(other.initiated_by, "bob@box");
            assert_eq!(other.started_at, "2026-01-01T10:00:00Z");
            assert!(other.revision.sha.is_empty());
        }
    }

    #[test]
    fn timestamps_parse() {
        let now = now_rfc3339();
        assert!(parse_time(&now).is_some(), "{now}");
        assert!(parse_time("yesterday").is_none());
    }
}
