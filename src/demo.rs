//! `sextant demo`: the whole experience on a machine with no cluster and no helm.
//!
//! The demo GitOps repository (`assets/demo`, embedded in the binary) is written into a fresh
//! temporary git repository with a short, realistic history; the engine renders it with the
//! native renderer and syncs it into the in-process sandbox cluster; the UI runs on top with an
//! extra key that makes a "manual change" in the sandbox, so drift and self-heal can be watched.
//!
//! Over 600 lines: the demo's repository, history and sandbox setup plus its tests; the setup moves to the wiring module (issue 16).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cluster::SingleCluster;
use crate::cluster::sandbox::{Registry, SandboxCluster};
use crate::config::Config;
use crate::engine::api::Repo;
use crate::ui::keymap::Key;
use crate::ui::{ExtraKey, Hooks, PreviewFn, UiError};

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
    #[error("cannot open the demo repository: {0}")]
    Repo(String),
    #[error(transparent)]
    Ui(#[from] UiError),
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

/// Point `main` (and the working tree) at `sha`.
fn move_head(dir: &Path, sha: &str) -> Result<(), DemoError> {
    let git = |e: git2::Error| DemoError::Git {
        path: dir.to_path_buf(),
        message: e.message().to_string(),
    };
    let repo = git2::Repository::open(dir).map_err(git)?;
    let oid = git2::Oid::from_str(sha).map_err(git)?;
    let obj = repo.find_object(oid, None).map_err(git)?;
    repo.reset(&obj, git2::ResetType::Hard, None).map_err(git)
}

/// Wait until every App has synced the second-to-last commit (at most a minute), then move
/// `main` to the last one ("try astromesh 1.5.0-rc1 in dev").
async fn land_last_commit(
    handle: crate::engine::api::EngineHandle,
    dir: PathBuf,
    ids: Vec<String>,
) {
    let (Some(last), Some(before)) = (ids.last(), ids.len().checked_sub(2).map(|i| &ids[i])) else {
        return;
    };
    let mut rx = handle.state.clone();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        {
            let s = rx.borrow_and_update();
            let ready = !s.apps.is_empty()
                && s.apps.iter().all(|a| {
                    a.deployed.as_ref().is_some_and(|d| &d.sha == before) && a.operation.is_none()
                });
            if ready {
                break;
            }
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            break;
        }
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    match tokio::task::spawn_blocking({
        let dir = dir.clone();
        let last = last.clone();
        move || move_head(&dir, &last)
    })
    .await
    {
        Ok(Ok(())) => {
            let _ = handle
                .send(crate::engine::api::Command::Refresh {
                    app: None,
                    hard: true,
                })
                .await;
        }
        Ok(Err(e)) => tracing::warn!("demo: cannot land the last commit: {e}"),
        Err(e) => tracing::warn!("demo: cannot land the last commit: {e}"),
    }
}

/// The demo's "manual change" key (listed in help).
pub const DRIFT_KEY: char = 'm';

/// Options of `sextant demo`.
#[derive(Debug, Clone, Default)]
pub struct DemoArgs {
    /// Keep the generated repository here (a new or empty directory) instead of a temporary one.
    pub keep: Option<PathBuf>,
    pub readonly: bool,
}

/// Opens the git-backed [`Repo`] (sources + native renderer) over a repository directory.
pub type OpenRepo = Box<dyn FnOnce(&Path, &Config) -> Result<Arc<dyn Repo>, String> + Send>;

/// Removes the temporary repository when the demo ends (unless `--keep`).
struct TempRepo(Option<PathBuf>);

impl Drop for TempRepo {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            // Best effort: a leftover directory in the temp dir is harmless.
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Where the repository goes: `--keep DIR` or a fresh directory in the system temp dir.
fn repo_dir(args: &DemoArgs) -> (PathBuf, TempRepo) {
    match &args.keep {
        Some(dir) => (dir.clone(), TempRepo(None)),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir =
                std::env::temp_dir().join(format!("sextant-demo-{}-{nanos:x}", std::process::id()));
            (dir.clone(), TempRepo(Some(dir)))
        }
    }
}

/// Run the demo: build the repository, start the sandbox and the engine, open the UI.
/// Returns the repository path when it was kept.
pub async fn run(
    args: DemoArgs,
    config: &Config,
    open_repo: OpenRepo,
    promote_preview: Option<PreviewFn>,
) -> Result<Option<PathBuf>, DemoError> {
    let (dir, _cleanup) = repo_dir(&args);
    let ids = build_repo(&dir)?;
    // Start one commit back; the last commit lands once every App runs the one before, so the
    // Apps have a history to roll back to and the newcomer sees auto-sync pick up a change.
    move_head(&dir, &ids[ids.len() - 2])?;
    let mut config = config.clone();
    config.repo.path = Some(dir.clone());
    config.repo.url = None;
    // Promotions and Git changes show up within seconds instead of minutes.
    config.reconcile.poll_interval_secs = 5;
    config.reconcile.poll_jitter_secs = 0;
    // No helm on a fresh machine: the native renderer only.
    config.render.renderer = crate::config::RendererChoice::Native;
    let repo = open_repo(&dir, &config).map_err(DemoError::Repo)?;
    let sandbox = SandboxCluster::new(registry());
    sandbox.start();
    let cluster: Arc<dyn crate::cluster::Cluster> = Arc::new(sandbox.clone());
    let mut opts = crate::ui::options_from_config(&config, args.readonly)?;
    opts.title = "sextant demo".into();
    // The sandbox is the demo's own: its engine auto-syncs every environment, prod included.
    opts.session_sync = if opts.readonly {
        crate::ui::SessionSync::External
    } else {
        crate::ui::SessionSync::Auto {
            exclude: Vec::new(),
        }
    };
    opts.extras.push(ExtraKey {
        key: Key::ch(DRIFT_KEY),
        description: "demo: manual change in the sandbox (drift, then self-heal)".into(),
    });
    let drift = sandbox.clone();
    let hooks = Hooks {
        promote_preview,
        extras: vec![Arc::new(move || {
            let sb = drift.clone();
            Box::pin(async move { sb.manual_change(None) })
        })],
    };
    let mut eng = crate::engine::EngineOptions::new(repo, Arc::new(SingleCluster(cluster)));
    eng.reconcile = config.reconcile.clone();
    eng.readonly = opts.readonly;
    let handle = crate::engine::Engine::start(eng);
    tokio::spawn(land_last_commit(handle.clone(), dir.clone(), ids));
    crate::ui::run(handle, opts, hooks).await?;
    Ok(args.keep)
}

/// `sextant demo [--keep DIR]`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoCommand {
    /// Keep the generated git repository in DIR (new or empty) for inspection.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// Entry point of the `demo` subcommand.
pub fn cli(args: &DemoCommand, ctx: &crate::cli::Context) -> color_eyre::eyre::Result<()> {
    let rt = crate::cli::session::runtime()?;
    // The repository exists only once `run` has built it: `open` records where, and the
    // promotion preview opens its own handle on first use.
    type Slot = Arc<std::sync::Mutex<Option<(PathBuf, Config)>>>;
    let slot: Slot = Arc::default();
    let recorded = slot.clone();
    let readonly = ctx.readonly;
    let open: OpenRepo = Box::new(move |dir: &Path, config: &Config| {
        *recorded.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((dir.to_path_buf(), config.clone()));
        // With --readonly the engine's repository refuses promotion commits, as in `sextant`.
        let repo = crate::source::open_repo(Some(&dir.display().to_string()), config)
            .map_err(|e| e.to_string())?
            .with_read_only(readonly);
        // `GitRepo::new` renders natively (config forces `native`): the demo needs no helm.
        let git: Arc<dyn Repo> = Arc::new(crate::cli::gitrepo::GitRepo::new(repo, config));
        Ok(git)
    });
    let cached: Arc<std::sync::Mutex<Option<PreviewFn>>> = Arc::default();
    let preview: PreviewFn = Arc::new(move |req| {
        let hook = {
            let mut c = cached.lock().unwrap_or_else(|e| e.into_inner());
            match c.clone() {
                Some(h) => Ok(h),
                None => match slot.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                    Some((dir, config)) => {
                        crate::source::open_repo(Some(&dir.display().to_string()), &config)
                            .map(|r| {
                                let h = crate::ui::promote_preview_hook(r, config);
                                *c = Some(h.clone());
                                h
                            })
                            .map_err(|e| e.to_string())
                    }
                    None => Err("the demo repository is not ready yet".to_string()),
                },
            }
        };
        match hook {
            Ok(h) => h(req),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    });
    let kept = rt.block_on(run(
        DemoArgs {
            keep: args.keep.clone(),
            readonly: ctx.readonly,
        },
        &ctx.config,
        open,
        Some(preview),
    ))?;
    if let Some(dir) = kept {
        println!("demo repository kept at {}", dir.display());
    }
    Ok(())
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
