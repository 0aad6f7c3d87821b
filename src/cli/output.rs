//! Output shared by the headless commands: tables, the JSON documents described in
//! `docs/cli-json-schema.md`, timestamps. Everything here renders engine data, which already has
//! Secret values masked; nothing here reads a Secret.

use std::io::Write;
use std::time::SystemTime;

use clap::ValueEnum;
use color_eyre::eyre::{Result, WrapErr};
use serde_json::{Value, json};

use crate::engine::api::{
    AppState, ConditionKind, HistoryEntry, OperationInfo, OperationKind, OperationPhase,
    OperationResult, OperationState, RecordedPhase, ResourceResult, ResourceRow, ResourceState,
    ResultCode,
};
use crate::resource::ResourceKey;

/// `-o` for commands that print one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    Json,
    Yaml,
}

/// RFC 3339 UTC, second precision (`2026-03-09T11:30:00Z`).
pub fn rfc3339(t: SystemTime) -> String {
    match k8s_openapi::jiff::Timestamp::try_from(t) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => "1970-01-01T00:00:00Z".into(),
    }
}

pub fn condition_kind(k: ConditionKind) -> &'static str {
    match k {
        ConditionKind::ComparisonError => "ComparisonError",
        ConditionKind::ClusterError => "ClusterError",
        ConditionKind::SyncError => "SyncError",
        ConditionKind::SharedResourceWarning => "SharedResourceWarning",
        ConditionKind::Info => "Info",
    }
}

pub fn resource_state(s: ResourceState) -> &'static str {
    match s {
        ResourceState::Synced => "Synced",
        ResourceState::OutOfSync => "OutOfSync",
        ResourceState::Missing => "Missing",
        ResourceState::Extra => "Extra",
        ResourceState::Child => "Child",
        ResourceState::Unknown => "Unknown",
    }
}

pub fn operation_kind(k: OperationKind) -> &'static str {
    match k {
        OperationKind::Sync => "Sync",
        OperationKind::Rollback => "Rollback",
        OperationKind::AutoSync => "AutoSync",
        OperationKind::SelfHeal => "SelfHeal",
    }
}

pub fn operation_phase(p: OperationPhase) -> &'static str {
    match p {
        OperationPhase::Succeeded => "Succeeded",
        OperationPhase::Failed => "Failed",
        OperationPhase::Error => "Error",
        OperationPhase::Refused => "Refused",
    }
}

pub fn recorded_phase(p: RecordedPhase) -> &'static str {
    crate::engine::history::recorded_phase_str(p)
}

pub fn result_code(c: ResultCode) -> &'static str {
    match c {
        ResultCode::Synced => "Synced",
        ResultCode::Created => "Created",
        ResultCode::Configured => "Configured",
        ResultCode::Unchanged => "Unchanged",
        ResultCode::Pruned => "Pruned",
        ResultCode::PruneSkipped => "PruneSkipped",
        ResultCode::HookRunning => "HookRunning",
        ResultCode::HookSucceeded => "HookSucceeded",
        ResultCode::HookFailed => "HookFailed",
        ResultCode::Failed => "Failed",
        ResultCode::WouldCreate => "WouldCreate",
        ResultCode::WouldConfigure => "WouldConfigure",
        ResultCode::WouldPrune => "WouldPrune",
    }
}

/// `group/Kind` as Argo CD prints it (`/Service` for core kinds is written `Service`).
pub fn group_kind(k: &ResourceKey) -> String {
    if k.group.is_empty() {
        k.kind.clone()
    } else {
        format!("{}/{}", k.group, k.kind)
    }
}

