//! `[charts]` in `config.toml`: chart repository credentials, mirrors, cache and size limits.
//!
//! Secrets never live in the file: a repository entry names the environment variable or file
//! that holds its password or token, read each time a request needs it.

use std::path::PathBuf;

use serde::Deserialize;

/// Chart repositories: how dependencies and chart sources are fetched.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChartsConfig {
    /// Minutes a fetched `index.yaml` is reused before it is fetched again; a hard refresh
    /// always fetches it again.
    pub index_refresh_minutes: u64,
    /// Largest `index.yaml` or chart archive accepted, in MiB.
    pub max_download_mib: u64,
    /// Never use the network: indexes and charts come from the cache only.
    pub offline: bool,
    /// Where indexes and charts are cached; default `<platform cache dir>/charts`.
    pub cache_dir: Option<PathBuf>,
    /// Seconds before a request gives up.
    pub timeout_secs: u64,
    /// Settings per repository URL prefix (credentials, CA, TLS verification, a name).
    pub repositories: Vec<RepositoryConfig>,
    /// Upstream URL prefix → mirror URL prefix.
    pub mirrors: Vec<MirrorConfig>,
}

impl Default for ChartsConfig {
    fn default() -> Self {
        Self {
            index_refresh_minutes: 10,
            max_download_mib: 50,
            offline: false,
            cache_dir: None,
            timeout_secs: 60,
            repositories: Vec::new(),
            mirrors: Vec::new(),
        }
    }
}

/// One repository (or a whole host): matched against the URL actually requested (after a
/// mirror has been applied) by the longest prefix.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RepositoryConfig {
    /// URL prefix, e.g. `https://charts.example.com/private`.
    pub url: String,
    /// Name usable as `repository: "@NAME"` or `"alias:NAME"` in Chart.yaml dependencies.
    pub name: Option<String>,
    /// Basic-auth user name.
    pub username: Option<String>,
    /// Environment variable holding the basic-auth password.
    pub password_env: Option<String>,
    /// File holding the basic-auth password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// Environment variable holding a bearer token.
    pub token_env: Option<String>,
    /// File holding a bearer token.
    pub token_file: Option<PathBuf>,
    /// Extra PEM CA bundle trusted for this repository, on top of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification (test and lab setups only).
    pub insecure: bool,
}

/// Requests for URLs starting with `upstream` go to `mirror` + the rest of the URL.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    pub upstream: String,
    pub mirror: String,
}

impl ChartsConfig {
    /// The URL to request for `url`: rewritten by the longest matching mirror prefix.
    pub fn mirrored(&self, url: &str) -> String {
        let best = self
            .mirrors
            .iter()
            .filter(|m| prefix_matches(url, &m.upstream))
            .max_by_key(|m| m.upstream.len());
        match best {
            Some(m) => {
                let rest = &url[m.upstream.trim_end_matches('/').len()..];
                format!("{}{rest}", m.mirror.trim_end_matches('/'))
            }
            None => url.to_string(),
        }
    }

    /// The repository settings for a requested URL (longest prefix).
    pub fn repository_for(&self, url: &str) -> Option<&RepositoryConfig> {
        self.repositories
            .iter()
            .filter(|r| !r.url.is_empty() && prefix_matches(url, &r.url))
            .max_by_key(|r| r.url.len())
    }

    /// The URL of a repository given by name (`@name` / `alias:name`).
    pub fn named(&self, name: &str) -> Option<&RepositoryConfig> {
        self.repositories
            .iter()
            .find(|r| r.name.as_deref() == Some(name))
    }

    pub fn max_download_bytes(&self) -> u64 {
        self.max_download_mib.saturating_mul(1024 * 1024)
    }
}

/// `prefix` matches `url` on a path boundary: `https://h/a` matches `https://h/a/x` but not
/// `https://h/ab`.
fn prefix_matches(url: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    match url.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ChartsConfig {
        ChartsConfig {
            mirrors: vec![
                MirrorConfig {
                    upstream: "https://charts.bitnami.com/bitnami".into(),
                    mirror: "http://127.0.0.1:9/bitnami/".into(),
                },
                MirrorConfig {
                    upstream: "https://charts.bitnami.com".into(),
                    mirror: "http://other".into(),
                },
            ],
            repositories: vec![
                RepositoryConfig {
                    url: "http://127.0.0.1:9".into(),
                    ..Default::default()
                },
                RepositoryConfig {
                    url: "http://127.0.0.1:9/private/".into(),
                    name: Some("priv".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn longest_mirror_prefix_wins_on_path_boundaries() {
        let c = cfg();
        assert_eq!(
            c.mirrored("https://charts.bitnami.com/bitnami/index.yaml"),
            "http://127.0.0.1:9/bitnami/index.yaml"
        );
        assert_eq!(
            c.mirrored("https://charts.bitnami.com/bitnamix/index.yaml"),
            "http://other/bitnamix/index.yaml"
        );
        assert_eq!(c.mirrored("https://example.org/x"), "https://example.org/x");
    }

    #[test]
    fn repository_settings_by_longest_prefix_and_name() {
        let c = cfg();
        let r = c.repository_for("http://127.0.0.1:9/private/index.yaml");
        assert_eq!(r.and_then(|r| r.name.as_deref()), Some("priv"));
        let r = c.repository_for("http://127.0.0.1:9/public/index.yaml");
        assert_eq!(r.map(|r| r.url.as_str()), Some("http://127.0.0.1:9"));
        assert!(c.repository_for("http://127.0.0.1:90/x").is_none());
        assert!(c.named("priv").is_some());
    }
}
