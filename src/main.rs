//! The `sextant` binary: argument parsing, error reporting, dispatch.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};
use sextant::config::Config;

/// A terminal console for GitOps: see what Git says each environment should run and what the
/// cluster runs; sync, roll back and promote safely.
#[derive(Debug, Parser)]
#[command(name = "sextant", version, about, long_about = None)]
struct Cli {
    /// Configuration file (default: the platform config dir's sextant/config.toml).
    #[arg(long, global = true, env = "SEXTANT_CONFIG")]
    config: Option<PathBuf>,
    /// Log filter for the log file (error, warn, info, debug, trace or a tracing directive).
    #[arg(long, global = true, default_value = "info", env = "SEXTANT_LOG")]
    log_level: String,
    /// GitOps repository: a local clone (PATH) or a URL cloned into the cache dir (default:
    /// repo.path / repo.url from config, else the git repository containing the current directory).
    #[arg(long, global = true, env = "SEXTANT_REPO", value_name = "PATH|URL")]
    repo: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the configuration in effect and where it was read from.
    Config,
    /// Apps: list them, print their manifests.
    #[command(subcommand)]
    App(sextant::cli::app::AppCommand),
}

fn main() -> Result<()> {
    color_eyre::install()?;
    let cli = Cli::parse();
    let _log = sextant::logging::init(&sextant::paths::log_dir(), &cli.log_level)
        .wrap_err("cannot start logging")?;
    let (config, from) = Config::load(cli.config.as_deref())?;
    let ctx = sextant::cli::Context {
        config: config.clone(),
        config_path: from.clone(),
        repo: cli.repo.clone(),
    };
    match cli.command {
        Some(Command::App(cmd)) => sextant::cli::app::run(cmd, &ctx)?,
        Some(Command::Config) | None => {
            match from {
                Some(p) => println!("# config read from {}", p.display()),
                None => println!("# no config file; defaults in effect"),
            }
            println!("{config:#?}");
        }
    }
    Ok(())
}
