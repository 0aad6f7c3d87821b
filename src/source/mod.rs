//! GitOps sources: the repository ([`Repo`]), the Apps it declares ([`load_apps`]) and where they
//! deploy ([`destination::context_for`]).
//!
//! Typical use:
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sextant::{config::Config, source};
//! let config = Config::with_defaults();
//! let repo = source::open_repo(None, &config)?;
//! repo.fetch()?;
//! let head = repo.resolve("HEAD")?;
//! let loaded = source::load_apps(&repo, &head, &config)?;
//! for e in &loaded.errors { eprintln!("{e}"); }
//! # Ok(()) }
//! ```

pub mod apps;
pub mod destination;
pub mod git;
pub mod glob;
pub mod template;

use std::path::{Path, PathBuf};

pub use apps::{AppLoadError, LoadedApps, load_apps};
pub use destination::{DestinationError, KubeContext, context_for};
pub use git::{BranchStatus, Commit, FetchOutcome, GitError, Repo};

use crate::config::Config;

/// Open the GitOps repository: `repo_arg` (a path or URL, from `--repo`) if given, else
/// `repo.path`, else `repo.url` (cloned into the cache dir), else the repository containing the
/// current directory.
pub fn open_repo(repo_arg: Option<&str>, config: &Config) -> Result<Repo, GitError> {
    open_repo_in(repo_arg, config, &crate::paths::cache_dir())
}

/// [`open_repo`] with an explicit cache dir for clones (tests).
pub fn open_repo_in(
    repo_arg: Option<&str>,
    config: &Config,
    cache_dir: &Path,
) -> Result<Repo, GitError> {
    if let Some(arg) = repo_arg {
        return if git::looks_like_url(arg) {
            Repo::clone_cached(arg, cache_dir)
        } else {
            Repo::open(Path::new(arg))
        };
    }
    if let Some(path) = &config.repo.path {
        return Repo::open(path);
    }
    if let Some(url) = &config.repo.url {
        return Repo::clone_cached(url, cache_dir);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Repo::open(&cwd)
}
