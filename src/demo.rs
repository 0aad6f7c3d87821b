//! `sextant demo`: the whole experience on a machine with no cluster and no helm.
//!
//! The demo GitOps repository (`assets/demo`, embedded in the binary) is written into a fresh
//! temporary git repository with a short, realistic history; the engine renders it with the
//! native renderer and syncs it into the in-process sandbox cluster; the UI runs on top with an
//! extra key that makes a "manual change" in the sandbox, so drift and self-heal can be watched.

use std::path::{Path, PathBuf};

use crate::cluster::sandbox::Registry;

/// The demo repository, embedded so the binary works from any directory.
pub const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../assets/demo/README.md")),
    (
        "deploy/gitops/argocd/applicationset.yaml",
        include_str!("../assets/demo/deploy/gitops/argocd/applicationset.yaml"),
    ),
    (
        "deploy/helm/astromesh/Chart.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/Chart.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/NOTES.txt",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/NOTES.txt"),
    ),
    (
        "deploy/helm/astromesh/templates/_helpers.tpl",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/_helpers.tpl"),
    ),
    (
        "deploy/helm/astromesh/templates/configmap-agents.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/configmap-agents.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/configmap-providers.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/configmap-providers.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/configmap-runtime.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/configmap-runtime.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/deployment.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/deployment.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/embeddings-deployment.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/embeddings-deployment.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/hpa.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/hpa.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/ingress.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/ingress.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/modelserver-deployment.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/modelserver-deployment.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/service.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/service.yaml"),
    ),
    (
        "deploy/helm/astromesh/templates/serviceaccount.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/templates/serviceaccount.yaml"),
    ),
    (
        "deploy/helm/astromesh/values-dev.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/values-dev.yaml"),
    ),
    (
        "deploy/helm/astromesh/values-prod.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/values-prod.yaml"),
    ),
    (
        "deploy/helm/astromesh/values-staging.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/values-staging.yaml"),
    ),
    (
        "deploy/helm/astromesh/values.yaml",
        include_str!("../assets/demo/deploy/helm/astromesh/values.yaml"),
    ),
];

/// Errors preparing the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "cannot write the demo repository at {path}: {source}\n  check that the directory is writable (or pass another --keep DIR)"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("git error while building the demo history in {path}: {message}")]
    Git { path: PathBuf, message: String },
    #[error(
        "--keep {path}: the directory exists and is not empty\n  give a new or empty directory"
    )]
    NotEmpty { path: PathBuf },
    #[error("demo file {file} no longer contains {needle:?}: the scripted history needs updating")]
    Script { file: String, needle: String },
}

/// The images the sandbox registry knows: `1.5.0-rc1` (tried in dev by the last commit of the
/// history) is deliberately missing, so that rollout ends in `ImagePullBackOff`.
pub fn registry() -> Registry {
    Registry::default()
        .with(
            "ghcr.io/example/astromesh",
            &["1.3.0", "1.4.0", "1.4.1", "1.4.2"],
        )
        .with("vllm/vllm-openai", &["v0.6.2", "v0.6.3"])
        .with(
            "ghcr.io/huggingface/text-embeddings-inference",
            &["1.4", "1.5"],
        )
}

const VALUES: &str = "deploy/helm/astromesh";

/// One commit of the scripted history. Earlier commits are derived from the shipped assets by
/// small edits, so the history cannot drift from `assets/demo`.
struct Step {
    subject: &'static str,
    author: (&'static str, &'static str),
}

/// Repository-relative path and content of every file.
type Files = Vec<(String, String)>;

/// The content of every file at each commit, oldest first.
fn history() -> Result<Vec<(Step, Files)>, DemoError> {
    let final_files: Vec<(String, String)> = FILES
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    let edit = |files: &[(String, String)],
                file: &str,
                from: &str,
                to: &str|
     -> Result<Vec<(String, String)>, DemoError> {
        let mut out = files.to_vec();
        let entry = out
            .iter_mut()
            .find(|(p, _)| p == file)
            .ok_or_else(|| DemoError::Script {
                file: file.into(),
                needle: from.into(),
            })?;
        if !entry.1.contains(from) {
            return Err(DemoError::Script {
                file: file.into(),
                needle: from.into(),
            });
        }
        entry.1 = entry.1.replacen(from, to, 1);
        Ok(out)
    };
    let dev = format!("{VALUES}/values-dev.yaml");
    let staging = format!("{VALUES}/values-staging.yaml");
    let prod = format!("{VALUES}/values-prod.yaml");
    // 3: the assets as shipped (1.4.2 everywhere, prod tuned).
    let c3 = final_files.clone();
    // 2: before prod tuning.
    let c2 = edit(
        &c3,
        &prod,
        "maxConcurrentSessions: 64",
        "maxConcurrentSessions: 32",
    )?;
    let c2 = edit(
        &c2,
        &prod,
        "requestTimeoutSeconds: 120",
        "requestTimeoutSeconds: 60",
    )?;
    // 1: the first version, on 1.4.1.
    let mut c1 = c2.clone();
    for f in [&dev, &staging, &prod] {
        c1 = edit(&c1, f, "tag: \"1.4.2\"", "tag: \"1.4.1\"")?;
    }
    // 4: dev tries a release candidate that was never pushed to the registry.
    let c4 = edit(&c3, &dev, "tag: \"1.4.2\"", "tag: \"1.5.0-rc1\"")?;
    Ok(vec![
        (
            Step {
                subject: "initial astromesh chart and dev/staging/prod environments",
                author: ("Dana Platform", "dana@example.com"),
            },
            c1,
        ),
        (
            Step {
                subject: "bump astromesh to 1.4.2",
                author: ("Sam Release", "sam@example.com"),
            },
            c2,
        ),
        (
            Step {
                subject: "tune prod: 64 sessions per replica, 120s request timeout",
                author: ("Alex Ops", "alex@example.com"),
            },
            c3,
        ),
        (
            Step {
                subject: "try astromesh 1.5.0-rc1 in dev",
                author: ("Sam Release", "sam@example.com"),
            },
            c4,
        ),
    ])
}

