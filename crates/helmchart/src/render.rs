//! `helm template`: values, template execution and Helm's manifest ordering and annotation.
//!
//! Over 600 lines: the `helm template` pipeline in order; about a third is its tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{Map, Value};

use crate::chart::Chart;
use crate::error::RenderError;
use crate::funcs::{self, HelmFlavor};
use crate::objects::{Capabilities, DEFAULT_API_VERSIONS, Files, KubeVersion, VersionSet};
use crate::values;
use crate::yaml;

/// Options of one render (the knobs of `helm template`).
#[derive(Clone)]
pub struct RenderOptions {
    /// `.Release.Name` (`release-name` when `helm template` gets none).
    pub release_name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `--kube-version` (e.g. `1.30.0`); `None` uses [`DEFAULT_KUBE_VERSION`].
    pub kube_version: Option<String>,
    /// `--api-versions`: added to the default set.
    pub api_versions: Vec<String>,
    /// `-f` value files in order: (name for messages, contents).
    pub value_files: Vec<(String, Vec<u8>)>,
    /// Inline values (e.g. Argo CD's `helm.values`), applied after the value files.
    pub values: Option<Map>,
    /// `--set` parameters, in order.
    pub set: Vec<String>,
    /// `--set-string` parameters, in order.
    pub set_string: Vec<String>,
    /// `--set-json` parameters (`key=<JSON>` or a JSON object), applied before `--set`.
    pub set_json: Vec<String>,
    /// `--set-file` parameters (`key=path`, the file's text is the value), after `--set-string`.
    pub set_file: Vec<String>,
    /// `--set-literal` parameters (`key=text`, the text taken as it is), applied last.
    pub set_literal: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--is-upgrade`.
    pub is_upgrade: bool,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
    /// Function set to expose.
    pub flavor: HelmFlavor,
    /// `.Capabilities.HelmVersion.Version`.
    pub helm_version: String,
}

impl std::fmt::Debug for RenderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may hold secrets: show only their names and counts.
        let files: Vec<&str> = self.value_files.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RenderOptions")
            .field("release_name", &self.release_name)
            .field("namespace", &self.namespace)
            .field("kube_version", &self.kube_version)
            .field("value_files", &files)
            .field("set", &self.set.len())
            .field("include_crds", &self.include_crds)
            .finish()
    }
}

/// Kubernetes version assumed when none is given and no cluster told its own: what
/// `helm template` v3.22 reports without `--kube-version` (its client-go's version).
pub const DEFAULT_KUBE_VERSION: &str = "v1.36.0";

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            kube_version: None,
            api_versions: Vec::new(),
            value_files: Vec::new(),
            values: None,
            set: Vec::new(),
            set_string: Vec::new(),
            set_json: Vec::new(),
            set_file: Vec::new(),
            set_literal: Vec::new(),
            include_crds: false,
            skip_tests: false,
            is_upgrade: false,
            skip_schema_validation: false,
            flavor: HelmFlavor::V3,
            helm_version: "v3.22.0".into(),
        }
    }
}

/// One rendered document, as `helm template` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedDoc {
    /// The `# Source:` path, e.g. `mychart/templates/deploy.yaml`.
    pub source: String,
    /// The document text (trimmed, without the `---` separator).
    pub content: String,
    /// `kind` of the object (empty when the document has none).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// True for Helm hooks (`helm.sh/hook`), which `helm template` prints last.
    pub hook: bool,
    /// True for CRDs from `crds/` (only with `include_crds`).
    pub crd: bool,
}

/// The result of a render.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Documents in `helm template` order: CRDs (if asked), manifests by install order, hooks.
    pub docs: Vec<RenderedDoc>,
    /// The rendered `NOTES.txt` of the top chart, if any.
    pub notes: String,
}

impl Rendered {
    /// The exact text `helm template` writes to stdout.
    pub fn to_helm_output(&self) -> String {
        let mut manifest = String::new();
        for d in self.docs.iter().filter(|d| !d.hook) {
            manifest.push_str(&format!("---\n# Source: {}\n{}\n", d.source, d.content));
        }
        let mut out = format!("{}\n", manifest.trim());
        for d in self.docs.iter().filter(|d| d.hook) {
            out.push_str(&format!("---\n# Source: {}\n{}\n", d.source, d.content));
        }
        out
    }
}

