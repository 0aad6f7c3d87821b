//! Read-only mode at the lowest layer: a [`Cluster`] that forwards every read and refuses every
//! write, and a [`ClusterProvider`] that hands out only such clusters.
//!
//! The engine wraps its provider in [`ReadOnlyProvider`] when started with `--readonly`, so
//! whatever path tries to change the cluster — a sync, auto-sync, self-heal, a history, override
//! or operation record, a Lease, a future feature — gets [`ClusterError::ReadOnly`] instead of a
//! request on the wire. The front ends refuse earlier with friendlier messages; this is the
//! guarantee underneath them.
//!
//! Server-side dry-run applies stay allowed: the API server stores nothing for them (the
//! resourceVersion does not move), and compare uses them to predict the applied object.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

use super::{
    ApplyOptions, Cluster, ClusterError, ClusterFuture, ClusterProvider, Gvk, Propagation,
    ResourceInfo, WatchEvent, describe,
};
use crate::app::Destination;

/// A cluster that refuses writes; reads go to the wrapped cluster.
pub struct ReadOnlyCluster(pub Arc<dyn Cluster>);

fn refuse<'a, T: Send + 'a>(verb: &str, resource: String) -> ClusterFuture<'a, T> {
    let err = ClusterError::ReadOnly {
        verb: verb.to_string(),
        resource,
    };
    Box::pin(async move { Err(err) })
}

impl Cluster for ReadOnlyCluster {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn server_version(&self) -> ClusterFuture<'_, String> {
        self.0.server_version()
    }

    fn user(&self) -> Option<String> {
        self.0.user()
    }

    fn resolve<'a>(&'a self, gvk: &'a Gvk) -> ClusterFuture<'a, ResourceInfo> {
        self.0.resolve(gvk)
    }

    fn apply<'a>(&'a self, obj: &'a Value, opts: ApplyOptions) -> ClusterFuture<'a, Value> {
        if opts.dry_run {
            return self.0.apply(obj, opts);
        }
        refuse("apply", describe(obj))
    }

    fn create<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value> {
        refuse("create", describe(obj))
    }

    fn replace<'a>(&'a self, obj: &'a Value) -> ClusterFuture<'a, Value> {
        refuse("replace", describe(obj))
    }

    fn get<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Option<Value>> {
        self.0.get(gvk, namespace, name)
    }

    fn list<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: Option<&'a str>,
        label_selector: Option<&'a str>,
    ) -> ClusterFuture<'a, Vec<Value>> {
        self.0.list(gvk, namespace, label_selector)
    }

    fn delete<'a>(
        &'a self,
        gvk: &'a Gvk,
        namespace: &'a str,
        name: &'a str,
        _propagation: Propagation,
    ) -> ClusterFuture<'a, bool> {
        let resource = if namespace.is_empty() {
            format!("{}/{name}", gvk.kind)
        } else {
            format!("{} {namespace}/{name}", gvk.kind)
        };
        refuse("delete", resource)
    }

    fn events_for<'a>(
        &'a self,
        kind: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> ClusterFuture<'a, Vec<Value>> {
        self.0.events_for(kind, namespace, name)
    }

    fn watch(&self, gvk: Gvk) -> BoxStream<'static, WatchEvent> {
        self.0.watch(gvk)
    }
}

/// Resolves destinations through the wrapped provider and hands out [`ReadOnlyCluster`]s.
pub struct ReadOnlyProvider(pub Arc<dyn ClusterProvider>);

impl ClusterProvider for ReadOnlyProvider {
    fn cluster_for<'a>(
        &'a self,
        dest: &'a Destination,
    ) -> BoxFuture<'a, Result<Arc<dyn Cluster>, String>> {
        Box::pin(async move {
            let inner = self.0.cluster_for(dest).await?;
            Ok(Arc::new(ReadOnlyCluster(inner)) as Arc<dyn Cluster>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::sandbox::SandboxCluster;
    use serde_json::json;

    fn configmap() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "ns"}, "data": {"k": "v"}})
    }

    #[tokio::test]
    async fn writes_are_refused_naming_read_only_mode_and_reads_pass() {
        let inner = Arc::new(SandboxCluster::default());
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}});
        inner
            .apply(&ns, ApplyOptions::default())
            .await
            .expect("the sandbox creates the namespace");
        inner
            .apply(&configmap(), ApplyOptions::default())
            .await
            .expect("the sandbox stores the ConfigMap");
        let ro = ReadOnlyCluster(inner.clone());
        let gvk = Gvk::new("", "v1", "ConfigMap");
        let mut changed = configmap();
        changed["data"]["k"] = json!("changed");
        let refusals = [
            ro.apply(&changed, ApplyOptions::default()).await.err(),
            ro.apply(
                &changed,
                ApplyOptions {
                    force: true,
                    dry_run: false,
                },
            )
            .await
            .err(),
            ro.create(&changed).await.err(),
            ro.replace(&changed).await.err(),
            ro.delete(&gvk, "ns", "cm", Propagation::Foreground)
                .await
                .err(),
        ];
        for r in refusals {
            let e = r.expect("a write must be refused");
            assert!(matches!(e, ClusterError::ReadOnly { .. }), "{e:?}");
            let text = e.to_string();
            assert!(
                text.contains("read-only mode") && text.contains("ConfigMap ns/cm"),
                "{text}"
            );
        }
        // Nothing reached the wrapped cluster; reads and dry runs still work.
        let live = ro
            .get(&gvk, "ns", "cm")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(live["data"]["k"], "v");
        let predicted = ro
            .apply(
                &changed,
                ApplyOptions {
                    force: false,
                    dry_run: true,
                },
            )
            .await
            .expect("a dry run stores nothing and is allowed");
        assert_eq!(predicted["data"]["k"], "changed");
        let live = inner
            .get(&gvk, "ns", "cm")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(live["data"]["k"], "v", "the dry run changed the cluster");
    }
}
