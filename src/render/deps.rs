//! Chart dependencies at render time: what `Chart.yaml` (or `requirements.yaml`) declares but
//! `charts/` lacks is resolved by [`crate::charts`] and added to a copy of the exported chart,
//! content-addressed by the chart tree and the archives' digests. The clone is never written.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::app::App;
use crate::charts::dependencies::{Declared, Fetched, is_vendored};
use crate::charts::lock::Dep;
use crate::source::git::{Commit, Repo};

use super::{RenderError, RenderOptions, yaml};

/// The chart with its dependencies in place.
pub struct WithDependencies {
    pub chart_dir: PathBuf,
    /// Content ids of the added dependencies (for the render cache key).
    pub content_ids: Vec<String>,
    pub notices: Vec<String>,
}

/// What the chart declares and has vendored, read from the commit.
struct FromCommit {
    deps_file: String,
    deps: Vec<Value>,
    lock: Option<(String, Value)>,
    v1: bool,
    vendored: Vec<String>,
}

fn declared(
    repo: &Repo,
    app: &App,
    commit: &Commit,
    chart: &str,
    meta: &Value,
) -> Result<FromCommit, RenderError> {
    let prefix = if chart.is_empty() {
        String::new()
    } else {
        format!("{chart}/")
    };
    let parse = |path: &str| -> Result<Option<Value>, RenderError> {
        match repo.read_file(commit, path)? {
            None => Ok(None),
            Some(bytes) => yaml::parse_one(&String::from_utf8_lossy(&bytes), path)
                .map(Some)
                .map_err(|source| RenderError::Yaml {
                    app: app.name.clone(),
                    source,
                }),
        }
    };
    let v1 = meta.get("apiVersion").and_then(Value::as_str) == Some("v1")
        || meta.get("apiVersion").is_none();
    let mut deps_file = format!("{prefix}Chart.yaml");
    let mut lock_file = format!("{prefix}Chart.lock");
    let mut deps = meta.get("dependencies").and_then(Value::as_array).cloned();
    if deps.is_none() && v1 {
        // Helm 2-style charts list dependencies in requirements.yaml.
        deps_file = format!("{prefix}requirements.yaml");
        lock_file = format!("{prefix}requirements.lock");
        deps = parse(&deps_file)?
            .and_then(|r| r.get("dependencies").and_then(Value::as_array).cloned());
    }
    let lock = parse(&lock_file)?.map(|v| (lock_file, v));
    let charts_dir = format!("{prefix}charts");
    let mut vendored: Vec<String> = Vec::new();
    for f in &repo.list_files(commit, &charts_dir)? {
        let rel = f.strip_prefix(&format!("{charts_dir}/")).unwrap_or(f);
        match rel.split_once('/') {
            Some((_, "Chart.yaml")) => {
                if let Ok(Some(m)) = parse(f)
                    && let Some(name) = m.get("name").and_then(Value::as_str)
                {
                    vendored.push(name.to_string());
                }
            }
            None if rel.ends_with(".tgz") => {
                vendored.push(rel.trim_end_matches(".tgz").to_string())
            }
            _ => {}
        }
    }
    Ok(FromCommit {
        deps_file,
        deps: deps.unwrap_or_default(),
        lock,
        v1,
        vendored,
    })
}