/// User-supplied values merged as `helm template` merges them (value files, then inline
/// values, then `--set`, then `--set-string`).
pub fn user_values(opts: &RenderOptions) -> Result<Map, RenderError> {
    let mut base = Map::new();
    for (name, data) in &opts.value_files {
        let text = String::from_utf8_lossy(data);
        let m = yaml::parse_map(&text).map_err(|e| {
            RenderError::Values(format!(
                "failed to parse {name}: error converting YAML to JSON: {} (at {name}:{}:{})",
                e.go_style(),
                e.line,
                e.col
            ))
        })?;
        base = values::merge_maps(&base, &m);
    }
    if let Some(inline) = &opts.values {
        base = values::merge_maps(&base, &yaml::deep_copy_map(inline));
    }
    for s in &opts.set_json {
        // helm words every --set-json failure the same way.
        set_json(s, &mut base)
            .map_err(|_| RenderError::Values(format!("failed parsing --set-json data {s}")))?;
    }
    for s in &opts.set {
        crate::strvals::parse_into(s, &base)
            .map_err(|e| RenderError::Values(format!("failed parsing --set data: {e}")))?;
    }
    for s in &opts.set_string {
        crate::strvals::parse_into_string(s, &base)
            .map_err(|e| RenderError::Values(format!("failed parsing --set-string data: {e}")))?;
    }
    let read_file = |path: &str| -> Result<Value, crate::strvals::StrvalsError> {
        std::fs::read(path)
            .map(|b| Value::str(String::from_utf8_lossy(&b)))
            .map_err(|e| crate::strvals::StrvalsError(format!("open {path}: {e}")))
    };
    for s in &opts.set_file {
        crate::strvals::parse_into_with(s, &base, &read_file)
            .map_err(|e| RenderError::Values(format!("failed parsing --set-file data: {e}")))?;
    }
    for s in &opts.set_literal {
        // The whole text after the first `=` is the value, commas and all.
        let (key, text) = s.split_once('=').unwrap_or((s, ""));
        let literal = |_: &str| Ok(Value::str(text));
        crate::strvals::parse_into_with(&format!("{key}=_"), &base, &literal)
            .map_err(|e| RenderError::Values(format!("failed parsing --set-literal data: {e}")))?;
    }
    Ok(base)
}

/// One `--set-json` argument: `key=<JSON value>`, set at a strvals key path.
fn set_json(arg: &str, base: &mut Map) -> Result<(), String> {
    let (key, text) = arg
        .split_once('=')
        .ok_or_else(|| format!("key {arg:?} has no value"))?;
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let v = yaml::deep_copy(&Value::from_json_helm(&v));
    let json = |_: &str| Ok(v.clone());
    crate::strvals::parse_into_with(&format!("{key}=_"), base, &json).map_err(|e| e.to_string())
}

struct Renderable {
    text: Arc<str>,
    vals: Map,
    base_path: String,
}

/// Renders a chart like `helm template`.
pub fn render(chart: &Chart, opts: &RenderOptions) -> Result<Rendered, RenderError> {
    let vals = user_values(opts)?;
    render_with_values(chart, opts, &vals)
}

/// Stack for one render. Template execution recurses once per nested `include`/`tpl`/
/// `template` (Helm allows 1000 levels); running on a thread with a large stack turns a
/// runaway template into Helm's error instead of a stack overflow. Only touched pages are
/// committed, so the reservation costs address space, not memory.
pub const RENDER_STACK_BYTES: usize = 1024 * 1024 * 1024;

