//! Rendering: `render(&State, &mut Frame)`. Pure functions of the state; only the rows on screen
//! are built, so a frame costs the same with 10 or 10,000 resources.
//!
//! Over 600 lines: to be split into `view/<pane>.rs` and one file per dialog (issue 16).

use std::collections::HashMap;
use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Tabs};

use crate::engine::api::{
    AppState, CommandOutcome, ConditionKind, HealthStatus, NoticeLevel, OperationPhase, PodEvent,
    ResourceState, ResultCode, SyncStatus,
};
use crate::engine::pods::{self, Severity};

use super::errtext;
use super::keymap::KeyAction;
use super::state::{
    AppRow, Dialog, DiffLine, Focus, Guard, Input, PALETTE, Pane, PromoteStep, RollbackStep,
    SYNC_FLAGS, Screen, SessionSync, State, ago, kind_label, sorted_history,
};
use super::theme::Theme;

/// Width from which tables show every column.
const WIDE: u16 = 120;
/// Width from which the Apps table shows destination, subjects and messages.
const WIDE_APPS: u16 = 150;
/// Width from which the Apps table has a message column.
const MID_APPS: u16 = 100;
/// Width below which the Apps table drops the revision and last-sync columns.
const NARROW_APPS: u16 = 76;

pub fn render(state: &State, f: &mut Frame) {
    let area = f.area();
    let t = &state.opts.theme;
    let log_h = if state.show_log {
        (area.height / 3).max(4)
    } else {
        0
    };
    let [header, body, log, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(log_h),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(state, f, header);
    match state.screen {
        Screen::Apps => render_apps(state, f, body),
        Screen::Detail => render_detail(state, f, body),
    }
    if state.show_log {
        render_log(state, f, log);
    }
    render_status(state, f, status);
    if let Some(d) = &state.dialog {
        render_dialog(state, d, f, body);
    }
    if state.help {
        render_help(state, f, body);
    }
    let _ = t;
}

fn trunc(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}

fn spinner(state: &State) -> &'static str {
    let s = state.opts.theme.symbols.spinner;
    s[(state.tick as usize) % s.len()]
}

fn render_header(state: &State, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let snap = &state.snapshot;
    let out = snap
        .apps
        .iter()
        .filter(|a| a.sync == SyncStatus::OutOfSync)
        .count();
    let bad = snap
        .apps
        .iter()
        .filter(|a| a.health == HealthStatus::Degraded)
        .count();
    let mut spans = vec![
        Span::styled(format!(" {} ", state.opts.title), t.title),
        Span::styled("│ ", t.dim),
    ];
    let repo = if snap.repo.url.is_empty() {
        "(no repository yet)".to_string()
    } else {
        let head = snap
            .repo
            .head
            .as_ref()
            .map(|h| format!(" @ {}", h.short()))
            .unwrap_or_default();
        format!("{} {}{head}", snap.repo.url, snap.repo.branch)
    };
    let note = local_changes_note(&snap.repo, area.width >= WIDE);
    // The note about undeployed local work is worth more than the rest of the URL.
    let budget = (area.width as usize)
        .saturating_sub(48 + note.as_ref().map_or(0, |n| n.chars().count() + 3));
    spans.push(Span::raw(trunc(&repo, budget.max(10))));
    spans.push(Span::styled(" │ ", t.dim));
    spans.push(Span::raw(format!("{} apps", snap.apps.len())));
    if out > 0 {
        spans.push(Span::styled(
            format!(" {} {out}", t.symbols.out_of_sync),
            t.warn,
        ));
    }
    if bad > 0 {
        spans.push(Span::styled(
            format!(" {} {bad}", t.symbols.degraded),
            t.error,
        ));
    }
    if snap.loading {
        spans.push(Span::styled(
            format!(" {} loading", spinner(state)),
            t.progress,
        ));
    }
    if snap.repo.error.is_some() {
        spans.push(Span::styled(" repo error", t.error));
    }
    if let Some(note) = note {
        spans.push(Span::styled(format!(" ! {note}"), t.warn));
    }
    if state.opts.readonly {
        spans.push(Span::styled(
            " [READ-ONLY]",
            t.warn.add_modifier(Modifier::BOLD),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The header's note about work in the clone the engine does not deploy: uncommitted files and
/// commits not pushed. `None` when there is none.
fn local_changes_note(repo: &crate::engine::api::RepoStatus, wide: bool) -> Option<String> {
    let n = repo.uncommitted.len();
    let mut parts = Vec::new();
    if n > 0 {
        parts.push(format!("{n} uncommitted"));
    }
    if repo.ahead > 0 {
        parts.push(format!("{} unpushed", repo.ahead));
    }
    if parts.is_empty() {
        return None;
    }
    Some(if wide {
        format!(
            "{}: not deployed until committed and pushed",
            parts.join(", ")
        )
    } else {
        format!("{} not deployed", parts.join(", "))
    })
}

/// The App detail's line about its files changed in the clone but not deployed.
fn app_local_changes(state: &State, a: &AppState) -> Option<String> {
    let repo = &state.snapshot.repo;
    let files = repo.uncommitted_under(&a.app.source.path);
    let mut parts = Vec::new();
    match files.as_slice() {
        [] => {}
        [one] => parts.push(format!("{one} has uncommitted changes")),
        many => parts.push(format!(
            "{} files under {} have uncommitted changes",
            many.len(),
            a.app.source.path
        )),
    }
    if repo.ahead > 0 {
        parts.push(format!(
            "{} local commit{} not on {}",
            repo.ahead,
            if repo.ahead == 1 { "" } else { "s" },
            repo.upstream.as_deref().unwrap_or("the remote")
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "{}: not deployed until committed and pushed",
            parts.join("; ")
        )
    })
}

fn render_status(state: &State, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    // What the session does on its own stays at the right end whatever the left shows: the
    // longest wording that leaves 24 columns to the left, none when even the shortest does not.
    let mut area = area;
    let fitting = session_note(state).and_then(|(notes, style)| {
        notes
            .into_iter()
            .find(|n| area.width as usize >= n.chars().count() + 3 + 24)
            .map(|n| (n, style))
    });
    if let Some((note, style)) = fitting {
        let w = note.chars().count() as u16 + 3;
        let [left, right] =
            Layout::horizontal([Constraint::Min(1), Constraint::Length(w)]).areas(area);
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(" │ ", t.dim),
                Span::styled(note, style),
            ])),
            right,
        );
        area = left;
    }
    let line = match &state.input {
        Some(Input::Filter(s)) => Line::from(vec![
            Span::styled("/", t.key),
            Span::raw(s.clone()),
            Span::styled("█", t.dim),
            Span::styled("  enter keep · esc clear", t.dim),
        ]),
        Some(Input::Search(s)) => Line::from(vec![
            Span::styled("search diff /", t.key),
            Span::raw(s.clone()),
            Span::styled("█", t.dim),
            Span::styled("  enter find · n/N next/prev", t.dim),
        ]),
        Some(Input::Palette(s)) if !state.palette_candidates.is_empty() => Line::from(vec![
            Span::styled(":", t.key),
            Span::raw(s.clone()),
            Span::styled("█", t.dim),
            Span::styled(
                format!("  tab: {}", state.palette_candidates.join("  ")),
                t.dim,
            ),
        ]),
        Some(Input::Palette(s)) => {
            let hint = PALETTE
                .iter()
                .filter(|(c, _)| {
                    !s.is_empty() && c[1..].starts_with(s.split_whitespace().next().unwrap_or(""))
                })
                .map(|(c, _)| *c)
                .take(4)
                .collect::<Vec<_>>()
                .join("  ");
            Line::from(vec![
                Span::styled(":", t.key),
                Span::raw(s.clone()),
                Span::styled("█", t.dim),
                Span::styled(format!("  {hint}"), t.dim),
            ])
        }
        None => status_with_hints(state, area.width as usize),
    };
    f.render_widget(Paragraph::new(line), area);
}

/// What this session does on its own, for the status line: whether keeping the console open
/// changes the cluster, and where.
fn session_note(state: &State) -> Option<(Vec<String>, Style)> {
    let t = &state.opts.theme;
    let text = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if state.opts.readonly {
        return (state.opts.session_sync != SessionSync::Unstated).then(|| {
            (
                text(&[
                    "read-only: this session changes nothing (no auto-sync)",
                    "read-only: changes nothing",
                ]),
                t.dim,
            )
        });
    }
    match &state.opts.session_sync {
        SessionSync::Unstated => None,
        SessionSync::External => Some((
            text(&[
                "auto-sync left to `sextant reconcile` ([reconcile] in_ui = false)",
                "auto-sync left to `sextant reconcile`",
                "no auto-sync here",
            ]),
            t.dim,
        )),
        SessionSync::Auto { exclude } => {
            let mut on: Vec<&str> = Vec::new();
            let mut held: Vec<&str> = Vec::new();
            for a in &state.snapshot.apps {
                if !a.auto_sync.enabled {
                    continue;
                }
                let env = a.app.env.as_str();
                if crate::engine::reconcile::auto_sync_excluded(exclude, &a.app) {
                    held.push(env);
                } else {
                    on.push(env);
                }
            }
            for v in [&mut on, &mut held] {
                v.sort_unstable();
                v.dedup();
            }
            let envs = if on.is_empty() {
                "nothing (no App has auto-sync on)".to_string()
            } else {
                on.join(", ")
            };
            let mut notes = Vec::new();
            if !held.is_empty() {
                notes.push(format!(
                    "this session auto-syncs: {envs} (not {}: protected, start with --yes)",
                    held.join(", ")
                ));
            }
            notes.push(format!("this session auto-syncs: {envs}"));
            notes.push(format!("auto-syncs: {envs}"));
            Some((notes, t.warn))
        }
    }
}

/// The last message (if any, and about this screen) on the left, the key hints on the right:
/// a message never hides the hints entirely. When both do not fit, hints go from the end
/// (`? help` stays), then the message is cut.
fn status_with_hints(state: &State, width: usize) -> Line<'static> {
    let t = &state.opts.theme;
    let hints = key_hints(state);
    // `key label` pairs two spaces apart.
    let hint_w = |n: usize| -> usize {
        let pairs: usize = hints[..n]
            .iter()
            .map(|(k, l)| k.chars().count() + 1 + l.chars().count())
            .sum();
        pairs + 2 * n.saturating_sub(1)
    };
    let Some(s) = state.visible_status() else {
        let mut k = hints.len();
        while k > 1 && hint_w(k) > width {
            k -= 1;
        }
        return Line::from(hint_spans(t, &hints[..k]));
    };
    let style = match s.level {
        NoticeLevel::Info => t.info,
        NoticeLevel::Warn => t.warn,
        NoticeLevel::Error => t.error,
    };
    // Only the first line of a multi-line message fits here; the log pane (L) has it whole.
    let text = s.text.lines().next().unwrap_or("");
    let msg_w = text.chars().count();
    // Keep at least half the line for the message before giving up hints.
    let mut k = hints.len();
    while k > 1 && msg_w + 2 + hint_w(k) > width && hint_w(k) > width / 2 {
        k -= 1;
    }
    while k > 1 && msg_w + 2 + hint_w(k) > width {
        k -= 1;
    }
    let room = width.saturating_sub(hint_w(k) + 2);
    let shown = trunc(text, room);
    let pad = width.saturating_sub(shown.chars().count() + hint_w(k));
    let mut spans = vec![Span::styled(shown, style), Span::raw(" ".repeat(pad))];
    spans.extend(hint_spans(t, &hints[..k]));
    Line::from(spans)
}

