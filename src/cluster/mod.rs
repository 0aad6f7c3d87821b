//! Cluster access: one small object-safe trait over dynamic (JSON) objects, with two
//! implementations — [`kube::KubeCluster`] over kube-rs (what users run, and what the engine's
//! integration tests use) and the in-process sandbox behind `sextant demo`.
//!
//! The trait is deliberately narrow: the engine builds everything else (live cache, compare,
//! sync, history, locks) on top of these calls, so a sandbox only has to store JSON objects,
//! answer discovery for the kinds it knows, and fan out watch events.
//!
//! Objects are `serde_json::Value`s in the wire format (`apiVersion`, `kind`, `metadata`, ...).
//! Errors are typed ([`ClusterError`]) so the engine and front ends can say exactly what went
//! wrong: forbidden (who, which verb, which resource), unreachable, a field-manager conflict
//! (with the conflicting managers), not found, or a kind the cluster does not know.

pub mod kube;
pub mod readonly;
pub mod sandbox;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::app::Destination;

/// The field manager Sextant applies with.
pub const FIELD_MANAGER: &str = "sextant";

/// A future returned by [`Cluster`] methods.
pub type ClusterFuture<'a, T> = BoxFuture<'a, Result<T, ClusterError>>;

/// Group, version and kind of an object; `group` is empty for the core group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// From an `apiVersion` (`apps/v1`, `v1`) and a kind.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Self::new(group, version, kind)
    }

    /// The GVK of a JSON object, if it has `apiVersion` and `kind`.
    pub fn of(obj: &Value) -> Option<Self> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let kind = obj.get("kind")?.as_str()?;
        Some(Self::from_api_version(api_version, kind))
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.api_version(), self.kind)
    }
}

/// What discovery says about a kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceInfo {
    pub gvk: Gvk,
    /// Plural resource name used in URLs and RBAC (`deployments`).
    pub plural: String,
    pub namespaced: bool,
}

/// Options of a server-side apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Take ownership of fields other managers own (`force=true`).
    pub force: bool,
    /// `dryRun=All`: the server runs admission and returns the predicted object, storing nothing.
    pub dry_run: bool,
}

/// Delete propagation (Argo CD's `PrunePropagationPolicy`, foreground by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    #[default]
    Foreground,
    Background,
    Orphan,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Foreground => "Foreground",
            Propagation::Background => "Background",
            Propagation::Orphan => "Orphan",
        }
    }

    /// Parse the value of `PrunePropagationPolicy=<v>` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "foreground" => Some(Self::Foreground),
            "background" => Some(Self::Background),
            "orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

/// One event of a watch on one kind, in kube-runtime's shape: after a (re)start the full set of
/// objects is replayed as `Restarted`, then changes follow one by one.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// The complete current list (initial list or relist after the watch was interrupted).
    Restarted(Vec<Value>),
    Applied(Value),
    Deleted(Value),
    /// The watch is failing (e.g. apiserver unreachable); it keeps retrying with backoff.
    Error(ClusterError),
}

/// A failing field of a 409 field-manager conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The other field manager, e.g. `kubectl-edit`.
    pub manager: String,
    /// The field path, e.g. `.spec.replicas`.
    pub field: String,
}

/// Typed cluster errors. Messages say what, where and how to fix it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ClusterError {
    #[error(
        "forbidden: user {user:?} cannot {verb} {resource}{}{}\n  ask a cluster admin for RBAC permission, or use a context with more rights",
        if namespace.is_empty() { String::new() } else { format!(" in namespace {namespace:?}") },
        if message.is_empty() { String::new() } else { format!(" ({message})") }
    )]
    Forbidden {
        user: String,
        verb: String,
        resource: String,
        namespace: String,
        /// The apiserver's message, verbatim (names the object).
        message: String,
    },
    #[error(
        "cluster {cluster} unreachable: {message}\n  check the kubeconfig context and that the API server is running"
    )]
    Unreachable { cluster: String, message: String },
    #[error("conflict applying {resource}: {}\n  another field manager owns these fields; sync with --force to take them over",
        if conflicts.is_empty() { message.clone() } else {
            conflicts.iter().map(|c| format!("{} owned by {:?}", c.field, c.manager)).collect::<Vec<_>>().join(", ")
        })]
    Conflict {
        resource: String,
        conflicts: Vec<FieldConflict>,
        message: String,
    },
    /// Optimistic-concurrency failure (stale `resourceVersion`) or create of an existing object.
    #[error("{resource} was changed concurrently or already exists: {message}")]
    AlreadyExists { resource: String, message: String },
    #[error("{resource} not found")]
    NotFound { resource: String },
    #[error(
        "kind {kind} ({api_version}) is not known to the cluster\n  install its CustomResourceDefinition (or the operator that provides it) first, or include the CRD in the same sync"
    )]
    UnknownKind { api_version: String, kind: String },
    /// The server rejected the object (validation, admission).
    #[error("{resource} rejected by the API server: {message}")]
    Invalid { resource: String, message: String },
    /// A write attempted in read-only mode ([`readonly::ReadOnlyCluster`]); nothing was sent.
    #[error(
        "read-only mode: refusing to {verb} {resource} (sextant was started with --readonly)\n  restart without --readonly to make changes"
    )]
    ReadOnly { verb: String, resource: String },
    #[error("{message}")]
    Other { message: String },
}

