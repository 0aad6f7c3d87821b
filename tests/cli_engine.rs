//! The headless CLI (`sextant app ...`, `promote`, `reconcile`) run as the real binary against the
//! real control plane (tests/support). Each test works on a temporary git copy of assets/demo whose
//! App names and namespaces carry a unique prefix, so tests never see each other's history,
//! Leases or objects.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    config: PathBuf,
    kubeconfig: PathBuf,
    /// App names are `{prefix}-{env}`, namespaces too.
    prefix: String,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["-c", "user.name=CLI Test", "-c", "user.email=cli@test"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Fixture {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let kubeconfig = support::kubeconfig_path();
        let prefix = format!(
            "{name}-{:x}{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let repo = root.join("repo");
        copy_dir(&Path::new(WORKSPACE).join("assets/demo"), &repo);
        let appset = repo.join("deploy/gitops/argocd/applicationset.yaml");
        let text = std::fs::read_to_string(&appset)
            .unwrap()
            .replace("namespace: astromesh-", &format!("namespace: {prefix}-"))
            .replace(
                "name: astromesh-{{env}}",
                &format!("name: {prefix}-{{{{env}}}}"),
            );
        std::fs::write(&appset, text).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "demo"]);
        let config = root.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[render]\nrenderer = \"helm\"\nhelm_binary = {:?}\nkube_version = \"1.36.0\"\n\n[reconcile]\npoll_interval_secs = 3600\npoll_jitter_secs = 0\n",
                support::bin("helm").display().to_string()
            ),
        )
        .unwrap();
        Self {
            _dir: dir,
            root,
            repo,
            config,
            kubeconfig,
            prefix,
        }
    }

    fn app(&self, env: &str) -> String {
        format!("{}-{env}", self.prefix)
    }

    fn cmd_with(&self, kubeconfig: &Path) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("sextant").unwrap();
        self.env(&mut cmd, kubeconfig);
        cmd.timeout(Duration::from_secs(300));
        cmd
    }

    fn env(&self, cmd: &mut assert_cmd::Command, kubeconfig: &Path) {
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--repo")
            .arg(&self.repo)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env("XDG_CACHE_HOME", self.root.join("cache"))
            .env("XDG_STATE_HOME", self.root.join("state"))
            .env("RUST_BACKTRACE", "0")
            .env("NO_COLOR", "1")
            .env_remove("SEXTANT_REPO")
            .env_remove("SEXTANT_CONFIG");
    }

    fn cmd(&self) -> assert_cmd::Command {
        self.cmd_with(&self.kubeconfig)
    }

    /// Run and return (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?} failed:\n{err}\n{out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
    }

    /// `(name, spec.replicas)` of each Deployment in the env's namespace, read from the cluster
    /// with kubectl (a failed read fails the test).
    fn deployment_replicas(&self, env: &str) -> Vec<(String, i64)> {
        let out = Command::new(support::bin("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["get", "deployments", "-n", &self.app(env), "-o", "json"])
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl get deployments: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Value = serde_json::from_slice(&out.stdout).expect("kubectl JSON");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|d| {
                let name = d["metadata"]["name"].as_str().expect("name").to_string();
                (name, d["spec"]["replicas"].as_i64().expect("spec.replicas"))
            })
            .collect()
    }

    fn commit_values(&self, env: &str, from: &str, to: &str, msg: &str) {
        let f = self
            .repo
            .join(format!("deploy/helm/astromesh/values-{env}.yaml"));
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains(from), "{from:?} not in {}", f.display());
        std::fs::write(&f, text.replacen(from, to, 1)).unwrap();
        git(&self.repo, &["commit", "-q", "-am", msg]);
    }
}

fn assert_fails_with(out: (i32, String, String), code: i32, needle: &str) {
    let (c, stdout, stderr) = out;
    assert_eq!(c, code, "exit code; stderr:\n{stderr}\nstdout:\n{stdout}");
    assert!(
        stderr.contains(needle),
        "stderr should mention {needle:?}:\n{stderr}"
    );
}

