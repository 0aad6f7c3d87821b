//! The `sextant` binary: argument parsing, error reporting, dispatch.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};
use sextant::cli::report::{self, ReportEnv, ReportStyle};
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
    /// Refuse every mutating command (sync, rollback, set, promote, reconcile).
    #[arg(long, global = true)]
    readonly: bool,
    /// Confirm mutating commands on protected environments (config protected_envs).
    #[arg(short = 'y', long, global = true)]
    yes: bool,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context used for every App destination (default: [[clusters]] mappings, else
    /// the current context for the in-cluster URL).
    #[arg(long, global = true, value_name = "NAME")]
    context: Option<String>,
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
    /// Copy values from one environment to another as one commit (e.g. `promote dev staging`).
    Promote(sextant::cli::promote::PromoteArgs),
    /// Run the auto-sync / self-heal loop headless until SIGINT or SIGTERM.
    Reconcile(sextant::cli::reconcile::ReconcileArgs),
    /// Try Sextant with no cluster and no helm: a demo repository, an in-process cluster, the UI.
    Demo(sextant::demo::DemoCommand),
    /// Render a chart like `helm template [NAME] CHART [flags]`, natively (same flags, output and
    /// errors; no helm binary needed). `sextant template --help` lists the flags.
    #[command(disable_help_flag = true)]
    Template {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    // `sextant template` is a drop-in for `helm template`: helm's flag syntax, output and exit
    // status, and no config, log file or engine to start first.
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("template") {
        return sextant::cli::template::run(&argv[1..]);
    }
    let cli = Cli::parse();
    let style = ReportEnv::from_process(&cli.log_level).style();
    // The rich report (asked for with RUST_BACKTRACE or --log-level debug) still has no colour
    // codes when stderr is a pipe or a file, or NO_COLOR is set.
    let mut hook = color_eyre::config::HookBuilder::default();
    if !std::io::stderr().is_terminal() || std::env::var_os("NO_COLOR").is_some() {
        hook = hook.theme(color_eyre::config::Theme::new());
    }
    if style == ReportStyle::Rich
        && let Err(e) = hook.install()
    {
        eprintln!("warning: cannot install the error reporter: {e}");
    }
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            match style {
                // What returning the error from main printed before (`Error: {:?}`).
                ReportStyle::Rich => eprintln!("Error: {e:?}"),
                ReportStyle::Plain => eprintln!("{}", report::plain(&e)),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let _log = sextant::logging::init(&sextant::paths::log_dir(), &cli.log_level)
        .wrap_err("cannot start logging")?;
    let (config, from) = Config::load(cli.config.as_deref())?;
    let ctx = sextant::cli::Context {
        config: config.clone(),
        config_path: from.clone(),
        repo: cli.repo.clone(),
        readonly: cli.readonly,
        yes: cli.yes,
        kubeconfig: cli.kubeconfig.clone(),
        kube_context: cli.context.clone(),
    };
    match cli.command {
        Some(Command::App(cmd)) => sextant::cli::app::run(cmd, &ctx)?,
        Some(Command::Promote(args)) => sextant::cli::promote::run(&args, &ctx)?,
        Some(Command::Reconcile(args)) => sextant::cli::reconcile::run(&args, &ctx)?,
        Some(Command::Demo(args)) => sextant::demo::cli(&args, &ctx)?,
        Some(Command::Template { args }) => {
            // Reached only with global flags before `template`; same command.
            let code = sextant::cli::template::run(&args);
            if code != std::process::ExitCode::SUCCESS {
                return Err(color_eyre::eyre::eyre!("sextant template failed"));
            }
        }
        None => sextant::ui::cli(&ctx)?,
        Some(Command::Config) => {
            // Read again only to tell which values the file sets; it parsed a moment ago.
            let text = from
                .as_deref()
                .and_then(|p| std::fs::read_to_string(p).ok());
            print!(
                "{}",
                sextant::config::effective_toml(&config, from.as_deref(), text.as_deref())
            );
        }
    }
    Ok(())
}
