//! GitOps sources and rendering against real temporary git repositories.
//!
//! Fixtures are built at test time: the demo repository (`assets/demo`) is copied into a fresh
//! git repository, and smaller repositories are written file by file. Helm rendering needs the
//! real `helm` binary built by `testcluster/build`: found through `SEXTANT_TEST_BIN_DIR` or
//! `testcluster/bin-dir`; when it is missing those tests fail with instructions.

use std::path::{Path, PathBuf};
use std::process::Command;

use sextant::app::{IN_CLUSTER_SERVER, SourceKind};
use sextant::config::{ClusterMapping, Config, RendererChoice};
use sextant::render::{RenderError, RenderOptions, Renderer};
use sextant::source::{self, GitError, KubeContext, Repo, context_for, load_apps};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo");

struct TestRepo {
    dir: tempfile::TempDir,
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl TestRepo {
    fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        git_in(dir.path(), &["init", "-q", "-b", "main"]);
        Self { dir }
    }

    /// The demo repository as one commit on `main`.
    fn demo() -> Self {
        let r = Self::empty();
        assert!(
            Path::new(DEMO)
                .join("deploy/gitops/argocd/applicationset.yaml")
                .exists(),
            "demo repository missing at {DEMO}"
        );
        copy_dir(Path::new(DEMO), r.path());
        r.commit("demo repository");
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    /// Commit everything; returns the sha.
    fn commit(&self, msg: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn open(&self) -> Repo {
        Repo::open(self.path()).unwrap()
    }
}

fn config() -> Config {
    Config::with_defaults()
}

fn work_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn opts(work: &Path, helm: PathBuf) -> RenderOptions {
    RenderOptions {
        renderer: RendererChoice::Helm,
        helm_binary: helm,
        kube_version: Some("1.36.0".into()),
        work_dir: work.to_path_buf(),
        charts: Default::default(),
    }
}

/// The real helm binary from the test control-plane build.
fn helm_binary() -> PathBuf {
    let dir = match std::env::var("SEXTANT_TEST_BIN_DIR") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/testcluster/bin-dir");
            let out = Command::new(script).output();
            match out {
                Ok(o) if o.status.success() => {
                    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string())
                }
                Ok(o) => panic!(
                    "the helm binary is needed for this test and was not found: {}\n  fix: run testcluster/build, or set SEXTANT_TEST_BIN_DIR to a directory holding `helm`",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => panic!(
                    "cannot run {script}: {e}\n  fix: run testcluster/build, or set SEXTANT_TEST_BIN_DIR"
                ),
            }
        }
    };
    let helm = dir.join("helm");
    assert!(
        helm.exists(),
        "{} does not exist\n  fix: run testcluster/build, or set SEXTANT_TEST_BIN_DIR to a directory holding `helm`",
        helm.display()
    );
    helm
}

// ---------------------------------------------------------------- apps from the demo repository

#[test]
fn demo_applicationset_gives_one_app_per_environment() {
    let r = TestRepo::demo();
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let names: Vec<&str> = loaded.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["astromesh-dev", "astromesh-staging", "astromesh-prod"]
    );
    let prod = &loaded.apps[2];
    assert_eq!(prod.env, "prod");
    assert_eq!(prod.destination.namespace, "astromesh-prod");
    assert_eq!(prod.destination.server.as_deref(), Some(IN_CLUSTER_SERVER));
    assert_eq!(prod.source.path, "deploy/helm/astromesh");
    assert_eq!(prod.source.target_revision, "HEAD");
    assert_eq!(prod.origin, "deploy/gitops/argocd/applicationset.yaml");
    match &prod.source.kind {
        SourceKind::Helm(h) => assert_eq!(h.value_files, ["values-prod.yaml"]),
        other => panic!("expected a helm source, got {other:?}"),
    }
    let auto = prod.sync_policy.automated.expect("automated");
    assert!(auto.prune && auto.self_heal);
    assert!(prod.sync_policy.has_option("CreateNamespace=true"));
    assert_eq!(prod.revision_history_limit, 10);
    assert_eq!(
        context_for(&prod.name, &prod.destination, &[]).unwrap(),
        KubeContext::Current
    );
}

#[test]
fn adding_a_qa_element_adds_an_app_once_committed() {
    let r = TestRepo::demo();
    let appset = r.read("deploy/gitops/argocd/applicationset.yaml");
    let qa = appset.replace(
        "          - env: staging\n",
        "          - env: qa\n            namespace: astromesh-qa\n            cluster: https://kubernetes.default.svc\n            valuesFile: values-qa.yaml\n          - env: staging\n",
    );
    assert_ne!(
        qa, appset,
        "fixture shape changed: no staging element found"
    );
    r.write("deploy/gitops/argocd/applicationset.yaml", &qa);
    r.write(
        "deploy/helm/astromesh/values-qa.yaml",
        &r.read("deploy/helm/astromesh/values-staging.yaml"),
    );
    let repo = r.open();
    // Not committed yet: desired state is read from the commit, so still three Apps, and the
    // edit is reported as uncommitted.
    let head = repo.resolve("HEAD").unwrap();
    assert_eq!(load_apps(&repo, &head, &config()).unwrap().apps.len(), 3);
    let changed = repo.uncommitted_changes("deploy/gitops").unwrap();
    assert_eq!(changed, ["deploy/gitops/argocd/applicationset.yaml"]);
    assert_eq!(
        repo.uncommitted_changes("deploy/helm/astromesh").unwrap(),
        ["deploy/helm/astromesh/values-qa.yaml"]
    );
    r.commit("feat: add QA environment");
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    let names: Vec<&str> = loaded.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "astromesh-dev",
            "astromesh-qa",
            "astromesh-staging",
            "astromesh-prod"
        ]
    );
    assert_eq!(loaded.apps[1].destination.namespace, "astromesh-qa");
    assert!(repo.uncommitted_changes("deploy").unwrap().is_empty());
}