fn hint_spans(t: &Theme, hints: &[(String, &'static str)]) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (i, (k, l)) in hints.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(k.clone(), t.key));
        spans.push(Span::styled(format!(" {l}"), t.dim));
    }
    spans
}

/// (key, label) of the hints of the current screen, most important first.
fn key_hints(state: &State) -> Vec<(String, &'static str)> {
    let km = &state.opts.keymap;
    let mut acts = vec![KeyAction::Help, KeyAction::Filter, KeyAction::Palette];
    if !state.opts.readonly {
        acts.extend([KeyAction::Sync, KeyAction::Rollback, KeyAction::Promote]);
    }
    acts.extend([KeyAction::Diff, KeyAction::Quit]);
    let mut out = Vec::new();
    for a in acts {
        let label = match a {
            KeyAction::Help => "help",
            KeyAction::Filter => {
                if state.screen == Screen::Detail {
                    "search"
                } else {
                    "filter"
                }
            }
            KeyAction::Palette => "cmd",
            KeyAction::Sync => "sync",
            KeyAction::Rollback => "rollback",
            KeyAction::Promote => "promote",
            KeyAction::Diff => "diff",
            KeyAction::Quit => "quit",
            _ => "",
        };
        out.push((km.first_key(a), label));
    }
    out
}

fn sync_cell(t: &Theme, s: SyncStatus) -> Cell<'static> {
    Cell::from(Span::styled(
        format!("{} {}", t.sync_symbol(s), s.as_str()),
        t.sync_style(s),
    ))
}

fn health_cell(t: &Theme, h: HealthStatus) -> Cell<'static> {
    Cell::from(Span::styled(
        format!("{} {}", t.health_symbol(h), h.as_str()),
        t.health_style(h),
    ))
}

fn flags(a: &AppState) -> String {
    let s = &a.auto_sync;
    let mut out = String::new();
    out.push(if s.enabled { 'A' } else { '-' });
    out.push(if s.enabled && s.self_heal { 'H' } else { '-' });
    out.push(if s.enabled && s.prune { 'P' } else { '-' });
    if s.overridden {
        out.push('*');
    }
    out
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

fn revision_pair(t: &Theme, a: &AppState) -> String {
    let dep = a
        .deployed
        .as_ref()
        .map(|r| r.short().to_string())
        .unwrap_or_else(|| "-------".into());
    let tgt = a
        .revision
        .as_ref()
        .map(|r| r.short().to_string())
        .unwrap_or_else(|| "-------".into());
    if dep == tgt {
        dep
    } else {
        format!("{dep}{}{tgt}", t.symbols.arrow)
    }
}

fn app_error(a: &AppState) -> Option<&str> {
    a.conditions
        .iter()
        .find(|c| {
            matches!(
                c.kind,
                ConditionKind::ComparisonError
                    | ConditionKind::ClusterError
                    | ConditionKind::SyncError
            )
        })
        .map(|c| c.message.as_str())
}

/// The operation cell: `⠋ sync 3/9` while running.
fn operation_text(state: &State, a: &AppState) -> Option<String> {
    a.operation.as_ref().map(|op| {
        format!(
            "{} {} {}/{}",
            spinner(state),
            kind_label(op.kind),
            op.done,
            op.total
        )
    })
}

/// Rows to show so that `sel` stays visible: (first, count).
fn window(len: usize, sel: usize, height: usize) -> (usize, usize) {
    if height == 0 {
        return (0, 0);
    }
    let first = if sel >= height { sel + 1 - height } else { 0 };
    (first, height.min(len.saturating_sub(first)))
}

/// The bordered frame of a list pane, titled.
fn pane_block<'a>(t: &Theme, title: String) -> Block<'a> {
    Block::bordered()
        .border_style(t.border)
        .title(Span::styled(title, t.title))
}

/// A list pane's table: header row in the header style, inside `block`. Apps, Resources, History
/// and Pods all share this shape.
fn framed_table<'a>(
    t: &Theme,
    block: Block<'a>,
    header: Vec<&'a str>,
    widths: Vec<Constraint>,
    rows: Vec<Row<'a>>,
) -> Table<'a> {
    Table::new(rows, widths)
        .header(Row::new(header).style(t.header))
        .block(block)
}

/// Why a framed table has no rows, on the line under its header.
fn empty_table_message(t: &Theme, f: &mut Frame, table_area: Rect, msg: String) {
    let inner = Rect {
        x: table_area.x + 2,
        y: table_area.y + 2,
        width: table_area.width.saturating_sub(4),
        height: 1,
    };
    f.render_widget(Paragraph::new(Span::styled(msg, t.dim)), inner);
}

/// Highlight the row under the cursor.
fn mark_selected<'a>(row: Row<'a>, t: &Theme, selected: bool) -> Row<'a> {
    if selected { row.style(t.selected) } else { row }
}

fn render_apps(state: &State, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let wide = area.width >= WIDE_APPS;
    // Between the narrow and the wide layout: a message column; below 76 columns the revision
    // and last-sync columns go so SYNC and HEALTH are never cut mid-word.
    let mid = !wide && area.width >= MID_APPS;
    let narrow = area.width < NARROW_APPS;
    let (rows, groups) = state.app_rows();
    // Longest name plus the error mark, within reason.
    let name_w = rows
        .iter()
        .filter_map(|r| match r {
            AppRow::App(i) => Some(state.snapshot.apps[*i].app.name.chars().count() + 2),
            AppRow::Group(_) => None,
        })
        .max()
        .unwrap_or(12)
        .clamp(12, 40) as u16;
    let show_summary = area.height >= 12;
    let [table_area, summary_area] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(if show_summary { 4 } else { 0 }),
    ])
    .areas(area);
    let block = pane_block(
        t,
        if state.filter.is_empty() {
            " Apps ".to_string()
        } else {
            format!(" Apps /{} ", state.filter)
        },
    );
    let inner_h = table_area.height.saturating_sub(3) as usize;
    let sel_row = rows
        .iter()
        .position(|r| match r {
            AppRow::App(i) => {
                state.selected.as_deref() == Some(state.snapshot.apps[*i].app.name.as_str())
            }
            AppRow::Group(_) => false,
        })
        .unwrap_or(0);
    let (first, count) = window(rows.len(), sel_row, inner_h);
    let header: Vec<&str> = if wide {
        vec![
            "NAME",
            "ENV",
            "DESTINATION",
            "SYNC",
            "HEALTH",
            "REVISION (deployed→target)",
            "LAST SYNC",
            "AUTO",
            "OPERATION / MESSAGE",
        ]
    } else {
        let mut h = vec!["NAME", "ENV", "SYNC", "HEALTH"];
        if !narrow {
            h.extend(["REVISION", "LAST"]);
        }
        h.push("AUTO");
        if mid {
            h.push("OPERATION / MESSAGE");
        }
        h
    };
    let widths: Vec<Constraint> = if wide {
        vec![
            Constraint::Min(18),
            Constraint::Length(8),
            Constraint::Length(24),
            Constraint::Length(11),
            Constraint::Length(13),
            Constraint::Length(32),
            Constraint::Length(16),
            Constraint::Length(4),
            Constraint::Fill(1),
        ]
    } else {
        // With a message column, NAME takes what the names need and the message the rest.
        let mut w = vec![
            if mid {
                Constraint::Length(name_w)
            } else {
                Constraint::Min(17)
            },
            Constraint::Length(7),
            Constraint::Length(11),
            Constraint::Length(13),
        ];
        if !narrow {
            w.extend([Constraint::Length(15), Constraint::Length(4)]);
        }
        w.push(Constraint::Length(4));
        if mid {
            w.push(Constraint::Fill(1));
        }
        w
    };
    // The message column's width, so an error summary can keep its end (the cause) in view.
    let msg_width = Layout::horizontal(widths.clone())
        .spacing(1)
        .split(block.inner(table_area))
        .last()
        .map_or(0, |r| r.width as usize);
    let mut out_rows = Vec::with_capacity(count);
    for r in &rows[first..first + count] {
        match r {
            AppRow::Group(g) => {
                out_rows.push(Row::new(vec![Cell::from(Span::styled(
                    format!("▸ {}", groups[*g]),
                    t.group,
                ))]));
            }
            AppRow::App(i) => {
                let a = &state.snapshot.apps[*i];
                let selected = state.selected.as_deref() == Some(a.app.name.as_str());
                let err = app_error(a);
                let name = if err.is_some() {
                    format!("{} !", a.app.name)
                } else {
                    a.app.name.clone()
                };
                let name_style = if err.is_some() { t.error } else { t.base };
                // Without a message column the SYNC cell shows a running operation, in words
                // that fit its 11 columns (the summary below has the counts).
                let sync = match &a.operation {
                    Some(op) if !wide && !mid => Cell::from(Span::styled(
                        format!("{} {}", spinner(state), kind_label(op.kind)),
                        t.progress,
                    )),
                    _ => sync_cell(t, a.sync),
                };
                let mut cells = vec![
                    Cell::from(Span::styled(name, name_style)),
                    Cell::from(a.app.env.clone()),
                ];
                if wide {
                    cells.push(Cell::from(format!(
                        "{}/{}",
                        a.cluster, a.app.destination.namespace
                    )));
                }
                cells.push(sync);
                cells.push(health_cell(t, a.health));
                if wide {
                    let pair = revision_pair(t, a);
                    let style = if pair.contains(t.symbols.arrow) {
                        t.warn
                    } else {
                        t.base
                    };
                    let subject = a
                        .revision
                        .as_ref()
                        .or(a.deployed.as_ref())
                        .map(|r| r.subject.as_str())
                        .unwrap_or("");
                    cells.push(Cell::from(Line::from(vec![
                        Span::styled(pair, style),
                        Span::raw(" "),
                        Span::styled(subject.to_string(), t.dim),
                    ])));
                    let by = a
                        .last_sync
                        .as_ref()
                        .map(|l| {
                            format!(
                                "{} {}",
                                ago(state.now, Some(l.time)),
                                l.initiated_by.split('@').next().unwrap_or("")
                            )
                        })
                        .unwrap_or_else(|| "-".into());
                    cells.push(Cell::from(by));
                    cells.push(Cell::from(flags(a)));
                    cells.push(app_message(state, a, msg_width));
                } else {
                    let pair = revision_pair(t, a);
                    let style = if pair.contains(t.symbols.arrow) {
                        t.warn
                    } else {
                        t.base
                    };
                    if !narrow {
                        cells.push(Cell::from(Span::styled(pair, style)));
                        cells.push(Cell::from(
                            ago(state.now, a.last_sync.as_ref().map(|l| l.time))
                                .trim_end_matches(" ago")
                                .to_string(),
                        ));
                    }
                    cells.push(Cell::from(flags(a)));
                    if mid {
                        cells.push(app_message(state, a, msg_width));
                    }
                }
                out_rows.push(mark_selected(Row::new(cells), t, selected));
            }
        }
    }
    let empty = rows.is_empty();
    f.render_widget(framed_table(t, block, header, widths, out_rows), table_area);
    if empty {
        let msg = if state.snapshot.loading {
            format!("{} discovering Apps…", spinner(state))
        } else if !state.filter.is_empty() {
            format!("no App matches /{} (esc clears)", state.filter)
        } else {
            "no Apps found: check [repo] in config.toml (or run `sextant demo`)".into()
        };
        empty_table_message(t, f, table_area, msg);
    }
    if show_summary {
        render_app_summary(state, f, summary_area);
    }
}

