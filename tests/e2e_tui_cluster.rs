//! End-to-end: the real `sextant` binary, started from a shell in a tmux pane the way an operator
//! would (`cd` into the GitOps repository, type `sextant`), against the real control plane of
//! tests/support. The repository is a git copy of assets/demo whose ApplicationSet targets the
//! test cluster by URL (mapped to its kubeconfig context in config.toml) and unique App names and
//! namespaces; Git's auto-sync is off so every change is made from the keyboard:
//!
//! - sync dev through the `s` dialog and watch it become Synced/Healthy, sync a second commit
//!   picked up by `R`, turn auto-sync on with `a` (checked in the cluster), roll dev back to the
//!   first history entry through `r` (which offers to turn auto-sync off again), quit with `q`
//!   and find the shell prompt on a restored terminal;
//! - open prod's diff with `d`, promote one value dev → staging through `p` (checked in the git
//!   repository) and watch staging turn OutOfSync at the promotion commit.
//!
//! Every wait has a timeout and prints the pane when it expires. Needs `tmux`; fails without it.

mod support;
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tmux::{Launch, Tmux, row};

const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");
/// One UI step (a dialog opening, a key taking effect).
const STEP: Duration = Duration::from_secs(30);
/// Work against the cluster (compare, sync, rollout to Healthy).
const CLUSTER_WORK: Duration = Duration::from_secs(90);
/// Pane size: wide enough for the Apps table's wide layout (destination, AUTO flags).
const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;
const PROMPT: &str = "e2e-shell$ ";
/// `$USER` of the shell: syncs are recorded as initiated by this operator.
const OPERATOR: &str = "e2e-operator";

/// A git repository, a config file and a kubeconfig for one test, and the shell to run in.
struct Fixture {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    /// App names are `{prefix}-{env}`, their namespaces too.
    prefix: String,
    kubeconfig: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let e = e.expect("directory entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest)
                .unwrap_or_else(|err| panic!("cannot copy {}: {err}", e.path().display()));
        }
    }
}

