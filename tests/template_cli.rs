//! `sextant template` as a process, the way users run it: Helm's v3 `helm template` goldens,
//! the chart-corpus differential against the real helm v3.22, and helm's flags and error
//! texts side by side with the real helm. Counts are printed; a drop below the bar fails.

#[path = "../crates/helmchart/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

const V3_BAR: usize = 23;
const CORPUS_OBJECTS_BAR: usize = 96;
const CORPUS_BYTES_BAR: usize = 96;

/// Runs `sextant template ARGS` in `cwd`: (stdout, stderr, exit code).
fn sextant_template(args: &[String], cwd: &Path) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .arg("template")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("sextant runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn helm_template_v3_goldens_through_the_command() {
    let dir = common::conformance_dir().join("helm-template-v3");
    let cases: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("template_cases.json")).expect("template_cases.json readable"),
    )
    .expect("JSON");
    let cases = cases.as_array().expect("a list of cases");
    let mut pass = 0;
    for c in cases {
        let argv: Vec<String> = c["argv"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let argv = common::conformance_argv(&argv);
        let golden = std::fs::read_to_string(dir.join(c["golden_file"].as_str().unwrap_or("")))
            .unwrap_or_default();
        let want_error = c["want_error"].as_bool().unwrap_or(false);
        let (stdout, stderr, code) = sextant_template(&argv[1..], &dir);
        if format!("{stdout}{stderr}") == golden && (code != 0) == want_error {
            pass += 1;
        } else {
            eprintln!(
                "FAIL {} [{}]: exit {code}\n--- got ---\n{stdout}{stderr}\n--- want ---\n{golden}",
                c["name"],
                argv.join(" ")
            );
        }
    }
    println!(
        "helm-template-v3 via `sextant template`: {pass}/{} byte-for-byte",
        cases.len()
    );
    assert!(pass >= V3_BAR, "below the bar: {pass} < {V3_BAR}");
}

#[test]
fn corpus_differential_through_the_command() {
    let native = |argv: &[String]| {
        let (stdout, stderr, code) = sextant_template(&argv[1..], Path::new("/"));
        if code == 0 { Ok(stdout) } else { Err(stderr) }
    };
    let (objects, bytes, total) = common::corpus::run(&native);
    println!("corpus via `sextant template`: {objects}/{total} objects, {bytes}/{total} bytes");
    assert!(
        objects >= CORPUS_OBJECTS_BAR,
        "objects below the bar: {objects}"
    );
    assert!(bytes >= CORPUS_BYTES_BAR, "bytes below the bar: {bytes}");
}

/// helm template's flags, outputs, error texts and exit codes, command by command.
#[test]
fn flags_and_errors_match_helm() {
    let helm = common::helm_binary();
    let work = tempfile::tempdir().expect("temp dir");
    let chart = common::corpus::corpus_dir().join("prometheus-pushgateway");
    let features =
        common::repo_root().join("crates/helmchart/tests/corpus/prometheus-pushgateway.yaml");
    std::fs::write(work.path().join("note.txt"), "hello, world\n").expect("write");
    let (c, f) = (chart.display().to_string(), features.display().to_string());
    let fv = format!("--values={f}");
    let cases: Vec<Vec<&str>> = vec![
        vec!["rel", &c, "-f", &f, "--output-dir", "out"],
        vec![
            "rel",
            &c,
            "--output-dir",
            "out2",
            "--release-name",
            "-s",
            "templates/service.yaml",
        ],
        vec![
            "x",
            &c,
            "-s",
            "templates/service.yaml",
            "-s",
            "templates/deployment.yaml",
        ],
        vec![
            "x",
            &c,
            "--set-json",
            "podLabels={\"a\":\"b\",\"n\":1}",
            "--set-file",
            "podAnnotations.f=note.txt",
        ],
        vec![
            "x",
            &c,
            "--set-literal",
            "podAnnotations.l=a,b{c}",
            "-n",
            "ns1",
            "--kube-version",
            "1.30.0",
        ],
        vec!["x", &c, "--set-json", "{\"podLabels\":{}}"],
        vec![
            "x",
            &c,
            "--is-upgrade",
            "--no-hooks",
            "-a",
            "foo/v1,bar/v2",
            &fv,
        ],
        vec!["x", &c, "--set", "a"],
        vec!["x", &c, "--bogus"],
        vec![],
        vec!["a", "b", "c"],
        vec!["x", &c, "-s", "templates/nope.yaml"],
        vec!["x", &c, "-f", "missing.yaml"],
        vec!["Foo", &c],
        vec![
            "--name-template",
            "foo-{{ \"x\" }}",
            &c,
            "--namespace=other",
        ],
        vec!["--name-template", "foo-{{ \"x\" | upper }}", &c],
    ];
    let mut differ = Vec::new();
    for args in &cases {
        let args: Vec<String> = args
            .iter()
            .filter(|a| !a.is_empty())
            .map(|a| a.to_string())
            .collect();
        let h = Command::new(&helm)
            .arg("template")
            .args(&args)
            .current_dir(work.path())
            .output()
            .expect("helm runs");
        let (stdout, stderr, code) = sextant_template(&args, work.path());
        let same = stdout == String::from_utf8_lossy(&h.stdout)
            && stderr == String::from_utf8_lossy(&h.stderr)
            && Some(code) == h.status.code();
        if !same {
            differ.push(format!(
                "{args:?}: sextant exit {code}\n{stdout}{stderr}--- helm exit {:?}\n{}{}",
                h.status.code(),
                String::from_utf8_lossy(&h.stdout),
                String::from_utf8_lossy(&h.stderr)
            ));
        }
    }
    // The files --output-dir wrote are helm's too.
    let h = Command::new(&helm)
        .args(["template", "rel", &c, "-f", &f, "--output-dir", "helm-out"])
        .current_dir(work.path())
        .output()
        .expect("helm runs");
    assert!(h.status.success());
    for entry in std::fs::read_dir(
        work.path()
            .join("helm-out/prometheus-pushgateway/templates"),
    )
    .expect("helm wrote")
    {
        let p = entry.expect("entry").path();
        let name = p.file_name().expect("name");
        let ours = work
            .path()
            .join("out/prometheus-pushgateway/templates")
            .join(name);
        assert_eq!(
            std::fs::read(&p).ok(),
            std::fs::read(&ours).ok(),
            "{}",
            ours.display()
        );
    }
    println!(
        "flag cases identical to helm: {}/{}",
        cases.len() - differ.len(),
        cases.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn post_renderer_is_refused_clearly() {
    let (stdout, stderr, code) = sextant_template(
        &[
            "x".into(),
            "chart".into(),
            "--post-renderer".into(),
            "kustomize".into(),
        ],
        Path::new("/"),
    );
    assert_eq!((stdout.as_str(), code), ("", 1));
    assert!(stderr.starts_with("Error: invalid argument \"kustomize\" for \"--post-renderer\" flag: post-renderers are not supported"), "{stderr}");
}
