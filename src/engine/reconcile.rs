//! The engine: one task per App (an actor owning that App's state) plus a coordinator that polls
//! the repository and routes commands.
//!
//! Per App: render at the resolved revision → prepare → watch the kinds → compare → publish an
//! [`AppState`]. Live changes (watch events) trigger a debounced re-compare from the cache. When
//! auto-sync is in effect (Git's policy or an override stored in the cluster) the actor syncs
//! once per new revision when OutOfSync, and with `selfHeal` re-syncs after drift with backoff
//! (2s × 3ⁿ, capped at 300s). Operations run in their own tasks under a cluster Lease, record
//! history on success, and report progress as [`Event`]s.
//!
//! Over 600 lines: to be split into `runtime/{publisher,coordinator,actor,autosync,operation}` (issue 16).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::api::{
    AppState, AutoSyncState, Command, CommandOutcome, Condition, ConditionKind, DesiredApp,
    EngineHandle, Event, LastSync, Notice, NoticeLevel, OperationInfo, OperationKind,
    OperationPhase, OperationResult, RecordedPhase, Repo, RepoStatus, Request, ResourceState,
    Revision, Snapshot, SyncOptions, SyncStatus,
};
use super::cache::LiveCache;
use super::compare::{Comparer, Comparison, Prepared, prepare, rows_and_diffs};
use super::history::{self, AutoSyncOverride, History, NewEntry};
use super::lock;
use super::sync::{self, SyncRequest};
use crate::app::{App, SourceKind};
use crate::cluster::readonly::ReadOnlyProvider;
use crate::cluster::{Cluster, ClusterProvider, Gvk};
use crate::config::ReconcileConfig;

/// How the engine is wired.
pub struct EngineOptions {
    pub repo: Arc<dyn Repo>,
    pub clusters: Arc<dyn ClusterProvider>,
    pub reconcile: ReconcileConfig,
    /// `user@host`, recorded in history and shown in locks.
    pub user: String,
    /// Read-only mode: refuse every mutating command, never auto-sync or self-heal, and reach
    /// the clusters only through [`ReadOnlyProvider`] (every write refused at the lowest layer).
    pub readonly: bool,
    /// Run auto-sync and self-heal (the TUI and `sextant reconcile`; one-shot CLI commands not).
    /// Has no effect in read-only mode.
    pub auto_sync: bool,
    /// Environments (env label or App name) this engine never auto-syncs or self-heals: the
    /// TUI's protected environments unless started with `--yes`. Manual syncs are unaffected.
    pub auto_sync_exclude: Vec<String>,
    /// Poll the repository every `reconcile.poll_interval_secs` (+ jitter).
    pub poll: bool,
    /// How long a compare waits for the first list of a watched kind.
    pub watch_timeout: Duration,
    /// Debounce of live changes before a re-compare.
    pub debounce: Duration,
}

impl EngineOptions {
    pub fn new(repo: Arc<dyn Repo>, clusters: Arc<dyn ClusterProvider>) -> Self {
        Self {
            repo,
            clusters,
            reconcile: ReconcileConfig::default(),
            user: default_user(),
            readonly: false,
            auto_sync: true,
            auto_sync_exclude: Vec::new(),
            poll: true,
            watch_timeout: Duration::from_secs(10),
            debounce: Duration::from_millis(300),
        }
    }
}

/// Whether `app` is in `exclude` (by env label or App name): not auto-synced by this engine.
pub fn auto_sync_excluded(exclude: &[String], app: &App) -> bool {
    exclude.iter().any(|e| *e == app.env || *e == app.name)
}

/// `user@host`: `$USER`, else the OS account; the host name (see [`crate::initiator`]).
pub fn default_user() -> String {
    crate::initiator::initiator()
}

const MAX_NOTICES: usize = 200;

struct Shared {
    opts: EngineOptions,
    events: broadcast::Sender<Event>,
    states: Mutex<BTreeMap<String, AppState>>,
    repo: Mutex<RepoStatus>,
    notices: Mutex<Vec<Notice>>,
    loading: Mutex<BTreeSet<String>>,
    state_tx: watch::Sender<Snapshot>,
    caches: tokio::sync::Mutex<HashMap<String, Arc<LiveCache>>>,
}

impl Shared {
    fn publish(&self) {
        let apps: Vec<AppState> = self
            .states
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        let snap = Snapshot {
            apps,
            repo: self.repo.lock().map(|r| r.clone()).unwrap_or_default(),
            notices: self.notices.lock().map(|n| n.clone()).unwrap_or_default(),
            loading: self.loading.lock().map(|l| !l.is_empty()).unwrap_or(false),
        };
        self.state_tx.send_replace(snap);
    }

    fn notice(&self, level: NoticeLevel, message: String) {
        self.notice_about(None, level, message);
    }

    /// A notice about one App (see [`Notice::app`]).
    fn app_notice(&self, app: &str, level: NoticeLevel, message: String) {
        self.notice_about(Some(app.to_string()), level, message);
    }

    fn notice_about(&self, app: Option<String>, level: NoticeLevel, message: String) {
        let n = Notice {
            level,
            message,
            at: SystemTime::now(),
            app,
        };
        if let Ok(mut v) = self.notices.lock() {
            v.push(n.clone());
            let len = v.len();
            if len > MAX_NOTICES {
                v.drain(..len - MAX_NOTICES);
            }
        }
        let _ = self.events.send(Event::Notice(n));
        self.publish();
    }

    fn update(&self, app: &str, f: impl FnOnce(&mut AppState)) {
        if let Ok(mut s) = self.states.lock()
            && let Some(st) = s.get_mut(app)
        {
            f(st);
        }
        self.publish();
    }

    async fn cache_for(&self, cluster: Arc<dyn Cluster>) -> Arc<LiveCache> {
        let mut caches = self.caches.lock().await;
        caches
            .entry(cluster.name().to_string())
            .or_insert_with(|| LiveCache::new(cluster))
            .clone()
    }
}

/// Messages to one App's actor.
enum AppMsg {
    Desired(Box<DesiredApp>),
    Refresh {
        hard: bool,
        reply: Option<oneshot::Sender<CommandOutcome>>,
    },
    Sync {
        kind: OperationKind,
        options: SyncOptions,
        history_id: Option<u64>,
        reply: Option<oneshot::Sender<CommandOutcome>>,
    },
    SetAutoSync {
        enabled: Option<bool>,
        self_heal: Option<bool>,
        prune: Option<bool>,
        reply: Option<oneshot::Sender<CommandOutcome>>,
    },
    OpDone(Box<OperationResult>),
    /// Stop the running operation (if any); answered when it has ended.
    Abandon {
        reply: oneshot::Sender<()>,
    },
}

/// The engine entry point: `Engine::start(options)` → [`EngineHandle`].
pub struct Engine;

impl Engine {
    /// Start the engine's tasks. Must be called within a tokio runtime; returns at once.
    pub fn start(opts: EngineOptions) -> EngineHandle {
        start(opts)
    }
}

/// Start the engine. Must be called within a tokio runtime.
pub fn start(mut opts: EngineOptions) -> EngineHandle {
    if opts.readonly {
        // Below every code path of the engine: whatever asks for a write gets a refusal.
        opts.clusters = Arc::new(ReadOnlyProvider(opts.clusters));
        opts.auto_sync = false;
    }
    let (state_tx, state_rx) = watch::channel(Snapshot {
        loading: true,
        ..Snapshot::default()
    });
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (events, _) = broadcast::channel(1024);
    let shared = Arc::new(Shared {
        opts,
        events: events.clone(),
        states: Mutex::new(BTreeMap::new()),
        repo: Mutex::new(RepoStatus::default()),
        notices: Mutex::new(Vec::new()),
        loading: Mutex::new(BTreeSet::new()),
        state_tx,
        caches: tokio::sync::Mutex::new(HashMap::new()),
    });
    tokio::spawn(coordinator(shared, cmd_rx));
    EngineHandle {
        state: state_rx,
        commands: cmd_tx,
        events,
    }
}

