//! The Pods pane's cluster side against the real control plane (kube-apiserver, scheduler, kwok):
//! `KubeCluster::events_for` lists a pod's Events through the server-side field selector (only
//! that pod's), and `engine::pods::pod_details` reads a pod kwok runs the way kubectl prints it.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, PostParams};
use serde_json::json;
use sextant::cluster::Cluster;
use sextant::cluster::kube::KubeCluster;
use sextant::engine::pods;

const TIMEOUT: Duration = Duration::from_secs(60);

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        // kwok never pulls images; the name only has to be valid.
        "spec": {"containers": [{"name": "main", "image": "example.test/web:1.0"}]}
    }))
    .expect("pod")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_pod_through_the_field_selector_and_kubectl_status() {
    let tc = support::cluster();
    let ns = support::namespace("podevents").await;
    let client = support::client().await;
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for name in ["web-a", "web-b"] {
        api.create(&PostParams::default(), &pod(name))
            .await
            .unwrap_or_else(|e| panic!("create pod {name}: {e}"));
    }
    // An event of our own about web-a, in the old core/v1 shape with a count.
    let events: Api<Event> = Api::namespaced(client, &ns);
    let ev: Event = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web-a.sextant-test"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web-a", "namespace": ns},
        "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container main",
        "count": 3,
        "firstTimestamp": "2026-11-28T08:00:00Z", "lastTimestamp": "2026-11-28T08:05:00Z",
        "source": {"component": "kubelet"}
    }))
    .expect("event");
    events
        .create(&PostParams::default(), &ev)
        .await
        .expect("create event");

    let cluster = KubeCluster::connect(Some(tc.kubeconfig_path()), None)
        .await
        .expect("connect");
    // The scheduler reports each binding as a `Scheduled` event about that pod.
    let raw = support::wait_until("web-a's Scheduled event", TIMEOUT, || async {
        let raw = cluster
            .events_for("Pod", &ns, "web-a")
            .await
            .map_err(|e| e.to_string())?;
        if raw.iter().any(|e| e["reason"] == "Scheduled") {
            Ok(raw)
        } else {
            Err(format!("{raw:?}"))
        }
    })
    .await;
    assert!(
        raw.iter()
            .all(|e| e["involvedObject"]["name"] == "web-a" && e["involvedObject"]["kind"] == "Pod"),
        "the field selector let other objects' events through: {raw:?}"
    );
    let list = pods::events_from(&raw);
    let backoff = list
        .iter()
        .find(|e| e.reason == "BackOff")
        .unwrap_or_else(|| panic!("our event is missing: {list:?}"));
    assert_eq!(backoff.count, 3);
    assert!(backoff.is_warning());
    assert_eq!(backoff.source, "kubelet");
    let scheduled = list
        .iter()
        .find(|e| e.reason == "Scheduled")
        .expect("Scheduled");
    assert!(
        scheduled.message.contains(&format!("{ns}/web-a")),
        "{scheduled:?}"
    );
    // Newest first: the scheduler's event (now) before ours (dated earlier).
    assert!(list.windows(2).all(|w| w[0].last >= w[1].last), "{list:?}");
    let other = cluster.events_for("Pod", &ns, "web-b").await.expect("list");
    assert!(
        other.iter().all(|e| e["involvedObject"]["name"] == "web-b"),
        "{other:?}"
    );

    // kwok runs the pod: the live object reads `1/1 Running` on the kwok node.
    let details = support::wait_until("web-a Running 1/1", TIMEOUT, || async {
        let live = cluster
            .get(&sextant::cluster::Gvk::new("", "v1", "Pod"), &ns, "web-a")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("web-a is gone")?;
        let d = pods::pod_details(&live);
        if d.status == "Running" && d.ready == 1 {
            Ok(d)
        } else {
            Err(format!("{d:?}"))
        }
    })
    .await;
    assert_eq!(details.total, 1);
    assert_eq!(details.node, "kwok-node-0");
    assert!(details.created.is_some());
    assert!(
        details
            .conditions
            .iter()
            .any(|c| c.kind == "Ready" && c.is_true()),
        "{details:?}"
    );
}
