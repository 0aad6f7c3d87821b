//! Headless subcommands. This module only dispatches; each command group has its own file.
//!
//! - `app.rs`: `sextant app list|manifests` (from Git) and the dispatch of the `app` group;
//! - `ops.rs`: `sextant app get|diff|sync|history|rollback|set` over the engine;
//! - `promote.rs`: `sextant promote SRC DST`;
//! - `reconcile.rs` + `webhook.rs`: `sextant reconcile [--webhook-listen ADDR]`;
//! - `session.rs`: starting the engine for a command; `gitrepo.rs`: the engine's view of git;
//! - `output.rs`: tables and the JSON documents of `docs/cli-json-schema.md`;
//! - `duration.rs`: `5s`, `2m`, `1h30m`;
//! - `report.rs`: how a failed command is printed on stderr (plain off a terminal);
//! - `template.rs`: `sextant template`, a drop-in for `helm template`.

pub mod app;
pub mod duration;
pub mod gitrepo;
pub mod ops;
pub mod output;
pub mod promote;
pub mod reconcile;
pub mod report;
pub mod session;
pub mod template;
pub mod webhook;

use std::path::PathBuf;

use crate::config::Config;

/// What every subcommand gets: the configuration and the global options.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub config: Config,
    /// Where the config was read from (None: defaults).
    pub config_path: Option<PathBuf>,
    /// `--repo PATH|URL`.
    pub repo: Option<String>,
    /// `--readonly`: refuse every mutating command.
    pub readonly: bool,
    /// `--yes`: confirm mutating commands on protected environments.
    pub yes: bool,
    /// `--kubeconfig` (default: `$KUBECONFIG`, then `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: use this kubeconfig context for every destination.
    pub kube_context: Option<String>,
}

/// Errors a subcommand reports; the binary prints them and exits non-zero.
pub type CliResult = color_eyre::eyre::Result<()>;
