//! The UI's pure state machine: `update(&mut State, Action) -> Vec<Effect>`. Nothing here does
//! I/O; the event loop in `ui::run` turns effects into engine commands and feeds results back as
//! actions, which is what makes every screen testable from hand-built snapshots.
//!
//! Over 600 lines: to be split by feature into `app`, `model/`, `input/` and one file per dialog (issue 16).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::engine::api::{
    AppState, Command, CommandOutcome, Event, HistoryEntry, NoticeLevel, OperationKind,
    OperationPhase, OperationResult, PodEvent, PromoteRequest, ResourceResult, ResourceRow,
    Snapshot, SyncOptions,
};
use crate::resource::ResourceKey;

use super::keymap::{Key, KeyAction, Keymap};
use super::theme::Theme;

/// How many log lines the log pane keeps.
const LOG_LIMIT: usize = 1000;

/// A line repeating one of the last few within this long is not logged again.
const LOG_REPEAT_WINDOW: Duration = Duration::from_secs(10);

/// An extra key offered by the embedding program (the demo's "manual change").
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraKey {
    pub key: Key,
    pub description: String,
}

/// Settings fixed for a UI session.
#[derive(Debug, Clone)]
pub struct UiOptions {
    pub readonly: bool,
    /// Environments (env label or App name) that need the name typed to confirm.
    pub protected_envs: Vec<String>,
    pub theme: Theme,
    pub keymap: Keymap,
    pub extras: Vec<ExtraKey>,
    /// Shown in the header, e.g. `sextant` or `sextant demo`.
    pub title: String,
    /// Whether the embedder can preview promotions (value keys and file diff).
    pub promote_preview: bool,
    /// What this session's engine does on its own, said on the status line.
    pub session_sync: SessionSync,
}

/// Whether the engine behind this UI session auto-syncs, for the status line: an operator must
/// know whether keeping the console open changes the cluster.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SessionSync {
    /// Nothing said (embedders and tests that do not describe their engine).
    #[default]
    Unstated,
    /// `[reconcile] in_ui = false`: reconciling is left to `sextant reconcile` (or Argo CD).
    External,
    /// The engine auto-syncs and self-heals the Apps whose policy says so, except the Apps of
    /// these environments (env label or App name): protected ones without `--yes`.
    Auto { exclude: Vec<String> },
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            readonly: false,
            protected_envs: vec!["prod".into()],
            theme: Theme::dark(super::theme::UNICODE),
            keymap: Keymap::default(),
            extras: Vec::new(),
            title: "sextant".into(),
            promote_preview: true,
            session_sync: SessionSync::Unstated,
        }
    }
}

/// One changed values key of a promotion.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueChange {
    /// Dotted path, e.g. `image.tag`.
    pub key: String,
    /// YAML of the value in the source env's file (`None`: absent).
    pub source: Option<String>,
    /// YAML of the value in the target env's file (`None`: absent).
    pub target: Option<String>,
}

/// What a promotion would change, computed by the embedder (from the repository) for the UI.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromotePreview {
    /// Repository path of the target values file.
    pub file: String,
    /// Every key that differs between the two envs.
    pub changes: Vec<ValueChange>,
    /// Unified diff of the target file for the requested keys.
    pub diff: String,
}

/// Inputs to the state machine.
#[derive(Debug)]
pub enum Action {
    Key(KeyEvent),
    Snapshot(Snapshot),
    Event(Event),
    Tick(SystemTime),
    Outcome {
        tag: u64,
        outcome: CommandOutcome,
    },
    PromotePreview {
        tag: u64,
        result: Result<PromotePreview, String>,
    },
}

/// Work for the event loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send without waiting.
    Send(Command),
    /// Send and report the outcome back as `Action::Outcome { tag }`.
    Call { tag: u64, command: Command },
    /// Ask the embedder for a promotion preview, reported as `Action::PromotePreview { tag }`.
    PromotePreview { tag: u64, request: PromoteRequest },
    /// Run the embedder's extra key handler.
    Extra(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Apps,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Resources,
    Diff,
    History,
    Pods,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Resources, Pane::Diff, Pane::History, Pane::Pods];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Resources => "Resources",
            Pane::Diff => "Diff",
            Pane::History => "History",
            Pane::Pods => "Pods",
        }
    }

    fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// A one-line text input at the bottom (filter, palette, diff search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Filter(String),
    Palette(String),
    Search(String),
}

/// A log pane line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at: SystemTime,
    pub level: NoticeLevel,
    pub text: String,
}

/// The status line message.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub level: NoticeLevel,
    pub text: String,
    pub at: SystemTime,
    /// The App the message is about: it is not shown on another App's screen.
    pub app: Option<String>,
}

/// Live view of one App's operation, built from engine events.
#[derive(Debug, Clone, PartialEq)]
pub struct OpView {
    pub kind: OperationKind,
    pub revision: String,
    pub phase: String,
    pub wave: i64,
    pub done: usize,
    pub total: usize,
    pub message: String,
    pub results: Vec<ResourceResult>,
    pub retrying: Option<String>,
    pub finished: Option<OperationResult>,
}

/// The Detail screen's cursors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detail {
    pub app: String,
    pub pane: Option<Pane>,
    pub res_sel: usize,
    pub diff_sel: usize,
    pub diff_scroll: usize,
    pub search: String,
    /// Current match: (resource index in the diff list, line index in its display lines).
    pub match_at: Option<(usize, usize)>,
    pub hist_sel: usize,
    pub pod_sel: usize,
}

impl Detail {
    pub fn pane(&self) -> Pane {
        self.pane.unwrap_or(Pane::Resources)
    }
}

/// Focusable rows of a dialog, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Option(usize),
    Input,
    Editor,
    Cancel,
    Confirm,
}

/// Confirmation buttons plus the typed-name requirement of protected environments.
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    /// The env name to type, when protected.
    pub expect: Option<String>,
    pub typed: String,
    pub confirm_label: String,
    /// Why the last confirm was refused.
    pub error: Option<String>,
}

impl Guard {
    fn new(opts: &UiOptions, app: &AppState, confirm_label: &str) -> Self {
        Self::for_env(opts, &app.app.env, &app.app.name, confirm_label)
    }

    fn for_env(opts: &UiOptions, env: &str, name: &str, confirm_label: &str) -> Self {
        let protected = opts.protected_envs.iter().any(|p| p == env || p == name);
        Self {
            expect: protected.then(|| env.to_string()),
            typed: String::new(),
            confirm_label: confirm_label.into(),
            error: None,
        }
    }