fn write_tree(root: &Path, files: &[(String, String)]) -> Result<(), DemoError> {
    for (rel, content) in files {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| DemoError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, content).map_err(|source| DemoError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Create the demo repository at `dir` (new or empty) with its history; returns the commit ids,
/// oldest first. The repository has no remote, so promotions commit without pushing.
pub fn build_repo(dir: &Path) -> Result<Vec<String>, DemoError> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|source| DemoError::Write {
                path: dir.to_path_buf(),
                source,
            })?
            .next()
            .is_some()
    {
        return Err(DemoError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| DemoError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let git = |e: git2::Error| DemoError::Git {
        path: dir.to_path_buf(),
        message: e.message().to_string(),
    };
    let mut init = git2::RepositoryInitOptions::new();
    init.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &init).map_err(git)?;
    {
        // Promotions commit with the repository's identity; give the demo one so it works on
        // machines with no global git config.
        let mut cfg = repo.config().map_err(git)?;
        cfg.set_str("user.name", "Sextant Demo").map_err(git)?;
        cfg.set_str("user.email", "demo@sextant.invalid")
            .map_err(git)?;
    }
    let mut ids = Vec::new();
    let mut parent: Option<git2::Oid> = None;
    // Commit times an hour apart, ending a few minutes ago, so history reads naturally.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let steps = history()?;
    let n = steps.len() as i64;
    for (i, (step, files)) in steps.into_iter().enumerate() {
        write_tree(dir, &files)?;
        let mut index = repo.index().map_err(git)?;
        index
            .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
            .map_err(git)?;
        index.write().map_err(git)?;
        let tree_id = index.write_tree().map_err(git)?;
        let tree = repo.find_tree(tree_id).map_err(git)?;
        let when = git2::Time::new(now - (n - i as i64) * 3600 - 300, 0);
        let sig = git2::Signature::new(step.author.0, step.author.1, &when).map_err(git)?;
        let parents: Vec<git2::Commit> = match parent {
            Some(p) => vec![repo.find_commit(p).map_err(git)?],
            None => Vec::new(),
        };
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        let id = repo
            .commit(Some("HEAD"), &sig, &sig, step.subject, &tree, &refs)
            .map_err(git)?;
        ids.push(id.to_string());
        parent = Some(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_match_the_assets_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("assets/demo is readable") {
                let p = e.expect("dir entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    on_disk.push(
                        p.strip_prefix(&root)
                            .expect("under root")
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "update demo::FILES when assets/demo changes"
        );
    }

    #[test]
    fn history_has_four_commits_and_ends_with_the_missing_image() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo_dir = dir.path().join("repo");
        let ids = build_repo(&repo_dir).expect("build");
        assert_eq!(ids.len(), 4);
        let repo = git2::Repository::open(&repo_dir).expect("open");
        let head = repo.head().expect("head").peel_to_commit().expect("commit");
        assert_eq!(
            head.summary().ok().flatten(),
            Some("try astromesh 1.5.0-rc1 in dev")
        );
        let dev = std::fs::read_to_string(repo_dir.join("deploy/helm/astromesh/values-dev.yaml"))
            .expect("read");
        assert!(dev.contains("tag: \"1.5.0-rc1\""));
        assert!(!registry().exists("ghcr.io/example/astromesh:1.5.0-rc1"));
        assert!(registry().exists("ghcr.io/example/astromesh:1.4.2"));
        // The first commit runs 1.4.1 everywhere; comments survive every edit.
        let first = repo
            .find_commit(git2::Oid::from_str(&ids[0]).expect("oid"))
            .expect("c1");
        let blob = first
            .tree()
            .expect("tree")
            .get_path(Path::new("deploy/helm/astromesh/values-prod.yaml"))
            .expect("path")
            .to_object(&repo)
            .expect("obj")
            .peel_to_blob()
            .expect("blob");
        let text = std::str::from_utf8(blob.content()).expect("utf8");
        assert!(text.contains("tag: \"1.4.1\"") && text.contains("maxConcurrentSessions: 32"));
        assert!(text.contains("# Production: three replicas"));
        let statuses = repo.statuses(None).expect("status");
        assert!(statuses.is_empty(), "working tree is dirty after building");
        // A second build into the same directory is refused.
        assert!(matches!(
            build_repo(&repo_dir),
            Err(DemoError::NotEmpty { .. })
        ));
    }
}
