//! Chart dependencies fetched from a real Helm chart repository on 127.0.0.1.
//!
//! The repository serves `index.yaml` and `.tgz` files made by the real `helm package` and
//! `helm repo index` from the real dependency charts of the guide's astromesh chart
//! (`../shared/charts/astromesh-deps`). The astromesh chart keeps its upstream repository URLs
//! (`https://charts.bitnami.com/bitnami`, ...); `[[charts.mirrors]]` sends them to 127.0.0.1.
//! Oracle: the real `helm dependency build && helm template` against the same repository.
//!
//! Re-versioned test copies: the snapshot versions in `astromesh-deps` do not satisfy the
//! astromesh constraints (`SOURCES.tsv`, column `satisfies`), so each is ALSO packaged as a copy
//! whose Chart.yaml `version` is changed to `<major>.<minor>.99` inside the range (postgresql
//! 16.0.99, redis 20.0.99, ollama 1.0.99, kube-prometheus-stack 67.0.99,
//! opentelemetry-collector 0.108.99); the unchanged snapshot versions are served next to them
//! (newer, outside the range), so picking the right version is part of the test.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use sextant::charts::{ChartRepos, ChartsConfig, MirrorConfig, RepositoryConfig};
use sextant::config::{Config, RendererChoice};
use sextant::render::{Manifest, RenderError, RenderOptions, Renderer};
use sextant::source::{Repo, load_apps};
use support::chartrepo::{BasicAuth, ChartRepoServer};

const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

/// The guide repository's astromesh dependencies (monaccode/astromesh `deploy/helm/astromesh`
/// Chart.yaml): names, constraints, repository URLs and conditions as written there.
const GUIDE_DEPENDENCIES: &str = r#"
dependencies:
  - name: postgresql
    version: "~16.0"
    repository: https://charts.bitnami.com/bitnami
    condition: postgresql.enabled
  - name: redis
    version: "~20.0"
    repository: https://charts.bitnami.com/bitnami
    condition: redis.enabled
  - name: ollama
    version: "~1.0"
    repository: https://otwld.github.io/ollama-helm
    condition: ollama.enabled
  - name: kube-prometheus-stack
    version: "~67.0"
    repository: https://prometheus-community.github.io/helm-charts
    condition: kube-prometheus-stack.enabled
  - name: opentelemetry-collector
    version: "~0.108"
    repository: https://open-telemetry.github.io/opentelemetry-helm-charts
    condition: opentelemetry-collector.enabled
"#;

/// Subchart values, appended to the chart's values.yaml: every dependency enabled, with the
/// settings the guide's values give them (fixed database password, standalone redis without
/// auth, collector mode) plus what the charts require to render (collector image) and fixed
/// passwords where a chart would otherwise generate a random one (the comparison with helm
/// needs deterministic output).
const SUBCHART_VALUES: &str = r#"
postgresql:
  enabled: true
  auth:
    database: astromesh
    username: astromesh
    password: astromesh
    postgresPassword: postgres-test
redis:
  enabled: true
  architecture: standalone
  auth:
    enabled: false
ollama:
  enabled: true
kube-prometheus-stack:
  enabled: true
  grafana:
    adminPassword: admin
opentelemetry-collector:
  enabled: true
  mode: deployment
  image:
    repository: otel/opentelemetry-collector-k8s
"#;

/// Upstream repository → path on the local server. The OpenTelemetry one is behind basic auth.
const UPSTREAMS: &[(&str, &str)] = &[
    ("https://charts.bitnami.com/bitnami", "bitnami"),
    ("https://otwld.github.io/ollama-helm", "ollama-helm"),
    (
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community",
    ),
    (
        "https://open-telemetry.github.io/opentelemetry-helm-charts",
        "private/open-telemetry",
    ),
];

const USER: &str = "ci";
const PASSWORD: &str = "s3cret-chart-pass";