fn jitter(max_secs: u64) -> Duration {
    if max_secs == 0 {
        return Duration::ZERO;
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(u64::from(nanos) % (max_secs * 1000))
}

async fn coordinator(shared: Arc<Shared>, mut cmd_rx: mpsc::Receiver<Request>) {
    let mut actors: HashMap<String, mpsc::UnboundedSender<AppMsg>> = HashMap::new();
    poll_repo(&shared, &mut actors, false).await;
    let interval = Duration::from_secs(shared.opts.reconcile.poll_interval_secs.max(1));
    let mut next_poll =
        tokio::time::Instant::now() + interval + jitter(shared.opts.reconcile.poll_jitter_secs);
    loop {
        tokio::select! {
            req = cmd_rx.recv() => {
                let Some(req) = req else { return };
                handle_command(&shared, &mut actors, req).await;
            }
            _ = tokio::time::sleep_until(next_poll), if shared.opts.poll => {
                poll_repo(&shared, &mut actors, true).await;
                next_poll = tokio::time::Instant::now() + interval
                    + jitter(shared.opts.reconcile.poll_jitter_secs);
            }
        }
    }
}

async fn poll_repo(
    shared: &Arc<Shared>,
    actors: &mut HashMap<String, mpsc::UnboundedSender<AppMsg>>,
    fetch: bool,
) {
    let poll = match shared.opts.repo.poll(fetch).await {
        Ok(p) => p,
        Err(e) => {
            if let Ok(mut r) = shared.repo.lock() {
                r.error = Some(e.clone());
            }
            if let Ok(mut l) = shared.loading.lock() {
                l.clear();
            }
            shared.notice(NoticeLevel::Error, format!("repository: {e}"));
            return;
        }
    };
    if let Ok(mut r) = shared.repo.lock() {
        *r = poll.status.clone();
        r.last_fetch = Some(SystemTime::now());
    }
    let names: BTreeSet<String> = poll.apps.iter().map(|a| a.app.name.clone()).collect();
    // Apps gone from Git: stop their actors and drop their state (their objects stay).
    actors.retain(|name, _| names.contains(name));
    if let Ok(mut s) = shared.states.lock() {
        s.retain(|name, _| names.contains(name));
    }
    if let Ok(mut l) = shared.loading.lock() {
        l.retain(|name| names.contains(name));
    }
    for d in poll.apps {
        let name = d.app.name.clone();
        match actors.get(&name) {
            Some(tx) if !tx.is_closed() => {
                let _ = tx.send(AppMsg::Desired(Box::new(d)));
            }
            _ => {
                if let Ok(mut s) = shared.states.lock() {
                    s.insert(name.clone(), AppState::new(d.app.clone(), String::new()));
                }
                if let Ok(mut l) = shared.loading.lock() {
                    l.insert(name.clone());
                }
                let (tx, rx) = mpsc::unbounded_channel();
                let _ = tx.send(AppMsg::Desired(Box::new(d.clone())));
                let actor = Actor::new(shared.clone(), d, tx.clone());
                tokio::spawn(actor.run(rx));
                actors.insert(name, tx);
            }
        }
    }
    shared.publish();
}

async fn handle_command(
    shared: &Arc<Shared>,
    actors: &mut HashMap<String, mpsc::UnboundedSender<AppMsg>>,
    req: Request,
) {
    let Request { command, reply } = req;
    let refuse = |reply: Option<oneshot::Sender<CommandOutcome>>, msg: String| {
        if let Some(r) = reply {
            let _ = r.send(CommandOutcome::Refused(msg));
        }
    };
    // Abandoning only stops what this engine started (nothing, when read-only).
    let mutating = !matches!(
        command,
        Command::Refresh { .. } | Command::PodEvents { .. } | Command::Abandon { .. }
    );
    if mutating && shared.opts.readonly {
        refuse(
            reply,
            "read-only mode: mutating actions are disabled".into(),
        );
        return;
    }
    let app_name = match &command {
        Command::Refresh { app, .. } | Command::Abandon { app } => app.clone(),
        Command::Sync { app, .. }
        | Command::Rollback { app, .. }
        | Command::SetAutoSync { app, .. }
        | Command::PodEvents { app, .. } => Some(app.clone()),
        Command::Promote(_) => None,
    };
    let target = match &app_name {
        Some(name) => match resolve_app(shared, actors, name) {
            Ok(n) => Some(n),
            Err(e) => {
                if let Some(r) = reply {
                    let _ = r.send(CommandOutcome::Failed(e));
                }
                return;
            }
        },
        None => None,
    };
    match command {
        Command::Refresh { hard, .. } => {
            if hard {
                // Chart repository indexes are refetched too (Argo CD's hard refresh).
                crate::charts::request_refresh();
                poll_repo(shared, actors, true).await;
            }
            match target {
                Some(name) => {
                    if let Some(tx) = actors.get(&name) {
                        let _ = tx.send(AppMsg::Refresh { hard, reply });
                    }
                }
                None => {
                    for tx in actors.values() {
                        let _ = tx.send(AppMsg::Refresh { hard, reply: None });
                    }
                    if let Some(r) = reply {
                        let _ = r.send(CommandOutcome::Done);
                    }
                }
            }
        }
        Command::Sync { options, .. } => {
            if let Some(tx) = target.and_then(|n| actors.get(&n)) {
                let _ = tx.send(AppMsg::Sync {
                    kind: OperationKind::Sync,
                    options,
                    history_id: None,
                    reply,
                });
            }
        }
        Command::Rollback {
            history_id,
            options,
            ..
        } => {
            if let Some(tx) = target.and_then(|n| actors.get(&n)) {
                let _ = tx.send(AppMsg::Sync {
                    kind: OperationKind::Rollback,
                    options,
                    history_id: Some(history_id),
                    reply,
                });
            }
        }
        Command::SetAutoSync {
            enabled,
            self_heal,
            prune,
            ..
        } => {
            if let Some(tx) = target.and_then(|n| actors.get(&n)) {
                let _ = tx.send(AppMsg::SetAutoSync {
                    enabled,
                    self_heal,
                    prune,
                    reply,
                });
            }
        }
        Command::PodEvents { pod, .. } => {
            // Fetched in a task of its own: a slow cluster never holds up other commands.
            let app = target.and_then(|n| {
                let states = shared.states.lock().ok()?;
                Some((n.clone(), states.get(&n)?.app.destination.clone()))
            });
            match app {
                Some((name, dest)) => super::pods::answer_pod_events(
                    shared.opts.clusters.clone(),
                    dest,
                    name,
                    pod,
                    shared.events.clone(),
                    reply,
                ),
                None => {
                    if let Some(r) = reply {
                        let _ = r.send(CommandOutcome::Failed("the App is gone".into()));
                    }
                }
            }
        }
        Command::Abandon { .. } => {
            let targets: Vec<&mpsc::UnboundedSender<AppMsg>> = match &target {
                Some(name) => actors.get(name).into_iter().collect(),
                None => actors.values().collect(),
            };
            let mut answers = Vec::new();
            for tx in targets {
                let (atx, arx) = oneshot::channel();
                if tx.send(AppMsg::Abandon { reply: atx }).is_ok() {
                    answers.push(arx);
                }
            }
            // Each actor answers once its operation has ended and been recorded.
            tokio::spawn(async move {
                for a in answers {
                    let _ = a.await;
                }
                if let Some(r) = reply {
                    let _ = r.send(CommandOutcome::Done);
                }
            });
        }
        Command::Promote(req) => {
            let outcome = match shared.opts.repo.promote(&req).await {
                Ok(rev) => {
                    shared.notice(
                        NoticeLevel::Info,
                        format!(
                            "promoted {} → {}: commit {} {}",
                            req.source_env,
                            req.target_env,
                            rev.short(),
                            rev.subject
                        ),
                    );
                    poll_repo(shared, actors, false).await;
                    CommandOutcome::Done
                }
                Err(e) => CommandOutcome::Failed(e),
            };
            if let Some(r) = reply {
                let _ = r.send(outcome);
            }
        }
    }
}

/// App name, or env name when it names exactly one App.
fn resolve_app(
    shared: &Shared,
    actors: &HashMap<String, mpsc::UnboundedSender<AppMsg>>,
    name: &str,
) -> Result<String, String> {
    if actors.contains_key(name) {
        return Ok(name.to_string());
    }
    let states = shared.states.lock().map_err(|_| "engine state poisoned")?;
    let by_env: Vec<&String> = states
        .values()
        .filter(|s| s.app.env == name)
        .map(|s| &s.app.name)
        .collect();
    match by_env.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "unknown app {name:?}; apps: {}",
            states.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
        many => Err(format!(
            "env {name:?} is ambiguous: {}; use the app name",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

struct Actor {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<AppMsg>,
    app: App,
    revision: Result<Revision, String>,
    cluster: Option<Arc<dyn Cluster>>,
    cache: Option<Arc<LiveCache>>,
    /// (sha, prepared) of the last render.
    prepared: Option<(String, Prepared)>,
    comparer: Comparer,
    comparison: Option<Comparison>,
    history: History,
    override_: Option<AutoSyncOverride>,
    op_running: bool,
    /// Stops the running operation (see [`Command::Abandon`]), with who abandons it.
    cancel_op: Option<oneshot::Sender<String>>,
    /// Answered when the running operation ends.
    abandon_replies: Vec<oneshot::Sender<()>>,
    /// Revision auto-sync last attempted (once per revision).
    auto_synced: Option<String>,
    /// The last operation's attempt (ours, or another operator's from the record in the
    /// cluster): auto-sync never repeats one that failed at the same revision and source.
    last_attempt: Option<Attempt>,
    /// Id of the last finished operation record taken into `last_attempt`.
    record_seen: Option<String>,
    /// Revision whose skipped auto-sync was announced (once per revision).
    skip_noticed: Option<String>,
    /// Why the desired state cannot be generated (render failure, unresolvable revision): the
    /// live objects are then listed with sync status Unknown.
    unrendered: Option<String>,
    /// Kinds of every successful render, watched so that a later render failure still finds
    /// the App's live objects.
    rendered_kinds: BTreeSet<Gvk>,
    heal_attempts: u32,
    next_heal: Option<tokio::time::Instant>,
    dirty_at: Option<tokio::time::Instant>,
    conditions: Vec<Condition>,
    /// The newest revision the live state is known to match, shown as `deployed`: set by a
    /// Synced compare at the current revision, or by a new history entry (a successful sync
    /// by any operator, a rollback). `None` before either; the last history entry stands in.
    synced: Option<Revision>,
}

impl Actor {
    fn new(shared: Arc<Shared>, d: DesiredApp, tx: mpsc::UnboundedSender<AppMsg>) -> Self {
        Self {
            shared,
            tx,
            app: d.app,
            revision: d.revision,
            cluster: None,
            cache: None,
            prepared: None,
            comparer: Comparer::new(),
            comparison: None,
            history: History::default(),
            override_: None,
            op_running: false,
            cancel_op: None,
            abandon_replies: Vec::new(),
            auto_synced: None,
            last_attempt: None,
            record_seen: None,
            skip_noticed: None,
            unrendered: None,
            rendered_kinds: BTreeSet::new(),
            heal_attempts: 0,
            next_heal: None,
            dirty_at: None,
            conditions: Vec::new(),
            synced: None,
        }
    }

    fn auto(&self) -> AutoSyncState {
        let git = self.app.sync_policy.automated;
        match &self.override_ {
            Some(o) => AutoSyncState {
                enabled: o.enabled,
                self_heal: o.enabled && o.self_heal,
                prune: o.enabled && o.prune,
                overridden: true,
            },
            None => AutoSyncState {
                enabled: git.is_some(),
                self_heal: git.is_some_and(|a| a.self_heal),
                prune: git.is_some_and(|a| a.prune),
                overridden: false,
            },
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<AppMsg>) {
        let mut events = self.shared.events.subscribe();
        let mut changes: Option<watch::Receiver<u64>> = None;
        loop {
            if changes.is_none() {
                changes = self.cache.as_ref().map(|c| c.subscribe());
            }
            let dirty_at = self.dirty_at;
            let next_heal = self.next_heal;
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { return };
                    self.handle(msg).await;
                }
                r = async { match changes.as_mut() { Some(c) => c.changed().await, None => std::future::pending().await } } => {
                    if r.is_err() { changes = None; continue; }
                    if self.dirty_at.is_none() {
                        self.dirty_at = Some(tokio::time::Instant::now() + self.shared.opts.debounce);
                    }
                }
                _ = async { match dirty_at { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                    self.dirty_at = None;
                    self.compare(false).await;
                }
                _ = async { match next_heal { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                    self.next_heal = None;
                    self.maybe_auto_sync(true).await;
                }
                ev = events.recv() => {
                    if let Ok(ev) = ev { self.on_event(ev); }
                }
            }
        }
    }

    fn on_event(&mut self, ev: Event) {
        let name = self.app.name.clone();
        match ev {
            Event::Progress {
                app,
                phase,
                wave,
                done,
                total,
                ..
            } if app == name => self.shared.update(&name, |s| {
                if let Some(op) = &mut s.operation {
                    op.phase = phase;
                    op.wave = wave;
                    op.done = done;
                    op.total = total;
                }
            }),
            Event::OperationStarted { app, total, .. } if app == name => {
                self.shared.update(&name, |s| {
                    if let Some(op) = &mut s.operation {
                        op.total = total;
                        op.done = 0;
                    }
                })
            }
            Event::Retrying { app, attempt, .. } if app == name => self.shared.update(&name, |s| {
                if let Some(op) = &mut s.operation {
                    op.attempt = attempt;
                }
            }),
            _ => {}
        }
    }

    async fn handle(&mut self, msg: AppMsg) {
        match msg {
            AppMsg::Desired(d) => {
                let d = *d;
                let changed = d.app != self.app || d.revision != self.revision;
                self.app = d.app;
                self.revision = d.revision;
                if changed || self.comparison.is_none() {
                    self.refresh(true).await;
                }
            }
            AppMsg::Refresh { hard, reply } => {
                self.refresh(hard).await;
                if let Some(r) = reply {
                    let _ = r.send(CommandOutcome::Done);
                }
            }
            AppMsg::SetAutoSync {
                enabled,
                self_heal,
                prune,
                reply,
            } => {
                let out = self.set_auto_sync(enabled, self_heal, prune).await;
                let done = out == CommandOutcome::Done;
                if let Some(r) = reply {
                    let _ = r.send(out);
                }
                // Turning auto-sync (back) on acts at once on the last compare, as Argo CD's
                // refresh after a policy change does.
                if done {
                    self.maybe_auto_sync(false).await;
                }
            }
            AppMsg::Sync {
                kind,
                options,
                history_id,
                reply,
            } => {
                self.start_operation(kind, options, history_id, reply).await;
            }
            AppMsg::Abandon { reply } => match self.cancel_op.take() {
                Some(cancel) if self.op_running => {
                    let _ = cancel.send(self.shared.opts.user.clone());
                    self.abandon_replies.push(reply);
                }
                _ => {
                    let _ = reply.send(());
                }
            },
            AppMsg::OpDone(result) => {
                self.op_running = false;
                self.cancel_op = None;
                for r in self.abandon_replies.drain(..) {
                    let _ = r.send(());
                }
                // As Argo CD: auto-sync does not repeat a revision the last operation (any kind:
                // a manual sync, a rollback) already ran; a rollback at an older revision means
                // re-enabling auto-sync brings the App back to Git's revision.
                if !result.dry_run
                    && matches!(
                        result.phase,
                        OperationPhase::Succeeded | OperationPhase::Failed | OperationPhase::Error
                    )
                {
                    self.auto_synced = Some(result.revision.clone());
                    self.last_attempt = Some(Attempt {
                        revision: result.revision.clone(),
                        source: Some(source_fingerprint(&self.app)),
                        failed: (result.phase != OperationPhase::Succeeded)
                            .then(|| result.message.clone()),
                    });
                }
                let name = self.app.name.clone();
                self.shared.update(&name, |s| {
                    s.operation = None;
                    s.conditions.retain(|c| c.kind != ConditionKind::SyncError);
                    if matches!(result.phase, OperationPhase::Failed | OperationPhase::Error) {
                        s.conditions.push(Condition {
                            kind: ConditionKind::SyncError,
                            message: result.message.clone(),
                        });
                    }
                });
                if matches!(result.phase, OperationPhase::Failed | OperationPhase::Error) {
                    self.conditions
                        .retain(|c| c.kind != ConditionKind::SyncError);
                    self.conditions.push(Condition {
                        kind: ConditionKind::SyncError,
                        message: result.message.clone(),
                    });
                } else {
                    self.conditions
                        .retain(|c| c.kind != ConditionKind::SyncError);
                }
                self.comparer.clear();
                self.refresh(false).await;
            }
        }
    }

    async fn set_auto_sync(
        &mut self,
        enabled: Option<bool>,
        self_heal: Option<bool>,
        prune: Option<bool>,
    ) -> CommandOutcome {
        let Some(cluster) = self.cluster.clone() else {
            return CommandOutcome::Failed(format!(
                "{}: cluster not connected yet; try again after the first refresh",
                self.app.name
            ));
        };
        let value = if enabled.is_none() && self_heal.is_none() && prune.is_none() {
            None
        } else {
            let cur = self.auto();
            Some(AutoSyncOverride {
                enabled: enabled.unwrap_or(cur.enabled),
                self_heal: self_heal.unwrap_or(cur.self_heal),
                prune: prune.unwrap_or(cur.prune),
                set_by: self.shared.opts.user.clone(),
                set_at: history::now_rfc3339(),
            })
        };
        match history::store_override(cluster.as_ref(), &self.app.name, value.as_ref()).await {
            Ok(()) => {
                self.override_ = value;
                let auto = self.auto();
                let name = self.app.name.clone();
                self.shared.update(&name, |s| s.auto_sync = auto);
                self.shared.app_notice(
                    &self.app.name,
                    NoticeLevel::Info,
                    format!(
                        "{}: auto-sync {}{} (stored in the cluster by {})",
                        self.app.name,
                        if auto.enabled { "on" } else { "off" },
                        if auto.overridden {
                            ", overriding Git"
                        } else {
                            ""
                        },
                        self.shared.opts.user
                    ),
                );
                CommandOutcome::Done
            }
            Err(e) => CommandOutcome::Failed(format!("{}: {e}", self.app.name)),
        }
    }

    fn set_condition(&mut self, kind: ConditionKind, message: String) {
        self.conditions.push(Condition { kind, message });
    }

    /// Connect, render (when the revision changed or `hard`), load shared state, compare.
    async fn refresh(&mut self, hard: bool) {
        self.conditions
            .retain(|c| c.kind == ConditionKind::SyncError);
        if self.cluster.is_none() {
            match self
                .shared
                .opts
                .clusters
                .cluster_for(&self.app.destination)
                .await
            {
                Ok(c) => {
                    self.cache = Some(self.shared.cache_for(c.clone()).await);
                    self.cluster = Some(c);
                }
                Err(e) => {
                    self.set_condition(ConditionKind::ClusterError, e);
                    self.publish(None);
                    return;
                }
            }
        }
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        match history::load(cluster.as_ref(), &self.app.name).await {
            Ok(h) => {
                // A new entry (ours, another operator's, a rollback) is what is deployed now,
                // until a compare shows the live state matching a newer revision.
                let before = self.history.last().map(|e| e.id);
                self.history = h;
                if let Some(e) = self.history.last()
                    && Some(e.id) != before
                {
                    self.synced = Some(Revision {
                        sha: e.revision.clone(),
                        subject: e.subject.clone(),
                    });
                }
            }
            Err(e) => self.set_condition(ConditionKind::ClusterError, e.to_string()),
        }
        match history::load_override(cluster.as_ref(), &self.app.name).await {
            Ok(o) => self.override_ = o,
            Err(e) => {
                if !self
                    .conditions
                    .iter()
                    .any(|c| c.kind == ConditionKind::ClusterError)
                {
                    self.set_condition(ConditionKind::ClusterError, e.to_string());
                }
            }
        }
        if self.auto_synced.is_none() {
            self.auto_synced = self.history.last().map(|e| e.revision.clone());
        }
        self.take_recorded_attempt();
        let rev = match &self.revision {
            Ok(r) => r.clone(),
            Err(e) => {
                let e = e.clone();
                self.set_condition(ConditionKind::ComparisonError, e.clone());
                self.prepared = None;
                self.unrendered = Some(e);
                self.compare(true).await;
                return;
            }
        };
        let stale = self
            .prepared
            .as_ref()
            .is_none_or(|(sha, _)| *sha != rev.sha);
        if stale || hard {
            match self.shared.opts.repo.render(&self.app, &rev.sha).await {
                Ok(objs) => {
                    let p = prepare(&self.app, objs, cluster.as_ref()).await;
                    self.rendered_kinds.extend(p.gvks());
                    self.unrendered = None;
                    self.prepared = Some((rev.sha.clone(), p));
                    if hard {
                        self.comparer.clear();
                    }
                }
                Err(e) => {
                    // As Argo CD (failedToLoadObjs): the App keeps its live resources, with sync
                    // status Unknown and health from the live objects, and the error as a
                    // condition — never an empty App.
                    let e = format!("render failed: {e}");
                    self.prepared = None;
                    self.set_condition(ConditionKind::ComparisonError, e.clone());
                    self.unrendered = Some(e);
                    self.compare(true).await;
                    return;
                }
            }
        }
        self.compare(true).await;
    }

    /// A finished operation recorded in the cluster that this actor has not seen yet (another
    /// session's, or ours from before a restart) is the last attempt, as Argo CD reads its
    /// `operationState`. Our own record repeats what `OpDone` already set.
    fn take_recorded_attempt(&mut self) {
        let Some(op) = &self.history.operation else {
            return;
        };
        // An interrupted operation (its process stopped; the record never got a result, so no
        // `finishedAt`) is no failed attempt: the next session may run it again.
        let finished = matches!(
            op.phase,
            RecordedPhase::Succeeded | RecordedPhase::Failed | RecordedPhase::Error
        ) && op.finished_at.is_some();
        if !finished || op.dry_run || self.record_seen.as_deref() == Some(op.id.as_str()) {
            return;
        }
        self.record_seen = Some(op.id.clone());
        if op.revision.sha.is_empty() {
            return;
        }
        self.last_attempt = Some(Attempt {
            revision: op.revision.sha.clone(),
            source: op.source.clone(),
            failed: (op.phase != RecordedPhase::Succeeded).then(|| op.message.clone()),
        });
    }

    /// Auto-sync is skipped because the last attempt at `rev` failed (Argo CD: "Skipping
    /// auto-sync: failed previous sync attempt to <rev>", condition `SyncError`). Said once per
    /// revision; the condition stays until an operation ends or the revision changes.
    fn skip_failed_attempt(&mut self, rev: &str, message: &str) {
        self.heal_attempts = 0;
        self.next_heal = None;
        let condition = Condition {
            kind: ConditionKind::SyncError,
            message: format!("Failed sync attempt to {rev}: {message}"),
        };
        self.conditions
            .retain(|c| c.kind != ConditionKind::SyncError);
        self.conditions.push(condition.clone());
        let name = self.app.name.clone();
        self.shared.update(&name, |s| {
            s.conditions.retain(|c| c.kind != ConditionKind::SyncError);
            s.conditions.push(condition);
        });
        if self.skip_noticed.as_deref() != Some(rev) {
            self.skip_noticed = Some(rev.to_string());
            self.shared.app_notice(
                &name,
                NoticeLevel::Warn,
                format!(
                    "{name}: Skipping auto-sync: failed previous sync attempt to {rev}\n  a new commit, a manual sync or a retry policy (syncPolicy.retry) starts again"
                ),
            );
        }
    }

    fn watched_kinds(&self) -> Vec<Gvk> {
        let mut kinds: BTreeSet<Gvk> = self
            .prepared
            .as_ref()
            .map(|(_, p)| p.gvks().into_iter().collect())
            .unwrap_or_default();
        kinds.extend(self.history.inventory.iter().cloned());
        kinds.extend(self.rendered_kinds.iter().cloned());
        kinds.insert(Gvk::new("apps", "v1", "ReplicaSet"));
        kinds.insert(Gvk::new("", "v1", "Pod"));
        kinds.into_iter().collect()
    }

    /// Compare from the cache. `full` waits for watches (after a refresh); otherwise this is a
    /// re-compare triggered by live changes.
    async fn compare(&mut self, full: bool) {
        // Manifests that cannot be generated are compared as "nothing desired": the App's live
        // objects are found all the same (made Unknown below, never extras to prune).
        let desired = self.prepared.clone().or_else(|| {
            self.unrendered
                .as_ref()
                .map(|_| (String::new(), Prepared::default()))
        });
        let (Some(cache), Some((sha, prepared))) = (self.cache.clone(), desired) else {
            if full {
                self.publish(None);
            }
            return;
        };
        let kinds = self.watched_kinds();
        cache.ensure(&kinds);
        if full {
            // Kinds the cluster does not know are reported by prepare; wait for the others.
            let known: Vec<Gvk> = kinds
                .iter()
                .filter(|g| {
                    !prepared
                        .objects
                        .iter()
                        .any(|o| o.kind_pending && &o.gvk == *g)
                })
                .cloned()
                .collect();
            if let Err(e) = cache
                .wait_ready(&known, self.shared.opts.watch_timeout)
                .await
            {
                self.conditions
                    .retain(|c| c.kind != ConditionKind::ClusterError);
                self.set_condition(ConditionKind::ClusterError, e.to_string());
                self.publish(None);
                return;
            }
        } else if let Some(e) = kinds.iter().find_map(|g| cache.error(&g.group, &g.kind)) {
            self.conditions
                .retain(|c| c.kind != ConditionKind::ClusterError);
            self.set_condition(ConditionKind::ClusterError, e.to_string());
            self.publish(self.comparison.clone());
            return;
        } else {
            self.conditions
                .retain(|c| c.kind != ConditionKind::ClusterError);
        }
        let mut cmp = self.comparer.compare(&self.app, &prepared, &cache).await;
        if self.unrendered.is_some() {
            desired_state_unknown(&mut cmp);
        }
        // Argo CD: an App whose live state matches the manifests of the revision compared is
        // Synced *at that revision*, even when no sync ran for it (a commit that did not change
        // this App's manifests). History is not touched.
        if cmp.sync == SyncStatus::Synced {
            // Nothing for auto-sync to do at this revision: later drift at it is self-heal's
            // business (with `selfHeal` off, live changes do not trigger a sync).
            self.auto_synced = Some(sha.clone());
            self.synced = Some(match &self.revision {
                Ok(r) if r.sha == sha => r.clone(),
                _ => Revision {
                    sha: sha.clone(),
                    subject: String::new(),
                },
            });
        }
        self.comparison = Some(cmp.clone());
        self.publish(Some(cmp));
        self.maybe_auto_sync(false).await;
    }

    fn publish(&self, cmp: Option<Comparison>) {
        let name = self.app.name.clone();
        let cluster_name = self
            .cluster
            .as_ref()
            .map(|c| c.name().to_string())
            .unwrap_or_default();
        let (rows, diffs) = match (&cmp, &self.cache) {
            (Some(c), Some(cache)) => rows_and_diffs(c, cache),
            _ => (Vec::new(), Vec::new()),
        };
        let auto = self.auto();
        let last = self.history.last().cloned();
        let mut conditions = self.conditions.clone();
        if let Some(c) = &cmp {
            conditions.extend(c.conditions.iter().cloned());
        }
        if auto.overridden
            && let Some(o) = &self.override_
        {
            conditions.push(Condition {
                kind: ConditionKind::Info,
                message: format!(
                    "auto-sync {} by {} at {} (overrides Git)",
                    if o.enabled { "on" } else { "off" },
                    o.set_by,
                    o.set_at
                ),
            });
        }
        let revision = self.revision.clone().ok();
        let history = self.history.entries.clone();
        let operation_state = self.history.operation.clone();
        let app = self.app.clone();
        let deployed = self.synced.clone().or_else(|| {
            last.as_ref().map(|e| Revision {
                sha: e.revision.clone(),
                subject: e.subject.clone(),
            })
        });
        // Every publish ends a compare attempt (result or error): this App is loaded. Clear the
        // mark *before* the snapshot goes out, or the snapshot of the last App's compare would
        // still say `loading` until something else published.
        if let Ok(mut l) = self.shared.loading.lock() {
            l.remove(&name);
        }
        self.shared.update(&name, move |s| {
            s.app = app;
            s.cluster = cluster_name;
            s.revision = revision;
            s.auto_sync = auto;
            s.deployed = deployed;
            s.last_sync = last.as_ref().map(|e| LastSync {
                time: history::parse_time(&e.deployed_at).unwrap_or(SystemTime::UNIX_EPOCH),
                initiated_by: e.initiated_by.clone(),
                revision: e.revision.clone(),
                succeeded: true,
            });
            s.history = history;
            s.operation_state = operation_state;
            s.conditions = conditions;
            match cmp {
                Some(c) => {
                    s.sync = c.sync;
                    s.health = c.health;
                    s.health_message = c.health_message;
                    s.resources = rows;
                    s.diffs = diffs;
                    s.compared_at = Some(SystemTime::now());
                }
                None => {
                    s.sync = SyncStatus::Unknown;
                }
            }
        });
    }

    /// Auto-sync once per new revision; self-heal drift with backoff.
    async fn maybe_auto_sync(&mut self, fire_heal: bool) {
        if !self.shared.opts.auto_sync || self.op_running || self.shared.opts.readonly {
            return;
        }
        if auto_sync_excluded(&self.shared.opts.auto_sync_exclude, &self.app) {
            return;
        }
        let auto = self.auto();
        if !auto.enabled {
            self.heal_attempts = 0;
            return;
        }
        let (Some(cmp), Ok(rev)) = (&self.comparison, &self.revision) else {
            return;
        };
        if self
            .prepared
            .as_ref()
            .is_some_and(|(_, p)| !p.errors.is_empty())
        {
            return;
        }
        // Extras only count when auto-sync may prune them.
        let needs = cmp.items.iter().any(|i| match i.state {
            ResourceState::OutOfSync | ResourceState::Missing => true,
            ResourceState::Extra => auto.prune,
            _ => false,
        });
        if !needs {
            self.heal_attempts = 0;
            self.next_heal = None;
            return;
        }
        // Argo CD never repeats an automated sync of a revision and source whose last attempt
        // failed (a retry policy retries within the operation): re-running hooks and waves on
        // every poll fixes nothing. A new commit, a manual sync or a changed source start again.
        let failed = self
            .last_attempt
            .as_ref()
            .and_then(|a| a.failed_at(&rev.sha, &source_fingerprint(&self.app)))
            .map(str::to_string);
        if let Some(message) = failed {
            let rev = rev.sha.clone();
            self.skip_failed_attempt(&rev, &message);
            return;
        }
        let new_revision = self.auto_synced.as_deref() != Some(rev.sha.as_str());
        if new_revision {
            self.auto_synced = Some(rev.sha.clone());
            self.start_operation(
                OperationKind::AutoSync,
                SyncOptions {
                    prune: auto.prune,
                    ..SyncOptions::default()
                },
                None,
                None,
            )
            .await;
            return;
        }
        if !auto.self_heal {
            return;
        }
        // Drift at a revision already synced: self-heal with backoff 2s × 3ⁿ, capped at 300s.
        if fire_heal {
            self.heal_attempts += 1;
            self.start_operation(
                OperationKind::SelfHeal,
                SyncOptions {
                    prune: auto.prune,
                    ..SyncOptions::default()
                },
                None,
                None,
            )
            .await;
        } else if self.next_heal.is_none() {
            self.next_heal = Some(tokio::time::Instant::now() + heal_delay(self.heal_attempts));
        }
    }

    async fn start_operation(
        &mut self,
        kind: OperationKind,
        options: SyncOptions,
        history_id: Option<u64>,
        reply: Option<oneshot::Sender<CommandOutcome>>,
    ) {
        let refuse = |reply: Option<oneshot::Sender<CommandOutcome>>, msg: String| {
            if let Some(r) = reply {
                let _ = r.send(CommandOutcome::Refused(msg));
            }
        };
        let (Some(cluster), Some(cache)) = (self.cluster.clone(), self.cache.clone()) else {
            let msg = self
                .conditions
                .iter()
                .find(|c| c.kind == ConditionKind::ClusterError)
                .map(|c| c.message.clone())
                .unwrap_or_else(|| "cluster not connected".into());
            refuse(reply, format!("{}: {msg}", self.app.name));
            return;
        };
        // Rollback: refused while auto-sync is on (Argo CD), unless overridden off.
        let mut target: Option<Revision> = None;
        if kind == OperationKind::Rollback {
            if self.auto().enabled {
                refuse(
                    reply,
                    format!(
                        "rollback of {} refused: auto-sync is on and would undo it at once\n  turn auto-sync off for this app first (UI: a; CLI: sextant app set {} --sync-policy none); the override is stored in the cluster and reversible",
                        self.app.name, self.app.name
                    ),
                );
                return;
            }
            let Some(id) = history_id else {
                refuse(reply, "rollback needs a history id".into());
                return;
            };
            let Some(e) = self.history.find(id) else {
                refuse(
                    reply,
                    format!(
                        "{} has no history entry {id} (ids: {})",
                        self.app.name,
                        self.history
                            .entries
                            .iter()
                            .map(|e| e.id.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                return;
            };
            target = Some(Revision {
                sha: e.revision.clone(),
                subject: e.subject.clone(),
            });
        }
        if let Some(r) = &options.revision {
            match self.shared.opts.repo.resolve(&self.app, r).await {
                Ok(rev) => target = Some(rev),
                Err(e) => {
                    if let Some(rp) = reply {
                        let _ = rp.send(CommandOutcome::Failed(e));
                    }
                    return;
                }
            }
        }
        let current = match &self.revision {
            Ok(r) => r.clone(),
            Err(e) => {
                if target.is_none() {
                    if let Some(rp) = reply {
                        let _ = rp.send(CommandOutcome::Failed(e.clone()));
                    }
                    return;
                }
                Revision::default()
            }
        };
        let revision = target.clone().unwrap_or(current);
        let who = self.shared.opts.user.clone();
        self.op_running = true;
        let name = self.app.name.clone();
        self.shared.update(&name, |s| {
            s.operation = Some(OperationInfo {
                kind,
                initiated_by: who.clone(),
                since: SystemTime::now(),
                phase: "Starting".into(),
                wave: 0,
                done: 0,
                total: 0,
                attempt: 0,
            });
        });
        let ctx = OpContext {
            shared: self.shared.clone(),
            app: self.app.clone(),
            cluster,
            cache,
            kind,
            options,
            revision,
            // A different revision needs its own render and compare.
            reuse: match (&target, &self.prepared, &self.comparison) {
                (None, Some((_, p)), Some(c)) => Some((p.clone(), c.clone())),
                _ => None,
            },
            auto_prune: self.auto().prune,
        };
        let tx = self.tx.clone();
        let (cancel_tx, cancel_rx) = oneshot::channel::<String>();
        self.cancel_op = Some(cancel_tx);
        tokio::spawn(async move {
            let result = ctx.run(cancel_rx).await;
            let _ = ctx
                .shared
                .events
                .send(Event::OperationFinished(result.clone()));
            if let Some(r) = reply {
                let _ = r.send(match result.phase {
                    OperationPhase::Refused => CommandOutcome::Refused(result.message.clone()),
                    _ => CommandOutcome::Operation(result.clone()),
                });
            }
            let _ = tx.send(AppMsg::OpDone(Box::new(result)));
        });
    }
}

/// What Git wants is unknown (the manifests could not be generated): every live object the App
/// tracks is listed with sync status Unknown — neither in sync nor to prune — and the App's sync
/// status is Unknown; health stays that of the live objects (Argo CD's `failedToLoadObjs`).
fn desired_state_unknown(cmp: &mut Comparison) {
    for i in &mut cmp.items {
        i.state = ResourceState::Unknown;
        i.message.clear();
        i.diff.clear();
    }
    cmp.sync = SyncStatus::Unknown;
}

/// What an operation attempted (Argo CD's `operationState.syncResult` with its phase).
#[derive(Debug, Clone, PartialEq)]
struct Attempt {
    revision: String,
    /// [`source_fingerprint`] of the App it ran for; `None` from a record written before
    /// fingerprints were kept (taken as the same source).
    source: Option<String>,
    /// Why it failed; `None` when it succeeded.
    failed: Option<String>,
}

impl Attempt {
    /// Argo CD's `alreadyAttemptedSync` with an unsuccessful phase: the last operation failed at
    /// `revision` with the App's current source, so auto-sync and self-heal must not repeat it.
    fn failed_at(&self, revision: &str, source: &str) -> Option<&str> {
        let same_source = self.source.as_deref().is_none_or(|s| s == source);
        if self.revision == revision && same_source {
            self.failed.as_deref()
        } else {
            None
        }
    }
}

/// Identifies an App's parameters besides the revision (Argo CD compares the App's source with
/// the one of the last sync, `targetRevision` aside): repository, path and the Helm or directory
/// settings. FNV-1a over the source's debug form, so the value stored in the cluster is the same
/// for every build of this version; a format change costs at most one extra automated attempt.
pub fn source_fingerprint(app: &App) -> String {
    let mut source = app.source.clone();
    source.target_revision.clear();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{source:?}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Self-heal backoff: 2s × 3ⁿ, capped at 300s.
pub fn heal_delay(attempts: u32) -> Duration {
    let mut d = Duration::from_secs(2);
    for _ in 0..attempts {
        d = d.saturating_mul(3);
        if d >= Duration::from_secs(300) {
            return Duration::from_secs(300);
        }
    }
    d
}

struct OpContext {
    shared: Arc<Shared>,
    app: App,
    cluster: Arc<dyn Cluster>,
    cache: Arc<LiveCache>,
    kind: OperationKind,
    options: SyncOptions,
    revision: Revision,
    reuse: Option<(Prepared, Comparison)>,
    auto_prune: bool,
}

impl OpContext {
    fn refused(&self, message: String) -> OperationResult {
        OperationResult {
            app: self.app.name.clone(),
            kind: self.kind,
            phase: OperationPhase::Refused,
            revision: self.revision.sha.clone(),
            message,
            resources: Vec::new(),
            dry_run: self.options.dry_run,
            retries: 0,
            history_id: None,
            diffs: Vec::new(),
        }
    }

    fn failed(&self, message: String) -> OperationResult {
        OperationResult {
            phase: OperationPhase::Failed,
            ..self.refused(message)
        }
    }

    /// The operation cannot start: no manifests to sync (Argo CD's `Error` phase).
    fn error(&self, message: String) -> OperationResult {
        OperationResult {
            phase: OperationPhase::Error,
            ..self.refused(message)
        }
    }

    async fn run(&self, cancel: oneshot::Receiver<String>) -> OperationResult {
        let what = match self.kind {
            OperationKind::Rollback => "rollback",
            OperationKind::AutoSync => "auto-sync",
            OperationKind::SelfHeal => "self-heal",
            OperationKind::Sync => "sync",
        };
        let user = self.shared.opts.user.clone();
        let lock = match lock::acquire(self.cluster.clone(), &self.app.name, &user, what).await {
            Ok(l) => l,
            Err(lock::LockError::Held {
                holder,
                since,
                silent_secs: None,
            }) => {
                return self.refused(format!(
                    "{}: sync in progress by {holder} since {since}",
                    self.app.name
                ));
            }
            // The holder stopped renewing: say so, and when the lease frees up.
            Err(e @ lock::LockError::Held { .. }) => {
                return self.refused(format!("{}: {e}", self.app.name));
            }
            Err(lock::LockError::Cluster(e)) => {
                return self.failed(format!("{}: {e}", self.app.name));
            }
        };
        // The operation record every operator sees (`app get --show-operation`): Running now,
        // the result at the end, also on failure.
        let mut record = history::operation_starting(
            lock.identity(),
            self.kind,
            &user,
            &self.revision,
            &self.options,
            &self.app.sync_policy.sync_options,
        );
        record.source = Some(source_fingerprint(&self.app));
        if let Err(e) =
            history::store_operation_start(self.cluster.as_ref(), &self.app.name, &record).await
        {
            tracing::warn!(app = %self.app.name, "operation record not written: {e}");
        }
        // Abandoned (the operator quits and says so): stop here; the record and the lease are
        // settled below like for any other end. A dropped sender is no abandonment.
        let abandoned = async {
            match cancel.await {
                Ok(who) => who,
                Err(_) => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            r = self.run_locked() => r,
            who = abandoned => self.failed(format!(
                "abandoned by {who} before it finished (the session quit); what it applied stays as it is"
            )),
        };
        if let Err(e) = history::finish_operation_record(
            self.cluster.clone(),
            &self.app.name,
            history::operation_finished(&record, &result),
        )
        .await
        {
            tracing::warn!(app = %self.app.name, "operation result not recorded: {e}");
        }
        if let Err(e) = lock.release().await {
            self.shared.app_notice(
                &self.app.name,
                NoticeLevel::Warn,
                format!(
                    "{}: could not release the operation lease ({e}); it expires in {}s",
                    self.app.name,
                    lock::LEASE_SECONDS
                ),
            );
        }
        result
    }

    async fn run_locked(&self) -> OperationResult {
        let (prepared, comparison) = match &self.reuse {
            Some((p, c)) => (p.clone(), c.clone()),
            None => {
                let objs = match self
                    .shared
                    .opts
                    .repo
                    .render(&self.app, &self.revision.sha)
                    .await
                {
                    Ok(o) => o,
                    Err(e) => return self.error(format!("render failed: {e}")),
                };
                let p = prepare(&self.app, objs, self.cluster.as_ref()).await;
                self.cache.ensure(&p.gvks());
                if let Err(e) = self
                    .cache
                    .wait_ready(&p.gvks(), self.shared.opts.watch_timeout)
                    .await
                {
                    return self.failed(e.to_string());
                }
                let c = Comparer::new().compare(&self.app, &p, &self.cache).await;
                (p, c)
            }
        };
        let prune = self.options.prune
            || (matches!(self.kind, OperationKind::AutoSync | OperationKind::SelfHeal)
                && self.auto_prune);
        let req = SyncRequest {
            app: &self.app,
            kind: self.kind,
            revision: self.revision.sha.clone(),
            prepared: &prepared,
            comparison: &comparison,
            options: &self.options,
            prune,
            cache: &self.cache,
            events: &self.shared.events,
            // 0: wait without limit, as Argo CD does.
            wave_timeout: match self.shared.opts.reconcile.wave_timeout_secs {
                0 => None,
                secs => Some(Duration::from_secs(secs)),
            },
        };
        let run = sync::run(&req);
        let mut result = match self.options.timeout {
            Some(t) => match tokio::time::timeout(t, run).await {
                Ok(r) => r,
                Err(_) => return self.failed(format!("operation timed out after {t:?}")),
            },
            None => run.await,
        };
        if self.options.dry_run {
            result.diffs = dry_run_diffs(&comparison, &result.resources);
        }
        let full = self.options.resources.is_empty();
        if result.phase == OperationPhase::Succeeded && !self.options.dry_run && full {
            let inventory: Vec<Gvk> = prepared
                .objects
                .iter()
                .filter(|o| !o.hook)
                .map(|o| o.gvk.clone())
                .collect();
            match history::record(
                self.cluster.as_ref(),
                &self.app.name,
                NewEntry {
                    revision: self.revision.sha.clone(),
                    subject: self.revision.subject.clone(),
                    initiated_by: match self.kind {
                        OperationKind::AutoSync | OperationKind::SelfHeal => {
                            format!("{} (auto)", self.shared.opts.user)
                        }
                        _ => self.shared.opts.user.clone(),
                    },
                    source: source_description(&self.app),
                },
                self.app.revision_history_limit,
                &inventory,
            )
            .await
            {
                Ok(id) => result.history_id = Some(id),
                Err(e) => {
                    result.message =
                        format!("{}; but history was not recorded: {e}", result.message)
                }
            }
        }
        result
    }
}

/// The compare's diffs of the resources a dry run reports it would create, change or prune.
fn dry_run_diffs(
    comparison: &Comparison,
    results: &[crate::engine::api::ResourceResult],
) -> Vec<crate::engine::api::ResourceDiff> {
    use crate::engine::api::{ResourceDiff, ResultCode};
    results
        .iter()
        .filter(|r| {
            matches!(
                r.code,
                ResultCode::WouldCreate | ResultCode::WouldConfigure | ResultCode::WouldPrune
            )
        })
        .filter_map(|r| {
            let item = comparison.item(&r.key)?;
            Some(ResourceDiff {
                key: item.key.clone(),
                state: item.state,
                unified: item.diff.clone(),
            })
        })
        .collect()
}

fn source_description(app: &App) -> String {
    let mut s = format!("{} {}", app.source.repo_url, app.source.path);
    if let SourceKind::Helm(h) = &app.source.kind
        && !h.value_files.is_empty()
    {
        s.push_str(&format!(" (values: {})", h.value_files.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heal_backoff() {
        assert_eq!(heal_delay(0), Duration::from_secs(2));
        assert_eq!(heal_delay(1), Duration::from_secs(6));
        assert_eq!(heal_delay(2), Duration::from_secs(18));
        assert_eq!(heal_delay(10), Duration::from_secs(300));
    }

    #[test]
    fn user_has_host() {
        assert!(default_user().contains('@'));
    }

    use crate::app::{AppSource, Destination, DirectorySource, SyncPolicy};
    use crate::cluster::SingleCluster;
    use crate::cluster::sandbox::SandboxCluster;
    use crate::engine::static_repo::StaticRepo;
    use serde_json::json;

    fn sandbox_app(name: &str, ns: &str) -> App {
        App {
            name: name.into(),
            env: name.into(),
            project: "default".into(),
            origin: "test".into(),
            source: AppSource {
                repo_url: "memory".into(),
                path: "manifests".into(),
                target_revision: "HEAD".into(),
                kind: SourceKind::Directory(DirectorySource::default()),
            },
            destination: Destination {
                server: None,
                name: None,
                namespace: ns.into(),
            },
            sync_policy: SyncPolicy {
                automated: None,
                sync_options: vec!["CreateNamespace=true".into()],
                retry: None,
            },
            revision_history_limit: 10,
            ignore_differences: vec![],
        }
    }

    fn cm(value: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
            "data": {"k": value}})
    }

    fn sandbox_engine(repo: Arc<StaticRepo>) -> EngineHandle {
        sandbox_engine_with(repo).0
    }

    fn sandbox_engine_with(repo: Arc<StaticRepo>) -> (EngineHandle, SandboxCluster) {
        let sb = SandboxCluster::default();
        sb.start();
        let cluster: Arc<dyn Cluster> = Arc::new(sb.clone());
        let mut opts = EngineOptions::new(repo, Arc::new(SingleCluster(cluster)));
        opts.poll = false;
        opts.user = "unit@test".into();
        (start(opts), sb)
    }

    /// The first snapshot satisfying `pred` (panics with the last one after 20 s).
    async fn wait_snap(h: &EngineHandle, what: &str, pred: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let mut rx = h.state.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let snap = rx.borrow_and_update().clone();
            if pred(&snap) {
                return snap;
            }
            let now = tokio::time::Instant::now();
            assert!(now < deadline, "timed out waiting for {what}: {snap:#?}");
            let _ = tokio::time::timeout(deadline - now, rx.changed()).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_snapshot_with_the_last_compare_is_no_longer_loading() {
        let repo = Arc::new(StaticRepo::new());
        repo.set_app(sandbox_app("one", "ns-one"));
        repo.commit("one", "1111111", "initial", vec![cm("a")]);
        let h = sandbox_engine(repo);
        // Nothing publishes after this App's compare (no auto-sync, no live changes): the
        // snapshot that carries the compare must itself say loading is over.
        let snap = wait_snap(&h, "first compare", |s| {
            s.app("one").is_some_and(|a| a.compared_at.is_some())
        })
        .await;
        assert!(!snap.loading, "compare published while still loading");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drift_at_a_revision_synced_without_a_sync_is_left_to_self_heal() {
        let repo = Arc::new(StaticRepo::new());
        let mut app = sandbox_app("drift", "ns-drift");
        app.sync_policy.automated = Some(crate::app::Automated {
            prune: false,
            self_heal: false,
            allow_empty: false,
        });
        let web = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "main", "image": "example.test/web:1"}]}}}});
        repo.set_app(app);
        repo.commit("drift", "aaaaaaa1", "v1", vec![web.clone()]);
        let (h, sb) = sandbox_engine_with(repo.clone());
        wait_snap(&h, "auto-synced v1", |s| {
            s.app("drift")
                .is_some_and(|a| a.sync == SyncStatus::Synced && a.history.len() == 1)
        })
        .await;
        repo.commit("drift", "bbbbbbb2", "elsewhere", vec![web]);
        h.call(Command::Refresh {
            app: None,
            hard: true,
        })
        .await;
        wait_snap(&h, "Synced at v2", |s| {
            s.app("drift").is_some_and(|a| {
                a.sync == SyncStatus::Synced
                    && a.revision.as_ref().is_some_and(|r| r.sha == "bbbbbbb2")
            })
        })
        .await;
        let mut events = h.subscribe();
        sb.manual_change(Some("ns-drift")).expect("manual scale");
        wait_snap(&h, "drift seen", |s| {
            s.app("drift")
                .is_some_and(|a| a.sync == SyncStatus::OutOfSync)
        })
        .await;
        // selfHeal is off: the drift stays (auto-sync owes nothing at v2, already in sync).
        let quiet = tokio::time::timeout(Duration::from_millis(1500), async {
            loop {
                match events.recv().await {
                    Ok(Event::OperationStarted { app, kind, .. }) if app == "drift" => {
                        return kind;
                    }
                    Ok(_) => {}
                    Err(_) => std::future::pending::<()>().await,
                }
            }
        })
        .await;
        assert!(quiet.is_err(), "an operation started: {quiet:?}");
        assert_eq!(h.snapshot().app("drift").map(|a| a.history.len()), Some(1));
        // Turning selfHeal on reverts it (2 s backoff), recorded as an automated sync.
        let out = h
            .call(Command::SetAutoSync {
                app: "drift".into(),
                enabled: Some(true),
                self_heal: Some(true),
                prune: None,
            })
            .await;
        assert_eq!(out, CommandOutcome::Done);
        let snap = wait_snap(&h, "self-healed", |s| {
            s.app("drift")
                .is_some_and(|a| a.sync == SyncStatus::Synced && a.history.len() == 2)
        })
        .await;
        let a = snap.app("drift").expect("drift");
        assert_eq!(a.history[1].revision, "bbbbbbb2");
        assert!(
            a.history[1].initiated_by.ends_with("(auto)"),
            "{:?}",
            a.history
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_that_leaves_the_manifests_unchanged_is_synced_at_the_new_revision() {
        let repo = Arc::new(StaticRepo::new());
        repo.set_app(sandbox_app("web", "ns-web"));
        repo.commit("web", "aaaaaaa1", "v1", vec![cm("one")]);
        let h = sandbox_engine(repo.clone());
        wait_snap(&h, "first compare", |s| {
            s.app("web").is_some_and(|a| a.compared_at.is_some())
        })
        .await;
        let out = h
            .call(Command::Sync {
                app: "web".into(),
                options: SyncOptions::default(),
            })
            .await;
        assert!(
            matches!(&out, CommandOutcome::Operation(r) if r.phase == OperationPhase::Succeeded),
            "{out:?}"
        );
        wait_snap(&h, "synced at v1", |s| {
            s.app("web").is_some_and(|a| {
                a.sync == SyncStatus::Synced
                    && a.deployed.as_ref().is_some_and(|d| d.sha == "aaaaaaa1")
            })
        })
        .await;

        // A commit elsewhere in the repository: this App's manifests are identical.
        repo.commit("web", "bbbbbbb2", "touch another env", vec![cm("one")]);
        h.call(Command::Refresh {
            app: None,
            hard: true,
        })
        .await;
        let snap = wait_snap(&h, "compared at v2", |s| {
            s.app("web")
                .is_some_and(|a| a.revision.as_ref().is_some_and(|r| r.sha == "bbbbbbb2"))
                && s.app("web").is_some_and(|a| a.sync == SyncStatus::Synced)
        })
        .await;
        let a = snap.app("web").expect("web");
        // Synced at the new revision: deployed == target, no `old→new`.
        assert_eq!(
            a.deployed.as_ref().map(|d| d.sha.as_str()),
            Some("bbbbbbb2")
        );
        assert_eq!(
            a.deployed.as_ref().map(|d| d.subject.as_str()),
            Some("touch another env")
        );
        // History unchanged: one sync, of v1.
        assert_eq!(a.history.len(), 1);
        assert_eq!(a.history[0].revision, "aaaaaaa1");
        assert_eq!(
            a.last_sync.as_ref().map(|l| l.revision.as_str()),
            Some("aaaaaaa1")
        );

        // A commit that does change the manifests: OutOfSync, and deployed stays at the newest
        // revision the live state matches.
        repo.commit("web", "ccccccc3", "change", vec![cm("two")]);
        h.call(Command::Refresh {
            app: None,
            hard: true,
        })
        .await;
        let snap = wait_snap(&h, "OutOfSync at v3", |s| {
            s.app("web").is_some_and(|a| {
                a.revision.as_ref().is_some_and(|r| r.sha == "ccccccc3")
                    && a.sync == SyncStatus::OutOfSync
            })
        })
        .await;
        let a = snap.app("web").expect("web");
        assert_eq!(
            a.deployed.as_ref().map(|d| d.sha.as_str()),
            Some("bbbbbbb2")
        );
        assert_eq!(a.history.len(), 1);

        // Syncing it records history and deploys v3.
        let out = h
            .call(Command::Sync {
                app: "web".into(),
                options: SyncOptions::default(),
            })
            .await;
        assert!(
            matches!(&out, CommandOutcome::Operation(r) if r.phase == OperationPhase::Succeeded),
            "{out:?}"
        );
        let snap = wait_snap(&h, "synced at v3", |s| {
            s.app("web")
                .is_some_and(|a| a.sync == SyncStatus::Synced && a.history.len() == 2)
        })
        .await;
        let a = snap.app("web").expect("web");
        assert_eq!(
            a.deployed.as_ref().map(|d| d.sha.as_str()),
            Some("ccccccc3")
        );
        assert_eq!(a.history[1].revision, "ccccccc3");
    }
}
