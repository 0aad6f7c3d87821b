//! The corpus differential (see `tests/corpus_differential.rs`), shared so that the same cases
//! run in-process (helmchart's tests) and through the `sextant template` binary (the main
//! crate's `tests/template_cli.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

const KUBE_VERSION: &str = "1.36.0";

pub fn corpus_dir() -> PathBuf {
    let conf = super::conformance_dir();
    let dir = conf.join("../charts/corpus");
    assert!(
        dir.join("SOURCES.tsv").is_file(),
        "chart corpus not found at {} (expected next to the conformance suites, in \
         shared/charts/corpus with its SOURCES.tsv)",
        dir.display()
    );
    dir
}

pub struct Case {
    pub name: String,
    pub chart: PathBuf,
    pub value_files: Vec<PathBuf>,
}

pub fn cases() -> Vec<Case> {
    let corpus = corpus_dir();
    let ours = super::repo_root().join("crates/helmchart/tests/corpus");
    let mut charts: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("corpus readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    charts.sort();
    assert!(
        charts.len() >= 20,
        "expected ~20 corpus charts, found {}",
        charts.len()
    );
    let mut v = Vec::new();
    for chart in charts {
        let name = chart
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        v.push(Case {
            name: format!("{name} (defaults)"),
            chart: chart.clone(),
            value_files: vec![],
        });
        let features = ours.join(format!("{name}.yaml"));
        assert!(
            features.is_file(),
            "no feature values file for corpus chart {name}: write {} turning on its optional \
             features",
            features.display()
        );
        v.push(Case {
            name: format!("{name} + tests/corpus/{name}.yaml"),
            chart: chart.clone(),
            value_files: vec![features.clone()],
        });
        // A chart's own alternative values files, taken with the features file first.
        let mut extra: Vec<PathBuf> = ["ci"]
            .iter()
            .filter_map(|d| std::fs::read_dir(chart.join(d)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .chain(
                std::fs::read_dir(&chart)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        let f = p
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        f.starts_with("values-") || f.ends_with("-values.yaml")
                    }),
            )
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        extra.sort();
        for f in extra {
            let rel = f.strip_prefix(&chart).unwrap_or(&f).display().to_string();
            v.push(Case {
                name: format!("{name} + {name}.yaml + {rel}"),
                chart: chart.clone(),
                value_files: vec![features.clone(), f],
            });
        }
    }
    v
}

pub fn argv(c: &Case) -> Vec<String> {
    let mut a = vec!["template".to_string(), c.chart.display().to_string()];
    a.extend(["--kube-version".into(), KUBE_VERSION.into()]);
    for f in &c.value_files {
        a.extend(["-f".into(), f.display().to_string()]);
    }
    a
}

/// helm's stdout (Ok) or stderr (Err).
fn run_helm(helm: &Path, c: &Case) -> Result<String, String> {
    let out = Command::new(helm)
        .args(argv(c))
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Lines that differ between helm's two runs replaced by a marker, in `text` (which must
/// have as many lines per document as the helm runs; otherwise it is returned unchanged).
fn mask_lines(text: &str, a: &str, b: &str) -> String {
    let (ta, tb, tt): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        a.lines().collect(),
        b.lines().collect(),
        text.lines().collect(),
    );
    if ta.len() != tb.len() || tt.len() != ta.len() {
        return text.to_string();
    }
    let mut out = String::new();
    for ((t, x), y) in tt.iter().zip(&ta).zip(&tb) {
        out.push_str(if x == y {
            t
        } else {
            "<differs between helm runs>"
        });
        out.push('\n');
    }
    out
}

fn parse_docs(text: &str) -> Vec<(String, Json)> {
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

/// `t` with every leaf where `a` and `b` differ replaced by a marker.
fn mask_json(t: &Json, a: &Json, b: &Json) -> Json {
    match (t, a, b) {
        (Json::Object(tm), Json::Object(am), Json::Object(bm)) => Json::Object(
            tm.iter()
                .map(|(k, tv)| {
                    let v = match (am.get(k), bm.get(k)) {
                        (Some(av), Some(bv)) => mask_json(tv, av, bv),
                        _ => tv.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        (Json::Array(tl), Json::Array(al), Json::Array(bl)) if al.len() == bl.len() => Json::Array(
            tl.iter()
                .enumerate()
                .map(|(i, tv)| match (al.get(i), bl.get(i)) {
                    (Some(av), Some(bv)) => mask_json(tv, av, bv),
                    _ => tv.clone(),
                })
                .collect(),
        ),
        _ if a != b => Json::String("<differs between helm runs>".into()),
        _ => t.clone(),
    }
}

fn mask_docs(
    t: &[(String, Json)],
    a: &[(String, Json)],
    b: &[(String, Json)],
) -> Vec<(String, Json)> {
    if t.len() != a.len() || a.len() != b.len() {
        return t.to_vec();
    }
    t.iter()
        .zip(a)
        .zip(b)
        .map(|((t, a), b)| (t.0.clone(), mask_json(&t.1, &a.1, &b.1)))
        .collect()
}

/// First differing line of two texts, for the report.
fn first_difference(got: &str, want: &str) -> String {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        if g != w {
            return format!("line {}:\n  native: {g}\n  helm:   {w}", i + 1);
        }
    }
    format!(
        "lengths differ: native {} lines, helm {} lines",
        got.lines().count(),
        want.lines().count()
    )
}

/// Counts of one run: (identical objects, byte-identical, cases).
pub fn run(native: &dyn Fn(&[String]) -> Result<String, String>) -> (usize, usize, usize) {
    let helm = super::helm_binary();
    let cases = cases();
    let (mut same_objects, mut same_bytes) = (0, 0);
    let mut failures = Vec::new();
    for c in &cases {
        let (want, again, got) = (run_helm(&helm, c), run_helm(&helm, c), native(&argv(c)));
        let status = match (&want, &again, &got) {
            (Ok(w), Ok(w2), Ok(g)) => {
                let (wd, w2d, gd) = (parse_docs(w), parse_docs(w2), parse_docs(g));
                let objects = mask_docs(&gd, &wd, &w2d) == mask_docs(&wd, &wd, &w2d);
                let bytes = mask_lines(g, w, w2) == mask_lines(w, w, w2);
                same_objects += usize::from(objects);
                same_bytes += usize::from(bytes);
                if !bytes {
                    failures.push(format!(
                        "{}: {} differ; first difference at {}",
                        c.name,
                        if objects { "bytes" } else { "objects" },
                        first_difference(g, w)
                    ));
                }
                if bytes {
                    "identical"
                } else if objects {
                    "same objects"
                } else {
                    "DIFFERENT"
                }
            }
            (Err(w), _, Err(g)) => {
                // The same failure only when the error messages agree; byte-identical when the
                // whole output (helm prints the failed manifest first) agrees too.
                let objects = super::error_substance(w) == super::error_substance(g);
                let bytes = objects && w.trim_end() == g.trim_end();
                same_objects += usize::from(objects);
                same_bytes += usize::from(bytes);
                if !bytes {
                    failures.push(format!(
                        "{}: both fail, {} differ:\n  native: {}\n  helm:   {}",
                        c.name,
                        if objects { "outputs" } else { "errors" },
                        g.trim_end(),
                        w.trim_end()
                    ));
                }
                if bytes {
                    "identical error"
                } else if objects {
                    "same error"
                } else {
                    "DIFFERENT"
                }
            }
            _ => {
                failures.push(format!(
                    "{}: native {} but helm {}",
                    c.name,
                    match &got {
                        Ok(_) => "rendered".to_string(),
                        Err(e) => format!("failed: {}", e.trim_end()),
                    },
                    match &want {
                        Ok(_) => "rendered".to_string(),
                        Err(e) => format!("failed: {}", e.trim_end()),
                    },
                ));
                "DIFFERENT"
            }
        };
        println!("{status:>15}  {}", c.name);
    }
    for f in &failures {
        eprintln!("DIFF {f}\n");
    }
    println!(
        "corpus differential vs helm template: {same_objects}/{} identical objects, {same_bytes}/{} byte-identical",
        cases.len(),
        cases.len()
    );
    (same_objects, same_bytes, cases.len())
}
