//! Errors. `Display` follows Helm's wording where Helm has one, so a message reads the same
//! whether it came from the native renderer or from `helm template`.

/// A chart could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Reading the chart from disk failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The chart archive is corrupt or too large.
    #[error("error unpacking chart archive: {0}")]
    Archive(String),
    /// `Chart.yaml` is missing.
    #[error("Chart.yaml file is missing")]
    MissingChartYaml,
    /// A chart file does not parse.
    #[error("cannot load {file}: {message}")]
    Invalid {
        /// The file, relative to the chart root.
        file: String,
        /// What is wrong, with line and column.
        message: String,
    },
    /// Chart metadata fails Helm's validation (`chart.metadata.type must be ...`).
    #[error("validation: {0}")]
    Validation(String),
    /// A subchart failed to load.
    #[error("error unpacking subchart {name} in {parent}: {source}")]
    Subchart {
        /// The entry under `charts/`.
        name: String,
        /// The parent chart's name.
        parent: String,
        /// The underlying error.
        source: Box<LoadError>,
    },
}

/// Rendering failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The chart failed to load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A value file or `--set` parameter is invalid.
    #[error("{0}")]
    Values(String),
    /// `values.schema.json` rejected the values.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Schema(String),
    /// A template failed to parse (`parse error at (chart/templates/x.yaml:3): ...`).
    #[error("{0}")]
    Parse(String),
    /// A template failed to execute (`template: chart/templates/x.yaml:12:20: executing ...`
    /// or `execution error at (chart/templates/x.yaml:3:4): message`).
    #[error("{0}")]
    Exec(String),
    /// A rendered manifest is not valid YAML.
    #[error("YAML parse error on {file}: error converting YAML to JSON: {message}")]
    Manifest {
        /// The template, e.g. `chart/templates/deploy.yaml`.
        file: String,
        /// go-yaml style message (`yaml: line 11: could not find expected ':'`).
        message: String,
        /// Everything rendered, for debugging (what `helm template --debug` prints).
        debug_output: String,
    },
    /// The chart is not installable or its dependencies are incomplete.
    #[error("{0}")]
    Chart(String),
    /// The chart uses something the native renderer deliberately does not do; the caller
    /// should fall back to the `helm` binary.
    #[error("unsupported by the native Helm renderer: {what} (in {location})")]
    Unsupported {
        /// The feature.
        what: String,
        /// Where it is used (file or chart).
        location: String,
    },
}