/// The Apps table's OPERATION / MESSAGE cell: the running operation, else the error's summary
/// (its cause kept in view within `width`), else the health message.
fn app_message(state: &State, a: &AppState, width: usize) -> Cell<'static> {
    let t = &state.opts.theme;
    let (txt, style) = match (operation_text(state, a), app_error(a)) {
        (Some(op), _) => (
            format!(
                "{op} {}",
                a.operation.as_ref().map(|o| o.phase.as_str()).unwrap_or("")
            ),
            t.progress,
        ),
        (None, Some(e)) => (errtext::summary(e, width), t.error),
        (None, None) => (a.health_message.clone(), t.dim),
    };
    Cell::from(Span::styled(txt, style))
}

fn render_app_summary(state: &State, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let Some(a) = state.current_app() else {
        return;
    };
    let w = area.width as usize;
    let rev = |label: &str, r: &Option<crate::engine::api::Revision>| {
        r.as_ref()
            .map(|r| format!("{label} {} {}", r.short(), r.subject))
            .unwrap_or_else(|| format!("{label} -"))
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(a.app.name.clone(), t.header),
            Span::styled(
                format!(" → {}/{}", a.cluster, a.app.destination.namespace),
                t.dim,
            ),
            Span::raw(format!(
                "  last sync {}",
                a.last_sync
                    .as_ref()
                    .map(|l| format!("{} by {}", ago(state.now, Some(l.time)), l.initiated_by))
                    .unwrap_or_else(|| "never".into())
            )),
        ]),
        Line::from(trunc(
            &format!(
                "{}   {}",
                rev("deployed", &a.deployed),
                rev("target", &a.revision)
            ),
            w,
        )),
    ];
    let third = if let Some(op) = &a.operation {
        Line::from(Span::styled(
            trunc(
                &format!(
                    "{} {} by {}: {} wave {} {}/{}",
                    spinner(state),
                    kind_label(op.kind),
                    op.initiated_by,
                    op.phase,
                    op.wave,
                    op.done,
                    op.total
                ),
                w,
            ),
            t.progress,
        ))
    } else if let Some(e) = app_error(a) {
        Line::from(Span::styled(errtext::summary(e, w), t.error))
    } else {
        Line::from(Span::styled(
            trunc(
                &format!(
                    "auto-sync {}{}{}{}  {}",
                    if a.auto_sync.enabled { "on" } else { "off" },
                    if a.auto_sync.enabled && a.auto_sync.self_heal {
                        " self-heal"
                    } else {
                        ""
                    },
                    if a.auto_sync.enabled && a.auto_sync.prune {
                        " prune"
                    } else {
                        ""
                    },
                    if a.auto_sync.overridden {
                        " (overridden in cluster)"
                    } else {
                        ""
                    },
                    a.health_message
                ),
                w,
            ),
            t.dim,
        ))
    };
    lines.push(third);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(ratatui::widgets::Borders::TOP)
                .border_style(t.border),
        ),
        area,
    );
}

fn render_detail(state: &State, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let Some(a) = state.app(&state.detail.app) else {
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("App {} is gone (esc back)", state.detail.app),
                t.error,
            )),
            area,
        );
        return;
    };
    let w = area.width as usize;
    // A failing App's whole error, wrapped: the cause is often on a line after the preamble.
    let err_lines: Vec<String> = match (&a.operation, app_error(a)) {
        (None, Some(e)) => {
            let mut lines = errtext::wrap(e, w);
            // Leave room for the tabs and a few lines of the pane below.
            let cap = (area.height as usize).saturating_sub(8).max(1);
            if lines.len() > cap {
                let more = lines.len() - cap + 1;
                lines.truncate(cap - 1);
                lines.push(format!(
                    "… {more} more lines (a taller terminal shows them)"
                ));
            }
            lines
        }
        _ => Vec::new(),
    };
    let local: Vec<String> = app_local_changes(state, a)
        .map(|n| errtext::wrap(&format!("! {n}"), w))
        .unwrap_or_default();
    let head_h = 3 + err_lines.len().max(1) as u16 + local.len() as u16;
    let [head, tabs, body] = Layout::vertical([
        Constraint::Length(head_h),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(area);
    let rev = |r: &Option<crate::engine::api::Revision>| {
        r.as_ref()
            .map(|r| format!("{} {}", r.short(), r.subject))
            .unwrap_or_else(|| "-".into())
    };
    let protected = state.is_protected(a);
    let mut l1 = vec![
        Span::styled(a.app.name.clone(), t.title),
        Span::raw(format!("  env {}", a.app.env)),
        Span::styled(
            format!("  → {}/{}", a.cluster, a.app.destination.namespace),
            t.dim,
        ),
    ];
    if protected {
        l1.push(Span::styled("  [protected]", t.warn));
    }
    let l2 = Line::from(vec![
        Span::styled(
            format!("{} {}", t.sync_symbol(a.sync), a.sync.as_str()),
            t.sync_style(a.sync),
        ),
        Span::raw("  "),
        Span::styled(
            format!("{} {}", t.health_symbol(a.health), a.health.as_str()),
            t.health_style(a.health),
        ),
        Span::styled(
            if a.health_message.is_empty() {
                String::new()
            } else {
                format!(": {}", trunc(&a.health_message, w.saturating_sub(40)))
            },
            t.dim,
        ),
        Span::raw(format!(
            "  auto-sync {}{}{}",
            if a.auto_sync.enabled { "on" } else { "off" },
            if a.auto_sync.enabled && a.auto_sync.self_heal {
                "+heal"
            } else {
                ""
            },
            if a.auto_sync.overridden {
                " (override)"
            } else {
                ""
            },
        )),
    ]);
    let l3 = Line::from(trunc(
        &format!(
            "deployed {}  {}  target {}",
            rev(&a.deployed),
            t.symbols.arrow,
            rev(&a.revision)
        ),
        w,
    ));
    let l4 = if !err_lines.is_empty() {
        err_lines
            .iter()
            .map(|l| Line::from(Span::styled(l.clone(), t.error)))
            .collect()
    } else if let Some(op) = &a.operation {
        vec![Line::from(Span::styled(
            trunc(
                &format!(
                    "{} {} by {}: {} · wave {} · {}/{}",
                    spinner(state),
                    kind_label(op.kind),
                    op.initiated_by,
                    op.phase,
                    op.wave,
                    op.done,
                    op.total
                ),
                w,
            ),
            t.progress,
        ))]
    } else {
        vec![Line::from(Span::styled(
            trunc(
                &format!(
                    "last sync {}",
                    a.last_sync
                        .as_ref()
                        .map(|l| format!(
                            "{} by {} ({})",
                            ago(state.now, Some(l.time)),
                            l.initiated_by,
                            if l.succeeded { "succeeded" } else { "failed" }
                        ))
                        .unwrap_or_else(|| "never".into())
                ),
                w,
            ),
            t.dim,
        ))]
    };
    let mut lines = vec![Line::from(l1), l2, l3];
    lines.extend(l4);
    lines.extend(
        local
            .into_iter()
            .map(|l| Line::from(Span::styled(l, t.warn))),
    );
    f.render_widget(Paragraph::new(lines), head);
    let pods_n = state.views(a).pods.len();
    let titles: Vec<Line> = Pane::ALL
        .iter()
        .map(|p| {
            let n = match p {
                Pane::Resources => a.resources.len(),
                Pane::Diff => a.diffs.len(),
                Pane::History => a.history.len(),
                Pane::Pods => pods_n,
            };
            Line::from(format!("{} ({n})", p.title()))
        })
        .collect();
    let sel = Pane::ALL
        .iter()
        .position(|p| *p == state.detail.pane())
        .unwrap_or(0);
    f.render_widget(
        Tabs::new(titles)
            .select(sel)
            .style(t.dim)
            .highlight_style(t.selected)
            .divider("│"),
        tabs,
    );
    match state.detail.pane() {
        Pane::Resources => render_resources(state, a, f, body),
        Pane::Diff => render_diff(state, a, f, body),
        Pane::History => render_history(state, a, f, body),
        Pane::Pods => render_pods(state, a, f, body),
    }
}

/// Sort order of kinds in the tree: the order a sync applies them.
fn kind_rank(kind: &str) -> usize {
    const ORDER: [&str; 16] = [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Service",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Pod",
        "Job",
        "HorizontalPodAutoscaler",
        "Ingress",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// One row of the owner tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeNode {
    /// Index into `app.resources`.
    pub idx: usize,
    pub depth: u16,
    /// Bit `d` set: the node on this row's path at depth `d` is its parent's last child.
    pub last_mask: u64,
}

/// Owner tree (depth-first, roots in apply order), each resource's parent, and the pods sorted
/// by name. Prefix strings and owner chains are built only for the rows on screen.
///
/// Reads only the resources' keys and owners: `State` reuses the result for a new snapshot whose
/// keys and owners are unchanged (`state::same_structure`), so keep it that way.
///
/// This runs on the UI thread when a new snapshot of the open App arrives, so it is written for
/// 10,000 resources: one sort of all resources by (apply rank, kind, name) gives the roots, every
/// child list and the pods in order at once, comparing interned kind ids and name prefixes as
/// integers before touching the strings.
pub fn build_views(app: &AppState) -> super::state::Views {
    let res = &app.resources;
    let n = res.len();
    // Intern kinds (few distinct ones, often in runs); `kind_pos` orders them by apply rank,
    // then name.
    let mut kind_ids: HashMap<&str, u32> = HashMap::new();
    let mut kinds: Vec<&str> = Vec::new();
    let mut kind_of: Vec<u32> = Vec::with_capacity(n);
    let mut last: Option<(&str, u32)> = None;
    for r in res {
        let k = r.key.kind.as_str();
        let id = match last {
            Some((lk, id)) if lk == k => id,
            _ => {
                let id = *kind_ids.entry(k).or_insert_with(|| {
                    kinds.push(k);
                    (kinds.len() - 1) as u32
                });
                last = Some((k, id));
                id
            }
        };
        kind_of.push(id);
    }
    let mut by_rank: Vec<u32> = (0..kinds.len() as u32).collect();
    by_rank.sort_unstable_by(|a, b| {
        let (ka, kb) = (kinds[*a as usize], kinds[*b as usize]);
        kind_rank(ka).cmp(&kind_rank(kb)).then_with(|| ka.cmp(kb))
    });
    let mut kind_pos = vec![0u32; kinds.len()];
    for (pos, id) in by_rank.iter().enumerate() {
        kind_pos[*id as usize] = pos as u32;
    }
    // One integer per resource: kind position, the first eight name bytes, index. Sorting
    // those settles most pairs without touching a string; `sort_name_runs` orders names that
    // share their first eight bytes by the following ones.
    let mut order: Vec<u128> = res
        .iter()
        .enumerate()
        .map(|(i, r)| sort_key(kind_pos[kind_of[i] as usize], name_chunk(&r.key.name, 0), i))
        .collect();
    sort_name_runs(&mut order, res, 0);
    // Each resource's parent: its first owner found among the App's resources.
    let mut parent: Vec<Option<usize>> = vec![None; n];
    if res.iter().any(|r| !r.owners.is_empty()) {
        let index = super::state::KeyIndex::new(res);
        for (i, r) in res.iter().enumerate() {
            if let Some(p) = r.owners.iter().find_map(|o| index.get(o))
                && p != i
            {
                parent[i] = Some(p);
            }
        }
    }
    // Children of each resource as ranges of one array, filled in sorted order.
    let mut start = vec![0u32; n + 1];
    for p in parent.iter().flatten() {
        start[p + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut kids_of = vec![0u32; start[n] as usize];
    let mut roots = Vec::new();
    for k in &order {
        let i = key_index(*k);
        match parent[i] {
            Some(p) => {
                kids_of[fill[p] as usize] = i as u32;
                fill[p] += 1;
            }
            None => roots.push(i),
        }
    }
    let mut tree = Vec::with_capacity(n);
    let mut stack: Vec<TreeNode> = roots
        .iter()
        .rev()
        .map(|i| TreeNode {
            idx: *i,
            depth: 0,
            last_mask: 0,
        })
        .collect();
    let mut seen = vec![false; n];
    while let Some(node) = stack.pop() {
        if std::mem::replace(&mut seen[node.idx], true) {
            continue;
        }
        tree.push(node);
        let kids = &kids_of[start[node.idx] as usize..start[node.idx + 1] as usize];
        let depth = node.depth.saturating_add(1);
        for (k, c) in kids.iter().enumerate().rev() {
            let bit = if k == kids.len() - 1 && depth < 64 {
                1u64 << depth
            } else {
                0
            };
            stack.push(TreeNode {
                idx: *c as usize,
                depth,
                last_mask: node.last_mask | bit,
            });
        }
    }
    let pods = match kind_ids.get("Pod") {
        Some(pod) => {
            let pod = kind_pos[*pod as usize];
            order
                .iter()
                .filter(|k| (**k >> 96) as u32 == pod)
                .map(|k| key_index(*k))
                .collect()
        }
        None => Vec::new(),
    };
    super::state::Views { tree, parent, pods }
}

/// `kind << 96 | name chunk << 32 | index`: integer order is (kind, chunk, index).
fn sort_key(kind: u32, chunk: u64, idx: usize) -> u128 {
    // An App has far fewer than 2^32 resources.
    (u128::from(kind) << 96) | (u128::from(chunk) << 32) | (idx as u32 as u128)
}

fn key_index(key: u128) -> usize {
    key as u32 as usize
}

/// Eight name bytes from `offset`, big-endian and zero-padded, so integer order is byte order.
fn name_chunk(name: &str, offset: usize) -> u64 {
    let b = name.as_bytes();
    let mut w = [0u8; 8];
    for (k, byte) in b.iter().skip(offset).take(8).enumerate() {
        w[k] = *byte;
    }
    u64::from_be_bytes(w)
}

/// Sort `keys` (see [`sort_key`], chunks taken at `offset`) into (kind, full name, index) order:
/// each run sharing kind and chunk is re-keyed with the next eight name bytes and sorted again
/// (pod names under one ReplicaSet share 20-odd leading bytes).
fn sort_name_runs(keys: &mut [u128], res: &[crate::engine::api::ResourceRow], offset: usize) {
    keys.sort_unstable();
    let mut s = 0;
    while s < keys.len() {
        let head = keys[s] >> 32;
        let mut e = s + 1;
        while e < keys.len() && keys[e] >> 32 == head {
            e += 1;
        }
        if e - s > 1 {
            let run = &mut keys[s..e];
            let next = offset + 8;
            let name = |k: u128| res[key_index(k)].key.name.as_str();
            if run.iter().all(|k| name(*k).len() <= next) {
                // Equal but for zero padding: the shorter name first, then the index.
                run.sort_unstable_by_key(|k| (name(*k).len(), key_index(*k)));
            } else {
                for k in run.iter_mut() {
                    *k = sort_key((*k >> 96) as u32, name_chunk(name(*k), next), key_index(*k));
                }
                sort_name_runs(run, res, next);
            }
        }
        s = e;
    }
}

/// The `│  ├─ ` prefix of a tree row.
fn tree_prefix(t: &Theme, node: &TreeNode) -> String {
    let mut s = String::new();
    for d in 1..node.depth {
        let last = d < 64 && node.last_mask & (1 << d) != 0;
        s.push_str(if last { "   " } else { t.symbols.tree_pipe });
    }
    if node.depth > 0 {
        let last = node.depth < 64 && node.last_mask & (1 << node.depth) != 0;
        s.push_str(if last {
            t.symbols.tree_last
        } else {
            t.symbols.tree_mid
        });
    }
    s
}

/// `ReplicaSet/web-5d8f → Deployment/web`: the owners above resource `idx`.
pub fn owner_chain(app: &AppState, views: &super::state::Views, idx: usize) -> String {
    let mut chain = Vec::new();
    let mut cur = views.parent.get(idx).copied().flatten();
    while let Some(p) = cur {
        let k = &app.resources[p].key;
        chain.push(format!("{}/{}", k.kind, k.name));
        if chain.len() > 4 {
            break;
        }
        cur = views.parent.get(p).copied().flatten();
    }
    if chain.is_empty()
        && let Some(o) = app.resources.get(idx).and_then(|r| r.owners.first())
    {
        // The owner is not among the App's resources (e.g. not watched): name it anyway.
        chain.push(format!("{}/{}", o.kind, o.name));
    }
    chain.join(" → ")
}

fn state_label(s: ResourceState) -> &'static str {
    match s {
        ResourceState::Missing => "(to create)",
        ResourceState::Extra => "(to prune)",
        _ => "",
    }
}

fn render_resources(state: &State, a: &AppState, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let views = state.views(a);
    let tree = &views.tree;
    let h = area.height.saturating_sub(3) as usize;
    let sel = state.detail.res_sel.min(tree.len().saturating_sub(1));
    let (first, count) = window(tree.len(), sel, h);
    let wide = area.width >= WIDE;
    let rows: Vec<Row> = tree[first..first + count]
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let r = &a.resources[node.idx];
            let name = format!(
                "{}{}/{}{}",
                tree_prefix(t, node),
                r.key.kind,
                r.key.name,
                if state_label(r.state).is_empty() {
                    String::new()
                } else {
                    format!(" {}", state_label(r.state))
                }
            );
            let sync = if r.state == ResourceState::Child {
                Cell::from("")
            } else {
                sync_cell(t, r.sync)
            };
            let health = r
                .health
                .map(|h| health_cell(t, h))
                .unwrap_or_else(|| Cell::from(""));
            let mut cells = vec![Cell::from(name)];
            if wide {
                cells.push(Cell::from(r.key.namespace.clone()));
            }
            cells.extend([
                sync,
                health,
                Cell::from(Span::styled(r.message.clone(), t.dim)),
            ]);
            mark_selected(Row::new(cells), t, first + n == sel)
        })
        .collect();
    let widths: Vec<Constraint> = if wide {
        vec![
            Constraint::Percentage(40),
            Constraint::Length(18),
            Constraint::Length(11),
            Constraint::Length(13),
            Constraint::Min(10),
        ]
    } else {
        vec![
            Constraint::Percentage(45),
            Constraint::Length(11),
            Constraint::Length(13),
            Constraint::Min(5),
        ]
    };
    let mut header = vec!["KIND/NAME"];
    if wide {
        header.push("NAMESPACE");
    }
    header.extend(["SYNC", "HEALTH", "MESSAGE"]);
    let title = format!(
        " Resources {}/{} ",
        if tree.is_empty() { 0 } else { sel + 1 },
        tree.len()
    );
    f.render_widget(
        framed_table(t, pane_block(t, title), header, widths, rows),
        area,
    );
}

fn highlight<'a>(text: &'a str, needle: &str, base: Style, hit: Style) -> Vec<Span<'a>> {
    if needle.is_empty() {
        return vec![Span::styled(text, base)];
    }
    let lower = text.to_lowercase();
    let n = needle.to_lowercase();
    if lower.len() != text.len() {
        // Lower-casing changed byte offsets (non-ASCII): highlight the whole line instead.
        let style = if lower.contains(&n) { hit } else { base };
        return vec![Span::styled(text, style)];
    }
    let mut spans = Vec::new();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find(&n) {
        let s = pos + i;
        if s > pos {
            spans.push(Span::styled(&text[pos..s], base));
        }
        spans.push(Span::styled(&text[s..s + n.len()], hit));
        pos = s + n.len();
    }
    if pos < text.len() {
        spans.push(Span::styled(&text[pos..], base));
    }
    spans
}