// ---------------------------------------------------------------- revisions

#[test]
fn revisions_resolve_head_branch_tag_and_sha_from_commit_trees() {
    let r = TestRepo::demo();
    let first = r.git(&["rev-parse", "HEAD"]);
    r.git(&["tag", "v1"]);
    r.write(
        "deploy/helm/astromesh/values-prod.yaml",
        "replicaCount: 5\n",
    );
    let second = r.commit("scale prod");
    r.git(&["branch", "release", &first]);
    // The working tree differs from every commit.
    r.write(
        "deploy/helm/astromesh/values-prod.yaml",
        "replicaCount: 9\n",
    );

    let repo = r.open();
    let read = |rev: &str| {
        let c = repo.resolve(rev).unwrap();
        let bytes = repo
            .read_file(&c, "deploy/helm/astromesh/values-prod.yaml")
            .unwrap()
            .unwrap();
        (c.sha, String::from_utf8(bytes).unwrap())
    };
    let (sha, text) = read("HEAD");
    assert_eq!(sha, second);
    assert_eq!(text, "replicaCount: 5\n");
    assert_eq!(read("main").0, second);
    assert_eq!(read("v1").0, first);
    assert_eq!(read("release").0, first);
    assert_eq!(read(&first).0, first);
    assert_eq!(read(&first[..8]).0, first);
    assert!(
        read("v1").1.contains("replicaCount: 3"),
        "prod starts with 3 replicas"
    );
    assert_eq!(
        repo.uncommitted_changes("deploy/helm/astromesh").unwrap(),
        ["deploy/helm/astromesh/values-prod.yaml"]
    );
    let commit = repo.resolve("HEAD").unwrap();
    assert_eq!(commit.summary, "scale prod");
    assert_eq!(commit.author, "Test Author");

    let err = repo.resolve("no-such-branch").unwrap_err();
    assert!(matches!(err, GitError::UnknownRevision { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-branch") && msg.contains("fix:"),
        "{msg}"
    );
}

#[test]
fn remote_over_file_url_is_cloned_fetched_and_head_follows_the_remote() {
    let origin = TestRepo::demo();
    let remote_dir = tempfile::tempdir().unwrap();
    let bare = remote_dir.path().join("astromesh.git");
    git_in(
        remote_dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            origin.path().to_str().unwrap(),
            "astromesh.git",
        ],
    );
    let url = format!("file://{}", bare.display());
    let cache = tempfile::tempdir().unwrap();

    // Clone into the cache (bare: no working tree is ever written).
    let repo = Repo::clone_cached(&url, cache.path()).unwrap();
    assert!(!repo.has_workdir());
    assert_eq!(repo.remote_url(), Some(url.as_str()));
    let head = repo.resolve("HEAD").unwrap();
    assert_eq!(head.sha, origin.git(&["rev-parse", "HEAD"]));
    assert_eq!(load_apps(&repo, &head, &config()).unwrap().apps.len(), 3);

    // A push to the remote is seen after a fetch.
    origin.write("deploy/helm/astromesh/values-dev.yaml", "replicaCount: 2\n");
    let new = origin.commit("dev: 2 replicas");
    origin.git(&["push", "-q", bare.to_str().unwrap(), "main"]);
    assert_eq!(repo.resolve("HEAD").unwrap().sha, head.sha, "no fetch yet");
    repo.fetch().unwrap();
    assert_eq!(repo.resolve("HEAD").unwrap().sha, new);
    // Reopening the cached clone reuses it (and fetches).
    let again = source::open_repo_in(Some(&url), &config(), cache.path()).unwrap();
    assert_eq!(again.resolve("HEAD").unwrap().sha, new);

    // A working clone: local commits are not deployed until pushed.
    let work = tempfile::tempdir().unwrap();
    git_in(work.path(), &["clone", "-q", &url, "w"]);
    let w = work.path().join("w");
    std::fs::write(
        w.join("deploy/helm/astromesh/values-dev.yaml"),
        "replicaCount: 4\n",
    )
    .unwrap();
    git_in(&w, &["commit", "-q", "-am", "local only"]);
    let local = Repo::open(&w).unwrap();
    assert_eq!(
        local.resolve("HEAD").unwrap().sha,
        new,
        "HEAD is the remote's default branch"
    );
    let st = local.branch_status().unwrap().unwrap();
    assert_eq!((st.ahead, st.behind), (1, 0));
    assert_eq!(st.upstream.as_deref(), Some("origin/main"));
}

#[test]
fn missing_remote_repository_names_url_and_fix() {
    let cache = tempfile::tempdir().unwrap();
    let url = "file:///nonexistent/sextant-test/repo.git";
    let err = Repo::clone_cached(url, cache.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GitError::RepositoryNotFound { .. }), "{msg}");
    assert!(msg.contains(url) && msg.contains("fix:"), "{msg}");
}

#[test]
fn authentication_required_names_url_and_fix() {
    // A tiny HTTP server that demands credentials for everything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().flatten().take(20) {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/org/private.git");
    let err = Repo::clone_cached(&url, cache.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, GitError::AuthenticationRequired { .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&url) && msg.contains("credential helper"),
        "{msg}"
    );
}

#[test]
fn not_a_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repo::open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("not inside a git repository") && err.contains("--repo"),
        "{err}"
    );
}