/// Add the missing dependencies of the chart exported at `export` (`None`: nothing missing).
pub fn attach(
    repo: &Repo,
    app: &App,
    commit: &Commit,
    chart: &str,
    meta: &Value,
    export: &Path,
    opts: &RenderOptions,
) -> Result<Option<WithDependencies>, RenderError> {
    let FromCommit {
        deps_file,
        deps,
        lock,
        v1,
        vendored,
    } = declared(repo, app, commit, chart, meta)?;
    let dependencies: Vec<Dep> = deps.iter().map(Dep::from_value).collect();
    if dependencies.iter().all(|d| is_vendored(&vendored, &d.name)) {
        return Ok(None);
    }
    let chart_label = if chart.is_empty() { "." } else { chart };
    let wrap = |source| RenderError::Chart {
        app: app.name.clone(),
        chart: chart_label.to_string(),
        source: Box::new(source),
    };
    let resolution = opts
        .charts
        .resolve(
            &Declared {
                deps_file,
                dependencies: dependencies.clone(),
                lock,
                v1,
                vendored: &vendored,
            },
            chart,
        )
        .map_err(wrap)?;
    let mut content_ids = Vec::new();
    let mut archives: Vec<(String, Vec<u8>)> = Vec::new();
    for f in &resolution.fetched {
        match f {
            Fetched::Archive {
                file_name,
                path,
                digest,
                ..
            } => {
                content_ids.push(format!("dep:{file_name}:{digest}"));
                let bytes = std::fs::read(path).map_err(|source| RenderError::Io {
                    path: path.clone(),
                    source,
                })?;
                archives.push((file_name.clone(), bytes));
            }
            Fetched::Local { name, repo_path } => {
                let (file_name, tree, bytes) =
                    local_archive(repo, commit, name, repo_path, &dependencies, opts)
                        .map_err(wrap)?;
                content_ids.push(format!("dep:{file_name}:{tree}"));
                archives.push((file_name, bytes));
            }
        }
    }
    let key = crate::charts::cache::sha256_hex(
        format!("{}\n{}", export.display(), content_ids.join("\n")).as_bytes(),
    );
    let dest = opts.work_dir.join("with-deps").join(&key);
    build_dir(export, &archives, &dest)?;
    Ok(Some(WithDependencies {
        chart_dir: dest,
        content_ids,
        notices: resolution.notices,
    }))
}

/// Package a `file://` dependency from the commit (its own `.helmignore` applied), checking
/// its version against the constraint as Helm does.
fn local_archive(
    repo: &Repo,
    commit: &Commit,
    name: &str,
    repo_path: &str,
    deps: &[Dep],
    opts: &RenderOptions,
) -> Result<(String, String, Vec<u8>), crate::charts::ChartError> {
    use crate::charts::ChartError;
    let local = |message: String| ChartError::Dependency {
        dependency: name.to_string(),
        constraint: deps
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.version.clone())
            .unwrap_or_default(),
        repository: format!("file://{repo_path}"),
        source: Box::new(ChartError::Local {
            path: repo_path.to_string(),
            message,
        }),
    };
    let tree = match repo.object_id(commit, repo_path) {
        Ok(Some((id, _))) => id,
        Ok(None) => {
            return Err(local(format!(
                "no such directory at commit {}; commit it or fix the repository path",
                commit.short()
            )));
        }
        Err(e) => return Err(local(e.to_string())),
    };
    let dir = opts.work_dir.join("charts").join(&tree);
    super::helm_cli::export_chart(repo, commit, repo_path, &dir)
        .map_err(|e| local(e.to_string()))?;
    let files = helmchart::ChartFiles::from_dir(&dir).map_err(|e| local(e.to_string()))?;
    let chart = helmchart::Chart::load(&files).map_err(|e| local(e.to_string()))?;
    let version = chart.metadata.version.clone();
    let constraint = deps
        .iter()
        .find(|d| d.name == name)
        .map(|d| d.version.as_str())
        .unwrap_or("*");
    if !constraint.is_empty() && !helmchart::semver::satisfies(constraint, &version) {
        return Err(local(format!(
            "version {version} does not match `{constraint}`; change the constraint or the chart's version"
        )));
    }
    let bytes = crate::charts::archive::package(chart.name(), &files)
        .map_err(|e| local(format!("cannot package it: {e}")))?;
    Ok((format!("{name}-{version}.tgz"), tree, bytes))
}

/// Copy the export and add the archives under `charts/`, once per key.
fn build_dir(
    export: &Path,
    archives: &[(String, Vec<u8>)],
    dest: &Path,
) -> Result<(), RenderError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Io { path, source }
    };
    super::helm_cli::publish_once(dest, |tmp| {
        copy_tree(export, tmp).map_err(io(tmp))?;
        let charts = tmp.join("charts");
        std::fs::create_dir_all(&charts).map_err(io(&charts))?;
        for (name, bytes) in archives {
            std::fs::write(charts.join(name), bytes).map_err(io(&charts))?;
        }
        Ok(())
    })
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_name() == ".sextant-complete" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
