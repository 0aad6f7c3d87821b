//! Health assessment of live objects, following gitops-engine's built-in rules.
//!
//! [`assess`] looks at one live object and returns the health of kinds that have a built-in rule
//! (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Service, Ingress, PersistentVolumeClaim,
//! Job, HorizontalPodAutoscaler, APIService, Argo Workflow); `None` means "no rule", which callers
//! treat as Healthy (see [`resource_health`]). An object that is absent is [`HealthStatus::Missing`].
//! [`aggregate`] folds many statuses into one, worst first, as Argo CD does for an App.
//!
//! Everything here is a pure function over `serde_json::Value`; no cluster access.

use std::fmt;

use serde_json::Value;

/// Annotation that makes a finite (`Never`/`OnFailure`) Pod be judged like a long-running one.
const IGNORE_RESTART_POLICY_ANNOTATION: &str = "argocd.argoproj.io/ignore-restart-policy";
/// Finalizer Argo CD puts on hooks; a hook being deleted keeps its own health while it carries it.
const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";
const ARGO_HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";
const HPA_CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";

/// Health of a resource. The declaration order is gitops-engine's `healthOrder`, from most to
/// least healthy, so `Ord` compares severity: `a > b` means `a` is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthStatus {
    Healthy,
    Suspended,
    Progressing,
    Missing,
    Degraded,
    Unknown,
}

impl HealthStatus {
    /// All statuses, most healthy first.
    pub const ALL: [HealthStatus; 6] = [
        HealthStatus::Healthy,
        HealthStatus::Suspended,
        HealthStatus::Progressing,
        HealthStatus::Missing,
        HealthStatus::Degraded,
        HealthStatus::Unknown,
    ];

