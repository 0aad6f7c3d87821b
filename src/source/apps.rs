//! Apps from Argo CD manifests (`ApplicationSet` with list generators, `Application`) found in the
//! repository at a commit, and from `[[apps]]` in config.toml.
//!
//! Errors are per file (or per app): a broken manifest never stops the other Apps from loading.
//!
//! Over 600 lines: Application and ApplicationSet parsing with their tests; generators get their own files with issue 17.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};

use super::git::{Commit, GitError, Repo, normalize};
use super::glob::Glob;
use super::template::{self, Mode};
use crate::app::{
    App, AppSource, Automated, Backoff, Destination, DirectorySource, HelmParameter, HelmSource,
    IgnoreDifference, RetryPolicy, SourceKind, SyncPolicy,
};
use crate::config::{AppDecl, Config};
use crate::render::yaml;

/// Argo CD's default `revisionHistoryLimit`.
pub const DEFAULT_HISTORY_LIMIT: usize = 10;

/// Generators Argo CD has besides `list`, named in "unsupported" errors.
const OTHER_GENERATORS: &[&str] = &[
    "git",
    "cluster",
    "clusters",
    "matrix",
    "merge",
    "scmProvider",
    "pullRequest",
    "clusterDecisionResource",
    "plugin",
];

/// Why one manifest (or one App of it) could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLoadError {
    /// Repo-relative file (or the config file) the problem is in.
    pub file: String,
    /// 1-based position when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The ApplicationSet or App concerned, when known.
    pub object: Option<String>,
    pub message: String,
}

