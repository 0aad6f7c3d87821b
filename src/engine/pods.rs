//! Pods as an operator reads them: the columns of `kubectl get pods` (ready x/y, status reason,
//! restarts, age, node) derived from the live Pod object, its conditions, and its recent Events.
//!
//! [`pod_details`] is a pure function of the Pod's JSON so the Pods pane can be snapshot-tested
//! and the status matches what `kubectl` would print for the same object: the STATUS column is not
//! `status.phase` but a reason picked from init containers, waiting/terminated container states and
//! the deletion timestamp (kubectl's printer logic, reimplemented here over JSON).
//!
//! Events are not watched (a busy cluster produces thousands): the UI asks for the selected pod's
//! events with [`crate::engine::api::Command::PodEvents`] and the engine answers with
//! [`crate::engine::api::Event::PodEvents`], fetched by [`answer_pod_events`] in a task of its own.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::{broadcast, oneshot};

use super::api::{CommandOutcome, Event};
use super::history::parse_time;
use crate::app::Destination;
use crate::cluster::{Cluster, ClusterError, ClusterProvider};
use crate::resource::ResourceKey;

/// How many events an answer carries at most (newest kept).
pub const MAX_EVENTS: usize = 50;

/// How long the engine waits for the cluster before answering a `PodEvents` with an error.
const EVENTS_TIMEOUT: Duration = Duration::from_secs(10);

/// One of `status.conditions` (`PodScheduled`, `Initialized`, `ContainersReady`, `Ready`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodCondition {
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
    pub since: Option<SystemTime>,
}

impl PodCondition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// What `kubectl get pods -o wide` shows for one Pod, plus what the detail block needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodDetails {
    /// Ready containers (regular ones, plus started restartable init containers, i.e. sidecars).
    pub ready: u32,
    /// Regular containers plus restartable init containers.
    pub total: u32,
    /// kubectl's STATUS column: `Running`, `Pending`, `ContainerCreating`, `ImagePullBackOff`,
    /// `CrashLoopBackOff`, `Completed`, `Init:0/2`, `Terminating`, ...
    pub status: String,
    /// `status.phase` as stored.
    pub phase: String,
    pub restarts: u32,
    /// When a container last terminated before its restart (kubectl's `3 (5m ago)`).
    pub last_restart: Option<SystemTime>,
    /// `metadata.creationTimestamp` (kubectl's AGE).
    pub created: Option<SystemTime>,
    /// `spec.nodeName`; empty until scheduled.
    pub node: String,
    /// `status.podIP`; empty until assigned.
    pub ip: String,
    pub conditions: Vec<PodCondition>,
    /// Why containers are not running, one entry per such container:
    /// `astromesh: Back-off pulling image "..."`.
    pub problems: Vec<String>,
}

/// How bad a kubectl status reason is, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Running (all ready) or Completed.
    Ok,
    /// On its way: Pending, ContainerCreating, PodInitializing, Init:1/2, Running but not ready.
    Progress,
    /// Terminating, NotReady, Unknown.
    Warn,
    /// Back-offs, pull errors, failed init, non-zero exits, evictions, OOM.
    Error,
}

impl PodDetails {
    /// The STATUS column's severity (considers readiness for `Running`).
    pub fn severity(&self) -> Severity {
        match self.status.as_str() {
            "Running" if self.ready < self.total => Severity::Progress,
            "Running" | "Completed" | "Succeeded" => Severity::Ok,
            "Pending" | "ContainerCreating" | "PodInitializing" | "SchedulingGated" => {
                Severity::Progress
            }
            "Terminating" | "NotReady" | "Unknown" => Severity::Warn,
            s if s.starts_with("Init:") => {
                let rest = &s["Init:".len()..];
                // `Init:1/2` is progress; `Init:CrashLoopBackOff`, `Init:Error` are failures.
                if rest.contains('/') && rest.chars().all(|c| c.is_ascii_digit() || c == '/') {
                    Severity::Progress
                } else {
                    Severity::Error
                }
            }
            _ => Severity::Error,
        }
    }

