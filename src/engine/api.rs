//! The narrow boundary between the engine and its front ends (TUI, headless CLI, and later a
//! backend over an existing Argo CD): commands in, state snapshots and events out.
//!
//! - [`EngineHandle::state`]: a `watch::Receiver<Snapshot>`, always the latest full picture.
//! - [`EngineHandle::commands`]: an `mpsc::Sender<Request>`; each request carries an optional
//!   oneshot for its outcome.
//! - [`EngineHandle::events`]: a `broadcast` of [`Event`]s (operation progress and results).
//!
//! Every type here is plain data (`Clone`, `Debug`, `PartialEq`) so front ends can snapshot-test
//! their rendering of it without an engine.
//!
//! Over 600 lines: the whole front-end boundary in one place on purpose; grows with each command (issue 16 keeps it the only public module).

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::app::{App, Destination};
use crate::resource::ResourceKey;

/// Sync status of a resource or an App.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SyncStatus {
    Synced,
    OutOfSync,
    #[default]
    Unknown,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "Synced",
            SyncStatus::OutOfSync => "OutOfSync",
            SyncStatus::Unknown => "Unknown",
        }
    }
}

pub use super::health::HealthStatus;
pub use super::pods::{PodCondition, PodDetails, PodEvent};

/// A commit: full sha and subject line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Revision {
    pub sha: String,
    pub subject: String,
}

impl Revision {
    pub fn short(&self) -> &str {
        &self.sha[..self.sha.len().min(7)]
    }
}

/// What the compare found for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceState {
    /// Desired and live agree.
    Synced,
    /// Desired and live differ.
    OutOfSync,
    /// Desired, not in the cluster: a sync creates it.
    Missing,
    /// Tracked by this App but no longer in Git: a sync with prune deletes it.
    Extra,
    /// Not desired and not tracked, shown for the tree only (ReplicaSets, Pods).
    Child,
    /// Tracked by this App while its manifests cannot be generated (ComparisonError): what Git
    /// wants is unknown, so it is neither in sync nor to prune (Argo CD: sync status Unknown).
    Unknown,
}

/// One row of the Resources pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    pub key: ResourceKey,
    pub version: String,
    pub state: ResourceState,
    pub sync: SyncStatus,
    pub health: Option<HealthStatus>,
    pub message: String,
    /// Owners (from `metadata.ownerReferences`), for the tree Deployment → ReplicaSet → Pod.
    pub owners: Vec<ResourceKey>,
    /// The sync wave and hook flag from the desired object (for the sync preview).
    pub wave: i64,
    pub hook: bool,
    /// `Prune=false` on the object: a prune leaves it in place.
    pub prune_disabled: bool,
    /// Tracked by another GitOps controller (Argo CD): syncing it requires force.
    pub foreign_owner: Option<String>,
    /// Ignored fields (ignoreDifferences) whose live value differs from Git's, as
    /// `/spec/replicas: 6 → 1`. They keep the row Synced; a sync without
    /// `RespectIgnoreDifferences=true` overwrites them (the sync preview says so).
    pub ignored_changes: Vec<String>,
    /// For Pods: what `kubectl get pods` shows (ready, status reason, restarts, age, node) and
    /// the pod's conditions, derived from the live object.
    pub pod: Option<PodDetails>,
}

/// Unified diff of one resource (Secret values already masked).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDiff {
    pub key: ResourceKey,
    pub state: ResourceState,
    /// Unified diff text, `live` → `desired`.
    pub unified: String,
}

/// Who runs an operation, since when, how far it is.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationInfo {
    pub kind: OperationKind,
    pub initiated_by: String,
    pub since: SystemTime,
    pub phase: String,
    pub wave: i64,
    pub done: usize,
    pub total: usize,
    /// The retry attempt (0 for the first try).
    pub attempt: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Sync,
    Rollback,
    AutoSync,
    SelfHeal,
}

/// Auto-sync as configured in Git and as overridden in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AutoSyncState {
    /// Effective: the override if any, else Git's `syncPolicy.automated`.
    pub enabled: bool,
    pub self_heal: bool,
    pub prune: bool,
    /// Git's setting differs because an operator stored an override in the cluster.
    pub overridden: bool,
}

/// The last sync of an App (from history).
#[derive(Debug, Clone, PartialEq)]
pub struct LastSync {
    pub time: SystemTime,
    pub initiated_by: String,
    pub revision: String,
    pub succeeded: bool,
}

