//! `ignoreDifferences` on the real control plane, through the real binary: an App whose only
//! live differences are ignored is Synced (`app list`, `app get`, `app diff` exit 0), and
//! `sextant reconcile` writes no history entry for that drift; a live change that is *not*
//! ignored diffs as cleanly as a Git change (no server defaults); a sync applies Git's value of
//! ignored fields unless `RespectIgnoreDifferences=true` keeps the live one.
//!
//! Each test has its own App (name = namespace, unique per process) in a temporary Git repo with
//! a plain manifest directory: a ConfigMap, a Deployment that mounts it (so the server defaults
//! `defaultMode: 420`, `terminationMessagePath`, `resources: {}` ...) and, where the case needs
//! it, a HorizontalPodAutoscaler.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The reconcile poll interval of these tests; "two poll intervals" is measured in it.
const POLL_SECS: u64 = 3;

const DEPLOYMENT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: web-conf
data:
  a: "1"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1
          volumeMounts:
            - {name: conf, mountPath: /conf}
      volumes:
        - name: conf
          configMap: {name: web-conf}
"#;

const HPA: &str = r#"---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
"#;

struct Fx {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    config: PathBuf,
    kubeconfig: PathBuf,
    /// App name and destination namespace.
    app: String,
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(repo)
        .args([
            "-c",
            "user.name=Ignore Test",
            "-c",
            "user.email=ignore@test",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Fx {
    /// `spec` is YAML added under the Application's `spec` (indented by two), `sync_options` the
    /// App's sync options besides CreateNamespace, `config` TOML appended to config.toml.
    fn new(tag: &str, spec: &str, sync_options: &[&str], manifests: &str, config: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let app = format!(
            "ign-{tag}-{:x}{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let repo = root.join("repo");
        std::fs::create_dir_all(repo.join("deploy/gitops")).expect("mkdir");
        std::fs::create_dir_all(repo.join("manifests")).expect("mkdir");
        let mut options = vec!["CreateNamespace=true"];
        options.extend_from_slice(sync_options);
        let application = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {app}\nspec:\n  source:\n    repoURL: https://example.com/ignore.git\n    path: manifests\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {app}\n  syncPolicy:\n    automated: {{selfHeal: true}}\n    syncOptions: [{}]\n{spec}",
            options.join(", ")
        );
        std::fs::write(repo.join("deploy/gitops/app.yaml"), application).expect("write app");
        std::fs::write(repo.join("manifests/web.yaml"), manifests).expect("write manifests");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "web"]);
        let config_path = root.join("config.toml");
        std::fs::write(
            &config_path,
            format!(
                "[reconcile]\npoll_interval_secs = {POLL_SECS}\npoll_jitter_secs = 0\n\n{config}"
            ),
        )
        .expect("write config");
        Self {
            _dir: dir,
            root,
            repo,
            config: config_path,
            kubeconfig: support::kubeconfig_path(),
            app,
        }
    }

    fn sextant(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("sextant"));
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--repo")
            .arg(&self.repo)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("XDG_CACHE_HOME", self.root.join("cache"))
            .env("XDG_STATE_HOME", self.root.join("state"))
            .env("RUST_BACKTRACE", "0")
            .env("NO_COLOR", "1")
            .env_remove("SEXTANT_REPO")
            .env_remove("SEXTANT_CONFIG");
        cmd
    }

    /// Run sextant: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.sextant().args(args).output().expect("sextant runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?}:\n{err}\n{out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new(support::bin("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("-n")
            .arg(&self.app)
            .args(args)
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn live(&self, jsonpath: &str) -> String {
        self.kubectl(&[
            "get",
            "deployment",
            "web",
            "-o",
            &format!("jsonpath={{{jsonpath}}}"),
        ])
    }

    fn sync(&self) -> String {
        let (code, out, err) = self.run(&["app", "sync", &self.app, "--timeout", "3m"]);
        assert_eq!(code, 0, "sync failed:\n{err}\n{out}");
        assert!(out.contains("Phase:     Succeeded"), "{out}");
        err
    }

    fn history_len(&self) -> usize {
        self.json(&["app", "history", &self.app, "-o", "json"])
            .as_array()
            .map_or(0, Vec::len)
    }

