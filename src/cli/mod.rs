//! Headless subcommands. This module only dispatches; each command group has its own file.

pub mod app;

use std::path::PathBuf;

use crate::config::Config;

/// What every subcommand gets: the configuration and the global options.
#[derive(Debug, Clone)]
pub struct Context {
    pub config: Config,
    /// Where the config was read from (None: defaults).
    pub config_path: Option<PathBuf>,
    /// `--repo PATH|URL`.
    pub repo: Option<String>,
}

/// Errors a subcommand reports; the binary prints them and exits non-zero.
pub type CliResult = color_eyre::eyre::Result<()>;
