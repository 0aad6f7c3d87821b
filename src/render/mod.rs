//! Rendering: an App at a commit → the Kubernetes objects Git says it should run.
//!
//! Sources are rendered from the commit's tree only. Directory sources are read straight from
//! git objects; Helm sources go through a [`HelmRenderer`]: the `helm` binary ([`HelmCli`]), or
//! a native renderer plugged in with [`Renderer::with_native`]. Results are cached by content
//! ([`cache`]): rendering the same inputs twice runs helm once.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sextant::{config::Config, render::{Renderer, RenderOptions}, source};
//! let config = Config::with_defaults();
//! let repo = source::open_repo(None, &config)?;
//! let head = repo.resolve("HEAD")?;
//! let apps = source::load_apps(&repo, &head, &config)?.apps;
//! let renderer = Renderer::new(RenderOptions::from_config(&config));
//! let commit = repo.resolve(&apps[0].source.target_revision)?;
//! let rendered = renderer.render(&repo, &apps[0], &commit)?;
//! println!("{} objects", rendered.manifests.len());
//! # Ok(()) }
//! ```

pub mod cache;
pub mod deps;
pub mod directory;
pub mod helm_cli;
pub mod native;
pub mod remote;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::app::{App, HelmParameter, SourceKind};
use crate::config::{Config, RendererChoice};
use crate::source::git::{Commit, GitError, Repo, normalize};
pub use cache::RenderCache;
pub use helm_cli::HelmCli;
pub use yaml::YamlError;

/// One rendered Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The object as JSON (`apiVersion`, `kind`, `metadata`, ...).
    pub object: Value,
    /// Where it came from: the repo-relative file for directory sources, the chart template
    /// (`<chart path>/templates/x.yaml`) for Helm sources.
    pub source_file: String,
}

/// Which renderer produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RendererKind {
    Directory,
    HelmCli,
    Native,
}

impl std::fmt::Display for RendererKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RendererKind::Directory => "directory",
            RendererKind::HelmCli => "helm",
            RendererKind::Native => "native",
        })
    }
}

/// The desired state of one App at one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub app: String,
    pub commit: Commit,
    pub renderer: RendererKind,
    pub manifests: Vec<Manifest>,
    /// Things the user should know that are not errors (e.g. a fallback to the helm binary).
    pub notices: Vec<String>,
}

/// Errors while rendering; each names the app, the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(
        "app `{app}`: path `{path}` does not exist at commit {commit}\n  fix: check spec.source.path in {origin}, or commit and push the directory"
    )]
    PathNotFound {
        app: String,
        path: String,
        commit: String,
        origin: String,
    },
    #[error("app `{app}`: {source}")]
    Yaml {
        app: String,
        #[source]
        source: YamlError,
    },
    #[error("app `{app}`: {file}: document {index}: {message}")]
    BadManifest {
        app: String,
        file: String,
        index: usize,
        message: String,
    },
    #[error(
        "app `{app}`: values file `{file}` not found at commit {commit} (resolved to `{resolved}`)\n  fix: commit the file, or fix helm.valueFiles in {origin}"
    )]
    ValuesFileMissing {
        app: String,
        file: String,
        resolved: String,
        commit: String,
        origin: String,
    },
    #[error("app `{app}`: values file `{file}`: {message}\n  fix: helm.valueFiles in {origin}")]
    ValuesFileInvalid {
        app: String,
        file: String,
        message: String,
        origin: String,
    },
    #[error(
        "app `{app}`: An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}\n  fix: run `helm dependency build {chart}` and commit {chart}/charts/ (Sextant renders only what is committed)",
        missing.join(", ")
    )]
    MissingDependencies {
        app: String,
        chart: String,
        missing: Vec<String>,
    },
    #[error("app `{app}`: chart {chart}: {source}")]
    Chart {
        app: String,
        chart: String,
        #[source]
        source: Box<crate::charts::ChartError>,
    },
    #[error(
        "app `{app}`: cannot run helm binary `{binary}`: {message}\n  fix: install helm 3 or set render.helm_binary in config.toml"
    )]
    HelmNotFound {
        app: String,
        binary: String,
        message: String,
    },
    #[error("app `{app}`: helm template failed for chart {chart}:\n{stderr}")]
    Helm {
        app: String,
        chart: String,
        stderr: String,
    },
    /// The native renderer failed (no helm process ran): the same `Error: …` text helm prints.
    #[error("app `{app}`: render failed (native) for chart {chart}:\n{stderr}")]
    Native {
        app: String,
        chart: String,
        stderr: String,
    },
    #[error("app `{app}`: the native renderer cannot render chart {chart}: {reason}")]
    Unsupported {
        app: String,
        chart: String,
        reason: String,
    },
    #[error(
        "the native Helm renderer is not available in this build\n  fix: set render.renderer = \"helm\" (or \"auto\") in config.toml"
    )]
    NativeUnavailable,
    #[error("cannot prepare {path} for rendering: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Inputs to a Helm renderer, with every file already taken from the commit tree.
