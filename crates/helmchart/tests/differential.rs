//! Differential test: the native renderer against the real `helm template` (Helm v3.22 from the
//! test control-plane build) on the conformance charts and the demo chart, several value files
//! each. Both outputs are split into documents and parsed; the parsed objects (and their
//! `# Source:` files, in order) must be identical.
//!
//! The helm binary comes from `$SEXTANT_TEST_BIN_DIR/helm` or from `testcluster/bin-dir`.
//! Without it the test fails and says how to build it (it never skips silently).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use helmchart::{Chart, RenderOptions, render};

const KUBE_VERSION: &str = "1.36.0";

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// (source, parsed object as JSON) for each document of `helm template` output.
fn parse_docs(text: &str) -> Vec<(String, serde_json::Value)> {
    helmchart::render::split_manifests(text)
        .into_iter()
        .map(|d| {
            let source = d
                .lines()
                .find_map(|l| l.strip_prefix("# Source: "))
                .unwrap_or("")
                .to_string();
            let v = helmchart::yaml::parse(&d, helmchart::yaml::Numbers::Float)
                .map(|v| v.to_json())
                .unwrap_or_else(|e| serde_json::json!({"unparsable": e.to_string()}));
            (source, v)
        })
        .collect()
}

struct Case {
    name: String,
    chart: PathBuf,
    value_files: Vec<PathBuf>,
    set: Vec<String>,
}

fn cases() -> Vec<Case> {
    let conf = common::conformance_dir().join("helm-template-v3/testdata/testcharts");
    let mut v = Vec::new();
    let sub = conf.join("subchart");
    v.push(Case {
        name: "subchart".into(),
        chart: sub.clone(),
        value_files: vec![],
        set: vec![],
    });
    v.push(Case {
        name: "subchart+extra_values".into(),
        chart: sub.clone(),
        value_files: vec![
            sub.join("extra_values.yaml"),
            sub.join("charts/subchartA/values.yaml"),
        ],
        set: vec![],
    });
    v.push(Case {
        name: "subchart+set".into(),
        chart: sub.clone(),
        value_files: vec![],
        set: vec![
            "configmap.enabled=true".into(),
            "subchartb.enabled=true".into(),
            "service.name=apache".into(),
        ],
    });
    for c in [
        "issue-9027",
        "object-order",
        "chart-with-template-lib-dep",
        "chart-with-template-lib-archive-dep",
    ] {
        v.push(Case {
            name: c.into(),
            chart: conf.join(c),
            value_files: vec![],
            set: vec![],
        });
    }
    // Values that exercise quoting, block scalars, folding and key order of toYaml and
    // toYamlPretty, plus Files, tpl, Subcharts-free helpers.
    let edge = edge_chart();
    v.push(Case {
        name: "yaml edge cases".into(),
        chart: edge.clone(),
        value_files: vec![],
        set: vec![],
    });
    v.push(Case {
        name: "yaml edge cases + set".into(),
        chart: edge,
        value_files: vec![],
        set: vec![
            "big=12345678,s=007,list={a,b,c}".into(),
            "nested.deep[1].x=yes".into(),
        ],
    });
    let demo = repo_root().join("assets/demo/deploy/helm/astromesh");
    assert!(
        demo.join("Chart.yaml").is_file(),
        "demo chart missing at {}",
        demo.display()
    );
    for env in ["dev", "staging", "prod"] {
        v.push(Case {
            name: format!("demo astromesh {env}"),
            chart: demo.clone(),
            value_files: vec![demo.join(format!("values-{env}.yaml"))],
            set: vec![],
        });
    }
    v.push(Case {
        name: "demo astromesh dev+prod".into(),
        chart: demo.clone(),
        value_files: vec![demo.join("values-dev.yaml"), demo.join("values-prod.yaml")],
        set: vec![],
    });
    v
}

