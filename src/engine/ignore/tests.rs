use serde_json::json;

use super::*;

fn key() -> ResourceKey {
    ResourceKey::new("apps", "Deployment", "n", "web")
}

fn rule(pointers: &[&str], jq: &[&str], managers: &[&str]) -> IgnoreDifference {
    IgnoreDifference {
        group: "apps".into(),
        kind: "Deployment".into(),
        name: None,
        namespace: None,
        json_pointers: pointers.iter().map(|s| s.to_string()).collect(),
        jq_path_expressions: jq.iter().map(|s| s.to_string()).collect(),
        managed_fields_managers: managers.iter().map(|s| s.to_string()).collect(),
    }
}

fn deploy(replicas: i64, images: &[(&str, &str)]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .map(|(n, i)| json!({"name": n, "image": i}))
        .collect();
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "n"},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}}})
}

#[test]
fn respect_takes_live_values_at_ignored_paths_only() {
    let rules = [rule(
        &["/spec/replicas"],
        &[".spec.template.spec.containers[] | select(.name == \"sidecar\")"],
        &[],
    )];
    let desired = deploy(1, &[("web", "web:2")]);
    let live = deploy(6, &[("web", "web:1"), ("sidecar", "proxy:1")]);
    let out = respect_ignored(&key(), &desired, &live, &rules).expect("respect");
    assert_eq!(out["spec"]["replicas"], json!(6));
    // Git's change to a field that is not ignored is applied; the injected sidecar is kept.
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "web:2"}, {"name": "sidecar", "image": "proxy:1"}])
    );
    // Live without the field: Git's value is not applied either.
    let mut bare = live.clone();
    bare["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    let out = respect_ignored(&key(), &desired, &bare, &rules).expect("respect");
    assert!(out.pointer("/spec/replicas").is_none(), "{out}");
}

#[test]
fn respect_follows_managed_fields_managers() {
    let rules = [rule(&[], &[], &["kube-controller-manager"])];
    let desired = deploy(1, &[("web", "web:2")]);
    let mut live = deploy(4, &[("web", "web:1")]);
    live["metadata"]["managedFields"] = json!([
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
    let out = respect_ignored(&key(), &desired, &live, &rules).expect("respect");
    assert_eq!(out["spec"]["replicas"], json!(4));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        json!("web:2")
    );
    assert!(out.pointer("/metadata/managedFields").is_none(), "{out}");
}

#[test]
fn ignored_changes_name_the_overwritten_fields() {
    let rules = [rule(&["/spec/replicas"], &[], &[])];
    let opts = DiffOptions {
        ignore_differences: &rules,
        ignore_mutation_webhook: false,
        ..DiffOptions::default()
    };
    let predicted = deploy(1, &[("web", "web:1")]);
    let live = deploy(6, &[("web", "web:1")]);
    assert_eq!(
        ignored_changes(&key(), &predicted, &live, &opts).expect("changes"),
        vec!["/spec/replicas: 6 → 1".to_string()]
    );
    // A difference that is not ignored is the diff's business, not this list's.
    let predicted = deploy(6, &[("web", "web:2")]);
    assert!(
        ignored_changes(&key(), &predicted, &live, &opts)
            .expect("changes")
            .is_empty()
    );
}

#[test]
fn conflicts_on_ignored_fields_are_recognised() {
    let live = deploy(6, &[("web", "web:1")]);
    let c = |field: &str, manager: &str| FieldConflict {
        manager: manager.into(),
        field: field.into(),
    };
    let by_pointer = [rule(&["/spec/replicas"], &[], &[])];
    assert!(conflict_ignored(
        &key(),
        &c(".spec.replicas", "kubectl"),
        &live,
        &by_pointer
    ));
    let image = ".spec.template.spec.containers[name=\"web\"].image";
    assert!(!conflict_ignored(
        &key(),
        &c(image, "kubectl"),
        &live,
        &by_pointer
    ));
    let by_jq = [rule(&[], &[".spec.template.spec.containers[].image"], &[])];
    assert!(conflict_ignored(
        &key(),
        &c(image, "kubectl"),
        &live,
        &by_jq
    ));
    let by_manager = [rule(&[], &[], &["hpa"])];
    assert!(conflict_ignored(
        &key(),
        &c(".spec.replicas", "hpa"),
        &live,
        &by_manager
    ));
    assert!(!conflict_ignored(
        &key(),
        &c(".spec.replicas", "kubectl"),
        &live,
        &by_manager
    ));
    // Another kind: no rule applies.
    let svc = ResourceKey::new("", "Service", "n", "web");
    assert!(!conflict_ignored(
        &svc,
        &c(".spec.replicas", "kubectl"),
        &live,
        &by_pointer
    ));
    // Dotted label names resolve to the longest key.
    let labelled = json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}});
    assert_eq!(
        conflict_path(&labelled, ".metadata.labels.app.kubernetes.io/name"),
        Some(vec![
            Step::Key("metadata".into()),
            Step::Key("labels".into()),
            Step::Key("app.kubernetes.io/name".into())
        ])
    );
}
