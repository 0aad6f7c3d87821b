//! The real binary's stderr as a first session meets it, no cluster needed:
//!
//! - a failed command into a pipe prints a plain `error: ...` with its fix line: no ANSI colour
//!   codes, no colour-eyre Location/Backtrace sections; `RUST_BACKTRACE=1` and `--log-level
//!   debug` keep the rich report; the exit status is 1 either way;
//! - with an unreadable kubeconfig, `app list` says "cannot read kubeconfig" once, naming the
//!   Apps affected, instead of once per App.

use std::path::Path;
use std::process::Command;

/// `sextant ARGS` with a throwaway home; stdout and stderr are pipes (not terminals).
fn sextant(home: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sextant"));
    c.args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env_remove("SEXTANT_LOG")
        .env_remove("SEXTANT_REPO")
        .env_remove("SEXTANT_CONFIG")
        .env_remove("KUBECONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run sextant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn errors_into_a_pipe_are_plain_with_the_fix_line() {
    let home = tempfile::tempdir().expect("temp dir");
    let missing = home.path().join("no-such-repo");
    let missing = missing.to_str().expect("utf-8 path");
    let args = ["--repo", missing, "app", "list", "--no-fetch"];

    let (code, _, err) = sextant(home.path(), &args, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("fix: pass --repo PATH"),
        "the fix line is missing: {err}"
    );
    assert!(!err.contains('\u{1b}'), "ANSI codes in a pipe: {err:?}");
    for section in ["Location:", "Backtrace", "RUST_BACKTRACE", "Error:"] {
        assert!(
            !err.contains(section),
            "{section:?} in the plain report: {err}"
        );
    }

    // Asking for details brings colour-eyre's report back (uncoloured); the exit status stays 1.
    for (args, env) in [
        (args.to_vec(), vec![("RUST_BACKTRACE", "1")]),
        ([&["--log-level", "debug"][..], &args[..]].concat(), vec![]),
    ] {
        let (code, _, err) = sextant(home.path(), &args, &env);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("Location:") && err.contains("fix: pass --repo PATH"),
            "no rich report with {args:?} {env:?}: {err}"
        );
        // ... still without colour codes: stderr is a pipe here.
        assert!(
            !err.contains('\x1b'),
            "ANSI codes in a piped rich report: {err:?}"
        );
    }
}

#[test]
fn an_unreadable_kubeconfig_is_reported_once_naming_the_apps() {
    let home = tempfile::tempdir().expect("temp dir");
    let repo = home.path().join("repo");
    std::fs::create_dir_all(repo.join("manifests")).expect("repo dir");
    std::fs::write(
        repo.join("manifests/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  k: v\n",
    )
    .expect("manifest");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=T", "-c", "user.email=t@test"])
            .args(args)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "manifests"]);
    let apps: Vec<String> = ["dev", "qa", "staging", "prod"]
        .iter()
        .map(|e| format!("web-{e}"))
        .collect();
    let config: String = apps
        .iter()
        .map(|a| format!("[[apps]]\nname = {a:?}\npath = \"manifests\"\nnamespace = {a:?}\n\n"))
        .collect();
    let config_path = home.path().join("config.toml");
    std::fs::write(&config_path, config).expect("config");
    let kubeconfig = home.path().join("no-such-kubeconfig");
    let (code, out, err) = sextant(
        home.path(),
        &[
            "--config",
            config_path.to_str().expect("utf-8"),
            "--repo",
            repo.to_str().expect("utf-8"),
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8"),
            "app",
            "list",
            "--no-fetch",
        ],
        &[],
    );
    assert_eq!(code, 0, "app list should still list the Apps: {err}");
    assert!(apps.iter().all(|a| out.contains(a.as_str())), "{out}");
    assert_eq!(
        err.matches("cannot read kubeconfig").count(),
        1,
        "the kubeconfig problem should be said once:\n{err}"
    );
    let line = err
        .lines()
        .find(|l| l.contains("cannot read kubeconfig"))
        .unwrap_or_default();
    assert!(
        line.starts_with("warning: 4 Apps (") && apps.iter().all(|a| line.contains(a.as_str())),
        "the warning should name the 4 Apps: {line}"
    );
}

/// Issue 22 point 17: `sextant config` prints the configuration in effect as TOML (not a Rust
/// debug structure), each value marked with where it came from; the output reads back as the
/// same configuration.
#[test]
fn config_prints_effective_toml_with_origins() {
    let home = tempfile::tempdir().expect("temp dir");
    let file = home.path().join("config.toml");
    std::fs::write(
        &file,
        "protected_envs = [\"prod\", \"staging\"]\n\n[reconcile]\npoll_interval_secs = 30\n",
    )
    .expect("write config");
    let path = file.to_str().expect("utf-8 path");
    let (code, out, err) = sextant(home.path(), &["--config", path, "config"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("Config {") && !out.contains("ReconcileConfig"),
        "{out}"
    );
    assert!(
        out.contains(&format!("poll_interval_secs = 30  # {path}")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "protected_envs = [\"prod\", \"staging\"]  # {path}"
        )),
        "{out}"
    );
    assert!(out.contains("wave_timeout_secs = 300  # default"), "{out}");
    assert!(
        out.contains("[ui]") && out.contains("theme = \"default\"  # default"),
        "{out}"
    );
    let again = sextant::config::Config::parse(&out, std::path::Path::new("printed"))
        .expect("the printed configuration reads back");
    let (loaded, _) = sextant::config::Config::load(Some(&file)).expect("load");
    assert_eq!(again, loaded);
}