fn run_helm(helm: &Path, c: &Case) -> Result<String, String> {
    let mut cmd = Command::new(helm);
    cmd.arg("template")
        .arg(&c.chart)
        .args(["--kube-version", KUBE_VERSION]);
    for f in &c.value_files {
        cmd.arg("-f").arg(f);
    }
    for s in &c.set {
        cmd.arg("--set").arg(s);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn run_native(c: &Case) -> Result<String, String> {
    let chart = Chart::load_dir(&c.chart).map_err(|e| e.to_string())?;
    let mut opts = RenderOptions {
        kube_version: Some(KUBE_VERSION.into()),
        set: c.set.clone(),
        ..RenderOptions::default()
    };
    for f in &c.value_files {
        let data = std::fs::read(f).map_err(|e| e.to_string())?;
        opts.value_files.push((f.display().to_string(), data));
    }
    render(&chart, &opts)
        .map(|r| r.to_helm_output())
        .map_err(|e| e.to_string())
}

#[test]
fn native_matches_helm_binary() {
    let helm = common::helm_binary();
    let cases = cases();
    let mut same_objects = 0;
    let mut same_bytes = 0;
    let mut failures = Vec::new();
    for c in &cases {
        let want = run_helm(&helm, c);
        let got = run_native(c);
        match (&want, &got) {
            (Ok(w), Ok(g)) => {
                if parse_docs(w) == parse_docs(g) {
                    same_objects += 1;
                } else {
                    failures.push(format!(
                        "{}: objects differ\n--- native ---\n{g}\n--- helm ---\n{w}",
                        c.name
                    ));
                }
                if w == g {
                    same_bytes += 1;
                }
            }
            (Err(w), Err(g)) if common::error_substance(w) == common::error_substance(g) => {
                same_objects += 1;
                same_bytes += 1;
            }
            (Err(w), Err(g)) => failures.push(format!(
                "{}: both fail, with different errors:\n  native: {}\n  helm:   {}",
                c.name,
                common::error_substance(g),
                common::error_substance(w)
            )),
            _ => failures.push(format!(
                "{}: native {:?} vs helm {:?}",
                c.name,
                got.as_ref().err(),
                want.as_ref().err()
            )),
        }
    }
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("helmchart-edge-{}", std::process::id())),
    );
    for f in &failures {
        eprintln!("DIFF {f}\n");
    }
    println!(
        "differential vs helm: {same_objects}/{} identical objects, {same_bytes}/{} byte-identical",
        cases.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} case(s) differ from helm template",
        failures.len()
    );
}

fn edge_chart() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helmchart-edge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).expect("temp dir");
    std::fs::create_dir_all(dir.join("files")).expect("temp dir");
    let w = |p: &str, c: &str| std::fs::write(dir.join(p), c).expect("write");
    w(
        "Chart.yaml",
        "apiVersion: v2\nname: edge\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    );
    w(
        "values.yaml",
        r##"plain: hello world
empty: ""
yesish: "yes"
on: on
n: 1
numstr: "1.5"
date: "2024-01-02"
colon: "a: b"
hash: "a #b"
lead: " leading"
trail: "trailing "
tab: "a\tb"
quote: "it's \"quoted\""
multi: "line1\nline2\n"
multinoeol: "line1\nline2"
multitrail: "keep\n\n"
long: "the quick brown fox jumps over the lazy dog and keeps running far beyond the eighty column limit of go-yaml"
longnospace: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
unicode: "héllo wörld ✓"
emoji: "ok 😀"
float: 1.25
bigfloat: 1e21
small: 0.000001
int: 1000000
neg: -3
keys: {a10: 1, a2: 2, a_b: 3, aB: 4, "with space": 5, "1": 6, "true": 7, "": 8}
list: [1, "two", {three: 3}, [4, 5], null, true]
nested: {deep: [{x: 1}, {y: 2}]}
emptymap: {}
emptylist: []
tpltext: "{{ .Release.Name }}-{{ .Chart.Name }}"
indicators: ["- a", "? b", "*c", "&d", "!e", "%f", "@g", "`h", "---", "...", "~", "null", "Null", "0x10", "1_000", "0777", "+1", ".5", "1e3", "12:30", "y", "n", "NO", "off", "=", "<<", "a:b", "a :b", "[x]", "{y}", "x,y", "#z", "|", ">"]
breaks: ["cr\rhere", "nel\u0085here", "sp \nafter", "\nleading", "  two leading", "nbsp\u00a0here", "bell\u0007", "del\u007f"]
deeplists: {a: [[1, [2, 3]], [{b: [4]}]], c: [{d: {e: [5]}}]}
longkey_with_a_very_long_name_that_goes_on_and_on_and_on_past_eighty_columns_for_sure_yes: 1
longlist: ["the quick brown fox jumps over the lazy dog and keeps running far beyond the eighty column limit", "short"]
"##,
    );
    w("files/a.txt", "alpha\n");
    w("files/b.txt", "beta\ngamma\n");
    w(
        "templates/cm.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-edge
data:
  values.yaml: |
{{ toYaml .Values | indent 4 }}
  pretty.yaml: |
{{ toYamlPretty .Values | indent 4 }}
  rest.yaml: |
{{ toYaml (omit .Values "breaks") | indent 4 }}
  breaks.yaml: |
{{ toYaml (without .Values.breaks "del\u007f") | indent 4 }}
  json: {{ toJson .Values | quote }}
  tpl: {{ tpl .Values.tpltext . | quote }}
  big: {{ .Values.big | default .Values.int | quote }}
{{ (.Files.Glob "files/*").AsConfig | indent 2 }}
"#,
    );
    w(
        "templates/secret.yaml",
        r#"apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-edge
data:
{{ (.Files.Glob "files/*").AsSecrets | indent 2 }}
"#,
    );
    dir
}