impl std::fmt::Display for AppLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}:{}", self.column.unwrap_or(1))?;
        }
        f.write_str(": ")?;
        if let Some(o) = &self.object {
            write!(f, "{o}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppLoadError {}

impl AppLoadError {
    fn at(mut self, pos: Option<(usize, usize)>) -> Self {
        if let Some((line, column)) = pos {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    fn new(file: &str, object: Option<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line: None,
            column: None,
            object,
            message: message.into(),
        }
    }
}

/// The Apps found, in a stable order (manifest file, then document, then element), and the
/// problems met on the way.
#[derive(Debug, Clone, Default)]
pub struct LoadedApps {
    pub apps: Vec<App>,
    pub errors: Vec<AppLoadError>,
}

/// Load every App: manifests matching `config.repo.manifests` in `commit`'s tree, then
/// `[[apps]]` from config. A repository error (unreadable tree) is the only hard failure.
pub fn load_apps(repo: &Repo, commit: &Commit, config: &Config) -> Result<LoadedApps, GitError> {
    let mut out = LoadedApps::default();
    let mut globs = Vec::new();
    for pattern in &config.repo.manifests {
        match Glob::new(pattern) {
            Ok(g) => globs.push(g),
            Err(e) => out.errors.push(AppLoadError::new(
                "config.toml",
                None,
                format!("repo.manifests: {e}"),
            )),
        }
    }
    let mut files = BTreeSet::new();
    for g in &globs {
        for f in repo.list_files(commit, &g.literal_prefix())? {
            if g.matches(&f) {
                files.insert(f);
            }
        }
    }
    for file in files {
        let Some(bytes) = repo.read_file(commit, &file)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let docs = match yaml::parse_documents(&text, &file) {
            Ok(d) => d,
            Err(e) => {
                // Only report files that look like Argo CD manifests; other YAML under the
                // globs (a README in YAML, Kustomize files) is none of our business.
                if text.contains("argoproj.io") {
                    out.errors.push(AppLoadError {
                        file: file.clone(),
                        line: Some(e.line),
                        column: Some(e.column),
                        object: None,
                        message: format!("invalid YAML: {}", e.message),
                    });
                }
                continue;
            }
        };
        for doc in docs {
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
            let api = doc
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !api.starts_with("argoproj.io/") {
                continue;
            }
            let ctx = Ctx {
                repo,
                commit,
                file: &file,
                text: &text,
            };
            match kind {
                "ApplicationSet" => ctx.application_set(&doc, &mut out),
                "Application" => {
                    let name = doc
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    match ctx.application(&doc, None) {
                        Ok(app) => out.apps.push(app),
                        Err(msg) => out.errors.push(
                            AppLoadError::new(&file, Some(format!("Application `{name}`")), msg)
                                .at(locate(&text, &name, None)),
                        ),
                    }
                }
                _ => {}
            }
        }
    }
    for decl in &config.apps {
        match config_app(repo, commit, decl) {
            Ok(app) => out.apps.push(app),
            Err(msg) => out.errors.push(AppLoadError::new(
                "config.toml",
                Some(format!("[[apps]] `{}`", decl.name)),
                msg,
            )),
        }
    }
    dedupe(&mut out);
    // System-level rules (Argo CD's resource.customizations.ignoreDifferences) apply to every
    // App after its own, so every comparison, sync and memo key sees them.
    match config.system_ignore_differences() {
        Ok(rules) => {
            for app in &mut out.apps {
                app.ignore_differences.extend(rules.iter().cloned());
            }
        }
        Err(msg) => out.errors.push(AppLoadError::new("config.toml", None, msg)),
    }
    Ok(out)
}

/// Keep the first App of each name; later ones are errors (Argo CD would fight over them).
fn dedupe(out: &mut LoadedApps) {
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for app in std::mem::take(&mut out.apps) {
        if seen.insert(app.name.clone()) {
            kept.push(app);
        } else {
            out.errors.push(AppLoadError::new(
                &app.origin,
                Some(format!("App `{}`", app.name)),
                "an App with this name is already defined; names must be unique (this one is ignored)",
            ));
        }
    }
    out.apps = kept;
}

struct Ctx<'a> {
    repo: &'a Repo,
    commit: &'a Commit,
    file: &'a str,
    /// The file's text, to give errors a line.
    text: &'a str,
}

impl Ctx<'_> {
    fn application_set(&self, doc: &Value, out: &mut LoadedApps) {
        let set_name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_string();
        let label = Some(format!("ApplicationSet `{set_name}`"));
        let at = locate(self.text, &set_name, None);
        let err = |msg: String| AppLoadError::new(self.file, label.clone(), msg).at(at);
        let Some(spec) = doc.get("spec").and_then(Value::as_object) else {
            out.errors.push(err("missing `spec`".into()));
            return;
        };
        let go = spec.get("goTemplate").and_then(as_bool).unwrap_or(false);
        let missing_key_error = spec
            .get("goTemplateOptions")
            .and_then(Value::as_array)
            .is_some_and(|o| o.iter().any(|v| v.as_str() == Some("missingkey=error")));
        let mode = if go {
            Mode::Go { missing_key_error }
        } else {
            Mode::Fast
        };
        let Some(tmpl) = spec.get("template") else {
            out.errors.push(err("missing `spec.template`".into()));
            return;
        };
        let Some(generators) = spec.get("generators").and_then(Value::as_array) else {
            out.errors
                .push(err("missing `spec.generators` (a list)".into()));
            return;
        };
        for (gi, generator) in generators.iter().enumerate() {
            let Some(gmap) = generator.as_object() else {
                out.errors
                    .push(err(format!("spec.generators[{gi}] is not a map")));
                continue;
            };
            let Some(list) = gmap.get("list") else {
                let name = gmap
                    .keys()
                    .find(|k| OTHER_GENERATORS.contains(&k.as_str()))
                    .or_else(|| gmap.keys().next())
                    .cloned()
                    .unwrap_or_else(|| "<empty>".into());
                out.errors.push(
                    err(format!(
                        "spec.generators[{gi}]: the `{name}` generator is not supported (only `list` is); \
                         rewrite it as a list generator or declare the Apps in config.toml [[apps]]"
                    ))
                    .at(locate(self.text, &set_name, Some(&name)).or(at)),
                );
                continue;
            };
            let elements = match list_elements(list) {
                Ok(e) => e,
                Err(msg) => {
                    out.errors
                        .push(err(format!("spec.generators[{gi}].list: {msg}")));
                    continue;
                }
            };
            // A generator-level template is merged over spec.template (as Argo CD does).
            let tmpl = match gmap.get("template") {
                Some(over) => merge(tmpl, over),
                None => tmpl.clone(),
            };
            for (ei, element) in elements.iter().enumerate() {
                let params = match element_params(element, go) {
                    Ok(p) => p,
                    Err(msg) => {
                        out.errors.push(err(format!(
                            "spec.generators[{gi}].list.elements[{ei}]: {msg}"
                        )));
                        continue;
                    }
                };
                let rendered = match template::render_value(&tmpl, &params, mode) {
                    Ok(v) => v,
                    Err(e) => {
                        out.errors.push(err(format!(
                            "spec.generators[{gi}].list.elements[{ei}]: {e}"
                        )));
                        continue;
                    }
                };
                let env = ["env", "name"]
                    .iter()
                    .find_map(|k| element.get(*k).and_then(scalar_string));
                match self.application(&rendered, env) {
                    Ok(app) => out.apps.push(app),
                    Err(msg) => {
                        let name = rendered
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("<unnamed>");
                        out.errors
                            .push(err(format!("element {ei} (App `{name}`): {msg}")));
                    }
                }
            }
        }
    }

    /// An App from an Application (or a rendered ApplicationSet template).
    fn application(&self, doc: &Value, env: Option<String>) -> Result<App, String> {
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("missing `metadata.name`")?
            .to_string();
        let spec = doc
            .get("spec")
            .and_then(Value::as_object)
            .ok_or("missing `spec`")?;
        let source = match (spec.get("source"), spec.get("sources")) {
            (Some(s), _) => s.clone(),
            (None, Some(Value::Array(list))) if list.len() == 1 => list[0].clone(),
            (None, Some(_)) => {
                return Err("multi-source Apps (`spec.sources` with several entries) are not supported; use one `spec.source`".into());
            }
            (None, None) => return Err("missing `spec.source`".into()),
        };
        let source = self.source(&source)?;
        let destination = parse_destination(spec.get("destination"))?;
        let sync_policy = parse_sync_policy(spec.get("syncPolicy"))?;
        let revision_history_limit = match spec.get("revisionHistoryLimit") {
            None | Some(Value::Null) => DEFAULT_HISTORY_LIMIT,
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or("`spec.revisionHistoryLimit` must be a non-negative integer")?,
        };
        let ignore_differences = parse_ignore_differences(spec.get("ignoreDifferences"))?;
        let project = spec
            .get("project")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .unwrap_or("default")
            .to_string();
        Ok(App {
            env: env.unwrap_or_else(|| name.clone()),
            name,
            project,
            origin: self.file.to_string(),
            source,
            destination,
            sync_policy,
            revision_history_limit,
            ignore_differences,
        })
    }

    fn source(&self, src: &Value) -> Result<AppSource, String> {
        let obj = src.as_object().ok_or("`spec.source` is not a map")?;
        if let Some(chart) = str_field(obj, "chart").filter(|c| !c.is_empty()) {
            return chart_source(obj, chart);
        }
        for unsupported in ["kustomize", "plugin"] {
            if obj.contains_key(unsupported) {
                return Err(format!(
                    "`source.{unsupported}` sources are not supported (Helm charts and plain directories are)"
                ));
            }
        }
        let repo_url = str_field(obj, "repoURL").unwrap_or_default();
        let path = normalize(&str_field(obj, "path").unwrap_or_default());
        let target_revision = str_field(obj, "targetRevision")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "HEAD".into());
        let kind = if let Some(h) = obj.get("helm") {
            SourceKind::Helm(parse_helm(h)?)
        } else if let Some(d) = obj.get("directory") {
            SourceKind::Directory(parse_directory(d)?)
        } else {
            // Argo CD detects the source type from the files: a Chart.yaml means Helm.
            self.detect_kind(&path)
        };
        Ok(AppSource {
            repo_url,
            path,
            target_revision,
            kind,
        })
    }

    fn detect_kind(&self, path: &str) -> SourceKind {
        detect_kind(self.repo, self.commit, path)
    }
}

