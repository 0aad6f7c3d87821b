//! Helm sources whose chart comes from a Helm repository (`source.chart` + `repoURL` +
//! `targetRevision`), as Argo CD renders them: the archive is fetched through [`crate::charts`]
//! (mirrors, credentials, cache), unpacked once per digest, and value files are read from the
//! chart itself.

use std::path::{Path, PathBuf};

use crate::app::{App, ChartRef, HelmSource};
use crate::charts::dependencies::Fetched;

use super::helm_cli::Prepared;
use super::{HelmInput, RenderError, RenderOptions};

/// Fetch and unpack the chart, and build the helm inputs.
pub fn prepare(
    app: &App,
    helm: &HelmSource,
    chart: &ChartRef,
    opts: &RenderOptions,
) -> Result<Prepared, RenderError> {
    let label = format!("{} ({} {})", chart.name, chart.repo_url, chart.version);
    let wrap = |source| RenderError::Chart {
        app: app.name.clone(),
        chart: label.clone(),
        source: Box::new(source),
    };
    let (fetched, notices) = opts
        .charts
        .fetch_chart(&chart.name, &chart.version, &chart.repo_url)
        .map_err(|e| {
            wrap(crate::charts::ChartError::Dependency {
                dependency: chart.name.clone(),
                constraint: chart.version.clone(),
                repository: chart.repo_url.clone(),
                source: Box::new(e),
            })
        })?;
    let Fetched::Archive { path, digest, .. } = fetched else {
        return Err(RenderError::Helm {
            app: app.name.clone(),
            chart: label,
            stderr: "Error: a Helm-repository chart must come from an http(s) repository".into(),
        });
    };
    let chart_dir = opts.work_dir.join("remote").join(&digest);
    unpack(&path, &chart_dir, &app.name, &label)?;
    let mut content_ids = vec![format!("remote:{digest}")];
    let mut value_files = Vec::new();
    let mut value_labels = Vec::new();
    for vf in &helm.value_files {
        let file = chart_dir.join(vf.trim_start_matches('/'));
        // Value files of a repository chart are files of the chart (Argo CD reads them there).
        if vf.contains("://") || vf.split('/').any(|p| p == "..") || !file.is_file() {
            return Err(RenderError::ValuesFileInvalid {
                app: app.name.clone(),
                file: vf.clone(),
                message: format!("not a file of chart {label}"),
                origin: app.origin.clone(),
            });
        }
        value_files.push(file);
        value_labels.push(format!("{}/{vf}", chart.name));
        content_ids.push(format!("values:{vf}"));
    }
    if let Some((path, label, id)) = super::helm_cli::inline_values(app, helm, opts)? {
        value_files.push(path);
        value_labels.push(label);
        content_ids.push(id);
    }
    Ok(Prepared {
        input: HelmInput {
            app: app.name.clone(),
            chart_path: chart.name.clone(),
            chart_dir,
            release_name: app.release_name().to_string(),
            namespace: app.destination.namespace.clone(),
            value_files,
            value_labels,
            parameters: helm.parameters.clone(),
            include_crds: !helm.skip_crds,
            kube_version: opts.kube_version.clone(),
        },
        content_ids,
        notices,
    })
}

/// Unpack an archive once (a finished directory has a marker file).
fn unpack(archive: &Path, dest: &PathBuf, app: &str, label: &str) -> Result<(), RenderError> {
    if dest.join(".sextant-complete").exists() {
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Io { path, source }
    };
    let bytes = std::fs::read(archive).map_err(io(archive))?;
    let files = helmchart::ChartFiles::from_tgz(&bytes).map_err(|e| RenderError::Helm {
        app: app.to_string(),
        chart: label.to_string(),
        stderr: format!("Error: the chart archive cannot be read: {e}"),
    })?;
    let tmp = dest.with_extension(super::unique_tmp_suffix());
    for (name, data) in files.iter() {
        let file = tmp.join(name);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&file, &data[..]).map_err(io(&file))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    std::fs::write(tmp.join(".sextant-complete"), b"").map_err(io(&tmp))?;
    if std::fs::rename(&tmp, dest).is_err() && !dest.join(".sextant-complete").exists() {
        let _ = std::fs::remove_dir_all(dest);
        std::fs::rename(&tmp, dest).map_err(io(dest))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
