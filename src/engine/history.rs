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
//!
//! Writes are read-modify-write with the `resourceVersion` as precondition, retried on conflict,
//! so two operators finishing syncs at once both land in history.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api::HistoryEntry;
use crate::cluster::{ApplyOptions, Cluster, ClusterError, Gvk};

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

/// History and inventory of one App.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
    /// Kinds applied by the last successful sync.
    pub inventory: Vec<Gvk>,
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
    History { entries, inventory }
}

/// Read an App's history (empty when none was recorded yet).
pub async fn load(cluster: &dyn Cluster, app: &str) -> Result<History, ClusterError> {
    match cluster
        .get(&configmap_gvk(), STATE_NAMESPACE, &history_name(app))
        .await
    {
        Ok(Some(cm)) => Ok(parse_history(&cm)),
        Ok(None) => Ok(History::default()),
        // The state namespace does not exist yet.
        Err(e) if e.is_not_found() => Ok(History::default()),
        Err(e) => Err(e),
    }
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

    #[test]
    fn timestamps_parse() {
        let now = now_rfc3339();
        assert!(parse_time(&now).is_some(), "{now}");
        assert!(parse_time("yesterday").is_none());
    }
}