// ---------------------------------------------------------------- bad ApplicationSets

#[test]
fn unsupported_generator_is_a_per_file_error_and_other_apps_load() {
    let r = TestRepo::demo();
    r.write(
        "deploy/gitops/argocd/other.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: clusters\nspec:\n  generators:\n    - git:\n        repoURL: https://example.com/x.git\n        directories: [{path: apps/*}]\n  template:\n    metadata: {name: '{{path.basename}}'}\n    spec: {}\n",
    );
    r.commit("add git generator");
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    assert_eq!(loaded.apps.len(), 3);
    assert_eq!(loaded.errors.len(), 1);
    let msg = loaded.errors[0].to_string();
    assert!(
        msg.starts_with("deploy/gitops/argocd/other.yaml:7:7: "),
        "{msg}"
    );
    assert!(msg.contains("`git` generator is not supported"), "{msg}");
    assert!(msg.contains("ApplicationSet `clusters`"), "{msg}");
}

#[test]
fn invalid_yaml_manifest_is_located_and_other_files_load() {
    let r = TestRepo::demo();
    r.write(
        "deploy/gitops/broken.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: x\n spec: [\n",
    );
    r.commit("broken");
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    assert_eq!(loaded.apps.len(), 3);
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    let e = &loaded.errors[0];
    assert_eq!(e.file, "deploy/gitops/broken.yaml");
    assert!(e.line.is_some_and(|l| l >= 4), "{e}");
    assert!(
        e.to_string().starts_with("deploy/gitops/broken.yaml:"),
        "{e}"
    );
}

#[test]
fn go_template_applicationsets_and_missing_keys() {
    let r = TestRepo::empty();
    r.write(
        "apps/web/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
    );
    r.write(
        "deploy/gitops/web.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: web
spec:
  goTemplate: true
  generators:
    - list:
        elements:
          - name: blue
            ns: web-blue
            meta: {tier: gold}
          - name: green
            ns: web-green
            meta: {tier: silver}
  template:
    metadata:
      name: 'web-{{.name}}'
    spec:
      source:
        repoURL: https://example.com/web.git
        path: apps/web
      destination:
        name: in-cluster
        namespace: '{{ .ns }}'
      ignoreDifferences:
        - kind: ConfigMap
          name: 'tier-{{.meta.tier}}'
          jsonPointers: [/data]
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: strict
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - list:
        elements:
          - name: a
  template:
    metadata:
      name: 'strict-{{.name}}-{{.missing}}'
    spec:
      source: {repoURL: x, path: apps/web}
      destination: {server: https://kubernetes.default.svc, namespace: x}
"#,
    );
    r.commit("web");
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    let names: Vec<&str> = loaded.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["web-blue", "web-green"]);
    assert_eq!(
        loaded.apps[0].env, "blue",
        "env falls back to the element's name"
    );
    assert_eq!(loaded.apps[1].destination.namespace, "web-green");
    assert_eq!(
        loaded.apps[1].ignore_differences[0].name.as_deref(),
        Some("tier-silver")
    );
    assert!(matches!(
        loaded.apps[0].source.kind,
        SourceKind::Directory(_)
    ));
    assert_eq!(loaded.errors.len(), 1);
    let msg = loaded.errors[0].to_string();
    assert!(
        msg.contains("strict") && msg.contains("\"missing\""),
        "{msg}"
    );
}

#[test]
fn duplicate_names_and_bad_specs_are_errors_without_stopping_others() {
    let r = TestRepo::empty();
    r.write(
        "m/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    );
    let app = |name: &str, extra: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  source: {{repoURL: x, path: m}}\n  destination: {{server: https://kubernetes.default.svc, namespace: n}}\n{extra}"
        )
    };
    r.write(
        "deploy/gitops/apps.yaml",
        &format!(
            "{}---\n{}---\n{}---\n{}",
            app("one", ""),
            app("one", ""),
            app(
                "bad-retry",
                "  syncPolicy:\n    retry: {limit: 2, backoff: {duration: 5x}}\n"
            ),
            app("two", "  revisionHistoryLimit: 3\n"),
        ),
    );
    r.commit("apps");
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    let names: Vec<&str> = loaded.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
    assert_eq!(loaded.apps[1].revision_history_limit, 3);
    let msgs: Vec<String> = loaded.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs.iter()
            .any(|m| m.contains("bad-retry") && m.contains("unknown unit")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("`one`") && m.contains("already defined")),
        "{msgs:?}"
    );
}

#[test]
fn config_declared_apps_and_destination_mapping() {
    let r = TestRepo::demo();
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let text = r#"
[repo]
manifests = []

[[clusters]]
server = "https://prod.example.com"
context = "prod-admin"

[[apps]]
name = "astro-prod"
env = "prod"
path = "deploy/helm/astromesh"
value_files = ["values-prod.yaml"]
namespace = "astro"
server = "https://prod.example.com"
auto_sync = true
prune = true

[[apps]]
name = "elsewhere"
path = "deploy/helm/astromesh"
namespace = "x"
server = "https://unknown.example.com:6443"
"#;
    let cfg = Config::parse(text, Path::new("config.toml")).unwrap();
    let loaded = load_apps(&repo, &head, &cfg).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.apps.len(), 2);
    let prod = &loaded.apps[0];
    assert_eq!(prod.env, "prod");
    assert_eq!(prod.origin, "config.toml");
    assert!(matches!(prod.source.kind, SourceKind::Helm(_)));
    assert!(
        prod.sync_policy
            .automated
            .is_some_and(|a| a.prune && !a.self_heal)
    );
    assert_eq!(
        context_for(&prod.name, &prod.destination, &cfg.clusters).unwrap(),
        KubeContext::Named("prod-admin".into())
    );
    // Chart.yaml at the path makes it a Helm source even without value files.
    assert!(matches!(loaded.apps[1].source.kind, SourceKind::Helm(_)));
    let err = context_for("elsewhere", &loaded.apps[1].destination, &cfg.clusters)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("elsewhere") && err.contains("[[clusters]]"),
        "{err}"
    );
    let mapped = vec![ClusterMapping {
        server: Some("https://unknown.example.com:6443".into()),
        name: None,
        context: "other".into(),
    }];
    assert!(context_for("elsewhere", &loaded.apps[1].destination, &mapped).is_ok());
}