    /// The name Argo CD uses (`"Healthy"`, `"Progressing"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Parse Argo CD's name of a status.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.as_str() == s)
    }

    /// gitops-engine's `IsWorse(current, new)`: whether `new` is worse than `self`.
    pub fn is_worse(self, new: HealthStatus) -> bool {
        new > self
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Health of one resource: a status and a human message (often empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthState {
    pub status: HealthStatus,
    pub message: String,
}

impl HealthState {
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bare(status: HealthStatus) -> Self {
        Self::new(status, "")
    }
}

/// Health of a live object by gitops-engine's built-in rules; `None` when the kind has no rule
/// (callers treat that as Healthy). Malformed objects of a known kind give `Unknown` with a message
/// naming the field, as gitops-engine does when its typed conversion fails.
pub fn assess(obj: &Value) -> Option<HealthState> {
    if is_pending_deletion(obj) {
        return Some(HealthState::new(
            HealthStatus::Progressing,
            "Pending deletion",
        ));
    }
    let api_version = str_at(obj, &["apiVersion"]).unwrap_or("");
    let kind = str_at(obj, &["kind"]).unwrap_or("");
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let check: fn(&Value) -> Result<HealthState, HealthError> = match (group, kind) {
        ("apps", "Deployment") => deployment,
        ("apps", "StatefulSet") => statefulset,
        ("apps", "ReplicaSet") => replicaset,
        ("apps", "DaemonSet") => daemonset,
        ("extensions" | "networking.k8s.io", "Ingress") => ingress,
        ("argoproj.io", "Workflow") => argo_workflow,
        ("apiregistration.k8s.io", "APIService") => apiservice,
        ("", "Service") => service,
        ("", "PersistentVolumeClaim") => pvc,
        ("", "Pod") => pod,
        ("batch", "Job") => job,
        ("autoscaling", "HorizontalPodAutoscaler") => hpa,
        _ => return None,
    };
    // gitops-engine converts to one typed version per kind and rejects the others.
    let supported = match (group, kind) {
        ("extensions" | "networking.k8s.io", "Ingress") | ("argoproj.io", "Workflow") => true,
        ("apiregistration.k8s.io", _) => matches!(version, "v1" | "v1beta1"),
        ("autoscaling", _) => matches!(version, "v1" | "v2" | "v2beta1" | "v2beta2"),
        _ => version == "v1",
    };
    if !supported {
        return Some(HealthState::new(
            HealthStatus::Unknown,
            format!("unsupported {kind} GVK: {group}/{version}, Kind={kind}"),
        ));
    }
    Some(match check(obj) {
        Ok(state) => state,
        Err(e) => HealthState::new(HealthStatus::Unknown, format!("failed to read {kind}: {e}")),
    })
}

/// Health of a resource that may be absent: `Missing` when `live` is `None`, the built-in rule's
/// result when there is one, `Healthy` otherwise.
pub fn resource_health(live: Option<&Value>) -> HealthState {
    match live {
        None => HealthState::bare(HealthStatus::Missing),
        Some(obj) => assess(obj).unwrap_or_else(|| HealthState::bare(HealthStatus::Healthy)),
    }
}

/// Worst of `statuses` (gitops-engine's `IsWorse` order); `Healthy` when empty.
pub fn aggregate<I: IntoIterator<Item = HealthStatus>>(statuses: I) -> HealthStatus {
    statuses.into_iter().fold(
        HealthStatus::Healthy,
        |acc, s| if acc.is_worse(s) { s } else { acc },
    )
}

/// Whether `obj` is a sync hook by Argo CD's rules: an `argocd.argoproj.io/hook` annotation other
/// than a lone `Skip`, or a Helm hook annotation other than `crd-install`.
pub fn is_hook(obj: &Value) -> bool {
    if let Some(v) = annotation(obj, ARGO_HOOK_ANNOTATION) {
        let types: Vec<&str> = v
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        let only_skip = types.len() == 1 && types[0] == "Skip";
        return !only_skip;
    }
    matches!(annotation(obj, HELM_HOOK_ANNOTATION), Some(v) if v != "crd-install")
}

// ---------------------------------------------------------------------------------------------
// Field access. Absent fields read as Go's zero values; present fields of the wrong type are an
// error, as the typed conversion in gitops-engine would fail on them.

#[derive(Debug, thiserror::Error)]
#[error("field {path} is {found}, expected {expected}")]
struct HealthError {
    path: String,
    found: &'static str,
    expected: &'static str,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn lookup<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = obj;
    for p in path {
        cur = cur.get(*p)?;
    }
    if cur.is_null() { None } else { Some(cur) }
}

fn wrong(path: &[&str], v: &Value, expected: &'static str) -> HealthError {
    HealthError {
        path: path.join("."),
        found: type_name(v),
        expected,
    }
}

fn str_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    lookup(obj, path).and_then(Value::as_str)
}

fn string(obj: &Value, path: &[&str]) -> Result<String, HealthError> {
    match lookup(obj, path) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(wrong(path, v, "a string")),
    }
}

fn int(obj: &Value, path: &[&str]) -> Result<i64, HealthError> {
    Ok(opt_int(obj, path)?.unwrap_or(0))
}

fn opt_int(obj: &Value, path: &[&str]) -> Result<Option<i64>, HealthError> {
    match lookup(obj, path) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| HealthError {
                path: path.join("."),
                found: "a fractional number",
                expected: "an integer",
            }),
        Some(v) => Err(wrong(path, v, "an integer")),
    }
}

fn boolean(obj: &Value, path: &[&str]) -> Result<bool, HealthError> {
    match lookup(obj, path) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(wrong(path, v, "a boolean")),
    }
}

fn list<'a>(obj: &'a Value, path: &[&str]) -> Result<&'a [Value], HealthError> {
    match lookup(obj, path) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(wrong(path, v, "a list")),
    }
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

fn is_pending_deletion(obj: &Value) -> bool {
    let meta = obj.get("metadata");
    let deleting = meta
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null());
    let hook_finalizer = meta
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(HOOK_FINALIZER)));
    deleting && !hook_finalizer
}

