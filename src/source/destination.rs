//! Destination mapping: an App's `destination.server` / `destination.name` → kubeconfig context.

use crate::app::{Destination, IN_CLUSTER_SERVER};
use crate::config::ClusterMapping;

/// Argo CD's name for the cluster it runs in.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// Which kubeconfig context an App deploys through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeContext {
    /// The kubeconfig's current context (the in-cluster destination when not mapped).
    Current,
    /// A named context from `[[clusters]]` in config.toml.
    Named(String),
}

impl std::fmt::Display for KubeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KubeContext::Current => f.write_str("(current context)"),
            KubeContext::Named(n) => f.write_str(n),
        }
    }
}

/// A destination with no kubeconfig context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "app `{app}`: no kubeconfig context for cluster {cluster}\n  fix: add to config.toml:\n    [[clusters]]\n    {key} = \"{value}\"\n    context = \"<kubeconfig context>\""
    )]
    Unmapped {
        app: String,
        cluster: String,
        key: &'static str,
        value: String,
    },
    #[error(
        "app `{app}`: destination has neither `server` nor `name`\n  fix: set spec.destination.server (e.g. {IN_CLUSTER_SERVER}) or spec.destination.name"
    )]
    Missing { app: String },
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Map `dest` of App `app` through `clusters`. Explicit entries win; otherwise the in-cluster URL
/// (or the name `in-cluster`) is the current context.
pub fn context_for(
    app: &str,
    dest: &Destination,
    clusters: &[ClusterMapping],
) -> Result<KubeContext, DestinationError> {
    if let Some(server) = dest.server.as_deref().filter(|s| !s.is_empty()) {
        if let Some(m) = clusters
            .iter()
            .find(|m| m.server.as_deref().is_some_and(|s| same_server(s, server)))
        {
            return Ok(KubeContext::Named(m.context.clone()));
        }
        if same_server(server, IN_CLUSTER_SERVER) {
            return Ok(KubeContext::Current);
        }
        return Err(DestinationError::Unmapped {
            app: app.to_string(),
            cluster: format!("server {server}"),
            key: "server",
            value: server.to_string(),
        });
    }
    if let Some(name) = dest.name.as_deref().filter(|s| !s.is_empty()) {
        if let Some(m) = clusters.iter().find(|m| m.name.as_deref() == Some(name)) {
            return Ok(KubeContext::Named(m.context.clone()));
        }
        if name == IN_CLUSTER_NAME {
            return Ok(KubeContext::Current);
        }
        return Err(DestinationError::Unmapped {
            app: app.to_string(),
            cluster: format!("name `{name}`"),
            key: "name",
            value: name.to_string(),
        });
    }
    Err(DestinationError::Missing {
        app: app.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(server: Option<&str>, name: Option<&str>) -> Destination {
        Destination {
            server: server.map(str::to_string),
            name: name.map(str::to_string),
            namespace: "ns".into(),
        }
    }

    fn clusters() -> Vec<ClusterMapping> {
        vec![
            ClusterMapping {
                server: Some("https://prod.example.com".into()),
                name: None,
                context: "prod-admin".into(),
            },
            ClusterMapping {
                server: None,
                name: Some("staging".into()),
                context: "stg".into(),
            },
        ]
    }

    #[test]
    fn in_cluster_maps_to_current_context() {
        let c = context_for("a", &dest(Some(IN_CLUSTER_SERVER), None), &[]).unwrap();
        assert_eq!(c, KubeContext::Current);
        let c = context_for("a", &dest(None, Some("in-cluster")), &[]).unwrap();
        assert_eq!(c, KubeContext::Current);
    }

    #[test]
    fn configured_servers_and_names_map_to_their_context() {
        let c = context_for(
            "a",
            &dest(Some("https://prod.example.com/"), None),
            &clusters(),
        )
        .unwrap();
        assert_eq!(c, KubeContext::Named("prod-admin".into()));
        let c = context_for("a", &dest(None, Some("staging")), &clusters()).unwrap();
        assert_eq!(c, KubeContext::Named("stg".into()));
    }

    #[test]
    fn unmapped_destination_names_the_fix() {
        let err = context_for(
            "web-prod",
            &dest(Some("https://other:6443"), None),
            &clusters(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("web-prod"), "{err}");
        assert!(err.contains("server = \"https://other:6443\""), "{err}");
        let err = context_for("x", &dest(None, None), &[]).unwrap_err();
        assert!(matches!(err, DestinationError::Missing { .. }));
    }
}