fn render_diff(state: &State, a: &AppState, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    if a.diffs.is_empty() {
        let msg = if a.sync == SyncStatus::Synced {
            "no differences: live matches Git".to_string()
        } else if a.compared_at.is_none() {
            format!("{} comparing…", spinner(state))
        } else {
            "no resource diff available".to_string()
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.dim))
                .block(Block::bordered().border_style(t.border).title(" Diff ")),
            area,
        );
        return;
    }
    let wide = area.width >= WIDE;
    let (list_area, text_area) = if wide {
        let [l, r] = Layout::horizontal([Constraint::Length(40), Constraint::Min(20)]).areas(area);
        (l, r)
    } else {
        let list_h = (a.diffs.len() as u16 + 2).min(area.height / 3).max(3);
        let [l, r] = Layout::vertical([Constraint::Length(list_h), Constraint::Min(3)]).areas(area);
        (l, r)
    };
    let sel = state.detail.diff_sel.min(a.diffs.len() - 1);
    let lh = list_area.height.saturating_sub(2) as usize;
    let (first, count) = window(a.diffs.len(), sel, lh);
    let items: Vec<Line> = a.diffs[first..first + count]
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let (mark, style) = t.change_mark(d.state);
            let line = Line::from(vec![
                Span::styled(format!("{mark} "), style),
                Span::raw(trunc(
                    &format!("{}/{}", d.key.kind, d.key.name),
                    list_area.width.saturating_sub(5) as usize,
                )),
            ]);
            if first + n == sel {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect();
    let created = a
        .diffs
        .iter()
        .filter(|d| d.state == ResourceState::Missing)
        .count();
    let pruned = a
        .diffs
        .iter()
        .filter(|d| d.state == ResourceState::Extra)
        .count();
    let changed = a.diffs.len() - created - pruned;
    f.render_widget(
        Paragraph::new(items).block(Block::bordered().border_style(t.border).title(Span::styled(
            format!(" {} changed · {created} new · {pruned} prune ", changed),
            t.title,
        ))),
        list_area,
    );
    let d = &a.diffs[sel];
    let lines = state.diff_lines(a, sel);
    let th = text_area.height.saturating_sub(2) as usize;
    // Never scroll past the point where the last line reaches the bottom of the pane.
    let scroll = state.detail.diff_scroll.min(lines.len().saturating_sub(th));
    let needle = state.detail.search.as_str();
    let shown: Vec<Line> = lines
        .iter()
        .enumerate()
        .skip(scroll)
        .take(th)
        .map(|(j, l)| {
            let current = state.detail.match_at == Some((sel, j));
            let hit = if current {
                t.search_hit
                    .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
            } else {
                t.search_hit
            };
            match l {
                DiffLine::Header(s) => Line::from(Span::styled(s.as_str(), t.dim)),
                DiffLine::Hunk(s) => Line::from(Span::styled(s.as_str(), t.diff_hunk)),
                DiffLine::Add(s) => {
                    let mut v = vec![Span::styled("+ ", t.diff_add)];
                    v.extend(highlight(s, needle, t.diff_add, hit));
                    Line::from(v)
                }
                DiffLine::Del(s) => {
                    let mut v = vec![Span::styled("- ", t.diff_del)];
                    v.extend(highlight(s, needle, t.diff_del, hit));
                    Line::from(v)
                }
                DiffLine::Context(s) => {
                    let mut v = vec![Span::raw("  ")];
                    v.extend(highlight(s, needle, t.base, hit));
                    Line::from(v)
                }
                DiffLine::Fold(n) => Line::from(Span::styled(
                    format!("  {} {n} unchanged lines", t.symbols.fold),
                    t.diff_fold,
                )),
            }
        })
        .collect();
    let title = format!(
        " {} {}/{}{} ",
        t.change_mark(d.state).0,
        d.key.kind,
        d.key.name,
        match d.state {
            ResourceState::Missing => " — will be created",
            ResourceState::Extra => " — will be pruned",
            _ => "",
        }
    );
    f.render_widget(
        Paragraph::new(shown).block(
            Block::bordered()
                .border_style(t.border_focus)
                .title(Span::styled(title, t.title))
                .title_bottom(Span::styled(
                    format!(
                        " {}-{}/{} · pgup/pgdn scroll · / search · n/N ",
                        (scroll + 1).min(lines.len()),
                        (scroll + th).min(lines.len()),
                        lines.len()
                    ),
                    t.dim,
                )),
        ),
        text_area,
    );
}