    /// Whether confirming is allowed now; sets `error` when not.
    fn check(&mut self) -> bool {
        match &self.expect {
            Some(env) if self.typed.trim() != env => {
                self.error = Some(format!(
                    "{env} is a protected environment: type {env:?} to confirm"
                ));
                false
            }
            _ => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncDialog {
    pub app: String,
    /// prune, dry-run, force, apply-out-of-sync-only.
    pub flags: [bool; 4],
    pub focus: Focus,
    pub guard: Guard,
}

pub const SYNC_FLAGS: [(&str, &str); 4] = [
    ("prune", "delete resources no longer in Git"),
    ("dry-run", "server dry-run only, change nothing"),
    ("force", "take over conflicting fields"),
    ("apply out-of-sync only", "skip resources already synced"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct ProgressDialog {
    pub app: String,
    pub kind: OperationKind,
    pub tag: u64,
    pub dry_run: bool,
    /// The command's outcome once it returned.
    pub outcome: Option<CommandOutcome>,
    pub scroll: usize,
}

// One dialog exists at a time, so the size of the largest step does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackStep {
    Pick {
        sel: usize,
    },
    /// Auto-sync is on: explain and offer to turn it off.
    AutoSyncOn {
        entry: u64,
        focus: Focus,
    },
    Review {
        entry: u64,
        tag: u64,
        preview: Option<CommandOutcome>,
        focus: Focus,
        guard: Guard,
        /// First line of the preview's diff shown (pgup/pgdn).
        scroll: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RollbackDialog {
    pub app: String,
    pub step: RollbackStep,
}

#[derive(Debug)]
pub enum PromoteStep {
    Envs {
        envs: Vec<String>,
        source: usize,
        target: usize,
        /// 0: source column, 1: target column.
        column: usize,
    },
    Keys {
        tag: u64,
        preview: Option<Result<PromotePreview, String>>,
        picked: Vec<bool>,
        sel: usize,
    },
    Review {
        tag: u64,
        keys: Vec<String>,
        preview: Option<Result<PromotePreview, String>>,
        scroll: usize,
    },
    Message {
        keys: Vec<String>,
        editor: Box<TextArea<'static>>,
        focus: Focus,
        guard: Guard,
    },
    Committing {
        tag: u64,
        keys: Vec<String>,
        outcome: Option<CommandOutcome>,
    },
}

#[derive(Debug)]
pub struct PromoteDialog {
    pub source: String,
    pub target: String,
    pub step: PromoteStep,
    /// The steps before this one, for Esc (one step back).
    pub back: Vec<PromoteStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmDialog {
    pub title: String,
    pub lines: Vec<String>,
    pub focus: Focus,
    pub guard: Guard,
    pub effects: Vec<Effect>,
    pub done_message: String,
}

/// Asked when quitting while this session runs operations: wait for them, leave them (the
/// process ends; their leases expire and the next session reports them interrupted), or
/// abandon them (stopped, recorded as failed, leases released).
#[derive(Debug, Clone, PartialEq)]
pub struct QuitDialog {
    /// Apps whose operation this session runs.
    pub apps: Vec<String>,
    /// Quit as soon as no operation runs ("wait", or "abandon" once it took effect).
    pub waiting: bool,
    /// "abandon" was chosen.
    pub abandoning: bool,
}

#[derive(Debug)]
pub enum Dialog {
    Sync(SyncDialog),
    Progress(ProgressDialog),
    Rollback(RollbackDialog),
    Promote(Box<PromoteDialog>),
    Confirm(ConfirmDialog),
    Quit(QuitDialog),
}

/// One row of the Apps table: a group header (when Apps come from several sources) or an App.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppRow {
    Group(usize),
    App(usize),
}

/// Resource keys → positions in a slice of rows, for the owner tree's owner lookups. Open
/// addressing over an FxHash-style hash of the key's four strings: with 10,000 resources a std
/// `HashMap<&ResourceKey, usize>` (SipHash through the generic `Hash` plumbing) was half of the
/// work done when a new snapshot of the open App arrived. No HashDoS resistance is needed: the
/// keys are the user's own resources, and an unlucky set only slows this index down.
pub struct KeyIndex<'a> {
    rows: &'a [ResourceRow],
    /// (hash, row index); `usize::MAX` marks an empty slot. The length is a power of two.
    slots: Vec<(u64, usize)>,
}

impl<'a> KeyIndex<'a> {
    const EMPTY: usize = usize::MAX;

    /// Index every row's key; a duplicated key resolves to its last row.
    pub fn new(rows: &'a [ResourceRow]) -> Self {
        let len = (rows.len() * 2).next_power_of_two().max(8);
        let mut slots = vec![(0u64, Self::EMPTY); len];
        let mask = len - 1;
        for (i, r) in rows.iter().enumerate() {
            let h = key_hash(&r.key);
            let mut pos = (h as usize) & mask;
            loop {
                let (sh, si) = slots[pos];
                if si == Self::EMPTY || (sh == h && rows[si].key == r.key) {
                    slots[pos] = (h, i);
                    break;
                }
                pos = (pos + 1) & mask;
            }
        }
        Self { rows, slots }
    }

    pub fn get(&self, key: &ResourceKey) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let h = key_hash(key);
        let mut pos = (h as usize) & mask;
        loop {
            let (sh, si) = self.slots[pos];
            if si == Self::EMPTY {
                return None;
            }
            if sh == h && self.rows[si].key == *key {
                return Some(si);
            }
            pos = (pos + 1) & mask;
        }
    }
}

/// FxHash's mixing over the key's fields, eight bytes at a time, each field's length included
/// so `("ab", "c")` and `("a", "bc")` differ.
fn key_hash(k: &ResourceKey) -> u64 {
    #[inline]
    fn mix(h: u64, word: u64) -> u64 {
        (h.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
    }
    let mut h = 0u64;
    for field in [&k.group, &k.kind, &k.namespace, &k.name] {
        let bytes = field.as_bytes();
        h = mix(h, bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = mix(
                h,
                u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or_default()),
            );
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            for (k, b) in rest.iter().enumerate() {
                w[k] = *b;
            }
            h = mix(h, u64::from_le_bytes(w));
        }
    }
    // Spread the high bits into the low ones the table indexes with.
    h ^ (h >> 29)
}

/// Per-App views derived from a snapshot (owner tree, pods), computed once per snapshot rather
/// than once per frame: with 10,000 resources that is the difference between 1 ms and 100 ms.
#[derive(Debug, Default)]
pub struct Views {
    /// The owner tree, depth-first.
    pub tree: Vec<super::view::TreeNode>,
    /// Each resource's owner among the App's resources.
    pub parent: Vec<Option<usize>>,
    /// Indices of the pods, by name.
    pub pods: Vec<usize>,
}

#[derive(Debug)]
struct DiffMemo {
    generation: u64,
    app: String,
    idx: usize,
    lines: Rc<Vec<DiffLine>>,
}

#[derive(Debug)]
struct ViewsMemo {
    generation: u64,
    app: String,
    views: Rc<Views>,
}

/// Everything the UI shows.
#[derive(Debug)]
pub struct State {
    pub opts: UiOptions,
    pub snapshot: Snapshot,
    pub now: SystemTime,
    pub screen: Screen,
    /// The selected App on the Apps screen, by name so it survives re-sorting.
    pub selected: Option<String>,
    pub filter: String,
    pub input: Option<Input>,
    pub detail: Detail,
    pub dialog: Option<Dialog>,
    pub help: bool,
    /// First line of the help shown (it scrolls when taller than the screen).
    pub help_scroll: usize,
    /// The palette's Tab completions when several remain.
    pub palette_candidates: Vec<String>,
    pub show_log: bool,
    pub log: VecDeque<LogLine>,
    pub status: Option<Status>,
    pub ops: BTreeMap<String, OpView>,
    pub quit: bool,
    pub tick: u64,
    next_tag: u64,
    seen_notices: HashSet<(SystemTime, String)>,
    /// Bumped on every new snapshot (invalidates `memo`).
    generation: u64,
    memo: RefCell<Option<ViewsMemo>>,
    /// The last folded diff (see `diff_lines`).
    diff_memo: RefCell<Option<DiffMemo>>,
    /// The Pods pane's selected pod's events (asked for by `update`, answered by the engine).
    pub pod_events: Option<PodEventsView>,
}

impl State {
    pub fn new(opts: UiOptions, snapshot: Snapshot, now: SystemTime) -> Self {
        let mut s = Self {
            opts,
            snapshot: Snapshot::default(),
            now,
            screen: Screen::Apps,
            selected: None,
            filter: String::new(),
            input: None,
            detail: Detail::default(),
            dialog: None,
            help: false,
            help_scroll: 0,
            palette_candidates: Vec::new(),
            show_log: false,
            log: VecDeque::new(),
            status: None,
            ops: BTreeMap::new(),
            quit: false,
            tick: 0,
            next_tag: 1,
            seen_notices: HashSet::new(),
            generation: 0,
            memo: RefCell::new(None),
            diff_memo: RefCell::new(None),
            pod_events: None,
        };
        s.set_snapshot(snapshot);
        s
    }

    fn tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    pub fn app(&self, name: &str) -> Option<&AppState> {
        self.snapshot.app(name)
    }

    /// The App the current screen is about (detail) or the selected row (apps). On the Apps
    /// screen only a row the filter shows counts: an action never goes to a hidden App.
    pub fn current_app(&self) -> Option<&AppState> {
        match self.screen {
            Screen::Detail => self.app(&self.detail.app),
            Screen::Apps => {
                let name = self.selected.as_deref()?;
                self.visible_apps()
                    .into_iter()
                    .map(|i| &self.snapshot.apps[i])
                    .find(|a| a.app.name == name)
            }
        }
    }

    /// Keep the cursor on a visible row: when the filter (or a new snapshot) hides the selected
    /// App, the first visible one is selected, and none when nothing matches.
    fn keep_selection_visible(&mut self) {
        let visible = self.visible_apps();
        let keep = self
            .selected
            .as_deref()
            .is_some_and(|n| visible.iter().any(|i| self.snapshot.apps[*i].app.name == n));
        if !keep {
            self.selected = visible
                .first()
                .map(|i| self.snapshot.apps[*i].app.name.clone());
        }
    }

    /// Apps matching the filter, grouped by origin when there are several origins.
    pub fn app_rows(&self) -> (Vec<AppRow>, Vec<String>) {
        let f = self.filter.to_lowercase();
        let mut by_group: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, a) in self.snapshot.apps.iter().enumerate() {
            if f.is_empty() || app_matches(a, &f) {
                by_group.entry(a.app.origin.as_str()).or_default().push(i);
            }
        }
        let distinct_origins: HashSet<&str> = self
            .snapshot
            .apps
            .iter()
            .map(|a| a.app.origin.as_str())
            .collect();
        let grouped = distinct_origins.len() > 1;
        let mut rows = Vec::new();
        let mut groups = Vec::new();
        for (origin, mut idx) in by_group {
            idx.sort_by(|a, b| app_order(&self.snapshot.apps[*a], &self.snapshot.apps[*b]));
            if grouped {
                rows.push(AppRow::Group(groups.len()));
                groups.push(if origin.is_empty() {
                    "(config)".to_string()
                } else {
                    origin.to_string()
                });
            }
            rows.extend(idx.into_iter().map(AppRow::App));
        }
        (rows, groups)
    }

    /// App indices in display order.
    pub fn visible_apps(&self) -> Vec<usize> {
        self.app_rows()
            .0
            .into_iter()
            .filter_map(|r| match r {
                AppRow::App(i) => Some(i),
                AppRow::Group(_) => None,
            })
            .collect()
    }

    fn selected_pos(&self, visible: &[usize]) -> usize {
        self.selected
            .as_deref()
            .and_then(|n| {
                visible
                    .iter()
                    .position(|i| self.snapshot.apps[*i].app.name == n)
            })
            .unwrap_or(0)
    }

    /// The derived views of `app` for the current snapshot (memoised).
    pub fn views(&self, app: &AppState) -> Rc<Views> {
        if let Some(m) = self.memo.borrow().as_ref()
            && m.generation == self.generation
            && m.app == app.app.name
        {
            return m.views.clone();
        }
        let views = Rc::new(super::view::build_views(app));
        *self.memo.borrow_mut() = Some(ViewsMemo {
            generation: self.generation,
            app: app.app.name.clone(),
            views: views.clone(),
        });
        views
    }

    fn set_snapshot(&mut self, snapshot: Snapshot) {
        // Most snapshots only change statuses: when the open App's resources kept their keys
        // and owners (all `view::build_views` reads), its views carry over to the new
        // generation instead of being rebuilt (most of the work for 10,000 resources).
        let carry = self.memo.borrow().as_ref().is_some_and(|m| {
            m.generation == self.generation
                && match (self.snapshot.app(&m.app), snapshot.app(&m.app)) {
                    (Some(old), Some(new)) => same_structure(old, new),
                    _ => false,
                }
        });
        self.generation += 1;
        if carry && let Some(m) = self.memo.get_mut().as_mut() {
            m.generation = self.generation;
        }
        for n in &snapshot.notices {
            let key = (n.at, n.message.clone());
            if self.seen_notices.insert(key) {
                self.push_log(n.level, n.message.clone(), n.at);
                if n.level != NoticeLevel::Info {
                    self.status = Some(Status {
                        level: n.level,
                        text: n.message.clone(),
                        at: n.at,
                        app: n.app.clone(),
                    });
                }
            }
        }
        self.log_new_errors(&snapshot);
        if let Some(e) = &snapshot.repo.error
            && self.snapshot.repo.error.as_ref() != Some(e)
        {
            self.set_status(NoticeLevel::Error, format!("repository: {e}"));
        }
        retire(std::mem::replace(&mut self.snapshot, snapshot));
        self.keep_selection_visible();
    }

    /// An App's new error goes to the log whole, one log line per line of the message: the
    /// table shows a one-line summary and the header a few lines, the log keeps every word.
    fn log_new_errors(&mut self, snapshot: &Snapshot) {
        use crate::engine::api::ConditionKind;
        for a in &snapshot.apps {
            for c in &a.conditions {
                let error = matches!(
                    c.kind,
                    ConditionKind::ComparisonError
                        | ConditionKind::ClusterError
                        | ConditionKind::SyncError
                );
                let known = || {
                    self.snapshot
                        .app(&a.app.name)
                        .is_some_and(|old| old.conditions.contains(c))
                };
                if !error || known() {
                    continue;
                }
                for (i, line) in c.message.lines().enumerate() {
                    let text = if i == 0 {
                        format!("{}: {line}", a.app.name)
                    } else {
                        format!("  {line}")
                    };
                    self.push_log(NoticeLevel::Error, text, self.now);
                }
            }
        }
    }

    fn push_log(&mut self, level: NoticeLevel, text: String, at: SystemTime) {
        // One thing reported twice (a command's reply and the engine's event about the same
        // operation) is one line.
        let repeated = self.log.iter().rev().take(3).any(|l| {
            l.level == level
                && l.text == text
                && at
                    .duration_since(l.at)
                    .map_or(true, |d| d < LOG_REPEAT_WINDOW)
        });
        if repeated {
            return;
        }
        if self.log.len() >= LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(LogLine { at, level, text });
    }

    pub fn set_status(&mut self, level: NoticeLevel, text: impl Into<String>) {
        self.set_status_about(None, level, text);
    }

    /// A status message about one App (see [`Status::app`]).
    pub fn set_app_status(&mut self, app: &str, level: NoticeLevel, text: impl Into<String>) {
        self.set_status_about(Some(app.to_string()), level, text);
    }

    fn set_status_about(
        &mut self,
        app: Option<String>,
        level: NoticeLevel,
        text: impl Into<String>,
    ) {
        let text = text.into();
        self.push_log(level, text.clone(), self.now);
        self.status = Some(Status {
            level,
            text,
            at: self.now,
            app,
        });
    }

    /// The status message to show on the current screen: on an App's screen, messages about
    /// other Apps stay in the log pane.
    pub fn visible_status(&self) -> Option<&Status> {
        let s = self.status.as_ref()?;
        match (&self.screen, &s.app) {
            (Screen::Detail, Some(app)) if *app != self.detail.app => None,
            _ => Some(s),
        }
    }

    pub fn is_protected(&self, app: &AppState) -> bool {
        self.opts
            .protected_envs
            .iter()
            .any(|p| *p == app.app.env || *p == app.app.name)
    }

    /// Display lines of an App's diff `idx` (folded); used by view and search. The last one
    /// asked for is memoised for the current snapshot, so the Diff pane does not re-fold (and
    /// re-allocate) a long diff on every frame.
    pub fn diff_lines(&self, app: &AppState, idx: usize) -> Rc<Vec<DiffLine>> {
        if let Some(m) = self.diff_memo.borrow().as_ref()
            && m.generation == self.generation
            && m.idx == idx
            && m.app == app.app.name
        {
            return m.lines.clone();
        }
        let lines = Rc::new(
            app.diffs
                .get(idx)
                .map(|d| fold_diff(&d.unified))
                .unwrap_or_default(),
        );
        *self.diff_memo.borrow_mut() = Some(DiffMemo {
            generation: self.generation,
            app: app.app.name.clone(),
            idx,
            lines: lines.clone(),
        });
        lines
    }
}

/// Whether two states of an App have the same resources (keys and owners, in order): then
/// their owner tree, parents and pod list are the same.
fn same_structure(old: &AppState, new: &AppState) -> bool {
    old.resources.len() == new.resources.len()
        && old
            .resources
            .iter()
            .zip(&new.resources)
            .all(|(a, b)| a.key == b.key && a.owners == b.owners)
}

/// Drop a replaced snapshot on a background thread: freeing 10,000 resources' strings took a
/// fifth of the UI thread's time when a new snapshot arrived. Falls back to dropping in place
/// when the thread cannot be started.
fn retire(snapshot: Snapshot) {
    static DROPPER: OnceLock<Option<mpsc::Sender<Snapshot>>> = OnceLock::new();
    let tx = DROPPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Snapshot>();
        std::thread::Builder::new()
            .name("sextant-ui-drop".into())
            .spawn(move || rx.into_iter().for_each(drop))
            .ok()
            .map(|_| tx)
    });
    if let Some(tx) = tx {
        // A send error hands the snapshot back inside the error, which drops it here.
        let _ = tx.send(snapshot);
    }
}

/// Sort Apps by env rank (dev before staging before prod), then name.
fn app_order(a: &AppState, b: &AppState) -> std::cmp::Ordering {
    a.app.name.cmp(&b.app.name)
}

fn app_matches(a: &AppState, f: &str) -> bool {
    [
        a.app.name.as_str(),
        a.app.env.as_str(),
        a.app.destination.namespace.as_str(),
        a.cluster.as_str(),
        a.sync.as_str(),
        a.health.as_str(),
    ]
    .iter()
    .any(|s| s.to_lowercase().contains(f))
}

/// Conventional environment order for promotion pickers.
pub fn env_rank(env: &str) -> usize {
    const ORDER: [&str; 9] = [
        "dev", "develop", "test", "qa", "uat", "staging", "stage", "preprod", "prod",
    ];
    ORDER
        .iter()
        .position(|e| env.eq_ignore_ascii_case(e) || env.to_lowercase().starts_with(e))
        .unwrap_or(ORDER.len())
}

/// A line of a folded diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    Header(String),
    Hunk(String),
    Add(String),
    Del(String),
    Context(String),
    /// `n` unchanged lines folded away.
    Fold(usize),
}

