//! `config.toml`: where it is found, what it holds, and located errors when it is wrong.
//!
//! Every key is documented in `config.example.toml` at the repository root; keep the two in step
//! (a unit test parses the example file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Errors while locating or reading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}:{column}: {message}{key_hint}\n  fix the file or see config.example.toml for every key"
    )]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        /// ` (key `a.b`)` when the offending key is known.
        key_hint: String,
    },
}

/// The whole configuration. Every section is optional; defaults match Argo CD where it has one.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The GitOps repository to read.
    pub repo: RepoConfig,
    /// Cluster URL or name → kubeconfig context.
    pub clusters: Vec<ClusterMapping>,
    /// Rendering choices.
    pub render: RenderConfig,
    /// Environments whose mutating actions need the env name typed (UI) or `--yes` (CLI).
    pub protected_envs: Vec<String>,
    /// Polling and self-heal timing.
    pub reconcile: ReconcileConfig,
    /// Terminal UI look and keys.
    pub ui: UiConfig,
    /// Apps declared directly, for repositories without Argo CD manifests.
    pub apps: Vec<AppDecl>,
    /// Git push webhooks accepted by `sextant reconcile --webhook-listen`.
    pub webhook: WebhookConfig,
    /// Helm chart repositories: credentials, mirrors, cache (chart dependencies).
    pub charts: crate::charts::ChartsConfig,
    /// System-level settings Argo CD keeps in `argocd-cm` as `resource.customizations.*`.
    pub resource_customizations: ResourceCustomizations,
}

/// Argo CD's `resource.customizations.*` settings that apply to every App.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceCustomizations {
    /// `resource.customizations.ignoreDifferences.<key>`: `all` (every kind) or `<group>_<kind>`
    /// (`apps_Deployment`; a core kind alone: `Service`) → fields every App ignores there, on top
    /// of its own `spec.ignoreDifferences`.
    pub ignore_differences: BTreeMap<String, IgnoreRule>,
}