fn deps_dir() -> PathBuf {
    let dir = std::env::var_os("SEXTANT_CHARTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("{WORKSPACE}/../shared/charts")))
        .join("astromesh-deps");
    assert!(
        dir.is_dir(),
        "{} is missing: set SEXTANT_CHARTS_DIR to the shared charts directory",
        dir.display()
    );
    dir
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `helm` with its config, cache and data homes under `home` (never the user's).
fn helm(home: &Path) -> Command {
    let mut c = Command::new(support::bin("helm"));
    c.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("HELM_REPOSITORY_CONFIG")
        .env_remove("HELM_REPOSITORY_CACHE");
    c
}

fn git(dir: &Path, args: &[&str]) {
    run(Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Chart Test", "-c", "user.email=chart@test"])
        .args(args));
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

fn set_version(chart_yaml: &Path, version: &str) {
    let text = std::fs::read_to_string(chart_yaml).unwrap();
    let mut done = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && l.starts_with("version:") {
                done = true;
                format!("version: {version}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(done, "no version line in {}", chart_yaml.display());
    std::fs::write(chart_yaml, out.join("\n") + "\n").unwrap();
}

/// The packaged repository tree (built once per test binary): `<root>/<repo path>/` with
/// `index.yaml` and archives.
fn packaged() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        // Under the target's temp dir, one per test process; earlier processes' trees are
        // removed (it must outlive every test of this process, so no TempDir).
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("chart-deps-")
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let tmp = base.join(format!("chart-deps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let (work, root, home) = (tmp.join("work"), tmp.join("repo"), tmp.join("helm"));
        let deps = deps_dir();
        let kps_deps: &[&str] = &[
            "kube-state-metrics",
            "prometheus-node-exporter",
            "grafana",
            "prometheus-windows-exporter",
        ];
        // (chart, re-version, charts vendored into it before packaging, repository path)
        let builds: &[(&str, Option<&str>, &[&str], &str)] = &[
            ("postgresql", Some("16.0.99"), &["common"], "bitnami"),
            ("postgresql", None, &["common"], "bitnami"),
            ("redis", Some("20.0.99"), &["common"], "bitnami"),
            ("redis", None, &["common"], "bitnami"),
            ("ollama", Some("1.0.99"), &[], "ollama-helm"),
            ("ollama", None, &[], "ollama-helm"),
            (
                "kube-prometheus-stack",
                Some("67.0.99"),
                kps_deps,
                "prometheus-community",
            ),
            (
                "opentelemetry-collector",
                Some("0.108.99"),
                &[],
                "private/open-telemetry",
            ),
            (
                "opentelemetry-collector",
                None,
                &[],
                "private/open-telemetry",
            ),
        ];
        for (i, (chart, version, vendored, repo)) in builds.iter().enumerate() {
            let dir = work.join(format!("{i}")).join(chart);
            copy_dir(&deps.join(chart), &dir);
            if let Some(v) = version {
                set_version(&dir.join("Chart.yaml"), v);
            }
            for v in *vendored {
                copy_dir(&deps.join(v), &dir.join("charts").join(v));
            }
            let dest = root.join(repo);
            std::fs::create_dir_all(&dest).unwrap();
            run(helm(&home).arg("package").arg(&dir).arg("-d").arg(&dest));
        }
        for (_, repo) in UPSTREAMS {
            run(helm(&home).args(["repo", "index"]).arg(root.join(repo)));
        }
        root
    })
}

fn server() -> ChartRepoServer {
    ChartRepoServer::start(
        packaged(),
        Some(BasicAuth {
            prefix: "/private/".into(),
            username: USER.into(),
            password: PASSWORD.into(),
        }),
    )
}

/// Mirrors for every upstream, and credentials for the private path (from a file).
fn charts_config(server: &ChartRepoServer, work: &Path, with_credentials: bool) -> ChartsConfig {
    std::fs::create_dir_all(work).unwrap();
    let password_file = work.join("chart-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    ChartsConfig {
        cache_dir: Some(work.join("chart-cache")),
        timeout_secs: 30,
        mirrors: UPSTREAMS
            .iter()
            .map(|(up, path)| MirrorConfig {
                upstream: up.to_string(),
                mirror: format!("{}/{path}", server.url()),
            })
            .collect(),
        repositories: if with_credentials {
            vec![RepositoryConfig {
                url: format!("{}/private", server.url()),
                username: Some(USER.into()),
                password_file: Some(password_file),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

fn render_opts(work: &Path, renderer: RendererChoice, charts: Arc<ChartRepos>) -> RenderOptions {
    RenderOptions {
        renderer,
        helm_binary: support::bin("helm"),
        kube_version: Some("1.36.0".into()),
        work_dir: work.join("render"),
        charts,
    }
}

/// A git repository: the demo (guide layout) with `chart_yaml_extra` appended to the chart's
/// Chart.yaml.
fn guide_repo(dir: &Path, chart_yaml_extra: &str) -> PathBuf {
    let repo = dir.join("gitops");
    copy_dir(&Path::new(WORKSPACE).join("assets/demo"), &repo);
    let chart_yaml = repo.join("deploy/helm/astromesh/Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).unwrap();
    std::fs::write(&chart_yaml, format!("{text}{chart_yaml_extra}")).unwrap();
    let values = repo.join("deploy/helm/astromesh/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, format!("{text}{SUBCHART_VALUES}")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "guide"]);
    repo
}

fn apps(repo: &Repo) -> Vec<sextant::app::App> {
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(repo, &head, &Config::with_defaults()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded.apps
}

fn render(
    renderer: &Renderer,
    repo: &Repo,
    app: &sextant::app::App,
) -> Result<Vec<Manifest>, RenderError> {
    let head = repo.resolve("HEAD").unwrap();
    renderer
        .render(repo, app, &head)
        .map(|r| r.manifests.clone())
}

fn by_key(manifests: &[Manifest]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for m in manifests {
        let o = &m.object;
        let key = format!(
            "{} {} {}/{}",
            o["apiVersion"].as_str().unwrap_or_default(),
            o["kind"].as_str().unwrap_or_default(),
            o["metadata"]["namespace"].as_str().unwrap_or_default(),
            o["metadata"]["name"].as_str().unwrap_or_default()
        );
        assert!(
            out.insert(key.clone(), o.clone()).is_none(),
            "duplicate {key}"
        );
    }
    out
}

/// Where two objects first differ (for the failure message).
fn first_difference(a: &Value, b: &Value, path: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                if va != vb {
                    return first_difference(va, vb, &format!("{path}.{k}"));
                }
            }
            path.to_string()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if va != vb {
                    return first_difference(va, vb, &format!("{path}[{i}]"));
                }
            }
            path.to_string()
        }
        _ => {
            let short = |v: &Value| v.to_string().chars().take(120).collect::<String>();
            format!("{path}: native {} / helm {}", short(a), short(b))
        }
    }
}

#[test]
fn guide_astromesh_renders_natively_like_helm_dependency_build_and_template() {
    let server = server();
    let work = tempfile::tempdir().unwrap();
    let guide = guide_repo(&work.path().join("guide"), GUIDE_DEPENDENCIES);
    let guide = Repo::open(&guide).unwrap();
    let repos = Arc::new(ChartRepos::new(charts_config(&server, work.path(), true)));
    let native = Renderer::new(render_opts(
        work.path(),
        RendererChoice::Native,
        repos.clone(),
    ));

    // Oracle: the same chart with the repository URLs pointing at the local server (helm has no
    // mirrors), `helm repo add` + `helm dependency build`, archives committed, `helm template`.
    let home = work.path().join("helm-home");
    let mut oracle_deps = GUIDE_DEPENDENCIES.to_string();
    for (i, (up, path)) in UPSTREAMS.iter().enumerate() {
        let local = format!("{}/{path}", server.url());
        oracle_deps = oracle_deps.replace(up, &local);
        let mut add = helm(&home);
        add.args(["repo", "add", &format!("r{i}"), &local]);
        if path.starts_with("private/") {
            add.args(["--username", USER, "--password", PASSWORD]);
        }
        run(&mut add);
    }
    let oracle_dir = guide_repo(&work.path().join("oracle"), &oracle_deps);
    let chart_dir = oracle_dir.join("deploy/helm/astromesh");
    run(helm(&home).args(["dependency", "build"]).arg(&chart_dir));
    git(&oracle_dir, &["add", "-A"]);
    git(
        &oracle_dir,
        &["commit", "-q", "-m", "helm dependency build"],
    );
    let oracle = Repo::open(&oracle_dir).unwrap();
    let helm_renderer = Renderer::new(render_opts(
        &work.path().join("h"),
        RendererChoice::Helm,
        Arc::new(ChartRepos::default()),
    ));

    let guide_apps = apps(&guide);
    let oracle_apps = apps(&oracle);
    assert_eq!(guide_apps.len(), 3);
    for (app, oracle_app) in guide_apps.iter().zip(&oracle_apps) {
        let manifests =
            render(&native, &guide, app).unwrap_or_else(|e| panic!("{}: {e}", app.name));
        let ours = manifests.clone();
        let theirs = render(&helm_renderer, &oracle, oracle_app)
            .unwrap_or_else(|e| panic!("helm oracle {}: {e}", app.name));
        let (ours, theirs) = (by_key(&ours), by_key(&theirs));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{}: object sets differ",
            app.name
        );
        let mut differing = Vec::new();
        for (k, v) in &ours {
            if theirs.get(k) != Some(v) {
                differing.push(format!("{k}: {}", first_difference(v, &theirs[k], "")));
            }
        }
        assert!(
            differing.is_empty(),
            "{}: objects differ: {differing:?}",
            app.name
        );
        // Every dependency contributed objects (all are enabled in SUBCHART_VALUES).
        for dep in [
            "postgresql",
            "redis",
            "ollama",
            "kube-prometheus-stack",
            "opentelemetry-collector",
        ] {
            let dir = format!("deploy/helm/astromesh/charts/{dep}/");
            assert!(
                manifests.iter().any(|m| m.source_file.starts_with(&dir)),
                "{}: nothing from {dep}",
                app.name
            );
        }
        eprintln!("{}: {} objects identical to helm", app.name, ours.len());
    }
    // The re-versioned copies inside the ranges were picked, not the newer snapshots.
    let dev = render(&native, &guide, &guide_apps[0]).unwrap();
    let charts: Vec<&str> = dev
        .iter()
        .filter_map(|m| m.object["metadata"]["labels"]["helm.sh/chart"].as_str())
        .collect();
    for want in [
        "postgresql-16.0.99",
        "redis-20.0.99",
        "ollama-1.0.99",
        "opentelemetry-collector-0.108.99",
    ] {
        assert!(charts.contains(&want), "{want} not used: {charts:?}");
    }

    // Warm: a new process-like renderer over the same disk cache makes no request at all.
    let before = server.requests();
    let warm = Renderer::new(render_opts(
        &work.path().join("warm"),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(charts_config(&server, work.path(), true))),
    ));
    for app in &guide_apps {
        render(&warm, &guide, app).unwrap();
    }
    assert_eq!(server.requests(), before, "a warm render used the network");

    // The Chart.lock real helm wrote verifies natively: render the oracle chart with its lock
    // and without its archives (no mirrors needed: its URLs are the local ones).
    std::fs::remove_dir_all(chart_dir.join("charts")).unwrap();
    git(&oracle_dir, &["add", "-A"]);
    git(&oracle_dir, &["commit", "-q", "-m", "only Chart.lock"]);
    let oracle = Repo::open(&oracle_dir).unwrap();
    let locked = Renderer::new(render_opts(
        &work.path().join("locked"),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(charts_config(&server, work.path(), true))),
    ));
    let objs = render(&locked, &oracle, &apps(&oracle)[0]).unwrap();
    assert_eq!(by_key(&objs), by_key(&dev));
}

/// A one-dependency chart in the guide layout.
fn one_dependency(name: &str, constraint: &str, repository: &str) -> String {
    format!(
        "\ndependencies:\n  - name: {name}\n    version: \"{constraint}\"\n    repository: {repository}\n"
    )
}

fn error_text(r: Result<Vec<Manifest>, RenderError>) -> String {
    match r {
        Ok(m) => panic!("expected an error, rendered {} objects", m.len()),
        Err(e) => e.to_string(),
    }
}

fn assert_has(msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(msg.contains(n), "{n:?} not in:\n{msg}");
    }
}

#[test]
fn basic_auth_401_without_credentials_and_success_with_them() {
    let server = server();
    let work = tempfile::tempdir().unwrap();
    let upstream = "https://open-telemetry.github.io/opentelemetry-helm-charts";
    let dir = guide_repo(
        work.path(),
        &one_dependency("opentelemetry-collector", "~0.108", upstream),
    );
    let repo = Repo::open(&dir).unwrap();
    let app = &apps(&repo)[0];
    let without = Renderer::new(render_opts(
        &work.path().join("a"),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(charts_config(
            &server,
            &work.path().join("a"),
            false,
        ))),
    ));
    let msg = error_text(render(&without, &repo, app));
    let private = format!("{}/private/open-telemetry/index.yaml", server.url());
    assert_has(
        &msg,
        &[
            "app `astromesh-dev`",
            "dependency `opentelemetry-collector`",
            &private,
            "401",
            "fix: add credentials",
        ],
    );
    assert!(!msg.contains(PASSWORD));

    let with = Renderer::new(render_opts(
        &work.path().join("b"),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(charts_config(
            &server,
            &work.path().join("b"),
            true,
        ))),
    ));
    let objs = render(&with, &repo, app).unwrap();
    assert!(
        objs.iter()
            .any(|m| m.source_file.contains("charts/opentelemetry-collector/")),
        "no collector objects"
    );
}

#[test]
fn a_range_matching_nothing_names_the_available_versions() {
    let server = server();
    let work = tempfile::tempdir().unwrap();
    let dir = guide_repo(
        work.path(),
        &one_dependency("ollama", "~2.0", "https://otwld.github.io/ollama-helm"),
    );
    let repo = Repo::open(&dir).unwrap();
    let r = Renderer::new(render_opts(
        work.path(),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(charts_config(&server, work.path(), true))),
    ));
    let msg = error_text(render(&r, &repo, &apps(&repo)[0]));
    assert_has(
        &msg,
        &[
            "dependency `ollama`",
            "no version of `ollama`",
            "matches `~2.0`",
            "1.77.0, 1.0.99",
            &format!("{}/ollama-helm/index.yaml", server.url()),
            "fix: change the version constraint",
        ],
    );
}

#[test]
fn chart_lock_is_honoured_and_a_stale_lock_or_changed_archive_is_refused() {
    let work = tempfile::tempdir().unwrap();
    // Its own repository: first only redis 20.0.99, so helm locks that version.
    let root = work.path().join("served");
    let bitnami = root.join("bitnami");
    std::fs::create_dir_all(&bitnami).unwrap();
    let packaged = packaged().join("bitnami");
    std::fs::copy(
        packaged.join("redis-20.0.99.tgz"),
        bitnami.join("redis-20.0.99.tgz"),
    )
    .unwrap();
    let home = work.path().join("helm-home");
    run(helm(&home).args(["repo", "index"]).arg(&bitnami));
    let server = ChartRepoServer::start(&root, None);
    let url = format!("{}/bitnami", server.url());
    run(helm(&home).args(["repo", "add", "local", &url]));
    let dir = guide_repo(
        &work.path().join("g"),
        &one_dependency("redis", ">=20.0.0", &url),
    );
    let chart = dir.join("deploy/helm/astromesh");
    run(helm(&home).args(["dependency", "update"]).arg(&chart));
    std::fs::remove_dir_all(chart.join("charts")).unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "Chart.lock from helm"]);
    // Now a newer version matching the range appears.
    std::fs::copy(
        packaged.join("redis-23.1.1.tgz"),
        bitnami.join("redis-23.1.1.tgz"),
    )
    .unwrap();
    run(helm(&home).args(["repo", "index"]).arg(&bitnami));

    let repo = Repo::open(&dir).unwrap();
    let app = apps(&repo).remove(0);
    let fresh = |name: &str| {
        let mut cfg = ChartsConfig {
            cache_dir: Some(work.path().join(name)),
            ..Default::default()
        };
        cfg.timeout_secs = 30;
        Renderer::new(render_opts(
            &work.path().join(format!("r-{name}")),
            RendererChoice::Native,
            Arc::new(ChartRepos::new(cfg)),
        ))
    };
    let objs = render(&fresh("c1"), &repo, &app).unwrap();
    let charts: Vec<&str> = objs
        .iter()
        .filter_map(|m| m.object["metadata"]["labels"]["helm.sh/chart"].as_str())
        .collect();
    assert!(
        charts.contains(&"redis-20.0.99"),
        "lock not honoured: {charts:?}"
    );
    assert!(!charts.contains(&"redis-23.1.1"), "{charts:?}");
    // Without the lock the newest match is used.
    std::fs::remove_file(chart.join("Chart.lock")).unwrap();
    git(&dir, &["commit", "-q", "-am", "no lock"]);
    let objs = render(&fresh("c2"), &repo, &app).unwrap();
    assert!(
        objs.iter()
            .any(|m| m.object["metadata"]["labels"]["helm.sh/chart"] == "redis-23.1.1")
    );
    git(&dir, &["revert", "--no-edit", "HEAD"]);

    // Chart.yaml changed, lock not updated: refused, naming the dependency.
    let yaml = chart.join("Chart.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, text.replace(">=20.0.0", "~23.1")).unwrap();
    git(
        &dir,
        &["commit", "-q", "-am", "constraint changed, lock stale"],
    );
    let msg = error_text(render(&fresh("c3"), &repo, &app));
    assert_has(
        &msg,
        &[
            "app `astromesh-dev`",
            "deploy/helm/astromesh/Chart.lock is out of sync",
            "dependency `redis` is locked at 20.0.99 which does not match `~23.1`",
            "fix: run `helm dependency update`",
        ],
    );
    git(&dir, &["revert", "--no-edit", "HEAD"]);

    // The archive changed under the same version: its digest no longer matches the index.
    std::fs::copy(
        packaged.join("redis-23.1.1.tgz"),
        bitnami.join("redis-20.0.99.tgz"),
    )
    .unwrap();
    let msg = error_text(render(&fresh("c4"), &repo, &app));
    assert_has(
        &msg,
        &[
            "dependency `redis`",
            &format!("{url}/redis-20.0.99.tgz: sha256 of the download is"),
            "repository index says",
        ],
    );
}

#[test]
fn offline_from_cache_says_so_and_an_empty_cache_offline_is_an_error() {
    let work = tempfile::tempdir().unwrap();
    let mut server = server();
    let dir = guide_repo(
        work.path(),
        &one_dependency("redis", "~20.0", "https://charts.bitnami.com/bitnami"),
    );
    let repo = Repo::open(&dir).unwrap();
    let app = apps(&repo).remove(0);
    // Indexes are always refetched (0 minutes), as after a hard refresh.
    let mut cfg = charts_config(&server, work.path(), true);
    cfg.index_refresh_minutes = 0;
    let online = Renderer::new(render_opts(
        &work.path().join("a"),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(cfg.clone())),
    ));
    let head = repo.resolve("HEAD").unwrap();
    let first = online.render(&repo, &app, &head).unwrap();
    assert!(first.notices.is_empty(), "{:?}", first.notices);
    server.stop();
    let offline = Renderer::new(render_opts(
        &work.path().join("b"),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(cfg.clone())),
    ));
    let second = offline.render(&repo, &app, &head).unwrap();
    assert_eq!(
        by_key(&second.manifests).keys().collect::<Vec<_>>(),
        by_key(&first.manifests).keys().collect::<Vec<_>>()
    );
    assert!(
        second
            .notices
            .iter()
            .any(|n| n.starts_with("offline:") && n.contains("using the cached index")),
        "{:?}",
        second.notices
    );
    // Explicitly offline with an empty cache: a clear error.
    cfg.offline = true;
    cfg.cache_dir = Some(work.path().join("empty-cache"));
    let empty = Renderer::new(render_opts(
        &work.path().join("c"),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(cfg)),
    ));
    let msg = error_text(render(&empty, &repo, &app));
    assert_has(
        &msg,
        &[
            "dependency `redis`",
            "not in the cache and charts.offline is set",
        ],
    );
}