impl DiffLine {
    pub fn text(&self) -> &str {
        match self {
            DiffLine::Header(s)
            | DiffLine::Hunk(s)
            | DiffLine::Add(s)
            | DiffLine::Del(s)
            | DiffLine::Context(s) => s,
            DiffLine::Fold(_) => "",
        }
    }
}

/// Context kept around each change when folding.
const FOLD_CONTEXT: usize = 3;

/// Classify a unified diff and fold unchanged runs longer than twice the context, so a
/// one-line change in a 300-line Deployment reads as one screen.
pub fn fold_diff(unified: &str) -> Vec<DiffLine> {
    let mut raw: Vec<DiffLine> = Vec::new();
    for line in unified.lines() {
        let l = if line.starts_with("+++") || line.starts_with("---") {
            DiffLine::Header(line.to_string())
        } else if line.starts_with("@@") {
            DiffLine::Hunk(line.to_string())
        } else if let Some(r) = line.strip_prefix('+') {
            DiffLine::Add(r.to_string())
        } else if let Some(r) = line.strip_prefix('-') {
            DiffLine::Del(r.to_string())
        } else {
            DiffLine::Context(line.strip_prefix(' ').unwrap_or(line).to_string())
        };
        raw.push(l);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if !matches!(raw[i], DiffLine::Context(_)) {
            out.push(raw[i].clone());
            i += 1;
            continue;
        }
        let start = i;
        while i < raw.len() && matches!(raw[i], DiffLine::Context(_)) {
            i += 1;
        }
        let run = i - start;
        let leading =
            start == 0 || matches!(raw[start - 1], DiffLine::Header(_) | DiffLine::Hunk(_));
        let trailing = i == raw.len();
        let keep_head = if leading { 0 } else { FOLD_CONTEXT };
        let keep_tail = if trailing { 0 } else { FOLD_CONTEXT };
        if run > keep_head + keep_tail + 1 {
            out.extend(raw[start..start + keep_head].iter().cloned());
            out.push(DiffLine::Fold(run - keep_head - keep_tail));
            out.extend(raw[i - keep_tail..i].iter().cloned());
        } else {
            out.extend(raw[start..i].iter().cloned());
        }
    }
    out
}

/// The Apps of the promotion picker: distinct envs in conventional order.
fn promotion_envs(snapshot: &Snapshot) -> Vec<String> {
    let mut envs: Vec<String> = snapshot.apps.iter().map(|a| a.app.env.clone()).collect();
    envs.sort_by(|a, b| env_rank(a).cmp(&env_rank(b)).then(a.cmp(b)));
    envs.dedup();
    envs
}

fn ctrl_c(k: &KeyEvent) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c')
}

/// The events of the pod selected in the Pods pane: what was asked and, once it came, the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEventsView {
    pub app: String,
    pub pod: ResourceKey,
    pub requested_at: SystemTime,
    /// `None` until the engine answers (a refresh keeps the previous answer meanwhile).
    pub events: Option<Result<Vec<PodEvent>, String>>,
}

/// How often the Pods pane asks again for the selected pod's events.
pub const POD_EVENTS_REFRESH: Duration = Duration::from_secs(10);

/// Apply one action; return the effects for the event loop.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let mut effects = apply_action(state, action);
    if let Some(Dialog::Quit(d)) = &state.dialog
        && d.waiting
        && running_operations(state).is_empty()
    {
        state.quit = true;
    }
    if state.screen == Screen::Apps {
        state.keep_selection_visible();
    }
    effects.extend(pod_events_request(state));
    effects
}

/// A `PodEvents` command when the Pods pane shows a pod whose events were not asked for yet, or
/// longer ago than [`POD_EVENTS_REFRESH`]; the answer arrives later as `Event::PodEvents`.
fn pod_events_request(state: &mut State) -> Option<Effect> {
    if state.screen != Screen::Detail || state.detail.pane() != Pane::Pods {
        return None;
    }
    let app = state.app(&state.detail.app)?;
    let views = state.views(app);
    let last = views.pods.len().checked_sub(1)?;
    let pod = app
        .resources
        .get(views.pods[state.detail.pod_sel.min(last)])?
        .key
        .clone();
    let name = app.app.name.clone();
    let now = state.now;
    let previous = state
        .pod_events
        .take()
        .filter(|v| v.app == name && v.pod == pod);
    if let Some(v) = previous {
        // A clock that went backwards counts as fresh: never flood the engine.
        if now
            .duration_since(v.requested_at)
            .ok()
            .is_none_or(|d| d < POD_EVENTS_REFRESH)
        {
            state.pod_events = Some(v);
            return None;
        }
        state.pod_events = Some(PodEventsView {
            requested_at: now,
            ..v
        });
    } else {
        state.pod_events = Some(PodEventsView {
            app: name.clone(),
            pod: pod.clone(),
            requested_at: now,
            events: None,
        });
    }
    Some(Effect::Send(Command::PodEvents { app: name, pod }))
}

fn apply_action(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Snapshot(s) => {
            state.set_snapshot(s);
            Vec::new()
        }
        Action::Tick(now) => {
            state.now = now;
            state.tick = state.tick.wrapping_add(1);
            Vec::new()
        }
        Action::Event(e) => {
            on_event(state, e);
            Vec::new()
        }
        Action::Outcome { tag, outcome } => {
            on_outcome(state, tag, outcome);
            Vec::new()
        }
        Action::PromotePreview { tag, result } => {
            if let Some(Dialog::Promote(p)) = &mut state.dialog {
                match &mut p.step {
                    PromoteStep::Keys {
                        tag: t,
                        preview,
                        picked,
                        ..
                    } if *t == tag => {
                        if let Ok(pv) = &result {
                            // Keys only the target has are that env's own settings: unpicked.
                            *picked = pv.changes.iter().map(|c| c.source.is_some()).collect();
                        }
                        *preview = Some(result);
                    }
                    PromoteStep::Review {
                        tag: t, preview, ..
                    } if *t == tag => *preview = Some(result),
                    _ => {}
                }
            }
            Vec::new()
        }
        Action::Key(k) => on_key(state, k),
    }
}