/// `git -C repo ARGS` with a fixed identity; trimmed stdout; panics with git's stderr.
fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=E2E Test", "-c", "user.email=e2e@test"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git ({e}): install git to run this test"));
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        repo.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `kubectl --kubeconfig K ARGS` from the control-plane bin dir: (success, stdout + stderr).
fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(support::bin("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubectl: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim().to_string())
}

/// Polls `kubectl ARGS` until its output satisfies `f`; panics with the last output.
fn wait_kubectl(kubeconfig: &Path, what: &str, args: &[&str], f: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let (ok, out) = kubectl(kubeconfig, args);
        if ok && f(&out) {
            return out;
        }
        if start.elapsed() > STEP {
            panic!("timed out after {STEP:?} waiting for {what}; kubectl {args:?} said:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The API server URL and context name of the kubeconfig's current context.
fn server_and_context(kubeconfig: &Path) -> (String, String) {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", kubeconfig.display()));
    let context = kc
        .current_context
        .clone()
        .unwrap_or_else(|| panic!("{} has no current-context", kubeconfig.display()));
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .unwrap_or_else(|| panic!("context {context} not in {}", kubeconfig.display()));
    let server = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_else(|| {
            panic!(
                "cluster {cluster} has no server in {}",
                kubeconfig.display()
            )
        });
    (server, context)
}

impl Fixture {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let kubeconfig = support::kubeconfig_path();
        let (server, _) = server_and_context(&kubeconfig);
        let prefix = format!(
            "{name}{:x}{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join("platform-gitops");
        copy_dir(&Path::new(WORKSPACE).join("assets/demo"), &repo);

        // Destinations: the test cluster by URL, unique names and namespaces; no Git auto-sync
        // (the keyboard does the syncing; `a` turns it on as an override).
        let appset = repo.join("deploy/gitops/argocd/applicationset.yaml");
        let original = std::fs::read_to_string(&appset).expect("demo ApplicationSet");
        let text = original
            .replace(
                "cluster: https://kubernetes.default.svc",
                &format!("cluster: {server}"),
            )
            .replace("namespace: astromesh-", &format!("namespace: {prefix}-"))
            .replace(
                "name: astromesh-{{env}}",
                &format!("name: {prefix}-{{{{env}}}}"),
            );
        let text: String = text
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                !(t.starts_with("automated:")
                    || t.starts_with("prune: true")
                    || t.starts_with("selfHeal: true"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            text.matches(&server).count(),
            3,
            "the demo ApplicationSet changed shape; update this fixture:\n{text}"
        );
        assert!(
            !text.contains("automated") && text.contains(&format!("name: {prefix}-")),
            "the demo ApplicationSet changed shape; update this fixture:\n{text}"
        );
        std::fs::write(&appset, text).expect("write the ApplicationSet");
        git(&repo, &["init", "-q", "-b", "main"]);
        // The operator's identity, used by the promotion commit (the session's home is empty).
        git(&repo, &["config", "user.name", "E2E Operator"]);
        git(&repo, &["config", "user.email", "operator@e2e.test"]);
        git(&repo, &["add", "-A"]);
        git(
            &repo,
            &["commit", "-q", "-m", "astromesh: dev, staging and prod"],
        );
        Self {
            _dir: dir,
            repo,
            prefix,
            kubeconfig,
        }
    }

    fn app(&self, env: &str) -> String {
        format!("{}-{env}", self.prefix)
    }

    /// An interactive shell in the repository, with `sextant` on PATH, the kubeconfig in
    /// KUBECONFIG and `config.toml` at the default place under the session's home.
    fn shell(&self) -> Tmux {
        let (server, context) = server_and_context(&self.kubeconfig);
        let home = tempfile::tempdir().expect("temp dir for the home");
        let config_dir = home.path().join("config/sextant");
        std::fs::create_dir_all(&config_dir).expect("config dir");
        // Top-level keys before any table; Git polling is slow so `R` is what picks up commits.
        let config = format!(
            "protected_envs = [\"prod\"]\n\n\
             [[clusters]]\nserver = {server:?}\ncontext = {context:?}\n\n\
             [render]\nhelm_binary = {:?}\n\n\
             [reconcile]\npoll_interval_secs = 3600\npoll_jitter_secs = 0\n",
            support::bin("helm").display().to_string()
        );
        std::fs::write(config_dir.join("config.toml"), config).expect("write config.toml");
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_sextant"));
        let bin_dir = bin.parent().expect("the binary's directory");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        // bash ignores PS1 from the environment and tmux sets PATH itself: an rc file sets both.
        let rc = home.path().join("bashrc");
        std::fs::write(
            &rc,
            format!(
                "PS1='{PROMPT}'\nexport PATH='{path}'\nexport KUBECONFIG='{}'\n\
                 export RUST_BACKTRACE=0\nexport USER={OPERATOR}\nunset HISTFILE\n",
                self.kubeconfig.display()
            ),
        )
        .expect("write bashrc");
        let t = Tmux::launch(
            &format!("bash --noprofile --rcfile {} -i", rc.display()),
            WIDTH,
            HEIGHT,
            Launch {
                home: Some(home),
                cwd: Some(self.repo.clone()),
                env: Vec::new(),
            },
        );
        t.wait_for("the shell prompt", STEP, at_prompt);
        t
    }

    /// The values file of `env` with `from` replaced by `to`, committed; returns the short sha.
    fn commit_values(&self, env: &str, from: &str, to: &str, msg: &str) -> String {
        let f = self
            .repo
            .join(format!("deploy/helm/astromesh/values-{env}.yaml"));
        let text = std::fs::read_to_string(&f).expect("values file");
        assert!(text.contains(from), "{from:?} not in {}", f.display());
        std::fs::write(&f, text.replacen(from, to, 1)).expect("write values file");
        git(&self.repo, &["commit", "-q", "-am", msg]);
        self.short_head()
    }

    fn short_head(&self) -> String {
        git(&self.repo, &["rev-parse", "--short=7", "HEAD"])
    }
}

/// Types `sextant` at the prompt and waits for the three Apps.
fn launch_ui(t: &Tmux, f: &Fixture) -> Duration {
    t.text("sextant");
    t.keys(&["Enter"]);
    let apps = [f.app("dev"), f.app("staging"), f.app("prod")];
    let (_, took) = t.wait_for("three Apps", STEP, |s| {
        apps.iter().all(|a| row(s, a).is_some())
    });
    took
}

/// Moves the selection to `app` (the summary under the table names the selected App).
fn select(t: &Tmux, app: &str) {
    let deadline = Instant::now() + STEP;
    let line_of = |s: &str, name: &str| {
        s.lines()
            .position(|l| l.trim_start_matches('│').starts_with(&format!("{name} ")))
    };
    loop {
        let s = t.screen();
        let selected = s
            .lines()
            .filter(|l| !l.starts_with(['│', '┌', '└', ' ']))
            .find_map(|l| l.split_once(" → ").map(|(name, _)| name.to_string()));
        if selected.as_deref() == Some(app) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "cannot select {app} (selected: {selected:?}); screen:\n{s}"
        );
        let have = selected.and_then(|sel| line_of(&s, &sel));
        match (have, line_of(&s, app)) {
            (Some(h), Some(w)) if h > w => t.keys(&["Up"]),
            _ => t.keys(&["Down"]),
        }
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// The pane's last non-empty line is the shell prompt.
fn at_prompt(s: &str) -> bool {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::trim_end)
        == Some(PROMPT.trim_end())
}

/// Confirms the focused dialog: focus starts on Cancel, Tab moves to the action.
fn confirm(t: &Tmux) {
    t.keys(&["Tab", "Enter"]);
}

/// The override ConfigMap's `data.enabled` for `app`, as stored in the cluster.
fn override_enabled(f: &Fixture, app: &str, want: &str) -> String {
    wait_kubectl(
        &f.kubeconfig,
        &format!("the auto-sync override of {app} to be enabled={want}"),
        &[
            "get",
            "configmap",
            "-n",
            "sextant-system",
            &format!("sextant-autosync-{app}"),
            "-o",
            "jsonpath={.data.enabled}",
        ],
        |out| out == want,
    )
}

/// `spec.replicas` of dev's Deployments, sorted.
fn deployment_replicas(f: &Fixture, ns: &str, want: &str) {
    wait_kubectl(
        &f.kubeconfig,
        &format!("deployments in {ns} with replicas {want}"),
        &[
            "get",
            "deployments",
            "-n",
            ns,
            "-o",
            "jsonpath={.items[*].spec.replicas}",
        ],
        |out| out == want,
    );
}

/// Runs a sync of the selected App through the `s` dialog and waits for Succeeded.
fn sync_selected(t: &Tmux, app: &str) -> Duration {
    t.keys(&["s"]);
    confirm_sync(t, app)
}

/// Confirms the open sync dialog of `app` and waits for Succeeded; closes the result.
fn confirm_sync(t: &Tmux, app: &str) -> Duration {
    t.wait_for("the sync preview", STEP, |s| {
        s.contains(&format!("Sync {app}")) && s.contains("[ Cancel ]")
    });
    confirm(t);
    let done = format!("sync {app} — ");
    let (screen, took) = t.wait_for("the sync result", CLUSTER_WORK, |s| {
        // Not "Finished": the command's answer can overtake the engine's last events, and the
        // title shows the phase once the operation-finished event is in.
        ["Succeeded", "Failed", "Refused"]
            .iter()
            .any(|end| s.contains(&format!("{done}{end}")))
    });
    assert!(
        screen.contains(&format!("sync {app} — Succeeded")),
        "the sync did not succeed:\n{screen}"
    );
    t.keys(&["Enter"]);
    t.wait_for("the sync result closed", STEP, |s| !s.contains(&done));
    took
}

#[test]
fn cluster_sync_autosync_rollback_and_quit() {
    let started = Instant::now();
    let f = Fixture::new("e2es");
    let dev = f.app("dev");
    let first = f.short_head();
    let t = f.shell();
    let took = launch_ui(&t, &f);
    println!("three Apps after {took:?}");

    // Compared against the cluster: nothing deployed yet, Git's auto-sync off.
    let (_, took) = t.wait_for("dev OutOfSync, nothing deployed", CLUSTER_WORK, |s| {
        row(s, &dev).is_some_and(|l| {
            l.contains("OutOfSync")
                && l.contains("Missing")
                && l.contains(&format!("-------→{first}"))
        })
    });
    println!("dev compared after {took:?}");

    // --- Sync dev from the keyboard, watch it become Synced/Healthy ---
    select(&t, &dev);
    t.wait_for("dev's summary: auto-sync off, never synced", STEP, |s| {
        s.lines()
            .any(|l| l.starts_with(&format!("{dev} → ")) && l.contains("last sync never"))
            && s.lines().any(|l| l.starts_with("auto-sync off"))
    });
    let took = sync_selected(&t, &dev);
    println!("dev sync finished after {took:?}");
    let (_, took) = t.wait_for("dev Synced and Healthy", CLUSTER_WORK, |s| {
        row(s, &dev).is_some_and(|l| {
            l.contains("Synced") && !l.contains("OutOfSync") && l.contains("Healthy")
        })
    });
    println!("dev Synced/Healthy {took:?} after the sync");
    t.wait_for("the summary naming the operator who synced", STEP, |s| {
        s.lines()
            .any(|l| l.starts_with(&format!("{dev} → ")) && l.contains(&format!("by {OPERATOR}@")))
    });
    deployment_replicas(&f, &dev, "1");

    // --- A second commit, picked up by `R`, synced: two history entries ---
    let second = f.commit_values(
        "dev",
        "replicaCount: 1",
        "replicaCount: 2",
        "dev: two replicas",
    );
    t.keys(&["R"]);
    let (screen, took) = t.wait_for(
        &format!("dev OutOfSync at {second} after R"),
        CLUSTER_WORK,
        |s| row(s, &dev).is_some_and(|l| l.contains("OutOfSync") && l.contains(&second)),
    );
    println!("R picked up the new commit after {took:?}");
    assert!(
        row(&screen, &dev).is_some_and(|l| l.contains(&first)),
        "the row should show deployed {first} → target {second}:\n{screen}"
    );
    sync_selected(&t, &dev);
    t.wait_for(
        &format!("dev Synced and Healthy at {second}"),
        CLUSTER_WORK,
        |s| {
            row(s, &dev).is_some_and(|l| {
                l.contains("Synced")
                    && !l.contains("OutOfSync")
                    && l.contains("Healthy")
                    && l.contains(&second)
                    && !l.contains(&first)
            })
        },
    );
    deployment_replicas(&f, &dev, "2");

    // --- `a`: auto-sync on, stored in the cluster as an override ---
    t.keys(&["a"]);
    t.wait_for("the auto-sync dialog", STEP, |s| {
        s.contains(&format!("Auto-sync: {dev}")) && s.contains("Turn it ON?")
    });
    confirm(&t);
    override_enabled(&f, &dev, "true");
    t.wait_for("dev's AUTO flags showing the override", STEP, |s| {
        row(s, &dev).is_some_and(|l| l.contains("A--*"))
    });

    // --- `r`: roll back to the first entry; auto-sync is on, so the dialog offers to turn it off ---
    t.keys(&["r"]);
    let (pick, _) = t.wait_for("the rollback history picker", STEP, |s| {
        s.contains(&format!("Roll back {dev}"))
            && s.contains("Pick the history entry to roll back to")
    });
    assert!(
        pick.contains(&first) && pick.contains(&second),
        "both revisions should be in the history:\n{pick}"
    );
    // Newest first: the second entry (current), then the first.
    t.keys(&["Down", "Enter"]);
    let (explain, _) = t.wait_for("the auto-sync explanation", STEP, |s| {
        s.contains(&format!("Auto-sync is on for {dev}"))
            && s.contains("Turn off auto-sync and continue")
    });
    let target = explain
        .lines()
        .find(|l| l.contains("Roll back to #"))
        .unwrap_or_else(|| panic!("no rollback target line:\n{explain}"));
    assert!(
        target.contains(&first),
        "the rollback should target {first}:\n{explain}"
    );
    confirm(&t);
    let (review, _) = t.wait_for("the rollback preview", CLUSTER_WORK, |s| {
        s.contains("[ Roll back ]") && s.contains("would change")
    });
    assert!(
        review.contains("auto-sync off"),
        "auto-sync was not turned off:\n{review}"
    );
    override_enabled(&f, &dev, "false");
    confirm(&t);
    let (done, took) = t.wait_for("the rollback result", CLUSTER_WORK, |s| {
        s.contains(&format!("rollback {dev} — Succeeded"))
            || s.contains(&format!("rollback {dev} — Failed"))
    });
    println!("rollback finished after {took:?}");
    assert!(
        done.contains(&format!("rollback {dev} — Succeeded")),
        "{done}"
    );
    t.keys(&["Enter"]);
    deployment_replicas(&f, &dev, "1");
    // Deployed the first revision again; Git's HEAD is still the target.
    t.wait_for(
        &format!("dev deployed at {first}, OutOfSync with {second}"),
        CLUSTER_WORK,
        |s| {
            row(s, &dev).is_some_and(|l| {
                l.contains("OutOfSync") && l.contains(&format!("{first}→{second}"))
            })
        },
    );

    // --- `q`: back at the shell prompt, terminal restored ---
    t.quit();
    t.wait_for("the shell prompt after quitting", STEP, at_prompt);
    assert_eq!(
        t.format("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(t.format("#{cursor_flag}"), "1", "cursor left hidden");
    // The shell works again in canonical mode with echo: a typed command runs and prints.
    t.text(r"st=$?; echo exit=$st $(stty -a | tr ' ;' '\n\n' | grep -x -- '-\?icanon\|-\?echo')");
    t.keys(&["Enter"]);
    let (after, _) = t.wait_for("the shell's answer", STEP, |s| s.contains("exit=0 "));
    let answer = after
        .lines()
        .find(|l| l.starts_with("exit="))
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        answer, "exit=0 icanon echo",
        "sextant's exit status and the terminal modes after it:\n{after}"
    );
    println!(
        "sync/auto-sync/rollback/quit run took {:?}",
        started.elapsed()
    );
}

#[test]
fn cluster_prod_diff_and_promote_dev_to_staging() {
    let started = Instant::now();
    let f = Fixture::new("e2ep");
    let staging = f.app("staging");
    let prod = f.app("prod");
    let before = git(&f.repo, &["rev-parse", "HEAD"]);
    let t = f.shell();
    launch_ui(&t, &f);
    t.wait_for("prod and staging OutOfSync", CLUSTER_WORK, |s| {
        [&prod, &staging]
            .iter()
            .all(|a| row(s, a).is_some_and(|l| l.contains("OutOfSync")))
    });

    // --- prod's diff with `d`: every resource would be created ---
    select(&t, &prod);
    t.keys(&["d"]);
    // Nothing deployed yet: every resource is new, none changed or pruned; prod is protected.
    // Waited for as a whole: a capture can catch the terminal between two partial redraws.
    let wants = [
        format!("{prod}  env prod"),
        "Diff (".to_string(),
        "0 changed".to_string(),
        "0 prune".to_string(),
        "will be created".to_string(),
        format!("+ Deployment/{prod}-astromesh "),
        "+ HorizontalPodAutoscaler/".to_string(),
        "[protected]".to_string(),
    ];
    t.wait_for(
        "prod's Diff pane: 0 changed, 0 prune, Deployment and HPA to create, [protected]",
        STEP,
        |s| wants.iter().all(|w| s.contains(w.as_str())),
    );
    t.keys(&["Escape"]);
    t.wait_for("back on the Apps screen", STEP, |s| {
        s.contains("REVISION (deployed→target)")
    });

    // --- prod is protected: the sync needs its name typed; then it deploys and turns Healthy
    // (its GPU model server lands on the test cluster's GPU node) ---
    t.keys(&["s"]);
    t.wait_for("prod's protected sync dialog", STEP, |s| {
        s.contains(&format!("Sync {prod}")) && s.contains("prod is protected: type prod to confirm")
    });
    confirm(&t);
    t.wait_for("the refusal without the typed name", STEP, |s| {
        s.contains("prod is a protected environment: type \"prod\" to confirm")
    });
    t.text("prod");
    t.keys(&["Enter"]);
    let done = format!("sync {prod} — ");
    let (screen, took) = t.wait_for("prod's sync result", CLUSTER_WORK, |s| {
        ["Succeeded", "Failed", "Refused"]
            .iter()
            .any(|end| s.contains(&format!("{done}{end}")))
    });
    assert!(
        screen.contains(&format!("{done}Succeeded")),
        "prod's sync did not succeed:\n{screen}"
    );
    println!("prod sync finished after {took:?}");
    t.keys(&["Enter"]);
    t.wait_for("prod Synced", CLUSTER_WORK, |s| {
        row(s, &prod).is_some_and(|l| l.contains("Synced") && !l.contains("OutOfSync"))
    });
    // Every prod Deployment becomes fully available, the GPU model server included (it tolerates
    // the test cluster's GPU node taint and gets a GPU there).
    let avail = wait_kubectl(
        &f.kubeconfig,
        "every prod Deployment available",
        &[
            "get",
            "deployments",
            "-n",
            &prod,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.availableReplicas}/{.spec.replicas} {end}",
        ],
        |out| {
            let deps: Vec<&str> = out.split_whitespace().collect();
            deps.len() == 3
                && deps.iter().all(|d| {
                    d.rsplit_once('=')
                        .and_then(|(_, r)| r.split_once('/'))
                        .is_some_and(|(a, w)| a == w)
                })
        },
    );
    assert!(
        avail.contains(&format!("{prod}-astromesh-vllm=1/1")),
        "the GPU model server is not available: {avail}"
    );
    // prod's App health is not asserted Healthy: its Ingress never gets an address (no ingress
    // controller) and its HPA gets no CPU metrics (no metrics-server) on the test cluster, so
    // Argo CD's health rules say Progressing or Degraded. All resources exist, though.
    let (screen, took) = t.wait_for("prod's resources all present", CLUSTER_WORK, |s| {
        row(s, &prod).is_some_and(|l| !l.contains("Missing"))
    });
    println!(
        "prod deployments {avail}; after {took:?}: {}",
        row(&screen, &prod).unwrap_or_default().trim()
    );

    // --- Staging synced through the command palette, so the promotion has something to change ---
    t.text(":sync staging");
    t.keys(&["Enter"]);
    confirm_sync(&t, &staging);
    let base = f.short_head();
    t.wait_for(&format!("staging Synced at {base}"), CLUSTER_WORK, |s| {
        row(s, &staging)
            .is_some_and(|l| l.contains("Synced") && !l.contains("OutOfSync") && l.contains(&base))
    });

    // --- Promotion dev → staging through `p` ---
    t.keys(&["p"]);
    t.wait_for("the promotion env picker", STEP, |s| {
        s.contains("Choose the source and target environments")
    });
    // Source column to dev (first), target column to staging (second).
    t.keys(&["Left", "Up", "Up", "Right", "Up", "Up", "Down", "Enter"]);
    let (keys, _) = t.wait_for("the value keys dev vs staging", STEP, |s| {
        s.contains("Promote dev → staging") && s.contains("runtime.logLevel")
    });
    assert!(
        keys.contains("values-staging.yaml"),
        "the key list does not name the target values file:\n{keys}"
    );
    // `A` picks all, a second `A` none; then pick runtime.logLevel alone.
    t.keys(&["A", "A"]);
    let (none, _) = t.wait_for("no key picked", STEP, |s| {
        s.contains("runtime.logLevel") && !s.contains("[x]")
    });
    let idx = none
        .lines()
        .filter(|l| l.contains("[ ] ") || l.contains("[x] "))
        .position(|l| l.contains("runtime.logLevel"))
        .unwrap_or_else(|| panic!("runtime.logLevel is not in the key list:\n{none}"));
    let mut moves = vec!["Down"; idx];
    moves.push("Space");
    t.keys(&moves);
    let (picked, _) = t.wait_for("runtime.logLevel picked", STEP, |s| {
        s.contains("[x] runtime.logLevel")
    });
    assert_eq!(
        picked.matches("[x]").count(),
        1,
        "more than one key picked:\n{picked}"
    );
    t.keys(&["Enter"]);
    let (diff, _) = t.wait_for("the file diff of the promotion", STEP, |s| {
        s.contains("keys: runtime.logLevel") && s.contains("enter write the commit message")
    });
    assert!(
        diff.contains("logLevel: info") && diff.contains("logLevel: debug"),
        "the diff does not show logLevel info → debug:\n{diff}"
    );
    t.keys(&["Enter"]);
    t.wait_for("the commit message editor", STEP, |s| {
        s.contains("commit message (ctrl-s commit")
            && s.contains("promote runtime.logLevel from dev to staging")
    });
    // The cursor sits at the end of the default message: extend it, then commit with ctrl-s.
    t.text(" (e2e cluster)");
    t.keys(&["C-s"]);
    let (committed, took) = t.wait_for("the promotion commit", STEP, |s| {
        s.contains("committed: staging will show")
    });
    println!("promotion committed after {took:?}");
    assert_eq!(
        git(&f.repo, &["log", "-1", "--format=%s"]),
        "promote runtime.logLevel from dev to staging (e2e cluster)",
        "screen:\n{committed}"
    );
    assert_eq!(
        git(&f.repo, &["rev-parse", "HEAD~1"]),
        before,
        "the promotion is not one commit on top of the previous head"
    );
    assert_eq!(
        git(&f.repo, &["show", "--name-only", "--format=", "HEAD"]),
        "deploy/helm/astromesh/values-staging.yaml"
    );
    let staging_values = git(
        &f.repo,
        &["show", "HEAD:deploy/helm/astromesh/values-staging.yaml"],
    );
    assert!(
        staging_values.contains("logLevel: debug"),
        "values-staging.yaml was not changed:\n{staging_values}"
    );
    let sha = f.short_head();
    t.keys(&["Enter"]);
    // Git auto-sync off: staging waits, OutOfSync from its deployed revision to the promotion.
    let (_, took) = t.wait_for(
        &format!("staging OutOfSync at the promoted revision {sha}"),
        CLUSTER_WORK,
        |s| {
            row(s, &staging).is_some_and(|l| {
                l.contains("OutOfSync")
                    && l.contains(&format!("{base}→{sha}"))
                    && l.contains("promote runtime")
            })
        },
    );
    println!("staging OutOfSync at {sha} after {took:?}");
    select(&t, &staging);
    t.wait_for("staging's summary naming the promotion commit", STEP, |s| {
        s.contains(&format!(
            "target {sha} promote runtime.logLevel from dev to staging (e2e cluster)"
        ))
    });

    t.quit();
    t.wait_for("the shell prompt after quitting", STEP, at_prompt);
    assert_eq!(
        t.format("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(t.format("#{cursor_flag}"), "1", "cursor left hidden");
    println!("diff/promotion run took {:?}", started.elapsed());
}