/// The guide repository with App names and namespaces of its own (the control plane is shared),
/// a config.toml with mirrors (and credentials when asked), and a runner for `sextant`.
struct Cli {
    work: tempfile::TempDir,
    dir: PathBuf,
    config: PathBuf,
    prefix: String,
}

impl Cli {
    fn new(server: &ChartRepoServer, tag: &str, with_credentials: bool) -> Self {
        let work = tempfile::tempdir().unwrap();
        let prefix = format!("chartdeps-{tag}-{:x}", std::process::id());
        let dir = guide_repo(&work.path().join("g"), GUIDE_DEPENDENCIES);
        let appset = dir.join("deploy/gitops/argocd/applicationset.yaml");
        let text = std::fs::read_to_string(&appset)
            .unwrap()
            .replace("namespace: astromesh-", &format!("namespace: {prefix}-"))
            .replace(
                "name: astromesh-{{env}}",
                &format!("name: {prefix}-{{{{env}}}}"),
            );
        std::fs::write(&appset, text).unwrap();
        // An App without chart dependencies next to them.
        std::fs::create_dir_all(dir.join("deploy/plain")).unwrap();
        std::fs::write(
            dir.join("deploy/plain/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("deploy/gitops/argocd/plain.yaml"),
            format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {prefix}-plain\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://github.com/example/astromesh-gitops.git\n    targetRevision: HEAD\n    path: deploy/plain\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {prefix}-plain\n"),
        )
        .unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "test names, plain App"]);
        let password_file = work.path().join("pw");
        std::fs::write(&password_file, PASSWORD).unwrap();
        let mut config = format!(
            "[render]\nrenderer = \"native\"\nhelm_binary = {:?}\nkube_version = \"1.36.0\"\n\n[reconcile]\npoll_interval_secs = 3600\npoll_jitter_secs = 0\n\n[charts]\ncache_dir = {:?}\n",
            support::bin("helm").display().to_string(),
            work.path().join("chart-cache").display().to_string(),
        );
        if with_credentials {
            config.push_str(&format!(
                "\n[[charts.repositories]]\nurl = \"{}/private\"\nusername = \"{USER}\"\npassword_file = {:?}\n",
                server.url(),
                password_file.display().to_string(),
            ));
        }
        for (up, path) in UPSTREAMS {
            config.push_str(&format!(
                "\n[[charts.mirrors]]\nupstream = \"{up}\"\nmirror = \"{}/{path}\"\n",
                server.url()
            ));
        }
        let config_path = work.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        Self {
            work,
            dir,
            config: config_path,
            prefix,
        }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = assert_cmd::Command::cargo_bin("sextant")
            .unwrap()
            .arg("--config")
            .arg(&self.config)
            .arg("--repo")
            .arg(&self.dir)
            .arg("--kubeconfig")
            .arg(support::kubeconfig_path())
            .env("XDG_CACHE_HOME", self.work.path().join("cache"))
            .env("XDG_STATE_HOME", self.work.path().join("state"))
            .env("NO_COLOR", "1")
            .env_remove("SEXTANT_REPO")
            .env_remove("SEXTANT_CONFIG")
            .timeout(std::time::Duration::from_secs(600))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn list(&self) -> Vec<Value> {
        let (code, out, err) = self.run(&["app", "list", "-o", "json"]);
        assert_eq!(code, 0, "{err}\n{out}");
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn app<'a>(&self, list: &'a [Value], suffix: &str) -> &'a Value {
        let name = format!("{}-{suffix}", self.prefix);
        list.iter()
            .find(|a| a["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not listed: {list:?}"))
    }
}

