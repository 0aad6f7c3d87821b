//! `sextant reconcile`: run the engine headless with auto-sync and self-heal until SIGINT or
//! SIGTERM, optionally with a Git push webhook endpoint. Operations and notices are logged to
//! stderr, one line each.

use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, eyre};

use super::output::{self, group_kind, result_code};
use super::session::{self, SessionOptions};
use super::webhook::{self, WebhookServer};
use super::{CliResult, Context};
use crate::engine::api::{Event, NoticeLevel, OperationPhase};

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Accept Git push webhooks (GitHub, GitLab, Gitea) on this address, e.g. 0.0.0.0:8080
    /// (path /api/webhook). The secret comes from the env var named by [webhook] secret_env.
    #[arg(long, value_name = "ADDR")]
    pub webhook_listen: Option<String>,
    /// Do not fetch the remote at start (polls still fetch).
    #[arg(long)]
    pub no_fetch: bool,
}

/// The webhook secret from the environment variable named in config; never printed.
fn webhook_secret(ctx: &Context) -> Result<Vec<u8>> {
    let var = &ctx.config.webhook.secret_env;
    match std::env::var(var) {
        Ok(s) if !s.is_empty() => Ok(s.into_bytes()),
        _ => Err(eyre!(
            "--webhook-listen needs a secret: set the environment variable {var} (named by [webhook] secret_env in config.toml)\n  the same secret must be configured on the Git server's webhook; unsigned webhooks are never accepted"
        )),
    }
}

pub fn run(args: &ReconcileArgs, ctx: &Context) -> CliResult {
    if ctx.readonly {
        return Err(eyre!(
            "refusing to reconcile: --readonly is set, and the reconcile loop syncs automated Apps\n  drop --readonly, or use `sextant app list` / `sextant app diff` to observe"
        ));
    }
    let secret = match &args.webhook_listen {
        Some(_) => Some(webhook_secret(ctx)?),
        None => None,
    };
    // Auto-sync and self-heal change protected environments too: an explicit --yes is needed.
    if !ctx.yes {
        let repo = crate::source::open_repo(ctx.repo.as_deref(), &ctx.config)?;
        let head = repo.resolve("HEAD")?;
        let loaded = crate::source::load_apps(&repo, &head, &ctx.config)?;
        let protected: Vec<String> = loaded
            .apps
            .iter()
            .filter(|a| ctx.config.protected_envs.contains(&a.env))
            .map(|a| a.name.clone())
            .collect();
        if !protected.is_empty() {
            return Err(eyre!(
                "refusing to reconcile without --yes: protected environment App(s) {} would be auto-synced and self-healed when their policy says so\n  add --yes to confirm",
                protected.join(", ")
            ));
        }
    }
    let rt = session::runtime()?;
    rt.block_on(async {
        let handle = session::start(
            ctx,
            SessionOptions {
                fetch: !args.no_fetch,
                auto_sync: true,
                poll: true,
            },
        )?;
        let mut events = handle.subscribe();
        let logger = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) => log_event(&ev),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("reconcile: {n} events not shown (too many at once)");
                    }
                    Err(_) => return,
                }
            }
        });
        let server = match (&args.webhook_listen, secret) {
            (Some(addr), Some(secret)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .wrap_err_with(|| format!("cannot listen on {addr} for webhooks"))?;
                let local = listener.local_addr()?;
                eprintln!("reconcile: webhook listening on http://{local}/api/webhook");
                let local = crate::source::open_repo(ctx.repo.as_deref(), &ctx.config).ok();
                let srv = Arc::new(WebhookServer {
                    engine: handle.clone(),
                    secret,
                    local_remote: local
                        .as_ref()
                        .and_then(|r| r.remote_url().map(str::to_string)),
                    local_root: local.as_ref().map(|r| r.root().to_path_buf()),
                });
                Some(tokio::spawn(webhook::serve(listener, srv)))
            }
            _ => None,
        };
        eprintln!(
            "reconcile: running (poll every {}s + up to {}s jitter); stop with Ctrl-C or SIGTERM",
            ctx.config.reconcile.poll_interval_secs, ctx.config.reconcile.poll_jitter_secs
        );
        wait_for_signal().await?;
        eprintln!("reconcile: stopping");
        if let Some(s) = server {
            s.abort();
        }
        logger.abort();
        Ok(())
    })
}

async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .wrap_err("cannot install the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.wrap_err("cannot wait for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .wrap_err("cannot wait for Ctrl-C")?;
    Ok(())
}

fn log_event(ev: &Event) {
    match ev {
        Event::OperationStarted {
            app,
            kind,
            revision,
            total,
        } => eprintln!(
            "{app}: {} started at {} ({total} resources)",
            output::operation_kind(*kind),
            &revision[..revision.len().min(7)]
        ),
        Event::Progress {
            app,
            resource: Some(r),
            ..
        } if r.code.is_failure() => eprintln!(
            "{app}: {} {}/{} {}: {}",
            group_kind(&r.key),
            r.key.namespace,
            r.key.name,
            result_code(r.code),
            r.message.replace('\n', " ")
        ),
        Event::Retrying {
            app,
            attempt,
            delay,
            error,
        } => eprintln!(
            "{app}: attempt {attempt} failed ({error}); retrying in {}",
            super::duration::format_duration(*delay)
        ),
        Event::OperationFinished(r) => eprintln!(
            "{}: {} {} at {}: {}{}",
            r.app,
            output::operation_kind(r.kind),
            output::operation_phase(r.phase),
            &r.revision[..r.revision.len().min(7)],
            r.message.replace('\n', " "),
            match (r.phase, r.history_id) {
                (OperationPhase::Succeeded, Some(id)) => format!(" (history id {id})"),
                _ => String::new(),
            }
        ),
        Event::Notice(n) => eprintln!(
            "{}: {}",
            match n.level {
                NoticeLevel::Info => "info",
                NoticeLevel::Warn => "warning",
                NoticeLevel::Error => "error",
            },
            n.message.replace('\n', " ")
        ),
        _ => {}
    }
}