fn on_event(state: &mut State, e: Event) {
    let now = state.now;
    match e {
        Event::OperationStarted {
            app,
            kind,
            revision,
            total,
        } => {
            let short: String = revision.chars().take(7).collect();
            state.push_log(
                NoticeLevel::Info,
                format!(
                    "{app}: {} started at {short} ({total} resources)",
                    kind_label(kind)
                ),
                now,
            );
            state.ops.insert(
                app,
                OpView {
                    kind,
                    revision,
                    phase: "Starting".into(),
                    wave: 0,
                    done: 0,
                    total,
                    message: String::new(),
                    results: Vec::new(),
                    retrying: None,
                    finished: None,
                },
            );
        }
        Event::Progress {
            app,
            phase,
            wave,
            done,
            total,
            resource,
            message,
        } => {
            if let Some(op) = state.ops.get_mut(&app) {
                op.phase = phase;
                op.wave = wave;
                op.done = done;
                op.total = total;
                op.message = message;
                op.retrying = None;
                if let Some(r) = resource {
                    if r.code.is_failure() {
                        state.log.push_back(LogLine {
                            at: now,
                            level: NoticeLevel::Error,
                            text: format!("{app}: {} {:?}: {}", r.key, r.code, r.message),
                        });
                    }
                    if let Some(op) = state.ops.get_mut(&app) {
                        op.results.push(r);
                    }
                }
            }
        }
        Event::Retrying {
            app,
            attempt,
            delay,
            error,
        } => {
            let text = format!(
                "{app}: attempt {} failed, retrying in {}: {error}",
                attempt + 1,
                human_duration(delay)
            );
            if let Some(op) = state.ops.get_mut(&app) {
                op.retrying = Some(text.clone());
            }
            state.set_app_status(&app, NoticeLevel::Warn, text);
        }
        Event::OperationFinished(result) => {
            let level = match result.phase {
                OperationPhase::Succeeded => NoticeLevel::Info,
                OperationPhase::Failed | OperationPhase::Error => NoticeLevel::Error,
                OperationPhase::Refused => NoticeLevel::Warn,
            };
            let text = format!(
                "{}: {}{} {:?}{}",
                result.app,
                kind_label(result.kind),
                if result.dry_run { " (dry run)" } else { "" },
                result.phase,
                if result.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", result.message)
                }
            );
            state.set_app_status(&result.app, level, text);
            let op = state
                .ops
                .entry(result.app.clone())
                .or_insert_with(|| OpView {
                    kind: result.kind,
                    revision: result.revision.clone(),
                    phase: String::new(),
                    wave: 0,
                    done: result.resources.len(),
                    total: result.resources.len(),
                    message: String::new(),
                    results: Vec::new(),
                    retrying: None,
                    finished: None,
                });
            op.finished = Some(result);
        }
        Event::Notice(n) => {
            if state.seen_notices.insert((n.at, n.message.clone())) {
                state.push_log(n.level, n.message.clone(), n.at);
                if n.level != NoticeLevel::Info {
                    state.status = Some(Status {
                        level: n.level,
                        text: n.message,
                        at: n.at,
                        app: n.app,
                    });
                }
            }
        }
        Event::PodEvents { app, pod, events } => {
            if let Some(v) = &mut state.pod_events
                && v.app == app
                && v.pod == pod
            {
                v.events = Some(events);
            }
        }
    }
}

pub fn kind_label(k: OperationKind) -> &'static str {
    match k {
        OperationKind::Sync => "sync",
        OperationKind::Rollback => "rollback",
        OperationKind::AutoSync => "auto-sync",
        OperationKind::SelfHeal => "self-heal",
    }
}

fn outcome_text(o: &CommandOutcome) -> (NoticeLevel, String) {
    match o {
        CommandOutcome::Done => (NoticeLevel::Info, "done".into()),
        CommandOutcome::Operation(r) => (
            match r.phase {
                OperationPhase::Succeeded => NoticeLevel::Info,
                OperationPhase::Failed | OperationPhase::Error => NoticeLevel::Error,
                OperationPhase::Refused => NoticeLevel::Warn,
            },
            format!(
                "{:?}{}",
                r.phase,
                if r.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.message)
                }
            ),
        ),
        CommandOutcome::Refused(m) => (NoticeLevel::Warn, format!("refused: {m}")),
        CommandOutcome::Failed(m) => (NoticeLevel::Error, format!("failed: {m}")),
    }
}

fn on_outcome(state: &mut State, tag: u64, outcome: CommandOutcome) {
    match &mut state.dialog {
        Some(Dialog::Progress(p)) if p.tag == tag => {
            let (level, text) = outcome_text(&outcome);
            // Worded like the engine's OperationFinished line, so the two make one log line.
            let msg = format!(
                "{}: {}{} {}",
                p.app,
                kind_label(p.kind),
                if p.dry_run { " (dry run)" } else { "" },
                text
            );
            let app = p.app.clone();
            p.outcome = Some(outcome);
            state.set_app_status(&app, level, msg);
            return;
        }
        Some(Dialog::Rollback(RollbackDialog {
            step: RollbackStep::Review {
                tag: t, preview, ..
            },
            ..
        })) if *t == tag => {
            *preview = Some(outcome);
            return;
        }
        Some(Dialog::Promote(p)) => {
            if let PromoteStep::Committing {
                tag: t, outcome: o, ..
            } = &mut p.step
                && *t == tag
            {
                let (level, text) = outcome_text(&outcome);
                let msg = format!("promote {} → {}: {}", p.source, p.target, text);
                *o = Some(outcome);
                state.set_status(level, msg);
                return;
            }
        }
        _ => {}
    }
    // A dialog closed before its answer: report it in the status line.
    let (level, text) = outcome_text(&outcome);
    state.set_status(level, text);
}

/// Apps whose operation this session runs (the engine's `AppState.operation`).
fn running_operations(state: &State) -> Vec<String> {
    state
        .snapshot
        .apps
        .iter()
        .filter(|a| a.operation.is_some())
        .map(|a| a.app.name.clone())
        .collect()
}

/// Quit, or ask first when an operation of this session is still running.
fn request_quit(state: &mut State) {
    let apps = running_operations(state);
    if apps.is_empty() {
        state.quit = true;
    } else {
        state.dialog = Some(Dialog::Quit(QuitDialog {
            apps,
            waiting: false,
            abandoning: false,
        }));
    }
}

fn quit_key(state: &mut State, mut d: QuitDialog, k: &KeyEvent) -> (Option<Dialog>, Vec<Effect>) {
    match k.code {
        KeyCode::Char('w') if !d.abandoning => {
            d.waiting = true;
            (Some(Dialog::Quit(d)), Vec::new())
        }
        KeyCode::Char('l') if !d.abandoning => {
            state.quit = true;
            (None, Vec::new())
        }
        KeyCode::Char('a') if !d.abandoning => {
            d.waiting = true;
            d.abandoning = true;
            (
                Some(Dialog::Quit(d)),
                vec![Effect::Send(Command::Abandon { app: None })],
            )
        }
        KeyCode::Esc if !d.abandoning => (None, Vec::new()),
        _ => (Some(Dialog::Quit(d)), Vec::new()),
    }
}

fn on_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    if ctrl_c(&k) {
        state.quit = true;
        return Vec::new();
    }
    if state.help {
        let a = state.opts.keymap.action(&k);
        match a {
            Some(KeyAction::Back | KeyAction::Help | KeyAction::Quit) => state.help = false,
            // The help scrolls on small terminals (the view clamps the end).
            Some(KeyAction::Down) => state.help_scroll += 1,
            Some(KeyAction::Up) => state.help_scroll = state.help_scroll.saturating_sub(1),
            Some(KeyAction::PageDown) => state.help_scroll += 10,
            Some(KeyAction::PageUp) => state.help_scroll = state.help_scroll.saturating_sub(10),
            Some(KeyAction::Top) => state.help_scroll = 0,
            Some(KeyAction::Bottom) => state.help_scroll = usize::MAX / 2,
            _ => {}
        }
        return Vec::new();
    }
    if state.input.is_some() {
        return on_input_key(state, k);
    }
    if state.dialog.is_some() {
        return on_dialog_key(state, k);
    }
    let Some(action) = state.opts.keymap.action(&k) else {
        return Vec::new();
    };
    if action.is_mutating() && state.opts.readonly {
        state.set_status(
            NoticeLevel::Warn,
            format!(
                "read-only: {} is disabled (sextant was started with --readonly)",
                action.config_name()
            ),
        );
        return Vec::new();
    }
    match action {
        KeyAction::Quit => {
            request_quit(state);
            Vec::new()
        }
        KeyAction::Help => {
            state.help = true;
            state.help_scroll = 0;
            Vec::new()
        }
        KeyAction::Logs => {
            state.show_log = !state.show_log;
            Vec::new()
        }
        KeyAction::Palette => {
            state.input = Some(Input::Palette(String::new()));
            Vec::new()
        }
        KeyAction::Filter => {
            // `/` starts a new filter or search (as in k9s and less): the old text goes.
            state.input = Some(if state.screen == Screen::Detail {
                Input::Search(String::new())
            } else {
                state.filter.clear();
                Input::Filter(String::new())
            });
            if state.screen == Screen::Detail {
                state.detail.pane = Some(Pane::Diff);
            }
            Vec::new()
        }
        KeyAction::Refresh => refresh(state),
        KeyAction::Extra(i) => {
            let d = state
                .opts
                .extras
                .get(i)
                .map(|e| e.description.clone())
                .unwrap_or_default();
            state.set_status(NoticeLevel::Info, d);
            vec![Effect::Extra(i)]
        }
        KeyAction::Sync => with_current(state, open_sync),
        KeyAction::Rollback => with_current(state, |s, app| open_rollback(s, app, None)),
        KeyAction::Promote => {
            let env = state.current_app().map(|a| a.app.env.clone());
            open_promote(state, env.as_deref(), None);
            Vec::new()
        }
        KeyAction::AutoSync => with_current(state, open_autosync),
        KeyAction::Diff => {
            if let Some(name) = state.current_app().map(|a| a.app.name.clone()) {
                open_detail(state, &name, Pane::Diff);
            }
            Vec::new()
        }
        _ => match state.screen {
            Screen::Apps => apps_key(state, action),
            Screen::Detail => detail_key(state, action),
        },
    }
}

fn with_current(
    state: &mut State,
    f: impl FnOnce(&mut State, String) -> Vec<Effect>,
) -> Vec<Effect> {
    match state.current_app().map(|a| a.app.name.clone()) {
        Some(name) => f(state, name),
        None => {
            state.set_status(NoticeLevel::Warn, "no App selected");
            Vec::new()
        }
    }
}

fn refresh(state: &mut State) -> Vec<Effect> {
    let app = match state.screen {
        Screen::Detail => Some(state.detail.app.clone()),
        Screen::Apps => None,
    };
    state.set_status(
        NoticeLevel::Info,
        format!(
            "hard refresh of {}: fetching and re-rendering",
            app.as_deref().unwrap_or("all Apps")
        ),
    );
    vec![Effect::Send(Command::Refresh { app, hard: true })]
}

fn open_detail(state: &mut State, name: &str, pane: Pane) {
    if state.detail.app != name {
        state.detail = Detail {
            app: name.to_string(),
            ..Detail::default()
        };
    }
    state.detail.pane = Some(pane);
    state.screen = Screen::Detail;
    state.selected = Some(name.to_string());
}

