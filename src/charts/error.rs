//! Errors while resolving and fetching charts: each says what failed, where (dependency and
//! URL) and how to fix it. Secret values never appear in them.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error(
        "cannot reach {url}: {message}\n  fix: check the network or proxy settings, or map the repository to a reachable mirror ([[charts.mirrors]] in config.toml)"
    )]
    Unreachable { url: String, message: String },
    #[error(
        "{url} answered {status} ({reason})\n  fix: add credentials for this URL to config.toml ([[charts.repositories]] url = \"{prefix}\" with username + password_env/password_file, or token_env/token_file)"
    )]
    Denied {
        url: String,
        status: u16,
        reason: &'static str,
        prefix: String,
    },
    #[error(
        "{url} answered HTTP {status}\n  fix: check the repository URL and that the chart exists there"
    )]
    HttpStatus { url: String, status: u16 },
    #[error(
        "{url} is larger than the download limit of {limit_mib} MiB\n  fix: raise charts.max_download_mib in config.toml if the file is expected to be this big"
    )]
    TooLarge { url: String, limit_mib: u64 },
    #[error(
        "{url}: not in the cache and charts.offline is set\n  fix: unset charts.offline once, or fetch it while online"
    )]
    OfflineNotCached { url: String },
    #[error(
        "malformed repository index {url}: {message}\n  fix: regenerate it with `helm repo index`"
    )]
    MalformedIndex { url: String, message: String },
    #[error(
        "chart `{chart}` is not in the repository index {url}\n  fix: check the dependency name and repository in Chart.yaml"
    )]
    NotInIndex { chart: String, url: String },
    #[error(
        "no version of `{chart}` in {url} matches `{constraint}` (newest available: {available})\n  fix: change the version constraint in Chart.yaml (or Chart.lock), or publish a matching version"
    )]
    NoMatchingVersion {
        chart: String,
        constraint: String,
        url: String,
        available: String,
    },
    #[error(
        "{url}: sha256 of the download is {actual}, the {expected_from} says {expected}\n  fix: the repository's chart changed under the same version; republish it or regenerate the index (and Chart.lock)"
    )]
    DigestMismatch {
        url: String,
        actual: String,
        expected: String,
        expected_from: &'static str,
    },
    #[error(
        "{lock_file} is out of sync with the dependencies in {deps_file}{detail}\n  fix: run `helm dependency update` and commit {lock_file}"
    )]
    LockOutOfSync {
        lock_file: String,
        deps_file: String,
        /// `: dependency `x` ...` when one dependency can be named.
        detail: String,
    },
    #[error(
        "{file}: {message}\n  fix: correct the file (or regenerate it with `helm dependency update`)"
    )]
    BadFile { file: String, message: String },
    #[error("repository `{repository}` {message}\n  fix: {fix}")]
    Repository {
        repository: String,
        message: String,
        fix: String,
    },
    #[error("{path}: {message}")]
    Local { path: String, message: String },
    #[error("dependency `{dependency}` (version `{constraint}` from `{repository}`): {source}")]
    Dependency {
        dependency: String,
        constraint: String,
        repository: String,
        #[source]
        source: Box<ChartError>,
    },
    #[error("credentials for {url}: {message}\n  fix: {fix}")]
    Credentials {
        url: String,
        message: String,
        fix: String,
    },
    #[error("chart cache {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ChartError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ChartError {
        let path = path.into();
        move |source| ChartError::Io { path, source }
    }
}