#[test]
fn cli_lists_and_diffs_the_three_guide_environments_with_dependencies() {
    let server = server();
    let cli = Cli::new(&server, "ok", true);
    let list = cli.list();
    for env in ["dev", "staging", "prod", "plain"] {
        let app = cli.app(&list, env);
        assert_eq!(app["status"]["sync"], "OutOfSync", "{app}");
        assert!(
            !app.to_string().contains("ComparisonError"),
            "{env} has a comparison error: {app}"
        );
    }
    // The diff shows the dependencies' objects (nothing is deployed yet).
    let (code, out, err) = cli.run(&["app", "diff", "prod"]);
    assert_eq!(code, 1, "{err}\n{out}");
    for needle in [
        format!("{}-prod-postgresql", cli.prefix),
        format!("{}-prod-redis-master", cli.prefix),
        format!("{}-prod-ollama", cli.prefix),
        format!("{}-prod-opentelemetry-collector", cli.prefix),
    ] {
        assert!(
            out.contains(needle.as_str()),
            "{needle} not in the diff:\n{}",
            &out[..out.len().min(3000)]
        );
    }
}

#[test]
fn cli_a_dependency_error_is_the_apps_condition_and_other_apps_keep_working() {
    let server = server();
    let cli = Cli::new(&server, "denied", false);
    let list = cli.list();
    for env in ["dev", "staging", "prod"] {
        let app = cli.app(&list, env);
        let text = app.to_string();
        for needle in [
            "ComparisonError",
            "dependency `opentelemetry-collector`",
            "private/open-telemetry/index.yaml",
            "401",
            "fix: add credentials",
        ] {
            assert!(text.contains(needle), "{needle:?} not in {env}: {app}");
        }
        assert!(!text.contains(PASSWORD));
    }
    let plain = cli.app(&list, "plain");
    assert_eq!(plain["status"]["sync"], "OutOfSync", "{plain}");
    assert!(!plain.to_string().contains("ComparisonError"), "{plain}");
}