#[derive(Debug, Clone)]
pub struct HelmInput {
    pub app: String,
    /// Repo-relative chart path (for messages and `source_file`).
    pub chart_path: String,
    /// The chart exported from the commit.
    pub chart_dir: PathBuf,
    pub release_name: String,
    pub namespace: String,
    /// Value files in order (exported copies), then inline values last.
    pub value_files: Vec<PathBuf>,
    /// What each value file is called in messages (its repo path, or `helm.values`).
    pub value_labels: Vec<String>,
    pub parameters: Vec<HelmParameter>,
    pub include_crds: bool,
    /// e.g. `1.36.0`; `None` lets the renderer use its default.
    pub kube_version: Option<String>,
}

/// A way to render a Helm chart; the seam where the native renderer plugs in.
pub trait HelmRenderer: Send + Sync {
    fn kind(&self) -> RendererKind;
    /// Render the chart. A native renderer returns [`RenderError::Unsupported`] for charts it
    /// cannot handle; in `auto` mode the helm binary is then used, with a notice.
    fn render(&self, input: &HelmInput) -> Result<HelmOutput, RenderError>;
}

/// What a Helm renderer produced: the manifests, and warnings that are not errors (e.g. a
/// key repeated in a rendered mapping, where the last value wins as in Argo CD).
#[derive(Debug, Clone, Default)]
pub struct HelmOutput {
    pub manifests: Vec<Manifest>,
    pub warnings: Vec<String>,
}

/// Rendering settings.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub renderer: RendererChoice,
    pub helm_binary: PathBuf,
    /// Kubernetes version for `.Capabilities` (the destination cluster's, when known).
    pub kube_version: Option<String>,
    /// Where charts and value files are exported for helm (content-addressed, reused).
    pub work_dir: PathBuf,
    /// Chart repositories for dependencies (settings + cache), shared by clones of the options.
    pub charts: Arc<crate::charts::ChartRepos>,
}

impl RenderOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            renderer: config.render.renderer,
            helm_binary: config.render.helm_binary.clone(),
            kube_version: config.render.kube_version.clone(),
            work_dir: crate::paths::cache_dir().join("render"),
            charts: Arc::new(crate::charts::ChartRepos::new(config.charts.clone())),
        }
    }
}

/// Renders Apps, with a content-addressed cache. Share one per process (`Arc<Renderer>`).
pub struct Renderer {
    opts: RenderOptions,
    helm: HelmCli,
    native: Option<Arc<dyn HelmRenderer>>,
    cache: RenderCache,
}

impl Renderer {
    /// A renderer with the native Helm renderer (`helmchart`) for `native` and `auto`.
    pub fn new(opts: RenderOptions) -> Self {
        Self {
            helm: HelmCli::new(opts.helm_binary.clone()),
            opts,
            native: Some(Arc::new(native::NativeHelm)),
            cache: RenderCache::default(),
        }
    }

    /// Plug in a different native Helm renderer (used for `native` and `auto`).
    pub fn with_native(mut self, native: Arc<dyn HelmRenderer>) -> Self {
        self.native = Some(native);
        self
    }

    /// Use only the `helm` binary, even for `native`/`auto` (which then report
    /// [`RenderError::NativeUnavailable`] / use helm).
    pub fn without_native(mut self) -> Self {
        self.native = None;
        self
    }

