//! The App model: one environment of one source, as Argo CD's `Application.spec` describes it.
//!
//! Produced by `source` (from ApplicationSets, Applications or `config.toml`), consumed by
//! `render` and `engine`. Durations are parsed here so the engine never sees strings like "5s".

use std::path::PathBuf;
use std::time::Duration;

/// The in-cluster API URL Argo CD uses for "the cluster I run in"; maps to the current context.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// Unique name, e.g. `astromesh-prod`.
    pub name: String,
    /// Environment label, e.g. `prod` (the list element's `env`, else its `name`, else the app name).
    pub env: String,
    /// Argo CD project (`default` when unset).
    pub project: String,
    /// Where the App was declared (repo-relative manifest path, or the config file), for grouping
    /// in the UI and for error messages.
    pub origin: String,
    pub source: AppSource,
    pub destination: Destination,
    pub sync_policy: SyncPolicy,
    /// How many successful syncs history keeps (Argo CD default 10).
    pub revision_history_limit: usize,
    pub ignore_differences: Vec<IgnoreDifference>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppSource {
    pub repo_url: String,
    /// Path of the chart or manifest directory inside the repository.
    pub path: String,
    /// `HEAD`, a branch, a tag or a commit sha.
    pub target_revision: String,
    pub kind: SourceKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    Helm(HelmSource),
    Directory(DirectorySource),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HelmSource {
    /// Value files relative to the chart path, applied in order.
    pub value_files: Vec<String>,
    /// Inline `helm.values` (a YAML string) or `helm.valuesObject` (rendered back to YAML text),
    /// applied after the value files.
    pub values: Option<String>,
    /// `helm.parameters`, applied last (as `--set` / `--set-string`).
    pub parameters: Vec<HelmParameter>,
    /// `helm.releaseName`; the app name when unset.
    pub release_name: Option<String>,
    /// Skip the chart's `crds/` directory (`helm.skipCrds`).
    pub skip_crds: bool,
    /// A chart from a Helm repository (`source.chart`) instead of a path in Git.
    pub chart: Option<ChartRef>,
}

/// `repoURL` + `chart` + `targetRevision` of a Helm-repository source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChartRef {
    /// The Helm repository (`https://...`, or `@name` from config.toml).
    pub repo_url: String,
    pub name: String,
    /// An exact version, a range (`20.x`, `~1.2`) or `*`.
    pub version: String,
}

impl AppSource {
    /// The Git revision to read: a Helm-repository chart has nothing in Git, so the repository's
    /// HEAD (for history and change detection); otherwise `targetRevision`.
    pub fn git_revision(&self) -> &str {
        match &self.kind {
            SourceKind::Helm(HelmSource { chart: Some(_), .. }) => "HEAD",
            _ => &self.target_revision,
        }
    }

    /// The Helm-repository chart, if this source is one.
    pub fn chart(&self) -> Option<&ChartRef> {
        match &self.kind {
            SourceKind::Helm(h) => h.chart.as_ref(),
            SourceKind::Directory(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HelmParameter {
    pub name: String,
    pub value: String,
    pub force_string: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DirectorySource {
    pub recurse: bool,
    /// Glob (or `{a,b}` list of globs) of files to include, matched against the path relative to
    /// the source path.
    pub include: Option<String>,
    pub exclude: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub server: Option<String>,
    pub name: Option<String>,
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncPolicy {
    /// `syncPolicy.automated`; `None` means manual sync.
    pub automated: Option<Automated>,
    /// `syncPolicy.syncOptions`, e.g. `CreateNamespace=true`.
    pub sync_options: Vec<String>,
    pub retry: Option<RetryPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Automated {
    pub prune: bool,
    pub self_heal: bool,
    pub allow_empty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Number of retries; negative means unlimited (as Argo CD).
    pub limit: i64,
    pub backoff: Backoff,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub duration: Duration,
    pub factor: u32,
    pub max_duration: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(5),
            factor: 2,
            max_duration: Duration::from_secs(180),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IgnoreDifference {
    /// API group; empty for the core group.
    pub group: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub json_pointers: Vec<String>,
    pub jq_path_expressions: Vec<String>,
    pub managed_fields_managers: Vec<String>,
}

impl SyncPolicy {
    /// Whether `option` (e.g. `CreateNamespace=true`) is set.
    pub fn has_option(&self, option: &str) -> bool {
        self.sync_options
            .iter()
            .any(|o| o.trim().eq_ignore_ascii_case(option))
    }
}

impl App {
    pub fn is_automated(&self) -> bool {
        self.sync_policy.automated.is_some()
    }

    /// Release name for Helm sources: `helm.releaseName` or the app name (as Argo CD).
    pub fn release_name(&self) -> &str {
        match &self.source.kind {
            SourceKind::Helm(h) => h.release_name.as_deref().unwrap_or(&self.name),
            SourceKind::Directory(_) => &self.name,
        }
    }
}

/// A local file an App was declared in, for errors pointing into the working tree.
pub fn origin_path(repo_root: &std::path::Path, origin: &str) -> PathBuf {
    repo_root.join(origin)
}
