//! `sextant app ...`: list Apps, print their rendered manifests.

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// More columns: project, kubeconfig context, repo URL, resolved revision, origin.
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
    let mut out = Vec::new();
    match args.output {
        Some(ListFormat::Json) => {
            let v: Vec<Value> = apps.iter().map(|a| app_json(a, ctx)).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Some(ListFormat::Yaml) => {
            let v: Vec<Value> = apps.iter().map(|a| app_json(a, ctx)).collect();
            write!(
                out,
                "{}",
                serde_saphyr::to_string(&v).wrap_err("cannot write YAML")?
            )?;
        }
        fmt => {
            let wide = fmt == Some(ListFormat::Wide);
            let mut header = vec![
                "NAME",
                "ENV",
                "CLUSTER",
                "NAMESPACE",
                "PATH",
                "TARGET",
                "SYNCPOLICY",
            ];
            if wide {
                header.extend(["PROJECT", "CONTEXT", "REVISION", "REPO", "ORIGIN"]);
            }
            let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
            for app in &apps {
                let mut row = vec![
                    app.name.clone(),
                    app.env.clone(),
                    cluster_label(app),
                    app.destination.namespace.clone(),
                    app.source.path.clone(),
                    app.source.target_revision.clone(),
                    sync_policy_label(app).to_string(),
                ];
                if wide {
                    let context =
                        match context_for(&app.name, &app.destination, &ctx.config.clusters) {
                            Ok(c) => c.to_string(),
                            Err(_) => "<unmapped>".to_string(),
                        };
                    let revision = repo
                        .resolve(&app.source.target_revision)
                        .map(|c| c.short().to_string())
                        .unwrap_or_else(|_| "<unknown>".into());
                    row.extend([
                        app.project.clone(),
                        context,
                        revision,
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
        .unwrap_or_else(|| app.source.target_revision.clone());
    let commit = repo.resolve(&revision)?;
    let renderer = Renderer::new(RenderOptions::from_config(&ctx.config));
    let rendered = renderer.render(&repo, app, &commit)?;
    for n in &rendered.notices {
        eprintln!("note: {n}");
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
