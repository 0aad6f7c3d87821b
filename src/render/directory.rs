//! Directory sources: every `*.yaml`, `*.yml` and `*.json` file of the source path (recursive
//! when asked), multi-document, filtered by include/exclude globs, as Argo CD does.

use crate::app::{App, DirectorySource};
use crate::source::git::{Commit, Repo, normalize};
use crate::source::glob::Glob;

use super::{Manifest, RenderError, to_manifests, yaml};

/// Whether `rel` (relative to the source path) is rendered under `dir`'s settings.
pub fn selected(rel: &str, dir: &DirectorySource) -> Result<bool, crate::source::glob::GlobError> {
    if !dir.recurse && rel.contains('/') {
        return Ok(false);
    }
    let lower = rel.to_ascii_lowercase();
    if !(lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json")) {
        return Ok(false);
    }
    if let Some(inc) = dir.include.as_deref()
        && !Glob::new_unseparated(inc)?.matches(rel)
    {
        return Ok(false);
    }
    if let Some(exc) = dir.exclude.as_deref()
        && Glob::new_unseparated(exc)?.matches(rel)
    {
        return Ok(false);
    }
    Ok(true)
}

/// Render a directory source from `commit`'s tree, files in path order.
pub fn render(
    repo: &Repo,
    app: &App,
    commit: &Commit,
    dir: &DirectorySource,
) -> Result<Vec<Manifest>, RenderError> {
    let base = normalize(&app.source.path);
    let mut out = Vec::new();
    for file in repo.list_files(commit, &base)? {
        let rel = if base.is_empty() {
            file.as_str()
        } else {
            file.strip_prefix(&format!("{base}/")).unwrap_or(&file)
        };
        let keep = selected(rel, dir).map_err(|e| RenderError::BadManifest {
            app: app.name.clone(),
            file: app.origin.clone(),
            index: 0,
            message: format!("source.directory: {e}"),
        })?;
        if !keep {
            continue;
        }
        let Some(bytes) = repo.read_file(commit, &file)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let docs = if file.to_ascii_lowercase().ends_with(".json") {
            yaml::parse_json_file(&text, &file)
        } else {
            yaml::parse_documents(&text, &file)
        }
        .map_err(|source| RenderError::Yaml {
            app: app.name.clone(),
            source,
        })?;
        to_manifests(&app.name, &file, docs, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(recurse: bool, include: Option<&str>, exclude: Option<&str>) -> DirectorySource {
        DirectorySource {
            recurse,
            include: include.map(str::to_string),
            exclude: exclude.map(str::to_string),
        }
    }

    #[test]
    fn only_manifest_extensions_and_top_level_unless_recursive() {
        assert!(selected("a.yaml", &d(false, None, None)).unwrap());
        assert!(selected("a.JSON", &d(false, None, None)).unwrap());
        assert!(!selected("README.md", &d(false, None, None)).unwrap());
        assert!(!selected("sub/a.yaml", &d(false, None, None)).unwrap());
        assert!(selected("sub/a.yaml", &d(true, None, None)).unwrap());
    }

    #[test]
    fn include_and_exclude_globs_apply_to_relative_paths() {
        let dir = d(true, Some("{app,db}*.yaml"), Some("*-test.yaml"));
        assert!(selected("app.yaml", &dir).unwrap());
        assert!(selected("db-main.yaml", &dir).unwrap());
        assert!(!selected("other.yaml", &dir).unwrap());
        assert!(!selected("app-test.yaml", &dir).unwrap());
        // Like Argo CD, `*` also matches across directories in include/exclude.
        assert!(selected("sub/x.yaml", &d(true, Some("*.yaml"), None)).unwrap());
    }
}
