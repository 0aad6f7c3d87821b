//! Charts: `Chart.yaml` metadata, values, templates, files and subcharts, loaded as Helm's
//! `loader.LoadFiles` does.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{Map, Value};

use crate::error::LoadError;
use crate::files::ChartFiles;
use crate::yaml::{self, Numbers};

/// A maintainer entry of `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Maintainer {
    /// `name`.
    pub name: String,
    /// `email`.
    pub email: String,
    /// `url`.
    pub url: String,
}

/// A dependency entry (`Chart.yaml` v2 or `requirements.yaml` v1).
#[derive(Debug, Clone, Default)]
pub struct Dependency {
    /// `name` (replaced by the alias once dependencies are processed, as Helm does).
    pub name: String,
    /// `version` (a semver range).
    pub version: String,
    /// `repository`.
    pub repository: String,
    /// `condition` (comma-separated value paths).
    pub condition: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `enabled`.
    pub enabled: bool,
    /// `import-values` (strings or `{child, parent}` maps).
    pub import_values: Vec<Value>,
    /// `alias`.
    pub alias: String,
}

/// `Chart.yaml`, with every field Helm exposes as `.Chart`.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `home`.
    pub home: String,
    /// `sources`.
    pub sources: Vec<String>,
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: String,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `maintainers`.
    pub maintainers: Vec<Maintainer>,
    /// `icon`.
    pub icon: String,
    /// `apiVersion` (`v1` when absent, as Helm assumes).
    pub api_version: String,
    /// `condition`.
    pub condition: String,
    /// `tags` (a string in Chart.yaml).
    pub tags: String,
    /// `appVersion`.
    pub app_version: String,
    /// `deprecated`.
    pub deprecated: bool,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `kubeVersion` (a semver range).
    pub kube_version: String,
    /// `dependencies`.
    pub dependencies: Vec<Dependency>,
    /// `type` (`application`, `library` or empty).
    pub chart_type: String,
}

/// A file of the chart (`.Files`, templates, CRDs).
#[derive(Debug, Clone)]
pub struct File {
    /// Path relative to the chart root.
    pub name: String,
    /// Contents.
    pub data: Arc<[u8]>,
}

/// A loaded chart and its subcharts.
#[derive(Clone)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: Metadata,
    /// `values.yaml` (Helm's view: every number a float64).
    pub values: Map,
    /// `values.schema.json`, if any.
    pub schema: Option<Arc<[u8]>>,
    /// `templates/**`.
    pub templates: Vec<File>,
    /// Every other file (`.Files`, `crds/`, README...).
    pub files: Vec<File>,
    /// Subcharts (from `charts/`), in path order.
    pub dependencies: Vec<Chart>,
    /// The full path of the parent chart (`parent/charts/name` chain), empty for the root.
    pub(crate) parent_path: Option<String>,
}

impl std::fmt::Debug for Chart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chart")
            .field("name", &self.metadata.name)
            .field("version", &self.metadata.version)
            .field("templates", &self.templates.len())
            .field("dependencies", &self.dependencies)
            .finish()
    }
}

