//! Proof that the test control plane is a real Kubernetes: server-side apply,
//! controllers (Deployment, ReplicaSet, garbage collector, namespace), the
//! scheduler and kwok's fake kubelet all take part. If these fail, every
//! other control-plane test is meaningless.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use support::wait_until;

const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(120);

fn deployment(name: &str, replicas: i32) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                // kwok never pulls images; the name only has to be valid.
                "spec": { "containers": [{ "name": "main", "image": "registry.invalid/web:1.0" }] }
            }
        }
    })
}

async fn apply_deployment(api: &Api<Deployment>, name: &str, replicas: i32) -> Deployment {
    api.patch(
        name,
        &PatchParams::apply("sextant-test"),
        &Patch::Apply(deployment(name, replicas)),
    )
    .await
    .unwrap_or_else(|e| panic!("server-side apply of deployment {name} failed: {e}"))
}

fn selector(app: &str) -> ListParams {
    ListParams::default().labels(&format!("app={app}"))
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("<none>")
}

/// Waits until the Deployment reports `replicas` available replicas.
async fn wait_available(api: &Api<Deployment>, name: &str, replicas: i32) -> Deployment {
    wait_until(
        &format!("deployment {name} to have {replicas} available replicas"),
        ROLLOUT_TIMEOUT,
        || async {
            let d = api.get(name).await.map_err(|e| e.to_string())?;
            let available = d.status.as_ref().and_then(|s| s.available_replicas);
            if available == Some(replicas) {
                Ok(d)
            } else {
                Err(format!("status {:?}", d.status))
            }
        },
    )
    .await
}

#[tokio::test]
async fn deployment_rolls_out_to_running_ready_pods() {
    let client = support::client().await;
    let ns = support::namespace("cp-rollout").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client, &ns);

    apply_deployment(&deployments, "web", 3).await;
    let d = wait_available(&deployments, "web", 3).await;
    assert_eq!(d.status.and_then(|s| s.ready_replicas), Some(3));

    let list = pods
        .list(&selector("web"))
        .await
        .unwrap_or_else(|e| panic!("listing pods in {ns} failed: {e}"));
    let live: Vec<&Pod> = list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    assert_eq!(live.len(), 3, "expected 3 pods, got {:#?}", list.items);
    for pod in live {
        let name = pod.metadata.name.as_deref().unwrap_or("<unnamed>");
        assert_eq!(pod_phase(pod), "Running", "pod {name} is not Running");
        assert!(pod_ready(pod), "pod {name} is not Ready: {:?}", pod.status);
        // Bound by the real scheduler to the kwok node.
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        assert_eq!(node, Some("kwok-node-0"), "pod {name} not scheduled");
    }
}

#[tokio::test]
async fn deleting_a_deployment_garbage_collects_replicasets_and_pods() {
    let client = support::client().await;
    let ns = support::namespace("cp-gc").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client, &ns);

    apply_deployment(&deployments, "gc", 2).await;
    wait_available(&deployments, "gc", 2).await;
    let rs = replicasets
        .list(&selector("gc"))
        .await
        .unwrap_or_else(|e| panic!("listing replicasets failed: {e}"));
    assert_eq!(rs.items.len(), 1, "expected one ReplicaSet before deletion");
    let owner = rs.items[0]
        .metadata
        .owner_references
        .as_ref()
        .and_then(|o| o.first())
        .map(|o| o.kind.clone());
    assert_eq!(owner.as_deref(), Some("Deployment"));

    // Default propagation: the Deployment goes at once and the garbage
    // collector removes its dependents in the background.
    deployments
        .delete("gc", &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("deleting deployment gc failed: {e}"));

    wait_until(
        "the garbage collector to remove ReplicaSets and pods of deployment gc",
        ROLLOUT_TIMEOUT,
        || async {
            let rs = replicasets
                .list(&selector("gc"))
                .await
                .map_err(|e| e.to_string())?;
            let ps = pods
                .list(&selector("gc"))
                .await
                .map_err(|e| e.to_string())?;
            if rs.items.is_empty() && ps.items.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} replicasets, {} pods left",
                    rs.items.len(),
                    ps.items.len()
                ))
            }
        },
    )
    .await;
    let gone = deployments
        .get_opt("gc")
        .await
        .unwrap_or_else(|e| panic!("get deployment gc failed: {e}"));
    assert!(gone.is_none(), "deployment gc still exists");
}

#[tokio::test]
async fn dry_run_apply_returns_defaulted_object_and_persists_nothing() {
    let client = support::client().await;
    let ns = support::namespace("cp-dryrun").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);

    let returned = deployments
        .patch(
            "dry",
            &PatchParams::apply("sextant-test").dry_run(),
            &Patch::Apply(deployment("dry", 2)),
        )
        .await
        .unwrap_or_else(|e| panic!("dryRun=All apply failed: {e}"));

    // Defaults only the apiserver fills in: proves the object went through
    // admission and defaulting, not merely echoed back.
    let spec = returned.spec.as_ref().expect("dry-run result has a spec");
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(
        spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
        Some("RollingUpdate")
    );
    let pod_spec = spec
        .template
        .spec
        .as_ref()
        .expect("template has a pod spec");
    assert_eq!(pod_spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod_spec.dns_policy.as_deref(), Some("ClusterFirst"));
    let container = &pod_spec.containers[0];
    assert_eq!(
        container.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    // Server-side apply bookkeeping is computed in dry-run too.
    let managers: Vec<_> = returned
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.as_deref())
        .collect();
    assert_eq!(managers, ["sextant-test"]);

    let persisted = deployments
        .get_opt("dry")
        .await
        .unwrap_or_else(|e| panic!("get after dry run failed: {e}"));
    assert!(
        persisted.is_none(),
        "dryRun=All persisted the object: {persisted:?}"
    );
    let all = deployments
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("list after dry run failed: {e}"));
    assert!(
        all.items.is_empty(),
        "namespace {ns} should hold no deployments"
    );
}