/// One entry of a `status.conditions` list.
struct Condition {
    type_: String,
    status: String,
    reason: String,
    message: String,
}

fn conditions_of(items: &[Value], path: &[&str]) -> Result<Vec<Condition>, HealthError> {
    items
        .iter()
        .map(|c| {
            if !c.is_object() {
                return Err(wrong(path, c, "a list of objects"));
            }
            Ok(Condition {
                type_: string(c, &["type"])?,
                status: string(c, &["status"])?,
                reason: string(c, &["reason"])?,
                message: string(c, &["message"])?,
            })
        })
        .collect()
}

fn conditions(obj: &Value) -> Result<Vec<Condition>, HealthError> {
    let path = ["status", "conditions"];
    conditions_of(list(obj, &path)?, &path)
}

/// Go's `%q` for the (ASCII) names that appear in messages.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn name_of(obj: &Value) -> Result<String, HealthError> {
    string(obj, &["metadata", "name"])
}

// ---------------------------------------------------------------------------------------------
// Rules per kind.

fn deployment(obj: &Value) -> Result<HealthState, HealthError> {
    use HealthStatus::*;
    if boolean(obj, &["spec", "paused"])? {
        return Ok(HealthState::new(Suspended, "Deployment is paused"));
    }
    let generation = int(obj, &["metadata", "generation"])?;
    let observed = int(obj, &["status", "observedGeneration"])?;
    if generation > observed {
        return Ok(HealthState::new(
            Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        ));
    }
    let progressing = conditions(obj)?
        .into_iter()
        .find(|c| c.type_ == "Progressing");
    let replicas = opt_int(obj, &["spec", "replicas"])?;
    let updated = int(obj, &["status", "updatedReplicas"])?;
    let total = int(obj, &["status", "replicas"])?;
    let available = int(obj, &["status", "availableReplicas"])?;
    if progressing.is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
        return Ok(HealthState::new(
            Degraded,
            format!(
                "Deployment {} exceeded its progress deadline",
                go_quote(&name_of(obj)?)
            ),
        ));
    }
    if let Some(r) = replicas.filter(|r| updated < *r) {
        return Ok(HealthState::new(
            Progressing,
            format!(
                "Waiting for rollout to finish: {updated} out of {r} new replicas have been updated..."
            ),
        ));
    }
    if total > updated {
        return Ok(HealthState::new(
            Progressing,
            format!(
                "Waiting for rollout to finish: {} old replicas are pending termination...",
                total - updated
            ),
        ));
    }
    if available < updated {
        return Ok(HealthState::new(
            Progressing,
            format!(
                "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
            ),
        ));
    }
    Ok(HealthState::bare(Healthy))
}

fn statefulset(obj: &Value) -> Result<HealthState, HealthError> {
    use HealthStatus::*;
    let generation = int(obj, &["metadata", "generation"])?;
    let observed = int(obj, &["status", "observedGeneration"])?;
    if observed == 0 || generation > observed {
        return Ok(HealthState::new(
            Progressing,
            "Waiting for statefulset spec update to be observed...",
        ));
    }
    let replicas = opt_int(obj, &["spec", "replicas"])?;
    let ready = int(obj, &["status", "readyReplicas"])?;
    if let Some(r) = replicas.filter(|r| ready < *r) {
        return Ok(HealthState::new(
            Progressing,
            format!("Waiting for {} pods to be ready...", r - ready),
        ));
    }
    let strategy = string(obj, &["spec", "updateStrategy", "type"])?;
    let updated = int(obj, &["status", "updatedReplicas"])?;
    if strategy == "RollingUpdate"
        && lookup(obj, &["spec", "updateStrategy", "rollingUpdate"]).is_some()
    {
        let partition = opt_int(
            obj,
            &["spec", "updateStrategy", "rollingUpdate", "partition"],
        )?;
        if let (Some(r), Some(p)) = (replicas, partition)
            && updated < r - p
        {
            return Ok(HealthState::new(
                Progressing,
                format!(
                    "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                    r - p
                ),
            ));
        }
        return Ok(HealthState::new(
            Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        ));
    }
    if strategy == "OnDelete" {
        return Ok(HealthState::new(
            Healthy,
            format!("statefulset has {ready} ready pods"),
        ));
    }
    let update_revision = string(obj, &["status", "updateRevision"])?;
    let current_revision = string(obj, &["status", "currentRevision"])?;
    if update_revision != current_revision {
        return Ok(HealthState::new(
            Progressing,
            format!(
                "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
            ),
        ));
    }
    let current = int(obj, &["status", "currentReplicas"])?;
    Ok(HealthState::new(
        Healthy,
        format!(
            "statefulset rolling update complete {current} pods at revision {current_revision}..."
        ),
    ))
}