/// One system-level ignore rule (the fields of an Application's `ignoreDifferences` entry).
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IgnoreRule {
    pub json_pointers: Vec<String>,
    pub jq_path_expressions: Vec<String>,
    pub managed_fields_managers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Name of the environment variable holding the shared secret (GitHub/Gitea HMAC key, GitLab
    /// token). The secret itself never goes in this file.
    pub secret_env: String,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            secret_env: "SEXTANT_WEBHOOK_SECRET".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RepoConfig {
    /// Local clone to use; default: the git repository containing the current directory.
    pub path: Option<PathBuf>,
    /// Remote URL to clone into the cache dir when no local path is given.
    pub url: Option<String>,
    /// Globs (relative to the repo root) where ApplicationSet/Application manifests are found.
    pub manifests: Vec<String>,
}

impl Default for RepoConfig {
    fn default() -> Self {
        Self {
            path: None,
            url: None,
            manifests: vec![
                "deploy/gitops/**/*.yaml".into(),
                "deploy/gitops/**/*.yml".into(),
            ],
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterMapping {
    /// `destination.server` URL this entry matches.
    pub server: Option<String>,
    /// `destination.name` this entry matches.
    pub name: Option<String>,
    /// kubeconfig context to use for it.
    pub context: String,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RendererChoice {
    /// Native renderer, falling back to the `helm` binary when the chart needs it.
    #[default]
    Auto,
    Native,
    Helm,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RenderConfig {
    pub renderer: RendererChoice,
    /// The `helm` binary used by the `helm` renderer.
    pub helm_binary: PathBuf,
    /// Kubernetes version passed to templates when the cluster cannot be asked (e.g. `1.36.0`).
    pub kube_version: Option<String>,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            renderer: RendererChoice::Auto,
            helm_binary: PathBuf::from("helm"),
            kube_version: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileConfig {
    /// Base poll interval in seconds (Argo CD: 120).
    pub poll_interval_secs: u64,
    /// Random extra delay added to each poll, in seconds (Argo CD: up to 60).
    pub poll_jitter_secs: u64,
    /// How long a sync waits for one wave (or hook) to become healthy, in seconds; 0 waits
    /// without limit, as Argo CD does.
    pub wave_timeout_secs: u64,
    /// Whether the TUI runs auto-sync and self-heal itself while it is open. `false` leaves them
    /// to `sextant reconcile` (or Argo CD); the TUI then only observes and acts on request.
    pub in_ui: bool,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            poll_interval_secs: 120,
            poll_jitter_secs: 60,
            wave_timeout_secs: 300,
            in_ui: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// `default`, `light` or `mono`.
    pub theme: String,
    /// Use ASCII status symbols instead of Unicode ones.
    pub ascii: bool,
    /// Action name → key, e.g. `sync = "S"`.
    pub keys: BTreeMap<String, String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            theme: "default".into(),
            ascii: false,
            keys: BTreeMap::new(),
        }
    }
}

/// An App declared in config, for repos with no Argo CD manifests.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppDecl {
    pub name: String,
    /// Environment label shown in the UI; defaults to the name.
    pub env: Option<String>,
    /// Path of the chart or manifest directory inside the repo.
    pub path: String,
    #[serde(default = "default_revision")]
    pub target_revision: String,
    #[serde(default)]
    pub value_files: Vec<String>,
    /// Destination namespace.
    pub namespace: String,
    /// Destination cluster URL; default the in-cluster URL (current context).
    #[serde(default = "default_server")]
    pub server: String,
    #[serde(default)]
    pub auto_sync: bool,
    #[serde(default)]
    pub self_heal: bool,
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub create_namespace: bool,
}

fn default_revision() -> String {
    "HEAD".into()
}

fn default_server() -> String {
    "https://kubernetes.default.svc".into()
}

impl Config {
    /// The system-level ignoreDifferences rules (`[resource_customizations.ignore_differences.*]`),
    /// as App rules; a key that is neither `all` nor `<group>_<kind>` is an error naming it.
    pub fn system_ignore_differences(&self) -> Result<Vec<crate::app::IgnoreDifference>, String> {
        self.resource_customizations
            .ignore_differences
            .iter()
            .map(|(key, rule)| {
                let (group, kind) = match key.as_str() {
                    "all" => ("*", "*"),
                    k => k.rsplit_once('_').unwrap_or(("", k)),
                };
                if kind.is_empty() || kind.contains(['.', '/']) {
                    return Err(format!(
                        "resource_customizations.ignore_differences.{key:?}: the key must be `all` or `<group>_<kind>` (e.g. \"apps_Deployment\", or \"Service\" for a core kind)"
                    ));
                }
                Ok(crate::app::IgnoreDifference {
                    group: group.to_string(),
                    kind: kind.to_string(),
                    name: None,
                    namespace: None,
                    json_pointers: rule.json_pointers.clone(),
                    jq_path_expressions: rule.jq_path_expressions.clone(),
                    managed_fields_managers: rule.managed_fields_managers.clone(),
                })
            })
            .collect()
    }

    /// The platform config file (`~/.config/sextant/config.toml` on Linux).
    pub fn default_path() -> Option<PathBuf> {
        crate::paths::project_dirs().map(|d| d.config_dir().join("config.toml"))
    }

    /// Load from `explicit` if given (it must exist), else the platform file if it exists, else
    /// defaults.
    pub fn load(explicit: Option<&Path>) -> Result<(Self, Option<PathBuf>), ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => Self::default_path().filter(|p| p.exists()),
        };
        match path {
            None => Ok((Self::with_defaults(), None)),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Ok((Self::parse(&text, &path)?, Some(path)))
            }
        }
    }

    /// Defaults with the values that are not plain `Default` (protected envs).
    pub fn with_defaults() -> Self {
        Self {
            protected_envs: vec!["prod".into()],
            ..Self::default()
        }
    }

    /// Parse `text` (read from `path`, used in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        #[derive(Deserialize)]
        struct Probe {
            protected_envs: Option<toml::Value>,
        }
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            let message = e.message().to_string();
            let key_hint = offending_key(&message, text, e.span().map(|s| s.start))
                .map(|k| format!(" (key `{k}`)"))
                .unwrap_or_default();
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
                key_hint,
            }
        })?;
        // `protected_envs` defaults to ["prod"] only when the key is absent, not when set to [].
        let probe: Option<Probe> = toml::from_str(text).ok();
        if probe.and_then(|p| p.protected_envs).is_none() {
            cfg.protected_envs = vec!["prod".into()];
        }
        Ok(cfg)
    }
}

/// 1-based line and column of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..text.floor_char_boundary(at)];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// The key an error is about: from "unknown field `x`" messages, else the key on the error's line.
fn offending_key(message: &str, text: &str, at: Option<usize>) -> Option<String> {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        return rest.split('`').next().map(str::to_string);
    }
    let at = at?.min(text.len());
    let line_start = text[..text.floor_char_boundary(at)]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line = text[line_start..].lines().next()?;
    let key = line.split('=').next()?.trim();
    (!key.is_empty() && !key.starts_with('[') && line.contains('=')).then(|| key.to_string())
}