#[test]
fn the_helm_renderer_gets_the_same_dependencies() {
    let server = server();
    let work = tempfile::tempdir().unwrap();
    let dir = guide_repo(
        work.path(),
        &one_dependency("redis", "~20.0", "https://charts.bitnami.com/bitnami"),
    );
    let repo = Repo::open(&dir).unwrap();
    let app = apps(&repo).remove(0);
    let charts = Arc::new(ChartRepos::new(charts_config(&server, work.path(), true)));
    let helm = Renderer::new(render_opts(
        work.path(),
        RendererChoice::Helm,
        charts.clone(),
    ));
    let native = Renderer::new(render_opts(
        &work.path().join("n"),
        RendererChoice::Native,
        charts,
    ));
    let head = repo.resolve("HEAD").unwrap();
    let by_helm = helm.render(&repo, &app, &head).unwrap();
    assert_eq!(by_helm.renderer, sextant::render::RendererKind::HelmCli);
    let by_native = render(&native, &repo, &app).unwrap();
    assert_eq!(by_key(&by_helm.manifests), by_key(&by_native));
    assert!(
        by_native
            .iter()
            .any(|m| m.object["metadata"]["labels"]["helm.sh/chart"] == "redis-20.0.99")
    );
    // The clone is never written: charts/ stays absent from the work tree.
    assert!(!dir.join("deploy/helm/astromesh/charts").exists());
}