impl Chart {
    /// Loads a chart directory.
    pub fn load_dir(dir: &std::path::Path) -> Result<Chart, LoadError> {
        if dir.is_file() {
            let bytes = std::fs::read(dir).map_err(|e| LoadError::Io {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
            return Chart::load(&ChartFiles::from_tgz(&bytes)?);
        }
        Chart::load(&ChartFiles::from_dir(dir)?)
    }

    /// Loads a chart from its files.
    pub fn load(files: &ChartFiles) -> Result<Chart, LoadError> {
        load_files(
            files.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            0,
        )
    }

    /// The chart's name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// True for `type: library`.
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }

    /// Helm's `ChartFullPath`: `root/charts/sub/charts/subsub`.
    pub fn full_path(&self) -> String {
        match &self.parent_path {
            Some(p) => format!("{p}/charts/{}", self.metadata.name),
            None => self.metadata.name.clone(),
        }
    }

    pub(crate) fn set_parent_paths(&mut self, parent: Option<String>) {
        self.parent_path = parent;
        let me = self.full_path();
        for d in &mut self.dependencies {
            d.set_parent_paths(Some(me.clone()));
        }
    }

    /// CRD files of this chart and its subcharts (`crds/*.yaml|yml|json`), as Helm lists them.
    pub fn crd_objects(&self) -> Vec<(String, Arc<[u8]>)> {
        let mut out = Vec::new();
        for f in &self.files {
            if f.name.starts_with("crds/")
                && (f.name.ends_with(".yaml")
                    || f.name.ends_with(".yml")
                    || f.name.ends_with(".json"))
            {
                out.push((format!("{}/{}", self.full_path(), f.name), f.data.clone()));
            }
        }
        for d in &self.dependencies {
            out.extend(d.crd_objects());
        }
        out
    }
}

const MAX_SUBCHART_DEPTH: usize = 32;

/// A file path with its contents.
type NamedData = (String, Arc<[u8]>);

fn load_files(files: Vec<(String, Arc<[u8]>)>, depth: usize) -> Result<Chart, LoadError> {
    if depth > MAX_SUBCHART_DEPTH {
        return Err(LoadError::Validation("subcharts nested too deeply".into()));
    }
    let mut metadata: Option<Metadata> = None;
    for (name, data) in &files {
        if name == "Chart.yaml" {
            let text = String::from_utf8_lossy(data);
            let v = yaml::parse(&text, Numbers::Typed).map_err(|e| LoadError::Invalid {
                file: "Chart.yaml".into(),
                message: e.to_string(),
            })?;
            let mut md = Metadata::default();
            apply_metadata(&mut md, &v, "Chart.yaml")?;
            if md.api_version.is_empty() {
                md.api_version = "v1".into();
            }
            metadata = Some(md);
        }
    }
    let mut values = Map::new();
    let mut schema = None;
    let mut templates = Vec::new();
    let mut other = Vec::new();
    let mut subcharts: BTreeMap<String, Vec<NamedData>> = BTreeMap::new();
    for (name, data) in files {
        match name.as_str() {
            "Chart.yaml" | "Chart.lock" => {
                if name == "Chart.lock" {
                    continue;
                }
            }
            "values.yaml" => {
                let text = String::from_utf8_lossy(&data);
                values = yaml::parse_map(&text).map_err(|e| LoadError::Invalid {
                    file: "values.yaml".into(),
                    message: e.to_string(),
                })?;
            }
            "values.schema.json" => schema = Some(data),
            "requirements.yaml" => {
                let md = metadata.get_or_insert_with(Metadata::default);
                let text = String::from_utf8_lossy(&data);
                let v = yaml::parse(&text, Numbers::Typed).map_err(|e| LoadError::Invalid {
                    file: "requirements.yaml".into(),
                    message: e.to_string(),
                })?;
                if let Value::Map(m) = &v
                    && let Some(deps) = m.get("dependencies")
                {
                    md.dependencies = parse_dependencies(&deps, "requirements.yaml")?;
                }
                if md.api_version == "v1" {
                    other.push(File { name, data });
                }
            }
            "requirements.lock" => {
                if metadata.as_ref().is_some_and(|m| m.api_version == "v1") {
                    other.push(File { name, data });
                }
            }
            n if n.starts_with("templates/") => templates.push(File { name, data }),
            n if n.starts_with("charts/") => {
                if n.ends_with(".prov") {
                    other.push(File { name, data });
                    continue;
                }
                let rest = &n["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or(rest).to_string();
                subcharts
                    .entry(cname)
                    .or_default()
                    .push((rest.to_string(), data));
            }
            _ => other.push(File { name, data }),
        }
    }
    let metadata = metadata.ok_or(LoadError::MissingChartYaml)?;
    validate_metadata(&metadata)?;
    let mut dependencies = Vec::new();
    for (n, files) in subcharts {
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        let wrap = |e: LoadError| LoadError::Subchart {
            name: n.clone(),
            parent: metadata.name.clone(),
            source: Box::new(e),
        };
        let sc = if n.ends_with(".tgz") {
            let Some((fname, data)) = files.first() else {
                continue;
            };
            if fname != &n {
                return Err(wrap(LoadError::Archive(format!(
                    "expected {n}, got {fname}"
                ))));
            }
            let cf = ChartFiles::from_tgz(data).map_err(wrap)?;
            load_files(
                cf.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                depth + 1,
            )
            .map_err(wrap)?
        } else {
            let inner: Vec<(String, Arc<[u8]>)> = files
                .into_iter()
                .filter_map(|(f, d)| f.split_once('/').map(|(_, r)| (r.to_string(), d)))
                .collect();
            if inner.is_empty() {
                continue;
            }
            load_files(inner, depth + 1).map_err(wrap)?
        };
        dependencies.push(sc);
    }
    let mut c = Chart {
        metadata,
        values,
        schema,
        templates,
        files: other,
        dependencies,
        parent_path: None,
    };
    if depth == 0 {
        c.set_parent_paths(None);
    }
    Ok(c)
}

/// Text of a scalar for a string field: `sigs.k8s.io/yaml` converts numbers and booleans to
/// their text when the Go field is a string.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Uint(u) => Some(u.to_string()),
        Value::Float(f) => Some(gotemplate::format_float_g(*f)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Nil | Value::Missing => Some(String::new()),
        _ => None,
    }
}

fn field_err(file: &str, field: &str, want: &str) -> LoadError {
    LoadError::Invalid {
        file: file.into(),
        message: format!(
            "error unmarshaling JSON: field {field:?} must be {want}; fix the value in {file}"
        ),
    }
}

fn get_string(m: &Map, key: &str, file: &str) -> Result<String, LoadError> {
    match m.get(key) {
        None => Ok(String::new()),
        Some(v) => scalar_text(&v).ok_or_else(|| field_err(file, key, "a string")),
    }
}

fn get_strings(m: &Map, key: &str, file: &str) -> Result<Vec<String>, LoadError> {
    match m.get(key) {
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::List(l)) => l
            .iter()
            .map(|v| scalar_text(v).ok_or_else(|| field_err(file, key, "a list of strings")))
            .collect(),
        Some(_) => Err(field_err(file, key, "a list of strings")),
    }
}

