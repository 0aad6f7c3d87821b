//! `sextant app ...`: list Apps, print their rendered manifests; the live commands (get, diff,
//! sync, history, rollback, set) are in `ops.rs`.

use std::io::Write;

use clap::{Args, Subcommand, ValueEnum};
use color_eyre::eyre::{Result, WrapErr, eyre};
use serde_json::{Value, json};

use super::{CliResult, Context};
use crate::app::{App, SourceKind};
use crate::render::{Manifest, RenderOptions, Renderer, mask_secret, to_yaml_stream};
use crate::source::{self, Commit, Repo, context_for};

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// List the Apps declared in the repository (ApplicationSets, Applications, config.toml).
    List(ListArgs),
    /// Print the manifests Git says an App should run (like `argocd app manifests --source git`).
    Manifests(ManifestsArgs),
    /// Show an App: sync and health status, conditions, resources.
    Get(super::ops::GetArgs),
    /// Show the differences between Git and the cluster (exit 0 none, 1 differences, 2 error).
    Diff(super::ops::DiffArgs),
    /// Sync an App to its target revision (or --revision).
    Sync(super::ops::SyncArgs),
    /// Show an App's deployment history (successful syncs, stored in the cluster).
    History(super::ops::HistoryArgs),
    /// Re-sync the revision of a history entry (default: the previous one).
    Rollback(super::ops::RollbackArgs),
    /// Change an App's auto-sync policy (an override stored in the cluster).
    Set(super::ops::SetArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// More columns: env, path, target, resolved revision, kubeconfig context, repo URL, origin.
    Wide,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format (default: a table).
    #[arg(short, long, value_enum)]
    pub output: Option<ListFormat>,
    /// Do not fetch the remote first (use the refs already in the clone).
    #[arg(long)]
    pub no_fetch: bool,
    /// How long to wait for the first compare of the Apps (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = super::duration::parse_duration)]
    pub compare_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// App name (e.g. astromesh-prod) or environment name (e.g. prod) when unambiguous.
    pub app: String,
    /// Render at this revision (branch, tag or sha) instead of the App's targetRevision.
    #[arg(long)]
    pub revision: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "yaml")]
    pub output: ManifestFormat,
    /// Do not fetch the remote first (use the refs already in the clone).
    #[arg(long)]
    pub no_fetch: bool,
}

pub fn run(cmd: AppCommand, ctx: &Context) -> CliResult {
    match cmd {
        AppCommand::List(args) => list(&args, ctx),
        AppCommand::Manifests(args) => manifests(&args, ctx),
        AppCommand::Get(args) => super::ops::get(&args, ctx),
        AppCommand::Diff(args) => super::ops::diff(&args, ctx),
        AppCommand::Sync(args) => super::ops::sync(&args, ctx),
        AppCommand::History(args) => super::ops::history(&args, ctx),
        AppCommand::Rollback(args) => super::ops::rollback(&args, ctx),
        AppCommand::Set(args) => super::ops::set(&args, ctx),
    }
}

/// Open the repository, fetch unless told not to (a failed fetch is a warning: the local refs
/// still work offline), and load the Apps at `HEAD`.
fn load(ctx: &Context, fetch: bool) -> Result<(Repo, Commit, Vec<App>)> {
    let repo = source::open_repo(ctx.repo.as_deref(), &ctx.config)?;
    if fetch && let Err(e) = repo.fetch() {
        eprintln!("warning: {e}\n  continuing with the refs already fetched");
    }
    let head = repo.resolve("HEAD")?;
    let loaded = source::load_apps(&repo, &head, &ctx.config)?;
    for e in &loaded.errors {
        eprintln!("warning: {e}");
    }
    Ok((repo, head, loaded.apps))
}

/// One warning per distinct cluster or comparison problem, naming the Apps it affects: with no
/// kubeconfig, four Apps get the same "cannot read kubeconfig" condition, said once.
fn grouped_warnings(states: &[crate::engine::api::AppState]) -> Vec<String> {
    use crate::engine::api::ConditionKind;
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for s in states {
        for c in &s.conditions {
            if !matches!(
                c.kind,
                ConditionKind::ClusterError | ConditionKind::ComparisonError
            ) {
                continue;
            }
            match groups.iter_mut().find(|(m, _)| *m == c.message) {
                Some((_, apps)) => apps.push(&s.app.name),
                None => groups.push((&c.message, vec![&s.app.name])),
            }
        }
    }
    groups
        .into_iter()
        .map(|(message, apps)| match apps.as_slice() {
            [one] => format!("warning: {one}: {message}"),
            many => format!(
                "warning: {} Apps ({}): {message}",
                many.len(),
                many.join(", ")
            ),
        })
        .collect()
}

