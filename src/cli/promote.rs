//! `sextant promote SRC DST [--key PATH...] [-m MSG] [--push]`: copy values from one environment's
//! values file to another's, as one commit, through the engine's `Promote` command.

use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, eyre};
use serde_json::json;

use super::output::{self, Format, structured};
use super::session::{self, SessionOptions};
use super::{CliResult, Context};
use crate::config::Config;
use crate::engine::api::{Command, CommandOutcome, PromoteRequest, Revision, Snapshot};
use crate::source;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Source environment (or an App of it), e.g. dev.
    pub source: String,
    /// Target environment (or an App of it), e.g. staging.
    pub target: String,
    /// Value key path to copy (`a.b.c`; repeatable). Default: every key that differs.
    #[arg(long = "key", value_name = "PATH")]
    pub keys: Vec<String>,
    /// Commit message (default: one naming the keys and the source env).
    #[arg(short, long, value_name = "MSG")]
    pub message: Option<String>,
    /// Push the commit to the branch's remote.
    #[arg(long)]
    pub push: bool,
    /// List the differences by key path (added, changed, removed) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: Format,
    /// How long to wait for the repository to be read.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = super::duration::parse_duration)]
    pub timeout: Duration,
}

/// The environment named by `query`: an env name, or the env of the App with that name.
fn env_of(snap: &Snapshot, query: &str) -> Result<String> {
    if snap.apps.iter().any(|a| a.app.env == query) {
        return Ok(query.to_string());
    }
    if let Some(a) = snap.app(query) {
        return Ok(a.app.env.clone());
    }
    let mut envs: Vec<&str> = snap.apps.iter().map(|a| a.app.env.as_str()).collect();
    envs.sort_unstable();
    envs.dedup();
    Err(eyre!(
        "unknown environment `{query}`\n  environments: {}",
        if envs.is_empty() {
            "(none)".to_string()
        } else {
            envs.join(", ")
        }
    ))
}

pub fn run(args: &PromoteArgs, ctx: &Context) -> CliResult {
    if args.dry_run {
        return plan_only(args, ctx);
    }
    if ctx.readonly {
        return Err(eyre!(
            "refusing to promote {} → {}: --readonly is set (mutating commands are disabled)",
            args.source,
            args.target
        ));
    }
    let rt = session::runtime()?;
    let (src, dst, rev) = rt.block_on(async {
        let handle = session::start(
            ctx,
            SessionOptions {
                fetch: true,
                auto_sync: false,
                poll: false,
            },
        )?;
        // Only the repository poll is needed (env names), not a compare of every App.
        let mut rx = handle.state.clone();
        let snap = tokio::time::timeout(args.timeout, async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if s.repo.last_fetch.is_some() || s.repo.error.is_some() {
                        return Ok(s.clone());
                    }
                }
                if rx.changed().await.is_err() {
                    return Err(eyre!("the engine stopped before reading the repository"));
                }
            }
        })
        .await
        .map_err(|_| eyre!("timed out reading the repository"))??;
        if snap.apps.is_empty()
            && let Some(e) = &snap.repo.error
        {
            return Err(eyre!("cannot read the repository: {e}"));
        }
        let src = env_of(&snap, &args.source)?;
        let dst = env_of(&snap, &args.target)?;
        if src == dst {
            return Err(eyre!(
                "source and target are the same environment ({src})\n  promote between two environments, e.g. `sextant promote dev staging`"
            ));
        }
        let target_app = snap
            .apps
            .iter()
            .find(|a| a.app.env == dst)
            .map(|a| a.app.name.clone())
            .unwrap_or_default();
        session::check_protected(ctx, &dst, &target_app, "promote to")?;
        let request = PromoteRequest {
            source_env: src.clone(),
            target_env: dst.clone(),
            keys: args.keys.clone(),
            message: args.message.clone(),
            push: args.push,
        };
        match handle.call(Command::Promote(request)).await {
            CommandOutcome::Done => {}
            CommandOutcome::Refused(m) => return Err(eyre!("promotion refused: {m}")),
            CommandOutcome::Failed(m) => return Err(eyre!("promotion failed: {m}")),
            CommandOutcome::Operation(r) => return Err(eyre!("promotion: {}", r.message)),
        }
        // The engine re-reads the repository after a promotion: the target's new revision.
        let snap = handle.snapshot();
        let rev = snap
            .apps
            .iter()
            .find(|a| a.app.env == dst)
            .and_then(|a| a.revision.clone())
            .or(snap.repo.head.clone());
        Ok((src, dst, rev))
    })?;
    let rev = rev.unwrap_or_default();
    let text = match args.output {
        Format::Text => format!(
            "promoted {src} → {dst}: commit {} {}{}\n",
            rev.short(),
            rev.subject,
            if args.push { " (pushed)" } else { "" }
        ),
        f => structured(
            &json!({
                "source": src,
                "target": dst,
                "keys": args.keys,
                "commit": {"sha": rev.sha, "subject": rev.subject},
                "pushed": args.push,
            }),
            f == Format::Yaml,
        )?,
    };
    output::emit(&text)
}

/// Execute a promotion in the repository (called by the engine through `GitRepo::promote`).
pub fn execute(
    repo: &source::Repo,
    config: &Config,
    request: &PromoteRequest,
) -> Result<Revision, String> {
    let done = crate::engine::promote::promote(
        repo,
        config,
        &request.source_env,
        &request.target_env,
        &request.keys,
        request.message.as_deref(),
        request.push,
    )
    .map_err(|e| e.to_string())?;
    Ok(Revision {
        sha: done.commit.sha.clone(),
        subject: done.commit.summary.clone(),
    })
}

/// `--dry-run`: the differences by key path, without values (a values file may hold something
/// sensitive), and which of them `--key` selects.
fn plan_only(args: &PromoteArgs, ctx: &Context) -> CliResult {
    let repo = source::open_repo(ctx.repo.as_deref(), &ctx.config)?;
    let plan = crate::engine::promote::plan(&repo, &ctx.config, &args.source, &args.target)
        .map_err(|e| eyre!("{e}"))?;
    let selected = |key: &str| {
        args.keys.is_empty()
            || args
                .keys
                .iter()
                .any(|k| key == k || key.starts_with(&format!("{k}.")))
    };
    let text = match args.output {
        Format::Text => {
            let mut rows = vec![vec![
                "KEY".to_string(),
                "CHANGE".to_string(),
                "SELECTED".to_string(),
            ]];
            for c in &plan.changes {
                let key = c.key();
                rows.push(vec![
                    key.clone(),
                    c.kind.to_string(),
                    if selected(&key) { "yes" } else { "no" }.to_string(),
                ]);
            }
            format!(
                "{} ({}) → {} ({}) at {} {}\n{}",
                plan.source_env,
                plan.source_file,
                plan.target_env,
                plan.target_file,
                plan.branch,
                plan.base.short(),
                output::table(&rows)
            )
        }
        f => structured(
            &json!({
                "source": plan.source_env,
                "target": plan.target_env,
                "sourceFile": plan.source_file,
                "targetFile": plan.target_file,
                "base": plan.base.sha,
                "changes": plan.changes.iter().map(|c| {
                    let key = c.key();
                    json!({"key": key, "change": c.kind.to_string(), "selected": selected(&key)})
                }).collect::<Vec<_>>(),
            }),
            f == Format::Yaml,
        )?,
    };
    output::emit(&text)
}