/// One entry of an App's history (successful full syncs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    pub id: u64,
    pub revision: String,
    /// Commit subject, when known.
    #[serde(default)]
    pub subject: String,
    /// RFC 3339 timestamp.
    pub deployed_at: String,
    /// `user@host`.
    pub initiated_by: String,
    /// Source description: repo URL, path, value files.
    pub source: String,
}

/// Phase of an operation as recorded in the cluster (Argo CD's `operationState.phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedPhase {
    /// Started and its lease is held: in progress.
    Running,
    Succeeded,
    Failed,
    /// Never finished: the process running it stopped (or lost the cluster) before it could
    /// record a result, and its lease expired.
    Error,
}

/// The last or current operation of an App, stored in the cluster so every operator sees it
/// (Argo CD's `status.operationState`). Written when an operation starts, updated when it ends
/// (also on failure). Carries no Secret value.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationState {
    /// Distinguishes operations (the lease holder identity of the operation).
    pub id: String,
    pub kind: OperationKind,
    pub phase: RecordedPhase,
    pub message: String,
    /// `user@host`.
    pub initiated_by: String,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The revision being synced.
    pub revision: Revision,
    /// What the operator asked for (`--revision`), when not the App's target.
    pub requested_revision: Option<String>,
    pub dry_run: bool,
    pub prune: bool,
    pub force: bool,
    pub apply_out_of_sync_only: bool,
    /// `--resource` filters as given (`GROUP:KIND:NAME`); empty: the whole App.
    pub resource_filters: Vec<String>,
    /// The App's `syncPolicy.syncOptions`.
    pub sync_options: Vec<String>,
    pub retry_limit: Option<i64>,
    pub timeout_secs: Option<u64>,
    pub retries: u32,
    pub history_id: Option<u64>,
    /// Per-resource result counts by code (`Configured` → 3), over every resource.
    pub summary: BTreeMap<String, usize>,
    /// Per-resource results, failures first, at most a few hundred (see `resources_omitted`).
    pub resources: Vec<ResourceResult>,
    /// Results not kept in `resources` (large Apps), counted in `summary`.
    pub resources_omitted: usize,
    /// Fingerprint of the App's source the operation ran with (`reconcile::source_fingerprint`):
    /// auto-sync does not repeat a failed attempt at the same revision and source.
    pub source: Option<String>,
}

/// Conditions shown in the App's row and `app get` (Argo CD's `status.conditions`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub kind: ConditionKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKind {
    /// Rendering failed (message carries file:line:col).
    ComparisonError,
    /// Cluster unreachable, forbidden, unknown kind...
    ClusterError,
    /// The last sync failed.
    SyncError,
    /// Objects owned by another controller; sync needs force.
    SharedResourceWarning,
    /// Ordinary notices (e.g. auto-sync overridden).
    Info,
}

/// The full picture of one App.
#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub app: App,
    /// Cluster display name (kubeconfig context) the destination maps to.
    pub cluster: String,
    pub sync: SyncStatus,
    pub health: HealthStatus,
    pub health_message: String,
    /// The revision Git's target resolves to, compared against live.
    pub revision: Option<Revision>,
    /// The revision of the last successful sync.
    pub deployed: Option<Revision>,
    pub last_sync: Option<LastSync>,
    pub auto_sync: AutoSyncState,
    pub operation: Option<OperationInfo>,
    /// The last or current operation as recorded in the cluster (any operator's).
    pub operation_state: Option<OperationState>,
    pub resources: Vec<ResourceRow>,
    pub diffs: Vec<ResourceDiff>,
    pub history: Vec<HistoryEntry>,
    pub conditions: Vec<Condition>,
    /// When the compare that produced this state finished.
    pub compared_at: Option<SystemTime>,
}

impl AppState {
    pub fn destination(&self) -> &Destination {
        &self.app.destination
    }

