//! Shared fixture for integration tests that need a real Kubernetes control
//! plane (etcd + kube-apiserver + kube-controller-manager + kube-scheduler +
//! kwok faking one node), built from Go modules by `testcluster/build`.
//!
//! Use it from any integration test with `mod support;`:
//!
//! ```ignore
//! mod support;
//!
//! #[tokio::test]
//! async fn applies_something() {
//!     let client = support::client().await;
//!     let ns = support::namespace("applies-something").await;
//!     // ... talk to the apiserver in `ns` ...
//! }
//! ```
//!
//! One control plane serves a whole test binary (or, under `scripts/test-all`,
//! the whole run); tests isolate themselves by namespace.
//!
//! * `SEXTANT_TEST_KUBECONFIG` set: that cluster is used. It should be the
//!   `DIR/kubeconfig` written by `testcluster/up DIR`; the CA key and the
//!   apiserver stop/start helpers then work through `DIR`.
//! * Otherwise the first call to [`cluster`] runs `testcluster/build` and
//!   `testcluster/up` into a fresh temporary directory. `up --watch-pid` leaves
//!   a watchdog that stops the control plane when this test process exits, so
//!   nothing leaks even if the process is killed.
//! * If the control plane cannot start, the calling test panics with the
//!   script output (never skips, in CI or not).
//! * `SEXTANT_TEST_BIN_DIR` overrides where helm, kubectl, ... are found
//!   (default: the output of `testcluster/build`).
#![allow(dead_code)] // each test binary uses a different subset

pub mod chartrepo;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The repository root (this fixture belongs to the root crate).
const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

/// A running control plane.
#[derive(Debug)]
pub struct TestCluster {
    /// `DIR/kubeconfig` (admin, `system:masters`, context `sextant-test`).
    kubeconfig: PathBuf,
    /// The `testcluster/up` state directory: pki, logs, pids.
    dir: PathBuf,
    /// Whether this process started it (and its watchdog stops it).
    owned: bool,
}

impl TestCluster {
    /// Admin kubeconfig with embedded certificate data.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The `testcluster/up` directory (`pki/`, `logs/`, `pids/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this test process started the control plane.
    pub fn owned(&self) -> bool {
        self.owned
    }

    /// A new admin client. Build one per test: a `kube::Client` is bound to
    /// the tokio runtime it was created on, and each `#[tokio::test]` has its
    /// own runtime.
    pub async fn client(&self) -> Client {
        client_for(&self.kubeconfig).await
    }

    /// Writes a kubeconfig for `user` in `groups`, authenticated by a client
    /// certificate signed by the cluster CA, and returns its path. The user
    /// has no permissions until a RoleBinding grants some (RBAC tests).
    pub fn client_cert_kubeconfig(&self, user: &str, groups: &[&str]) -> PathBuf {
        let script = testcluster_script("user-kubeconfig");
        let mut cmd = Command::new(&script);
        cmd.arg(&self.dir).arg(user).args(groups);
        let stdout = run_script(&mut cmd, "mint a user kubeconfig");
        last_line_path(&stdout, "testcluster/user-kubeconfig").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Stops kube-apiserver only (etcd and the controllers keep running) for
    /// fault-injection tests. Pair with [`TestCluster::start_apiserver`].
    /// Tests doing this must not share the cluster with concurrently running
    /// tests that expect it to be up: put them in their own test binary.
    pub fn stop_apiserver(&self) {
        let mut cmd = Command::new(testcluster_script("apiserver-stop"));
        cmd.arg(&self.dir);
        run_script(&mut cmd, "stop kube-apiserver");
    }

    /// Restarts kube-apiserver with the same flags and port and waits for
    /// `/readyz`.
    pub fn start_apiserver(&self) {
        let mut cmd = Command::new(testcluster_script("apiserver-start"));
        cmd.arg(&self.dir);
        run_script(&mut cmd, "start kube-apiserver");
    }
}

// Failures are cached too: when the control plane cannot start, every test
// fails at once with the same message instead of retrying a slow start-up.
static CLUSTER: OnceLock<Result<TestCluster, String>> = OnceLock::new();
static BIN_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The control plane for this test process, started on first use.
///
/// Blocking (it may build and start the control plane on first use, which
/// takes about half a minute warm); fine to call from async tests.
pub fn cluster() -> &'static TestCluster {
    let cluster = CLUSTER.get_or_init(|| match std::env::var_os("SEXTANT_TEST_KUBECONFIG") {
        Some(path) if !path.is_empty() => {
            let kubeconfig = PathBuf::from(path);
            if !kubeconfig.is_file() {
                return Err(format!(
                    "SEXTANT_TEST_KUBECONFIG={} does not exist; unset it to let the tests \
                     start their own control plane",
                    kubeconfig.display()
                ));
            }
            let dir = kubeconfig
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            Ok(TestCluster {
                kubeconfig,
                dir,
                owned: false,
            })
        }
        _ => start_own_cluster(),
    });
    match cluster {
        Ok(cluster) => cluster,
        Err(message) => panic!("no test control plane: {message}"),
    }
}