fn render_history(state: &State, a: &AppState, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let hist = sorted_history(a);
    let h = area.height.saturating_sub(3) as usize;
    let sel = state.detail.hist_sel.min(hist.len().saturating_sub(1));
    let (first, count) = window(hist.len(), sel, h);
    let deployed = a.deployed.as_ref().map(|r| r.sha.as_str());
    let rows: Vec<Row> = hist[first..first + count]
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let current = Some(e.revision.as_str()) == deployed;
            let row = Row::new(vec![
                Cell::from(if current { "●" } else { " " }),
                Cell::from(e.id.to_string()),
                Cell::from(short(&e.revision)),
                Cell::from(e.subject.clone()),
                Cell::from(
                    e.deployed_at
                        .replace('T', " ")
                        .chars()
                        .take(16)
                        .collect::<String>(),
                ),
                Cell::from(e.initiated_by.clone()),
            ]);
            mark_selected(row, t, first + n == sel)
        })
        .collect();
    let hint = if state.opts.readonly {
        String::new()
    } else {
        " enter: roll back to the selected entry ".into()
    };
    f.render_widget(
        framed_table(
            t,
            pane_block(t, " History (newest first, ● deployed) ".into())
                .title_bottom(Span::styled(hint, t.dim)),
            vec!["", "ID", "REVISION", "SUBJECT", "DEPLOYED", "BY"],
            vec![
                Constraint::Length(1),
                Constraint::Length(4),
                Constraint::Length(8),
                Constraint::Min(12),
                Constraint::Length(17),
                Constraint::Length(18),
            ],
            rows,
        ),
        area,
    );
    if hist.is_empty() {
        empty_table_message(t, f, area, "no successful sync recorded yet".into());
    }
}

/// Width from which the Pods table shows the node.
const WIDE_PODS_NODE: u16 = 100;

fn severity_style(t: &Theme, s: Severity) -> Style {
    match s {
        Severity::Ok => t.ok,
        Severity::Progress => t.progress,
        Severity::Warn => t.warn,
        Severity::Error => t.error,
    }
}

/// The Pods pane: `kubectl get pods` columns for the App's pods (dropping IP, owner and node as
/// the terminal narrows), and below them the selected pod's state, conditions and recent events.
fn render_pods(state: &State, a: &AppState, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let views = state.views(a);
    let list = &views.pods;
    // The table takes what its rows need, up to half the pane; the details get the rest.
    let table_h = (list.len() as u16 + 3).clamp(5, (area.height / 2).max(5));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(3)]).areas(area);
    let h = top.height.saturating_sub(3) as usize;
    let sel = state.detail.pod_sel.min(list.len().saturating_sub(1));
    let (first, count) = window(list.len(), sel, h);
    let wide = area.width >= WIDE;
    let with_node = area.width >= WIDE_PODS_NODE;
    let now = state.now;
    let rows: Vec<Row> = list[first..first + count]
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let r = &a.resources[*p];
            let mut cells = vec![Cell::from(r.key.name.clone())];
            match &r.pod {
                Some(d) => {
                    cells.push(Cell::from(format!("{}/{}", d.ready, d.total)));
                    cells.push(Cell::from(Span::styled(
                        d.status.clone(),
                        severity_style(t, d.severity()),
                    )));
                    cells.push(Cell::from(if wide {
                        d.restarts_text(now)
                    } else {
                        d.restarts.to_string()
                    }));
                    cells.push(Cell::from(
                        d.created
                            .map(|c| pods::age(now, c))
                            .unwrap_or_else(|| "-".into()),
                    ));
                    if wide {
                        cells.push(Cell::from(or_none(&d.ip)));
                    }
                    if with_node {
                        cells.push(Cell::from(or_none(&d.node)));
                    }
                }
                // Not read from the cluster (yet): the health check is all there is.
                None => {
                    cells.push(Cell::from("-"));
                    cells.push(health_cell(t, r.health.unwrap_or(HealthStatus::Unknown)));
                    cells.extend([Cell::from("-"), Cell::from("-")]);
                    if wide {
                        cells.push(Cell::from("-"));
                    }
                    if with_node {
                        cells.push(Cell::from("-"));
                    }
                }
            }
            if wide {
                let owner = r
                    .owners
                    .first()
                    .map(|o| format!("{}/{}", o.kind, o.name))
                    .unwrap_or_default();
                cells.push(Cell::from(Span::styled(owner, t.dim)));
            }
            mark_selected(Row::new(cells), t, first + n == sel)
        })
        .collect();
    let mut header = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(17),
        Constraint::Length(if wide { 12 } else { 8 }),
        Constraint::Length(6),
    ];
    if wide {
        header.push("IP");
        widths.push(Constraint::Length(14));
    }
    if with_node {
        header.push("NODE");
        widths.push(Constraint::Length(16));
    }
    if wide {
        header.push("OWNER");
        widths[0] = Constraint::Length(34);
        widths.push(Constraint::Fill(1));
    }
    f.render_widget(
        framed_table(
            t,
            pane_block(t, format!(" Pods ({}) ", list.len())),
            header,
            widths,
            rows,
        ),
        top,
    );
    let Some(&idx) = list.get(sel) else {
        let msg = if a.compared_at.is_none() {
            format!("{} comparing…", spinner(state))
        } else {
            "no pods: this App runs no workloads, or they are not created yet".into()
        };
        empty_table_message(t, f, top, msg);
        f.render_widget(pane_block(t, " Pod ".into()), bottom);
        return;
    };
    let r = &a.resources[idx];
    let w = bottom.width.saturating_sub(2) as usize;
    let mut lines = pod_lines(state, a, &views, idx, w);
    let events = state
        .pod_events
        .as_ref()
        .filter(|v| v.app == a.app.name && v.pod == r.key);
    lines.push(Line::from(Span::styled("Events (newest first)", t.header)));
    match events.and_then(|v| v.events.as_ref()) {
        None => lines.push(Line::from(Span::styled(
            format!("  {} loading events…", spinner(state)),
            t.dim,
        ))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(
            trunc(&format!("  {}", e.lines().next().unwrap_or("")), w),
            t.error,
        ))),
        Some(Ok(list)) if list.is_empty() => lines.push(Line::from(Span::styled(
            "  none (the cluster keeps events for about an hour)",
            t.dim,
        ))),
        Some(Ok(list)) => {
            for e in list {
                lines.push(event_line(t, e, now, w));
            }
        }
    }
    f.render_widget(
        Paragraph::new(lines).block(pane_block(t, format!(" {} ", r.key.name))),
        bottom,
    );
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s.to_string()
    }
}

/// The selected pod's state: summary, owners, container problems and conditions.
fn pod_lines(
    state: &State,
    a: &AppState,
    views: &super::state::Views,
    idx: usize,
    w: usize,
) -> Vec<Line<'static>> {
    let t = &state.opts.theme;
    let r = &a.resources[idx];
    let owner = owner_chain(a, views, idx);
    let mut lines = Vec::new();
    let Some(d) = &r.pod else {
        // No live details: fall back to the health check's verdict.
        let style = match r.health {
            Some(HealthStatus::Degraded) => t.error,
            Some(HealthStatus::Progressing) => t.progress,
            _ => t.base,
        };
        for l in r.message.lines() {
            lines.push(Line::from(Span::styled(trunc(l, w), style)));
        }
        if !owner.is_empty() {
            lines.push(Line::from(Span::styled(
                trunc(&format!("owned by {owner}"), w),
                t.dim,
            )));
        }
        return lines;
    };
    let mut summary = format!(
        "{}/{} ready · {} restarts",
        d.ready,
        d.total,
        d.restarts_text(state.now)
    );
    if let Some(c) = d.created {
        summary.push_str(&format!(" · age {}", pods::age(state.now, c)));
    }
    summary.push_str(&format!(" · node {}", or_none(&d.node)));
    let ip = format!(" · IP {}", d.ip);
    // The IP goes where it fits: after the node, or else in front of the owners.
    let ip_first_line = !d.ip.is_empty()
        && d.status.chars().count() + 2 + summary.chars().count() + ip.chars().count() <= w;
    if ip_first_line {
        summary.push_str(&ip);
    }
    lines.push(Line::from(vec![
        Span::styled(d.status.clone(), severity_style(t, d.severity())),
        Span::raw(trunc(
            &format!("  {summary}"),
            w.saturating_sub(d.status.chars().count()),
        )),
    ]));
    let mut second = Vec::new();
    if !d.ip.is_empty() && !ip_first_line {
        second.push(format!("IP {}", d.ip));
    }
    if !owner.is_empty() {
        second.push(format!("owned by {owner}"));
    }
    if !second.is_empty() {
        lines.push(Line::from(Span::styled(
            trunc(&second.join(" · "), w),
            t.dim,
        )));
    }
    for p in &d.problems {
        lines.push(Line::from(Span::styled(trunc(p, w), t.error)));
    }
    if !d.conditions.is_empty() {
        let mut spans = vec![Span::styled("Conditions", t.header)];
        for c in &d.conditions {
            let (sym, style) = match c.status.as_str() {
                "True" => (t.symbols.synced, t.ok),
                "False" => (t.symbols.degraded, t.error),
                _ => (t.symbols.unknown, t.warn),
            };
            spans.push(Span::raw("  "));
            spans.push(Span::styled(format!("{sym} {}", c.kind), style));
        }
        lines.push(Line::from(spans));
        // Why a condition is false, when the kubelet said so (`containers with unready status`).
        if let Some(c) = d
            .conditions
            .iter()
            .find(|c| !c.is_true() && (!c.reason.is_empty() || !c.message.is_empty()))
        {
            let why = if c.message.is_empty() {
                &c.reason
            } else {
                &c.message
            };
            lines.push(Line::from(Span::styled(
                trunc(&format!("  {}: {why}", c.kind), w),
                t.dim,
            )));
        }
    }
    lines
}

/// `   2m  Warning  Failed      Error: ImagePullBackOff (x14 over 12m)`
fn event_line(t: &Theme, e: &PodEvent, now: SystemTime, w: usize) -> Line<'static> {
    let last = e
        .last
        .map(|l| pods::age(now, l))
        .unwrap_or_else(|| "-".into());
    let repeat = match (e.count, e.first) {
        (n, Some(first)) if n > 1 => format!(" (x{n} over {})", pods::age(now, first)),
        (n, None) if n > 1 => format!(" (x{n})"),
        _ => String::new(),
    };
    let text = format!(
        "{last:>6}  {:<7}  {:<10}  {}{repeat}",
        e.kind,
        e.reason,
        e.message.lines().next().unwrap_or("")
    );
    let style = if e.is_warning() { t.warn } else { t.base };
    Line::from(Span::styled(trunc(&text, w), style))
}

