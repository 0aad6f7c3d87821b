//! Native rendering of the demo chart (assets/demo/deploy/helm/astromesh) for its three
//! environments, against `helm template` run as a subprocess (issue 4: native ≥ 20× faster,
//! the three environments in < 20 ms in total).
//!
//! `cargo bench -p helmchart --bench native_render`. The helm binary comes from
//! `$SEXTANT_TEST_BIN_DIR/helm` or `testcluster/bin-dir` (build it with `testcluster/build`).

use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use helmchart::{Chart, ChartFiles, RenderOptions, render};

const ENVS: [&str; 3] = ["dev", "staging", "prod"];

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn demo_dir() -> PathBuf {
    repo_root().join("assets/demo/deploy/helm/astromesh")
}

fn helm_binary() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SEXTANT_TEST_BIN_DIR") {
        return Some(PathBuf::from(dir).join("helm"));
    }
    let out = Command::new(repo_root().join("testcluster/bin-dir"))
        .current_dir(repo_root())
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("helm");
    p.is_file().then_some(p)
}

fn options(env: &str) -> RenderOptions {
    let file = demo_dir().join(format!("values-{env}.yaml"));
    let data = std::fs::read(&file).expect("demo values file");
    RenderOptions {
        kube_version: Some("1.36.0".into()),
        value_files: vec![(file.display().to_string(), data)],
        ..RenderOptions::default()
    }
}

fn bench(c: &mut Criterion) {
    let files = ChartFiles::from_dir(&demo_dir()).expect("demo chart readable");
    let chart = Chart::load(&files).expect("demo chart loads");
    let opts: Vec<RenderOptions> = ENVS.iter().map(|e| options(e)).collect();
    let mut g = c.benchmark_group("demo_chart_3_envs");
    g.bench_function("native_render", |b| {
        b.iter(|| {
            for o in &opts {
                let r = render(&chart, o).expect("renders");
                std::hint::black_box(r.to_helm_output());
            }
        })
    });
    g.bench_function("native_load_and_render", |b| {
        b.iter(|| {
            let chart =
                Chart::load(&ChartFiles::from_dir(&demo_dir()).expect("read")).expect("load");
            for o in &opts {
                std::hint::black_box(render(&chart, o).expect("renders").to_helm_output());
            }
        })
    });
    match helm_binary() {
        Some(helm) => {
            g.sample_size(10);
            g.bench_function("helm_template_subprocess", |b| {
                b.iter(|| {
                    for env in ENVS {
                        let out = Command::new(&helm)
                            .arg("template")
                            .arg(demo_dir())
                            .args(["--kube-version", "1.36.0", "-f"])
                            .arg(demo_dir().join(format!("values-{env}.yaml")))
                            .output()
                            .expect("helm runs");
                        assert!(out.status.success(), "helm template failed");
                        std::hint::black_box(out.stdout);
                    }
                })
            });
        }
        None => eprintln!(
            "helm binary not found: build it with `testcluster/build` to benchmark `helm template`"
        ),
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