impl ClusterError {
    /// Errors worth retrying later without any change by the operator.
    pub fn is_transient(&self) -> bool {
        matches!(self, ClusterError::Unreachable { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ClusterError::NotFound { .. })
    }
}

/// Access to one cluster. Object-safe and cheap to share (`Arc<dyn Cluster>`).
///
/// Every method may be called concurrently from several tasks.
pub trait Cluster: Send + Sync {
    /// A short display name (kubeconfig context, or `sandbox`).
    fn name(&self) -> &str;

    /// The API server's version, e.g. `v1.36.3`.
    fn server_version(&self) -> ClusterFuture<'_, String>;

    /// The user the credentials authenticate as, when known (for messages only).
    fn user(&self) -> Option<String> {
        None
    }

    /// Discovery: the resource for a GVK. A miss re-runs discovery once (a CRD may just have been
    /// created) before failing with [`ClusterError::UnknownKind`].
    fn resolve<'a>(&'a self, gvk: &'a Gvk) -> ClusterFuture<'a, ResourceInfo>;

    /// Server-side apply of `obj` with field manager [`FIELD_MANAGER`]; returns the resulting (or,
    /// with `dry_run`, predicted) object. `metadata.resourceVersion`, when present, is a
    /// precondition (409 → [`ClusterError::AlreadyExists`]).
    fn apply<'a>(&'a self, obj: &'a Value, opts: ApplyOptions) -> ClusterFuture<'a, Value>;

    /// Create `obj`; fails with [`ClusterError::AlreadyExists`] if it exists. Used for Leases.
    fn create<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value>;

    /// Replace `obj` (PUT) with its `metadata.resourceVersion` as precondition.
    fn replace<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value>;

    /// Get one object; `Ok(None)` when it does not exist. `namespace` is ignored for cluster-scoped kinds.
    fn get<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Option<Value>>;

    /// List objects of a kind, in one namespace or (`None`) all namespaces; optional label selector.
    fn list<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: Option<&'a str>,
        label_selector: Option<&'a str>,
    ) -> ClusterFuture<'a, Vec<Value>>;

    /// Delete one object; `Ok(false)` when it was already gone.
    fn delete<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: &'a str,
        name: &'a str,
        propagation: Propagation,
    ) -> ClusterFuture<'a, bool>;

    /// The core/v1 Events about one object (`involvedObject` kind, namespace and name), in any
    /// order. Events are read on demand rather than watched: a busy cluster produces thousands.
    fn events_for<'a>(
        &'a self,
        kind: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Vec<Value>>;

    /// Watch all objects of a kind across namespaces. The stream starts with
    /// [`WatchEvent::Restarted`] and never ends on its own; errors are reported as
    /// [`WatchEvent::Error`] while it retries.
    fn watch(&self, gvk: Gvk) -> BoxStream<'static, WatchEvent>;
}

/// Resolves App destinations to clusters.
pub trait ClusterProvider: Send + Sync {
    fn cluster_for<'a>(
        &'a self,
        dest: &'a Destination,
    ) -> BoxFuture<'a, Result<Arc<dyn Cluster>, String>>;
}

/// Every destination goes to one cluster (the sandbox, or a single test cluster).
pub struct SingleCluster(pub Arc<dyn Cluster>);

impl ClusterProvider for SingleCluster {
    fn cluster_for<'a>(
        &'a self,
        _dest: &'a Destination,
    ) -> BoxFuture<'a, Result<Arc<dyn Cluster>, String>> {
        let c = self.0.clone();
        Box::pin(async move { Ok(c) })
    }
}

/// `Kind namespace/name` of an object, for messages.
pub fn describe(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("object");
    let meta = obj.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    match meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind}/{name}"),
    }
}

/// Parse the apiserver's RBAC message
/// `deployments.apps "web" is forbidden: User "bob" cannot patch resource "deployments" in API group "apps" in the namespace "prod"`
/// into its parts (best effort: missing parts stay empty).
pub fn parse_forbidden(message: &str) -> ClusterError {
    fn quoted_after<'a>(s: &'a str, marker: &str) -> Option<&'a str> {
        let start = s.find(marker)? + marker.len();
        let rest = s[start..].strip_prefix('"')?;
        let end = rest.find('"')?;
        Some(&rest[..end])
    }
    let user = quoted_after(message, "User ").unwrap_or("").to_string();
    let (verb, resource) = message
        .find("cannot ")
        .map(|i| {
            let rest = &message[i + "cannot ".len()..];
            let verb = rest.split_whitespace().next().unwrap_or("").to_string();
            let resource = quoted_after(rest, "resource ").unwrap_or("").to_string();
            (verb, resource)
        })
        .unwrap_or_default();
    let group = quoted_after(message, "in API group ").unwrap_or("");
    let resource = if group.is_empty() || resource.is_empty() {
        resource
    } else {
        format!("{resource}.{group}")
    };
    let namespace = quoted_after(message, "in the namespace ")
        .unwrap_or("")
        .to_string();
    ClusterError::Forbidden {
        user,
        verb,
        resource,
        namespace,
        message: message.to_string(),
    }
}