fn render_log(state: &State, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let h = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = state
        .log
        .iter()
        .rev()
        .take(h)
        .rev()
        .map(|l| {
            let style = match l.level {
                NoticeLevel::Info => t.base,
                NoticeLevel::Warn => t.warn,
                NoticeLevel::Error => t.error,
            };
            Line::from(vec![
                Span::styled(format!("{:>8} ", ago(state.now, Some(l.at))), t.dim),
                Span::styled(l.text.clone(), style),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .border_style(t.border)
                .title(Span::styled(" Log (L to hide) ", t.title)),
        ),
        area,
    );
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2)).max(10.min(area.width));
    let h = h.min(area.height).max(3.min(area.height));
    Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    }
}

fn dialog_block<'a>(t: &Theme, title: String) -> Block<'a> {
    Block::bordered()
        .border_style(t.border_focus)
        .title(Span::styled(format!(" {title} "), t.title))
}

fn buttons(t: &Theme, focus: Focus, confirm: &str, danger: bool) -> Line<'static> {
    let cancel_style = if focus == Focus::Cancel {
        t.button_focus
    } else {
        t.button
    };
    let confirm_style = if focus == Focus::Confirm {
        if danger {
            t.danger_focus
        } else {
            t.button_focus
        }
    } else {
        t.button
    };
    Line::from(vec![
        Span::raw("  "),
        Span::styled("[ Cancel ]", cancel_style),
        Span::raw("   "),
        Span::styled(format!("[ {confirm} ]"), confirm_style),
        Span::styled("   tab move · enter choose · esc cancel", t.dim),
    ])
}

fn guard_lines(t: &Theme, guard: &Guard, focus: Focus) -> Vec<Line<'static>> {
    let mut v = Vec::new();
    if let Some(env) = &guard.expect {
        let style = if focus == Focus::Input {
            t.button_focus
        } else {
            t.base
        };
        v.push(Line::from(vec![
            Span::styled(
                format!("{env} is protected: type {env} to confirm "),
                t.warn,
            ),
            Span::styled(format!("[{:<10}]", guard.typed), style),
        ]));
    }
    if let Some(e) = &guard.error {
        v.push(Line::from(Span::styled(e.clone(), t.error)));
    }
    v.push(Line::from(""));
    v.push(buttons(
        t,
        focus,
        &guard.confirm_label,
        guard.expect.is_some(),
    ));
    v
}

fn result_line(t: &Theme, r: &crate::engine::api::ResourceResult, w: usize) -> Line<'static> {
    let (sym, style) = match r.code {
        c if c.is_failure() => (t.symbols.degraded, t.error),
        ResultCode::Pruned | ResultCode::WouldPrune => (t.symbols.pruned, t.diff_del),
        ResultCode::Created | ResultCode::WouldCreate => (t.symbols.created, t.diff_add),
        ResultCode::Unchanged | ResultCode::PruneSkipped => (" ", t.dim),
        ResultCode::HookRunning => (t.symbols.progressing, t.progress),
        _ => (t.symbols.synced, t.ok),
    };
    Line::from(vec![
        Span::styled(format!("{sym} {:<15}", format!("{:?}", r.code)), style),
        Span::raw(trunc(
            &format!(
                "{}/{}{}",
                r.key.kind,
                r.key.name,
                if r.message.is_empty() {
                    String::new()
                } else {
                    format!("  {}", r.message)
                }
            ),
            w.saturating_sub(17),
        )),
    ])
}