    pub fn options(&self) -> &RenderOptions {
        &self.opts
    }

    pub fn cache(&self) -> &RenderCache {
        &self.cache
    }

    /// Render `app` at `commit`, from the cache when the inputs were rendered before.
    pub fn render(
        &self,
        repo: &Repo,
        app: &App,
        commit: &Commit,
    ) -> Result<Arc<Rendered>, RenderError> {
        if let SourceKind::Helm(helm) = &app.source.kind
            && let Some(chart) = &helm.chart
        {
            let prepared = remote::prepare(app, helm, chart, &self.opts)?;
            return self.render_prepared(app, commit, &prepared);
        }
        let path = normalize(&app.source.path);
        if !repo.is_dir(commit, &path)? {
            return Err(RenderError::PathNotFound {
                app: app.name.clone(),
                path,
                commit: commit.short().to_string(),
                origin: app.origin.clone(),
            });
        }
        match &app.source.kind {
            SourceKind::Directory(dir) => {
                let key = cache::directory_key(repo, app, commit, dir)?;
                self.cache.get_or_render(&key, commit, || {
                    Ok(Rendered {
                        app: app.name.clone(),
                        commit: commit.clone(),
                        renderer: RendererKind::Directory,
                        manifests: directory::render(repo, app, commit, dir)?,
                        notices: Vec::new(),
                    })
                })
            }
            SourceKind::Helm(helm) => {
                let prepared = helm_cli::prepare(repo, app, commit, helm, &self.opts)?;
                self.render_prepared(app, commit, &prepared)
            }
        }
    }

    fn render_prepared(
        &self,
        app: &App,
        commit: &Commit,
        prepared: &helm_cli::Prepared,
    ) -> Result<Arc<Rendered>, RenderError> {
        let key = cache::helm_key(app, prepared, self.renderer_label());
        self.cache.get_or_render(&key, commit, || {
            let mut rendered = self.render_helm(app, commit, &prepared.input)?;
            rendered.notices.extend(prepared.notices.iter().cloned());
            Ok(rendered)
        })
    }

    fn renderer_label(&self) -> &'static str {
        match (self.opts.renderer, self.native.is_some()) {
            (RendererChoice::Helm, _) | (RendererChoice::Auto, false) => "helm",
            (RendererChoice::Native, _) => "native",
            (RendererChoice::Auto, true) => "auto",
        }
    }

    fn render_helm(
        &self,
        app: &App,
        commit: &Commit,
        input: &HelmInput,
    ) -> Result<Rendered, RenderError> {
        let done = |renderer: RendererKind, out: HelmOutput, mut notices: Vec<String>| {
            notices.extend(out.warnings);
            Rendered {
                app: app.name.clone(),
                commit: commit.clone(),
                renderer,
                manifests: out.manifests,
                notices,
            }
        };
        match (self.opts.renderer, &self.native) {
            (RendererChoice::Native, None) => Err(RenderError::NativeUnavailable),
            (RendererChoice::Native, Some(native)) => {
                Ok(done(native.kind(), native.render(input)?, Vec::new()))
            }
            (RendererChoice::Auto, Some(native)) => match native.render(input) {
                Ok(m) => Ok(done(native.kind(), m, Vec::new())),
                Err(RenderError::Unsupported { reason, .. }) => {
                    let notice = format!(
                        "app `{}`: native renderer cannot render {} ({reason}); used the helm binary instead",
                        app.name, input.chart_path
                    );
                    tracing::info!("{notice}");
                    Ok(done(
                        RendererKind::HelmCli,
                        self.helm.render(input)?,
                        vec![notice],
                    ))
                }
                Err(e) => Err(e),
            },
            (RendererChoice::Helm, _) | (RendererChoice::Auto, None) => Ok(done(
                RendererKind::HelmCli,
                self.helm.render(input)?,
                Vec::new(),
            )),
        }
    }
}

/// Render once without keeping a cache (convenience for one-shot commands).
pub fn render(
    repo: &Repo,
    app: &App,
    commit: &Commit,
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    let r = Renderer::new(opts.clone()).render(repo, app, commit)?;
    Ok(Arc::unwrap_or_clone(r))
}