/// Parse the conflicts of a 409 apply failure from its message
/// (`Apply failed with 2 conflicts: conflicts with "kubectl" using apps/v1:\n- .spec.replicas\n...`)
/// when the structured causes are missing.
pub fn parse_conflicts(message: &str) -> Vec<FieldConflict> {
    let mut out = Vec::new();
    let mut manager = String::new();
    for line in message.lines() {
        let line = line.trim();
        if let Some(i) = line.find("conflict with \"").or_else(|| {
            line.find("conflicts with \"")
                .map(|i| i + "conflicts with \"".len() - "conflict with \"".len())
        }) {
            let rest = &line[i + "conflict with \"".len()..];
            if let Some(end) = rest.find('"') {
                manager = rest[..end].to_string();
            }
            // Single-conflict form: `conflict with "m" using apps/v1: .spec.replicas`.
            if let Some((_, field)) = rest.rsplit_once(": ") {
                let field = field.trim();
                if field.starts_with('.') {
                    out.push(FieldConflict {
                        manager: manager.clone(),
                        field: field.to_string(),
                    });
                }
            }
        } else if let Some(field) = line.strip_prefix("- ")
            && !manager.is_empty()
        {
            out.push(FieldConflict {
                manager: manager.clone(),
                field: field.trim().to_string(),
            });
        }
    }
    out
}

/// Backoff used by watches that lose the apiserver.
pub const WATCH_RETRY_MAX: Duration = Duration::from_secs(30);

/// Longest pause between reconnects of a watch that lost the apiserver: short, so a restarted
/// apiserver is noticed within seconds instead of after a backoff grown during the outage.
pub const WATCH_RECONNECT_MAX: Duration = Duration::from_secs(4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gvk_from_api_version() {
        assert_eq!(
            Gvk::from_api_version("apps/v1", "Deployment"),
            Gvk::new("apps", "v1", "Deployment")
        );
        assert_eq!(
            Gvk::from_api_version("v1", "Pod"),
            Gvk::new("", "v1", "Pod")
        );
        assert_eq!(Gvk::new("", "v1", "Pod").api_version(), "v1");
        assert_eq!(
            Gvk::new("apps", "v1", "Deployment").to_string(),
            "apps/v1 Deployment"
        );
    }

    #[test]
    fn forbidden_message_is_parsed() {
        let e = parse_forbidden(
            r#"deployments.apps "web" is forbidden: User "viewer" cannot patch resource "deployments" in API group "apps" in the namespace "prod""#,
        );
        match &e {
            ClusterError::Forbidden {
                user,
                verb,
                resource,
                namespace,
                ..
            } => {
                assert_eq!(user, "viewer");
                assert_eq!(verb, "patch");
                assert_eq!(resource, "deployments.apps");
                assert_eq!(namespace, "prod");
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.starts_with("forbidden: user \"viewer\" cannot patch deployments.apps in namespace \"prod\" (deployments.apps \"web\""),
            "{text}"
        );
    }

    #[test]
    fn forbidden_core_group_cluster_scoped() {
        let e = parse_forbidden(
            r#"namespaces is forbidden: User "viewer" cannot create resource "namespaces" in API group "" at the cluster scope"#,
        );
        let ClusterError::Forbidden {
            resource,
            namespace,
            verb,
            ..
        } = e
        else {
            panic!("not forbidden")
        };
        assert_eq!(resource, "namespaces");
        assert_eq!(verb, "create");
        assert_eq!(namespace, "");
    }

    #[test]
    fn conflicts_are_parsed() {
        let one = parse_conflicts(
            r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#,
        );
        assert_eq!(
            one,
            vec![FieldConflict {
                manager: "kubectl-edit".into(),
                field: ".spec.replicas".into()
            }]
        );
        let many = parse_conflicts(
            "Apply failed with 2 conflicts: conflicts with \"helm\" using v1:\n- .data.a\n- .data.b",
        );
        assert_eq!(many.len(), 2);
        assert_eq!(many[1].manager, "helm");
        assert_eq!(many[1].field, ".data.b");
    }

    #[test]
    fn describe_object() {
        let o = serde_json::json!({"kind": "Service", "metadata": {"name": "s", "namespace": "n"}});
        assert_eq!(describe(&o), "Service n/s");
        let c = serde_json::json!({"kind": "Namespace", "metadata": {"name": "n"}});
        assert_eq!(describe(&c), "Namespace/n");
    }
}