// ---------------------------------------------------------------- directory rendering

fn directory_repo() -> TestRepo {
    let r = TestRepo::empty();
    r.write(
        "deploy/gitops/apps.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: plain
spec:
  source:
    repoURL: https://example.com/x.git
    path: manifests
    directory:
      recurse: true
      exclude: '{*-test.yaml,skip/*}'
  destination: {server: https://kubernetes.default.svc, namespace: plain}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: flat
spec:
  source:
    repoURL: https://example.com/x.git
    path: manifests
  destination: {server: https://kubernetes.default.svc, namespace: flat}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: only-db
spec:
  source:
    repoURL: https://example.com/x.git
    path: manifests
    directory: {recurse: true, include: 'db/*'}
  destination: {server: https://kubernetes.default.svc, namespace: db}
"#,
    );
    r.write(
        "manifests/app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  ports: [{port: 80}]\n",
    );
    r.write(
        "manifests/deploy.json",
        r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 2}}"#,
    );
    r.write("manifests/README.md", "not a manifest\n");
    r.write(
        "manifests/app-test.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n",
    );
    r.write(
        "manifests/skip/x.yml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: skipped\n",
    );
    r.write(
        "manifests/db/db.yml",
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: db}\n    data: {password: c2VjcmV0}\n",
    );
    r.commit("manifests");
    r
}

fn kinds(manifests: &[sextant::render::Manifest]) -> Vec<String> {
    manifests
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m.object["kind"].as_str().unwrap_or_default(),
                m.object["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn directory_sources_render_recursive_multidoc_json_with_globs() {
    let r = directory_repo();
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let work = work_dir();
    let renderer = Renderer::new(opts(work.path(), PathBuf::from("/nonexistent/helm")));
    let by_name = |n: &str| loaded.apps.iter().find(|a| a.name == n).unwrap();

    let plain = renderer.render(&repo, by_name("plain"), &head).unwrap();
    assert_eq!(
        kinds(&plain.manifests),
        ["ConfigMap/a", "Service/a", "Secret/db", "Deployment/a"]
    );
    assert_eq!(plain.manifests[0].source_file, "manifests/app.yaml");
    assert_eq!(plain.manifests[3].object["spec"]["replicas"], 2);

    let flat = renderer.render(&repo, by_name("flat"), &head).unwrap();
    assert_eq!(
        kinds(&flat.manifests),
        ["Pod/t", "ConfigMap/a", "Service/a", "Deployment/a"]
    );
    let db = renderer.render(&repo, by_name("only-db"), &head).unwrap();
    assert_eq!(kinds(&db.manifests), ["Secret/db"]);

    // Same content again: served from the cache.
    let misses = renderer.cache().misses();
    renderer.render(&repo, by_name("plain"), &head).unwrap();
    assert_eq!(renderer.cache().misses(), misses);
    assert!(renderer.cache().hits() >= 1);
}

#[test]
fn directory_yaml_errors_and_missing_paths_are_located() {
    let r = directory_repo();
    r.write(
        "manifests/bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n",
    );
    r.commit("bad");
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &config()).unwrap();
    let work = work_dir();
    let renderer = Renderer::new(opts(work.path(), PathBuf::from("helm")));
    let flat = loaded.apps.iter().find(|a| a.name == "flat").unwrap();
    let err = renderer.render(&repo, flat, &head).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RenderError::Yaml { .. }), "{msg}");
    assert!(
        msg.contains("manifests/bad.yaml:4:") || msg.contains("manifests/bad.yaml:5:"),
        "{msg}"
    );

    r.write(
        "manifests/bad.yaml",
        "kind: ConfigMap\nmetadata:\n  name: x\n",
    );
    r.commit("no apiVersion");
    let head = repo.resolve("HEAD").unwrap();
    let msg = renderer.render(&repo, flat, &head).unwrap_err().to_string();
    assert!(
        msg.contains("manifests/bad.yaml: document 1") && msg.contains("apiVersion"),
        "{msg}"
    );

    let mut moved = flat.clone();
    moved.source.path = "nowhere".into();
    let msg = renderer
        .render(&repo, &moved, &head)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`nowhere` does not exist"), "{msg}");
}

// ---------------------------------------------------------------- helm: checks before helm runs

fn demo_app(repo: &Repo, env: &str) -> sextant::app::App {
    let head = repo.resolve("HEAD").unwrap();
    load_apps(repo, &head, &config())
        .unwrap()
        .apps
        .into_iter()
        .find(|a| a.env == env)
        .unwrap()
}

