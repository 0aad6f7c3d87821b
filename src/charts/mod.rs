//! Charts from outside the Git repository: Helm chart repositories (`index.yaml` + archives),
//! with credentials, mirrors, a size limit and a digest-keyed cache, and dependency resolution
//! as `helm dependency build` does it. Rendering ([`crate::render`]) puts the resolved archives
//! in `charts/` of a copy of the chart; the clone is never written.
//!
//! * [`config`]: `[charts]` in config.toml.
//! * [`http`]: downloads (TLS roots, CA file, insecure, credentials, proxy, size limit).
//! * [`index`]: `index.yaml` parsing and version selection.
//! * [`cache`]: on-disk and in-memory cache, refresh policy, offline use.
//! * [`lock`]: `Chart.lock` and its digest.
//! * [`dependencies`]: resolution of a chart's dependencies.
//! * [`archive`]: packaging a `file://` dependency as Helm does.

pub mod archive;
pub mod cache;
pub mod config;
pub mod dependencies;
pub mod error;
pub mod http;
pub mod index;
pub mod lock;

pub use cache::{ChartCache, request_refresh};
pub use config::{ChartsConfig, MirrorConfig, RepositoryConfig};
pub use error::ChartError;

/// Repository settings plus the cache: one per process, shared by every render.
#[derive(Debug)]
pub struct ChartRepos {
    config: ChartsConfig,
    cache: ChartCache,
}

impl ChartRepos {
    pub fn new(config: ChartsConfig) -> Self {
        let root = config
            .cache_dir
            .clone()
            .unwrap_or_else(|| crate::paths::cache_dir().join("charts"));
        Self {
            cache: ChartCache::new(root),
            config,
        }
    }

    pub fn config(&self) -> &ChartsConfig {
        &self.config
    }

    pub fn cache(&self) -> &ChartCache {
        &self.cache
    }
}

impl Default for ChartRepos {
    fn default() -> Self {
        Self::new(ChartsConfig::default())
    }
}