/// Find an App by name, else by environment when exactly one App has it.
pub fn find_app<'a>(apps: &'a [App], query: &str) -> Result<&'a App> {
    if let Some(a) = apps.iter().find(|a| a.name == query) {
        return Ok(a);
    }
    let by_env: Vec<&App> = apps.iter().filter(|a| a.env == query).collect();
    match by_env.as_slice() {
        [one] => Ok(one),
        [] => {
            let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
            Err(eyre!(
                "unknown app `{query}`: no App or environment has that name\n  apps: {}",
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            ))
        }
        many => {
            let names: Vec<&str> = many.iter().map(|a| a.name.as_str()).collect();
            Err(eyre!(
                "`{query}` is ambiguous: environment of {}\n  fix: give the app name",
                names.join(", ")
            ))
        }
    }
}

fn sync_policy_label(app: &App) -> &'static str {
    match app.sync_policy.automated {
        Some(a) if a.prune => "Auto-Prune",
        Some(_) => "Auto",
        None => "<none>",
    }
}

fn cluster_label(app: &App) -> String {
    app.destination
        .server
        .clone()
        .or_else(|| app.destination.name.clone())
        .unwrap_or_default()
}

/// The `-o json` schema of one App (documented in docs/cli.md by the CLI owners).
pub fn app_json(app: &App, ctx: &Context) -> Value {
    let context = context_for(&app.name, &app.destination, &ctx.config.clusters)
        .map(|c| match c {
            source::KubeContext::Current => Value::Null,
            source::KubeContext::Named(n) => Value::String(n),
        })
        .unwrap_or(Value::Null);
    let source = match &app.source.kind {
        SourceKind::Helm(h) => json!({
            "type": "helm",
            "valueFiles": h.value_files,
            "releaseName": app.release_name(),
            "parameters": h.parameters.iter().map(|p| json!({"name": p.name, "value": p.value, "forceString": p.force_string})).collect::<Vec<_>>(),
            "hasInlineValues": h.values.is_some(),
            "skipCrds": h.skip_crds,
        }),
        SourceKind::Directory(d) => json!({
            "type": "directory",
            "recurse": d.recurse,
            "include": d.include,
            "exclude": d.exclude,
        }),
    };
    json!({
        "name": app.name,
        "env": app.env,
        "project": app.project,
        "origin": app.origin,
        "source": {
            "repoURL": app.source.repo_url,
            "path": app.source.path,
            "targetRevision": app.source.target_revision,
            "render": source,
        },
        "destination": {
            "server": app.destination.server,
            "name": app.destination.name,
            "namespace": app.destination.namespace,
            "context": context,
        },
        "syncPolicy": {
            "automated": app.sync_policy.automated.map(|a| json!({"prune": a.prune, "selfHeal": a.self_heal, "allowEmpty": a.allow_empty})),
            "syncOptions": app.sync_policy.sync_options,
            "retry": app.sync_policy.retry.map(|r| json!({
                "limit": r.limit,
                "backoff": {
                    "durationSeconds": r.backoff.duration.as_secs_f64(),
                    "factor": r.backoff.factor,
                    "maxDurationSeconds": r.backoff.max_duration.as_secs_f64(),
                }
            })),
        },
        "revisionHistoryLimit": app.revision_history_limit,
    })
}