/// Turn parsed documents of `file` into manifests: lists are unwrapped, every object must have
/// `apiVersion`, `kind` and a name.
pub(crate) fn to_manifests(
    app: &str,
    file: &str,
    docs: Vec<Value>,
    out: &mut Vec<Manifest>,
) -> Result<(), RenderError> {
    for (i, doc) in docs.into_iter().enumerate() {
        let bad = |message: String| RenderError::BadManifest {
            app: app.to_string(),
            file: file.to_string(),
            index: i + 1,
            message,
        };
        let Value::Object(map) = &doc else {
            return Err(bad(format!(
                "expected a Kubernetes object (a map), found {}",
                type_name(&doc)
            )));
        };
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind.ends_with("List")
            && let Some(items) = map.get("items").and_then(Value::as_array)
        {
            to_manifests(app, file, items.clone(), out)?;
            continue;
        }
        if map
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(bad("object has no `apiVersion`".into()));
        }
        if kind.is_empty() {
            return Err(bad("object has no `kind`".into()));
        }
        let meta = map.get("metadata");
        let named = ["name", "generateName"].iter().any(|k| {
            meta.and_then(|m| m.get(*k))
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
        });
        if !named {
            return Err(bad(format!("{kind} has no `metadata.name`")));
        }
        out.push(Manifest {
            object: doc,
            source_file: file.to_string(),
        });
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// A temp-file suffix unique across processes and threads: exports of one chart may run
/// concurrently (the engine renders Apps in parallel), and each must write its own temp copy
/// before the atomic rename.
pub(crate) fn unique_tmp_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("tmp{}-{n}", std::process::id())
}

/// Write `bytes` to `path` atomically (temp file + rename) unless it already exists: exported
/// files are content-addressed, so an existing file is already right.
pub(crate) fn write_once(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    if path.exists() {
        return Ok(());
    }
    let io = |source| RenderError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension(unique_tmp_suffix());
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Render `manifests` as a multi-document YAML stream (`argocd app manifests` style).
pub fn to_yaml_stream(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n");
        match serde_saphyr::to_string(&m.object) {
            Ok(s) => out.push_str(&s),
            // Serialising a JSON value cannot fail in practice; keep the object visible anyway.
            Err(_) => out.push_str(&m.object.to_string()),
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// A copy of `object` with Secret `data`/`stringData` values replaced by `++++++++`: the same
/// value always gets the same mask and distinct values distinct lengths, so a change stays
/// visible without the value ever being printed.
pub fn mask_secret(object: &Value) -> Value {
    let mut out = object.clone();
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return out;
    }
    let mut seen: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = out.get_mut(field) {
            for v in map.values_mut() {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                let idx = match seen.iter().position(|s| *s == text) {
                    Some(i) => i,
                    None => {
                        seen.push(text);
                        seen.len() - 1
                    }
                };
                *v = Value::String("+".repeat(8 + idx));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_with_distinct_lengths() {
        let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "c2VjcmV0", "b": "b3RoZXI=", "c": "c2VjcmV0"}, "stringData": {"d": "x"}});
        let m = mask_secret(&s);
        assert_eq!(m["data"]["a"], "++++++++");
        assert_eq!(m["data"]["b"], "+++++++++");
        assert_eq!(m["data"]["c"], "++++++++");
        assert_eq!(m["stringData"]["d"], "++++++++++");
        assert!(!m.to_string().contains("c2VjcmV0"));
        let cm = json!({"kind": "ConfigMap", "data": {"a": "visible"}});
        assert_eq!(mask_secret(&cm), cm);
    }

    #[test]
    fn lists_are_unwrapped_and_objects_validated() {
        let mut out = Vec::new();
        let docs = vec![json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
        ]})];
        to_manifests("app", "f.yaml", docs, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let err = to_manifests(
            "app",
            "f.yaml",
            vec![json!({"kind": "ConfigMap"})],
            &mut out,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("f.yaml: document 1") && err.contains("apiVersion"),
            "{err}"
        );
        let err = to_manifests("app", "f.yaml", vec![json!("text")], &mut out).unwrap_err();
        assert!(err.to_string().contains("a string"), "{err}");
    }
}
