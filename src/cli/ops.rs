//! `sextant app get|diff|sync|history|rollback|set`: thin front ends over the engine. Each command
//! starts the engine (no auto-sync, no polling), waits for the first compare, then reads the
//! snapshot or sends one command and renders its outcome.
//!
//! Over 600 lines: one module per `app` subcommand is planned (issue 16: `cli/app/<command>.rs`).

use std::time::Duration;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{Result, eyre};
use serde_json::{Value, json};

use super::duration::{format_duration, parse_duration};
use super::output::{
    self, Format, condition_kind, group_kind, history_json, operation_result_json, resource_json,
    resource_state, result_code, rfc3339, status_json, structured, table,
};
use super::session::{self, SessionOptions};
use super::{CliResult, Context};
use crate::app::Backoff;
use crate::engine::api::{
    AppState, Command, CommandOutcome, EngineHandle, Event, OperationPhase, OperationResult,
    ResourceFilter, ResourceRow, ResourceState, RetryOverride, SyncOptions,
};

/// Options shared by commands that read live state.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Do not fetch the remote first (use the refs already in the clone).
    #[arg(long)]
    pub no_fetch: bool,
    /// How long to wait for the first compare of the Apps (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub compare_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// App name (e.g. astromesh-prod) or environment name (e.g. prod) when unambiguous.
    pub app: String,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: Format,
    /// Show the running operation (if any) and the last sync.
    #[arg(long)]
    pub show_operation: bool,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// App name or unambiguous environment name.
    pub app: String,
    /// Exit 1 when there are differences (the default, like `argocd app diff`); with
    /// `--exit-code=false` exit 0 whether or not there are differences.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub exit_code: bool,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: Format,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// App name or unambiguous environment name.
    pub app: String,
    /// Delete resources tracked by this App that are no longer in Git.
    #[arg(long)]
    pub prune: bool,
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Take over fields owned by other managers and objects tracked by another controller.
    #[arg(long)]
    pub force: bool,
    /// Sync this revision (sha, branch or tag) instead of the App's target revision.
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// Only sync this resource: GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (repeatable; empty
    /// group for core kinds, e.g. `:Service:web`).
    #[arg(long = "resource", value_name = "GROUP:KIND:NAME", value_parser = ResourceFilter::parse)]
    pub resources: Vec<ResourceFilter>,
    /// Apply only the resources that are out of sync.
    #[arg(long)]
    pub apply_out_of_sync_only: bool,
    /// Retries after a failed attempt (overrides the App's retry.limit).
    #[arg(long, value_name = "N")]
    pub retry_limit: Option<i64>,
    /// First retry delay (default 5s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_backoff_duration: Option<Duration>,
    /// Delay multiplier per retry (default 2).
    #[arg(long, value_name = "N")]
    pub retry_backoff_factor: Option<u32>,
    /// Longest delay between retries (default 3m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_backoff_max_duration: Option<Duration>,
    /// Give up after this long (whole operation, retries included).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: Format,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// App name or unambiguous environment name.
    pub app: String,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: Format,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// App name or unambiguous environment name.
    pub app: String,
    /// History id to roll back to (default: the entry before the current deployment).
    pub id: Option<u64>,
    /// Delete resources that the target revision does not have.
    #[arg(long)]
    pub prune: bool,
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Give up after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: Format,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncPolicyArg {
    /// Auto-sync on (stored in the cluster as an override of Git's policy).
    Automated,
    /// Auto-sync off (stored in the cluster as an override of Git's policy).
    None,
    /// Remove the override: Git's syncPolicy applies again.
    Git,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// App name or unambiguous environment name.
    pub app: String,
    /// automated, none, or git (drop the override and follow Git's syncPolicy).
    #[arg(long, value_enum)]
    pub sync_policy: SyncPolicyArg,
    /// With automated: revert live drift.
    #[arg(long)]
    pub self_heal: bool,
    /// With automated: delete resources removed from Git.
    #[arg(long)]
    pub auto_prune: bool,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// Start the engine and wait for the first compare.
pub(crate) fn with_engine<T>(
    ctx: &Context,
    live: &LiveArgs,
    f: impl AsyncFnOnce(&EngineHandle, crate::engine::api::Snapshot) -> Result<T>,
) -> Result<T> {
    let rt = session::runtime()?;
    rt.block_on(async {
        let handle = session::start(
            ctx,
            SessionOptions {
                fetch: !live.no_fetch,
                auto_sync: false,
                poll: false,
            },
        )?;
        let snap = session::settled(&handle, live.compare_timeout).await?;
        f(&handle, snap).await
    })
}

/// Errors that make the picture of an App untrustworthy: the cluster or the render failed.
fn blocking_condition(s: &AppState) -> Option<String> {
    use crate::engine::api::ConditionKind as K;
    let msgs: Vec<String> = s
        .conditions
        .iter()
        .filter(|c| matches!(c.kind, K::ClusterError | K::ComparisonError))
        .map(|c| format!("{}: {}", condition_kind(c.kind), c.message))
        .collect();
    (!msgs.is_empty()).then(|| format!("{}: {}", s.app.name, msgs.join("\n")))
}

// ------------------------------------------------------------------------------------ get

pub fn get(args: &GetArgs, ctx: &Context) -> CliResult {
    let state = with_engine(ctx, &args.live, async |_, snap| {
        Ok(session::find(&snap, &args.app)?.clone())
    })?;
    let text = match args.output {
        Format::Text => get_text(&state, args.show_operation),
        f => structured(&app_state_json(&state, ctx), f == Format::Yaml)?,
    };
    output::emit(&text)?;
    match blocking_condition(&state) {
        Some(msg) => Err(eyre!("{msg}")),
        None => Ok(()),
    }
}

/// The full `app get -o json` document.
pub fn app_state_json(s: &AppState, ctx: &Context) -> Value {
    let mut v = super::app::app_json(&s.app, ctx);
    if let Some(m) = v.as_object_mut() {
        let mut status = status_json(s);
        if let Some(sm) = status.as_object_mut() {
            // As Argo CD's `status.resources`: the managed resources only; what they own
            // (ReplicaSets, Pods) is the resource tree.
            let (children, managed): (Vec<&ResourceRow>, Vec<&ResourceRow>) = s
                .resources
                .iter()
                .partition(|r| r.state == ResourceState::Child);
            sm.insert(
                "resources".into(),
                Value::Array(managed.into_iter().map(resource_json).collect()),
            );
            sm.insert(
                "children".into(),
                Value::Array(children.into_iter().map(resource_json).collect()),
            );
        }
        m.insert("status".into(), status);
        m.insert(
            "history".into(),
            Value::Array(s.history.iter().map(history_json).collect()),
        );
    }
    v
}

fn get_text(s: &AppState, show_operation: bool) -> String {
    let app = &s.app;
    let mut out = String::new();
    let policy = {
        let a = s.auto_sync;
        if a.enabled {
            let mut flags = Vec::new();
            if a.prune {
                flags.push("Prune");
            }
            if a.self_heal {
                flags.push("SelfHeal");
            }
            format!(
                "Automated{}{}",
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", flags.join(", "))
                },
                if a.overridden {
                    " [override stored in the cluster]"
                } else {
                    ""
                }
            )
        } else if a.overridden {
            "Manual [override stored in the cluster]".into()
        } else {
            "Manual".into()
        }
    };
    let rev = s
        .revision
        .as_ref()
        .map(|r| format!("{} {}", r.short(), r.subject))
        .unwrap_or_else(|| "<unknown>".into());
    let deployed = s
        .deployed
        .as_ref()
        .map(|r| format!("{} {}", r.short(), r.subject))
        .unwrap_or_else(|| "<never synced>".into());
    let fields: Vec<(&str, String)> = vec![
        ("Name:", app.name.clone()),
        ("Env:", app.env.clone()),
        ("Project:", app.project.clone()),
        (
            "Server:",
            app.destination
                .server
                .clone()
                .or_else(|| app.destination.name.clone())
                .unwrap_or_default(),
        ),
        ("Cluster:", s.cluster.clone()),
        ("Namespace:", app.destination.namespace.clone()),
        ("Repo:", app.source.repo_url.clone()),
        ("Path:", app.source.path.clone()),
        ("Target:", app.source.target_revision.clone()),
        ("Revision:", rev),
        ("Deployed:", deployed),
        ("SyncPolicy:", policy),
        ("Sync Status:", s.sync.as_str().to_string()),
        (
            "Health Status:",
            if s.health_message.is_empty() {
                s.health.as_str().to_string()
            } else {
                format!("{} ({})", s.health.as_str(), s.health_message)
            },
        ),
    ];
    for (k, v) in fields {
        out.push_str(&format!("{k:<15}{v}\n"));
    }
    if show_operation {
        out.push('\n');
        out.push_str(&operation_text(s));
    }
    if !s.conditions.is_empty() {
        out.push('\n');
        let mut rows = vec![vec!["CONDITION".to_string(), "MESSAGE".to_string()]];
        for c in &s.conditions {
            rows.push(vec![
                condition_kind(c.kind).to_string(),
                c.message.replace('\n', " "),
            ]);
        }
        out.push_str(&table(&rows));
    }
    out.push('\n');
    let mut rows = vec![
        [
            "GROUP",
            "KIND",
            "NAMESPACE",
            "NAME",
            "STATUS",
            "HEALTH",
            "MESSAGE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for r in s
        .resources
        .iter()
        .filter(|r| r.state != ResourceState::Child)
    {
        let status = match r.state {
            ResourceState::Missing => "OutOfSync (missing)".to_string(),
            ResourceState::Extra => "OutOfSync (prune)".to_string(),
            _ => r.sync.as_str().to_string(),
        };
        rows.push(vec![
            r.key.group.clone(),
            r.key.kind.clone(),
            r.key.namespace.clone(),
            r.key.name.clone(),
            status,
            r.health.map(|h| h.as_str().to_string()).unwrap_or_default(),
            r.message.replace('\n', " "),
        ]);
    }
    out.push_str(&table(&rows));
    out
}

/// The `--show-operation` block: the last or current operation as recorded in the cluster
/// (Argo CD's operationState, whoever ran it), else this process's running one; then the last
/// successful sync from history.
fn operation_text(s: &AppState) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: &str| out.push_str(&format!("{k:<15}{v}\n"));
    match (&s.operation_state, &s.operation) {
        (Some(o), _) => {
            line(&mut out, "Operation:", output::operation_kind(o.kind));
            line(&mut out, "Phase:", output::recorded_phase(o.phase));
            line(&mut out, "Message:", &o.message.replace('\n', " "));
            line(&mut out, "Initiated By:", &o.initiated_by);
            line(&mut out, "Started At:", &o.started_at);
            if let Some(f) = &o.finished_at {
                line(&mut out, "Finished At:", f);
            }
            if !o.revision.sha.is_empty() {
                line(
                    &mut out,
                    "Sync Revision:",
                    format!("{} {}", o.revision.sha, o.revision.subject).trim_end(),
                );
            }
            let mut opts = Vec::new();
            if let Some(r) = &o.requested_revision {
                opts.push(format!("revision={r}"));
            }
            for (on, name) in [
                (o.dry_run, "dry-run"),
                (o.prune, "prune"),
                (o.force, "force"),
                (o.apply_out_of_sync_only, "apply-out-of-sync-only"),
            ] {
                if on {
                    opts.push(name.to_string());
                }
            }
            opts.extend(o.resource_filters.iter().map(|f| format!("resource={f}")));
            if let Some(l) = o.retry_limit {
                opts.push(format!("retry-limit={l}"));
            }
            if let Some(t) = o.timeout_secs {
                opts.push(format!(
                    "timeout={}",
                    format_duration(Duration::from_secs(t))
                ));
            }
            opts.extend(o.sync_options.iter().cloned());
            if !opts.is_empty() {
                line(&mut out, "Options:", &opts.join(", "));
            }
            if o.retries > 0 {
                line(&mut out, "Retries:", &o.retries.to_string());
            }
            if let Some(id) = o.history_id {
                line(&mut out, "History:", &format!("id {id}"));
            }
            if !o.summary.is_empty() {
                let counts: Vec<String> =
                    o.summary.iter().map(|(k, n)| format!("{k} {n}")).collect();
                line(&mut out, "Results:", &counts.join(", "));
            }
            if !o.resources.is_empty() {
                out.push('\n');
                out.push_str(&results_table(&o.resources));
                if o.resources_omitted > 0 {
                    out.push_str(&format!(
                        "({} more resource results not recorded; counted in Results)\n",
                        o.resources_omitted
                    ));
                }
            }
        }
        (None, Some(o)) => line(
            &mut out,
            "Operation:",
            &format!(
                "{} by {} since {} (phase {}, wave {}, {}/{} done, attempt {})",
                output::operation_kind(o.kind),
                o.initiated_by,
                rfc3339(o.since),
                o.phase,
                o.wave,
                o.done,
                o.total,
                o.attempt
            ),
        ),
        (None, None) => line(&mut out, "Operation:", "<none recorded>"),
    }
    match &s.last_sync {
        Some(l) => line(
            &mut out,
            "Last Sync:",
            &format!(
                "{} by {} at {} ({})",
                &l.revision[..l.revision.len().min(7)],
                l.initiated_by,
                rfc3339(l.time),
                if l.succeeded { "Succeeded" } else { "Failed" }
            ),
        ),
        None => line(&mut out, "Last Sync:", "<none recorded>"),
    }
    out
}

/// Per-resource results of an operation, as `argocd app sync` prints them.
fn results_table(results: &[crate::engine::api::ResourceResult]) -> String {
    let mut rows = vec![
        [
            "GROUP/KIND",
            "NAMESPACE",
            "NAME",
            "PHASE",
            "WAVE",
            "RESULT",
            "MESSAGE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for res in results {
        rows.push(vec![
            group_kind(&res.key),
            res.key.namespace.clone(),
            res.key.name.clone(),
            res.phase.clone(),
            res.wave.to_string(),
            result_code(res.code).to_string(),
            res.message.replace('\n', " "),
        ]);
    }
    table(&rows)
}

// ------------------------------------------------------------------------------------ diff

/// `app diff`: exit 0 no differences, 1 differences, 2 error (like `argocd app diff`).
pub fn diff(args: &DiffArgs, ctx: &Context) -> ! {
    let code = match diff_inner(args, ctx) {
        Ok(has_diff) => i32::from(has_diff && args.exit_code),
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    std::process::exit(code)
}

fn diff_inner(args: &DiffArgs, ctx: &Context) -> Result<bool> {
    let state = with_engine(ctx, &args.live, async |_, snap| {
        Ok(session::find(&snap, &args.app)?.clone())
    })?;
    if let Some(msg) = blocking_condition(&state) {
        return Err(eyre!("cannot diff {msg}"));
    }
    let diffs: Vec<_> = state
        .diffs
        .iter()
        .filter(|d| d.state != ResourceState::Synced && d.state != ResourceState::Child)
        .collect();
    let text = match args.output {
        Format::Text => {
            let mut out = String::new();
            for d in &diffs {
                out.push_str(&format!(
                    "===== {} {}/{} ({}) ======\n",
                    group_kind(&d.key),
                    d.key.namespace,
                    d.key.name,
                    resource_state(d.state)
                ));
                out.push_str(&d.unified);
                if !d.unified.ends_with('\n') {
                    out.push('\n');
                }
            }
            out
        }
        f => structured(
            &json!({
                "app": state.app.name,
                "revision": state.revision.as_ref().map(|r| r.sha.clone()),
                "sync": state.sync.as_str(),
                "diffs": diffs.iter().map(|d| {
                    let mut v = json!({"group": d.key.group, "kind": d.key.kind, "namespace": d.key.namespace, "name": d.key.name});
                    v["state"] = json!(resource_state(d.state));
                    v["diff"] = json!(d.unified);
                    v
                }).collect::<Vec<_>>(),
            }),
            f == Format::Yaml,
        )?,
    };
    output::emit(&text)?;
    Ok(!diffs.is_empty())
}

// ------------------------------------------------------------------------------------ sync

fn retry_override(args: &SyncArgs) -> Option<RetryOverride> {
    let any = args.retry_limit.is_some()
        || args.retry_backoff_duration.is_some()
        || args.retry_backoff_factor.is_some()
        || args.retry_backoff_max_duration.is_some();
    if !any {
        return None;
    }
    let d = Backoff::default();
    Some(RetryOverride {
        limit: args.retry_limit.unwrap_or(0),
        backoff: Backoff {
            duration: args.retry_backoff_duration.unwrap_or(d.duration),
            factor: args.retry_backoff_factor.unwrap_or(d.factor),
            max_duration: args.retry_backoff_max_duration.unwrap_or(d.max_duration),
        },
    })
}

pub fn sync_options(args: &SyncArgs) -> SyncOptions {
    SyncOptions {
        prune: args.prune,
        dry_run: args.dry_run,
        force: args.force,
        apply_out_of_sync_only: args.apply_out_of_sync_only,
        revision: args.revision.clone(),
        resources: args.resources.clone(),
        retry: retry_override(args),
        timeout: args.timeout,
    }
}

pub fn sync(args: &SyncArgs, ctx: &Context) -> CliResult {
    if args.retry_backoff_factor == Some(0) {
        return Err(eyre!(
            "--retry-backoff-factor must be at least 1 (got 0)\n  use 1 for a constant delay"
        ));
    }
    let options = sync_options(args);
    let result = with_engine(ctx, &args.live, async |handle, snap| {
        let state = session::find(&snap, &args.app)?;
        if !args.dry_run {
            session::check_mutation(ctx, &state.app, "sync")?;
        }
        let overwrites = state.ignored_overwrites();
        if !overwrites.is_empty() {
            eprintln!(
                "note: this sync sets Git's value of fields ignoreDifferences hides (add the sync option RespectIgnoreDifferences=true to keep the live values):\n  {}",
                overwrites.join("\n  ")
            );
        }
        let name = state.app.name.clone();
        run_operation(
            handle,
            Command::Sync {
                app: name.clone(),
                options,
            },
            &name,
            args.timeout,
        )
        .await
    })?;
    finish_operation(&result, args.output)
}

/// Send an operation, relay its progress to stderr, and wait for its result.
async fn run_operation(
    handle: &EngineHandle,
    command: Command,
    app: &str,
    timeout: Option<Duration>,
) -> Result<OperationResult> {
    let mut events = handle.subscribe();
    let app_name = app.to_string();
    let progress = tokio::spawn(async move {
        while let Ok(ev) = events.recv().await {
            match ev {
                Event::OperationStarted {
                    app,
                    revision,
                    total,
                    kind,
                } if app == app_name => eprintln!(
                    "{} {app} at {} ({total} resources)",
                    output::operation_kind(kind),
                    &revision[..revision.len().min(7)]
                ),
                Event::Progress {
                    app,
                    phase,
                    wave,
                    resource: Some(r),
                    done,
                    total,
                    ..
                } if app == app_name => eprintln!(
                    "[{done}/{total}] {phase} wave {wave}: {} {}/{} {}{}",
                    group_kind(&r.key),
                    r.key.namespace,
                    r.key.name,
                    result_code(r.code),
                    if r.message.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.message.replace('\n', " "))
                    }
                ),
                Event::Retrying {
                    app,
                    attempt,
                    delay,
                    error,
                } if app == app_name => eprintln!(
                    "attempt {attempt} failed: {error}; retrying in {}",
                    format_duration(delay)
                ),
                _ => {}
            }
        }
    });
    // The engine enforces `--timeout` itself; this outer guard only catches an engine that never
    // answers (a little later, so the engine's own message wins).
    let call = handle.call(command);
    let outcome = match timeout {
        Some(t) => match tokio::time::timeout(t + Duration::from_secs(30), call).await {
            Ok(o) => o,
            Err(_) => CommandOutcome::Failed(format!(
                "no result after {} (--timeout)",
                format_duration(t)
            )),
        },
        None => call.await,
    };
    progress.abort();
    match outcome {
        CommandOutcome::Operation(r) => Ok(r),
        CommandOutcome::Refused(m) => Err(eyre!("refused: {m}")),
        CommandOutcome::Failed(m) => Err(eyre!("{m}")),
        CommandOutcome::Done => Err(eyre!("the engine answered without an operation result")),
    }
}

/// Print an operation's result; a failed operation is an error (exit 1).
fn finish_operation(r: &OperationResult, format: Format) -> CliResult {
    let text = match format {
        Format::Text => {
            let mut out = results_table(&r.resources);
            out.push_str(&format!(
                "\nApp:       {}\nOperation: {}{}\nRevision:  {}\nPhase:     {}\nMessage:   {}\n",
                r.app,
                output::operation_kind(r.kind),
                if r.dry_run { " (dry run)" } else { "" },
                r.revision,
                output::operation_phase(r.phase),
                r.message
            ));
            if r.retries > 0 {
                out.push_str(&format!("Retries:   {}\n", r.retries));
            }
            if let Some(id) = r.history_id {
                out.push_str(&format!("History:   id {id}\n"));
            }
            out
        }
        f => structured(&operation_result_json(r), f == Format::Yaml)?,
    };
    output::emit(&text)?;
    match r.phase {
        OperationPhase::Succeeded => Ok(()),
        OperationPhase::Failed | OperationPhase::Error | OperationPhase::Refused => Err(eyre!(
            "{} of {} {}: {}",
            output::operation_kind(r.kind),
            r.app,
            output::operation_phase(r.phase).to_lowercase(),
            r.message
        )),
    }
}

// ------------------------------------------------------------------------------------ history

pub fn history(args: &HistoryArgs, ctx: &Context) -> CliResult {
    let state = with_engine(ctx, &args.live, async |_, snap| {
        Ok(session::find(&snap, &args.app)?.clone())
    })?;
    if let Some(msg) = state
        .conditions
        .iter()
        .find(|c| c.kind == crate::engine::api::ConditionKind::ClusterError)
        .map(|c| c.message.clone())
        && state.history.is_empty()
    {
        return Err(eyre!(
            "cannot read the history of {}: {msg}",
            state.app.name
        ));
    }
    let mut entries = state.history.clone();
    entries.sort_by_key(|e| std::cmp::Reverse(e.id));
    let text = match args.output {
        Format::Text => {
            let mut rows = vec![
                ["ID", "DATE", "REVISION", "INITIATED BY", "SUBJECT"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            ];
            for e in &entries {
                rows.push(vec![
                    e.id.to_string(),
                    e.deployed_at.clone(),
                    e.revision[..e.revision.len().min(7)].to_string(),
                    e.initiated_by.clone(),
                    e.subject.clone(),
                ]);
            }
            table(&rows)
        }
        f => structured(
            &Value::Array(entries.iter().map(history_json).collect()),
            f == Format::Yaml,
        )?,
    };
    output::emit(&text)
}

// ------------------------------------------------------------------------------------ rollback

/// The entry to roll back to when no id is given: the newest entry older than the deployed one.
fn previous_id(state: &AppState) -> Result<u64> {
    let mut ids: Vec<u64> = state.history.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    match ids.as_slice() {
        [.., prev, _current] => Ok(*prev),
        _ => Err(eyre!(
            "{} has {} history entr{}: nothing earlier to roll back to\n  see `sextant app history {}`",
            state.app.name,
            ids.len(),
            if ids.len() == 1 { "y" } else { "ies" },
            state.app.name
        )),
    }
}

pub fn rollback(args: &RollbackArgs, ctx: &Context) -> CliResult {
    let result = with_engine(ctx, &args.live, async |handle, snap| {
        let state = session::find(&snap, &args.app)?;
        if !args.dry_run {
            session::check_mutation(ctx, &state.app, "roll back")?;
        }
        let id = match args.id {
            Some(id) => id,
            None => previous_id(state)?,
        };
        let name = state.app.name.clone();
        eprintln!("rolling back {name} to history id {id}");
        run_operation(
            handle,
            Command::Rollback {
                app: name.clone(),
                history_id: id,
                options: SyncOptions {
                    prune: args.prune,
                    dry_run: args.dry_run,
                    timeout: args.timeout,
                    ..SyncOptions::default()
                },
            },
            &name,
            args.timeout,
        )
        .await
    })?;
    finish_operation(&result, args.output)
}

// ------------------------------------------------------------------------------------ set

pub fn set(args: &SetArgs, ctx: &Context) -> CliResult {
    if args.sync_policy != SyncPolicyArg::Automated && (args.self_heal || args.auto_prune) {
        return Err(eyre!(
            "--self-heal and --auto-prune only apply with --sync-policy automated"
        ));
    }
    let state = with_engine(ctx, &args.live, async |handle, snap| {
        let state = session::find(&snap, &args.app)?;
        session::check_mutation(ctx, &state.app, "change the sync policy of")?;
        let name = state.app.name.clone();
        let (enabled, self_heal, prune) = match args.sync_policy {
            SyncPolicyArg::Automated => (Some(true), Some(args.self_heal), Some(args.auto_prune)),
            SyncPolicyArg::None => (Some(false), Some(false), Some(false)),
            SyncPolicyArg::Git => (None, None, None),
        };
        match handle
            .call(Command::SetAutoSync {
                app: name.clone(),
                enabled,
                self_heal,
                prune,
            })
            .await
        {
            CommandOutcome::Done => {}
            CommandOutcome::Refused(m) => return Err(eyre!("refused: {m}")),
            CommandOutcome::Failed(m) => return Err(eyre!("{m}")),
            CommandOutcome::Operation(r) => {
                return Err(eyre!("unexpected operation result: {}", r.message));
            }
        }
        let snap = handle.snapshot();
        snap.app(&name)
            .cloned()
            .ok_or_else(|| eyre!("{name} vanished from the engine state"))
    })?;
    let a = state.auto_sync;
    output::emit(&format!(
        "{}: auto-sync {}{}{}{}\n",
        state.app.name,
        if a.enabled { "automated" } else { "none" },
        if a.enabled && a.self_heal {
            ", self-heal"
        } else {
            ""
        },
        if a.enabled && a.prune { ", prune" } else { "" },
        if a.overridden {
            " (override stored in the cluster; `--sync-policy git` removes it)"
        } else {
            " (from Git)"
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::HistoryEntry;

    fn entry(id: u64) -> HistoryEntry {
        HistoryEntry {
            id,
            revision: format!("{id:040}"),
            subject: String::new(),
            deployed_at: "2026-01-01T00:00:00Z".into(),
            initiated_by: "a@b".into(),
            source: String::new(),
        }
    }

    #[test]
    fn previous_id_is_second_newest() {
        let mut s = AppState::new(super::super::session::tests::app("a", "dev"), String::new());
        assert!(previous_id(&s).is_err());
        s.history = vec![entry(3), entry(1), entry(2)];
        assert_eq!(previous_id(&s).unwrap(), 2);
        s.history = vec![entry(1)];
        let e = previous_id(&s).unwrap_err().to_string();
        assert!(e.contains("1 history entry"), "{e}");
    }

    #[test]
    fn show_operation_renders_the_recorded_operation() {
        use crate::engine::api::{
            OperationKind, OperationState, RecordedPhase, ResourceResult, ResultCode, Revision,
        };
        use crate::resource::ResourceKey;
        let mut s = AppState::new(super::super::session::tests::app("a", "dev"), String::new());
        let text = operation_text(&s);
        assert!(text.contains("Operation:     <none recorded>"), "{text}");
        assert!(text.contains("Last Sync:     <none recorded>"), "{text}");
        s.operation_state = Some(OperationState {
            id: "bob@box sync #00ff".into(),
            kind: OperationKind::Sync,
            phase: RecordedPhase::Failed,
            message: "one or more objects failed\nto apply".into(),
            initiated_by: "bob@box".into(),
            started_at: "2026-03-09T11:30:00Z".into(),
            finished_at: Some("2026-03-09T11:30:04Z".into()),
            revision: Revision {
                sha: "0123456789012345678901234567890123456789".into(),
                subject: "dev: bad".into(),
            },
            requested_revision: None,
            dry_run: false,
            prune: true,
            force: false,
            apply_out_of_sync_only: false,
            resource_filters: vec![],
            sync_options: vec!["CreateNamespace=true".into()],
            retry_limit: None,
            timeout_secs: Some(180),
            retries: 1,
            history_id: None,
            summary: [("Failed".to_string(), 1), ("Synced".to_string(), 2)]
                .into_iter()
                .collect(),
            resources: vec![ResourceResult {
                key: ResourceKey::new("", "ConfigMap", "ns", "Bad_Name"),
                phase: "Sync".into(),
                wave: 0,
                code: ResultCode::Failed,
                message: "invalid name".into(),
            }],
            resources_omitted: 2,
            source: None,
        });
        let text = operation_text(&s);
        for want in [
            "Operation:     Sync\n",
            "Phase:         Failed\n",
            "Message:       one or more objects failed to apply\n",
            "Initiated By:  bob@box\n",
            "Finished At:   2026-03-09T11:30:04Z\n",
            "Sync Revision: 0123456789012345678901234567890123456789 dev: bad\n",
            "Options:       prune, timeout=3m0s, CreateNamespace=true\n",
            "Retries:       1\n",
            "Results:       Failed 1, Synced 2\n",
            "ConfigMap   ns         Bad_Name",
            "(2 more resource results not recorded",
        ] {
            assert!(text.contains(want), "{want:?} missing:\n{text}");
        }
        // The JSON document has the record, without the lease token.
        let ctx = Context::default();
        let v = app_state_json(&s, &ctx);
        let op = &v["status"]["operationState"];
        assert_eq!(op["phase"], "Failed");
        assert_eq!(op["resources"][0]["result"], "Failed");
        assert!(!v.to_string().contains("#00ff"), "{v}");
    }

    #[test]
    fn retry_flags_override_with_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            s: SyncArgs,
        }
        let t = T::try_parse_from([
            "t",
            "prod",
            "--retry-limit",
            "3",
            "--retry-backoff-duration",
            "2s",
        ])
        .unwrap();
        let o = sync_options(&t.s);
        let r = o.retry.unwrap();
        assert_eq!(r.limit, 3);
        assert_eq!(r.backoff.duration, Duration::from_secs(2));
        assert_eq!(r.backoff.factor, 2);
        assert_eq!(r.backoff.max_duration, Duration::from_secs(180));
        let t = T::try_parse_from([
            "t",
            "prod",
            "--resource",
            "apps:Deployment:web",
            "--resource",
            ":Service:ns/web",
        ])
        .unwrap();
        assert_eq!(t.s.resources.len(), 2);
        assert_eq!(t.s.resources[1].namespace, "ns");
        assert!(T::try_parse_from(["t", "prod", "--resource", "web"]).is_err());
        assert!(T::try_parse_from(["t", "prod", "--timeout", "5"]).is_err());
        assert!(
            sync_options(&T::try_parse_from(["t", "p"]).unwrap().s)
                .retry
                .is_none()
        );
    }
}
