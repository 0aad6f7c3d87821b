//! The GitOps repository: open or clone, fetch, resolve revisions, read files from commit trees.
//!
//! Desired state is always read from a commit's tree, never from the working tree, and the
//! working tree is never touched: the only writes to a user's clone are the ones `git fetch`
//! makes (remote-tracking refs and tags).
//!
//! Over 600 lines: the repository adapter and its tests; commit/push moves to `promote/` (issue 16).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use git2::{BranchType, ErrorClass, ErrorCode, ObjectType, Oid, Repository, StatusOptions};

/// Environment variable holding a token used for HTTPS remotes (with `SEXTANT_GIT_USERNAME`,
/// default `git`) before credential helpers, ssh-agent and keys are tried.
pub const TOKEN_ENV: &str = "SEXTANT_GIT_TOKEN";
/// Username sent with [`TOKEN_ENV`].
pub const USERNAME_ENV: &str = "SEXTANT_GIT_USERNAME";

/// Errors from git operations, each naming what failed and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "{path} is not inside a git repository: {message}\n  fix: pass --repo PATH of a clone, --repo URL, or set repo.path / repo.url in config.toml"
    )]
    NotARepository { path: PathBuf, message: String },
    #[error(
        "authentication required for {url}: {message}\n  fix: for HTTPS configure a git credential helper (e.g. `git config --global credential.helper store` then one `git fetch`) or set {TOKEN_ENV}; for SSH load your key with `ssh-add` or put it in ~/.ssh/id_ed25519"
    )]
    AuthenticationRequired { url: String, message: String },
    #[error(
        "repository not found: {url}: {message}\n  fix: check the URL (repo.url in config.toml, --repo, or the remote of your clone) and that your credentials can read it"
    )]
    RepositoryNotFound { url: String, message: String },
    #[error("cannot {action} {url}: {message}")]
    Remote {
        action: &'static str,
        url: String,
        message: String,
    },
    #[error(
        "revision `{revision}` not found in {repo}: it is not a branch, tag or commit{hint}\n  fix: check targetRevision (or --revision), push the branch/tag, or fetch the remote"
    )]
    UnknownRevision {
        revision: String,
        repo: String,
        hint: String,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {action}: {reason}\n  fix: {fix}")]
    Refused {
        action: String,
        reason: String,
        fix: String,
    },
    /// A commit or push attempted on a repository opened read-only; nothing was written.
    #[error(
        "read-only mode: refusing to {action} (sextant was started with --readonly)\n  restart without --readonly to make changes"
    )]
    ReadOnly { action: String },
    #[error(
        "push to {url} was rejected: {message}\n  fix: pull (or fetch and rebase) and try again"
    )]
    PushRejected { url: String, message: String },
    #[error("git error in {repo}: {source}")]
    Git {
        repo: String,
        #[source]
        source: git2::Error,
    },
}

/// A resolved commit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Commit {
    /// Full 40-hex sha.
    pub sha: String,
    /// First line of the message.
    pub summary: String,
    pub author: String,
    /// Commit time, seconds since the epoch.
    pub time: i64,
}

impl Commit {
    /// The 7-character abbreviation used in listings.
    pub fn short(&self) -> &str {
        &self.sha[..self.sha.len().min(7)]
    }

    fn oid(&self) -> Oid {
        // `sha` is only ever built from an `Oid`, so this cannot fail; fall back to zero anyway
        // rather than panicking (a zero oid then fails lookups with a normal git error).
        Oid::from_str(&self.sha).unwrap_or(Oid::ZERO_SHA1)
    }
}

/// How the local branch relates to its remote-tracking branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchStatus {
    /// Local branch checked out (None when HEAD is detached).
    pub branch: Option<String>,
    /// Its upstream, e.g. `origin/main` (None when it has none).
    pub upstream: Option<String>,
    /// Local commits not on the upstream ("not deployed until pushed").
    pub ahead: usize,
    /// Upstream commits not in the local branch.
    pub behind: usize,
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The repository has no remote; nothing to fetch.
    NoRemote,
    /// Fetched from the URL.
    Fetched { url: String },
}

#[derive(Debug, Clone)]
struct RemoteInfo {
    name: String,
    url: String,
}

