//! `--readonly` never changes anything, checked from outside against the real control plane of
//! tests/support: a GitOps repository (with a bare git remote) whose Apps dev, qa, staging and
//! prod all say `automated: {prune, selfHeal}`; dev, qa and staging are deployed, then qa gets a
//! new commit (a pending auto-sync) and staging drifts (a pending self-heal), prod was never
//! synced. Then, each for longer than the poll interval:
//!
//! - the TUI `sextant --readonly` under tmux,
//! - `sextant reconcile --readonly` (refused),
//! - the TUI with `[reconcile] in_ui = false` (observes only),
//!
//! and afterwards every object in the Apps' namespaces and in `sextant-system` has the
//! resourceVersion it had before, no namespace appeared, and the git remote's and the clone's refs
//! are byte-for-byte the same. Last, the TUI without `--readonly` says on its status line that it
//! auto-syncs dev, qa and staging (not prod: protected), and does: qa is synced and staging healed,
//! which shows the observation above can see a write.

mod support;
mod tmux;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tmux::{Launch, Tmux, row};

/// The repository poll interval of every session here (seconds).
const POLL_SECS: u64 = 2;
/// How long each session is watched after its first compare: several poll intervals.
const WATCH: Duration = Duration::from_secs(4 * POLL_SECS + 4);
const STEP: Duration = Duration::from_secs(90);
const ENVS: [&str; 4] = ["dev", "qa", "staging", "prod"];