    /// The App's sync status from `app list` and `app get`, which must agree.
    fn sync_status(&self) -> String {
        let list = self.json(&["app", "list", "-o", "json"]);
        let row = list
            .as_array()
            .and_then(|l| l.iter().find(|a| a["name"] == self.app.as_str()))
            .unwrap_or_else(|| panic!("{} not listed: {list}", self.app))
            .clone();
        let got = self.json(&["app", "get", &self.app, "-o", "json"]);
        assert_eq!(
            row["status"]["sync"], got["status"]["sync"],
            "list and get disagree:\n{row}\n{got}"
        );
        got["status"]["sync"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Asserts the App is Synced everywhere and `app diff` exits 0.
    fn assert_synced(&self, why: &str) {
        let (code, out, err) = self.run(&["app", "diff", &self.app]);
        assert_eq!(code, 0, "{why}: app diff must exit 0:\n{out}\n{err}");
        assert_eq!(self.sync_status(), "Synced", "{why}");
    }

    fn commit(&self, from: &str, to: &str, msg: &str) {
        let f = self.repo.join("manifests/web.yaml");
        let text = std::fs::read_to_string(&f).expect("read manifests");
        assert!(text.contains(from), "{from:?} not in the manifests");
        std::fs::write(&f, text.replacen(from, to, 1)).expect("write manifests");
        git(&self.repo, &["commit", "-q", "-am", msg]);
    }

    fn reconcile(&self) -> Reconcile {
        let mut child = self
            .sextant()
            .args(["--yes", "reconcile", "--no-fetch"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("reconcile starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Reconcile { child, rx }
    }

    /// Run `sextant reconcile` for its start plus two poll intervals and assert it neither
    /// operated on the App nor wrote history, and that `field` kept its live value.
    fn assert_reconcile_leaves_it(&self, field: &str, want: &str) {
        let history = self.history_len();
        let mut r = self.reconcile();
        // Start-up (first fetch and compare) is not part of the poll intervals.
        let window = Duration::from_secs(8 + 2 * POLL_SECS);
        let log = r.collect(window);
        assert_eq!(
            self.live(field),
            want,
            "reconcile changed {field}; log:\n{}",
            log.join("\n")
        );
        assert!(
            !log.iter()
                .any(|l| l.contains(&self.app) && l.contains("started")),
            "reconcile operated on ignored drift:\n{}",
            log.join("\n")
        );
        r.stop();
        assert_eq!(self.history_len(), history, "no history for ignored drift");
    }
}

struct Reconcile {
    child: Child,
    rx: std::sync::mpsc::Receiver<String>,
}

impl Reconcile {
    fn collect(&mut self, window: Duration) -> Vec<String> {
        let end = Instant::now() + window;
        let mut log = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(l) => log.push(l),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("reconcile exited early:\n{}", log.join("\n"))
                }
            }
        }
        log
    }

    fn stop(mut self) {
        // SIGTERM: the reconcile loop stops cleanly (cli_engine tests that path).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Reconcile {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

const REPLICAS_IGNORED: &str = "  ignoreDifferences:\n    - group: apps\n      kind: Deployment\n      jsonPointers: [/spec/replicas]\n";

/// Scale through the `/scale` subresource as the HPA controller does, with its field manager.
fn scale_as_hpa(f: &Fx, replicas: u32) {
    f.kubectl(&[
        "patch",
        "deployment",
        "web",
        "--subresource=scale",
        "--type=merge",
        "--field-manager=kube-controller-manager",
        "-p",
        &format!("{{\"spec\":{{\"replicas\":{replicas}}}}}"),
    ]);
}

#[test]
fn json_pointer_ignores_a_manual_scale_and_a_sync_applies_git() {
    let f = Fx::new("ptr", REPLICAS_IGNORED, &[], DEPLOYMENT, "");
    f.sync();
    f.assert_synced("just synced");
    f.kubectl(&["scale", "deployment", "web", "--replicas=6"]);
    f.assert_synced("only the ignored replicas differ");
    let (_, out, _) = f.run(&["app", "get", &f.app, "-o", "json"]);
    assert!(
        !out.contains("owned by another manager"),
        "the conflict on an ignored field is no finding:\n{out}"
    );
    f.assert_reconcile_leaves_it(".spec.replicas", "6");
    assert_eq!(f.history_len(), 1);
    // A manual sync without RespectIgnoreDifferences sets Git's value and says so first.
    let note = f.sync();
    assert!(
        note.contains("RespectIgnoreDifferences") && note.contains("/spec/replicas: 6 → 1"),
        "the sync must name the ignored field it overwrites:\n{note}"
    );
    assert_eq!(f.live(".spec.replicas"), "1");
    assert_eq!(f.history_len(), 2);
}

#[test]
fn a_live_change_diffs_as_cleanly_as_a_git_change() {
    let f = Fx::new("clean", "", &[], DEPLOYMENT, "");
    f.sync();
    f.kubectl(&["scale", "deployment", "web", "--replicas=5"]);
    let (code, out, err) = f.run(&["app", "diff", &f.app]);
    assert_eq!(code, 1, "a live change is a difference:\n{out}\n{err}");
    assert!(
        out.contains("-  replicas: 5") && out.contains("+  replicas: 1"),
        "{out}"
    );
    for default in [
        "resources: {}",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "defaultMode",
        "imagePullPolicy",
    ] {
        assert!(
            !out.contains(default),
            "server default {default:?} shown as a change:\n{out}"
        );
    }
    let changed: Vec<&str> = out
        .lines()
        .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---"))
        .filter(|l| !l.starts_with("+++"))
        .collect();
    assert_eq!(changed.len(), 2, "only replicas changes:\n{out}");
    assert_eq!(f.sync_status(), "OutOfSync");
}

#[test]
fn hpa_scaling_through_the_scale_subresource_is_ignored() {
    let manifests = format!("{DEPLOYMENT}{HPA}");
    let f = Fx::new("hpa", REPLICAS_IGNORED, &[], &manifests, "");
    f.sync();
    f.assert_synced("just synced");
    scale_as_hpa(&f, 3);
    assert_eq!(f.live(".spec.replicas"), "3");
    f.assert_synced("the HPA's replicas are ignored");
    f.assert_reconcile_leaves_it(".spec.replicas", "3");
}

#[test]
fn managed_fields_managers_ignore_what_the_hpa_controller_owns() {
    let spec = "  ignoreDifferences:\n    - group: apps\n      kind: Deployment\n      managedFieldsManagers: [kube-controller-manager]\n";
    let manifests = format!("{DEPLOYMENT}{HPA}");
    let f = Fx::new("mfm", spec, &[], &manifests, "");
    f.sync();
    scale_as_hpa(&f, 4);
    f.assert_synced("replicas owned by kube-controller-manager");
    f.assert_reconcile_leaves_it(".spec.replicas", "4");
    // The same change by another manager is drift.
    f.kubectl(&["scale", "deployment", "web", "--replicas=2"]);
    assert_eq!(f.run(&["app", "diff", &f.app]).0, 1);
    assert_eq!(f.sync_status(), "OutOfSync");
}

#[test]
fn jq_path_expression_ignores_a_container_image() {
    let spec = "  ignoreDifferences:\n    - group: apps\n      kind: Deployment\n      jqPathExpressions: ['.spec.template.spec.containers[].image']\n";
    let f = Fx::new("jq", spec, &[], DEPLOYMENT, "");
    f.sync();
    f.kubectl(&[
        "set",
        "image",
        "deployment/web",
        "web=registry.invalid/web:9",
    ]);
    f.assert_synced("only the ignored image differs");
    f.assert_reconcile_leaves_it(
        ".spec.template.spec.containers[0].image",
        "registry.invalid/web:9",
    );
    f.sync();
    assert_eq!(
        f.live(".spec.template.spec.containers[0].image"),
        "registry.invalid/web:1",
        "a sync without RespectIgnoreDifferences applies Git's image"
    );
}

#[test]
fn system_level_ignore_from_config() {
    let config = "[resource_customizations.ignore_differences.apps_Deployment]\njson_pointers = [\"/spec/replicas\"]\n";
    let f = Fx::new("sys", "", &[], DEPLOYMENT, config);
    f.sync();
    f.kubectl(&["scale", "deployment", "web", "--replicas=6"]);
    f.assert_synced("replicas ignored by config");
    f.assert_reconcile_leaves_it(".spec.replicas", "6");
}

#[test]
fn respect_ignore_differences_keeps_live_values_on_sync() {
    let f = Fx::new(
        "respect",
        REPLICAS_IGNORED,
        &["RespectIgnoreDifferences=true"],
        DEPLOYMENT,
        "",
    );
    f.sync();
    f.kubectl(&["scale", "deployment", "web", "--replicas=6"]);
    f.assert_synced("only the ignored replicas differ");
    // The reconcile loop leaves the ignored drift alone; as a control that it was comparing all
    // along, drift that is not ignored is self-healed in the same run, and the self-heal keeps
    // the live replicas too.
    let history = f.history_len();
    let mut r = f.reconcile();
    let log = r.collect(Duration::from_secs(8 + 2 * POLL_SECS));
    assert_eq!(f.live(".spec.replicas"), "6", "{}", log.join("\n"));
    assert!(
        !log.iter()
            .any(|l| l.contains(&f.app) && l.contains("started")),
        "reconcile operated on ignored drift:\n{}",
        log.join("\n")
    );
    assert_eq!(f.history_len(), history, "no history for ignored drift");
    f.kubectl(&[
        "set",
        "image",
        "deployment/web",
        "web=registry.invalid/web:7",
    ]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while f.live(".spec.template.spec.containers[0].image") != "registry.invalid/web:1" {
        assert!(
            Instant::now() < deadline,
            "real drift was not self-healed; log:\n{}",
            r.collect(Duration::from_millis(10)).join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    r.stop();
    assert_eq!(
        f.live(".spec.replicas"),
        "6",
        "self-heal kept the live replicas"
    );
    assert_eq!(f.history_len(), history + 1, "the self-heal is history");
    // A Git change: OutOfSync; the sync applies it and keeps the live replicas, with no note.
    f.commit("web:1", "web:2", "web 2");
    assert_eq!(f.run(&["app", "diff", &f.app]).0, 1);
    assert_eq!(f.sync_status(), "OutOfSync");
    let note = f.sync();
    assert!(!note.contains("/spec/replicas"), "{note}");
    assert_eq!(
        f.live(".spec.template.spec.containers[0].image"),
        "registry.invalid/web:2"
    );
    assert_eq!(f.live(".spec.replicas"), "6", "RespectIgnoreDifferences");
    f.assert_synced("synced with the live replicas kept");
}
