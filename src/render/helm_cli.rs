//! Helm sources: the chart and value files are taken from the commit tree and exported
//! (content-addressed, reused across renders) for `helm template`, as Argo CD's repo server does.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::app::{App, HelmSource};
use crate::source::git::{Commit, Repo, normalize};

use super::{
    HelmInput, HelmOutput, HelmRenderer, RenderError, RenderOptions, RendererKind, to_manifests,
    write_once, yaml,
};

/// A Helm source ready to render, with the content ids its cache key is made of.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub input: HelmInput,
    /// Git object ids of the chart tree and each value file, plus inline values.
    pub content_ids: Vec<String>,
    /// Things to tell the user (e.g. a dependency index used from the cache while offline).
    pub notices: Vec<String>,
}

/// Resolve `rel` against `base` inside the repository; `/x` is repo-root relative. `None` when
/// the path leaves the repository.
pub fn resolve_in_repo(base: &str, rel: &str) -> Option<String> {
    let joined = if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("{base}/{rel}")
    };
    let mut depth: i64 = 0;
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => depth += 1,
        }
    }
    Some(normalize(&joined))
}

/// Check the chart, export it and its value files from `commit`, and build the helm inputs.
pub fn prepare(
    repo: &Repo,
    app: &App,
    commit: &Commit,
    helm: &HelmSource,
    opts: &RenderOptions,
) -> Result<Prepared, RenderError> {
    let chart = normalize(&app.source.path);
    let in_chart = |f: &str| {
        if chart.is_empty() {
            f.to_string()
        } else {
            format!("{chart}/{f}")
        }
    };
    let chart_yaml_path = in_chart("Chart.yaml");
    let Some(chart_yaml) = repo.read_file(commit, &chart_yaml_path)? else {
        return Err(RenderError::Helm {
            app: app.name.clone(),
            chart: chart.clone(),
            stderr: format!(
                "Error: Chart.yaml file is missing in {chart} at commit {}\n  fix: point spec.source.path at a chart, or use a directory source",
                commit.short()
            ),
        });
    };
    let meta = yaml::parse_one(&String::from_utf8_lossy(&chart_yaml), &chart_yaml_path).map_err(
        |source| RenderError::Yaml {
            app: app.name.clone(),
            source,
        },
    )?;
    let (chart_tree, _) =
        repo.object_id(commit, &chart)?
            .ok_or_else(|| RenderError::PathNotFound {
                app: app.name.clone(),
                path: chart.clone(),
                commit: commit.short().to_string(),
                origin: app.origin.clone(),
            })?;
    let chart_dir = opts.work_dir.join("charts").join(&chart_tree);
    export_chart(repo, commit, &chart, &chart_dir)?;
    let mut content_ids = vec![format!("chart:{chart_tree}")];
    let mut notices = Vec::new();
    let chart_dir = match super::deps::attach(repo, app, commit, &chart, &meta, &chart_dir, opts)? {
        Some(with) => {
            content_ids.extend(with.content_ids);
            notices = with.notices;
            with.chart_dir
        }
        None => chart_dir,
    };

    let mut value_files = Vec::new();
    let mut value_labels = Vec::new();
    for vf in &helm.value_files {
        if vf.contains("://") {
            return Err(RenderError::ValuesFileInvalid {
                app: app.name.clone(),
                file: vf.clone(),
                message: "remote value files are not supported; commit the file to the repository"
                    .into(),
                origin: app.origin.clone(),
            });
        }
        let Some(resolved) = resolve_in_repo(&chart, vf) else {
            return Err(RenderError::ValuesFileInvalid {
                app: app.name.clone(),
                file: vf.clone(),
                message: "the path leaves the repository".into(),
                origin: app.origin.clone(),
            });
        };
        let missing = || RenderError::ValuesFileMissing {
            app: app.name.clone(),
            file: vf.clone(),
            resolved: resolved.clone(),
            commit: commit.short().to_string(),
            origin: app.origin.clone(),
        };
        let Some((blob, _)) = repo.object_id(commit, &resolved)? else {
            return Err(missing());
        };
        let Some(bytes) = repo.read_file(commit, &resolved)? else {
            return Err(missing());
        };
        // Validate here so a bad values file is reported at its repo path, line and column.
        let parsed =
            yaml::parse_one(&String::from_utf8_lossy(&bytes), &resolved).map_err(|source| {
                RenderError::Yaml {
                    app: app.name.clone(),
                    source,
                }
            })?;
        if !(parsed.is_object() || parsed.is_null()) {
            return Err(RenderError::ValuesFileInvalid {
                app: app.name.clone(),
                file: resolved.clone(),
                message: "a values file must be a YAML map at the top level".into(),
                origin: app.origin.clone(),
            });
        }
        let path = opts.work_dir.join("values").join(format!("{blob}.yaml"));
        write_once(&path, &bytes)?;
        value_files.push(path);
        value_labels.push(resolved.clone());
        content_ids.push(format!("values:{resolved}:{blob}"));
    }
    if let Some((path, label, id)) = inline_values(app, helm, opts)? {
        value_files.push(path);
        value_labels.push(label);
        content_ids.push(id);
    }
    Ok(Prepared {
        input: HelmInput {
            app: app.name.clone(),
            chart_path: chart,
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

/// `helm.values` (inline YAML in the App) checked to be a map and written once per content
/// as a values file: its path, its label for messages and its content id.
pub(crate) fn inline_values(
    app: &App,
    helm: &HelmSource,
    opts: &RenderOptions,
) -> Result<Option<(PathBuf, String, String)>, RenderError> {
    let Some(inline) = &helm.values else {
        return Ok(None);
    };
    let label = format!("{} (helm.values)", app.origin);
    let parsed = yaml::parse_one(inline, &label).map_err(|source| RenderError::Yaml {
        app: app.name.clone(),
        source,
    })?;
    if !(parsed.is_object() || parsed.is_null()) {
        return Err(RenderError::ValuesFileInvalid {
            app: app.name.clone(),
            file: "helm.values".into(),
            message: "inline values must be a YAML map".into(),
            origin: app.origin.clone(),
        });
    }
    let id = git2::Oid::hash_object(git2::ObjectType::Blob, inline.as_bytes())
        .map(|o| o.to_string())
        .unwrap_or_default();
    let path = opts.work_dir.join("values").join(format!("{id}.yaml"));
    write_once(&path, inline.as_bytes())?;
    Ok(Some((path, label, format!("inline:{id}"))))
}

/// Export the chart subtree once per tree id (a finished export has a marker file).
pub(crate) fn export_chart(
    repo: &Repo,
    commit: &Commit,
    chart: &str,
    dest: &Path,
) -> Result<(), RenderError> {
    publish_once(dest, |tmp| Ok(repo.export_dir(commit, chart, tmp)?))
}

/// Build directory `dest` once: `fill` writes it under a unique temporary name, a marker file
/// says it is finished, and a rename publishes it, so concurrent renders of the same key never
/// see a half-written tree and a stale unfinished one is replaced.
pub(crate) fn publish_once(
    dest: &Path,
    fill: impl FnOnce(&Path) -> Result<(), RenderError>,
) -> Result<(), RenderError> {
    let marker = dest.join(".sextant-complete");
    if marker.exists() {
        return Ok(());
    }
    let tmp = dest.with_extension(super::unique_tmp_suffix());
    let _ = std::fs::remove_dir_all(&tmp);
    fill(&tmp)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Io { path, source }
    };
    std::fs::write(tmp.join(".sextant-complete"), b"").map_err(io(&tmp))?;
    match std::fs::rename(&tmp, dest) {
        Ok(()) => Ok(()),
        // Another process built the same directory meanwhile: theirs is identical.
        Err(_) if marker.exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => {
            // A stale unfinished directory without marker: replace it.
            if dest.exists() {
                std::fs::remove_dir_all(dest).map_err(io(dest))?;
                std::fs::rename(&tmp, dest).map_err(io(dest))
            } else {
                Err(io(dest)(e))
            }
        }
    }
}

/// The `helm` binary as renderer.
#[derive(Debug, Clone)]
pub struct HelmCli {
    binary: PathBuf,
}

impl HelmCli {
    pub fn new(binary: PathBuf) -> Self {
        Self { binary }
    }

    /// The arguments of `helm template` for `input` (without the binary).
    pub fn args(input: &HelmInput) -> Vec<String> {
        let mut args = vec![
            "template".to_string(),
            input.release_name.clone(),
            input.chart_dir.display().to_string(),
        ];
        if !input.namespace.is_empty() {
            args.push("--namespace".into());
            args.push(input.namespace.clone());
        }
        for f in &input.value_files {
            args.push("--values".into());
            args.push(f.display().to_string());
        }
        for p in &input.parameters {
            args.push(
                if p.force_string {
                    "--set-string"
                } else {
                    "--set"
                }
                .into(),
            );
            // Helm splits --set on commas; escape them so one parameter stays one value.
            args.push(format!("{}={}", p.name, escape_commas(&p.value)));
        }
        if input.include_crds {
            args.push("--include-crds".into());
        }
        if let Some(v) = &input.kube_version {
            args.push("--kube-version".into());
            args.push(v.clone());
        }
        args
    }
}

/// Escape unescaped commas: helm splits `--set` on them.
pub fn escape_commas(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut prev_backslash = false;
    for c in v.chars() {
        if c == ',' && !prev_backslash {
            out.push('\\');
        }
        prev_backslash = c == '\\' && !prev_backslash;
        out.push(c);
    }
    out
}

impl HelmRenderer for HelmCli {
    fn kind(&self) -> RendererKind {
        RendererKind::HelmCli
    }

    fn render(&self, input: &HelmInput) -> Result<HelmOutput, RenderError> {
        let output = Command::new(&self.binary)
            .args(Self::args(input))
            .output()
            .map_err(|e| RenderError::HelmNotFound {
                app: input.app.clone(),
                binary: self.binary.display().to_string(),
                message: e.to_string(),
            })?;
        if !output.status.success() {
            let chart_dir = input.chart_dir.display().to_string();
            let stderr = String::from_utf8_lossy(&output.stderr)
                .replace(&chart_dir, &input.chart_path)
                .trim()
                .to_string();
            if let Some(list) = stderr
                .split("missing in charts/ directory:")
                .nth(1)
                .and_then(|s| s.lines().next())
            {
                return Err(RenderError::MissingDependencies {
                    app: input.app.clone(),
                    chart: input.chart_path.clone(),
                    missing: list.split(',').map(|s| s.trim().to_string()).collect(),
                });
            }
            return Err(RenderError::Helm {
                app: input.app.clone(),
                chart: input.chart_path.clone(),
                stderr,
            });
        }
        parse_helm_output(input, &String::from_utf8_lossy(&output.stdout))
    }
}

/// Split `helm template` output into manifests; `# Source: <chart>/templates/x.yaml` comments
/// give each object's source file.
pub fn parse_helm_output(input: &HelmInput, stdout: &str) -> Result<HelmOutput, RenderError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut chunks: Vec<String> = vec![String::new()];
    for line in stdout.lines() {
        if line.trim_end() == "---" {
            chunks.push(String::new());
        } else if let Some(last) = chunks.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    for chunk in chunks {
        if chunk.trim().is_empty() {
            continue;
        }
        let source = chunk
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .map(|s| {
                // `<chart name>/templates/x.yaml` → `<chart path>/templates/x.yaml`
                let rest = s.split_once('/').map(|(_, r)| r).unwrap_or(s);
                if input.chart_path.is_empty() {
                    rest.to_string()
                } else {
                    format!("{}/{rest}", input.chart_path)
                }
            })
            .unwrap_or_else(|| input.chart_path.clone());
        let (docs, dups) =
            yaml::parse_manifest_documents(&chunk, &source).map_err(|e| RenderError::Yaml {
                app: input.app.clone(),
                source: e,
            })?;
        for w in dups {
            tracing::warn!("app `{}`: {w}", input.app);
            warnings.push(format!("app `{}`: {w}", input.app));
        }
        to_manifests(&input.app, &source, docs, &mut out)?;
    }
    Ok(HelmOutput {
        manifests: out,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::HelmParameter;

    fn input() -> HelmInput {
        HelmInput {
            app: "web-prod".into(),
            chart_path: "deploy/helm/web".into(),
            chart_dir: PathBuf::from("/cache/charts/abc"),
            release_name: "web-prod".into(),
            namespace: "web".into(),
            value_files: vec![PathBuf::from("/cache/values/1.yaml")],
            value_labels: vec!["deploy/helm/web/values-prod.yaml".into()],
            parameters: vec![HelmParameter {
                name: "image.tag".into(),
                value: "a,b".into(),
                force_string: true,
            }],
            include_crds: true,
            kube_version: Some("1.36.0".into()),
        }
    }

    #[test]
    fn args_follow_argo_cd_order() {
        assert_eq!(
            HelmCli::args(&input()),
            vec![
                "template",
                "web-prod",
                "/cache/charts/abc",
                "--namespace",
                "web",
                "--values",
                "/cache/values/1.yaml",
                "--set-string",
                "image.tag=a\\,b",
                "--include-crds",
                "--kube-version",
                "1.36.0"
            ]
        );
    }

    #[test]
    fn output_is_split_with_source_files() {
        let out = "---\n# Source: web/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";
        let m = parse_helm_output(&input(), out).unwrap().manifests;
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].source_file, "deploy/helm/web/templates/svc.yaml");
        assert_eq!(m[1].object["kind"], "Deployment");
    }

    #[test]
    fn resolve_stays_inside_the_repo() {
        assert_eq!(
            resolve_in_repo("a/b", "values.yaml").as_deref(),
            Some("a/b/values.yaml")
        );
        assert_eq!(
            resolve_in_repo("a/b", "../c.yaml").as_deref(),
            Some("a/c.yaml")
        );
        assert_eq!(
            resolve_in_repo("a/b", "/env/p.yaml").as_deref(),
            Some("env/p.yaml")
        );
        assert_eq!(resolve_in_repo("a", "../../x.yaml"), None);
    }

    #[test]
    fn commas_are_escaped_once() {
        assert_eq!(escape_commas("a,b\\,c"), "a\\,b\\,c");
    }
}
