//! Render cache keyed by content: (app, renderer, git ids of every input, every setting).
//!
//! Keys use git object ids rather than the commit sha, so a commit that does not touch an App's
//! chart, values or manifests reuses its previous render. Errors are not cached: a missing helm
//! binary may be installed a minute later.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::app::{App, DirectorySource};
use crate::source::git::{Commit, Repo, normalize};

use super::helm_cli::Prepared;
use super::{RenderError, Rendered};

/// How many renders are kept (a few revisions of a few dozen Apps).
pub const DEFAULT_CAPACITY: usize = 512;

/// A bounded, thread-safe cache of renders.
pub struct RenderCache {
    inner: Mutex<Inner>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Arc<Rendered>>,
    order: VecDeque<String>,
}

impl Default for RenderCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl RenderCache {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Renders served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Renders that had to run.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The cached render for `key`, else run `render` and keep its result. The commit recorded
    /// in a cache hit is the one asked for (content is identical, the revision is not).
    pub fn get_or_render(
        &self,
        key: &str,
        commit: &Commit,
        render: impl FnOnce() -> Result<Rendered, RenderError>,
    ) -> Result<Arc<Rendered>, RenderError> {
        let cached = self.lock().map.get(key).cloned();
        if let Some(hit) = cached {
            self.hits.fetch_add(1, Ordering::Relaxed);
            if hit.commit == *commit {
                return Ok(hit);
            }
            let mut same = (*hit).clone();
            same.commit = commit.clone();
            return Ok(Arc::new(same));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let rendered = Arc::new(render()?);
        let mut inner = self.lock();
        if inner
            .map
            .insert(key.to_string(), rendered.clone())
            .is_none()
        {
            inner.order.push_back(key.to_string());
        }
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.map.remove(&old);
            }
        }
        Ok(rendered)
    }

    /// Forget everything (e.g. after the helm binary changed).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.order.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn digest(parts: &[String]) -> String {
    // Length-prefix each part so no two different part lists produce the same text.
    let mut text = String::new();
    for p in parts {
        text.push_str(&format!("{}:{p}\n", p.len()));
    }
    git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
        .map(|o| o.to_string())
        .unwrap_or(text)
}

/// Key of a directory source: the tree id of its path plus the selection settings.
pub fn directory_key(
    repo: &Repo,
    app: &App,
    commit: &Commit,
    dir: &DirectorySource,
) -> Result<String, RenderError> {
    let path = normalize(&app.source.path);
    let tree = repo
        .object_id(commit, &path)?
        .map(|(id, _)| id)
        .unwrap_or_else(|| format!("commit:{}", commit.sha));
    Ok(digest(&[
        "directory".into(),
        app.name.clone(),
        path,
        tree,
        dir.recurse.to_string(),
        dir.include.clone().unwrap_or_default(),
        dir.exclude.clone().unwrap_or_default(),
    ]))
}

/// Key of a Helm source: chart tree and value-file blob ids plus every helm setting.
pub fn helm_key(app: &App, prepared: &Prepared, renderer: &str) -> String {
    let i = &prepared.input;
    let mut parts = vec![
        "helm".to_string(),
        renderer.to_string(),
        app.name.clone(),
        i.chart_path.clone(),
        i.release_name.clone(),
        i.namespace.clone(),
        i.include_crds.to_string(),
        i.kube_version.clone().unwrap_or_default(),
    ];
    parts.extend(prepared.content_ids.iter().cloned());
    for p in &i.parameters {
        parts.push(format!("param:{}:{}:{}", p.force_string, p.name, p.value));
    }
    digest(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::RendererKind;

    fn rendered() -> Rendered {
        Rendered {
            app: "a".into(),
            commit: Commit {
                sha: "0".repeat(40),
                summary: String::new(),
                author: String::new(),
                time: 0,
            },
            renderer: RendererKind::Directory,
            manifests: Vec::new(),
            notices: Vec::new(),
        }
    }

    #[test]
    fn second_lookup_is_a_hit_and_errors_are_not_cached() {
        let c = RenderCache::default();
        let mut runs = 0;
        for _ in 0..2 {
            c.get_or_render("k", &rendered().commit, || {
                runs += 1;
                Ok(rendered())
            })
            .unwrap();
        }
        assert_eq!((runs, c.hits(), c.misses()), (1, 1, 1));
        assert!(
            c.get_or_render("e", &rendered().commit, || Err(
                RenderError::NativeUnavailable
            ))
            .is_err()
        );
        assert!(
            c.get_or_render("e", &rendered().commit, || Ok(rendered()))
                .is_ok()
        );
    }

    #[test]
    fn capacity_evicts_oldest() {
        let c = RenderCache::with_capacity(2);
        for k in ["a", "b", "c"] {
            c.get_or_render(k, &rendered().commit, || Ok(rendered()))
                .unwrap();
        }
        let mut ran = false;
        c.get_or_render("a", &rendered().commit, || {
            ran = true;
            Ok(rendered())
        })
        .unwrap();
        assert!(ran, "oldest entry should have been evicted");
    }

    #[test]
    fn digest_separates_parts() {
        assert_ne!(
            digest(&["ab".into(), "c".into()]),
            digest(&["a".into(), "bc".into()])
        );
    }
}