fn move_sel(sel: &mut usize, len: usize, action: KeyAction, page: usize) {
    if len == 0 {
        *sel = 0;
        return;
    }
    *sel = match action {
        KeyAction::Up => sel.saturating_sub(1),
        KeyAction::Down => (*sel + 1).min(len - 1),
        KeyAction::PageUp => sel.saturating_sub(page),
        KeyAction::PageDown => (*sel + page).min(len - 1),
        KeyAction::Top => 0,
        KeyAction::Bottom => len - 1,
        _ => (*sel).min(len - 1),
    };
}

fn apps_key(state: &mut State, action: KeyAction) -> Vec<Effect> {
    let visible = state.visible_apps();
    match action {
        KeyAction::Up
        | KeyAction::Down
        | KeyAction::PageUp
        | KeyAction::PageDown
        | KeyAction::Top
        | KeyAction::Bottom => {
            let mut pos = state.selected_pos(&visible);
            move_sel(&mut pos, visible.len(), action, 10);
            state.selected = visible
                .get(pos)
                .map(|i| state.snapshot.apps[*i].app.name.clone());
        }
        KeyAction::Enter => {
            if let Some(name) = state.selected.clone()
                && state.app(&name).is_some()
            {
                open_detail(state, &name, Pane::Resources);
            }
        }
        KeyAction::Back => state.filter.clear(),
        _ => {}
    }
    Vec::new()
}