struct Fixture {
    dir: tempfile::TempDir,
    repo: PathBuf,
    remote: PathBuf,
    prefix: String,
    kubeconfig: PathBuf,
    server: String,
    context: String,
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git(dir: &Path, args: &[&str]) -> String {
    run(
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=RO Test", "-c", "user.email=ro@test"])
            .args(args),
        &format!("git {args:?}"),
    )
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    run(
        Command::new(support::bin("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args),
        &format!("kubectl {args:?}"),
    )
}

/// The API server URL and context name of the kubeconfig's current context.
fn server_and_context(kubeconfig: &Path) -> (String, String) {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let context = kc.current_context.clone().expect("current-context");
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .expect("context");
    let server = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .expect("server");
    (server, context)
}

fn manifests(env: &str, replicas: u32, greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: {greeting}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  \
         selector:\n    matchLabels: {{app: web-{env}}}\n  template:\n    metadata:\n      labels: {{app: web-{env}}}\n    \
         spec:\n      containers:\n        - name: web\n          image: example.test/web:1.0\n"
    )
}

impl Fixture {
    fn new() -> Self {
        let kubeconfig = support::kubeconfig_path();
        let (server, context) = server_and_context(&kubeconfig);
        let prefix = format!("ro{:x}", std::process::id());
        let dir = tempfile::tempdir().expect("temp dir");
        let remote = dir.path().join("remote.git");
        let repo = dir.path().join("gitops");
        run(
            Command::new("git")
                .args(["init", "-q", "--bare", "-b", "main"])
                .arg(&remote),
            "git init --bare",
        );
        std::fs::create_dir_all(repo.join("deploy/gitops")).expect("repo dir");
        let elements: String = ENVS
            .iter()
            .map(|e| format!("          - env: {e}\n"))
            .collect();
        std::fs::write(
            repo.join("deploy/gitops/appset.yaml"),
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: web\n  namespace: argocd\n\
                 spec:\n  generators:\n    - list:\n        elements:\n{elements}  template:\n    metadata:\n      \
                 name: {prefix}-{{{{env}}}}\n    spec:\n      project: default\n      source:\n        \
                 repoURL: https://example.test/gitops.git\n        targetRevision: HEAD\n        path: envs/{{{{env}}}}\n      \
                 destination:\n        server: {server}\n        namespace: {prefix}-{{{{env}}}}\n      \
                 syncPolicy:\n        automated:\n          prune: true\n          selfHeal: true\n        \
                 syncOptions:\n          - CreateNamespace=true\n"
            ),
        )
        .expect("write the ApplicationSet");
        for env in ENVS {
            let d = repo.join("envs").join(env);
            std::fs::create_dir_all(&d).expect("env dir");
            std::fs::write(d.join("app.yaml"), manifests(env, 2, "hello")).expect("manifests");
        }
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(
            &repo,
            &["commit", "-q", "-m", "web: dev, qa, staging, prod"],
        );
        git(
            &repo,
            &["remote", "add", "origin", &remote.display().to_string()],
        );
        git(&repo, &["push", "-q", "-u", "origin", "main"]);
        let f = Self {
            dir,
            repo,
            remote,
            prefix,
            kubeconfig,
            server,
            context,
        };
        f.write_config("config.toml", true);
        f.write_config("config-observe.toml", false);
        f
    }

    fn app(&self, env: &str) -> String {
        format!("{}-{env}", self.prefix)
    }

    fn write_config(&self, name: &str, in_ui: bool) {
        std::fs::write(
            self.dir.path().join(name),
            format!(
                "protected_envs = [\"prod\"]\n\n[[clusters]]\nserver = {:?}\ncontext = {:?}\n\n\
                 [reconcile]\npoll_interval_secs = {POLL_SECS}\npoll_jitter_secs = 0\nin_ui = {in_ui}\n",
                self.server, self.context
            ),
        )
        .expect("write config");
    }

    fn config(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sextant(&self, config: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sextant"));
        c.arg("--config")
            .arg(self.config(config))
            .arg("--repo")
            .arg(&self.repo)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("NO_COLOR", "1")
            .env_remove("SEXTANT_REPO")
            .env_remove("SEXTANT_CONFIG");
        c
    }

    /// `sextant ARGS` in a tmux pane (no shell: the session ends when sextant does).
    fn tui(&self, config: &str, args: &str) -> Tmux {
        let cmdline = format!(
            // The pane stays after sextant exits, so a failure to start is on screen.
            "{} --config {} --repo {} --kubeconfig {} {args}; echo sextant exited $?; sleep 600",
            env!("CARGO_BIN_EXE_sextant"),
            self.config(config).display(),
            self.repo.display(),
            self.kubeconfig.display()
        );
        Tmux::launch(
            &cmdline,
            200,
            40,
            Launch {
                cwd: Some(self.repo.clone()),
                env: vec![("USER".into(), "ro-operator".into())],
                ..Launch::default()
            },
        )
    }

    /// Every object in the Apps' namespaces and in `sextant-system` (Events aside: the
    /// controllers write those), the Namespaces themselves: `kind ns/name` → resourceVersion.
    fn cluster_state(&self) -> BTreeMap<String, String> {
        let kinds: Vec<String> = kubectl(
            &self.kubeconfig,
            &[
                "api-resources",
                "--verbs=list",
                "--namespaced",
                "-o",
                "name",
            ],
        )
        .lines()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with("events"))
        .map(str::to_string)
        .collect();
        let namespaces: Value = serde_json::from_str(&kubectl(
            &self.kubeconfig,
            &["get", "namespaces", "-o", "json"],
        ))
        .expect("namespace list JSON");
        let mut out = BTreeMap::new();
        let mut mine = Vec::new();
        for ns in namespaces["items"].as_array().into_iter().flatten() {
            let name = ns["metadata"]["name"].as_str().unwrap_or_default();
            if name == "sextant-system" || name.starts_with(&format!("{}-", self.prefix)) {
                out.insert(
                    format!("Namespace {name}"),
                    ns["metadata"]["resourceVersion"].to_string(),
                );
                mine.push(name.to_string());
            }
        }
        for ns in mine {
            let list: Value = serde_json::from_str(&kubectl(
                &self.kubeconfig,
                &["get", &kinds.join(","), "-n", &ns, "-o", "json"],
            ))
            .expect("object list JSON");
            for o in list["items"].as_array().into_iter().flatten() {
                out.insert(
                    format!(
                        "{} {} {ns}/{}",
                        o["apiVersion"].as_str().unwrap_or_default(),
                        o["kind"].as_str().unwrap_or_default(),
                        o["metadata"]["name"].as_str().unwrap_or_default()
                    ),
                    o["metadata"]["resourceVersion"].to_string(),
                );
            }
        }
        out
    }

    /// The cluster state once the controllers are done (the same on two reads 3 s apart).
    fn settled_cluster_state(&self) -> BTreeMap<String, String> {
        let deadline = Instant::now() + STEP;
        let mut last = self.cluster_state();
        loop {
            std::thread::sleep(Duration::from_secs(3));
            let now = self.cluster_state();
            if now == last {
                return now;
            }
            assert!(Instant::now() < deadline, "the cluster never settled");
            last = now;
        }
    }

    /// Every ref (and HEAD) of the remote and of the clone, and the clone's worktree status.
    fn git_state(&self) -> String {
        let refs = |d: &Path| git(d, &["for-each-ref", "--format=%(refname) %(objectname)"]);
        format!(
            "remote:\n{}clone:\n{}HEAD {}status:\n{}",
            refs(&self.remote),
            refs(&self.repo),
            git(&self.repo, &["rev-parse", "HEAD"]),
            git(&self.repo, &["status", "--porcelain"])
        )
    }
}

fn diff(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in before {
        match after.get(k) {
            Some(w) if w == v => {}
            Some(w) => out.push_str(&format!("changed {k}: {v} -> {w}\n")),
            None => out.push_str(&format!("deleted {k}\n")),
        }
    }
    for k in after.keys().filter(|k| !before.contains_key(*k)) {
        out.push_str(&format!("created {k}\n"));
    }
    out
}

/// Waits until the TUI has compared qa and staging (both OutOfSync: the pending auto-sync and
/// the drift), then keeps it open for [`WATCH`] and quits with `q`. Returns the last screen.
fn watch_tui(f: &Fixture, t: &Tmux, what: &str) -> String {
    let (qa, staging) = (f.app("qa"), f.app("staging"));
    t.wait_for(&format!("{what}: qa and staging OutOfSync"), STEP, |s| {
        [&qa, &staging]
            .iter()
            .all(|a| row(s, a).is_some_and(|l| l.contains("OutOfSync")))
    });
    std::thread::sleep(WATCH);
    let screen = t.screen();
    t.quit();
    screen
}

#[test]
fn readonly_sessions_change_nothing_and_the_tui_says_what_it_auto_syncs() {
    let f = Fixture::new();
    // Deploy dev, qa and staging at the first commit (prod stays never synced). As from cron or
    // systemd: no $USER, so the initiator is the OS account and the host name.
    for env in ["dev", "qa", "staging"] {
        run(
            f.sextant("config.toml")
                .args(["app", "sync", &f.app(env)])
                .env_remove("USER")
                .env_remove("USERNAME"),
            &format!("sextant app sync {}", f.app(env)),
        );
    }
    let account = run(Command::new("id").arg("-un"), "id -un");
    let host = run(&mut Command::new("hostname"), "hostname");
    let initiator = format!("{}@{}", account.trim(), host.trim());
    let records: Value = serde_json::from_str(&kubectl(
        &f.kubeconfig,
        &["get", "configmaps", "-n", "sextant-system", "-o", "json"],
    ))
    .expect("ConfigMap list JSON");
    let ours: Vec<String> = records["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|cm| {
            cm["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.contains(&f.prefix))
        })
        .map(Value::to_string)
        .collect();
    assert!(
        ours.iter().any(|cm| cm.contains(&initiator))
            && !ours.iter().any(|cm| cm.contains("unknown@")),
        "the syncs without $USER should be recorded as {initiator}:\n{ours:#?}"
    );
    // qa: a new commit on the remote, not yet deployed (auto-sync would sync it).
    std::fs::write(f.repo.join("envs/qa/app.yaml"), manifests("qa", 4, "hello")).expect("edit qa");
    git(&f.repo, &["commit", "-q", "-am", "qa: four replicas"]);
    git(&f.repo, &["push", "-q", "origin", "main"]);
    // staging: deployed at the new commit too (its manifests did not change), then drifted: a
    // pending self-heal at the deployed revision.
    run(
        f.sextant("config.toml")
            .args(["app", "sync", &f.app("staging")]),
        "sextant app sync staging at the new commit",
    );
    let staging_ns = f.app("staging");
    kubectl(
        &f.kubeconfig,
        &[
            "patch",
            "configmap",
            "settings",
            "-n",
            &staging_ns,
            "--type=merge",
            "-p",
            r#"{"data":{"greeting":"drifted"}}"#,
        ],
    );
    let cluster_before = f.settled_cluster_state();
    let git_before = f.git_state();
    assert!(
        cluster_before
            .keys()
            .any(|k| k.contains("Lease") || k.contains("ConfigMap sextant-system/")),
        "sextant-system holds no records; the deploys did not write history:\n{cluster_before:#?}"
    );

    // 1. The TUI, read-only.
    let t = f.tui("config.toml", "--readonly");
    let screen = watch_tui(&f, &t, "sextant --readonly");
    let unchanged = |what: &str| {
        let changes = diff(&cluster_before, &f.cluster_state());
        assert!(changes.is_empty(), "{what} changed the cluster:\n{changes}");
        assert_eq!(f.git_state(), git_before, "{what} changed the git refs");
    };
    unchanged("sextant --readonly");
    assert!(screen.contains("[READ-ONLY]"), "{screen}");
    assert!(
        screen.contains("read-only: this session changes nothing"),
        "the status line does not say the session is read-only:\n{screen}"
    );
    drop(t);

    // 2. `sextant reconcile --readonly`: refused, or (were it ever allowed) watching only.
    let mut child = f
        .sextant("config.toml")
        .args(["reconcile", "--readonly"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sextant reconcile --readonly");
    let started = Instant::now();
    while started.elapsed() < WATCH && child.try_wait().expect("wait").is_none() {
        std::thread::sleep(Duration::from_millis(200));
    }
    if child.try_wait().expect("wait").is_none() {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    let out = child.wait_with_output().expect("reconcile output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--readonly"),
        "sextant reconcile --readonly should refuse naming read-only mode: {:?}\n{err}",
        out.status
    );
    unchanged("sextant reconcile --readonly");

    // 3. The TUI with `[reconcile] in_ui = false`: observes, leaves reconciling to others.
    let t = f.tui("config-observe.toml", "");
    let screen = watch_tui(&f, &t, "sextant with in_ui = false");
    assert!(
        screen.contains("auto-sync left to `sextant reconcile`"),
        "the status line does not say reconciling is left to `sextant reconcile`:\n{screen}"
    );
    drop(t);

    unchanged("sextant with [reconcile] in_ui = false");

    // 4. Without --readonly the TUI says what it auto-syncs, and does it.
    let t = f.tui("config.toml", "");
    let (screen, _) = t.wait_for("the auto-sync note", STEP, |s| {
        s.contains("this session auto-syncs: dev, qa, staging")
    });
    assert!(
        screen.contains("(not prod: protected, start with --yes)"),
        "{screen}"
    );
    let deadline = Instant::now() + STEP;
    loop {
        let replicas = kubectl(
            &f.kubeconfig,
            &[
                "get",
                "deployment",
                "web",
                "-n",
                &f.app("qa"),
                "-o",
                "jsonpath={.spec.replicas}",
            ],
        );
        let greeting = kubectl(
            &f.kubeconfig,
            &[
                "get",
                "configmap",
                "settings",
                "-n",
                &staging_ns,
                "-o",
                "jsonpath={.data.greeting}",
            ],
        );
        if replicas == "4" && greeting == "hello" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reconciling TUI did not auto-sync qa ({replicas} replicas) or heal staging ({greeting}):\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // prod is protected: not auto-synced without --yes, its namespace never created.
    std::thread::sleep(Duration::from_secs(2 * POLL_SECS));
    let namespaces = kubectl(&f.kubeconfig, &["get", "namespaces", "-o", "name"]);
    assert!(
        !namespaces.contains(&format!("namespace/{}", f.app("prod"))),
        "the protected prod App was auto-synced without --yes"
    );
    t.quit();
}