fn render_dialog(state: &State, d: &Dialog, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let wide = area.width >= WIDE;
    let dw = if wide {
        100
    } else {
        area.width.saturating_sub(4)
    };
    let rect = centered(area, dw, area.height.saturating_sub(2));
    let iw = rect.width.saturating_sub(2) as usize;
    let ih = rect.height.saturating_sub(2) as usize;
    let (title, lines): (String, Vec<Line>) = match d {
        Dialog::Sync(s) => {
            let Some(a) = state.app(&s.app) else { return };
            let mut v = Vec::new();
            v.push(Line::from(format!(
                "Sync to {}  (deployed {})",
                a.revision
                    .as_ref()
                    .map(|r| format!("{} {}", r.short(), r.subject))
                    .unwrap_or_else(|| "the target revision".into()),
                a.deployed
                    .as_ref()
                    .map(|r| r.short().to_string())
                    .unwrap_or_else(|| "nothing".into())
            )));
            let created = a
                .diffs
                .iter()
                .filter(|d| d.state == ResourceState::Missing)
                .count();
            let pruned = a
                .diffs
                .iter()
                .filter(|d| d.state == ResourceState::Extra)
                .count();
            let updated = a.diffs.len() - created - pruned;
            // Counts only from a compare that happened.
            let counted = app_error(a).is_none() && a.compared_at.is_some();
            v.extend(counted.then(|| {
                Line::from(vec![
                    Span::styled(format!("{created} to create"), t.diff_add),
                    Span::raw(", "),
                    Span::styled(format!("{updated} to update"), t.warn),
                    Span::raw(", "),
                    Span::styled(
                        if s.flags[0] {
                            format!("{pruned} to prune")
                        } else {
                            format!("{pruned} left in place (prune off)")
                        },
                        t.diff_del,
                    ),
                ])
            }));
            // Ignored fields (ignoreDifferences) keep the App Synced, but this sync sets
            // Git's value on them unless the App respects them: say which.
            let overwrites = a.ignored_overwrites();
            const SHOWN_OVERWRITES: usize = 2;
            if !overwrites.is_empty() {
                v.push(Line::from(Span::styled(
                    format!(
                        "{} ignored field(s) get Git's value (RespectIgnoreDifferences=true keeps live):",
                        overwrites.len()
                    ),
                    t.warn,
                )));
                for o in overwrites.iter().take(SHOWN_OVERWRITES) {
                    v.push(Line::from(Span::styled(format!("  ! {o}"), t.warn)));
                }
            }
            let shown = if overwrites.is_empty() {
                0
            } else {
                1 + overwrites.len().min(SHOWN_OVERWRITES)
            };
            let fixed = 2 + shown + SYNC_FLAGS.len() + 5 + usize::from(s.guard.expect.is_some());
            let room = ih.saturating_sub(fixed).max(1);
            for (n, d) in a.diffs.iter().enumerate() {
                if n + 1 == room && a.diffs.len() > room {
                    v.push(Line::from(Span::styled(
                        format!("  … {} more (d shows the full diff)", a.diffs.len() - n),
                        t.dim,
                    )));
                    break;
                }
                let (mark, style) = t.change_mark(d.state);
                v.push(Line::from(vec![
                    Span::styled(format!("  {mark} "), style),
                    Span::raw(format!("{}/{}", d.key.kind, d.key.name)),
                    Span::styled(format!("  {}", d.key.namespace), t.dim),
                ]));
            }
            if let Some(e) = app_error(a) {
                // The engine could not compare: there is no preview to trust.
                v.push(Line::from(Span::styled(
                    "  cannot preview: the engine could not compare this App",
                    t.error,
                )));
                for l in errtext::wrap(e, iw.saturating_sub(2)) {
                    v.push(Line::from(Span::styled(format!("  {l}"), t.error)));
                }
            } else if a.compared_at.is_none() {
                v.push(Line::from(Span::styled(
                    format!("  {} not compared yet: the preview follows", spinner(state)),
                    t.progress,
                )));
            } else if a.diffs.is_empty() {
                v.push(Line::from(Span::styled(
                    "  no differences: the sync re-applies every resource",
                    t.dim,
                )));
            }
            v.push(Line::from(Span::styled(
                "Options (space toggles):",
                t.header,
            )));
            for (i, (name, help)) in SYNC_FLAGS.iter().enumerate() {
                let on = s.flags[i];
                let style = if s.focus == Focus::Option(i) {
                    t.button_focus
                } else {
                    t.base
                };
                v.push(Line::from(vec![
                    Span::styled(
                        format!(
                            " {} {name}",
                            if on {
                                t.symbols.check_on
                            } else {
                                t.symbols.check_off
                            }
                        ),
                        style,
                    ),
                    Span::styled(format!("  {help}"), t.dim),
                ]));
            }
            v.extend(guard_lines(t, &s.guard, s.focus));
            (format!("Sync {}", s.app), v)
        }
        Dialog::Progress(p) => {
            let op = state.ops.get(&p.app);
            let mut v = Vec::new();
            // The command's reply can arrive before the engine's operation-finished event: its
            // result is then the finished one, so the dialog never shows "Finished" over a stale
            // progress bar.
            let finished = op.and_then(|o| o.finished.as_ref()).or(match &p.outcome {
                Some(CommandOutcome::Operation(r)) => Some(r),
                _ => None,
            });
            let status = match (&p.outcome, finished) {
                (_, Some(r)) => format!("{:?}", r.phase),
                (Some(o), None) => match o {
                    CommandOutcome::Refused(_) => "Refused".into(),
                    CommandOutcome::Failed(_) => "Failed".into(),
                    _ => "Finished".into(),
                },
                (None, None) => format!("{} running", spinner(state)),
            };
            match op {
                Some(o) => {
                    let (done, total) = match finished {
                        Some(r) => (r.resources.len(), r.resources.len()),
                        None => (o.done, o.total),
                    };
                    let total_shown = total;
                    let total = total.max(1);
                    let done = done.min(total);
                    let bar_w = iw.saturating_sub(30).max(10);
                    let filled = bar_w * done / total;
                    v.push(Line::from(vec![
                        Span::raw(format!("phase {} · wave {} ", o.phase, o.wave)),
                        Span::styled("█".repeat(filled), t.progress),
                        Span::styled("░".repeat(bar_w - filled), t.dim),
                        Span::raw(format!(" {done}/{total_shown}")),
                    ]));
                    if let Some(r) = &o.retrying {
                        v.push(Line::from(Span::styled(r.clone(), t.warn)));
                    }
                    // The last progress message ("Unchanged Ingress …") only while running: once
                    // finished, the per-resource results say it all.
                    if finished.is_none() && !o.message.is_empty() {
                        v.push(Line::from(Span::styled(o.message.clone(), t.dim)));
                    }
                    let results = finished.map(|r| &r.resources).unwrap_or(&o.results);
                    let room = ih.saturating_sub(v.len() + 3);
                    let start = p.scroll.min(results.len().saturating_sub(room));
                    for r in results.iter().skip(start).take(room) {
                        v.push(result_line(t, r, iw));
                    }
                    if let Some(r) = finished
                        && !r.message.is_empty()
                    {
                        let style = if r.phase == OperationPhase::Succeeded {
                            t.ok
                        } else {
                            t.error
                        };
                        v.push(Line::from(Span::styled(r.message.clone(), style)));
                    }
                }
                // Only until the engine answers: a refusal or failure before the operation
                // started is the whole story.
                None if p.outcome.is_none() => v.push(Line::from(Span::styled(
                    format!("{} waiting for the engine…", spinner(state)),
                    t.progress,
                ))),
                None => {}
            }
            match &p.outcome {
                Some(CommandOutcome::Refused(m)) | Some(CommandOutcome::Failed(m)) => {
                    for l in errtext::wrap(m, iw) {
                        v.push(Line::from(Span::styled(l, t.error)));
                    }
                }
                _ => {}
            }
            v.push(Line::from(""));
            v.push(Line::from(Span::styled(
                if p.outcome.is_some() || finished.is_some() {
                    "enter/esc close · j/k scroll"
                } else {
                    "esc close (the operation continues in the background)"
                },
                t.dim,
            )));
            (
                format!(
                    "{}{} {} — {status}",
                    kind_label(p.kind),
                    if p.dry_run { " (dry run)" } else { "" },
                    p.app
                ),
                v,
            )
        }
        Dialog::Rollback(r) => {
            let Some(a) = state.app(&r.app) else { return };
            let hist = sorted_history(a);
            let entry_line = |id: u64| {
                hist.iter()
                    .find(|h| h.id == id)
                    .map(|h| {
                        format!(
                            "#{} {} {} (deployed {} by {})",
                            h.id,
                            short(&h.revision),
                            h.subject,
                            h.deployed_at,
                            h.initiated_by
                        )
                    })
                    .unwrap_or_else(|| format!("#{id}"))
            };
            let mut v = Vec::new();
            match &r.step {
                RollbackStep::Pick { sel } => {
                    v.push(Line::from("Pick the history entry to roll back to:"));
                    let room = ih.saturating_sub(3);
                    let (first, count) = window(hist.len(), *sel, room);
                    let deployed = a.deployed.as_ref().map(|r| r.sha.as_str());
                    // Columns: the subject padded to the longest shown (at most what leaves the
                    // date and author room), so dates and authors line up.
                    let sw = hist
                        .iter()
                        .map(|h| h.subject.chars().count())
                        .max()
                        .unwrap_or(0)
                        .min(iw.saturating_sub(48).max(12));
                    for (n, h) in hist[first..first + count].iter().enumerate() {
                        let line = Line::from(trunc(
                            &format!(
                                "{} #{:<3} {} {:<sw$}  {}  {}",
                                if Some(h.revision.as_str()) == deployed {
                                    "●"
                                } else {
                                    " "
                                },
                                h.id,
                                short(&h.revision),
                                trunc(&h.subject, sw),
                                h.deployed_at
                                    .replace('T', " ")
                                    .chars()
                                    .take(16)
                                    .collect::<String>(),
                                h.initiated_by
                            ),
                            iw,
                        ));
                        v.push(if first + n == *sel {
                            line.style(t.selected)
                        } else {
                            line
                        });
                    }
                    v.push(Line::from(""));
                    v.push(Line::from(Span::styled("enter review · esc cancel", t.dim)));
                }
                RollbackStep::AutoSyncOn { entry, focus } => {
                    v.push(Line::from(format!("Roll back to {}", entry_line(*entry))));
                    v.push(Line::from(""));
                    v.push(Line::from(Span::styled(
                        format!("Auto-sync is on for {}.", r.app),
                        t.warn,
                    )));
                    v.push(Line::from(
                        "A rollback is refused while auto-sync is on: it would sync straight back",
                    ));
                    v.push(Line::from(
                        "to Git's target revision. Turn auto-sync off for this App?",
                    ));
                    v.push(Line::from(Span::styled(
                        "The override is stored in the cluster, visible to every operator;",
                        t.dim,
                    )));
                    v.push(Line::from(Span::styled(
                        "press a on the App to turn auto-sync back on later.",
                        t.dim,
                    )));
                    v.push(Line::from(""));
                    v.push(buttons(t, *focus, "Turn off auto-sync and continue", false));
                }
                RollbackStep::Review {
                    entry,
                    preview,
                    focus,
                    guard,
                    scroll,
                    ..
                } => {
                    v.push(Line::from(trunc(
                        &format!(
                            "from {}",
                            a.deployed
                                .as_ref()
                                .map(|r| format!("{} {}", r.short(), r.subject))
                                .unwrap_or_else(|| "-".into())
                        ),
                        iw,
                    )));
                    v.push(Line::from(trunc(
                        &format!("to   {}", entry_line(*entry)),
                        iw,
                    )));
                    v.push(Line::from(""));
                    let room = ih.saturating_sub(v.len() + 4 + usize::from(guard.expect.is_some()));
                    match preview {
                        None => v.push(Line::from(Span::styled(
                            format!("{} computing the changes (dry run)…", spinner(state)),
                            t.progress,
                        ))),
                        Some(CommandOutcome::Operation(res)) => {
                            // Only what the dry run says would be created, changed or pruned:
                            // unchanged resources and skipped prunes are not changes.
                            let changing: Vec<_> = res
                                .resources
                                .iter()
                                .filter(|r| {
                                    matches!(
                                        r.code,
                                        ResultCode::WouldCreate
                                            | ResultCode::WouldConfigure
                                            | ResultCode::WouldPrune
                                    ) || r.code.is_failure()
                                })
                                .collect();
                            v.push(Line::from(Span::styled(
                                match changing.len() {
                                    0 => "nothing would change: live already matches that revision"
                                        .to_string(),
                                    1 => "1 resource would change:".to_string(),
                                    n => format!("{n} resources would change:"),
                                },
                                t.header,
                            )));
                            let list = changing.len().min(room.saturating_sub(1) / 2).max(1);
                            for r in changing.iter().take(list) {
                                v.push(result_line(t, r, iw));
                            }
                            if changing.len() > list {
                                v.push(Line::from(Span::styled(
                                    format!("  … {} more", changing.len() - list),
                                    t.dim,
                                )));
                            }
                            let lines: Vec<DiffLine> = res
                                .diffs
                                .iter()
                                .flat_map(|d| super::state::fold_diff(&d.unified))
                                .collect();
                            let diff_room = room.saturating_sub(v.len().saturating_sub(3) + 1);
                            if !lines.is_empty() && diff_room > 0 {
                                let start = (*scroll).min(lines.len().saturating_sub(diff_room));
                                for l in lines.iter().skip(start).take(diff_room) {
                                    v.push(diff_line(t, l));
                                }
                                if lines.len() > diff_room {
                                    v.push(Line::from(Span::styled(
                                        format!(
                                            "  diff lines {}-{} of {} · pgup/pgdn scroll",
                                            start + 1,
                                            (start + diff_room).min(lines.len()),
                                            lines.len()
                                        ),
                                        t.dim,
                                    )));
                                }
                            }
                        }
                        Some(CommandOutcome::Refused(m)) | Some(CommandOutcome::Failed(m)) => {
                            v.push(Line::from(Span::styled(
                                format!("preview failed: {m}"),
                                t.error,
                            )));
                        }
                        Some(CommandOutcome::Done) => v.push(Line::from("no changes")),
                    }
                    v.extend(guard_lines(t, guard, *focus));
                }
            }
            (format!("Roll back {}", r.app), v)
        }
        Dialog::Promote(p) => render_promote_lines(state, p, iw, ih),
        Dialog::Quit(q) => {
            let apps = q.apps.join(", ");
            let v: Vec<Line> = if q.abandoning {
                vec![Line::from(format!(
                    "abandoning {apps}: stopping, recording it as failed, releasing the lease…"
                ))]
            } else if q.waiting {
                vec![
                    Line::from(format!("waiting for {apps} to finish, then quitting…")),
                    Line::from(""),
                    Line::from("l  leave it   a  abandon it   esc  stop waiting"),
                ]
            } else {
                vec![
                    Line::from(format!("An operation of this session is running: {apps}")),
                    Line::from(""),
                    Line::from("w    wait for it to finish, then quit"),
                    Line::from("l    leave it: quit now; its lease expires within 60 s and"),
                    Line::from("     the next session reports it interrupted"),
                    Line::from("a    abandon it: stop it, record it as failed, release its"),
                    Line::from("     lease (another session can sync at once), then quit"),
                    Line::from("esc  back"),
                ]
            };
            ("Quit".to_string(), v)
        }
        Dialog::Confirm(c) => {
            let mut v: Vec<Line> = c.lines.iter().map(|l| Line::from(l.clone())).collect();
            v.push(Line::from(""));
            v.extend(guard_lines(t, &c.guard, c.focus));
            (c.title.clone(), v)
        }
    };
    let h = (lines.len() as u16 + 2).min(rect.height);
    let rect = centered(area, rect.width, h);
    f.render_widget(Clear, rect);
    f.render_widget(Paragraph::new(lines).block(dialog_block(t, title)), rect);
    // The commit-message editor is a real widget; draw it over its reserved lines.
    if let Dialog::Promote(p) = d
        && let PromoteStep::Message { editor, focus, .. } = &p.step
    {
        let er = Rect {
            x: rect.x + 1,
            y: rect.y + 2,
            width: rect.width.saturating_sub(2),
            height: 5.min(rect.height.saturating_sub(3)),
        };
        let mut ed = (**editor).clone();
        ed.set_block(
            Block::bordered()
                .border_style(if *focus == Focus::Editor {
                    t.border_focus
                } else {
                    t.border
                })
                .title(" commit message (ctrl-s commit · tab to buttons) "),
        );
        ed.set_cursor_line_style(Style::default());
        f.render_widget(&ed, er);
    }
}

/// One line of a folded diff in a dialog (promotion and rollback previews).
fn diff_line(t: &Theme, l: &DiffLine) -> Line<'static> {
    match l {
        DiffLine::Header(s) => Line::from(Span::styled(s.clone(), t.dim)),
        DiffLine::Hunk(s) => Line::from(Span::styled(s.clone(), t.diff_hunk)),
        DiffLine::Add(s) => Line::from(Span::styled(format!("+ {s}"), t.diff_add)),
        DiffLine::Del(s) => Line::from(Span::styled(format!("- {s}"), t.diff_del)),
        DiffLine::Context(s) => Line::from(format!("  {s}")),
        DiffLine::Fold(n) => Line::from(Span::styled(
            format!("  {} {n} unchanged lines", t.symbols.fold),
            t.diff_fold,
        )),
    }
}