/// A chart from a Helm repository: `repoURL` + `chart` + `targetRevision` (the chart version:
/// exact, a range or `*`), with the usual `helm` settings.
fn chart_source(obj: &Map<String, Value>, chart: String) -> Result<AppSource, String> {
    let repo_url = str_field(obj, "repoURL").unwrap_or_default();
    let is_http = repo_url.starts_with("https://") || repo_url.starts_with("http://");
    if !is_http && !repo_url.starts_with('@') {
        return Err(format!(
            "`source.repoURL` {repo_url:?} for chart `{chart}` is not an http(s) Helm repository; OCI registries are not supported yet (commit the chart to Git, or serve it from a Helm repository)"
        ));
    }
    let mut helm = match obj.get("helm") {
        Some(h) => parse_helm(h)?,
        None => HelmSource::default(),
    };
    let version = str_field(obj, "targetRevision")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "*".into());
    helm.chart = Some(crate::app::ChartRef {
        repo_url: repo_url.clone(),
        name: chart,
        version: version.clone(),
    });
    Ok(AppSource {
        repo_url,
        path: String::new(),
        target_revision: version,
        kind: SourceKind::Helm(helm),
    })
}

/// Best-effort position of an object in its file: the `name: <name>` line, or with `key`, the
/// first `key:` (or `- key:`) line after it (e.g. an unsupported generator).
fn locate(text: &str, name: &str, key: Option<&str>) -> Option<(usize, usize)> {
    let unquote = |v: &str| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        l.trim_start()
            .strip_prefix("name:")
            .is_some_and(|v| unquote(v.split(" #").next().unwrap_or(v)) == name)
    })?;
    let Some(key) = key else {
        let col = lines[start].len() - lines[start].trim_start().len() + 1;
        return Some((start + 1, col));
    };
    // The generators list may come before or after metadata: search the whole document.
    let doc_start = lines[..start]
        .iter()
        .rposition(|l| l.trim_end() == "---")
        .map(|i| i + 1)
        .unwrap_or(0);
    lines
        .iter()
        .enumerate()
        .skip(doc_start)
        .take_while(|(i, l)| *i <= start || l.trim_end() != "---")
        .find_map(|(i, l)| {
            let t = l.trim_start();
            let t2 = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
            (t2.starts_with(&format!("{key}:"))).then(|| (i + 1, l.len() - t2.len() + 1))
        })
}