    /// What a sync overwrites although ignoreDifferences hides it, one line per field
    /// (`Deployment/web /spec/replicas: 6 → 1`); empty when the App's sync options include
    /// `RespectIgnoreDifferences=true` (the sync then keeps live's values). With
    /// `ApplyOutOfSyncOnly=true` only resources the sync applies count.
    pub fn ignored_overwrites(&self) -> Vec<String> {
        let policy = &self.app.sync_policy;
        if policy.has_option("RespectIgnoreDifferences=true") {
            return Vec::new();
        }
        let out_of_sync_only = policy.has_option("ApplyOutOfSyncOnly=true");
        self.resources
            .iter()
            .filter(|r| !out_of_sync_only || r.state != ResourceState::Synced)
            .flat_map(|r| {
                r.ignored_changes
                    .iter()
                    .map(move |c| format!("{}/{} {c}", r.key.kind, r.key.name))
            })
            .collect()
    }

    /// A fresh state before the first compare.
    pub fn new(app: App, cluster: String) -> Self {
        let auto = AutoSyncState {
            enabled: app.sync_policy.automated.is_some(),
            self_heal: app.sync_policy.automated.is_some_and(|a| a.self_heal),
            prune: app.sync_policy.automated.is_some_and(|a| a.prune),
            overridden: false,
        };
        Self {
            app,
            cluster,
            sync: SyncStatus::Unknown,
            health: HealthStatus::Unknown,
            health_message: String::new(),
            revision: None,
            deployed: None,
            last_sync: None,
            auto_sync: auto,
            operation: None,
            operation_state: None,
            resources: Vec::new(),
            diffs: Vec::new(),
            history: Vec::new(),
            conditions: Vec::new(),
            compared_at: None,
        }
    }
}

/// Repository status for the header/status line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RepoStatus {
    pub url: String,
    pub branch: String,
    pub head: Option<Revision>,
    pub last_fetch: Option<SystemTime>,
    /// Fetch/parse error of the last poll, if any.
    pub error: Option<String>,
    /// Local commits of the checked-out branch not on its upstream: not deployed until pushed.
    pub ahead: usize,
    /// The upstream those commits are counted against (`origin/main`).
    pub upstream: Option<String>,
    /// Repository-relative files with uncommitted changes (untracked included) in the working
    /// tree: not deployed until committed and pushed. Empty for a bare (cached) clone.
    pub uncommitted: Vec<String>,
}

impl RepoStatus {
    /// Uncommitted files under `path` (an App's source path, repository-relative).
    pub fn uncommitted_under(&self, path: &str) -> Vec<&str> {
        let dir = path.trim_matches('/');
        self.uncommitted
            .iter()
            .map(String::as_str)
            .filter(|f| {
                dir.is_empty()
                    || dir == "."
                    || *f == dir
                    || f.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub level: NoticeLevel,
    pub message: String,
    pub at: SystemTime,
    /// The App the notice is about (`None`: the repository or the session), so a front end can
    /// keep one App's news out of another App's screen.
    pub app: Option<String>,
}

/// Everything a front end renders.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// Sorted by App name.
    pub apps: Vec<AppState>,
    pub repo: RepoStatus,
    /// Most recent last; bounded.
    pub notices: Vec<Notice>,
    /// True until every App has been compared once.
    pub loading: bool,
}

impl Snapshot {
    pub fn app(&self, name: &str) -> Option<&AppState> {
        self.apps.iter().find(|a| a.app.name == name)
    }
}

/// A resource filter for partial syncs (`--resource GROUP:KIND:NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFilter {
    pub group: String,
    pub kind: String,
    pub name: String,
    /// Empty matches any namespace.
    pub namespace: String,
}

impl ResourceFilter {
    pub fn matches(&self, key: &ResourceKey) -> bool {
        (self.group == "*" || self.group == key.group)
            && (self.kind == "*" || self.kind == key.kind)
            && (self.name == "*" || self.name == key.name)
            && (self.namespace.is_empty() || self.namespace == key.namespace)
    }

    /// Parse `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (Argo CD's `--resource`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.splitn(3, ':').collect();
        let [group, kind, name] = parts.as_slice() else {
            return Err(format!(
                "bad resource filter {s:?}: expected GROUP:KIND:NAME (empty group for core, e.g. :Service:web)"
            ));
        };
        if kind.is_empty() || name.is_empty() {
            return Err(format!(
                "bad resource filter {s:?}: kind and name must not be empty"
            ));
        }
        let (namespace, name) = name.split_once('/').unwrap_or(("", name));
        Ok(Self {
            group: group.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: namespace.to_string(),
        })
    }
}

/// Retry override from the CLI (`--retry-limit`, ...); `None` uses the App's `retry`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryOverride {
    pub limit: i64,
    pub backoff: crate::app::Backoff,
}