    /// kubectl's RESTARTS column against `now`: `0`, `3 (5m ago)`.
    pub fn restarts_text(&self, now: SystemTime) -> String {
        match self.last_restart {
            Some(t) if self.restarts > 0 => format!("{} ({} ago)", self.restarts, age(now, t)),
            _ => self.restarts.to_string(),
        }
    }
}

/// One core/v1 Event about a pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodEvent {
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    pub message: String,
    /// How many times it happened (`count`, or `series.count`).
    pub count: u32,
    pub first: Option<SystemTime>,
    pub last: Option<SystemTime>,
    /// Who reported it (`kubelet`, `default-scheduler`).
    pub source: String,
}

impl PodEvent {
    pub fn is_warning(&self) -> bool {
        self.kind == "Warning"
    }
}

/// kubectl's compact age (apimachinery's `HumanDuration`): `45s`, `5m30s`, `12m`, `5h10m`, `20h`,
/// `3d4h`, `40d`, `2y30d`; `0s` for the future (clock skew).
pub fn age(now: SystemTime, t: SystemTime) -> String {
    let s = now.duration_since(t).map(|d| d.as_secs()).unwrap_or(0);
    let with = |big: u64, unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{big}{unit}")
        } else {
            format!("{big}{unit}{small}{small_unit}")
        }
    };
    let (m, h) = (s / 60, s / 3600);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        with(m, "m", s % 60, "s")
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        with(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        with(h / 24, "d", h % 24, "h")
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else if h < 24 * 365 * 8 {
        with(h / (24 * 365), "y", (h / 24) % 365, "d")
    } else {
        format!("{}y", h / (24 * 365))
    }
}

fn str_of<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn time_of(v: &Value, ptr: &str) -> Option<SystemTime> {
    v.pointer(ptr).and_then(Value::as_str).and_then(parse_time)
}

fn count_of(v: &Value, ptr: &str) -> u32 {
    v.pointer(ptr)
        .and_then(Value::as_u64)
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
        .unwrap_or(0)
}

fn array<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A sidecar: an init container with `restartPolicy: Always` keeps running next to the others.
fn restartable(spec_container: Option<&Value>) -> bool {
    spec_container.is_some_and(|c| str_of(c, "/restartPolicy") == "Always")
}

/// `Terminated` reason or `ExitCode:N` / `Signal:N` when the runtime gave none.
fn terminated_reason(t: &Value) -> String {
    let reason = str_of(t, "/reason");
    if !reason.is_empty() {
        return reason.to_string();
    }
    let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!(
            "ExitCode:{}",
            t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
        )
    }
}

fn condition_true(conditions: &[Value], kind: &str) -> bool {
    conditions
        .iter()
        .find(|c| str_of(c, "/type") == kind)
        .is_some_and(|c| str_of(c, "/status") == "True")
}

/// Details of a Pod object; `None` for any other kind.
pub fn details_of(obj: &Value) -> Option<PodDetails> {
    (obj.get("kind").and_then(Value::as_str) == Some("Pod")
        && obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_none_or(|v| v == "v1"))
    .then(|| pod_details(obj))
}