fn render_promote_lines(
    state: &State,
    p: &super::state::PromoteDialog,
    iw: usize,
    ih: usize,
) -> (String, Vec<Line<'static>>) {
    let t = &state.opts.theme;
    let mut v = Vec::new();
    let title = format!("Promote {} → {}", p.source, p.target);
    match &p.step {
        PromoteStep::Envs {
            envs,
            source,
            target,
            column,
        } => {
            v.push(Line::from("Choose the source and target environments:"));
            v.push(Line::from(vec![
                Span::styled(
                    format!("  {:<20}", "SOURCE"),
                    if *column == 0 { t.header } else { t.dim },
                ),
                Span::styled("TARGET", if *column == 1 { t.header } else { t.dim }),
            ]));
            for (i, e) in envs.iter().enumerate() {
                let s_style = if i == *source {
                    if *column == 0 { t.selected } else { t.header }
                } else {
                    t.base
                };
                let t_style = if i == *target {
                    if *column == 1 { t.selected } else { t.header }
                } else {
                    t.base
                };
                v.push(Line::from(vec![
                    Span::raw("  "),
                    Span::styled(format!("{:<18}", e), s_style),
                    Span::raw("  "),
                    Span::styled(format!("{:<18}", e), t_style),
                ]));
            }
            v.push(Line::from(""));
            v.push(Line::from(Span::styled(
                "←/→ column · ↑/↓ choose · enter compare values · esc cancel",
                t.dim,
            )));
        }
        PromoteStep::Keys {
            preview,
            picked,
            sel,
            ..
        } => match preview {
            None => v.push(Line::from(Span::styled(
                format!("{} comparing values files…", spinner(state)),
                t.progress,
            ))),
            Some(Err(e)) => {
                for l in e.lines() {
                    v.push(Line::from(Span::styled(l.to_string(), t.error)));
                }
                v.push(Line::from(Span::styled("esc close", t.dim)));
            }
            Some(Ok(pv)) if pv.changes.is_empty() => {
                v.push(Line::from(format!(
                    "{} and {} agree on every value: nothing to promote.",
                    p.source, p.target
                )));
                v.push(Line::from(Span::styled("esc close", t.dim)));
            }
            Some(Ok(pv)) => {
                let col = iw.saturating_sub(30) / 2;
                v.push(Line::from(Span::styled(
                    format!(
                        "    {:<24} {:<col$} {:<col$}",
                        "KEY",
                        trunc(&p.source, col),
                        trunc(&p.target, col)
                    ),
                    t.header,
                )));
                let room = ih.saturating_sub(4);
                let (first, count) = window(pv.changes.len(), *sel, room);
                for (n, c) in pv.changes[first..first + count].iter().enumerate() {
                    let i = first + n;
                    let on = picked.get(i).copied().unwrap_or(false);
                    let val = |v: &Option<String>| {
                        trunc(
                            &v.clone()
                                .unwrap_or_else(|| "(absent)".into())
                                .replace('\n', " "),
                            col,
                        )
                    };
                    let line = Line::from(vec![
                        Span::raw(format!(
                            "{} ",
                            if on {
                                t.symbols.check_on
                            } else {
                                t.symbols.check_off
                            }
                        )),
                        Span::raw(format!("{:<24} ", trunc(&c.key, 24))),
                        Span::styled(format!("{:<col$} ", val(&c.source)), t.diff_add),
                        Span::styled(val(&c.target), t.diff_del),
                    ]);
                    v.push(if i == *sel {
                        line.style(t.selected)
                    } else {
                        line
                    });
                }
                v.push(Line::from(""));
                v.push(Line::from(Span::styled(
                    format!(
                        "space pick · A all/none · enter preview the change to {} · esc cancel",
                        pv.file
                    ),
                    t.dim,
                )));
            }
        },
        PromoteStep::Review {
            keys,
            preview,
            scroll,
            ..
        } => match preview {
            None => v.push(Line::from(Span::styled(
                format!("{} preparing the change…", spinner(state)),
                t.progress,
            ))),
            Some(Err(e)) => {
                for l in e.lines() {
                    v.push(Line::from(Span::styled(l.to_string(), t.error)));
                }
            }
            Some(Ok(pv)) => {
                v.push(Line::from(trunc(
                    &format!("{} — keys: {}", pv.file, keys.join(", ")),
                    iw,
                )));
                let lines = super::state::fold_diff(&pv.diff);
                let room = ih.saturating_sub(4);
                for l in lines.iter().skip(*scroll).take(room) {
                    v.push(diff_line(t, l));
                }
                v.push(Line::from(""));
                v.push(Line::from(Span::styled(
                    "j/k scroll · enter write the commit message · esc cancel",
                    t.dim,
                )));
            }
        },
        PromoteStep::Message {
            keys, focus, guard, ..
        } => {
            v.push(Line::from(trunc(&format!("keys: {}", keys.join(", ")), iw)));
            // Reserved lines for the editor widget drawn on top.
            for _ in 0..5 {
                v.push(Line::from(""));
            }
            v.push(Line::from(Span::styled(
                "One commit in the repository (author from git config), pushed when the branch has a remote.",
                t.dim,
            )));
            let f = if *focus == Focus::Editor {
                Focus::Option(99)
            } else {
                *focus
            };
            v.extend(guard_lines(t, guard, f));
        }
        PromoteStep::Committing { keys, outcome, .. } => {
            v.push(Line::from(trunc(&format!("keys: {}", keys.join(", ")), iw)));
            match outcome {
                None => v.push(Line::from(Span::styled(
                    format!("{} committing…", spinner(state)),
                    t.progress,
                ))),
                Some(CommandOutcome::Done) | Some(CommandOutcome::Operation(_)) => {
                    v.push(Line::from(Span::styled(
                        format!(
                            "committed: {} will show OutOfSync at the new revision after the next refresh",
                            p.target
                        ),
                        t.ok,
                    )));
                }
                Some(CommandOutcome::Refused(m)) | Some(CommandOutcome::Failed(m)) => {
                    for l in m.lines() {
                        v.push(Line::from(Span::styled(l.to_string(), t.error)));
                    }
                }
            }
            v.push(Line::from(""));
            v.push(Line::from(Span::styled("enter/esc close", t.dim)));
        }
    }
    (title, v)
}

/// Keys shown in help for the current screen.
fn help_actions(state: &State) -> Vec<KeyAction> {
    let mut v = vec![
        KeyAction::Up,
        KeyAction::Down,
        KeyAction::PageUp,
        KeyAction::PageDown,
        KeyAction::Top,
        KeyAction::Bottom,
    ];
    match state.screen {
        Screen::Apps => v.extend([KeyAction::Enter, KeyAction::Filter, KeyAction::Diff]),
        Screen::Detail => {
            v.extend([KeyAction::NextPane, KeyAction::PrevPane]);
            match state.detail.pane() {
                Pane::History => v.push(KeyAction::Enter),
                Pane::Diff => v.extend([
                    KeyAction::Filter,
                    KeyAction::NextMatch,
                    KeyAction::PrevMatch,
                ]),
                Pane::Resources | Pane::Pods => v.push(KeyAction::Filter),
            }
            v.extend([KeyAction::Diff, KeyAction::Back]);
        }
    }
    v.extend([
        KeyAction::Sync,
        KeyAction::Rollback,
        KeyAction::Promote,
        KeyAction::AutoSync,
        KeyAction::Refresh,
        KeyAction::Palette,
        KeyAction::Logs,
        KeyAction::Help,
        KeyAction::Quit,
    ]);
    v.retain(|a| !(state.opts.readonly && a.is_mutating()));
    v
}

fn render_help(state: &State, f: &mut Frame, area: Rect) {
    let t = &state.opts.theme;
    let km = &state.opts.keymap;
    let mut keys: Vec<(String, String)> = help_actions(state)
        .into_iter()
        .map(|a| {
            // What the key does on this screen and pane.
            let pane = state.detail.pane();
            let desc = match (a, state.screen) {
                (KeyAction::Filter, Screen::Detail) if pane == Pane::Diff => {
                    "search the diff".to_string()
                }
                (KeyAction::Filter, Screen::Detail) => {
                    "search the diffs (opens the Diff pane)".to_string()
                }
                (KeyAction::Filter, Screen::Apps) => "filter Apps".to_string(),
                (KeyAction::Up, Screen::Detail) if pane == Pane::Pods => {
                    "previous pod (its events below)".to_string()
                }
                (KeyAction::Down, Screen::Detail) if pane == Pane::Pods => {
                    "next pod (its events below)".to_string()
                }
                (KeyAction::Up | KeyAction::Down, Screen::Detail) if pane == Pane::Diff => {
                    format!(
                        "{} resource",
                        if a == KeyAction::Up {
                            "previous"
                        } else {
                            "next"
                        }
                    )
                }
                (KeyAction::PageUp | KeyAction::PageDown, Screen::Detail) if pane == Pane::Diff => {
                    format!(
                        "scroll the diff {}",
                        if a == KeyAction::PageUp { "up" } else { "down" }
                    )
                }
                (KeyAction::Enter, Screen::Detail) => "roll back to the selected entry".to_string(),
                (KeyAction::Diff, Screen::Detail) => "the Diff pane".to_string(),
                _ => a.describe().to_string(),
            };
            (km.keys_for(a), desc)
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    for (i, e) in state.opts.extras.iter().enumerate() {
        let _ = i;
        keys.push((e.key.to_string(), e.description.clone()));
    }
    let mut lines = vec![Line::from(Span::styled(
        match state.screen {
            Screen::Apps => "Apps screen".to_string(),
            Screen::Detail => format!("App detail · {} pane", state.detail.pane().title()),
        },
        t.header,
    ))];
    // Descriptions are never cut: the column is as wide as the longest.
    let desc_w = keys
        .iter()
        .map(|(_, d)| d.chars().count())
        .max()
        .unwrap_or(0)
        .max(20);
    let key_line = |(k, d): &(String, String)| {
        vec![
            Span::styled(format!("{:>12} ", k), t.key),
            Span::raw(format!("{d:<desc_w$}")),
        ]
    };
    let palette: Vec<(String, String)> = PALETTE
        .iter()
        .filter(|(c, _)| {
            !(state.opts.readonly
                && ["sync", "rollback", "promote", "autosync"]
                    .iter()
                    .any(|m| c[1..].starts_with(m)))
        })
        .map(|(c, d)| (c.to_string(), d.to_string()))
        .collect();
    // Keys and commands side by side when both columns fit whole.
    let palette_w = palette
        .iter()
        .map(|(_, d)| d.chars().count())
        .max()
        .unwrap_or(0);
    let wide = 13 + desc_w + 2 + 20 + palette_w + 2 <= area.width.saturating_sub(2) as usize;
    if wide {
        let n = keys.len().max(palette.len());
        let key_w = 13 + desc_w;
        lines.push(Line::from(vec![
            Span::styled(format!("{:<key_w$}", "keys"), t.dim),
            Span::styled("commands (:)", t.dim),
        ]));
        for i in 0..n {
            let mut spans = keys
                .get(i)
                .map(key_line)
                .unwrap_or_else(|| vec![Span::raw(" ".repeat(key_w))]);
            spans.push(Span::raw("  "));
            if let Some((c, d)) = palette.get(i) {
                spans.push(Span::styled(format!("{c:<20}"), t.key));
                spans.push(Span::raw(d.clone()));
            }
            lines.push(Line::from(spans));
        }
    } else {
        for k in &keys {
            lines.push(Line::from(key_line(k)));
        }
        let commands = format!(
            "commands: {}",
            palette
                .iter()
                .map(|(c, _)| c.split_whitespace().next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" ")
        );
        for l in errtext::wrap(&commands, area.width.saturating_sub(4) as usize) {
            lines.push(Line::from(Span::styled(l, t.dim)));
        }
    }
    if state.opts.readonly {
        lines.push(Line::from(Span::styled(
            "read-only: sync, rollback, promote and auto-sync are disabled",
            t.warn,
        )));
    }
    let longest = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    let w = (longest + 2).min(area.width.saturating_sub(2));
    // Taller than the screen: a window of the lines, scrolled with the movement keys, and a
    // footer saying where it is. Otherwise everything and "esc or ? closes".
    let room = area.height.saturating_sub(3) as usize;
    let total = lines.len();
    let (lines, footer) = if total < room {
        (lines, "esc or ? closes".to_string())
    } else {
        let first = state.help_scroll.min(total - room);
        let shown: Vec<Line> = lines.into_iter().skip(first).take(room).collect();
        (
            shown,
            format!(
                "lines {}-{} of {total} · ↑/↓ pgup/pgdn scroll · esc closes",
                first + 1,
                first + room
            ),
        )
    };
    let mut lines = lines;
    lines.push(Line::from(Span::styled(footer, t.dim)));
    let rect = centered(area, w, lines.len() as u16 + 2);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(dialog_block(t, "Help".into())),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_selection_visible() {
        assert_eq!(window(100, 0, 10), (0, 10));
        assert_eq!(window(100, 15, 10), (6, 10));
        assert_eq!(window(5, 4, 10), (0, 5));
        assert_eq!(window(5, 0, 0), (0, 0));
    }

    #[test]
    fn trunc_marks_cut_text() {
        assert_eq!(trunc("abcdef", 4), "abc…");
        assert_eq!(trunc("abc", 4), "abc");
        assert_eq!(trunc("abc", 0), "");
    }

    #[test]
    fn highlight_splits_on_matches_case_insensitively() {
        let s = highlight(
            "Image: Foo image",
            "image",
            Style::default(),
            Style::default().add_modifier(Modifier::BOLD),
        );
        let texts: Vec<&str> = s.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(texts, vec!["Image", ": Foo ", "image"]);
    }
}