fn replicaset(obj: &Value) -> Result<HealthState, HealthError> {
    use HealthStatus::*;
    let generation = int(obj, &["metadata", "generation"])?;
    let observed = int(obj, &["status", "observedGeneration"])?;
    if generation > observed {
        return Ok(HealthState::new(
            Progressing,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        ));
    }
    if let Some(c) = conditions(obj)?
        .into_iter()
        .find(|c| c.type_ == "ReplicaFailure")
        .filter(|c| c.status == "True")
    {
        return Ok(HealthState::new(Degraded, c.message));
    }
    let available = int(obj, &["status", "availableReplicas"])?;
    if let Some(r) = opt_int(obj, &["spec", "replicas"])?.filter(|r| available < *r) {
        return Ok(HealthState::new(
            Progressing,
            format!(
                "Waiting for rollout to finish: {available} out of {r} new replicas are available..."
            ),
        ));
    }
    Ok(HealthState::bare(Healthy))
}

fn daemonset(obj: &Value) -> Result<HealthState, HealthError> {
    use HealthStatus::*;
    let generation = int(obj, &["metadata", "generation"])?;
    let observed = int(obj, &["status", "observedGeneration"])?;
    if generation > observed {
        return Ok(HealthState::new(
            Progressing,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        ));
    }
    let updated = int(obj, &["status", "updatedNumberScheduled"])?;
    let desired = int(obj, &["status", "desiredNumberScheduled"])?;
    if string(obj, &["spec", "updateStrategy", "type"])? == "OnDelete" {
        return Ok(HealthState::new(
            Healthy,
            format!("daemon set {updated} out of {desired} new pods have been updated"),
        ));
    }
    let name = go_quote(&name_of(obj)?);
    if updated < desired {
        return Ok(HealthState::new(
            Progressing,
            format!(
                "Waiting for daemon set {name} rollout to finish: {updated} out of {desired} new pods have been updated..."
            ),
        ));
    }
    let available = int(obj, &["status", "numberAvailable"])?;
    if available < desired {
        return Ok(HealthState::new(
            Progressing,
            format!(
                "Waiting for daemon set {name} rollout to finish: {available} of {desired} updated pods are available..."
            ),
        ));
    }
    Ok(HealthState::bare(Healthy))
}

fn ingress(obj: &Value) -> Result<HealthState, HealthError> {
    let ingresses = list(obj, &["status", "loadBalancer", "ingress"])?;
    Ok(HealthState::bare(if ingresses.is_empty() {
        HealthStatus::Progressing
    } else {
        HealthStatus::Healthy
    }))
}

fn service(obj: &Value) -> Result<HealthState, HealthError> {
    if string(obj, &["spec", "type"])? == "LoadBalancer"
        && list(obj, &["status", "loadBalancer", "ingress"])?.is_empty()
    {
        return Ok(HealthState::bare(HealthStatus::Progressing));
    }
    Ok(HealthState::bare(HealthStatus::Healthy))
}