fn detect_kind(repo: &Repo, commit: &Commit, path: &str) -> SourceKind {
    let chart = if path.is_empty() {
        "Chart.yaml".to_string()
    } else {
        format!("{path}/Chart.yaml")
    };
    match repo.read_file(commit, &chart) {
        Ok(Some(_)) => SourceKind::Helm(HelmSource::default()),
        _ => SourceKind::Directory(DirectorySource::default()),
    }
}

/// An App declared in config.toml `[[apps]]`.
fn config_app(repo: &Repo, commit: &Commit, d: &AppDecl) -> Result<App, String> {
    let path = normalize(&d.path);
    let kind = if !d.value_files.is_empty() {
        SourceKind::Helm(HelmSource {
            value_files: d.value_files.clone(),
            ..HelmSource::default()
        })
    } else {
        detect_kind(repo, commit, &path)
    };
    let mut sync_options = Vec::new();
    if d.create_namespace {
        sync_options.push("CreateNamespace=true".to_string());
    }
    Ok(App {
        name: d.name.clone(),
        env: d.env.clone().unwrap_or_else(|| d.name.clone()),
        project: "default".into(),
        origin: "config.toml".into(),
        source: AppSource {
            repo_url: repo.remote_url().unwrap_or_default().to_string(),
            path,
            target_revision: d.target_revision.clone(),
            kind,
        },
        destination: Destination {
            server: Some(d.server.clone()),
            name: None,
            namespace: d.namespace.clone(),
        },
        sync_policy: SyncPolicy {
            automated: d.auto_sync.then_some(Automated {
                prune: d.prune,
                self_heal: d.self_heal,
                allow_empty: false,
            }),
            sync_options,
            retry: None,
        },
        revision_history_limit: DEFAULT_HISTORY_LIMIT,
        ignore_differences: Vec::new(),
    })
}