#[test]
fn missing_values_file_and_invalid_values_yaml_are_located() {
    let r = TestRepo::demo();
    let repo = r.open();
    let mut app = demo_app(&repo, "prod");
    if let SourceKind::Helm(h) = &mut app.source.kind {
        h.value_files = vec!["values-qa.yaml".into()];
    }
    let work = work_dir();
    let renderer = Renderer::new(opts(work.path(), PathBuf::from("/nonexistent/helm")));
    let head = repo.resolve("HEAD").unwrap();
    let msg = renderer.render(&repo, &app, &head).unwrap_err().to_string();
    assert!(
        msg.contains("values file `values-qa.yaml` not found"),
        "{msg}"
    );
    assert!(
        msg.contains("deploy/helm/astromesh/values-qa.yaml"),
        "{msg}"
    );

    r.write(
        "deploy/helm/astromesh/values-prod.yaml",
        "replicaCount: 3\nimage:\n  tag: [1.2\n",
    );
    r.commit("break prod values");
    let head = repo.resolve("HEAD").unwrap();
    let app = demo_app(&repo, "prod");
    let err = renderer.render(&repo, &app, &head).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RenderError::Yaml { .. }), "{msg}");
    assert!(
        msg.contains("deploy/helm/astromesh/values-prod.yaml:3:")
            || msg.contains("deploy/helm/astromesh/values-prod.yaml:4:"),
        "{msg}"
    );
}

#[test]
fn unreachable_dependency_repository_names_app_dependency_url_and_fix() {
    let r = TestRepo::demo();
    let chart = r.read("deploy/helm/astromesh/Chart.yaml");
    r.write(
        "deploy/helm/astromesh/Chart.yaml",
        &format!(
            "{chart}\ndependencies:\n  - name: postgresql\n    version: 15.5.0\n    repository: https://charts.bitnami.com/bitnami\n  - name: redis\n    version: 19.0.0\n    repository: https://charts.bitnami.com/bitnami\n  - name: common\n    version: 2.0.0\n    repository: file://../common\n"
        ),
    );
    // One of the three is vendored: it is used as it is, never fetched.
    r.write(
        "deploy/helm/astromesh/charts/common/Chart.yaml",
        "apiVersion: v2\nname: common\nversion: 2.0.0\ntype: library\n",
    );
    r.commit("deps");
    let repo = r.open();
    let app = demo_app(&repo, "dev");
    let work = work_dir();
    // The upstream repository is mirrored to a closed local port: the network is never used.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mirror = format!("http://{}/bitnami", closed.local_addr().unwrap());
    drop(closed);
    let mut o = opts(work.path(), PathBuf::from("/nonexistent/helm"));
    o.charts = std::sync::Arc::new(sextant::charts::ChartRepos::new(
        sextant::charts::ChartsConfig {
            cache_dir: Some(work.path().join("charts")),
            timeout_secs: 5,
            mirrors: vec![sextant::charts::MirrorConfig {
                upstream: "https://charts.bitnami.com/bitnami".into(),
                mirror: mirror.clone(),
            }],
            ..Default::default()
        },
    ));
    let renderer = Renderer::new(o);
    let head = repo.resolve("HEAD").unwrap();
    let err = renderer.render(&repo, &app, &head).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RenderError::Chart { .. }), "{msg}");
    for needle in [
        "app `astromesh-dev`",
        "deploy/helm/astromesh",
        "dependency `postgresql`",
        &format!("cannot reach {mirror}/index.yaml"),
        "fix:",
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
}

#[test]
fn missing_helm_binary_is_a_clear_error() {
    let r = TestRepo::demo();
    let repo = r.open();
    let app = demo_app(&repo, "dev");
    let work = work_dir();
    let renderer = Renderer::new(opts(work.path(), PathBuf::from("/nonexistent/helm")));
    let head = repo.resolve("HEAD").unwrap();
    let msg = renderer.render(&repo, &app, &head).unwrap_err().to_string();
    assert!(
        msg.contains("/nonexistent/helm") && msg.contains("render.helm_binary"),
        "{msg}"
    );
}

// ---------------------------------------------------------------- helm: the real binary

/// A wrapper around the real helm that counts its invocations in a file.
fn counting_helm(dir: &Path) -> (PathBuf, PathBuf) {
    let real = helm_binary();
    let count = dir.join("helm-count");
    let wrapper = dir.join("helm");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho x >> '{}'\nexec '{}' \"$@\"\n",
            count.display(),
            real.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (wrapper, count)
}