/// A git repository holding desired state. Safe to share between threads (`Arc<Repo>`): the
/// libgit2 handle is behind a mutex and every operation is short.
pub struct Repo {
    git: Mutex<Repository>,
    /// The working directory (or the git dir of a bare clone), for messages.
    root: PathBuf,
    remote: Option<RemoteInfo>,
    /// Read-only mode: [`Repo::commit_file`] and [`Repo::push_head`] refuse.
    read_only: bool,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("root", &self.root)
            .field("remote", &self.remote.as_ref().map(|r| &r.url))
            .finish()
    }
}

/// Whether `s` names a remote repository rather than a local path.
pub fn looks_like_url(s: &str) -> bool {
    s.contains("://") || {
        // scp-like `user@host:path` (but not a Windows drive or a local path with a colon).
        let (before, _) = s.split_once(':').unwrap_or((s, ""));
        s.contains(':') && before.contains('@') && !before.contains('/')
    }
}

impl Repo {
    /// Open the repository containing `path` (a clone, possibly bare).
    pub fn open(path: &Path) -> Result<Self, GitError> {
        let git = Repository::discover(path).map_err(|e| GitError::NotARepository {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        Ok(Self::wrap(git))
    }

    fn wrap(git: Repository) -> Self {
        let root = git
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| git.path().to_path_buf());
        let remote = pick_remote(&git);
        Self {
            git: Mutex::new(git),
            root,
            remote,
            read_only: false,
        }
    }

    /// In read-only mode (`--readonly`) the repository refuses to commit and to push, whoever
    /// asks; fetching (which only updates remote-tracking refs of this clone) still works.
    pub fn with_read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Clone `url` into `cache_root` (once; later calls open the existing clone and fetch).
    /// The clone is bare: Sextant only ever reads commit trees.
    pub fn clone_cached(url: &str, cache_root: &Path) -> Result<Self, GitError> {
        let dest = cache_root.join("repos").join(cache_slug(url));
        if dest.join("HEAD").exists() {
            let repo = Self::open(&dest)?;
            repo.fetch()?;
            return Ok(repo);
        }
        std::fs::create_dir_all(&dest).map_err(|source| GitError::Io {
            path: dest.clone(),
            source,
        })?;
        let auth = authenticator(url);
        let git_config = git2::Config::open_default().map_err(|source| GitError::Git {
            repo: url.to_string(),
            source,
        })?;
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(auth.credentials(&git_config));
        let mut fetch = git2::FetchOptions::new();
        fetch.remote_callbacks(callbacks);
        let mut builder = git2::build::RepoBuilder::new();
        builder.bare(true).fetch_options(fetch);
        // A bare clone maps remote branches to local ones; add the usual remote-tracking refspec
        // so later fetches and HEAD resolution work as in a normal clone.
        builder.remote_create(|repo, name, url| {
            repo.remote_with_fetch(name, url, "+refs/heads/*:refs/remotes/origin/*")
        });
        match builder.clone(url, &dest) {
            Ok(git) => {
                let repo = Self::wrap(git);
                // The clone fetched with the remote's refspec; run a normal fetch so
                // refs/remotes/origin/HEAD and tags are in place.
                repo.fetch()?;
                Ok(repo)
            }
            Err(e) => {
                // Leave no half-made clone behind: the next attempt must start afresh.
                let _ = std::fs::remove_dir_all(&dest);
                Err(classify_remote_error("clone", url, &e))
            }
        }
    }

    /// The working directory, or the git dir of a bare clone.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// URL of the remote Sextant fetches from (`origin`, else the only remote).
    pub fn remote_url(&self) -> Option<&str> {
        self.remote.as_ref().map(|r| r.url.as_str())
    }

    /// Whether the repository has a working tree (false for cache clones).
    pub fn has_workdir(&self) -> bool {
        self.lock().workdir().is_some()
    }

    fn lock(&self) -> MutexGuard<'_, Repository> {
        // A panic while holding the lock leaves the libgit2 handle intact; keep using it.
        self.git.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn git_err(&self, source: git2::Error) -> GitError {
        GitError::Git {
            repo: self.root.display().to_string(),
            source,
        }
    }

    /// Fetch branches and tags from the remote (the engine's poll loop and "refresh" call this).
    /// Updates remote-tracking refs, tags and `refs/remotes/<remote>/HEAD`; never the working
    /// tree or local branches.
    pub fn fetch(&self) -> Result<FetchOutcome, GitError> {
        let Some(info) = self.remote.clone() else {
            return Ok(FetchOutcome::NoRemote);
        };
        let git = self.lock();
        let mut remote = git.find_remote(&info.name).map_err(|e| self.git_err(e))?;
        let mut refspecs: Vec<String> = remote
            .fetch_refspecs()
            .map_err(|e| self.git_err(e))?
            .iter()
            .filter_map(|r| r.ok().flatten().map(str::to_string))
            .collect();
        if refspecs.is_empty() {
            refspecs.push(format!("+refs/heads/*:refs/remotes/{}/*", info.name));
        }
        refspecs.push("+refs/tags/*:refs/tags/*".into());
        let refs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
        let auth = authenticator(&info.url);
        auth.fetch(&git, &mut remote, &refs, Some("sextant: fetch"))
            .map_err(|e| classify_remote_error("fetch", &info.url, &e))?;
        // Record the remote's default branch so `HEAD` resolves as Argo CD does. A remote that
        // cannot report it keeps whatever origin/HEAD the clone already had.
        if let Ok(buf) = remote.default_branch()
            && let Ok(head) = buf.as_str()
            && let Some(branch) = head.strip_prefix("refs/heads/")
        {
            let target = format!("refs/remotes/{}/{branch}", info.name);
            if git.find_reference(&target).is_ok() {
                let _ = git.reference_symbolic(
                    &format!("refs/remotes/{}/HEAD", info.name),
                    &target,
                    true,
                    "sextant: remote HEAD",
                );
            }
        }
        Ok(FetchOutcome::Fetched { url: info.url })
    }

    /// Resolve a `targetRevision` to a commit: `HEAD` (the remote's default branch, or local
    /// HEAD when there is no remote), a branch (remote-tracking first, as Argo CD sees the
    /// remote), a tag, or a (possibly abbreviated) commit sha.
    pub fn resolve(&self, revision: &str) -> Result<Commit, GitError> {
        let git = self.lock();
        let rev = revision.trim();
        let mut candidates: Vec<String> = Vec::new();
        if rev.is_empty() || rev == "HEAD" {
            if let Some(r) = &self.remote {
                candidates.push(format!("refs/remotes/{}/HEAD", r.name));
                // No origin/HEAD (e.g. remote added by hand): the upstream of the local branch.
                if let Some(up) = upstream_ref(&git) {
                    candidates.push(up);
                }
            }
            candidates.push("HEAD".into());
        } else if rev.starts_with("refs/") {
            candidates.push(rev.to_string());
        } else {
            if let Some(r) = &self.remote {
                candidates.push(format!("refs/remotes/{}/{rev}", r.name));
            }
            candidates.push(format!("refs/heads/{rev}"));
            candidates.push(format!("refs/tags/{rev}"));
        }
        for name in &candidates {
            if let Ok(reference) = git.find_reference(name)
                && let Ok(commit) = reference.peel_to_commit()
            {
                return Ok(commit_info(&commit));
            }
        }
        let is_hex =
            rev.len() >= 4 && rev.len() <= 40 && rev.chars().all(|c| c.is_ascii_hexdigit());
        if is_hex
            && let Ok(obj) = git.revparse_single(rev)
            && let Ok(commit) = obj.peel_to_commit()
        {
            return Ok(commit_info(&commit));
        }
        let hint = if self.remote.is_none() && !rev.is_empty() && rev != "HEAD" {
            " (this repository has no remote; only local branches and tags are known)".to_string()
        } else {
            String::new()
        };
        Err(GitError::UnknownRevision {
            revision: revision.to_string(),
            repo: self.describe(),
            hint,
        })
    }

    fn describe(&self) -> String {
        match &self.remote {
            Some(r) => format!("{} (remote {})", self.root.display(), r.url),
            None => self.root.display().to_string(),
        }
    }

    /// Contents of the file at `path` in `commit`'s tree; `None` when absent (or a directory).
    pub fn read_file(&self, commit: &Commit, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let git = self.lock();
        let tree = self.commit_tree(&git, commit)?;
        let path = normalize(path);
        let Ok(entry) = tree.get_path(Path::new(&path)) else {
            return Ok(None);
        };
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        let blob = git.find_blob(entry.id()).map_err(|e| self.git_err(e))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// Whether `path` is a directory in `commit`'s tree (`""` is the root).
    pub fn is_dir(&self, commit: &Commit, path: &str) -> Result<bool, GitError> {
        Ok(self
            .object_id(commit, path)?
            .is_some_and(|(_, k)| k == ObjectType::Tree))
    }

    /// Id of the tree or blob at `path` (for cache keys: equal ids mean equal content).
    pub fn object_id(
        &self,
        commit: &Commit,
        path: &str,
    ) -> Result<Option<(String, ObjectType)>, GitError> {
        let git = self.lock();
        let tree = self.commit_tree(&git, commit)?;
        let path = normalize(path);
        if path.is_empty() {
            return Ok(Some((tree.id().to_string(), ObjectType::Tree)));
        }
        Ok(tree
            .get_path(Path::new(&path))
            .ok()
            .and_then(|e| e.kind().map(|k| (e.id().to_string(), k))))
    }

    /// Every file (blob) path under `dir` in `commit`'s tree, repo-relative, sorted.
    pub fn list_files(&self, commit: &Commit, dir: &str) -> Result<Vec<String>, GitError> {
        let git = self.lock();
        let root = self.commit_tree(&git, commit)?;
        let dir = normalize(dir);
        let tree = if dir.is_empty() {
            root
        } else {
            match root.get_path(Path::new(&dir)) {
                Ok(e) if e.kind() == Some(ObjectType::Tree) => {
                    git.find_tree(e.id()).map_err(|e| self.git_err(e))?
                }
                _ => return Ok(Vec::new()),
            }
        };
        let mut out = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            if entry.kind() == Some(ObjectType::Blob)
                && let Ok(name) = entry.name()
            {
                let rel = format!("{parent}{name}");
                out.push(if dir.is_empty() {
                    rel
                } else {
                    format!("{dir}/{rel}")
                });
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| self.git_err(e))?;
        out.sort();
        Ok(out)
    }

    /// Write the subtree at `dir` of `commit` into `dest` (created), e.g. a chart for `helm`.
    /// Symlinks are written as regular files holding their target, never followed.
    pub fn export_dir(&self, commit: &Commit, dir: &str, dest: &Path) -> Result<(), GitError> {
        let dir = normalize(dir);
        let files = self.list_files(commit, &dir)?;
        let git = self.lock();
        let tree = self.commit_tree(&git, commit)?;
        std::fs::create_dir_all(dest).map_err(|source| GitError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        for file in files {
            let rel = if dir.is_empty() {
                file.as_str()
            } else {
                file.strip_prefix(&format!("{dir}/")).unwrap_or(&file)
            };
            let entry = tree
                .get_path(Path::new(&file))
                .map_err(|e| self.git_err(e))?;
            let blob = git.find_blob(entry.id()).map_err(|e| self.git_err(e))?;
            let out = dest.join(rel);
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent).map_err(|source| GitError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&out, blob.content()).map_err(|source| GitError::Io {
                path: out.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Ahead/behind of the checked-out branch against its upstream. `None` for bare clones.
    pub fn branch_status(&self) -> Result<Option<BranchStatus>, GitError> {
        let git = self.lock();
        if git.is_bare() {
            return Ok(None);
        }
        let head = match git.head() {
            Ok(h) => h,
            // Unborn branch: nothing committed yet.
            Err(e) if e.code() == ErrorCode::UnbornBranch => return Ok(None),
            Err(e) => return Err(self.git_err(e)),
        };
        if !head.is_branch() {
            return Ok(Some(BranchStatus {
                branch: None,
                upstream: None,
                ahead: 0,
                behind: 0,
            }));
        }
        let name = head.shorthand().unwrap_or_default().to_string();
        let local = git
            .find_branch(&name, BranchType::Local)
            .map_err(|e| self.git_err(e))?;
        let Ok(up) = local.upstream() else {
            return Ok(Some(BranchStatus {
                branch: Some(name),
                upstream: None,
                ahead: 0,
                behind: 0,
            }));
        };
        let up_name = up.name().ok().flatten().map(str::to_string);
        let (ahead, behind) = match (local.get().target(), up.get().target()) {
            (Some(l), Some(u)) => git.graph_ahead_behind(l, u).map_err(|e| self.git_err(e))?,
            _ => (0, 0),
        };
        Ok(Some(BranchStatus {
            branch: Some(name),
            upstream: up_name,
            ahead,
            behind,
        }))
    }

    /// Files under `path` (repo-relative) with uncommitted changes, staged or not, including
    /// untracked files: they are "not deployed until committed and pushed". Empty for bare
    /// clones.
    pub fn uncommitted_changes(&self, path: &str) -> Result<Vec<String>, GitError> {
        let git = self.lock();
        if git.is_bare() {
            return Ok(Vec::new());
        }
        let path = normalize(path);
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        if !path.is_empty() {
            opts.pathspec(&path);
        }
        let statuses = git.statuses(Some(&mut opts)).map_err(|e| self.git_err(e))?;
        let prefix = format!("{path}/");
        let mut out: Vec<String> = statuses
            .iter()
            .filter(|s| !s.status().is_ignored())
            .filter_map(|s| s.path().ok().map(str::to_string))
            // pathspec matching is a prefix match on names; keep only the directory itself.
            .filter(|p| path.is_empty() || p == &path || p.starts_with(&prefix))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The commit checked out in the working tree and its branch (None when detached).
    pub fn local_head(&self) -> Result<(Commit, Option<String>), GitError> {
        let git = self.lock();
        let head = git.head().map_err(|e| self.git_err(e))?;
        let commit = head.peel_to_commit().map_err(|e| self.git_err(e))?;
        let branch = head
            .is_branch()
            .then(|| head.shorthand().ok().map(str::to_string))
            .flatten();
        Ok((commit_info(&commit), branch))
    }

    /// Write `contents` to `path` in the working tree and commit it on the checked-out branch,
    /// author and committer from git config (`user.name`, `user.email`). Only that path is
    /// staged; other staged changes stay as they were.
    pub fn commit_file(
        &self,
        path: &str,
        contents: &[u8],
        message: &str,
    ) -> Result<Commit, GitError> {
        if self.read_only {
            return Err(GitError::ReadOnly {
                action: format!("commit {path}"),
            });
        }
        let git = self.lock();
        let workdir = git
            .workdir()
            .map(Path::to_path_buf)
            .ok_or_else(|| GitError::Refused {
                action: format!("commit {path}"),
                reason: format!("{} is a bare repository", self.root.display()),
                fix: "run Sextant in (or pass --repo) a clone with a working tree".into(),
            })?;
        let sig = git.signature().map_err(|e| GitError::Refused {
            action: format!("commit {path}"),
            reason: format!("no author identity: {}", e.message()),
            fix: "git config --global user.name \"Your Name\" && git config --global user.email you@example.com".into(),
        })?;
        let head = git.head().map_err(|e| self.git_err(e))?;
        if !head.is_branch() {
            return Err(GitError::Refused {
                action: format!("commit {path}"),
                reason: "HEAD is detached".into(),
                fix: "check out the branch to commit on (git switch main)".into(),
            });
        }
        let parent = head.peel_to_commit().map_err(|e| self.git_err(e))?;
        let rel = normalize(path);
        let file = workdir.join(&rel);
        std::fs::write(&file, contents).map_err(|source| GitError::Io {
            path: file.clone(),
            source,
        })?;
        // The new tree is HEAD's tree with this one blob replaced, built from the index so the
        // index stays in step with what was committed.
        let mut index = git.index().map_err(|e| self.git_err(e))?;
        index
            .add_path(Path::new(&rel))
            .map_err(|e| self.git_err(e))?;
        index.write().map_err(|e| self.git_err(e))?;
        let blob = git.blob(contents).map_err(|e| self.git_err(e))?;
        let mut builder = git2::build::TreeUpdateBuilder::new();
        builder.upsert(&rel, blob, git2::FileMode::Blob);
        let base = parent.tree().map_err(|e| self.git_err(e))?;
        let tree_id = builder
            .create_updated(&git, &base)
            .map_err(|e| self.git_err(e))?;
        let tree = git.find_tree(tree_id).map_err(|e| self.git_err(e))?;
        let oid = git
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &[&parent])
            .map_err(|e| self.git_err(e))?;
        let commit = git.find_commit(oid).map_err(|e| self.git_err(e))?;
        Ok(commit_info(&commit))
    }

    /// Push the checked-out branch to the remote and update the remote-tracking ref. Rejections
    /// (non-fast-forward, protected branch) are errors naming the URL.
    pub fn push_head(&self) -> Result<(), GitError> {
        if self.read_only {
            return Err(GitError::ReadOnly {
                action: format!(
                    "push to {}",
                    self.remote
                        .as_ref()
                        .map_or("the remote", |r| r.url.as_str())
                ),
            });
        }
        let Some(info) = self.remote.clone() else {
            return Err(GitError::Refused {
                action: "push".into(),
                reason: "the repository has no remote".into(),
                fix: "add one (git remote add origin URL) or commit without pushing".into(),
            });
        };
        let git = self.lock();
        let head = git.head().map_err(|e| self.git_err(e))?;
        let branch = head.shorthand().map_err(|e| self.git_err(e))?.to_string();
        let target = head.target();
        let mut remote = git.find_remote(&info.name).map_err(|e| self.git_err(e))?;
        let auth = authenticator(&info.url);
        let config = git.config().map_err(|e| self.git_err(e))?;
        let rejected = std::cell::RefCell::new(None::<String>);
        {
            let mut callbacks = git2::RemoteCallbacks::new();
            callbacks.credentials(auth.credentials(&config));
            callbacks.push_update_reference(|refname, status| {
                if let Some(msg) = status {
                    *rejected.borrow_mut() = Some(format!("{refname}: {msg}"));
                }
                Ok(())
            });
            let mut opts = git2::PushOptions::new();
            opts.remote_callbacks(callbacks);
            let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
            remote
                .push(&[spec.as_str()], Some(&mut opts))
                .map_err(|e| classify_remote_error("push to", &info.url, &e))?;
        }
        if let Some(message) = rejected.into_inner() {
            return Err(GitError::PushRejected {
                url: info.url,
                message,
            });
        }
        if let Some(oid) = target {
            let _ = git.reference(
                &format!("refs/remotes/{}/{branch}", info.name),
                oid,
                true,
                "sextant: push",
            );
        }
        Ok(())
    }

    fn commit_tree<'r>(
        &self,
        git: &'r Repository,
        commit: &Commit,
    ) -> Result<git2::Tree<'r>, GitError> {
        git.find_commit(commit.oid())
            .and_then(|c| c.tree())
            .map_err(|e| self.git_err(e))
    }
}

/// Repo-relative path without leading `./` or `/` and without trailing `/`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn commit_info(c: &git2::Commit<'_>) -> Commit {
    Commit {
        sha: c.id().to_string(),
        summary: c.summary().ok().flatten().unwrap_or_default().to_string(),
        author: c.author().name().unwrap_or_default().to_string(),
        time: c.time().seconds(),
    }
}

fn pick_remote(git: &Repository) -> Option<RemoteInfo> {
    let names: Vec<String> = git
        .remotes()
        .ok()?
        .iter()
        .filter_map(|r| r.ok().flatten().map(str::to_string))
        .collect();
    let name = if names.iter().any(|n| n == "origin") {
        "origin".to_string()
    } else if names.len() == 1 {
        names[0].clone()
    } else {
        return None;
    };
    let url = git.find_remote(&name).ok()?.url().ok()?.to_string();
    Some(RemoteInfo { name, url })
}

fn upstream_ref(git: &Repository) -> Option<String> {
    let head = git.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    let branch = git
        .find_branch(head.shorthand().ok()?, BranchType::Local)
        .ok()?;
    let up = branch.upstream().ok()?;
    up.get().name().ok().map(str::to_string)
}

/// The authenticator for `url`: a token from the environment first, then credential helpers,
/// ssh-agent and default keys. Never prompts: Sextant runs under a full-screen UI or in CI.
pub fn authenticator(url: &str) -> auth_git2::GitAuthenticator {
    let mut auth = auth_git2::GitAuthenticator::new_empty()
        .try_cred_helper(true)
        .add_default_username()
        .try_ssh_agent(true)
        .add_default_ssh_keys();
    if let Ok(token) = std::env::var(TOKEN_ENV)
        && !token.is_empty()
        && let Some(host) = url_host(url)
    {
        let user = std::env::var(USERNAME_ENV).unwrap_or_else(|_| "git".into());
        auth = auth.add_plaintext_credentials(host, user, token);
    }
    auth
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit('@').next()?;
    Some(host.split(':').next()?.to_string()).filter(|h| !h.is_empty())
}

/// Map a libgit2 error from a remote operation to an actionable error naming the URL.
fn classify_remote_error(action: &'static str, url: &str, e: &git2::Error) -> GitError {
    let msg = e.message().to_string();
    let lower = msg.to_lowercase();
    let auth = e.code() == ErrorCode::Auth
        || lower.contains("authentication")
        || lower.contains("401")
        || lower.contains("403")
        || lower.contains("credentials")
        || lower.contains("permission denied");
    let not_found = e.code() == ErrorCode::NotFound
        || lower.contains("not found")
        || lower.contains("404")
        || lower.contains("could not find repository")
        || lower.contains("failed to resolve path")
        || lower.contains("does not appear to be a git repository")
        || (e.class() == ErrorClass::Os && lower.contains("no such file"));
    if auth {
        GitError::AuthenticationRequired {
            url: url.to_string(),
            message: msg,
        }
    } else if not_found {
        GitError::RepositoryNotFound {
            url: url.to_string(),
            message: msg,
        }
    } else {
        GitError::Remote {
            action,
            url: url.to_string(),
            message: msg,
        }
    }
}

/// Directory name for a cached clone: readable tail of the URL plus a hash of the whole URL.
fn cache_slug(url: &str) -> String {
    let tail: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = Oid::hash_object(ObjectType::Blob, url.as_bytes())
        .map(|o| o.to_string())
        .unwrap_or_default();
    format!("{tail}-{}", &hash[..hash.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert!(looks_like_url("https://github.com/a/b.git"));
        assert!(looks_like_url("file:///tmp/x"));
        assert!(looks_like_url("git@github.com:a/b.git"));
        assert!(!looks_like_url("/home/me/repo"));
        assert!(!looks_like_url("./repo"));
    }

    #[test]
    fn normalize_strips_dots_and_slashes() {
        assert_eq!(normalize("./deploy/helm/"), "deploy/helm");
        assert_eq!(normalize("/a//b/../c"), "a/c");
        assert_eq!(normalize("."), "");
    }

    #[test]
    fn cache_slug_is_stable_and_distinct() {
        let a = cache_slug("https://github.com/x/astromesh.git");
        assert!(a.starts_with("astromesh-"), "{a}");
        assert_eq!(a, cache_slug("https://github.com/x/astromesh.git"));
        assert_ne!(a, cache_slug("https://github.com/y/astromesh.git"));
    }

    #[test]
    fn read_only_repository_refuses_to_commit_and_push_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let remote_dir = tempfile::tempdir().expect("temp dir");
        let bare = Repository::init_bare(remote_dir.path()).expect("bare remote");
        let git = Repository::init(dir.path()).expect("git init");
        {
            let mut cfg = git.config().expect("config");
            cfg.set_str("user.name", "T").expect("user.name");
            cfg.set_str("user.email", "t@example.test")
                .expect("user.email");
            let sig = git.signature().expect("signature");
            let tree = git
                .find_tree(git.index().expect("index").write_tree().expect("tree"))
                .expect("tree");
            git.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
                .expect("first commit");
            let url = format!("file://{}", remote_dir.path().display());
            git.remote("origin", &url).expect("remote");
        }
        let head = |g: &Repository| g.head().ok().and_then(|h| h.target());
        let before = head(&git);
        let repo = Repo::open(dir.path()).expect("open").with_read_only(true);
        let e = repo
            .commit_file("values.yaml", b"replicas: 4\n", "bump")
            .expect_err("read-only commits are refused");
        assert!(matches!(e, GitError::ReadOnly { .. }), "{e:?}");
        assert!(e.to_string().contains("read-only mode"), "{e}");
        let e = repo.push_head().expect_err("read-only pushes are refused");
        assert!(
            e.to_string().contains("read-only mode") && e.to_string().contains("push to file://"),
            "{e}"
        );
        assert!(
            !dir.path().join("values.yaml").exists(),
            "the file was written"
        );
        assert_eq!(head(&git), before, "HEAD moved");
        assert!(
            bare.references().expect("refs").next().is_none(),
            "the remote got a ref"
        );
        // The same repository opened normally commits and pushes (the refusal is the mode's).
        let repo = repo.with_read_only(false);
        repo.commit_file("values.yaml", b"replicas: 4\n", "bump")
            .expect("commit");
        repo.push_head().expect("push");
        assert!(bare.references().expect("refs").next().is_some());
    }

    #[test]
    fn url_host_finds_the_host() {
        assert_eq!(
            url_host("https://user@git.example.com:8443/a/b").as_deref(),
            Some("git.example.com")
        );
        assert_eq!(url_host("/local/path"), None);
    }
}
