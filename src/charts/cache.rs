//! The chart cache under the XDG cache dir: `index/<sha256 of URL>.yaml` (reused for
//! `index_refresh_minutes`, always refetched after a hard refresh, used stale when the
//! repository is unreachable) and `blobs/<sha256>.tgz` (chart archives keyed by digest, never
//! refetched). Parsed indexes are also kept in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::config::ChartsConfig;
use super::error::ChartError;
use super::http;
use super::index::Index;

/// When the last hard refresh was asked for (ms since the epoch): indexes fetched before it
/// are stale, whatever their age.
static HARD_REFRESH_MS: AtomicU64 = AtomicU64::new(0);

/// Make every cached index stale (a hard refresh); chart archives stay (they are immutable).
pub fn request_refresh() {
    HARD_REFRESH_MS.store(millis(SystemTime::now()), Ordering::SeqCst);
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Indexes and archives, on disk and in memory. One per process (shared by all renders).
#[derive(Debug)]
pub struct ChartCache {
    root: PathBuf,
    indexes: Mutex<HashMap<String, (SystemTime, Arc<Index>)>>,
    /// Network requests made (indexes + archives); tests and benchmarks check warm runs make none.
    requests: AtomicU64,
}

/// An index and whether it came from a stale cache because the network failed.
pub struct FetchedIndex {
    pub index: Arc<Index>,
    /// Set when a stale cached copy was used: say so to the user.
    pub offline_notice: Option<String>,
}

impl ChartCache {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            indexes: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Network requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn fresh(cfg: &ChartsConfig, fetched: SystemTime) -> bool {
        let ttl = Duration::from_secs(cfg.index_refresh_minutes.saturating_mul(60));
        millis(fetched) > HARD_REFRESH_MS.load(Ordering::SeqCst)
            && SystemTime::now()
                .duration_since(fetched)
                .is_ok_and(|age| age < ttl)
    }

    /// The index at `url` (already mirrored).
    pub fn index(&self, cfg: &ChartsConfig, url: &str) -> Result<FetchedIndex, ChartError> {
        let fresh = |index| {
            Ok(FetchedIndex {
                index,
                offline_notice: None,
            })
        };
        if let Some((at, idx)) = self.lock().get(url).cloned()
            && Self::fresh(cfg, at)
        {
            return fresh(idx);
        }
        let path = self
            .root
            .join("index")
            .join(format!("{}.yaml", sha256_hex(url.as_bytes())));
        let on_disk = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let from_disk = |at: SystemTime| -> Result<Arc<Index>, ChartError> {
            let bytes = std::fs::read(&path).map_err(ChartError::io(&path))?;
            let idx = Arc::new(Index::parse(&bytes, url)?);
            self.lock().insert(url.to_string(), (at, idx.clone()));
            Ok(idx)
        };
        if let Some(at) = on_disk
            && (Self::fresh(cfg, at) || cfg.offline)
        {
            return fresh(from_disk(at)?);
        }
        if cfg.offline {
            return Err(ChartError::OfflineNotCached {
                url: url.to_string(),
            });
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        match http::get(cfg, url) {
            Ok(bytes) => {
                // Parse before caching: a broken download must not replace a good copy.
                let idx = Arc::new(Index::parse(&bytes, url)?);
                write_atomic(&path, &bytes)?;
                self.lock()
                    .insert(url.to_string(), (SystemTime::now(), idx.clone()));
                fresh(idx)
            }
            Err(ChartError::Unreachable { message, .. }) if on_disk.is_some() => {
                let at = on_disk.unwrap_or(UNIX_EPOCH);
                let age = SystemTime::now()
                    .duration_since(at)
                    .map(|d| d.as_secs() / 60)
                    .unwrap_or(0);
                Ok(FetchedIndex {
                    index: from_disk(at)?,
                    offline_notice: Some(format!(
                        "offline: {url} is unreachable ({message}); using the cached index from {age} min ago"
                    )),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The archive at `url` (already mirrored), checked against `digest` (hex sha256, may be
    /// empty when the index has none). Returns the cached file.
    pub fn archive(
        &self,
        cfg: &ChartsConfig,
        url: &str,
        digest: &str,
    ) -> Result<PathBuf, ChartError> {
        let blobs = self.root.join("blobs");
        // Without a digest, an archive is keyed by its URL (chart versions are immutable).
        let known = if digest.is_empty() {
            blobs.join(format!("url-{}.tgz", sha256_hex(url.as_bytes())))
        } else {
            blobs.join(format!("{digest}.tgz"))
        };
        if known.exists() {
            return Ok(known);
        }
        if cfg.offline {
            return Err(ChartError::OfflineNotCached {
                url: url.to_string(),
            });
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let bytes = http::get(cfg, url)?;
        let actual = sha256_hex(&bytes);
        if !digest.is_empty() && actual != digest {
            return Err(ChartError::DigestMismatch {
                url: url.to_string(),
                actual,
                expected: digest.to_string(),
                expected_from: "repository index",
            });
        }
        write_atomic(&known, &bytes)?;
        Ok(known)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SystemTime, Arc<Index>)>> {
        self.indexes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ChartError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(ChartError::io(parent))?;
    }
    let tmp = path.with_extension(crate::render::unique_tmp_suffix());
    std::fs::write(&tmp, bytes).map_err(ChartError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(ChartError::io(path))
}