fn apply_metadata(md: &mut Metadata, v: &Value, file: &str) -> Result<(), LoadError> {
    let m = match v {
        Value::Map(m) => m.clone(),
        Value::Nil | Value::Missing => return Ok(()),
        _ => {
            return Err(LoadError::Invalid {
                file: file.into(),
                message: "error unmarshaling JSON: the document must be a mapping".into(),
            });
        }
    };
    md.name = get_string(&m, "name", file)?;
    md.home = get_string(&m, "home", file)?;
    md.sources = get_strings(&m, "sources", file)?;
    md.version = get_string(&m, "version", file)?;
    md.description = get_string(&m, "description", file)?;
    md.keywords = get_strings(&m, "keywords", file)?;
    md.icon = get_string(&m, "icon", file)?;
    md.api_version = get_string(&m, "apiVersion", file)?;
    md.condition = get_string(&m, "condition", file)?;
    md.tags = get_string(&m, "tags", file)?;
    md.app_version = get_string(&m, "appVersion", file)?;
    md.kube_version = get_string(&m, "kubeVersion", file)?;
    md.chart_type = get_string(&m, "type", file)?;
    md.deprecated = match m.get("deprecated") {
        None | Some(Value::Nil) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(field_err(file, "deprecated", "a boolean")),
    };
    if let Some(Value::Map(a)) = m.get("annotations") {
        for (k, v) in a.read().iter() {
            let s =
                scalar_text(v).ok_or_else(|| field_err(file, "annotations", "a map of strings"))?;
            md.annotations.insert(k.clone(), s);
        }
    }
    if let Some(Value::List(l)) = m.get("maintainers") {
        for item in l.iter() {
            if let Value::Map(mm) = item {
                md.maintainers.push(Maintainer {
                    name: get_string(mm, "name", file)?,
                    email: get_string(mm, "email", file)?,
                    url: get_string(mm, "url", file)?,
                });
            }
        }
    }
    if let Some(deps) = m.get("dependencies") {
        md.dependencies = parse_dependencies(&deps, file)?;
    }
    Ok(())
}