fn runs(count: &Path) -> usize {
    std::fs::read_to_string(count)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn helm_renders_each_environment_from_the_commit_and_caches() {
    let r = TestRepo::demo();
    let repo = r.open();
    let work = work_dir();
    let (helm, count) = counting_helm(work.path());
    let renderer = Renderer::new(opts(&work.path().join("render"), helm));
    let head = repo.resolve("HEAD").unwrap();
    let render = |env: &str, commit: &sextant::source::Commit| {
        renderer
            .render(&repo, &demo_app(&repo, env), commit)
            .unwrap()
    };
    let of_kind = |m: &[sextant::render::Manifest], kind: &str| -> Vec<serde_json::Value> {
        m.iter()
            .filter(|x| x.object["kind"] == kind)
            .map(|x| x.object.clone())
            .collect()
    };

    let prod = render("prod", &head);
    let deploy = prod
        .manifests
        .iter()
        .find(|m| {
            m.object["kind"] == "Deployment" && m.object["metadata"]["name"] == "astromesh-prod"
        })
        .unwrap_or_else(|| panic!("no astromesh-prod Deployment: {:?}", kinds(&prod.manifests)));
    assert_eq!(
        deploy.source_file,
        "deploy/helm/astromesh/templates/deployment.yaml"
    );
    // prod: 3 replicas through the HPA (the Deployment leaves replicas to it), ingress with TLS.
    assert!(
        deploy.object["spec"].get("replicas").is_none(),
        "{}",
        deploy.object["spec"]
    );
    let hpa = of_kind(&prod.manifests, "HorizontalPodAutoscaler");
    assert_eq!(hpa.len(), 1, "{:?}", kinds(&prod.manifests));
    assert_eq!(hpa[0]["spec"]["minReplicas"], 3);
    let ingress = of_kind(&prod.manifests, "Ingress");
    assert!(
        ingress
            .iter()
            .any(|i| i["spec"]["tls"].as_array().is_some_and(|t| !t.is_empty()))
    );
    assert!(
        prod.manifests
            .iter()
            .all(|m| m.object["metadata"]["namespace"].is_null()
                || m.object["metadata"]["namespace"] == "astromesh-prod")
    );

    let dev = render("dev", &head);
    assert!(of_kind(&dev.manifests, "HorizontalPodAutoscaler").is_empty());
    assert!(dev.manifests.iter().any(
        |m| m.object["kind"] == "Deployment" && m.object["metadata"]["name"] == "astromesh-dev"
    ));
    assert_eq!(runs(&count), 2);

    // Same commit again: no helm run.
    assert_eq!(render("prod", &head).manifests, prod.manifests);
    render("dev", &head);
    assert_eq!(runs(&count), 2, "cached renders must not run helm");

    // A commit that does not touch the chart: still cached (content-addressed).
    r.write("README.md", "docs only\n");
    r.commit("docs");
    let head2 = repo.resolve("HEAD").unwrap();
    let again = render("prod", &head2);
    assert_eq!(again.commit.sha, head2.sha);
    assert_eq!(runs(&count), 2);

    // Changing a file inside the chart re-renders every App of that chart (templates may read
    // any chart file through `.Files`), once each.
    let values = r.read("deploy/helm/astromesh/values-prod.yaml");
    r.write(
        "deploy/helm/astromesh/values-prod.yaml",
        &format!("{values}\npodAnnotations:\n  changed: \"yes\"\n"),
    );
    r.commit("annotate prod");
    let head3 = repo.resolve("HEAD").unwrap();
    let changed = render("prod", &head3);
    render("dev", &head3);
    render("prod", &head3);
    assert_eq!(runs(&count), 4);
    assert_ne!(changed.manifests, prod.manifests);
    let dep = changed
        .manifests
        .iter()
        .find(|m| {
            m.object["kind"] == "Deployment" && m.object["metadata"]["name"] == "astromesh-prod"
        })
        .unwrap();
    assert_eq!(
        dep.object["spec"]["template"]["metadata"]["annotations"]["changed"],
        "yes"
    );
}

#[test]
fn helm_parameters_inline_values_and_release_name_reach_helm() {
    let r = TestRepo::demo();
    let repo = r.open();
    let mut app = demo_app(&repo, "dev");
    if let SourceKind::Helm(h) = &mut app.source.kind {
        h.release_name = Some("custom".into());
        h.values = Some("podAnnotations:\n  inline: \"1\"\n".into());
        h.parameters = vec![sextant::app::HelmParameter {
            name: "podAnnotations.param".into(),
            value: "a,b".into(),
            force_string: true,
        }];
    }
    let work = work_dir();
    let renderer = Renderer::new(opts(work.path(), helm_binary()));
    let head = repo.resolve("HEAD").unwrap();
    let rendered = renderer.render(&repo, &app, &head).unwrap();
    let text = serde_json::to_string(
        &rendered
            .manifests
            .iter()
            .map(|m| &m.object)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(text.contains("custom"), "release name used");
    let dep = rendered
        .manifests
        .iter()
        .find(|m| m.object["kind"] == "Deployment")
        .expect("a Deployment");
    let ann = &dep.object["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(ann["inline"], "1", "{ann}");
    assert_eq!(ann["param"], "a,b", "{ann}");
}

// ---------------------------------------------------------------- the CLI

fn sextant(repo: &Path, cfg_dir: &Path) -> assert_cmd::Command {
    let cfg = cfg_dir.join("config.toml");
    if !cfg.exists() {
        std::fs::write(&cfg, "").unwrap();
    }
    let mut cmd = assert_cmd::Command::cargo_bin("sextant").unwrap();
    cmd.arg("--config")
        .arg(&cfg)
        .arg("--repo")
        .arg(repo)
        .env("XDG_CACHE_HOME", cfg_dir.join("cache"))
        .env("XDG_STATE_HOME", cfg_dir.join("state"))
        .env_remove("SEXTANT_REPO");
    cmd
}

#[test]
fn cli_app_list_and_manifests() {
    let r = TestRepo::demo();
    let tmp = tempfile::tempdir().unwrap();
    let out = sextant(r.path(), tmp.path())
        .args(["app", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("SYNCPOLICY"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("astromesh-prod") && lines[3].contains("Auto-Prune"),
        "{text}"
    );

    let out = sextant(r.path(), tmp.path())
        .args(["app", "list", "-o", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[1]["name"], "astromesh-staging");
    assert_eq!(
        v[1]["source"]["render"]["valueFiles"][0],
        "values-staging.yaml"
    );
    assert_eq!(v[1]["syncPolicy"]["automated"]["selfHeal"], true);

    let out = sextant(r.path(), tmp.path())
        .args(["app", "list", "-o", "yaml"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let docs = sextant::render::yaml::parse_documents(&text, "out.yaml").unwrap();
    assert_eq!(docs[0].as_array().map(Vec::len), Some(3), "{text}");
    let out = sextant(r.path(), tmp.path())
        .args(["app", "list", "-o", "wide"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let head = r.git(&["rev-parse", "--short=7", "HEAD"]);
    assert!(
        text.contains("(current context)") && text.contains(&head),
        "{text}"
    );

    let d = directory_repo();
    let out = sextant(d.path(), tmp.path())
        .args(["app", "manifests", "only-db"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("---\n") && text.contains("kind: Secret"),
        "{text}"
    );
    assert!(
        !text.contains("c2VjcmV0"),
        "secret values are masked: {text}"
    );

    sextant(d.path(), tmp.path())
        .args(["app", "manifests", "nope"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .contains_text("unknown app `nope`");
    sextant(d.path(), tmp.path())
        .args(["app", "manifests", "plain", "--revision", "v9"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .contains_text("revision `v9` not found");
}

#[test]
fn cli_env_names_resolve_when_unambiguous_and_old_revisions_render() {
    let r = TestRepo::empty();
    let app = |name: &str, env: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: {name}\nspec:\n  generators:\n    - list:\n        elements:\n          - env: {env}\n  template:\n    metadata: {{name: '{name}-{{{{env}}}}'}}\n    spec:\n      source: {{repoURL: x, path: m}}\n      destination: {{server: https://kubernetes.default.svc, namespace: '{{{{env}}}}'}}\n"
        )
    };
    r.write(
        "deploy/gitops/a.yaml",
        &format!(
            "{}---\n{}---\n{}",
            app("web", "dev"),
            app("api", "dev"),
            app("web2", "prod")
        ),
    );
    r.write(
        "m/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n",
    );
    let first = r.commit("one");
    r.write(
        "m/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n",
    );
    r.commit("two");
    let tmp = tempfile::tempdir().unwrap();
    sextant(r.path(), tmp.path())
        .args(["app", "manifests", "dev"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .contains_text("`dev` is ambiguous");
    let out = sextant(r.path(), tmp.path())
        .args(["app", "manifests", "prod"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("name: second"));
    let out = sextant(r.path(), tmp.path())
        .args(["app", "manifests", "web2-prod", "--revision", &first[..10]])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("name: first"));
}

trait ContainsText {
    fn contains_text(&self, needle: &str);
}

impl ContainsText for Vec<u8> {
    fn contains_text(&self, needle: &str) {
        let text = String::from_utf8_lossy(self);
        assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
    }
}

// ---------------------------------------------------------------- native renderer seam

#[test]
fn native_renderer_matches_helm_on_every_demo_environment() {
    let r = TestRepo::demo();
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let work = work_dir();
    let helm = Renderer::new(opts(work.path(), helm_binary()));
    let mut native_opts = opts(work.path(), PathBuf::from("/nonexistent/helm"));
    native_opts.renderer = RendererChoice::Native;
    let native = Renderer::new(native_opts);
    for env in ["dev", "staging", "prod"] {
        let app = demo_app(&repo, env);
        let a = helm.render(&repo, &app, &head).unwrap();
        let b = native.render(&repo, &app, &head).unwrap();
        assert_eq!(b.renderer, sextant::render::RendererKind::Native);
        assert_eq!(kinds(&a.manifests), kinds(&b.manifests), "{env}");
        for (x, y) in a.manifests.iter().zip(&b.manifests) {
            assert_eq!(x.source_file, y.source_file, "{env}");
            assert_eq!(x.object, y.object, "{env}: {}", x.source_file);
        }
    }
}

#[test]
fn duplicate_keys_in_rendered_manifests_keep_the_last_value_with_a_warning() {
    let r = TestRepo::demo();
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let mut app = demo_app(&repo, "dev");
    // The chart writes checksum/config itself, then podAnnotations: the key appears twice.
    if let SourceKind::Helm(h) = &mut app.source.kind {
        h.values = Some("podAnnotations:\n  checksum/config: from-values\n".into());
    }
    let work = work_dir();
    let mut native_opts = opts(work.path(), PathBuf::from("/nonexistent/helm"));
    native_opts.renderer = RendererChoice::Native;
    for renderer in [
        Renderer::new(opts(work.path(), helm_binary())),
        Renderer::new(native_opts),
    ] {
        let out = renderer.render(&repo, &app, &head).unwrap();
        let dep = out
            .manifests
            .iter()
            .find(|m| {
                m.object["kind"] == "Deployment" && m.source_file.ends_with("/deployment.yaml")
            })
            .expect("the runtime Deployment");
        let ann = &dep.object["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(
            ann["checksum/config"], "from-values",
            "{:?}: {ann}",
            out.renderer
        );
        let warning = out
            .notices
            .iter()
            .find(|n| n.contains("duplicate key `checksum/config`"))
            .unwrap_or_else(|| {
                panic!(
                    "{:?}: no duplicate-key warning in {:?}",
                    out.renderer, out.notices
                )
            });
        assert!(
            warning.contains("deploy/helm/astromesh/templates/deployment.yaml: rendered line "),
            "{warning}"
        );
    }
}

#[test]
fn app_manifests_says_which_kubernetes_version_helm_rendered_for() {
    let r = TestRepo::demo();
    let tmp = tempfile::tempdir().unwrap();
    let out = sextant(r.path(), tmp.path())
        .args(["app", "manifests", "astromesh-dev"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: rendered for Kubernetes v1.36.0 (helm 3.22's default;"),
        "{err}"
    );
    std::fs::write(
        tmp.path().join("config.toml"),
        "[render]\nkube_version = \"1.31.2\"\n",
    )
    .unwrap();
    let out = sextant(r.path(), tmp.path())
        .args(["app", "manifests", "astromesh-dev"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: rendered for Kubernetes 1.31.2 (render.kube_version in config.toml)"),
        "{err}"
    );
}

#[test]
fn native_render_errors_say_native_not_helm() {
    let r = TestRepo::demo();
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let mut app = demo_app(&repo, "dev");
    if let SourceKind::Helm(h) = &mut app.source.kind {
        h.values = Some("autoscaling: 5\n".into());
    }
    let work = work_dir();
    let mut native_opts = opts(work.path(), PathBuf::from("/nonexistent/helm"));
    native_opts.renderer = RendererChoice::Native;
    let err = Renderer::new(native_opts)
        .render(&repo, &app, &head)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("render failed (native) for chart deploy/helm/astromesh:\nError: "),
        "{err}"
    );
    assert!(!err.contains("helm template failed"), "{err}");
}

/// A native renderer that refuses every chart, to exercise `auto`'s fallback.
struct Refusing;

impl sextant::render::HelmRenderer for Refusing {
    fn kind(&self) -> sextant::render::RendererKind {
        sextant::render::RendererKind::Native
    }
    fn render(
        &self,
        input: &sextant::render::HelmInput,
    ) -> Result<sextant::render::HelmOutput, RenderError> {
        Err(RenderError::Unsupported {
            app: input.app.clone(),
            chart: input.chart_path.clone(),
            reason: "lookup function".into(),
        })
    }
}

#[test]
fn auto_falls_back_to_helm_with_a_notice_and_native_alone_reports_unsupported() {
    let r = TestRepo::demo();
    let repo = r.open();
    let head = repo.resolve("HEAD").unwrap();
    let app = demo_app(&repo, "dev");
    let work = work_dir();
    let mut auto = opts(work.path(), helm_binary());
    auto.renderer = RendererChoice::Auto;
    let renderer = Renderer::new(auto.clone()).with_native(std::sync::Arc::new(Refusing));
    let out = renderer.render(&repo, &app, &head).unwrap();
    assert_eq!(out.renderer, sextant::render::RendererKind::HelmCli);
    assert_eq!(out.notices.len(), 1);
    assert!(out.notices[0].contains("lookup function") && out.notices[0].contains("helm binary"));
    assert!(!out.manifests.is_empty());

    let mut native = auto;
    native.renderer = RendererChoice::Native;
    let renderer = Renderer::new(native).with_native(std::sync::Arc::new(Refusing));
    let err = renderer.render(&repo, &app, &head).unwrap_err().to_string();
    assert!(
        err.contains("native renderer cannot render") && err.contains("lookup function"),
        "{err}"
    );
}

#[test]
fn concurrent_renders_of_one_chart_share_one_export() {
    let r = TestRepo::demo();
    let repo = std::sync::Arc::new(r.open());
    let head = repo.resolve("HEAD").unwrap();
    let work = work_dir();
    let mut o = opts(work.path(), PathBuf::from("/nonexistent/helm"));
    o.renderer = RendererChoice::Native;
    let renderer = std::sync::Arc::new(Renderer::new(o));
    let threads: Vec<_> = ["dev", "staging", "prod", "dev", "prod", "staging"]
        .into_iter()
        .map(|env| {
            let (repo, renderer, head) = (repo.clone(), renderer.clone(), head.clone());
            let app = demo_app(&repo, env);
            std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn(move || {
                    renderer
                        .render(&repo, &app, &head)
                        .map(|r| r.manifests.len())
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        let n = t.join().unwrap().unwrap();
        assert!(n > 0);
    }
    let exports: Vec<_> = std::fs::read_dir(work.path().join("charts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        exports.len(),
        1,
        "one finished export, no temp leftovers: {exports:?}"
    );
}

/// Issue 22 point 10: the engine's repository poll reports edits not committed and commits not
/// pushed, which the TUI shows as "not deployed until committed and pushed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_reports_uncommitted_files_and_unpushed_commits() {
    use sextant::engine::api::Repo as _;
    let origin = TestRepo::demo();
    let work = tempfile::tempdir().unwrap();
    git_in(
        work.path(),
        &["clone", "-q", origin.path().to_str().unwrap(), "w"],
    );
    let w = work.path().join("w");
    let poll = |dir: &Path| {
        let repo = sextant::cli::gitrepo::GitRepo::new(Repo::open(dir).unwrap(), &config());
        async move { repo.poll(false).await.unwrap().status }
    };
    let st = poll(&w).await;
    assert_eq!((st.ahead, st.uncommitted.len()), (0, 0), "{st:?}");
    assert_eq!(st.upstream.as_deref(), Some("origin/main"));
    std::fs::write(
        w.join("deploy/helm/astromesh/values-dev.yaml"),
        "replicaCount: 4\n",
    )
    .unwrap();
    std::fs::write(w.join("deploy/helm/astromesh/new.yaml"), "x: 1\n").unwrap();
    let st = poll(&w).await;
    assert_eq!(
        st.uncommitted,
        vec![
            "deploy/helm/astromesh/new.yaml".to_string(),
            "deploy/helm/astromesh/values-dev.yaml".to_string()
        ]
    );
    assert_eq!(
        st.uncommitted_under("deploy/helm/astromesh").len(),
        2,
        "{st:?}"
    );
    assert!(st.uncommitted_under("deploy/helm/astro").is_empty());
    git_in(&w, &["add", "-A"]);
    git_in(&w, &["commit", "-q", "-m", "local only"]);
    let st = poll(&w).await;
    assert_eq!((st.ahead, st.uncommitted.len()), (1, 0), "{st:?}");
}