/// Options of a manual sync (Argo CD's `argocd app sync` flags).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncOptions {
    pub prune: bool,
    pub dry_run: bool,
    /// Take over conflicting fields and objects tracked by another controller.
    pub force: bool,
    pub apply_out_of_sync_only: bool,
    /// Sync this revision instead of the target (a sha, branch or tag).
    pub revision: Option<String>,
    /// Only these resources (empty: all).
    pub resources: Vec<ResourceFilter>,
    pub retry: Option<RetryOverride>,
    /// Give up after this long (whole operation, including retries).
    pub timeout: Option<std::time::Duration>,
}

/// A promotion request, executed by `engine::promote` (sources engineer).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromoteRequest {
    pub source_env: String,
    pub target_env: String,
    /// Value key paths to copy (`a.b.c`); empty: all differing keys.
    pub keys: Vec<String>,
    pub message: Option<String>,
    pub push: bool,
}

/// A command from a front end.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Re-compare; `hard` re-fetches git and re-renders.
    Refresh {
        app: Option<String>,
        hard: bool,
    },
    Sync {
        app: String,
        options: SyncOptions,
    },
    Rollback {
        app: String,
        history_id: u64,
        options: SyncOptions,
    },
    /// Store (or, with all `None`, clear) an auto-sync override in the cluster.
    SetAutoSync {
        app: String,
        enabled: Option<bool>,
        self_heal: Option<bool>,
        prune: Option<bool>,
    },
    Promote(PromoteRequest),
    /// Fetch the recent events of one of `app`'s pods; answered (without blocking the engine)
    /// with [`Event::PodEvents`]. Read-only: allowed with `--readonly`.
    PodEvents {
        app: String,
        pod: ResourceKey,
    },
    /// Stop the operations this engine runs (of `app`, or all): each ends `Failed` ("abandoned
    /// by <user>"), is recorded so, and releases its lease, so another session can sync at
    /// once. What they applied stays. Answered `Done` once they have ended.
    Abandon {
        app: Option<String>,
    },
}

/// The outcome of a command, sent on the request's reply channel.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandOutcome {
    Done,
    Operation(OperationResult),
    Refused(String),
    Failed(String),
}

/// A command plus where to send its outcome.
#[derive(Debug)]
pub struct Request {
    pub command: Command,
    pub reply: Option<tokio::sync::oneshot::Sender<CommandOutcome>>,
}

/// Result of one resource in an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    Synced,
    Created,
    Configured,
    Unchanged,
    Pruned,
    PruneSkipped,
    HookRunning,
    HookSucceeded,
    HookFailed,
    Failed,
    /// Dry-run: what would happen.
    WouldCreate,
    WouldConfigure,
    WouldPrune,
}

impl ResultCode {
    pub fn is_failure(self) -> bool {
        matches!(self, ResultCode::Failed | ResultCode::HookFailed)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceResult {
    pub key: ResourceKey,
    pub phase: String,
    pub wave: i64,
    pub code: ResultCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationPhase {
    Succeeded,
    /// The sync ran and failed (a resource or hook failed, a wave timed out, ...).
    Failed,
    /// The operation could not start: its manifests could not be generated (Argo CD's
    /// `Error` phase).
    Error,
    /// Refused before touching the cluster (lock held, rollback with auto-sync on, ...).
    Refused,
}

/// The end of an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationResult {
    pub app: String,
    pub kind: OperationKind,
    pub phase: OperationPhase,
    pub revision: String,
    pub message: String,
    pub resources: Vec<ResourceResult>,
    pub dry_run: bool,
    /// Retries made (0: succeeded or failed on the first try).
    pub retries: u32,
    /// History id recorded, if any.
    pub history_id: Option<u64>,
    /// Dry runs: the diff (live → desired, Secrets masked) of each resource the operation would
    /// change, so a preview shows what changes and not only how many. Empty otherwise.
    pub diffs: Vec<ResourceDiff>,
}

/// Progress and results, for live display.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    OperationStarted {
        app: String,
        kind: OperationKind,
        revision: String,
        total: usize,
    },
    Progress {
        app: String,
        phase: String,
        wave: i64,
        done: usize,
        total: usize,
        /// The resource just handled, with its result (None for wave/phase transitions).
        resource: Option<ResourceResult>,
        message: String,
    },
    /// A failed attempt that will be retried after `delay`.
    Retrying {
        app: String,
        attempt: u32,
        delay: std::time::Duration,
        error: String,
    },
    OperationFinished(OperationResult),
    Notice(Notice),
    /// The answer to [`Command::PodEvents`]: the pod's events, newest first, or why they could
    /// not be read.
    PodEvents {
        app: String,
        pod: ResourceKey,
        events: Result<Vec<PodEvent>, String>,
    },
}