fn parse_dependencies(v: &Value, file: &str) -> Result<Vec<Dependency>, LoadError> {
    let mut out = Vec::new();
    if let Value::List(l) = v {
        for item in l.iter() {
            let Value::Map(m) = item else { continue };
            let import_values = match m.get("import-values") {
                Some(Value::List(iv)) => iv.iter().cloned().collect(),
                _ => Vec::new(),
            };
            out.push(Dependency {
                name: get_string(m, "name", file)?,
                version: get_string(m, "version", file)?,
                repository: get_string(m, "repository", file)?,
                condition: get_string(m, "condition", file)?,
                tags: get_strings(m, "tags", file)?,
                enabled: matches!(m.get("enabled"), Some(Value::Bool(true))),
                import_values,
                alias: get_string(m, "alias", file)?,
            });
        }
    }
    Ok(out)
}

fn validate_metadata(md: &Metadata) -> Result<(), LoadError> {
    let v = |s: &str| Err(LoadError::Validation(s.to_string()));
    if md.api_version.is_empty() {
        return v("chart.metadata.apiVersion is required");
    }
    if md.name.is_empty() {
        return v("chart.metadata.name is required");
    }
    if md.name.contains('/') || md.name.contains('\\') || md.name == ".." || md.name == "." {
        return Err(LoadError::Validation(format!(
            "chart.metadata.name {:?} is invalid",
            md.name
        )));
    }
    if md.version.is_empty() {
        return v("chart.metadata.version is required");
    }
    if crate::semver::Version::parse(&md.version).is_none() {
        return Err(LoadError::Validation(format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        )));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return v("chart.metadata.type must be application or library");
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in &md.dependencies {
        if d.name.is_empty() {
            return v("dependencies must have a name");
        }
        if !d.alias.is_empty()
            && !d
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(LoadError::Validation(format!(
                "dependency {:?} has disallowed characters in the alias",
                d.name
            )));
        }
        let key = if d.alias.is_empty() {
            &d.name
        } else {
            &d.alias
        };
        if !seen.insert(key.clone()) {
            return Err(LoadError::Validation(format!(
                "more than one dependency with name or alias {key:?}"
            )));
        }
    }
    Ok(())
}

impl Metadata {
    /// `.Chart` as templates see it (Helm's `chart.Metadata` struct fields plus `IsRoot`).
    pub fn to_value(&self, is_root: bool) -> Value {
        let strs = |v: &[String]| Value::list(v.iter().map(Value::str).collect());
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        m.insert("Name".into(), Value::str(&self.name));
        m.insert("Home".into(), Value::str(&self.home));
        m.insert("Sources".into(), strs(&self.sources));
        m.insert("Version".into(), Value::str(&self.version));
        m.insert("Description".into(), Value::str(&self.description));
        m.insert("Keywords".into(), strs(&self.keywords));
        m.insert(
            "Maintainers".into(),
            Value::list(
                self.maintainers
                    .iter()
                    .map(|x| {
                        Value::map([
                            ("Name", Value::str(&x.name)),
                            ("Email", Value::str(&x.email)),
                            ("URL", Value::str(&x.url)),
                        ])
                    })
                    .collect(),
            ),
        );
        m.insert("Icon".into(), Value::str(&self.icon));
        m.insert("APIVersion".into(), Value::str(&self.api_version));
        m.insert("Condition".into(), Value::str(&self.condition));
        m.insert("Tags".into(), Value::str(&self.tags));
        m.insert("AppVersion".into(), Value::str(&self.app_version));
        m.insert("Deprecated".into(), Value::Bool(self.deprecated));
        m.insert(
            "Annotations".into(),
            Value::map(
                self.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::str(v))),
            ),
        );
        m.insert("KubeVersion".into(), Value::str(&self.kube_version));
        m.insert(
            "Dependencies".into(),
            Value::list(
                self.dependencies
                    .iter()
                    .map(|d| {
                        Value::map([
                            ("Name", Value::str(&d.name)),
                            ("Version", Value::str(&d.version)),
                            ("Repository", Value::str(&d.repository)),
                            ("Condition", Value::str(&d.condition)),
                            ("Tags", strs(&d.tags)),
                            ("Enabled", Value::Bool(d.enabled)),
                            ("ImportValues", Value::list(d.import_values.clone())),
                            ("Alias", Value::str(&d.alias)),
                        ])
                    })
                    .collect(),
            ),
        );
        m.insert("Type".into(), Value::str(&self.chart_type));
        m.insert("IsRoot".into(), Value::Bool(is_root));
        Value::Map(Map::from_btree(m))
    }
}