fn pvc(obj: &Value) -> Result<HealthState, HealthError> {
    Ok(HealthState::bare(
        match string(obj, &["status", "phase"])?.as_str() {
            "Lost" => HealthStatus::Degraded,
            "Pending" => HealthStatus::Progressing,
            "Bound" => HealthStatus::Healthy,
            _ => HealthStatus::Unknown,
        },
    ))
}

fn job(obj: &Value) -> Result<HealthState, HealthError> {
    let mut failed: Option<String> = None;
    let mut complete: Option<String> = None;
    let mut suspended: Option<String> = None;
    for c in conditions(obj)? {
        // A condition only counts while it holds; a resumed Job keeps a `Suspended=False`.
        if c.status != "True" {
            continue;
        }
        match c.type_.as_str() {
            "Failed" => failed = Some(c.message),
            "Complete" => complete = Some(c.message),
            "Suspended" => suspended = Some(c.message),
            _ => {}
        }
    }
    Ok(match (failed, complete, suspended) {
        (Some(m), _, _) => HealthState::new(HealthStatus::Degraded, m),
        (None, Some(m), _) => HealthState::new(HealthStatus::Healthy, m),
        (None, None, Some(m)) => HealthState::new(HealthStatus::Suspended, m),
        (None, None, None) => HealthState::bare(HealthStatus::Progressing),
    })
}

fn pod(obj: &Value) -> Result<HealthState, HealthError> {
    use HealthStatus::*;
    let restart_policy = string(obj, &["spec", "restartPolicy"])?;
    // A finite Pod may opt into long-running rules, but hooks never do: judging a hook Pod
    // Degraded on a transient image pull error would fail the sync phase prematurely.
    let long_running = restart_policy == "Always"
        || (annotation(obj, IGNORE_RESTART_POLICY_ANNOTATION) == Some("true") && !is_hook(obj));
    let status_message = string(obj, &["status", "message"])?;
    let container_statuses = list(obj, &["status", "containerStatuses"])?;

    if long_running {
        let mut messages = Vec::new();
        for cs in container_statuses {
            let reason = string(cs, &["state", "waiting", "reason"])?;
            if lookup(cs, &["state", "waiting"]).is_some()
                && (reason.starts_with("Err")
                    || reason.ends_with("Error")
                    || reason.ends_with("BackOff"))
            {
                messages.push(string(cs, &["state", "waiting", "message"])?);
            }
        }
        if !messages.is_empty() {
            return Ok(HealthState::new(Degraded, messages.join(", ")));
        }
    }

    match string(obj, &["status", "phase"])?.as_str() {
        "Pending" => Ok(HealthState::new(Progressing, status_message)),
        "Succeeded" => Ok(HealthState::new(Healthy, status_message)),
        "Failed" => {
            if !status_message.is_empty() {
                return Ok(HealthState::new(Degraded, status_message));
            }
            let init = list(obj, &["status", "initContainerStatuses"])?;
            for cs in init.iter().chain(container_statuses) {
                let msg = container_fail_message(cs)?;
                if !msg.is_empty() {
                    return Ok(HealthState::new(Degraded, msg));
                }
            }
            Ok(HealthState::bare(Degraded))
        }
        "Running" if long_running => {
            if pod_ready(obj)? {
                return Ok(HealthState::new(Healthy, status_message));
            }
            let restarted = container_statuses
                .iter()
                .any(|cs| lookup(cs, &["lastState", "terminated"]).is_some());
            let status = if restarted { Degraded } else { Progressing };
            Ok(HealthState::new(status, status_message))
        }
        // Pods that run to completion are usually hooks: running means not finished yet.
        "Running" if matches!(restart_policy.as_str(), "OnFailure" | "Never") => {
            Ok(HealthState::new(Progressing, status_message))
        }
        _ => Ok(HealthState::new(Unknown, status_message)),
    }
}