/// Per-resource results grouped by code, for summaries.
pub fn summarize(results: &[ResourceResult]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in results {
        *m.entry(format!("{:?}", r.code)).or_insert(0) += 1;
    }
    m
}

/// One App as the repository describes it at the current poll.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredApp {
    pub app: App,
    /// The target revision resolved to a commit, or why it could not be.
    pub revision: Result<Revision, String>,
}

/// What a poll of the repository found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RepoPoll {
    pub status: RepoStatus,
    pub apps: Vec<DesiredApp>,
}

/// Where desired state comes from: the sources + render layers implement this (git repository,
/// ApplicationSets, Helm/directory rendering); tests feed manifests directly. Errors are
/// complete, user-facing messages (with file:line:col where they come from a file).
pub trait Repo: Send + Sync {
    /// Fetch the remote when `fetch` (a hard refresh or a poll), discover the Apps and resolve
    /// each App's target revision to a commit.
    fn poll(&self, fetch: bool) -> futures::future::BoxFuture<'_, Result<RepoPoll, String>>;

    /// Resolve a revision given by an operator (sha, short sha, branch, tag) for `app`.
    fn resolve<'a>(
        &'a self,
        app: &'a App,
        revision: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Revision, String>>;

    /// Render `app` at commit `sha` into its desired objects (JSON, wire format; namespaces
    /// may be empty for namespaced objects — the engine fills in the destination namespace).
    fn render<'a>(
        &'a self,
        app: &'a App,
        sha: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<serde_json::Value>, String>>;

    /// Execute a promotion; returns the new commit.
    fn promote<'a>(
        &'a self,
        request: &'a PromoteRequest,
    ) -> futures::future::BoxFuture<'a, Result<Revision, String>>;
}

/// The running engine as front ends see it.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    /// The latest snapshot; `changed().await` to follow.
    pub state: tokio::sync::watch::Receiver<Snapshot>,
    /// Commands in.
    pub commands: tokio::sync::mpsc::Sender<Request>,
    /// Progress and results out; `events.subscribe()` for a receiver.
    pub events: tokio::sync::broadcast::Sender<Event>,
}

impl EngineHandle {
    /// Send a command without waiting for its outcome.
    pub async fn send(&self, command: Command) -> Result<(), String> {
        self.commands
            .send(Request {
                command,
                reply: None,
            })
            .await
            .map_err(|_| "the engine has stopped".to_string())
    }

    /// Send a command and wait for its outcome (an operation's result for sync and rollback).
    pub async fn call(&self, command: Command) -> CommandOutcome {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self
            .commands
            .send(Request {
                command,
                reply: Some(tx),
            })
            .await
            .is_err()
        {
            return CommandOutcome::Failed("the engine has stopped".into());
        }
        rx.await.unwrap_or_else(|_| {
            CommandOutcome::Failed("the engine stopped before answering".into())
        })
    }

    /// The current snapshot (cloned).
    pub fn snapshot(&self) -> Snapshot {
        self.state.borrow().clone()
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_filter_parses_and_matches() {
        let f = ResourceFilter::parse("apps:Deployment:web").unwrap();
        assert!(f.matches(&ResourceKey::new("apps", "Deployment", "prod", "web")));
        assert!(!f.matches(&ResourceKey::new("apps", "Deployment", "prod", "api")));
        let core = ResourceFilter::parse(":Service:prod/web").unwrap();
        assert_eq!(core.namespace, "prod");
        assert!(core.matches(&ResourceKey::new("", "Service", "prod", "web")));
        assert!(!core.matches(&ResourceKey::new("", "Service", "dev", "web")));
        assert!(ResourceFilter::parse("Deployment").is_err());
        assert!(ResourceFilter::parse("apps::web").is_err());
    }

    #[test]
    fn revision_short() {
        let r = Revision {
            sha: "0123456789abcdef".into(),
            subject: "s".into(),
        };
        assert_eq!(r.short(), "0123456");
        assert_eq!(Revision::default().short(), "");
    }
}