fn detail_key(state: &mut State, action: KeyAction) -> Vec<Effect> {
    let Some(app) = state.app(&state.detail.app).cloned() else {
        state.screen = Screen::Apps;
        return Vec::new();
    };
    let pane = state.detail.pane();
    match action {
        KeyAction::Back => {
            state.screen = Screen::Apps;
            return Vec::new();
        }
        KeyAction::NextPane => {
            state.detail.pane = Some(Pane::ALL[(pane.index() + 1) % Pane::ALL.len()]);
            return Vec::new();
        }
        KeyAction::PrevPane => {
            state.detail.pane =
                Some(Pane::ALL[(pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]);
            return Vec::new();
        }
        _ => {}
    }
    match pane {
        Pane::Resources => {
            let len = state.views(&app).tree.len();
            move_sel(&mut state.detail.res_sel, len, action, 10);
        }
        Pane::Diff => match action {
            KeyAction::NextMatch | KeyAction::PrevMatch => {
                jump_match(state, &app, action == KeyAction::NextMatch);
            }
            KeyAction::PageDown => state.detail.diff_scroll += 10,
            KeyAction::PageUp => {
                state.detail.diff_scroll = state.detail.diff_scroll.saturating_sub(10)
            }
            _ => {
                let before = state.detail.diff_sel;
                move_sel(&mut state.detail.diff_sel, app.diffs.len(), action, 10);
                if before != state.detail.diff_sel {
                    state.detail.diff_scroll = 0;
                }
            }
        },
        Pane::History => {
            if action == KeyAction::Enter {
                let entry = sorted_history(&app)
                    .get(state.detail.hist_sel)
                    .map(|h| h.id);
                if let Some(id) = entry {
                    if state.opts.readonly {
                        state.set_status(
                            NoticeLevel::Warn,
                            "read-only: rollback is disabled (sextant was started with --readonly)",
                        );
                        return Vec::new();
                    }
                    return open_rollback(state, app.app.name.clone(), Some(id));
                }
            }
            move_sel(&mut state.detail.hist_sel, app.history.len(), action, 10);
        }
        Pane::Pods => {
            let len = state.views(&app).pods.len();
            move_sel(&mut state.detail.pod_sel, len, action, 10);
        }
    }
    Vec::new()
}

/// History newest first.
pub fn sorted_history(app: &AppState) -> Vec<&HistoryEntry> {
    let mut h: Vec<&HistoryEntry> = app.history.iter().collect();
    h.sort_by_key(|e| std::cmp::Reverse(e.id));
    h
}

fn jump_match(state: &mut State, app: &AppState, forward: bool) {
    let needle = state.detail.search.to_lowercase();
    if needle.is_empty() {
        state.set_status(NoticeLevel::Info, "no search: press / to search the diff");
        return;
    }
    let mut matches = Vec::new();
    for i in 0..app.diffs.len() {
        for (j, l) in state.diff_lines(app, i).iter().enumerate() {
            if l.text().to_lowercase().contains(&needle) {
                matches.push((i, j));
            }
        }
    }
    if matches.is_empty() {
        state.detail.match_at = None;
        state.set_status(
            NoticeLevel::Warn,
            format!("no match for {:?}", state.detail.search),
        );
        return;
    }
    let cur = state
        .detail
        .match_at
        .unwrap_or((state.detail.diff_sel, state.detail.diff_scroll));
    let next = if forward {
        matches
            .iter()
            .find(|m| **m > cur || state.detail.match_at.is_none() && **m >= cur)
            .or(matches.first())
    } else {
        matches.iter().rev().find(|m| **m < cur).or(matches.last())
    };
    if let Some(&(i, j)) = next {
        let n = matches.iter().position(|m| *m == (i, j)).unwrap_or(0) + 1;
        state.detail.match_at = Some((i, j));
        state.detail.diff_sel = i;
        state.detail.diff_scroll = j.saturating_sub(3);
        state.set_status(
            NoticeLevel::Info,
            format!("match {n}/{} for {:?}", matches.len(), state.detail.search),
        );
    }
}

fn on_input_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    if k.code == KeyCode::Tab
        && let Some(Input::Palette(t)) = &state.input
    {
        let (done, others) = complete_palette(&state.snapshot, t);
        state.input = Some(Input::Palette(done));
        // Several candidates: listed where the status line is, under the input.
        state.palette_candidates = others;
        return Vec::new();
    }
    state.palette_candidates.clear();
    let Some(input) = state.input.as_mut() else {
        return Vec::new();
    };
    let text = match input {
        Input::Filter(t) | Input::Palette(t) | Input::Search(t) => t,
    };
    match k.code {
        KeyCode::Esc => {
            if matches!(input, Input::Filter(_)) {
                state.filter.clear();
            }
            state.input = None;
        }
        KeyCode::Backspace => {
            text.pop();
            if let Input::Filter(t) = input {
                state.filter = t.clone();
            }
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            text.push(c);
            if let Input::Filter(t) = input {
                state.filter = t.clone();
            }
        }
        KeyCode::Enter => {
            let input = state.input.take();
            match input {
                Some(Input::Filter(t)) => state.filter = t,
                Some(Input::Search(t)) => {
                    state.detail.search = t;
                    state.detail.match_at = None;
                    if let Some(app) = state.app(&state.detail.app).cloned() {
                        state.detail.diff_sel = 0;
                        state.detail.diff_scroll = 0;
                        jump_match(state, &app, true);
                    }
                }
                Some(Input::Palette(t)) => return run_palette(state, &t),
                None => {}
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Palette commands, for help and completion.
pub const PALETTE: [(&str, &str); 13] = [
    (":apps", "the Apps screen"),
    (":app NAME", "open an App"),
    (":ctx [CLUSTER]", "list clusters / show only one"),
    (":sync ENV|APP", "sync (preview first)"),
    (":rollback ENV|APP", "roll back"),
    (":promote SRC TGT", "promote values"),
    (":diff ENV|APP", "an App's diff"),
    (":history ENV|APP", "an App's history"),
    (":pods ENV|APP", "an App's pods"),
    (":autosync ENV|APP", "toggle auto-sync"),
    (":refresh [ENV|APP]", "hard refresh"),
    (":logs", "toggle the log pane"),
    (":q", "quit"),
];

/// Tab in the palette: complete the command, or its App/env argument, to the longest common
/// prefix of the candidates (with a space after a unique one). Returns the new text and the
/// candidates when several remain.
pub fn complete_palette(snapshot: &Snapshot, text: &str) -> (String, Vec<String>) {
    let (head, word) = match text.rfind(' ') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text),
    };
    let mut candidates: Vec<String> = if head.trim().is_empty() {
        PALETTE
            .iter()
            .filter_map(|(c, _)| c.split_whitespace().next())
            .map(|c| c.trim_start_matches(':').to_string())
            .collect()
    } else {
        let mut v: Vec<String> = snapshot
            .apps
            .iter()
            .flat_map(|a| [a.app.name.clone(), a.app.env.clone()])
            .collect();
        if head.trim_start_matches(':').starts_with("ctx") {
            v = snapshot.apps.iter().map(|a| a.cluster.clone()).collect();
        }
        v
    };
    let bare = word.trim_start_matches(':');
    candidates.retain(|c| c.starts_with(bare));
    candidates.sort();
    candidates.dedup();
    let colon = if head.is_empty() && word.starts_with(':') {
        ":"
    } else {
        ""
    };
    match candidates.as_slice() {
        [] => (text.to_string(), Vec::new()),
        [one] => (format!("{head}{colon}{one} "), Vec::new()),
        many => {
            let mut prefix = many[0].clone();
            for c in &many[1..] {
                let common = prefix
                    .chars()
                    .zip(c.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                prefix = prefix.chars().take(common).collect();
            }
            (format!("{head}{colon}{prefix}"), many.to_vec())
        }
    }
}

/// Find an App by exact name, then by env, then by unique name prefix/substring.
fn find_app(state: &State, q: &str) -> Result<String, String> {
    let apps = &state.snapshot.apps;
    if let Some(a) = apps.iter().find(|a| a.app.name == q) {
        return Ok(a.app.name.clone());
    }
    let by_env: Vec<&AppState> = apps.iter().filter(|a| a.app.env == q).collect();
    if by_env.len() == 1 {
        return Ok(by_env[0].app.name.clone());
    }
    let by_sub: Vec<&AppState> = apps.iter().filter(|a| a.app.name.contains(q)).collect();
    match (by_env.len(), by_sub.len()) {
        (0, 1) => Ok(by_sub[0].app.name.clone()),
        (0, 0) => Err(format!("no App or env named {q:?}")),
        _ => Err(format!(
            "{q:?} matches several Apps ({}): give the App name",
            by_env
                .iter()
                .chain(by_sub.iter())
                .map(|a| a.app.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn run_palette(state: &mut State, line: &str) -> Vec<Effect> {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Vec::new();
    };
    let cmd = cmd.trim_start_matches(':');
    let args: Vec<&str> = words.collect();
    let arg = args.first().copied();
    let target = |state: &mut State| -> Option<String> {
        let r = match arg {
            Some(q) => find_app(state, q),
            None => state
                .current_app()
                .map(|a| a.app.name.clone())
                .ok_or_else(|| "no App selected".to_string()),
        };
        match r {
            Ok(n) => Some(n),
            Err(e) => {
                state.set_status(NoticeLevel::Warn, e);
                None
            }
        }
    };
    let mutating = matches!(cmd, "sync" | "rollback" | "promote" | "autosync");
    if mutating && state.opts.readonly {
        state.set_status(
            NoticeLevel::Warn,
            format!("read-only: {cmd} is disabled (sextant was started with --readonly)"),
        );
        return Vec::new();
    }
    match cmd {
        "apps" | "a" => {
            state.screen = Screen::Apps;
            state.filter.clear();
        }
        "app" | "diff" | "history" | "pods" | "resources" => {
            if let Some(n) = target(state) {
                let pane = match cmd {
                    "diff" => Pane::Diff,
                    "history" => Pane::History,
                    "pods" => Pane::Pods,
                    _ => Pane::Resources,
                };
                open_detail(state, &n, pane);
            }
        }
        "ctx" | "context" | "cluster" => match arg {
            None => {
                let mut clusters: Vec<String> = state
                    .snapshot
                    .apps
                    .iter()
                    .map(|a| a.cluster.clone())
                    .collect();
                clusters.sort();
                clusters.dedup();
                state.filter.clear();
                state.set_status(
                    NoticeLevel::Info,
                    format!(
                        "clusters: {} (:ctx NAME shows only one)",
                        clusters.join(", ")
                    ),
                );
            }
            Some(c) => {
                state.screen = Screen::Apps;
                state.filter = c.to_string();
            }
        },
        "sync" => {
            if let Some(n) = target(state) {
                return open_sync(state, n);
            }
        }
        "rollback" => {
            if let Some(n) = target(state) {
                return open_rollback(state, n, None);
            }
        }
        "autosync" => {
            if let Some(n) = target(state) {
                return open_autosync(state, n);
            }
        }
        "promote" => {
            let src = args.first().copied();
            let tgt = args.get(1).copied();
            let src = src
                .map(str::to_string)
                .or_else(|| state.current_app().map(|a| a.app.env.clone()));
            open_promote(state, src.as_deref(), tgt);
        }
        "refresh" => {
            let app = match arg {
                Some(q) => match find_app(state, q) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        state.set_status(NoticeLevel::Warn, e);
                        return Vec::new();
                    }
                },
                None => None,
            };
            state.set_status(
                NoticeLevel::Info,
                format!("hard refresh of {}", app.as_deref().unwrap_or("all Apps")),
            );
            return vec![Effect::Send(Command::Refresh { app, hard: true })];
        }
        "logs" | "log" => state.show_log = !state.show_log,
        "help" => state.help = true,
        "q" | "quit" => request_quit(state),
        "q!" => state.quit = true,
        other => state.set_status(
            NoticeLevel::Warn,
            format!("unknown command :{other} (press ? for the list)"),
        ),
    }
    Vec::new()
}

fn open_sync(state: &mut State, name: String) -> Vec<Effect> {
    let Some(app) = state.app(&name) else {
        return Vec::new();
    };
    if let Some(op) = &app.operation {
        let msg = format!(
            "{name}: {} in progress by {} — wait for it to finish",
            kind_label(op.kind),
            op.initiated_by
        );
        state.set_status(NoticeLevel::Warn, msg);
        return Vec::new();
    }
    let guard = Guard::new(&state.opts, app, "Sync");
    // Like Argo CD's sync panel, a manual sync never prunes unless asked: `automated.prune`
    // (or its override in the cluster) governs auto-sync only.
    state.dialog = Some(Dialog::Sync(SyncDialog {
        app: name,
        flags: [false, false, false, false],
        focus: Focus::Cancel,
        guard,
    }));
    Vec::new()
}

fn open_rollback(state: &mut State, name: String, entry: Option<u64>) -> Vec<Effect> {
    let Some(app) = state.app(&name) else {
        return Vec::new();
    };
    if app.history.is_empty() {
        state.set_status(
            NoticeLevel::Warn,
            format!("{name} has no history yet: nothing to roll back to"),
        );
        return Vec::new();
    }
    let step = match entry {
        Some(entry) if app.auto_sync.enabled => RollbackStep::AutoSyncOn {
            entry,
            focus: Focus::Cancel,
        },
        Some(entry) => {
            let guard = Guard::new(&state.opts, app, "Roll back");
            let tag = state.tag();
            state.dialog = Some(Dialog::Rollback(RollbackDialog {
                app: name.clone(),
                step: RollbackStep::Review {
                    entry,
                    tag,
                    preview: None,
                    focus: Focus::Cancel,
                    guard,
                    scroll: 0,
                },
            }));
            return vec![rollback_preview(tag, &name, entry)];
        }
        None => RollbackStep::Pick { sel: 0 },
    };
    state.dialog = Some(Dialog::Rollback(RollbackDialog { app: name, step }));
    Vec::new()
}

fn rollback_preview(tag: u64, app: &str, entry: u64) -> Effect {
    Effect::Call {
        tag,
        command: Command::Rollback {
            app: app.to_string(),
            history_id: entry,
            options: SyncOptions {
                dry_run: true,
                ..SyncOptions::default()
            },
        },
    }
}

fn open_autosync(state: &mut State, name: String) -> Vec<Effect> {
    let Some(app) = state.app(&name) else {
        return Vec::new();
    };
    let turn_on = !app.auto_sync.enabled;
    let git_on = app.app.is_automated();
    // Going back to what Git says clears the override rather than storing a redundant one.
    let command = if turn_on == git_on && app.auto_sync.overridden {
        Command::SetAutoSync {
            app: name.clone(),
            enabled: None,
            self_heal: None,
            prune: None,
        }
    } else {
        Command::SetAutoSync {
            app: name.clone(),
            enabled: Some(turn_on),
            self_heal: None,
            prune: None,
        }
    };
    let mut lines = vec![
        format!(
            "Auto-sync is {} for {name} (Git says {}{}).",
            if app.auto_sync.enabled { "ON" } else { "OFF" },
            if git_on { "on" } else { "off" },
            if app.auto_sync.overridden {
                "; an operator override is in effect"
            } else {
                ""
            }
        ),
        format!("Turn it {}?", if turn_on { "ON" } else { "OFF" }),
        String::new(),
        "The setting is stored in the cluster: every operator sees it.".into(),
    ];
    if turn_on {
        lines.push("Git changes will then be synced automatically.".into());
    } else {
        lines.push("Git changes will wait for a manual sync until it is back on.".into());
    }
    let guard = Guard::new(
        &state.opts,
        app,
        if turn_on {
            "Turn auto-sync on"
        } else {
            "Turn auto-sync off"
        },
    );
    state.dialog = Some(Dialog::Confirm(ConfirmDialog {
        title: format!("Auto-sync: {name}"),
        lines,
        focus: Focus::Cancel,
        guard,
        effects: vec![Effect::Send(command)],
        done_message: format!(
            "{name}: auto-sync {} requested",
            if turn_on { "on" } else { "off" }
        ),
    }));
    Vec::new()
}

fn open_promote(state: &mut State, source: Option<&str>, target: Option<&str>) {
    let envs = promotion_envs(&state.snapshot);
    if envs.len() < 2 {
        state.set_status(
            NoticeLevel::Warn,
            "promotion needs at least two environments",
        );
        return;
    }
    let src = source
        .and_then(|s| envs.iter().position(|e| e == s))
        .unwrap_or(0)
        .min(envs.len() - 2);
    let tgt = target
        .and_then(|t| envs.iter().position(|e| e == t))
        .unwrap_or(src + 1);
    state.dialog = Some(Dialog::Promote(Box::new(PromoteDialog {
        source: envs[src].clone(),
        target: envs[tgt].clone(),
        step: PromoteStep::Envs {
            envs,
            source: src,
            target: tgt,
            column: 1,
        },
        back: Vec::new(),
    })));
}

/// Tab order of a dialog's focusable rows.
fn cycle(order: &[Focus], cur: Focus, forward: bool) -> Focus {
    let i = order.iter().position(|f| *f == cur).unwrap_or(0);
    let n = order.len();
    order[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }]
}

/// Shared handling of a guard's typed input and buttons. Returns Some(true) on confirm,
/// Some(false) on cancel, None otherwise.
fn guard_key(guard: &mut Guard, focus: &mut Focus, order: &[Focus], k: &KeyEvent) -> Option<bool> {
    match k.code {
        KeyCode::Esc => return Some(false),
        KeyCode::Tab | KeyCode::Down => *focus = cycle(order, *focus, true),
        KeyCode::BackTab | KeyCode::Up => *focus = cycle(order, *focus, false),
        KeyCode::Left | KeyCode::Right if matches!(*focus, Focus::Cancel | Focus::Confirm) => {
            *focus = if *focus == Focus::Cancel {
                Focus::Confirm
            } else {
                Focus::Cancel
            };
        }
        // Typing anywhere but on an option goes to the env-name field of a protected env.
        KeyCode::Char(c) if guard.expect.is_some() && !matches!(*focus, Focus::Option(_)) => {
            guard.typed.push(c);
            guard.error = None;
            *focus = Focus::Input;
        }
        KeyCode::Backspace if *focus == Focus::Input => {
            guard.typed.pop();
        }
        KeyCode::Enter => match *focus {
            Focus::Cancel => return Some(false),
            Focus::Confirm | Focus::Input => {
                if guard.check() {
                    return Some(true);
                }
                *focus = Focus::Input;
            }
            _ => {}
        },
        _ => {}
    }
    None
}

fn guard_order(guard: &Guard, options: usize) -> Vec<Focus> {
    let mut v: Vec<Focus> = (0..options).map(Focus::Option).collect();
    if guard.expect.is_some() {
        v.push(Focus::Input);
    }
    v.push(Focus::Cancel);
    v.push(Focus::Confirm);
    v
}

fn on_dialog_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    let Some(dialog) = state.dialog.take() else {
        return Vec::new();
    };
    let (dialog, effects) = match dialog {
        Dialog::Sync(d) => sync_key(state, d, &k),
        Dialog::Progress(mut d) => {
            let finished = d.outcome.is_some();
            match k.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => {
                    if !finished {
                        state.set_status(
                            NoticeLevel::Info,
                            format!("{}: still running in the background", d.app),
                        );
                    }
                    (None, Vec::new())
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    d.scroll += 1;
                    (Some(Dialog::Progress(d)), Vec::new())
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    d.scroll = d.scroll.saturating_sub(1);
                    (Some(Dialog::Progress(d)), Vec::new())
                }
                _ => (Some(Dialog::Progress(d)), Vec::new()),
            }
        }
        Dialog::Rollback(d) => rollback_key(state, d, &k),
        Dialog::Quit(d) => quit_key(state, d, &k),
        Dialog::Promote(d) => promote_key(state, d, k),
        Dialog::Confirm(mut d) => {
            let order = guard_order(&d.guard, 0);
            match guard_key(&mut d.guard, &mut d.focus, &order, &k) {
                Some(true) => {
                    state.set_status(NoticeLevel::Info, d.done_message.clone());
                    (None, d.effects)
                }
                Some(false) => (None, Vec::new()),
                None => (Some(Dialog::Confirm(d)), Vec::new()),
            }
        }
    };
    if state.dialog.is_none() {
        state.dialog = dialog;
    }
    effects
}

fn sync_key(state: &mut State, mut d: SyncDialog, k: &KeyEvent) -> (Option<Dialog>, Vec<Effect>) {
    let order = guard_order(&d.guard, SYNC_FLAGS.len());
    if let Focus::Option(i) = d.focus
        && matches!(k.code, KeyCode::Char(' ') | KeyCode::Enter)
    {
        d.flags[i] = !d.flags[i];
        return (Some(Dialog::Sync(d)), Vec::new());
    }
    match guard_key(&mut d.guard, &mut d.focus, &order, k) {
        Some(true) => {
            let tag = state.tag();
            let options = SyncOptions {
                prune: d.flags[0],
                dry_run: d.flags[1],
                force: d.flags[2],
                apply_out_of_sync_only: d.flags[3],
                ..SyncOptions::default()
            };
            let dry_run = options.dry_run;
            state.ops.remove(&d.app);
            let effects = vec![Effect::Call {
                tag,
                command: Command::Sync {
                    app: d.app.clone(),
                    options,
                },
            }];
            (
                Some(Dialog::Progress(ProgressDialog {
                    app: d.app,
                    kind: OperationKind::Sync,
                    tag,
                    dry_run,
                    outcome: None,
                    scroll: 0,
                })),
                effects,
            )
        }
        Some(false) => (None, Vec::new()),
        None => (Some(Dialog::Sync(d)), Vec::new()),
    }
}

fn rollback_key(
    state: &mut State,
    mut d: RollbackDialog,
    k: &KeyEvent,
) -> (Option<Dialog>, Vec<Effect>) {
    let Some(app) = state.app(&d.app).cloned() else {
        return (None, Vec::new());
    };
    let history = sorted_history(&app);
    match &mut d.step {
        RollbackStep::Pick { sel } => match k.code {
            KeyCode::Esc => return (None, Vec::new()),
            KeyCode::Up | KeyCode::Char('k') => *sel = sel.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                *sel = (*sel + 1).min(history.len().saturating_sub(1))
            }
            KeyCode::Enter => {
                if let Some(h) = history.get(*sel) {
                    let entry = h.id;
                    if app.auto_sync.enabled {
                        d.step = RollbackStep::AutoSyncOn {
                            entry,
                            focus: Focus::Cancel,
                        };
                    } else {
                        let tag = state.tag();
                        d.step = RollbackStep::Review {
                            entry,
                            tag,
                            preview: None,
                            focus: Focus::Cancel,
                            guard: Guard::new(&state.opts, &app, "Roll back"),
                            scroll: 0,
                        };
                        return (
                            Some(Dialog::Rollback(d.clone())),
                            vec![rollback_preview(tag, &app.app.name, entry)],
                        );
                    }
                }
            }
            _ => {}
        },
        RollbackStep::AutoSyncOn { entry, focus } => {
            let entry = *entry;
            let mut guard = Guard {
                expect: None,
                typed: String::new(),
                confirm_label: String::new(),
                error: None,
            };
            match guard_key(&mut guard, focus, &[Focus::Cancel, Focus::Confirm], k) {
                Some(true) => {
                    let tag = state.tag();
                    let effects = vec![
                        Effect::Send(Command::SetAutoSync {
                            app: app.app.name.clone(),
                            enabled: Some(false),
                            self_heal: None,
                            prune: None,
                        }),
                        rollback_preview(tag, &app.app.name, entry),
                    ];
                    state.set_status(
                        NoticeLevel::Info,
                        format!(
                            "{}: auto-sync turned off (override stored in the cluster; press a to turn it back on)",
                            app.app.name
                        ),
                    );
                    d.step = RollbackStep::Review {
                        entry,
                        tag,
                        preview: None,
                        focus: Focus::Cancel,
                        guard: Guard::new(&state.opts, &app, "Roll back"),
                        scroll: 0,
                    };
                    return (Some(Dialog::Rollback(d)), effects);
                }
                Some(false) => return (None, Vec::new()),
                None => {}
            }
        }
        RollbackStep::Review {
            entry,
            focus,
            guard,
            scroll,
            ..
        } => {
            let entry = *entry;
            match k.code {
                KeyCode::PageDown => *scroll += 10,
                KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                _ => {}
            }
            let order = guard_order(guard, 0);
            match guard_key(guard, focus, &order, k) {
                Some(true) => {
                    let tag = state.tag();
                    state.ops.remove(&d.app);
                    return (
                        Some(Dialog::Progress(ProgressDialog {
                            app: d.app.clone(),
                            kind: OperationKind::Rollback,
                            tag,
                            dry_run: false,
                            outcome: None,
                            scroll: 0,
                        })),
                        vec![Effect::Call {
                            tag,
                            command: Command::Rollback {
                                app: d.app.clone(),
                                history_id: entry,
                                options: SyncOptions::default(),
                            },
                        }],
                    );
                }
                Some(false) => return (None, Vec::new()),
                None => {}
            }
        }
    }
    (Some(Dialog::Rollback(d)), Vec::new())
}

fn default_message(keys: &[String], source: &str, target: &str) -> String {
    let list = if keys.len() > 4 {
        format!("{} and {} more", keys[..3].join(", "), keys.len() - 3)
    } else {
        keys.join(", ")
    };
    format!("promote {list} from {source} to {target}")
}

fn promote_key(
    state: &mut State,
    mut d: Box<PromoteDialog>,
    k: KeyEvent,
) -> (Option<Dialog>, Vec<Effect>) {
    if k.code == KeyCode::Esc {
        // One step back (a changed mind about keys should not mean starting over); from the
        // first step, or once the commit is made, Esc closes.
        if matches!(d.step, PromoteStep::Committing { .. }) {
            return (None, Vec::new());
        }
        return match d.back.pop() {
            Some(prev) => {
                d.step = prev;
                (Some(Dialog::Promote(d)), Vec::new())
            }
            None => (None, Vec::new()),
        };
    }
    let mut effects = Vec::new();
    let mut next: Option<PromoteStep> = None;
    match &mut d.step {
        PromoteStep::Envs {
            envs,
            source,
            target,
            column,
        } => match k.code {
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                *column = 1 - *column
            }
            KeyCode::Up | KeyCode::Char('k') => {
                let c = if *column == 0 {
                    &mut *source
                } else {
                    &mut *target
                };
                *c = c.saturating_sub(1);
                // The title follows the pair being chosen.
                d.source = envs[*source].clone();
                d.target = envs[*target].clone();
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let c = if *column == 0 {
                    &mut *source
                } else {
                    &mut *target
                };
                *c = (*c + 1).min(envs.len() - 1);
                d.source = envs[*source].clone();
                d.target = envs[*target].clone();
            }
            KeyCode::Enter => {
                if source == target {
                    state.set_status(NoticeLevel::Warn, "source and target must differ");
                } else {
                    d.source = envs[*source].clone();
                    d.target = envs[*target].clone();
                    let tag = state.tag();
                    effects.push(Effect::PromotePreview {
                        tag,
                        request: PromoteRequest {
                            source_env: d.source.clone(),
                            target_env: d.target.clone(),
                            keys: Vec::new(),
                            message: None,
                            push: true,
                        },
                    });
                    next = Some(PromoteStep::Keys {
                        tag,
                        preview: None,
                        picked: Vec::new(),
                        sel: 0,
                    });
                }
            }
            _ => {}
        },
        PromoteStep::Keys {
            preview,
            picked,
            sel,
            ..
        } => match k.code {
            KeyCode::Up | KeyCode::Char('k') => *sel = sel.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                *sel = (*sel + 1).min(picked.len().saturating_sub(1))
            }
            KeyCode::Char(' ') => {
                if let Some(p) = picked.get_mut(*sel) {
                    *p = !*p;
                }
            }
            KeyCode::Char('A') => {
                let all = picked.iter().all(|p| *p);
                picked.iter_mut().for_each(|p| *p = !all);
            }
            KeyCode::Enter => {
                if let Some(Ok(pv)) = preview {
                    let keys: Vec<String> = pv
                        .changes
                        .iter()
                        .zip(picked.iter())
                        .filter(|(_, p)| **p)
                        .map(|(c, _)| c.key.clone())
                        .collect();
                    if keys.is_empty() {
                        state.set_status(NoticeLevel::Warn, "pick at least one key (space)");
                    } else {
                        let tag = state.tag();
                        effects.push(Effect::PromotePreview {
                            tag,
                            request: PromoteRequest {
                                source_env: d.source.clone(),
                                target_env: d.target.clone(),
                                keys: keys.clone(),
                                message: None,
                                push: true,
                            },
                        });
                        next = Some(PromoteStep::Review {
                            tag,
                            keys,
                            preview: None,
                            scroll: 0,
                        });
                    }
                }
            }
            _ => {}
        },
        PromoteStep::Review {
            keys,
            preview,
            scroll,
            ..
        } => match k.code {
            KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => *scroll += 1,
            KeyCode::PageDown => *scroll += 10,
            KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
            KeyCode::Enter if matches!(preview, Some(Ok(_))) => {
                let mut editor = TextArea::new(vec![default_message(keys, &d.source, &d.target)]);
                editor.move_cursor(ratatui_textarea::CursorMove::End);
                let target_app = state
                    .snapshot
                    .apps
                    .iter()
                    .find(|a| a.app.env == d.target)
                    .map(|a| a.app.name.clone())
                    .unwrap_or_default();
                next = Some(PromoteStep::Message {
                    keys: keys.clone(),
                    editor: Box::new(editor),
                    focus: Focus::Editor,
                    guard: Guard::for_env(&state.opts, &d.target, &target_app, "Commit"),
                });
            }
            _ => {}
        },
        PromoteStep::Message {
            keys,
            editor,
            focus,
            guard,
        } => {
            let mut order = vec![Focus::Editor];
            order.extend(guard_order(guard, 0));
            let submit =
                k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('s');
            let confirmed = if *focus == Focus::Editor && !submit {
                match k.code {
                    KeyCode::Tab => {
                        *focus = cycle(&order, *focus, true);
                        None
                    }
                    KeyCode::BackTab => {
                        *focus = cycle(&order, *focus, false);
                        None
                    }
                    _ => {
                        editor.input(k);
                        None
                    }
                }
            } else if submit {
                if guard.check() {
                    Some(true)
                } else {
                    *focus = Focus::Input;
                    None
                }
            } else {
                guard_key(guard, focus, &order, &k)
            };
            match confirmed {
                Some(true) => {
                    let message = editor.lines().join("\n").trim().to_string();
                    if message.is_empty() {
                        guard.error = Some("the commit message is empty".into());
                        *focus = Focus::Editor;
                    } else {
                        let tag = state.tag();
                        effects.push(Effect::Call {
                            tag,
                            command: Command::Promote(PromoteRequest {
                                source_env: d.source.clone(),
                                target_env: d.target.clone(),
                                keys: keys.clone(),
                                message: Some(message),
                                push: true,
                            }),
                        });
                        next = Some(PromoteStep::Committing {
                            tag,
                            keys: keys.clone(),
                            outcome: None,
                        });
                    }
                }
                Some(false) => return (None, Vec::new()),
                None => {}
            }
        }
        PromoteStep::Committing { outcome, .. } => {
            if outcome.is_some() && matches!(k.code, KeyCode::Enter | KeyCode::Char('q')) {
                return (None, Vec::new());
            }
        }
    }
    if let Some(n) = next {
        let prev = std::mem::replace(&mut d.step, n);
        if matches!(d.step, PromoteStep::Committing { .. }) {
            d.back.clear();
        } else {
            d.back.push(prev);
        }
    }
    (Some(Dialog::Promote(d)), effects)
}