/// Derive what kubectl prints for a Pod (see the module comment). Missing fields count as empty,
/// so a Pod fresh from the API server (no status yet) reads `Pending 0/N`.
pub fn pod_details(pod: &Value) -> PodDetails {
    let spec_containers = array(pod, "/spec/containers");
    let spec_init = array(pod, "/spec/initContainers");
    let init_statuses = array(pod, "/status/initContainerStatuses");
    let statuses = array(pod, "/status/containerStatuses");
    let conditions = array(pod, "/status/conditions");
    let phase = str_of(pod, "/status/phase").to_string();
    let status_reason = str_of(pod, "/status/reason");

    let mut total = spec_containers.len() as u32;
    let mut ready = 0u32;
    let mut restarts = 0u32;
    let mut sidecar_restarts = 0u32;
    let mut last_restart: Option<SystemTime> = None;
    let mut sidecar_last_restart: Option<SystemTime> = None;
    let mut reason = if status_reason.is_empty() {
        if phase.is_empty() {
            "Pending".to_string()
        } else {
            phase.clone()
        }
    } else {
        status_reason.to_string()
    };
    if conditions
        .iter()
        .any(|c| str_of(c, "/type") == "PodScheduled" && str_of(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }
    let spec_init_named = |name: &str| spec_init.iter().find(|c| str_of(c, "/name") == name);
    total += spec_init.iter().filter(|c| restartable(Some(c))).count() as u32;
    let later = |cur: Option<SystemTime>, t: Option<SystemTime>| match (cur, t) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let mut initializing = false;
    for (i, c) in init_statuses.iter().enumerate() {
        let n = count_of(c, "/restartCount");
        restarts += n;
        let finished = time_of(c, "/lastState/terminated/finishedAt");
        last_restart = later(last_restart, finished);
        let sidecar = restartable(spec_init_named(str_of(c, "/name")));
        if sidecar {
            sidecar_restarts += n;
            sidecar_last_restart = later(sidecar_last_restart, finished);
        }
        let terminated = c.pointer("/state/terminated");
        let waiting_reason = str_of(c, "/state/waiting/reason");
        if terminated.is_some_and(|t| t.get("exitCode").and_then(Value::as_i64) == Some(0)) {
            continue;
        }
        if sidecar && c.get("started").and_then(Value::as_bool) == Some(true) {
            if c.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            let r = str_of(t, "/reason");
            if r.is_empty() {
                format!("Init:{}", terminated_reason(t))
            } else {
                format!("Init:{r}")
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", spec_init.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        // Only sidecars' restarts count once the pod is initialised (kubectl does the same).
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        // Backwards, so the first container's state wins (kubectl's order).
        for c in statuses.iter().rev() {
            restarts += count_of(c, "/restartCount");
            last_restart = later(last_restart, time_of(c, "/lastState/terminated/finishedAt"));
            let waiting = str_of(c, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = c.pointer("/state/terminated") {
                reason = terminated_reason(t);
            } else if c.get("ready").and_then(Value::as_bool) == Some(true)
                && c.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        if status_reason == "NodeLost" {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }

    let mut problems = Vec::new();
    for c in init_statuses.iter().chain(statuses) {
        let name = str_of(c, "/name");
        let waiting = c.pointer("/state/waiting");
        let terminated = c.pointer("/state/terminated");
        let (r, m) = match (waiting, terminated) {
            (Some(w), _) => (str_of(w, "/reason"), str_of(w, "/message")),
            (None, Some(t)) if t.get("exitCode").and_then(Value::as_i64) != Some(0) => {
                (str_of(t, "/reason"), str_of(t, "/message"))
            }
            _ => continue,
        };
        // Plain start-up states say nothing the STATUS column does not.
        if m.is_empty() && matches!(r, "ContainerCreating" | "PodInitializing" | "") {
            continue;
        }
        let text = match (r.is_empty(), m.is_empty()) {
            (false, false) => format!("{name}: {r}: {m}"),
            (false, true) => format!("{name}: {r}"),
            _ => format!("{name}: {m}"),
        };
        problems.push(text);
    }

    PodDetails {
        ready,
        total,
        status: reason,
        phase,
        restarts,
        last_restart,
        created: time_of(pod, "/metadata/creationTimestamp"),
        node: str_of(pod, "/spec/nodeName").to_string(),
        ip: str_of(pod, "/status/podIP").to_string(),
        conditions: conditions
            .iter()
            .map(|c| PodCondition {
                kind: str_of(c, "/type").to_string(),
                status: str_of(c, "/status").to_string(),
                reason: str_of(c, "/reason").to_string(),
                message: str_of(c, "/message").to_string(),
                since: time_of(c, "/lastTransitionTime"),
            })
            .collect(),
        problems,
    }
}

/// One core/v1 Event object as a [`PodEvent`]. Newer reporters leave `firstTimestamp` and
/// `lastTimestamp` empty and fill `eventTime`/`series` instead; both shapes are read.
pub fn event_of(e: &Value) -> PodEvent {
    let event_time = time_of(e, "/eventTime");
    let created = time_of(e, "/metadata/creationTimestamp");
    let first = time_of(e, "/firstTimestamp").or(event_time).or(created);
    let last = time_of(e, "/series/lastObservedTime")
        .or_else(|| time_of(e, "/lastTimestamp"))
        .or(first);
    let count = match count_of(e, "/series/count") {
        0 => count_of(e, "/count").max(1),
        n => n,
    };
    let source = match str_of(e, "/source/component") {
        "" => str_of(e, "/reportingComponent"),
        s => s,
    };
    PodEvent {
        kind: str_of(e, "/type").to_string(),
        reason: str_of(e, "/reason").to_string(),
        message: str_of(e, "/message").trim_end().to_string(),
        count,
        first,
        last,
        source: source.to_string(),
    }
}

/// Events newest first (by last occurrence, then by `resourceVersion` for ties within a second),
/// at most [`MAX_EVENTS`].
pub fn events_from(raw: &[Value]) -> Vec<PodEvent> {
    let rv = |e: &Value| {
        str_of(e, "/metadata/resourceVersion")
            .parse::<u64>()
            .unwrap_or(0)
    };
    let mut v: Vec<(PodEvent, u64)> = raw.iter().map(|e| (event_of(e), rv(e))).collect();
    v.sort_by(|(a, ra), (b, rb)| b.last.cmp(&a.last).then(rb.cmp(ra)));
    v.truncate(MAX_EVENTS);
    v.into_iter().map(|(e, _)| e).collect()
}

/// The events of `pod` from its cluster, newest first.
pub async fn fetch_events(
    cluster: &dyn Cluster,
    pod: &ResourceKey,
) -> Result<Vec<PodEvent>, ClusterError> {
    let raw = cluster
        .events_for(&pod.kind, &pod.namespace, &pod.name)
        .await?;
    Ok(events_from(&raw))
}

/// Answer a `PodEvents` command without blocking the engine: resolve the App's cluster, fetch the
/// events in a task, broadcast [`Event::PodEvents`] (success or error) and reply `Done`/`Failed`.
pub fn answer_pod_events(
    clusters: Arc<dyn ClusterProvider>,
    destination: Destination,
    app: String,
    pod: ResourceKey,
    events: broadcast::Sender<Event>,
    reply: Option<oneshot::Sender<CommandOutcome>>,
) {
    tokio::spawn(async move {
        let fetch = async {
            let cluster = clusters.cluster_for(&destination).await?;
            fetch_events(cluster.as_ref(), &pod)
                .await
                .map_err(|e| format!("events of pod {}/{}: {e}", pod.namespace, pod.name))
        };
        let result = match tokio::time::timeout(EVENTS_TIMEOUT, fetch).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "events of pod {}/{}: no answer from the cluster within {}s",
                pod.namespace,
                pod.name,
                EVENTS_TIMEOUT.as_secs()
            )),
        };
        let outcome = match &result {
            Ok(_) => CommandOutcome::Done,
            Err(e) => CommandOutcome::Failed(e.clone()),
        };
        let _ = events.send(Event::PodEvents {
            app,
            pod,
            events: result,
        });
        if let Some(r) = reply {
            let _ = r.send(outcome);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "prod", "creationTimestamp": "2026-11-28T08:00:00Z"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "web:1"}]},
            "status": status})
    }

    fn t(s: &str) -> SystemTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn running_and_ready() {
        let d = pod_details(&pod(json!({"phase": "Running", "podIP": "10.0.0.7",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-28T08:00:05Z"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                "state": {"running": {"startedAt": "2026-11-28T08:00:03Z"}}}]})));
        assert_eq!((d.ready, d.total), (1, 1));
        assert_eq!(d.status, "Running");
        assert_eq!(d.severity(), Severity::Ok);
        assert_eq!(d.node, "node-a");
        assert_eq!(d.ip, "10.0.0.7");
        assert_eq!(d.created, Some(t("2026-11-28T08:00:00Z")));
        assert_eq!(d.conditions.len(), 1);
        assert!(d.conditions[0].is_true());
        assert_eq!(d.conditions[0].since, Some(t("2026-11-28T08:00:05Z")));
        assert!(d.problems.is_empty());
    }

    #[test]
    fn no_status_yet_is_pending() {
        let mut p = pod(json!(null));
        p.as_object_mut().unwrap().remove("status");
        let d = pod_details(&p);
        assert_eq!(d.status, "Pending");
        assert_eq!((d.ready, d.total), (0, 1));
        assert_eq!(d.severity(), Severity::Progress);
    }

    #[test]
    fn waiting_reasons_win_over_the_phase() {
        for reason in [
            "ContainerCreating",
            "ImagePullBackOff",
            "ErrImagePull",
            "CrashLoopBackOff",
            "CreateContainerConfigError",
        ] {
            let d = pod_details(&pod(json!({"phase": "Pending",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": "details"}}}]})));
            assert_eq!(d.status, reason);
            assert_eq!(d.ready, 0);
        }
        let d = pod_details(&pod(json!({"phase": "Pending",
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"web:9\""}}}]})));
        assert_eq!(d.severity(), Severity::Error);
        assert_eq!(
            d.problems,
            vec!["app: ImagePullBackOff: Back-off pulling image \"web:9\""]
        );
        let creating = pod_details(&pod(json!({"phase": "Pending",
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]})));
        assert_eq!(creating.severity(), Severity::Progress);
        assert!(creating.problems.is_empty(), "{:?}", creating.problems);
    }

    #[test]
    fn crash_loop_counts_restarts_and_the_last_one() {
        let d = pod_details(&pod(json!({"phase": "Running",
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 5,
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-28T08:10:00Z"}},
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container"}}}]})));
        assert_eq!(d.status, "CrashLoopBackOff");
        assert_eq!(d.restarts, 5);
        assert_eq!(d.last_restart, Some(t("2026-11-28T08:10:00Z")));
        assert_eq!(d.restarts_text(t("2026-11-28T08:15:00Z")), "5 (5m ago)");
        let none = PodDetails::default();
        assert_eq!(none.restarts_text(t("2026-11-28T08:15:00Z")), "0");
    }

    #[test]
    fn terminated_reasons_and_exit_codes() {
        let done = pod_details(&pod(json!({"phase": "Succeeded",
            "containerStatuses": [{"name": "app", "ready": false,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})));
        assert_eq!(done.status, "Completed");
        assert_eq!(done.severity(), Severity::Ok);
        assert!(done.problems.is_empty());
        let oom = pod_details(&pod(json!({"phase": "Running",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})));
        assert_eq!(oom.status, "OOMKilled");
        assert_eq!(oom.problems, vec!["app: OOMKilled"]);
        let code = pod_details(&pod(json!({"phase": "Failed",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 3}}}]})));
        assert_eq!(code.status, "ExitCode:3");
        let sig = pod_details(&pod(json!({"phase": "Failed",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 0, "signal": 9}}}]})));
        assert_eq!(sig.status, "Signal:9");
    }

    #[test]
    fn completed_with_a_running_container_is_running_or_not_ready() {
        let mut p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "app", "ready": true, "state": {"running": {}}},
                {"name": "job", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}));
        p["spec"]["containers"] = json!([{"name": "app"}, {"name": "job"}]);
        let d = pod_details(&p);
        assert_eq!(d.status, "NotReady");
        assert_eq!((d.ready, d.total), (1, 2));
        p["status"]["conditions"][0]["status"] = json!("True");
        assert_eq!(pod_details(&p).status, "Running");
    }

    #[test]
    fn init_containers() {
        let mut p = pod(json!({"phase": "Pending",
            "initContainerStatuses": [
                {"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "warm", "restartCount": 2, "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]}));
        p["spec"]["initContainers"] = json!([{"name": "migrate"}, {"name": "warm"}]);
        let d = pod_details(&p);
        assert_eq!(d.status, "Init:1/2");
        assert_eq!(d.restarts, 2);
        assert_eq!(d.severity(), Severity::Progress);

        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"waiting": {"reason": "CrashLoopBackOff"}});
        let d = pod_details(&p);
        assert_eq!(d.status, "Init:CrashLoopBackOff");
        assert_eq!(d.severity(), Severity::Error);

        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"terminated": {"exitCode": 1, "reason": "Error"}});
        assert_eq!(pod_details(&p).status, "Init:Error");
        p["status"]["initContainerStatuses"][1]["state"] = json!({"terminated": {"exitCode": 2}});
        assert_eq!(pod_details(&p).status, "Init:ExitCode:2");
    }

    #[test]
    fn sidecars_count_as_containers_and_keep_their_restarts() {
        let mut p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [
                {"name": "proxy", "ready": true, "started": true, "restartCount": 1, "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}}}]}));
        p["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
        let d = pod_details(&p);
        assert_eq!((d.ready, d.total), (2, 2));
        assert_eq!(d.status, "Running");
        assert_eq!(d.restarts, 3);
    }

    #[test]
    fn deletion_means_terminating_unless_finished_or_node_lost() {
        let mut p = pod(json!({"phase": "Running",
            "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}));
        p["metadata"]["deletionTimestamp"] = json!("2026-11-28T08:20:00Z");
        let d = pod_details(&p);
        assert_eq!(d.status, "Terminating");
        assert_eq!(d.severity(), Severity::Warn);
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_details(&p).status, "Unknown");
        let mut done = pod(json!({"phase": "Succeeded",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}));
        done["metadata"]["deletionTimestamp"] = json!("2026-11-28T08:20:00Z");
        assert_eq!(pod_details(&done).status, "Completed");
    }

    #[test]
    fn pod_level_reasons_and_scheduling_gates() {
        let evicted = pod_details(&pod(json!({"phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory."})));
        assert_eq!(evicted.status, "Evicted");
        assert_eq!(evicted.severity(), Severity::Error);
        let gated = pod_details(&pod(json!({"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})));
        assert_eq!(gated.status, "SchedulingGated");
    }

    #[test]
    fn details_only_for_pods() {
        assert!(details_of(&pod(json!({"phase": "Running"}))).is_some());
        assert!(details_of(&json!({"apiVersion": "apps/v1", "kind": "Deployment"})).is_none());
        assert!(details_of(&json!({"apiVersion": "example.com/v1", "kind": "Pod"})).is_none());
    }

    #[test]
    fn events_both_shapes_newest_first() {
        let raw = vec![
            json!({"type": "Normal", "reason": "Scheduled", "message": "Successfully assigned prod/web-1 to node-a",
                "firstTimestamp": "2026-11-28T08:00:00Z", "lastTimestamp": "2026-11-28T08:00:00Z", "count": 1,
                "source": {"component": "default-scheduler"}, "metadata": {"resourceVersion": "10"}}),
            json!({"type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container\n",
                "eventTime": "2026-11-28T08:01:00.123456Z", "reportingComponent": "kubelet",
                "series": {"count": 7, "lastObservedTime": "2026-11-28T08:09:00.000000Z"},
                "metadata": {"resourceVersion": "12"}}),
            json!({"type": "Normal", "reason": "Pulled", "message": "pulled",
                "firstTimestamp": "2026-11-28T08:00:00Z", "lastTimestamp": "2026-11-28T08:00:00Z",
                "metadata": {"resourceVersion": "11"}}),
        ];
        let ev = events_from(&raw);
        assert_eq!(
            ev.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
            vec!["BackOff", "Pulled", "Scheduled"]
        );
        assert_eq!(ev[0].count, 7);
        assert_eq!(ev[0].source, "kubelet");
        assert_eq!(ev[0].message, "Back-off restarting failed container");
        assert_eq!(ev[0].first, Some(t("2026-11-28T08:01:00.123456Z")));
        assert_eq!(ev[0].last, Some(t("2026-11-28T08:09:00Z")));
        assert!(ev[0].is_warning());
        assert_eq!(ev[1].count, 1);
        assert_eq!(ev[2].source, "default-scheduler");
    }

    #[test]
    fn ages_are_kubectl_style() {
        let now = t("2026-11-28T12:00:00Z");
        let before = |secs: u64| now - Duration::from_secs(secs);
        for (secs, want) in [
            (45, "45s"),
            (119, "119s"),
            (150, "2m30s"),
            (300, "5m"),
            (12 * 60, "12m"),
            (179 * 60, "179m"),
            (5 * 3600 + 600, "5h10m"),
            (20 * 3600, "20h"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (40 * 86_400, "40d"),
            (3 * 365 * 86_400 + 30 * 86_400, "3y30d"),
            (9 * 365 * 86_400, "9y"),
        ] {
            assert_eq!(age(now, before(secs)), want, "{secs}s");
        }
        assert_eq!(age(now, t("2026-11-28T12:05:00Z")), "0s");
    }
}