fn key_json(k: &ResourceKey) -> Value {
    json!({"group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name})
}

pub fn resource_json(r: &ResourceRow) -> Value {
    let mut v = key_json(&r.key);
    let m = v.as_object_mut().expect("key_json is an object");
    m.insert("version".into(), json!(r.version));
    m.insert("state".into(), json!(resource_state(r.state)));
    m.insert("status".into(), json!(r.sync.as_str()));
    m.insert("health".into(), json!(r.health.map(|h| h.as_str())));
    m.insert("message".into(), json!(r.message));
    m.insert("syncWave".into(), json!(r.wave));
    m.insert("hook".into(), json!(r.hook));
    m.insert("pruneDisabled".into(), json!(r.prune_disabled));
    m.insert("foreignOwner".into(), json!(r.foreign_owner));
    v
}

pub fn history_json(e: &HistoryEntry) -> Value {
    json!({
        "id": e.id,
        "revision": e.revision,
        "subject": e.subject,
        "deployedAt": e.deployed_at,
        "initiatedBy": e.initiated_by,
        "source": e.source,
    })
}

pub fn operation_json(o: &OperationInfo) -> Value {
    json!({
        "kind": operation_kind(o.kind),
        "initiatedBy": o.initiated_by,
        "startedAt": rfc3339(o.since),
        "phase": o.phase,
        "wave": o.wave,
        "done": o.done,
        "total": o.total,
        "attempt": o.attempt,
    })
}

pub fn resource_result_json(r: &ResourceResult) -> Value {
    let mut v = key_json(&r.key);
    let m = v.as_object_mut().expect("key_json is an object");
    m.insert("phase".into(), json!(r.phase));
    m.insert("syncWave".into(), json!(r.wave));
    m.insert("result".into(), json!(result_code(r.code)));
    m.insert("message".into(), json!(r.message));
    v
}

pub fn operation_result_json(r: &OperationResult) -> Value {
    json!({
        "app": r.app,
        "kind": operation_kind(r.kind),
        "phase": operation_phase(r.phase),
        "revision": r.revision,
        "message": r.message,
        "dryRun": r.dry_run,
        "retries": r.retries,
        "historyId": r.history_id,
        "resources": r.resources.iter().map(resource_result_json).collect::<Vec<_>>(),
    })
}

/// `status.operationState`: the last or current operation as recorded in the cluster.
pub fn operation_state_json(o: &OperationState) -> Value {
    json!({
        "kind": operation_kind(o.kind),
        "phase": recorded_phase(o.phase),
        "message": o.message,
        "initiatedBy": o.initiated_by,
        "startedAt": o.started_at,
        "finishedAt": o.finished_at,
        "revision": if o.revision.sha.is_empty() {
            Value::Null
        } else {
            json!({"sha": o.revision.sha, "subject": o.revision.subject})
        },
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
        "resources": o.resources.iter().map(resource_result_json).collect::<Vec<_>>(),
        "resourcesOmitted": o.resources_omitted,
    })
}

/// The `status` object of an App (schema in docs/cli-json-schema.md).
pub fn status_json(s: &AppState) -> Value {
    json!({
        "sync": s.sync.as_str(),
        "health": s.health.as_str(),
        "healthMessage": s.health_message,
        "revision": s.revision.as_ref().map(|r| json!({"sha": r.sha, "subject": r.subject})),
        "deployed": s.deployed.as_ref().map(|r| json!({"sha": r.sha, "subject": r.subject})),
        "cluster": s.cluster,
        "autoSync": {
            "enabled": s.auto_sync.enabled,
            "selfHeal": s.auto_sync.self_heal,
            "prune": s.auto_sync.prune,
            "overridden": s.auto_sync.overridden,
        },
        "conditions": s.conditions.iter().map(|c| json!({"type": condition_kind(c.kind), "message": c.message})).collect::<Vec<_>>(),
        "comparedAt": s.compared_at.map(rfc3339),
        "lastSync": s.last_sync.as_ref().map(|l| json!({
            "time": rfc3339(l.time),
            "initiatedBy": l.initiated_by,
            "revision": l.revision,
            "succeeded": l.succeeded,
        })),
        "operation": s.operation.as_ref().map(operation_json),
        "operationState": s.operation_state.as_ref().map(operation_state_json),
    })
}

/// `SYNCPOLICY` column: effective policy (an override stored in the cluster is marked `*`).
pub fn sync_policy_label(s: &AppState) -> String {
    let a = s.auto_sync;
    let base = match (a.enabled, a.prune) {
        (true, true) => "Auto-Prune",
        (true, false) => "Auto",
        (false, _) => "<none>",
    };
    if a.overridden {
        format!("{base}*")
    } else {
        base.to_string()
    }
}

/// `CONDITIONS` column: condition types, `<none>` when there are none (Info notices excluded).
pub fn conditions_label(s: &AppState) -> String {
    let kinds: Vec<&str> = s
        .conditions
        .iter()
        .filter(|c| c.kind != ConditionKind::Info)
        .map(|c| condition_kind(c.kind))
        .collect();
    if kinds.is_empty() {
        "<none>".into()
    } else {
        let mut k = kinds;
        k.dedup();
        k.join(",")
    }
}

/// Serialise `v` in the chosen structured format.
pub fn structured(v: &Value, yaml: bool) -> Result<String> {
    if yaml {
        serde_saphyr::to_string(v).wrap_err("cannot write YAML")
    } else {
        Ok(format!("{}\n", serde_json::to_string_pretty(v)?))
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map(|s| s.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub fn emit(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_773_055_800);
        assert_eq!(rfc3339(t), "2026-03-09T11:30:00Z");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&[
            vec!["NAME".into(), "STATUS".into()],
            vec!["astromesh-prod".into(), "Synced".into()],
        ]);
        assert_eq!(t, "NAME            STATUS\nastromesh-prod  Synced\n");
    }

    #[test]
    fn group_kind_core_and_named() {
        assert_eq!(
            group_kind(&ResourceKey::new("", "Service", "n", "a")),
            "Service"
        );
        assert_eq!(
            group_kind(&ResourceKey::new("apps", "Deployment", "n", "a")),
            "apps/Deployment"
        );
    }
}
