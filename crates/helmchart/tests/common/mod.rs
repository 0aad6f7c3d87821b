//! Shared test support: where the conformance suites live, and a small emulation of the
//! `helm template` command line on top of the native renderer (flags the suites use).

#![allow(dead_code)]

pub mod corpus;

use std::path::{Path, PathBuf};
use std::process::Command;

use helmchart::HelmFlavor;

/// The conformance directory: `$SEXTANT_CONFORMANCE_DIR` or `<workspace>/../shared/conformance`.
/// Panics with a clear message when missing (a conformance test never skips silently).
pub fn conformance_dir() -> PathBuf {
    let dir = std::env::var_os("SEXTANT_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/conformance"));
    assert!(
        dir.is_dir(),
        "conformance suites not found at {} — set SEXTANT_CONFORMANCE_DIR to the directory holding \
         helm-template-v3/, helm-template/ and helm-engine-funcs/",
        dir.display()
    );
    dir
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    // This module is also compiled into the main crate's tests: find the workspace root.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|p| p.join("crates/helmchart/Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or(here)
}

/// The real `helm` (v3) used as the oracle: `$SEXTANT_TEST_BIN_DIR/helm` or the one
/// `testcluster/bin-dir` names. Panics with how to build it when missing (never skips).
pub fn helm_binary() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEXTANT_TEST_BIN_DIR") {
        let p = PathBuf::from(dir).join("helm");
        assert!(
            p.is_file(),
            "SEXTANT_TEST_BIN_DIR is set but {} does not exist; build the test binaries with \
             `testcluster/build` from the repository root",
            p.display()
        );
        return p;
    }
    let script = repo_root().join("testcluster/bin-dir");
    let out = Command::new(&script).current_dir(repo_root()).output();
    if let Ok(out) = out
        && out.status.success()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let p = PathBuf::from(dir).join("helm");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "the helm binary for the differential test is missing: build it with `testcluster/build` \
         (from the repository root), or set SEXTANT_TEST_BIN_DIR to a directory holding helm v3"
    );
}

/// The Kubernetes version Helm's Go tests (and so the conformance goldens) assume.
pub const HELM_TEST_KUBE_VERSION: &str = "1.20.0";

/// The substance of a failed render's output: the message of its last `Error: ` line (helm may
/// print the failed manifest before it), else the whole text; trimmed. Two failures count as
/// the same failure only when these are equal: "both failed" alone proves nothing.
pub fn error_substance(output: &str) -> &str {
    output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Error: "))
        .unwrap_or(output)
        .trim()
}

/// What `helm template ARGS` prints (stdout and stderr together) and whether it failed.
pub struct CliResult {
    pub output: String,
    pub failed: bool,
}

/// The argv of a conformance case as the command should get it: Helm's goldens come from its
/// Go tests, which run without the release build's version ldflags, so their default
/// Kubernetes version is v1.20.0 (the released helm 3.22, and `sextant template`, assume
/// v1.36.0): the case gets `--kube-version 1.20.0` unless it names one. The v3 suite's
/// extraction also turned a `--name-template`'s `{{ }}` into `{ }` (Go fmt escaping): undone.
pub fn conformance_argv(argv: &[String]) -> Vec<String> {
    let mut out: Vec<String> = argv
        .iter()
        .map(|a| match a.strip_prefix("--name-template=") {
            Some(t) if !t.contains("{{") => {
                format!(
                    "--name-template={}",
                    t.replace('{', "{{").replace('}', "}}")
                )
            }
            _ => a.clone(),
        })
        .collect();
    if !out.iter().any(|a| a.starts_with("--kube-version")) {
        out.extend(["--kube-version".into(), HELM_TEST_KUBE_VERSION.into()]);
    }
    out
}

/// Runs `helm template` argv (without the leading `helm`) with the library code behind
/// `sextant template` ([`helmchart::cli::template`]), paths relative to `cwd`.
pub fn helm_template(argv: &[String], cwd: &Path, flavor: HelmFlavor) -> CliResult {
    let out = helmchart::cli::template(argv.get(1..).unwrap_or_default(), cwd, flavor);
    CliResult {
        output: format!("{}{}", out.stdout, out.stderr),
        failed: out.code != 0,
    }
}