#[tokio::test]
async fn conflicting_apply_by_second_manager_gets_409_then_force_wins() {
    let client = support::client().await;
    let ns = support::namespace("cp-conflict").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
    let cm = |value: &str| {
        Patch::Apply(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "settings" },
            "data": { "mode": value }
        }))
    };

    cms.patch("settings", &PatchParams::apply("alpha"), &cm("a"))
        .await
        .unwrap_or_else(|e| panic!("first apply by alpha failed: {e}"));

    let err = cms
        .patch("settings", &PatchParams::apply("beta"), &cm("b"))
        .await
        .expect_err("beta's conflicting apply must be rejected");
    match &err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409, "expected 409 Conflict, got {status:?}");
            assert!(
                status.is_conflict(),
                "reason should be Conflict: {status:?}"
            );
            assert!(
                status.message.contains("alpha"),
                "conflict message should name the owning manager: {}",
                status.message
            );
        }
        other => panic!("expected an API 409, got {other}"),
    }
    let unchanged = cms.get("settings").await.expect("configmap exists");
    assert_eq!(
        unchanged
            .data
            .as_ref()
            .and_then(|d| d.get("mode"))
            .map(String::as_str),
        Some("a")
    );

    let forced = cms
        .patch("settings", &PatchParams::apply("beta").force(), &cm("b"))
        .await
        .unwrap_or_else(|e| panic!("forced apply by beta failed: {e}"));
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|d| d.get("mode"))
            .map(String::as_str),
        Some("b")
    );
    // Forcing transfers ownership of the field: beta now manages data.mode
    // and alpha no longer does.
    let owns_mode = |manager: &str| {
        forced.metadata.managed_fields.iter().flatten().any(|m| {
            m.manager.as_deref() == Some(manager)
                && m.fields_v1
                    .as_ref()
                    .is_some_and(|f| f.0.pointer("/f:data/f:mode").is_some())
        })
    };
    assert!(owns_mode("beta"), "beta should own data.mode after force");
    assert!(!owns_mode("alpha"), "alpha should have lost data.mode");
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_contents() {
    let client = support::client().await;
    let ns = support::namespace("cp-nsdel").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let namespaces: Api<Namespace> = Api::all(client.clone());

    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "leftover" },
        "data": { "k": "v" }
    }))
    .expect("valid configmap");
    cms.create(&PostParams::default(), &cm)
        .await
        .unwrap_or_else(|e| panic!("creating configmap failed: {e}"));
    apply_deployment(&deployments, "doomed", 1).await;
    wait_available(&deployments, "doomed", 1).await;

    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("deleting namespace {ns} failed: {e}"));

    // The namespace controller must empty it (pods need kwok to confirm
    // their deletion) before the namespace itself disappears.
    wait_until(
        &format!("namespace {ns} to be deleted"),
        ROLLOUT_TIMEOUT,
        || async {
            match namespaces.get_opt(&ns).await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(n) => Err(format!("still there: {:?}", n.status)),
            }
        },
    )
    .await;

    assert_empty::<ConfigMap>(&client, &ns).await;
    assert_empty::<Deployment>(&client, &ns).await;
    assert_empty::<ReplicaSet>(&client, &ns).await;
    assert_empty::<Pod>(&client, &ns).await;
}

/// Lists `K` across all namespaces, filtered to `ns`, and asserts nothing is
/// left (listing inside a deleted namespace would be trivially empty).
async fn assert_empty<K>(client: &Client, ns: &str)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::all(client.clone());
    let left = api
        .list(&ListParams::default().fields(&format!("metadata.namespace={ns}")))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "listing {} failed: {e}",
                K::kind(&K::DynamicType::default())
            )
        });
    assert!(
        left.items.is_empty(),
        "{} left in deleted namespace {ns}: {:?}",
        K::kind(&K::DynamicType::default()),
        left.items
    );
}

/// The fixture's minted user certificates authenticate as that user and are
/// subject to RBAC (what RBAC-aware tests rely on).
#[tokio::test]
async fn minted_user_certificates_are_subject_to_rbac() {
    use k8s_openapi::api::rbac::v1::RoleBinding;

    let admin = support::client().await;
    let ns = support::namespace("cp-rbac").await;
    let user = format!("viewer-{ns}");
    let kubeconfig = support::client_cert_kubeconfig(&user, &["sextant-testers"]);
    let viewer = support::client_for(&kubeconfig).await;
    let viewer_cms: Api<ConfigMap> = Api::namespaced(viewer, &ns);

    let denied = viewer_cms
        .list(&ListParams::default())
        .await
        .expect_err("a user without bindings must not list configmaps");
    assert!(
        matches!(&denied, kube::Error::Api(s) if s.is_forbidden()),
        "expected 403, got {denied}"
    );

    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "viewer" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user }]
    }))
    .expect("valid rolebinding");
    Api::<RoleBinding>::namespaced(admin, &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap_or_else(|e| panic!("creating rolebinding failed: {e}"));

    // RBAC changes reach the authorizer through an informer: allow a moment.
    wait_until(
        "the view binding to take effect",
        Duration::from_secs(30),
        || async {
            viewer_cms
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    let cm: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "nope" } })).expect("valid configmap");
    let denied = viewer_cms
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("view must not allow create");
    assert!(
        matches!(&denied, kube::Error::Api(s) if s.is_forbidden()),
        "expected 403 on create, got {denied}"
    );
}