fn list_elements(list: &Value) -> Result<Vec<Map<String, Value>>, String> {
    let mut out = Vec::new();
    if let Some(elements) = list.get("elements") {
        let arr = elements.as_array().ok_or("`elements` is not a list")?;
        for (i, e) in arr.iter().enumerate() {
            out.push(
                e.as_object()
                    .cloned()
                    .ok_or_else(|| format!("elements[{i}] is not a map"))?,
            );
        }
    }
    if let Some(text) = list.get("elementsYaml").and_then(Value::as_str) {
        let v = yaml::parse_one(text, "elementsYaml").map_err(|e| e.to_string())?;
        let arr = v.as_array().ok_or("`elementsYaml` is not a YAML list")?;
        for (i, e) in arr.iter().enumerate() {
            out.push(
                e.as_object()
                    .cloned()
                    .ok_or_else(|| format!("elementsYaml[{i}] is not a map"))?,
            );
        }
    }
    Ok(out)
}

/// Parameters of one list element. In fasttemplate mode values must be scalars (a `values` map
/// becomes `values.<key>`), as Argo CD's list generator requires.
fn element_params(element: &Map<String, Value>, go: bool) -> Result<Map<String, Value>, String> {
    if go {
        return Ok(element.clone());
    }
    let mut params = Map::new();
    for (k, v) in element {
        match v {
            Value::Object(values) if k == "values" => {
                for (vk, vv) in values {
                    let s = scalar_string(vv).ok_or_else(|| {
                        format!("`values.{vk}` must be a string (set goTemplate: true for structured values)")
                    })?;
                    params.insert(format!("values.{vk}"), Value::String(s));
                }
            }
            other => {
                let s = scalar_string(other).ok_or_else(|| {
                    format!("`{k}` must be a string (set goTemplate: true for structured values)")
                })?;
                params.insert(k.clone(), Value::String(s));
            }
        }
    }
    Ok(params)
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Deep-merge `over` onto `base` (maps merge, everything else replaces).
fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match b.get(k) {
                    Some(bv) => merge(bv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, o) => o.clone(),
    }
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(scalar_string)
}

/// Booleans as YAML gives them, also `"true"`/`"false"` strings a template produced.
fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn bool_field(obj: &Map<String, Value>, key: &str, ctx: &str) -> Result<bool, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(v) => {
            as_bool(v).ok_or_else(|| format!("`{ctx}.{key}` must be true or false, got {v}"))
        }
    }
}

fn string_list(v: Option<&Value>, ctx: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| scalar_string(i).ok_or_else(|| format!("`{ctx}` must be a list of strings")))
            .collect(),
        Some(_) => Err(format!("`{ctx}` must be a list of strings")),
    }
}