#[test]
fn an_application_with_a_chart_from_a_helm_repository_renders_like_helm_template() {
    let server = server();
    let work = tempfile::tempdir().unwrap();
    let dir = guide_repo(work.path(), "");
    std::fs::write(
        dir.join("deploy/gitops/argocd/cache.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: cache\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://charts.bitnami.com/bitnami\n    chart: redis\n    targetRevision: 20.0.x\n    helm:\n      valueFiles: [values.yaml]\n      valuesObject:\n        architecture: standalone\n        auth:\n          enabled: false\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: cache\n",
    )
    .unwrap();
    git(&dir, &["add", "-A"]);
    git(
        &dir,
        &["commit", "-q", "-m", "redis from the bitnami repository"],
    );
    let repo = Repo::open(&dir).unwrap();
    let app = apps(&repo)
        .into_iter()
        .find(|a| a.name == "cache")
        .expect("cache App");
    assert_eq!(
        app.source
            .chart()
            .map(|c| (c.name.as_str(), c.version.as_str())),
        Some(("redis", "20.0.x"))
    );
    let native = Renderer::new(render_opts(
        work.path(),
        RendererChoice::Native,
        Arc::new(ChartRepos::new(charts_config(&server, work.path(), true))),
    ));
    let ours = render(&native, &repo, &app).unwrap();
    // Oracle: helm template of the very archive the repository serves for 20.0.x.
    let values = work.path().join("inline.yaml");
    std::fs::write(
        &values,
        "architecture: standalone\nauth:\n  enabled: false\n",
    )
    .unwrap();
    let out = run(Command::new(support::bin("helm"))
        .args(["template", "cache"])
        .arg(packaged().join("bitnami/redis-20.0.99.tgz"))
        .args([
            "--namespace",
            "cache",
            "--include-crds",
            "--kube-version",
            "1.36.0",
        ])
        .arg("--values")
        .arg(&values));
    // Read as Argo CD reads helm's output (YAML 1.1 scalars), as the renderer does.
    let (docs, _) = sextant::render::yaml::parse_manifest_documents(&out, "helm template").unwrap();
    let theirs: Vec<Manifest> = docs
        .into_iter()
        .filter(|d| d.is_object())
        .map(|object| Manifest {
            object,
            source_file: String::new(),
        })
        .collect();
    assert!(!ours.is_empty());
    assert_eq!(by_key(&ours), by_key(&theirs));
    assert!(
        ours.iter().all(|m| m.source_file.starts_with("redis/")),
        "{:?}",
        ours[0].source_file
    );

    // OCI registries are not supported yet: a clear per-App error, the other Apps still load.
    std::fs::write(
        dir.join("deploy/gitops/argocd/oci.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: oci-cache\nspec:\n  source:\n    repoURL: registry-1.docker.io/bitnamicharts\n    chart: redis\n    targetRevision: 20.0.5\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: cache\n",
    )
    .unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "an OCI chart"]);
    let repo = Repo::open(&dir).unwrap();
    let head = repo.resolve("HEAD").unwrap();
    let loaded = load_apps(&repo, &head, &Config::with_defaults()).unwrap();
    assert_eq!(loaded.apps.len(), 4);
    let errors = format!("{:?}", loaded.errors);
    assert!(
        errors.contains("OCI registries are not supported yet"),
        "{errors}"
    );
}
