//! Native Helm v3 chart renderer: renders charts with the same result as `helm template`,
//! without the `helm` binary.
//!
//! ```no_run
//! use helmchart::{Chart, ChartFiles, RenderOptions, render};
//! let chart = Chart::load(&ChartFiles::from_dir(std::path::Path::new("chart"))?)?;
//! let opts = RenderOptions {
//!     value_files: vec![("values-prod.yaml".into(), std::fs::read("chart/values-prod.yaml")?)],
//!     kube_version: Some("1.30.0".into()),
//!     ..RenderOptions::default()
//! };
//! let out = render(&chart, &opts)?;
//! print!("{}", out.to_helm_output());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! * [`ChartFiles`]: where chart files come from (directory, `.tgz`, or a path → bytes map such
//!   as a git tree at a commit).
//! * [`Chart`]: `Chart.yaml` (v1/v2, `requirements.yaml`), values, templates, files, subcharts.
//! * [`render`]: Helm's value precedence, dependency conditions/tags/aliases/import-values,
//!   globals, `values.schema.json`, template execution with Sprig + Helm functions, manifest
//!   ordering; [`Rendered::to_helm_output`] is byte-for-byte `helm template`'s stdout.
//! * [`RenderError::Unsupported`]: what the native renderer refuses, so callers can fall back
//!   to the `helm` binary.

pub mod chart;
pub mod cli;
pub mod dupkeys;
pub mod duration;
pub mod error;
pub mod files;
pub mod funcs;
pub mod glob;
pub mod ignore;
pub mod objects;
pub mod render;
pub mod schema;
pub mod semver;
pub mod strvals;
pub mod values;
pub mod yaml;

pub use chart::{Chart, Dependency, Metadata};
pub use error::{LoadError, RenderError};
pub use files::ChartFiles;
pub use funcs::HelmFlavor;
pub use render::{RenderOptions, Rendered, RenderedDoc, render, render_with_values};