/// Renders with already-merged user values.
pub fn render_with_values(
    chart: &Chart,
    opts: &RenderOptions,
    user_vals: &Map,
) -> Result<Rendered, RenderError> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("helm-render".into())
            .stack_size(RENDER_STACK_BYTES)
            .spawn_scoped(s, || render_on_this_thread(chart, opts, user_vals))
            .map_err(|e| RenderError::Chart(format!("cannot start the render thread: {e}")))?;
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn render_on_this_thread(
    chart: &Chart,
    opts: &RenderOptions,
    user_vals: &Map,
) -> Result<Rendered, RenderError> {
    match chart.metadata.chart_type.as_str() {
        "" | "application" => {}
        t => {
            return Err(RenderError::Chart(format!(
                "{t} charts are not installable"
            )));
        }
    }
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !chart.dependencies.iter().any(|d| d.name() == r.name))
        .map(|r| r.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(RenderError::Chart(format!(
            "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        )));
    }
    let mut chart = chart.clone();
    values::process_dependencies(&mut chart, user_vals);

    let kube = match &opts.kube_version {
        Some(v) => KubeVersion::parse(v).ok_or_else(|| {
            RenderError::Values(format!(
                "invalid kube version {v:?}: use a version like 1.30.0"
            ))
        })?,
        None => KubeVersion::parse(DEFAULT_KUBE_VERSION).unwrap_or(KubeVersion {
            version: DEFAULT_KUBE_VERSION.into(),
            major: "1".into(),
            minor: "36".into(),
        }),
    };
    if !chart.metadata.kube_version.is_empty()
        && !crate::semver::satisfies(&chart.metadata.kube_version, &kube.version)
    {
        return Err(RenderError::Chart(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {}",
            chart.metadata.kube_version, kube.version
        )));
    }
    let mut apis: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect();
    apis.extend(opts.api_versions.iter().cloned());
    let caps = Value::Object(Arc::new(Capabilities {
        kube_version: Arc::new(kube),
        api_versions: Arc::new(VersionSet(apis)),
        helm_version: opts.helm_version.clone(),
    }));
    let release = Value::map([
        ("Name", Value::str(&opts.release_name)),
        ("Namespace", Value::str(&opts.namespace)),
        ("IsUpgrade", Value::Bool(opts.is_upgrade)),
        ("IsInstall", Value::Bool(!opts.is_upgrade)),
        ("Revision", Value::Int(1)),
        ("Service", Value::str("Helm")),
    ]);
    let coalesced = values::coalesce_values(&chart, user_vals);
    if !opts.skip_schema_validation {
        if let Some((what, location)) = crate::schema::remote_ref(&chart) {
            return Err(RenderError::Unsupported {
                what: format!("values.schema.json $ref to an external document ({what})"),
                location,
            });
        }
        crate::schema::validate_chart(&chart, &coalesced).map_err(RenderError::Schema)?;
    }

    let top = Map::new();
    top.insert("Values", Value::Map(coalesced));
    top.insert("Release", release.clone());
    top.insert("Capabilities", caps.clone());
    let mut tpls: BTreeMap<String, Renderable> = BTreeMap::new();
    rec_all_tpls(&chart, &mut tpls, &top, true);

    let mut set = funcs::new_template_set(opts.flavor);
    let keys = sort_templates(&tpls);
    for name in &keys {
        let r = &tpls[name];
        set.parse(name, &r.text)
            .map_err(|e| RenderError::Parse(funcs::reformat_error(name, &e)))?;
    }
    let mut rendered: BTreeMap<String, String> = BTreeMap::new();
    for name in &keys {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let r = &tpls[name];
        r.vals.insert(
            "Template",
            Value::map([
                ("Name", Value::str(name)),
                ("BasePath", Value::str(&r.base_path)),
            ]),
        );
        let out = set
            .execute(name, &Value::Map(r.vals.clone()))
            .map_err(|e| RenderError::Exec(funcs::reformat_error(name, &e)))?;
        rendered.insert(name.clone(), out.replace("<no value>", ""));
    }
    let notes_key = format!("{}/templates/NOTES.txt", chart.name());
    let mut notes = String::new();
    rendered.retain(|k, v| {
        if k.ends_with("NOTES.txt") {
            if *k == notes_key {
                notes = std::mem::take(v);
            }
            false
        } else {
            true
        }
    });
    let mut docs = Vec::new();
    if opts.include_crds {
        for (source, data) in chart.crd_objects() {
            docs.push(RenderedDoc {
                source,
                content: String::from_utf8_lossy(&data).into_owned(),
                kind: "CustomResourceDefinition".into(),
                name: String::new(),
                hook: false,
                crd: true,
            });
        }
    }
    let (manifests, hooks) = sort_manifests(&rendered)?;
    docs.extend(manifests);
    for h in hooks {
        if opts.skip_tests && h.1 {
            continue;
        }
        docs.push(h.0);
    }
    Ok(Rendered { docs, notes })
}

fn rec_all_tpls(
    c: &Chart,
    out: &mut BTreeMap<String, Renderable>,
    parent: &Map,
    is_root: bool,
) -> Map {
    let subcharts = Map::new();
    let files: BTreeMap<String, Arc<[u8]>> = c
        .files
        .iter()
        .map(|f| (f.name.clone(), f.data.clone()))
        .collect();
    let next = Map::new();
    next.insert("Chart", c.metadata.to_value(is_root));
    next.insert("Files", Value::Object(Arc::new(Files(Arc::new(files)))));
    next.insert("Release", parent.get("Release").unwrap_or(Value::Nil));
    next.insert(
        "Capabilities",
        parent.get("Capabilities").unwrap_or(Value::Nil),
    );
    next.insert("Subcharts", Value::Map(subcharts.clone()));
    let vals = if is_root {
        parent.get("Values").unwrap_or_else(Value::empty_map)
    } else {
        match parent.get("Values") {
            Some(Value::Map(pv)) => match pv.get(c.name()) {
                Some(Value::Map(m)) => Value::Map(m),
                _ => Value::empty_map(),
            },
            _ => Value::empty_map(),
        }
    };
    next.insert("Values", vals);
    for child in &c.dependencies {
        let sub = rec_all_tpls(child, out, &next, false);
        subcharts.insert(child.name().to_string(), Value::Map(sub));
    }
    let full = c.full_path();
    for t in &c.templates {
        if c.is_library() {
            let base = t.name.rsplit('/').next().unwrap_or(&t.name);
            if !base.starts_with('_') {
                continue;
            }
        }
        out.insert(
            format!("{full}/{}", t.name),
            Renderable {
                text: Arc::from(String::from_utf8_lossy(&t.data).as_ref()),
                vals: next.clone(),
                base_path: format!("{full}/templates"),
            },
        );
    }
    next
}

/// Helm's `sortTemplates`: deeper paths first, then reverse lexical order.
fn sort_templates(tpls: &BTreeMap<String, Renderable>) -> Vec<String> {
    let mut keys: Vec<String> = tpls.keys().cloned().collect();
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
    keys
}

/// Helm's install order of kinds (v3).
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// `releaseutil.SplitManifests`: split on `---` lines, trimmed, empties dropped.
pub fn split_manifests(big: &str) -> Vec<String> {
    let text = big.trim();
    let b = text.as_bytes();
    let mut docs = Vec::new();
    let mut last = 0;
    let mut pos = 0;
    let is_ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    while pos <= b.len() {
        // Find the leftmost separator match at or after `pos`.
        let mut found: Option<(usize, usize)> = None;
        if pos == 0 && b.starts_with(b"---") {
            found = Some((0, 3));
        } else {
            let mut k = pos;
            while k + 3 < b.len() {
                if b[k] == b'\n' && b[k + 1..].starts_with(b"---") {
                    let mut s = k;
                    while s > pos && is_ws(b[s - 1]) {
                        s -= 1;
                    }
                    found = Some((s, k + 4));
                    break;
                }
                k += 1;
            }
        }
        let Some((s, mut e)) = found else { break };
        while e < b.len() && is_ws(b[e]) {
            e += 1;
        }
        docs.push(&text[last..s]);
        last = e;
        pos = if e == s { e + 1 } else { e };
    }
    docs.push(&text[last..]);
    docs.into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect()
}

struct Head {
    kind: String,
    name: String,
    annotations: BTreeMap<String, String>,
}

fn parse_head(doc: &str) -> Result<Head, yaml::YamlError> {
    let v = yaml::parse(doc, yaml::Numbers::Float)?;
    let mut h = Head {
        kind: String::new(),
        name: String::new(),
        annotations: BTreeMap::new(),
    };
    if let Value::Map(m) = v {
        if let Some(Value::String(k)) = m.get("kind") {
            h.kind = k.to_string();
        }
        if let Some(Value::Map(md)) = m.get("metadata") {
            if let Some(Value::String(n)) = md.get("name") {
                h.name = n.to_string();
            }
            if let Some(Value::Map(a)) = md.get("annotations") {
                for (k, v) in a.read().iter() {
                    if let Value::String(s) = v {
                        h.annotations.insert(k.clone(), s.to_string());
                    }
                }
            }
        }
    }
    Ok(h)
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

fn less_by_kind(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (kind_rank(a), kind_rank(b)) {
        (None, None) => {
            if a != b {
                a.cmp(b)
            } else {
                Ordering::Equal
            }
        }
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

type Hook = (RenderedDoc, bool);

/// `releaseutil.SortManifests` with install order.
fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<RenderedDoc>, Vec<Hook>), RenderError> {
    let mut generic = Vec::new();
    let mut hooks: Vec<Hook> = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let head = parse_head(&doc).map_err(|e| {
                let mut debug = String::new();
                for (n, c) in files {
                    if c.trim().is_empty() {
                        continue;
                    }
                    debug.push_str(&format!("---\n# Source: {n}\n{c}\n"));
                }
                RenderError::Manifest {
                    file: path.clone(),
                    message: e.go_style(),
                    debug_output: debug,
                }
            })?;
            let rd = RenderedDoc {
                source: path.clone(),
                content: doc.clone(),
                kind: head.kind.clone(),
                name: head.name.clone(),
                hook: false,
                crd: false,
            };
            let Some(hook_types) = head.annotations.get("helm.sh/hook") else {
                generic.push(rd);
                continue;
            };
            let mut is_test = false;
            let mut unknown = false;
            for t in hook_types.split(',') {
                let t = t.trim().to_lowercase();
                if !HOOK_EVENTS.contains(&t.as_str()) {
                    unknown = true;
                    break;
                }
                if t == "test" || t == "test-success" {
                    is_test = true;
                }
            }
            if unknown {
                continue;
            }
            hooks.push((RenderedDoc { hook: true, ..rd }, is_test));
        }
    }
    generic.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    hooks.sort_by(|a, b| less_by_kind(&a.0.kind, &b.0.kind));
    Ok((generic, hooks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_helm() {
        assert_eq!(
            split_manifests("a: 1\n---\nb: 2\n\n---\n\nc: 3"),
            vec!["a: 1", "b: 2", "c: 3"]
        );
        assert_eq!(split_manifests("---\na: 1\n---"), vec!["a: 1"]);
        assert_eq!(
            split_manifests("a: '---'\nb: x---y"),
            vec!["a: '---'\nb: x---y"]
        );
    }
}