#[test]
fn cli_app_commands_end_to_end() {
    let f = Fixture::new("cli-e2e");
    let dev = f.app("dev");
    let prod = f.app("prod");

    // list: argocd columns, every App OutOfSync before the first sync.
    let (code, out, err) = f.run(&["app", "list"]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    for col in [
        "NAME",
        "CLUSTER",
        "NAMESPACE",
        "PROJECT",
        "STATUS",
        "HEALTH",
        "SYNCPOLICY",
        "CONDITIONS",
    ] {
        assert!(header.contains(col), "{col} missing: {out}");
    }
    let row = out.lines().find(|l| l.starts_with(&dev)).expect("dev row");
    assert!(
        row.contains("OutOfSync") && row.contains("Auto-Prune"),
        "{out}"
    );
    let wide = f.run(&["app", "list", "-o", "wide"]).1;
    assert!(wide.lines().next().unwrap().contains("REVISION"), "{wide}");
    let list = f.json(&["app", "list", "-o", "json"]);
    let d = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == dev.as_str())
        .unwrap();
    assert_eq!(d["status"]["sync"], "OutOfSync", "{d}");
    assert_eq!(d["env"], "dev");

    // diff: 1 with differences, 0 with --exit-code=false.
    let (code, out, _) = f.run(&["app", "diff", "dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("====="), "{out}");
    assert_eq!(f.run(&["app", "diff", "dev", "--exit-code=false"]).0, 0);

    // get by env name, text and JSON.
    let (code, out, err) = f.run(&["app", "get", "dev", "--show-operation"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("Name:          {dev}")), "{out}");
    assert!(out.contains("Last Sync:") && out.contains("GROUP"), "{out}");
    let got = f.json(&["app", "get", &dev, "-o", "json"]);
    assert_eq!(got["status"]["sync"], "OutOfSync");
    assert!(!got["status"]["resources"].as_array().unwrap().is_empty());

    // Guards: protected env needs --yes; --readonly refuses.
    assert_fails_with(f.run(&["app", "sync", "prod"]), 1, "protected");
    assert_fails_with(
        f.run(&["--readonly", "app", "sync", "dev"]),
        1,
        "--readonly",
    );
    // Bad input: revision, resource filter, duration.
    assert_fails_with(
        f.run(&["app", "sync", "dev", "--revision", "no-such-rev"]),
        1,
        "no-such-rev",
    );
    assert_fails_with(
        f.run(&["app", "sync", "dev", "--timeout", "5x"]),
        2,
        "invalid duration",
    );
    assert_fails_with(
        f.run(&["app", "sync", "dev", "--resource", "Deployment"]),
        2,
        "GROUP:KIND:NAME",
    );

    // Sync for real, then Synced, no diff, one history entry.
    let (code, out, err) = f.run(&["app", "sync", "dev", "--prune", "--timeout", "3m"]);
    assert_eq!(code, 0, "sync failed:\n{err}\n{out}");
    assert!(out.contains("Phase:     Succeeded"), "{out}");
    assert_eq!(f.run(&["app", "diff", "dev"]).0, 0, "synced: no diff");
    let hist = f.json(&["app", "history", "dev", "-o", "json"]);
    assert_eq!(hist.as_array().unwrap().len(), 1, "{hist}");

    // A values commit, synced: a second history entry.
    f.commit_values(
        "dev",
        "replicaCount: 1",
        "replicaCount: 2",
        "dev: two replicas",
    );
    assert_eq!(f.run(&["app", "diff", "dev"]).0, 1, "new commit differs");
    // A dry run reports what would change and changes nothing.
    let (code, out, err) = f.run(&["app", "sync", "dev", "--dry-run"]);
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(out.contains("WouldConfigure"), "{out}");
    assert!(out.contains("(dry run)"), "{out}");
    assert_eq!(
        f.run(&["app", "diff", "dev"]).0,
        1,
        "dry run changed nothing"
    );

    let (code, out, err) = f.run(&["app", "sync", "dev", "-o", "json"]);
    assert_eq!(code, 0, "{err}\n{out}");
    let res: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(res["phase"], "Succeeded", "{res}");
    let (code, out, _) = f.run(&["app", "history", "dev"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ID"), "{out}");
    assert_eq!(out.lines().count(), 3, "header + 2 entries: {out}");

    // The values commit reached the cluster: exactly one Deployment (the runtime) runs 2.
    let scaled: Vec<String> = f
        .deployment_replicas("dev")
        .into_iter()
        .filter(|(_, n)| *n == 2)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(scaled.len(), 1, "one Deployment at 2 replicas: {scaled:?}");

    // Rollback: refused while auto-sync is on; works after `set --sync-policy none`.
    assert_fails_with(f.run(&["app", "rollback", "dev"]), 1, "auto-sync");
    let (code, out, err) = f.run(&["app", "set", "dev", "--sync-policy", "none"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("auto-sync none"), "{out}");
    let (code, out, err) = f.run(&["app", "rollback", "dev", "1"]);
    assert_eq!(code, 0, "rollback failed:\n{err}\n{out}");
    assert!(out.contains("Rollback"), "{out}");
    // History entry 1 had `replicaCount: 1`: the cluster runs that again.
    let live = f.deployment_replicas("dev");
    assert!(
        live.iter().any(|(name, n)| *name == scaled[0] && *n == 1),
        "after the rollback {} should have 1 replica: {live:?}",
        scaled[0]
    );
    let got = f.json(&["app", "get", "dev", "-o", "json"]);
    assert_eq!(got["status"]["autoSync"]["overridden"], true);
    assert_fails_with(
        f.run(&["app", "set", "dev", "--sync-policy", "none", "--self-heal"]),
        1,
        "only apply with --sync-policy automated",
    );
    assert_eq!(f.run(&["app", "set", "dev", "--sync-policy", "git"]).0, 0);
    let got = f.json(&["app", "get", "dev", "-o", "json"]);
    assert_eq!(got["status"]["autoSync"]["overridden"], false, "{got}");

    // Unknown app lists the known ones.
    let (code, _, err) = f.run(&["app", "get", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown app `nope`") && err.contains(&prod),
        "{err}"
    );
    // Secret values in outputs: cli_no_secret_value_in_any_output (the demo has no Secret).
}

#[test]
fn cli_ambiguous_env_and_promote_errors() {
    let f = Fixture::new("cli-amb");
    // A second App in env "dev", declared in config.
    let extra = format!(
        "\n[[apps]]\nname = \"{p}-extra\"\nenv = \"dev\"\npath = \"deploy/helm/astromesh\"\nvalue_files = [\"values-dev.yaml\"]\nnamespace = \"{p}-extra\"\n",
        p = f.prefix
    );
    let mut cfg = std::fs::read_to_string(&f.config).unwrap();
    // [[apps]] must follow the tables; append at the end.
    cfg.push_str(&extra);
    std::fs::write(&f.config, cfg).unwrap();
    let (code, _, err) = f.run(&["app", "get", "dev"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ambiguous") && err.contains(&f.app("dev")) && err.contains("extra"),
        "{err}"
    );
    assert_eq!(f.run(&["app", "diff", "dev"]).0, 2, "diff errors exit 2");

    assert_fails_with(
        f.run(&["promote", "dev", "qa"]),
        1,
        "unknown environment `qa`",
    );
    assert_fails_with(f.run(&["promote", "dev", "dev"]), 1, "same environment");
    assert_fails_with(
        f.run(&["--readonly", "promote", "dev", "staging"]),
        1,
        "--readonly",
    );
    assert_fails_with(f.run(&["promote", "staging", "prod"]), 1, "protected");
}

/// A kubeconfig like the fixture's but pointing at a port nothing listens on.
fn unreachable_kubeconfig(f: &Fixture) -> PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = std::fs::read_to_string(&f.kubeconfig).unwrap();
    let re_server = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("server:") {
                let indent = &l[..l.len() - l.trim_start().len()];
                format!("{indent}server: https://127.0.0.1:{port}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = f.root.join("closed-port.kubeconfig");
    std::fs::write(&path, re_server).unwrap();
    path
}

#[test]
fn cli_cluster_unreachable() {
    let f = Fixture::new("cli-down");
    let kc = unreachable_kubeconfig(&f);
    let run = |args: &[&str]| {
        let out = f
            .cmd_with(&kc)
            .args(args)
            .args(["--compare-timeout", "90s"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_fails_with(run(&["app", "get", "dev"]), 1, "unreachable");
    assert_fails_with(run(&["app", "diff", "dev"]), 2, "unreachable");
    assert_fails_with(run(&["app", "sync", "dev"]), 1, "unreachable");
    // list still lists, with the reason as a condition.
    let (code, out, err) = run(&["app", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ClusterError"), "{out}");
    assert!(err.contains("unreachable"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_forbidden_for_view_only_user() {
    use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
    use kube::api::{Api, ObjectMeta, PostParams};
    let f = Fixture::new("cli-rbac");
    let user = format!("viewer-{}", f.prefix);
    let kc = support::client_cert_kubeconfig(&user, &[]);
    let crb = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(user.clone()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "view".into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "User".into(),
            name: user.clone(),
            namespace: None,
        }]),
    };
    Api::<ClusterRoleBinding>::all(support::client().await)
        .create(&PostParams::default(), &crb)
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let out = f
            .cmd_with(&kc)
            .args(["app", "sync", "dev"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap();
    let (code, stdout, stderr) = out;
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.to_lowercase().contains("forbidden") || stdout.to_lowercase().contains("forbidden"),
        "stderr: {stderr}\nstdout: {stdout}"
    );
}

/// POST `body` with `headers` to `addr` and return (status, body).
fn post(addr: &str, headers: &[(&str, String)], body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "POST /api/webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_reconcile_webhook_signed_and_unsigned() {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, ListParams};
    let f = Fixture::new("cli-hook");
    let secret = "s3cr3t-for-tests";
    let bin = assert_cmd::cargo::cargo_bin("sextant");
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(&f.config)
        .arg("--repo")
        .arg(&f.repo)
        .arg("--kubeconfig")
        .arg(&f.kubeconfig)
        .args(["--yes", "reconcile", "--webhook-listen", "127.0.0.1:0"])
        .env("XDG_CACHE_HOME", f.root.join("cache"))
        .env("XDG_STATE_HOME", f.root.join("state"))
        .env("SEXTANT_WEBHOOK_SECRET", secret)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut log = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("no webhook address; log:\n{}", log.join("\n")));
        log.push(line.clone());
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches("/api/webhook").to_string();
        }
    };
    // The secret never appears in the log.
    assert!(!log.iter().any(|l| l.contains(secret)));

    let dev_ns = f.app("dev");
    let client = support::client().await;
    let deployments: Api<Deployment> = Api::namespaced(client, &dev_ns);
    // Auto-sync brings dev up (automated in the ApplicationSet).
    let replicas = |want: i32| {
        let deployments = deployments.clone();
        async move {
            let list = deployments
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            if list
                .items
                .iter()
                .any(|d| d.spec.as_ref().and_then(|s| s.replicas) == Some(want))
            {
                Ok(())
            } else {
                Err(format!(
                    "replicas: {:?}",
                    list.items
                        .iter()
                        .map(|d| d.spec.as_ref().and_then(|s| s.replicas))
                        .collect::<Vec<_>>()
                ))
            }
        }
    };
    support::wait_until("auto-sync of dev", Duration::from_secs(240), || replicas(1)).await;

    let payload = serde_json::json!({
        "ref": "refs/heads/main",
        "after": "0000000000000000000000000000000000000000",
        "repository": {"clone_url": "https://github.com/example/astromesh-gitops.git"}
    })
    .to_string();
    let a = addr.clone();
    let p = payload.clone();
    let (unsigned, bad, wrong_token) = tokio::task::spawn_blocking(move || {
        (
            post(&a, &[("X-GitHub-Event", "push".into())], &p),
            post(
                &a,
                &[
                    ("X-GitHub-Event", "push".into()),
                    ("X-Hub-Signature-256", format!("sha256={}", "00".repeat(32))),
                ],
                &p,
            ),
            post(
                &a,
                &[
                    ("X-Gitlab-Event", "Push Hook".into()),
                    ("X-Gitlab-Token", "wrong".into()),
                ],
                &p,
            ),
        )
    })
    .await
    .unwrap();
    assert_eq!(unsigned.0, 401, "{unsigned:?}");
    assert_eq!(bad.0, 401, "{bad:?}");
    assert_eq!(wrong_token.0, 401, "{wrong_token:?}");

    // A new commit, announced by a signed push: dev reconciles long before the 1 h poll.
    f.commit_values(
        "dev",
        "replicaCount: 1",
        "replicaCount: 2",
        "dev: two replicas",
    );
    let sign = |body: &str| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::sign(&key, body.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    // A signed push to another branch of the same repository: acknowledged (200), no App
    // tracks it, nothing is fetched or synced.
    let other_branch = serde_json::json!({
        "ref": "refs/heads/feature/x",
        "after": "1111111111111111111111111111111111111111",
        "repository": {
            "clone_url": "https://github.com/example/astromesh-gitops.git",
            "default_branch": "main"
        }
    })
    .to_string();
    let other_sig = sign(&other_branch);
    let a = addr.clone();
    let ignored = tokio::task::spawn_blocking(move || {
        post(
            &a,
            &[
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", format!("sha256={other_sig}")),
            ],
            &other_branch,
        )
    })
    .await
    .unwrap();
    assert_eq!(ignored.0, 200, "{ignored:?}");
    let body: Value = serde_json::from_str(ignored.1.trim()).unwrap();
    assert_eq!(body["apps"], serde_json::json!([]), "{body}");
    assert_eq!(body["ref"], "refs/heads/feature/x", "{body}");
    tokio::time::sleep(Duration::from_secs(8)).await;
    replicas(1)
        .await
        .expect("a push to another branch must not reconcile dev");

    let sig = sign(&payload);
    let a = addr.clone();
    let started = Instant::now();
    let ok = tokio::task::spawn_blocking(move || {
        post(
            &a,
            &[
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", format!("sha256={sig}")),
            ],
            &payload,
        )
    })
    .await
    .unwrap();
    assert_eq!(ok.0, 202, "{ok:?}");
    assert!(ok.1.contains(&f.app("dev")), "{ok:?}");
    support::wait_until(
        "webhook-triggered sync of dev",
        Duration::from_secs(120),
        || replicas(2),
    )
    .await;
    eprintln!(
        "webhook → dev reconciled in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // SIGTERM stops it cleanly.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("reconcile did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn cli_reconcile_guards() {
    let f = Fixture::new("cli-guard");
    assert_fails_with(f.run(&["--readonly", "reconcile"]), 1, "--readonly");
    assert_fails_with(f.run(&["reconcile"]), 1, "--yes");
    // Protected env: refused without --yes, done with it (and reversible).
    assert_fails_with(
        f.run(&["app", "set", "prod", "--sync-policy", "none"]),
        1,
        "protected",
    );
    assert_fails_with(f.run(&["app", "rollback", "prod", "1"]), 1, "protected");
    // --readonly refuses every mutating command, protected or not, --yes or not.
    for args in [
        &["--readonly", "app", "set", "dev", "--sync-policy", "none"][..],
        &["--readonly", "app", "rollback", "dev", "1"],
        &["--readonly", "--yes", "app", "sync", "prod"],
    ] {
        assert_fails_with(f.run(args), 1, "--readonly");
    }
    let (code, out, err) = f.run(&["--yes", "app", "set", "prod", "--sync-policy", "none"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("auto-sync none") && out.contains("override"),
        "{out}"
    );
    let (code, out, err) = f.run(&["-y", "app", "set", "prod", "--sync-policy", "git"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(from Git)"), "{out}");
    let out = f
        .cmd()
        .args(["--yes", "reconcile", "--webhook-listen", "127.0.0.1:0"])
        .env_remove("SEXTANT_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SEXTANT_WEBHOOK_SECRET"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cli_promote_dev_to_staging() {
    let f = Fixture::new("cli-promo");
    // --dry-run lists the differences by key path and changes nothing.
    let head = || {
        let out = Command::new("git")
            .current_dir(&f.repo)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = head();
    let plan = f.json(&[
        "promote",
        "dev",
        "staging",
        "--dry-run",
        "--key",
        "runtime.logLevel",
        "-o",
        "json",
    ]);
    let changes = plan["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["key"] == "runtime.logLevel"
            && c["change"] == "changed"
            && c["selected"] == true),
        "{plan}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["key"] == "replicaCount" && c["selected"] == false),
        "{plan}"
    );
    assert_eq!(head(), before, "dry run commits nothing");

    // A real promotion: one commit naming the key and the source env; staging's next revision.
    let (code, out, err) = f.run(&[
        "promote",
        "dev",
        "staging",
        "--key",
        "runtime.logLevel",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let after = head();
    assert_ne!(after, before);
    assert_eq!(v["commit"]["sha"], after.as_str(), "{v}");
    let log = Command::new("git")
        .current_dir(&f.repo)
        .args(["log", "-1", "--format=%B"])
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&log.stdout);
    assert!(
        msg.contains("runtime.logLevel") && msg.contains("dev"),
        "{msg}"
    );
    let values =
        std::fs::read_to_string(f.repo.join("deploy/helm/astromesh/values-staging.yaml")).unwrap();
    assert!(values.contains("logLevel: debug"), "{values}");
    assert!(values.starts_with("# Staging:"), "comments kept: {values}");

    // Promoting into prod (protected) needs --yes.
    assert_fails_with(f.run(&["promote", "staging", "prod"]), 1, "protected");
}

/// `app get --show-operation` shows the last operation as recorded in the cluster, from another
/// process: a failed sync (an object the API server rejects) as Failed with its message, a later
/// successful one as Succeeded with its resources, and one in progress elsewhere (its lease held)
/// as Running with who and since.
#[tokio::test(flavor = "multi_thread")]
async fn cli_show_operation_records_failed_and_succeeded_syncs() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Api, ObjectMeta, PostParams};
    let f = Fixture::new("cli-opst");
    let dev = f.app("dev");
    let invalid = f
        .repo
        .join("deploy/helm/astromesh/templates/zz-invalid.yaml");
    // Upper case and `_` are not allowed in object names: the API server rejects it at sync.
    std::fs::write(
        &invalid,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\ndata:\n  a: b\n",
    )
    .unwrap();
    git(&f.repo, &["add", "-A"]);
    git(&f.repo, &["commit", "-q", "-m", "an invalid object"]);

    let f = std::sync::Arc::new(f);
    let run = |args: &'static [&'static str]| {
        let f = f.clone();
        async move {
            tokio::task::spawn_blocking(move || f.run(args))
                .await
                .unwrap()
        }
    };

    let (code, out, err) = run(&["app", "sync", "dev", "--timeout", "3m"]).await;
    assert_eq!(code, 1, "the sync must fail:\n{err}\n{out}");
    assert!(out.contains("Phase:     Failed"), "{out}");

    // Another process reads what happened.
    let (code, out, err) = run(&["app", "get", "dev", "--show-operation"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Operation:     Sync"), "{out}");
    assert!(out.contains("Phase:         Failed"), "{out}");
    assert!(
        out.contains("Not_A_Valid_Name"),
        "the failed resource is listed: {out}"
    );
    let (code, out, err) = run(&["app", "get", "dev", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    let op = &got["status"]["operationState"];
    assert_eq!(op["phase"], "Failed", "{op}");
    assert_eq!(op["kind"], "Sync", "{op}");
    assert!(
        op["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{op}"
    );
    assert!(
        op["initiatedBy"].as_str().is_some_and(|u| u.contains('@')),
        "{op}"
    );
    assert!(op["finishedAt"].is_string(), "{op}");
    assert_eq!(op["historyId"], Value::Null, "a failure records no history");
    let failed = op["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Not_A_Valid_Name")
        .unwrap_or_else(|| panic!("no result for the invalid object: {op}"));
    assert_eq!(failed["result"], "Failed", "{failed}");
    assert!(op["summary"]["Failed"].as_u64() >= Some(1), "{op}");
    assert_eq!(
        op["resources"][0]["result"], "Failed",
        "failures are listed first: {op}"
    );

    // Fixed in Git; a successful sync replaces the record.
    std::fs::remove_file(&invalid).unwrap();
    git(&f.repo, &["commit", "-q", "-am", "drop the invalid object"]);
    let (code, out, err) = run(&["app", "sync", "dev", "--prune", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}\n{out}");
    // Progress goes to stderr; stdout is the result document alone.
    assert!(err.contains(&format!("Sync {dev} at ")), "{err}");
    assert!(err.contains("[1/"), "per-resource progress: {err}");
    let doc: Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(doc["phase"], "Succeeded", "{doc}");
    let (code, out, err) = run(&["app", "get", "dev", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    let op = &got["status"]["operationState"];
    assert_eq!(op["phase"], "Succeeded", "{op}");
    assert!(op["prune"].as_bool().unwrap(), "options recorded: {op}");
    assert_eq!(op["historyId"], 1, "{op}");
    assert_eq!(
        op["revision"]["sha"], got["status"]["revision"]["sha"],
        "{op}"
    );
    let resources = op["resources"].as_array().unwrap();
    assert!(
        resources
            .iter()
            .any(|r| r["kind"] == "Deployment" && r["result"] != "Failed"),
        "{op}"
    );
    assert!(resources.iter().all(|r| r["result"] != "Failed"), "{op}");
    let (code, out, _) = run(&["app", "get", "dev", "--show-operation"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("Phase:         Succeeded"), "{out}");
    assert!(out.contains("History:       id 1"), "{out}");

    // Someone else's operation in progress (their lease held): Running, with who and since.
    let leases: Api<Lease> = Api::namespaced(support::client().await, "sextant-system");
    let now = k8s_openapi::jiff::Timestamp::now();
    leases
        .create(
            &PostParams::default(),
            &Lease {
                metadata: ObjectMeta {
                    name: Some(format!("sextant-op-{dev}")),
                    ..ObjectMeta::default()
                },
                spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                    holder_identity: Some("bob@elsewhere rollback #00000000000000aa".into()),
                    lease_duration_seconds: Some(60),
                    acquire_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                        now,
                    )),
                    renew_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                        now,
                    )),
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap();
    let (code, out, err) = run(&["app", "get", "dev", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    let op = &got["status"]["operationState"];
    assert_eq!(op["phase"], "Running", "{op}");
    assert_eq!(op["kind"], "Rollback", "{op}");
    assert_eq!(op["initiatedBy"], "bob@elsewhere", "{op}");
    assert!(
        op["startedAt"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{op}"
    );
    let (_, out, _) = run(&["app", "get", "dev", "--show-operation"]).await;
    assert!(
        out.contains("Phase:         Running") && out.contains("bob@elsewhere"),
        "{out}"
    );
    // And a sync meanwhile is refused with who holds it.
    let (code, _, err) = run(&["app", "sync", "dev"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("bob@elsewhere"), "{err}");

    // Bob's process died mid-operation: its record says Running, its lease is gone. Readers
    // see an Error that names him instead of an operation running forever.
    leases
        .delete(&format!("sextant-op-{dev}"), &Default::default())
        .await
        .unwrap();
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(support::client().await, "sextant-system");
    let record = serde_json::json!({
        "id": "bob@elsewhere sync #00000000000000bb", "kind": "Sync", "phase": "Running",
        "message": "operation in progress", "initiatedBy": "bob@elsewhere",
        "startedAt": "2026-01-01T00:00:00Z", "finishedAt": null,
        "revision": {"sha": "0123456789012345678901234567890123456789", "subject": "x"},
    });
    configmaps
        .patch(
            &format!("sextant-operation-{dev}"),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                serde_json::json!({"data": {"operation": record.to_string()}}),
            ),
        )
        .await
        .unwrap();
    let (code, out, err) = run(&["app", "get", "dev", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    let op = &got["status"]["operationState"];
    assert_eq!(op["phase"], "Error", "{op}");
    assert!(
        op["message"]
            .as_str()
            .is_some_and(|m| m.contains("bob@elsewhere") && m.contains("never recorded")),
        "{op}"
    );
}

/// No Secret value, plain or base64, appears in any output format of any command: rendered
/// manifests, diffs (before the first sync and after live drift), `app get`, the sync result and
/// the recorded operation.
#[tokio::test(flavor = "multi_thread")]
async fn cli_no_secret_value_in_any_output() {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, Patch, PatchParams};
    let f = Fixture::new("cli-secret");
    let b64 = |s: &str| {
        // Standard base64 with padding, enough for the short ASCII values below.
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = s.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    };
    assert_eq!(b64("secret"), "c2VjcmV0");
    let plain = "hunter2-plain-XYZ";
    let token = "tok-value-QRS";
    let drift = "drift-value-LMN";
    std::fs::write(
        f.repo.join("deploy/helm/astromesh/templates/zz-secret.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cli-secret-creds\ntype: Opaque\nstringData:\n  password: {plain}\ndata:\n  token: {}\n",
            b64(token)
        ),
    )
    .unwrap();
    git(&f.repo, &["add", "-A"]);
    git(&f.repo, &["commit", "-q", "-m", "a secret"]);
    let forbidden: Vec<String> = [plain, token, drift]
        .iter()
        .flat_map(|v| [v.to_string(), b64(v)])
        .collect();
    let f = std::sync::Arc::new(f);
    let check = |args: Vec<&'static str>| {
        let f = f.clone();
        let forbidden = forbidden.clone();
        async move {
            let (code, out, err) = tokio::task::spawn_blocking(move || f.run(&args))
                .await
                .unwrap();
            for v in &forbidden {
                assert!(
                    !out.contains(v.as_str()) && !err.contains(v.as_str()),
                    "{v:?} leaked (exit {code}):\nstdout:\n{out}\nstderr:\n{err}"
                );
            }
            (code, out, err)
        }
    };
    let (code, out, _) = check(vec!["app", "manifests", "dev"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("cli-secret-creds"),
        "the Secret is rendered: {out}"
    );
    check(vec!["app", "manifests", "dev", "-o", "json"]).await;
    let (code, out, _) = check(vec!["app", "diff", "dev"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cli-secret-creds"), "{out}");
    check(vec!["app", "diff", "dev", "-o", "json"]).await;
    check(vec!["app", "get", "dev", "-o", "yaml"]).await;
    let (code, out, err) = check(vec!["app", "sync", "dev", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}\n{out}");
    check(vec!["app", "get", "dev", "--show-operation"]).await;
    check(vec!["app", "get", "dev", "-o", "json"]).await;

    // Live drift of the Secret: the diff shows that it changed, never the values.
    let secrets: Api<Secret> = Api::namespaced(support::client().await, &f.app("dev"));
    secrets
        .patch(
            "cli-secret-creds",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"token": b64(drift)}})),
        )
        .await
        .unwrap();
    let (code, out, _) = check(vec!["app", "diff", "dev"]).await;
    assert_eq!(code, 1, "drift is a difference: {out}");
    assert!(
        out.contains("cli-secret-creds") && out.contains("++++"),
        "{out}"
    );
    check(vec!["app", "diff", "dev", "-o", "yaml"]).await;
}
