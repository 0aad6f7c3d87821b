//! Shared test support: where the conformance suites live, and a small emulation of the
//! `helm template` command line on top of the native renderer (flags the suites use).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use helmchart::{Chart, HelmFlavor, RenderError, RenderOptions, render};

/// The conformance directory: `$SEXTANT_CONFORMANCE_DIR` or `<workspace>/../shared/conformance`.
/// Panics with a clear message when missing (a conformance test never skips silently).
pub fn conformance_dir() -> PathBuf {
    let dir = std::env::var_os("SEXTANT_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        });
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
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
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

/// What `helm template ARGS` prints (stdout and stderr together) and whether it failed.
pub struct CliResult {
    pub output: String,
    pub failed: bool,
}

/// Runs `helm template` argv (without the leading `helm`) natively, paths relative to `cwd`.
pub fn helm_template(argv: &[String], cwd: &Path, flavor: HelmFlavor) -> CliResult {
    let mut opts = RenderOptions {
        flavor,
        // Helm's own template goldens come from its Go tests, which run without the release
        // build's version ldflags: their default Kubernetes version is v1.20.0, not the
        // v1.36.0 the released helm 3.22 binary (and the native renderer) assumes.
        kube_version: Some(HELM_TEST_KUBE_VERSION.into()),
        ..RenderOptions::default()
    };
    let mut positionals = Vec::new();
    let mut show_only: Vec<String> = Vec::new();
    let mut debug = false;
    let mut name_template: Option<String> = None;
    let mut i = 1;
    let fail = |msg: String| CliResult {
        output: format!("Error: {msg}\n"),
        failed: true,
    };
    while i < argv.len() {
        let a = &argv[i];
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut take = || -> String {
            if let Some(v) = inline.clone() {
                v
            } else {
                i += 1;
                argv.get(i).cloned().unwrap_or_default()
            }
        };
        match flag.as_str() {
            "--set" => opts.set.push(take()),
            "--set-string" => opts.set_string.push(take()),
            "-f" | "--values" => {
                let p = take();
                match std::fs::read(cwd.join(&p)) {
                    Ok(d) => opts.value_files.push((p, d)),
                    Err(e) => return fail(format!("open {p}: {e}")),
                }
            }
            "--kube-version" => opts.kube_version = Some(take()),
            "--api-versions" => {
                for v in take().split(',') {
                    opts.api_versions.push(v.to_string());
                }
            }
            "--include-crds" => opts.include_crds = true,
            "--skip-tests" => opts.skip_tests = true,
            "--show-only" | "-s" => show_only.push(take()),
            "--debug" => debug = true,
            "--name-template" => name_template = Some(take()),
            "--namespace" | "-n" => opts.namespace = take(),
            _ if a.starts_with('-') => return fail(format!("unknown flag: {a}")),
            _ => positionals.push(a.clone()),
        }
        i += 1;
    }
    if positionals.is_empty() {
        return fail(
            "\"helm template\" requires at least 1 argument\n\nUsage:  helm template [NAME] [CHART] [flags]"
                .into(),
        );
    }
    let chart_path = positionals.last().cloned().unwrap_or_default();
    if positionals.len() > 1 {
        opts.release_name = positionals[0].clone();
    }
    if let Some(t) = name_template {
        // The v3 suite's extraction turned `{{ }}` into `{ }` (Go fmt escaping); undo that.
        let t = if t.contains("{{") {
            t
        } else {
            t.replace('{', "{{").replace('}', "}}")
        };
        let mut set = helmchart::funcs::new_template_set(flavor);
        let name = match set
            .parse("name-template", &t)
            .and_then(|_| set.execute("name-template", &gotemplate::Value::Nil))
        {
            Ok(n) => n,
            Err(e) => return fail(e.to_string()),
        };
        opts.release_name = name;
    }
    let chart = match Chart::load_dir(&cwd.join(&chart_path)) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let rendered = match render(&chart, &opts) {
        Ok(r) => r,
        Err(RenderError::Manifest {
            file,
            message,
            debug_output,
        }) => {
            let msg =
                format!("YAML parse error on {file}: error converting YAML to JSON: {message}");
            if debug {
                // `helm template` prints the failed release's manifest trimmed, then the error.
                return CliResult {
                    output: format!("{}\nError: {msg}\n", debug_output.trim()),
                    failed: true,
                };
            }
            return fail(format!(
                "{msg}\n\nUse --debug flag to render out invalid YAML"
            ));
        }
        Err(e @ (RenderError::Exec(_) | RenderError::Parse(_))) => {
            if debug {
                return fail(e.to_string());
            }
            return fail(format!(
                "{e}\n\nUse --debug flag to render out invalid YAML"
            ));
        }
        Err(e) => return fail(e.to_string()),
    };
    let full = rendered.to_helm_output();
    if show_only.is_empty() {
        return CliResult {
            output: full,
            failed: false,
        };
    }
    let docs = helmchart::render::split_manifests(&full);
    let mut out = String::new();
    for f in &show_only {
        let mut missing = true;
        for d in &docs {
            let Some(rest) = d.find("# Source: ").map(|p| &d[p + "# Source: ".len()..]) else {
                continue;
            };
            let line = rest.lines().next().unwrap_or("");
            let Some((_, path)) = line.split_once('/') else {
                continue;
            };
            if helmchart::glob::go_path_match(f, path).unwrap_or(false) {
                out.push_str(&format!("---\n{d}\n"));
                missing = false;
            }
        }
        if missing {
            return fail(format!("could not find template {f} in chart"));
        }
    }
    CliResult {
        output: out,
        failed: false,
    }
}
