//! Resource identity and the tracking annotation shared by render, engine and front ends.

use std::fmt;

/// The annotation Sextant writes on every object it applies.
pub const TRACKING_ANNOTATION: &str = "sextant.io/tracking-id";

/// Identity of one Kubernetes object. `group` is empty for the core group; `namespace` is empty
/// for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResourceKey {
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Key of a JSON object (`apiVersion`, `kind`, `metadata.name`, `metadata.namespace`).
    pub fn of(obj: &serde_json::Value) -> Option<Self> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        let kind = obj.get("kind")?.as_str()?;
        let meta = obj.get("metadata")?;
        let name = meta.get("name")?.as_str()?;
        let namespace = meta.get("namespace").and_then(|n| n.as_str()).unwrap_or("");
        Some(Self::new(group, kind, namespace, name))
    }

    /// `<app>:<group>/<kind>:<namespace>/<name>`, the value of [`TRACKING_ANNOTATION`].
    pub fn tracking_id(&self, app: &str) -> String {
        format!(
            "{app}:{}/{}:{}/{}",
            self.group, self.kind, self.namespace, self.name
        )
    }

    /// Parse a tracking id back into (app, key).
    pub fn parse_tracking_id(id: &str) -> Option<(String, Self)> {
        let (app, rest) = id.split_once(':')?;
        let (gk, nn) = rest.split_once(':')?;
        let (group, kind) = gk.split_once('/')?;
        let (namespace, name) = nn.split_once('/')?;
        if app.is_empty() || kind.is_empty() || name.is_empty() {
            return None;
        }
        Some((app.to_string(), Self::new(group, kind, namespace, name)))
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gk = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        if self.namespace.is_empty() {
            write!(f, "{gk}/{}", self.name)
        } else {
            write!(f, "{gk} {}/{}", self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_id_round_trips() {
        let k = ResourceKey::new("apps", "Deployment", "prod", "web");
        let id = k.tracking_id("astromesh-prod");
        assert_eq!(id, "astromesh-prod:apps/Deployment:prod/web");
        assert_eq!(
            ResourceKey::parse_tracking_id(&id),
            Some(("astromesh-prod".into(), k))
        );
        let core = ResourceKey::new("", "Namespace", "", "prod");
        assert_eq!(
            ResourceKey::parse_tracking_id(&core.tracking_id("a")),
            Some(("a".into(), core))
        );
        assert_eq!(ResourceKey::parse_tracking_id("garbage"), None);
    }

    #[test]
    fn key_of_object() {
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}});
        assert_eq!(
            ResourceKey::of(&obj),
            Some(ResourceKey::new("", "ConfigMap", "n", "c"))
        );
    }
}