/// `sextant config`: the configuration in effect as TOML, each value followed by where it came
/// from (the file, or the built-in default), so what is printed can be pasted back.
pub fn effective_toml(config: &Config, from: Option<&Path>, file_text: Option<&str>) -> String {
    let effective = toml::Value::try_from(config)
        .unwrap_or_else(|e| toml::Value::String(format!("cannot show the configuration: {e}")));
    let file: toml::Table = file_text
        .and_then(|t| t.parse::<toml::Table>().ok())
        .unwrap_or_default();
    let source = from.map(|p| p.display().to_string());
    let origin = |set: bool| match (&source, set) {
        (Some(p), true) => format!("# {p}"),
        _ => "# default".to_string(),
    };
    let mut out = match &source {
        Some(p) => format!("# configuration in effect: {p} over the defaults\n"),
        None => "# configuration in effect: no config file, all defaults\n".to_string(),
    };
    let Some(table) = effective.as_table() else {
        out.push_str(&format!("{effective}\n"));
        return out;
    };
    // Plain values first (TOML needs them before any [section]), then sections.
    let mut sections = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(_) => sections.push(key),
            toml::Value::Array(items)
                if !items.is_empty() && items.iter().all(toml::Value::is_table) =>
            {
                sections.push(key)
            }
            _ => out.push_str(&format!(
                "{key} = {value}  {}\n",
                origin(file.contains_key(key))
            )),
        }
    }
    for key in sections {
        match table.get(key.as_str()) {
            Some(toml::Value::Array(items)) => {
                for item in items {
                    out.push_str(&format!("\n[[{key}]]  {}\n", origin(true)));
                    if let Some(fields) = item.as_table() {
                        for (k, v) in fields {
                            out.push_str(&format!("{k} = {v}\n"));
                        }
                    }
                }
            }
            Some(toml::Value::Table(t)) => {
                out.push_str(&format!("\n[{key}]\n"));
                let in_file = file.get(key.as_str()).and_then(toml::Value::as_table);
                for (k, v) in t {
                    let set = in_file.is_some_and(|f| f.contains_key(k));
                    out.push_str(&format!("{k} = {v}  {}\n", origin(set)));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_sets_every_section() {
        let text = include_str!("../config.example.toml");
        let cfg = Config::parse(text, Path::new("config.example.toml")).expect("example parses");
        assert_eq!(cfg.protected_envs, vec!["prod".to_string()]);
        assert!(!cfg.clusters.is_empty());
        assert!(!cfg.apps.is_empty());
        assert_eq!(cfg.reconcile.poll_interval_secs, 120);
        assert_eq!(cfg.webhook.secret_env, "SEXTANT_WEBHOOK_SECRET");
        let rules = cfg.system_ignore_differences().expect("system rules");
        assert!(
            rules.iter().any(|r| r.group == "*" && r.kind == "*"),
            "{rules:?}"
        );
    }

    #[test]
    fn system_ignore_keys_name_group_and_kind() {
        let text = "[resource_customizations.ignore_differences.all]\nmanaged_fields_managers = [\"kube-controller-manager\"]\n\n[resource_customizations.ignore_differences.\"admissionregistration.k8s.io_MutatingWebhookConfiguration\"]\njq_path_expressions = [\".webhooks[]?.clientConfig.caBundle\"]\n\n[resource_customizations.ignore_differences.Service]\njson_pointers = [\"/spec/clusterIP\"]\n";
        let cfg = Config::parse(text, Path::new("c.toml")).expect("parses");
        let rules = cfg.system_ignore_differences().expect("rules");
        let gk: Vec<(&str, &str)> = rules
            .iter()
            .map(|r| (r.group.as_str(), r.kind.as_str()))
            .collect();
        assert_eq!(
            gk,
            vec![
                ("", "Service"),
                (
                    "admissionregistration.k8s.io",
                    "MutatingWebhookConfiguration"
                ),
                ("*", "*")
            ]
        );
        let bad = "[resource_customizations.ignore_differences.\"apps_\"]\njson_pointers = []\n";
        let err = Config::parse(bad, Path::new("c.toml"))
            .expect("parses")
            .system_ignore_differences()
            .expect_err("no kind");
        assert!(
            err.contains("apps_") && err.contains("<group>_<kind>"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_located() {
        let text = "[repo]\npath = \"/x\"\n\n[ui]\nthem = \"dark\"\n";
        let err = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:5:1:"), "{err}");
        assert!(err.contains("key `them`"), "{err}");
    }

    #[test]
    fn wrong_type_is_located_with_key() {
        let text = "[reconcile]\npoll_interval_secs = \"soon\"\n";
        let err = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
        assert!(err.contains("poll_interval_secs"), "{err}");
    }

    #[test]
    fn reconcile_in_ui_defaults_on_and_can_be_turned_off() {
        assert!(Config::default().reconcile.in_ui);
        let cfg = Config::parse("[reconcile]\nin_ui = false\n", Path::new("c.toml")).unwrap();
        assert!(!cfg.reconcile.in_ui);
        assert_eq!(cfg.reconcile.poll_interval_secs, 120);
    }

    #[test]
    fn empty_protected_envs_is_respected() {
        let cfg = Config::parse("protected_envs = []\n", Path::new("c.toml")).unwrap();
        assert!(cfg.protected_envs.is_empty());
        let cfg = Config::parse("", Path::new("c.toml")).unwrap();
        assert_eq!(cfg.protected_envs, vec!["prod".to_string()]);
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