fn start_own_cluster() -> Result<TestCluster, String> {
    let bin = try_bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("sextant-testcluster-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory for the control plane: {e}"))?
        // The watchdog and the logs outlive this handle; the directory is
        // reported on failure and its etcd data removed by the watchdog.
        .keep();
    let started = Instant::now();
    let mut cmd = Command::new(testcluster_script("up"));
    cmd.arg(&dir)
        .arg("--watch-pid")
        .arg(std::process::id().to_string())
        .env("SEXTANT_TEST_BIN_DIR", bin);
    let stdout = try_run_script(&mut cmd, "start the test control plane")?;
    let kubeconfig = last_line_path(&stdout, "testcluster/up")?;
    eprintln!(
        "support: control plane up in {:.1}s at {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(TestCluster {
        kubeconfig,
        dir,
        owned: true,
    })
}

/// Path of the admin kubeconfig (starts the control plane if needed).
pub fn kubeconfig_path() -> PathBuf {
    cluster().kubeconfig.clone()
}

/// A new admin client for the test control plane.
pub async fn client() -> Client {
    cluster().client().await
}

/// A client authenticated by the kubeconfig at `path`.
pub async fn client_for(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("cannot read kubeconfig {}: {e}", path.display()));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("invalid kubeconfig {}: {e}", path.display()));
    Client::try_from(config)
        .unwrap_or_else(|e| panic!("cannot build a client from {}: {e}", path.display()))
}

/// See [`TestCluster::client_cert_kubeconfig`].
pub fn client_cert_kubeconfig(user: &str, groups: &[&str]) -> PathBuf {
    cluster().client_cert_kubeconfig(user, groups)
}

/// See [`TestCluster::stop_apiserver`].
pub fn stop_apiserver() {
    cluster().stop_apiserver();
}

/// See [`TestCluster::start_apiserver`].
pub fn start_apiserver() {
    cluster().start_apiserver();
}

/// Directory holding the control-plane tools (`helm`, `kubectl`, `kwok`,
/// `etcd`, `kube-apiserver`, ...): `SEXTANT_TEST_BIN_DIR`, else the output of
/// `testcluster/build` (which builds them if needed, ~20 min cold).
pub fn bin_dir() -> &'static Path {
    match try_bin_dir() {
        Ok(dir) => dir,
        Err(message) => panic!("no test control-plane binaries: {message}"),
    }
}

fn try_bin_dir() -> Result<&'static Path, String> {
    let dir = BIN_DIR.get_or_init(|| match std::env::var_os("SEXTANT_TEST_BIN_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => {
            let mut cmd = Command::new(testcluster_script("build"));
            let stdout = try_run_script(&mut cmd, "build the test control plane")?;
            last_line_path(&stdout, "testcluster/build")
        }
    });
    dir.as_deref().map_err(Clone::clone)
}

/// Path of one tool from [`bin_dir`], e.g. `bin("helm")`. Panics if absent.
pub fn bin(tool: &str) -> PathBuf {
    let path = bin_dir().join(tool);
    assert!(
        path.is_file(),
        "{} does not exist: run testcluster/build (or fix SEXTANT_TEST_BIN_DIR)",
        path.display()
    );
    path
}

/// Creates a namespace named after `prefix` plus a unique suffix and returns
/// its name. Every test should work in its own namespace; namespaces are not
/// deleted afterwards (the control plane is thrown away after the run).
pub async fn namespace(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let api: Api<Namespace> = Api::all(client().await);
    let base = sanitize_dns_label(prefix, 40);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{base}-{:x}-{n}", std::process::id());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([("sextant.io/test".to_string(), "true".to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => return name,
            // Another process with a recycled PID used this name; try the next.
            Err(kube::Error::Api(status)) if status.is_already_exists() => continue,
            Err(e) => panic!("cannot create namespace {name}: {e}"),
        }
    }
}

/// Polls `check` every 250 ms until it returns `Some`, or panics after
/// `timeout` with `what` and the last observed state (`check` returns
/// `Err(description)` while not there yet).
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Lower-case, `[a-z0-9-]`, starts and ends alphanumeric, at most `max` chars.
fn sanitize_dns_label(prefix: &str, max: usize) -> String {
    let mut out: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .take(max)
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    let trimmed = out.trim_start_matches('-');
    if trimmed.is_empty() {
        "test".to_string()
    } else {
        trimmed.to_string()
    }
}

fn testcluster_script(name: &str) -> PathBuf {
    Path::new(WORKSPACE).join("testcluster").join(name)
}

/// Runs a testcluster script, panicking with its output if it fails.
fn run_script(cmd: &mut Command, what: &str) -> String {
    try_run_script(cmd, what).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a testcluster script; on failure the error carries its output.
fn try_run_script(cmd: &mut Command, what: &str) -> Result<String, String> {
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {:?} to {what}: {e}", cmd.get_program()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ci = if std::env::var_os("CI").is_some() {
        " (CI is set: control-plane tests never skip)"
    } else {
        ""
    };
    Err(format!(
        "failed to {what}{ci}: {:?} exited with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        cmd.get_program(),
        output.status
    ))
}

fn last_line_path(stdout: &str, script: &str) -> Result<PathBuf, String> {
    stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|line| PathBuf::from(line.trim()))
        .ok_or_else(|| format!("{script} printed no path on stdout"))
}
