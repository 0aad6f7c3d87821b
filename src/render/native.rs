//! The native Helm renderer (workspace crate `helmchart`) behind the [`HelmRenderer`] seam.
//!
//! It renders what `helm template` renders, without a process per render; charts using
//! something it deliberately does not do give [`RenderError::Unsupported`], and `auto` mode
//! then falls back to the `helm` binary with a visible notice.

use super::helm_cli::{escape_commas, parse_helm_output};
use super::{HelmInput, HelmOutput, HelmRenderer, RenderError, RendererKind};

/// The native renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeHelm;

impl HelmRenderer for NativeHelm {
    fn kind(&self) -> RendererKind {
        RendererKind::Native
    }

    fn render(&self, input: &HelmInput) -> Result<HelmOutput, RenderError> {
        let failed = |message: String| RenderError::Native {
            app: input.app.clone(),
            chart: input.chart_path.clone(),
            stderr: format!("Error: {message}"),
        };
        let files = helmchart::ChartFiles::from_dir(&input.chart_dir).map_err(|e| {
            failed(
                e.to_string()
                    .replace(&input.chart_dir.display().to_string(), &input.chart_path),
            )
        })?;
        let chart = helmchart::Chart::load(&files).map_err(|e| failed(e.to_string()))?;
        let mut value_files = Vec::new();
        for (i, path) in input.value_files.iter().enumerate() {
            let bytes = std::fs::read(path).map_err(|source| RenderError::Io {
                path: path.clone(),
                source,
            })?;
            let label = input
                .value_labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| path.display().to_string());
            value_files.push((label, bytes));
        }
        let mut opts = helmchart::RenderOptions {
            release_name: input.release_name.clone(),
            namespace: if input.namespace.is_empty() {
                "default".into()
            } else {
                input.namespace.clone()
            },
            kube_version: input.kube_version.clone(),
            value_files,
            include_crds: input.include_crds,
            ..helmchart::RenderOptions::default()
        };
        for p in &input.parameters {
            let arg = format!("{}={}", p.name, escape_commas(&p.value));
            if p.force_string {
                opts.set_string.push(arg);
            } else {
                opts.set.push(arg);
            }
        }
        let rendered = helmchart::render(&chart, &opts).map_err(|e| match e {
            helmchart::RenderError::Unsupported { what, location } => RenderError::Unsupported {
                app: input.app.clone(),
                chart: input.chart_path.clone(),
                reason: format!("{what} (in {location})"),
            },
            other => failed(other.to_string()),
        })?;
        // The same text `helm template` prints, parsed the same way: both renderers give
        // identical manifests and source files.
        parse_helm_output(input, &rendered.to_helm_output())
    }
}