fn parse_helm(h: &Value) -> Result<HelmSource, String> {
    let obj = match h {
        Value::Null => return Ok(HelmSource::default()),
        Value::Object(o) => o,
        _ => return Err("`source.helm` is not a map".into()),
    };
    let value_files = string_list(obj.get("valueFiles"), "source.helm.valueFiles")?;
    let values_text = match obj.get("values") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        // Some users write `values:` as a map; Argo CD accepts that too.
        Some(v @ Value::Object(_)) => Some(to_yaml(v)?),
        Some(_) => return Err("`source.helm.values` must be a YAML string".into()),
    };
    // valuesObject takes precedence over values (as Argo CD).
    let values = match obj.get("valuesObject") {
        None | Some(Value::Null) => values_text,
        Some(v @ Value::Object(_)) => Some(to_yaml(v)?),
        Some(_) => return Err("`source.helm.valuesObject` must be a map".into()),
    };
    let mut parameters = Vec::new();
    if let Some(params) = obj.get("parameters") {
        let arr = params
            .as_array()
            .ok_or("`source.helm.parameters` must be a list")?;
        for (i, p) in arr.iter().enumerate() {
            let po = p
                .as_object()
                .ok_or_else(|| format!("`source.helm.parameters[{i}]` must be a map"))?;
            let name = str_field(po, "name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("`source.helm.parameters[{i}]` needs a `name`"))?;
            parameters.push(HelmParameter {
                name,
                value: str_field(po, "value").unwrap_or_default(),
                force_string: bool_field(po, "forceString", "source.helm.parameters[]")?,
            });
        }
    }
    Ok(HelmSource {
        value_files,
        values,
        parameters,
        release_name: str_field(obj, "releaseName").filter(|r| !r.is_empty()),
        skip_crds: bool_field(obj, "skipCrds", "source.helm")?,
        chart: None,
    })
}

fn to_yaml(v: &Value) -> Result<String, String> {
    serde_saphyr::to_string(v).map_err(|e| format!("cannot serialise helm values: {e}"))
}

fn parse_directory(d: &Value) -> Result<DirectorySource, String> {
    let obj = match d {
        Value::Null => return Ok(DirectorySource::default()),
        Value::Object(o) => o,
        _ => return Err("`source.directory` is not a map".into()),
    };
    if obj
        .get("jsonnet")
        .is_some_and(|j| j.as_object().is_some_and(|m| !m.is_empty()))
    {
        return Err("`source.directory.jsonnet` is not supported".into());
    }
    let nonempty = |k: &str| str_field(obj, k).filter(|s| !s.trim().is_empty());
    for key in ["include", "exclude"] {
        if let Some(p) = nonempty(key) {
            Glob::new_unseparated(&p).map_err(|e| format!("`source.directory.{key}`: {e}"))?;
        }
    }
    Ok(DirectorySource {
        recurse: bool_field(obj, "recurse", "source.directory")?,
        include: nonempty("include"),
        exclude: nonempty("exclude"),
    })
}

fn parse_destination(d: Option<&Value>) -> Result<Destination, String> {
    let obj = d
        .and_then(Value::as_object)
        .ok_or("missing `spec.destination`")?;
    let server = str_field(obj, "server").filter(|s| !s.is_empty());
    let name = str_field(obj, "name").filter(|s| !s.is_empty());
    if server.is_some() && name.is_some() {
        return Err("`spec.destination` sets both `server` and `name`; set only one".into());
    }
    if server.is_none() && name.is_none() {
        return Err("`spec.destination` needs `server` or `name`".into());
    }
    Ok(Destination {
        server,
        name,
        namespace: str_field(obj, "namespace").unwrap_or_default(),
    })
}