/// `5s`, `3m`, `2h`, `4d`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// `5m ago` relative to `now` (`-` for none, `now` for the future).
pub fn ago(now: SystemTime, t: Option<SystemTime>) -> String {
    match t {
        None => "-".into(),
        Some(t) => match now.duration_since(t) {
            Ok(d) if d.as_secs() < 1 => "now".into(),
            Ok(d) => format!("{} ago", human_duration(d)),
            Err(_) => "now".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_context_around_changes() {
        let mut text = String::from("--- live\n+++ desired\n");
        for i in 0..20 {
            text.push_str(&format!(" line{i}\n"));
        }
        text.push_str("-old\n+new\n");
        for i in 20..30 {
            text.push_str(&format!(" line{i}\n"));
        }
        let lines = fold_diff(&text);
        assert_eq!(lines[2], DiffLine::Fold(17));
        assert_eq!(lines[3], DiffLine::Context("line17".into()));
        assert!(lines.contains(&DiffLine::Del("old".into())));
        assert!(lines.contains(&DiffLine::Add("new".into())));
        // The trailing run keeps three lines then folds the rest.
        assert_eq!(lines.last(), Some(&DiffLine::Fold(7)));
    }

    #[test]
    fn short_context_is_not_folded() {
        let lines = fold_diff(" a\n-b\n+c\n d\n");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn env_rank_orders_conventionally() {
        let mut e = vec!["prod", "dev", "staging", "qa", "sandbox"];
        e.sort_by_key(|x| env_rank(x));
        assert_eq!(e, vec!["dev", "qa", "staging", "prod", "sandbox"]);
    }

    /// (kind, name, owner as (kind, name)), all in namespace `ns`.
    type TestRow<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);

    fn app_with(rows: &[TestRow]) -> AppState {
        use crate::app::{App, AppSource, Destination, DirectorySource, SourceKind, SyncPolicy};
        use crate::engine::api::{ResourceState, SyncStatus};
        let app = App {
            name: "a".into(),
            env: "dev".into(),
            project: "default".into(),
            origin: String::new(),
            source: AppSource {
                repo_url: String::new(),
                path: String::new(),
                target_revision: "HEAD".into(),
                kind: SourceKind::Directory(DirectorySource::default()),
            },
            destination: Destination {
                server: None,
                name: None,
                namespace: "ns".into(),
            },
            sync_policy: SyncPolicy::default(),
            revision_history_limit: 10,
            ignore_differences: Vec::new(),
        };
        let mut a = AppState::new(app, "c".into());
        a.resources = rows
            .iter()
            .map(|(kind, name, owner)| ResourceRow {
                key: ResourceKey::new("", kind, "ns", name),
                version: "v1".into(),
                state: ResourceState::Synced,
                sync: SyncStatus::Synced,
                health: None,
                message: String::new(),
                owners: owner
                    .iter()
                    .map(|(k, n)| ResourceKey::new("", k, "ns", n))
                    .collect(),
                wave: 0,
                hook: false,
                prune_disabled: false,
                foreign_owner: None,
                ignored_changes: Vec::new(),
                pod: None,
            })
            .collect();
        a
    }

    #[test]
    fn owner_tree_sorts_full_names_and_keeps_odd_owners_out_of_loops() {
        let long = "astromesh-prod-5d8f9c7b6";
        let p = |s: &str| format!("{long}-{s}");
        let (p1, p2, p3, p4) = (p("x2k4m"), p("a1b2c"), p("a1b2"), p("zz"));
        let rs = Some(("ReplicaSet", long));
        let a = app_with(&[
            ("Pod", &p1, rs),
            ("Pod", &p2, rs),
            ("ReplicaSet", long, Some(("Deployment", "astromesh-prod"))),
            ("Pod", &p3, rs),
            ("Deployment", "astromesh-prod", None),
            ("ConfigMap", "b", None),
            ("ConfigMap", "a", None),
            // Owned by something not in the App: a root.
            ("Pod", &p4, Some(("ReplicaSet", "gone"))),
            // Owns itself: a root.
            ("Widget", "self", Some(("Widget", "self"))),
            // Own each other: unreachable from any root, so not in the tree.
            ("Loop", "x", Some(("Loop", "y"))),
            ("Loop", "y", Some(("Loop", "x"))),
        ]);
        let views = super::super::view::build_views(&a);
        let name = |i: usize| a.resources[i].key.name.as_str();
        let tree: Vec<(u16, &str)> = views.tree.iter().map(|n| (n.depth, name(n.idx))).collect();
        assert_eq!(
            tree,
            vec![
                (0, "a"),
                (0, "b"),
                (0, "astromesh-prod"),
                (1, long),
                (2, p3.as_str()),
                (2, p2.as_str()),
                (2, p1.as_str()),
                (0, p4.as_str()),
                (0, "self"),
            ]
        );
        let pods: Vec<&str> = views.pods.iter().map(|i| name(*i)).collect();
        assert_eq!(
            pods,
            vec![p3.as_str(), p2.as_str(), p1.as_str(), p4.as_str()]
        );
        assert_eq!(views.parent[0], Some(2));
        assert_eq!(views.parent[8], None);
        assert_eq!(views.parent[9], Some(10));
    }

    #[test]
    fn key_index_finds_every_key_and_misses_others() {
        let names: Vec<String> = (0..300)
            .map(|i| format!("pod-{i:05}-with-a-long-name"))
            .collect();
        let rows: Vec<TestRow> = names.iter().map(|n| ("Pod", n.as_str(), None)).collect();
        let a = app_with(&rows);
        let index = KeyIndex::new(&a.resources);
        for (i, r) in a.resources.iter().enumerate() {
            assert_eq!(index.get(&r.key), Some(i));
        }
        assert_eq!(
            index.get(&ResourceKey::new("", "Pod", "other", &names[0])),
            None
        );
        assert_eq!(
            index.get(&ResourceKey::new("", "Service", "ns", &names[0])),
            None
        );
    }

    #[test]
    fn views_carry_over_when_only_statuses_change() {
        let rs = Some(("ReplicaSet", "r"));
        let a = app_with(&[("ReplicaSet", "r", None), ("Pod", "p", rs)]);
        let snap = |a: &AppState| Snapshot {
            apps: vec![a.clone()],
            ..Snapshot::default()
        };
        let mut state = State::new(UiOptions::default(), snap(&a), SystemTime::UNIX_EPOCH);
        let first = state.views(&state.snapshot.apps[0]);
        let mut b = a.clone();
        b.resources[1].message = "restarting".into();
        update(&mut state, Action::Snapshot(snap(&b)));
        assert!(Rc::ptr_eq(&first, &state.views(&state.snapshot.apps[0])));
        let mut c = b.clone();
        c.resources[1].key.name = "p2".into();
        update(&mut state, Action::Snapshot(snap(&c)));
        let third = state.views(&state.snapshot.apps[0]);
        assert!(!Rc::ptr_eq(&first, &third));
        assert_eq!(third.pods, vec![1]);
    }

    /// Issue 22 point 8: quitting while an operation of this session runs asks first; "leave"
    /// quits at once, "wait" quits once it ended, "abandon" asks the engine to abandon it and
    /// quits once it ended.
    #[test]
    fn quitting_mid_operation_asks_wait_leave_or_abandon() {
        use crate::engine::api::{OperationInfo, OperationKind};
        let idle = app_with(&[]);
        let mut busy = idle.clone();
        busy.operation = Some(OperationInfo {
            kind: OperationKind::Sync,
            initiated_by: "me@here".into(),
            since: SystemTime::UNIX_EPOCH,
            phase: "Sync".into(),
            wave: 0,
            done: 0,
            total: 2,
            attempt: 0,
        });
        let snap = |a: &AppState| Snapshot {
            apps: vec![a.clone()],
            ..Snapshot::default()
        };
        let q = || Action::Key(KeyEvent::from(KeyCode::Char('q')));
        let key = |c: char| Action::Key(KeyEvent::from(KeyCode::Char(c)));

        // Nothing running: q quits.
        let mut state = State::new(UiOptions::default(), snap(&idle), SystemTime::UNIX_EPOCH);
        update(&mut state, q());
        assert!(state.quit);

        // Running: q asks; Esc goes back; l leaves it and quits.
        let mut state = State::new(UiOptions::default(), snap(&busy), SystemTime::UNIX_EPOCH);
        update(&mut state, q());
        assert!(!state.quit);
        assert!(matches!(&state.dialog, Some(Dialog::Quit(d)) if d.apps == ["a"]));
        update(&mut state, Action::Key(KeyEvent::from(KeyCode::Esc)));
        assert!(state.dialog.is_none() && !state.quit);
        update(&mut state, q());
        update(&mut state, key('l'));
        assert!(state.quit);

        // w: quits once the operation has ended.
        let mut state = State::new(UiOptions::default(), snap(&busy), SystemTime::UNIX_EPOCH);
        update(&mut state, q());
        assert!(update(&mut state, key('w')).is_empty());
        update(&mut state, Action::Tick(SystemTime::UNIX_EPOCH));
        assert!(!state.quit);
        update(&mut state, Action::Snapshot(snap(&idle)));
        assert!(state.quit);

        // a: the engine is asked to abandon; quits once the operation has ended.
        let mut state = State::new(UiOptions::default(), snap(&busy), SystemTime::UNIX_EPOCH);
        update(&mut state, q());
        let effects = update(&mut state, key('a'));
        assert_eq!(effects, vec![Effect::Send(Command::Abandon { app: None })]);
        assert!(!state.quit);
        update(&mut state, Action::Snapshot(snap(&idle)));
        assert!(state.quit);
    }

    #[test]
    fn durations_are_compact() {
        assert_eq!(human_duration(Duration::from_secs(59)), "59s");
        assert_eq!(human_duration(Duration::from_secs(600)), "10m");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2h");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(ago(t0 + Duration::from_secs(90), Some(t0)), "1m ago");
        assert_eq!(ago(t0, None), "-");
    }
}