fn list(args: &ListArgs, ctx: &Context) -> CliResult {
    let (repo, _head, apps) = load(ctx, !args.no_fetch)?;
    report_repo_state(&repo, &apps);
    // Live status from the engine (already fetched above). A cluster that cannot be reached
    // leaves the Apps Unknown with the reason in CONDITIONS; the listing itself still works.
    let live = super::ops::LiveArgs {
        no_fetch: true,
        compare_timeout: args.compare_timeout,
    };
    let states = if apps.is_empty() {
        Vec::new()
    } else {
        super::ops::with_engine(ctx, &live, async |_, snap| Ok(snap.apps))?
    };
    let state_of = |name: &str| states.iter().find(|s| s.app.name == name);
    for w in grouped_warnings(&states) {
        eprintln!("{w}");
    }
    let mut out = Vec::new();
    match args.output {
        Some(fmt @ (ListFormat::Json | ListFormat::Yaml)) => {
            let v: Vec<Value> = apps
                .iter()
                .map(|a| {
                    let mut v = app_json(a, ctx);
                    if let (Some(m), Some(s)) = (v.as_object_mut(), state_of(&a.name)) {
                        m.insert("status".into(), super::output::status_json(s));
                    }
                    v
                })
                .collect();
            if fmt == ListFormat::Json {
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            } else {
                write!(
                    out,
                    "{}",
                    serde_saphyr::to_string(&v).wrap_err("cannot write YAML")?
                )?;
            }
        }
        fmt => {
            let wide = fmt == Some(ListFormat::Wide);
            let mut header = vec![
                "NAME",
                "CLUSTER",
                "NAMESPACE",
                "PROJECT",
                "STATUS",
                "HEALTH",
                "SYNCPOLICY",
                "CONDITIONS",
            ];
            if wide {
                header.extend([
                    "ENV", "PATH", "TARGET", "REVISION", "CONTEXT", "REPO", "ORIGIN",
                ]);
            }
            let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
            for app in &apps {
                let st = state_of(&app.name);
                let mut row = vec![
                    app.name.clone(),
                    cluster_label(app),
                    app.destination.namespace.clone(),
                    app.project.clone(),
                    st.map(|s| s.sync.as_str()).unwrap_or("Unknown").to_string(),
                    st.map(|s| s.health.as_str())
                        .unwrap_or("Unknown")
                        .to_string(),
                    st.map(super::output::sync_policy_label)
                        .unwrap_or_else(|| sync_policy_label(app).to_string()),
                    st.map(super::output::conditions_label)
                        .unwrap_or_else(|| "<none>".into()),
                ];
                if wide {
                    let context =
                        match context_for(&app.name, &app.destination, &ctx.config.clusters) {
                            Ok(c) => c.to_string(),
                            Err(_) => "<unmapped>".to_string(),
                        };
                    let revision = st
                        .and_then(|s| s.revision.as_ref())
                        .map(|r| r.short().to_string())
                        .or_else(|| {
                            repo.resolve(app.source.git_revision())
                                .ok()
                                .map(|c| c.short().to_string())
                        })
                        .unwrap_or_else(|| "<unknown>".into());
                    row.extend([
                        app.env.clone(),
                        app.source.path.clone(),
                        app.source.target_revision.clone(),
                        revision,
                        context,
                        app.source.repo_url.clone(),
                        app.origin.clone(),
                    ]);
                }
                rows.push(row);
            }
            write_table(&mut out, &rows)?;
        }
    }
    emit(&out)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn emit(bytes: &[u8]) -> CliResult {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Warnings a user needs before trusting what is listed: local commits not pushed, uncommitted
/// edits of an App's files, destinations without a context.
fn report_repo_state(repo: &Repo, apps: &[App]) {
    if let Ok(Some(st)) = repo.branch_status()
        && let (Some(branch), Some(up)) = (&st.branch, &st.upstream)
    {
        if st.ahead > 0 {
            eprintln!(
                "warning: branch {branch} is {} commit(s) ahead of {up}: not deployed until pushed",
                st.ahead
            );
        }
        if st.behind > 0 {
            eprintln!(
                "note: branch {branch} is {} commit(s) behind {up}",
                st.behind
            );
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for app in apps {
        if !seen.insert(app.source.path.clone()) {
            continue;
        }
        if let Ok(changed) = repo.uncommitted_changes(&app.source.path)
            && !changed.is_empty()
        {
            eprintln!(
                "warning: {} uncommitted change(s) under {} ({}): not deployed until committed and pushed",
                changed.len(),
                app.source.path,
                changed.join(", ")
            );
        }
    }
}

fn write_table(out: &mut impl Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let cols = rows.first().map(Vec::len).unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == cols {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn manifests(args: &ManifestsArgs, ctx: &Context) -> CliResult {
    let (repo, _head, apps) = load(ctx, !args.no_fetch)?;
    let app = find_app(&apps, &args.app)?;
    let revision = args
        .revision
        .clone()
        .unwrap_or_else(|| app.source.git_revision().to_string());
    let commit = repo.resolve(&revision)?;
    let renderer = Renderer::new(RenderOptions::from_config(&ctx.config));
    let rendered = renderer.render(&repo, app, &commit)?;
    for n in &rendered.notices {
        eprintln!("note: {n}");
    }
    if matches!(app.source.kind, SourceKind::Helm(_)) {
        // `.Capabilities.KubeVersion` changes what many charts render: say which was used.
        match &ctx.config.render.kube_version {
            Some(v) => {
                eprintln!("note: rendered for Kubernetes {v} (render.kube_version in config.toml)")
            }
            None => eprintln!(
                "note: rendered for Kubernetes {} (helm 3.22's default; set render.kube_version \
                 in config.toml to the destination cluster's version)",
                helmchart::render::DEFAULT_KUBE_VERSION
            ),
        }
    }
    // Secret values never reach the terminal or a CI log, even though they come from Git.
    let masked: Vec<Manifest> = rendered
        .manifests
        .iter()
        .map(|m| Manifest {
            object: mask_secret(&m.object),
            source_file: m.source_file.clone(),
        })
        .collect();
    let mut out = Vec::new();
    match args.output {
        ManifestFormat::Yaml => write!(out, "{}", to_yaml_stream(&masked))?,
        ManifestFormat::Json => {
            let objs: Vec<&Value> = masked.iter().map(|m| &m.object).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&objs)?)?;
        }
    }
    emit(&out)
}