fn parse_sync_policy(p: Option<&Value>) -> Result<SyncPolicy, String> {
    let obj = match p {
        None | Some(Value::Null) => return Ok(SyncPolicy::default()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err("`spec.syncPolicy` is not a map".into()),
    };
    let automated = match obj.get("automated") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            // Argo CD 3 allows `automated.enabled: false` to keep the settings but turn it off.
            let enabled = match a.get("enabled") {
                None | Some(Value::Null) => true,
                Some(v) => {
                    as_bool(v).ok_or("`syncPolicy.automated.enabled` must be true or false")?
                }
            };
            enabled
                .then(|| -> Result<Automated, String> {
                    Ok(Automated {
                        prune: bool_field(a, "prune", "syncPolicy.automated")?,
                        self_heal: bool_field(a, "selfHeal", "syncPolicy.automated")?,
                        allow_empty: bool_field(a, "allowEmpty", "syncPolicy.automated")?,
                    })
                })
                .transpose()?
        }
        Some(_) => return Err("`syncPolicy.automated` is not a map".into()),
    };
    let sync_options = string_list(obj.get("syncOptions"), "syncPolicy.syncOptions")?;
    let retry = match obj.get("retry") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => {
            let limit = match r.get("limit") {
                None | Some(Value::Null) => 0,
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .ok_or("`syncPolicy.retry.limit` must be an integer")?,
            };
            let mut backoff = Backoff::default();
            if let Some(b) = r.get("backoff").and_then(Value::as_object) {
                if let Some(d) = str_field(b, "duration") {
                    backoff.duration = parse_duration(&d)
                        .map_err(|e| format!("`syncPolicy.retry.backoff.duration`: {e}"))?;
                }
                if let Some(f) = b.get("factor").filter(|f| !f.is_null()) {
                    backoff.factor = f
                        .as_u64()
                        .and_then(|f| u32::try_from(f).ok())
                        .filter(|f| *f >= 1)
                        .ok_or("`syncPolicy.retry.backoff.factor` must be a positive integer")?;
                }
                if let Some(d) = str_field(b, "maxDuration") {
                    backoff.max_duration = parse_duration(&d)
                        .map_err(|e| format!("`syncPolicy.retry.backoff.maxDuration`: {e}"))?;
                }
            }
            Some(RetryPolicy { limit, backoff })
        }
        Some(_) => return Err("`syncPolicy.retry` is not a map".into()),
    };
    Ok(SyncPolicy {
        automated,
        sync_options,
        retry,
    })
}

fn parse_ignore_differences(v: Option<&Value>) -> Result<Vec<IgnoreDifference>, String> {
    let arr = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("`spec.ignoreDifferences` must be a list".into()),
    };
    arr.iter()
        .enumerate()
        .map(|(i, item)| {
            let o = item
                .as_object()
                .ok_or_else(|| format!("`spec.ignoreDifferences[{i}]` must be a map"))?;
            let ctx = format!("spec.ignoreDifferences[{i}]");
            Ok(IgnoreDifference {
                group: str_field(o, "group").unwrap_or_default(),
                kind: str_field(o, "kind")
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| format!("`{ctx}` needs a `kind`"))?,
                name: str_field(o, "name").filter(|s| !s.is_empty()),
                namespace: str_field(o, "namespace").filter(|s| !s.is_empty()),
                json_pointers: string_list(o.get("jsonPointers"), &format!("{ctx}.jsonPointers"))?,
                jq_path_expressions: string_list(
                    o.get("jqPathExpressions"),
                    &format!("{ctx}.jqPathExpressions"),
                )?,
                managed_fields_managers: string_list(
                    o.get("managedFieldsManagers"),
                    &format!("{ctx}.managedFieldsManagers"),
                )?,
            })
        })
        .collect()
}