fn container_fail_message(cs: &Value) -> Result<String, HealthError> {
    if lookup(cs, &["state", "terminated"]).is_none() {
        return Ok(String::new());
    }
    let message = string(cs, &["state", "terminated", "message"])?;
    if !message.is_empty() {
        return Ok(message);
    }
    let reason = string(cs, &["state", "terminated", "reason"])?;
    if reason == "OOMKilled" {
        return Ok(reason);
    }
    let code = int(cs, &["state", "terminated", "exitCode"])?;
    if code != 0 {
        return Ok(format!(
            "container {} failed with exit code {code}",
            go_quote(&string(cs, &["name"])?)
        ));
    }
    Ok(String::new())
}

fn pod_ready(obj: &Value) -> Result<bool, HealthError> {
    Ok(conditions(obj)?
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn apiservice(obj: &Value) -> Result<HealthState, HealthError> {
    for c in conditions(obj)? {
        if c.type_ == "Available" {
            let status = if c.status == "True" {
                HealthStatus::Healthy
            } else {
                HealthStatus::Progressing
            };
            return Ok(HealthState::new(
                status,
                format!("{}: {}", c.reason, c.message),
            ));
        }
    }
    Ok(HealthState::new(
        HealthStatus::Progressing,
        "Waiting to be processed",
    ))
}

fn argo_workflow(obj: &Value) -> Result<HealthState, HealthError> {
    let message = string(obj, &["status", "message"])?;
    let status = match string(obj, &["status", "phase"])?.as_str() {
        "" | "Pending" | "Running" => HealthStatus::Progressing,
        "Succeeded" => HealthStatus::Healthy,
        "Failed" | "Error" => HealthStatus::Degraded,
        _ => HealthStatus::Unknown,
    };
    Ok(HealthState::new(status, message))
}

fn hpa(obj: &Value) -> Result<HealthState, HealthError> {
    let waiting = || HealthState::new(HealthStatus::Progressing, "Waiting to Autoscale");
    let version = str_at(obj, &["apiVersion"]).unwrap_or("");
    let conds = if version == "autoscaling/v1" {
        // v1 has no conditions field; the controller stores them JSON-encoded in an annotation.
        let Some(raw) = annotation(obj, HPA_CONDITIONS_ANNOTATION) else {
            return Ok(waiting());
        };
        let parsed: Value = serde_json::from_str(raw).map_err(|_| HealthError {
            path: format!("metadata.annotations[{HPA_CONDITIONS_ANNOTATION}]"),
            found: "not valid JSON",
            expected: "a JSON list of conditions",
        })?;
        let path = ["metadata", "annotations", HPA_CONDITIONS_ANNOTATION];
        match &parsed {
            Value::Array(items) => conditions_of(items, &path)?,
            Value::Null => Vec::new(),
            other => return Err(wrong(&path, other, "a JSON list of conditions")),
        }
    } else {
        conditions(obj)?
    };
    // A failing condition outweighs a healthy one wherever it appears in the list: an HPA that
    // can read its target's scale but not its metrics is not autoscaling.
    const DEGRADED: [(&str, &str); 9] = [
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetContainerResourceMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "FailedComputeMetricsReplicas"),
        ("ScalingActive", "InvalidSelector"),
    ];
    if let Some(c) = conds.iter().find(|c| {
        DEGRADED
            .iter()
            .any(|(t, r)| c.type_ == *t && c.reason == *r)
    }) {
        return Ok(HealthState::new(HealthStatus::Degraded, c.message.clone()));
    }
    if let Some(c) = conds.iter().find(|c| {
        matches!(c.type_.as_str(), "AbleToScale" | "ScalingLimited") && c.status == "True"
    }) {
        return Ok(HealthState::new(HealthStatus::Healthy, c.message.clone()));
    }
    Ok(waiting())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn severity_order_matches_gitops_engine() {
        use HealthStatus::*;
        let order = [Healthy, Suspended, Progressing, Missing, Degraded, Unknown];
        for w in order.windows(2) {
            assert!(
                w[0].is_worse(w[1]),
                "{} should be worse than {}",
                w[1],
                w[0]
            );
            assert!(!w[1].is_worse(w[0]));
        }
        assert_eq!(aggregate([Healthy, Degraded, Missing]), Degraded);
        assert_eq!(aggregate([Suspended, Healthy]), Suspended);
        assert_eq!(aggregate([Progressing, Missing]), Missing);
        assert_eq!(aggregate([]), Healthy);
        assert_eq!(HealthStatus::parse("Missing"), Some(Missing));
        assert_eq!(HealthStatus::parse("missing"), None);
    }

    #[test]
    fn unknown_kinds_have_no_rule_and_absent_is_missing() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(assess(&cm), None);
        assert_eq!(resource_health(Some(&cm)).status, HealthStatus::Healthy);
        assert_eq!(resource_health(None).status, HealthStatus::Missing);
    }

    #[test]
    fn deletion_is_progressing_unless_hook_finalizer() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "deletionTimestamp": "2024-01-01T00:00:00Z"}});
        assert_eq!(
            assess(&cm),
            Some(HealthState::new(
                HealthStatus::Progressing,
                "Pending deletion"
            ))
        );
        cm["metadata"]["finalizers"] = json!([HOOK_FINALIZER]);
        assert_eq!(assess(&cm), None);
    }

    #[test]
    fn unsupported_version_and_bad_types_are_unknown() {
        let d =
            json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "d"}});
        let h = assess(&d).expect("rule");
        assert_eq!(h.status, HealthStatus::Unknown);
        assert!(h.message.contains("apps/v1beta1"), "{}", h.message);

        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": "three"}});
        let h = assess(&d).expect("rule");
        assert_eq!(h.status, HealthStatus::Unknown);
        assert!(h.message.contains("spec.replicas"), "{}", h.message);
    }

    #[test]
    fn deployment_rollout_messages() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 1}});
        assert_eq!(
            assess(&d),
            Some(HealthState::new(
                HealthStatus::Progressing,
                "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."
            ))
        );
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 3},
            "status": {"observedGeneration": 2}});
        assert_eq!(
            assess(&d).map(|h| h.status),
            Some(HealthStatus::Progressing)
        );
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 1}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        assert_eq!(assess(&d), Some(HealthState::bare(HealthStatus::Healthy)));
    }

    #[test]
    fn job_resumed_is_not_suspended() {
        let j = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "status": {"conditions": [{"type": "Suspended", "status": "False", "message": "resumed"}]}});
        assert_eq!(
            assess(&j).map(|h| h.status),
            Some(HealthStatus::Progressing)
        );
    }

    #[test]
    fn hpa_degraded_condition_wins_over_healthy_one() {
        let h = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "status": {"conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "ok"},
                {"type": "ScalingActive", "status": "False", "reason": "FailedGetPodsMetric", "message": "no metrics"}]}});
        assert_eq!(
            assess(&h),
            Some(HealthState::new(HealthStatus::Degraded, "no metrics"))
        );
        let bad = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": {HPA_CONDITIONS_ANNOTATION: "{not json"}}});
        assert_eq!(assess(&bad).map(|h| h.status), Some(HealthStatus::Unknown));
    }

    #[test]
    fn hook_detection() {
        let with = |k: &str, v: &str| json!({"metadata": {"annotations": {k: v}}});
        assert!(is_hook(&with(ARGO_HOOK_ANNOTATION, "PreSync")));
        assert!(!is_hook(&with(ARGO_HOOK_ANNOTATION, "Skip")));
        assert!(is_hook(&with(ARGO_HOOK_ANNOTATION, "Skip,PostSync")));
        assert!(is_hook(&with(HELM_HOOK_ANNOTATION, "pre-install")));
        assert!(!is_hook(&with(HELM_HOOK_ANNOTATION, "crd-install")));
        assert!(!is_hook(&json!({"metadata": {}})));
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