/// Parse a Go duration (`5s`, `3m`, `1m30s`, `500ms`, `2h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{text}` lacks a unit (use e.g. 5s, 3m, 1h)"))?;
        if num_end == 0 {
            return Err(format!("`{text}` is not a duration (use e.g. 5s, 3m, 1h)"));
        }
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("`{text}` is not a duration"))?;
        let after = &rest[num_end..];
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let secs = match &after[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => {
                return Err(format!(
                    "`{text}` has unknown unit `{u}` (ns, us, ms, s, m, h)"
                ));
            }
        };
        total += n * secs;
        rest = &after[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn locate_finds_name_and_generator_lines() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: \"web\"\nspec:\n  generators:\n    - git:\n        repoURL: x\n---\nmetadata:\n  name: other\n";
        assert_eq!(locate(text, "web", None), Some((4, 3)));
        assert_eq!(locate(text, "web", Some("git")), Some((7, 7)));
        assert_eq!(locate(text, "other", None), Some((11, 3)));
        assert_eq!(locate(text, "other", Some("git")), None);
        assert_eq!(locate(text, "nope", None), None);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("3m").unwrap(), Duration::from_secs(180));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn sync_policy_parses_every_field() {
        let p = parse_sync_policy(Some(&json!({
            "automated": {"prune": true, "selfHeal": true},
            "syncOptions": ["CreateNamespace=true"],
            "retry": {"limit": 3, "backoff": {"duration": "10s", "factor": 3, "maxDuration": "5m"}}
        })))
        .unwrap();
        let a = p.automated.unwrap();
        assert!(a.prune && a.self_heal && !a.allow_empty);
        assert!(p.has_option("CreateNamespace=true"));
        let r = p.retry.unwrap();
        assert_eq!(r.limit, 3);
        assert_eq!(r.backoff.duration, Duration::from_secs(10));
        assert_eq!(r.backoff.factor, 3);
        assert_eq!(r.backoff.max_duration, Duration::from_secs(300));
        // `automated: {}` turns auto-sync on; `enabled: false` off.
        assert!(
            parse_sync_policy(Some(&json!({"automated": {}})))
                .unwrap()
                .automated
                .is_some()
        );
        assert!(
            parse_sync_policy(Some(&json!({"automated": {"enabled": false}})))
                .unwrap()
                .automated
                .is_none()
        );
        assert!(parse_sync_policy(Some(&json!({"automated": {"prune": "maybe"}}))).is_err());
    }

    #[test]
    fn helm_source_parses_values_and_parameters() {
        let h = parse_helm(&json!({
            "valueFiles": ["values-prod.yaml"],
            "values": "a: 1\n",
            "valuesObject": {"b": 2},
            "parameters": [{"name": "image.tag", "value": "v2", "forceString": true}],
            "releaseName": "rel",
            "skipCrds": true
        }))
        .unwrap();
        assert_eq!(h.value_files, vec!["values-prod.yaml"]);
        assert!(h.values.unwrap().contains("b: 2"));
        assert_eq!(h.parameters[0].name, "image.tag");
        assert!(h.parameters[0].force_string);
        assert_eq!(h.release_name.as_deref(), Some("rel"));
        assert!(h.skip_crds);
        assert!(parse_helm(&json!({"parameters": [{"value": "x"}]})).is_err());
    }

    #[test]
    fn ignore_differences_parse() {
        let v = parse_ignore_differences(Some(&json!([
            {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},
            {"kind": "Secret", "managedFieldsManagers": ["kube-controller-manager"]}
        ])))
        .unwrap();
        assert_eq!(v[0].json_pointers, vec!["/spec/replicas"]);
        assert_eq!(v[1].group, "");
        assert!(parse_ignore_differences(Some(&json!([{"group": "apps"}]))).is_err());
    }

    #[test]
    fn fasttemplate_elements_must_be_scalars() {
        let e = json!({"env": "dev", "n": 2, "values": {"x": "y"}});
        let p = element_params(e.as_object().unwrap(), false).unwrap();
        assert_eq!(p["n"], "2");
        assert_eq!(p["values.x"], "y");
        let bad = json!({"env": {"nested": 1}});
        assert!(element_params(bad.as_object().unwrap(), false).is_err());
        assert!(element_params(bad.as_object().unwrap(), true).is_ok());
    }

    #[test]
    fn destination_needs_exactly_one_of_server_and_name() {
        assert!(parse_destination(Some(&json!({"namespace": "x"}))).is_err());
        assert!(parse_destination(Some(&json!({"server": "a", "name": "b"}))).is_err());
        let d = parse_destination(Some(&json!({"name": "in-cluster", "namespace": "x"}))).unwrap();
        assert_eq!(d.name.as_deref(), Some("in-cluster"));
    }
}
