//! Chart dependencies as `helm dependency build` (and Argo CD's repo server) fetch them:
//! each dependency missing from `charts/` is resolved from its repository (`https://`/`http://`
//! index, `file://` path inside the Git repository, `@name`/`alias:name` from configuration),
//! the newest version matching its constraint, or the exact version of a `Chart.lock` whose
//! digest matches `Chart.yaml`.

use std::path::PathBuf;

use serde_json::Value;

use super::ChartRepos;
use super::error::ChartError;
use super::index::resolve_url;
use super::lock::{Dep, Lock, hash_req, hash_v2_req};

/// What a chart declares: its dependencies, lock and where they were read from.
pub struct Declared<'a> {
    /// `Chart.yaml` or `requirements.yaml` (for messages).
    pub deps_file: String,
    pub dependencies: Vec<Dep>,
    /// `(file, parsed)` of `Chart.lock` / `requirements.lock`, when committed.
    pub lock: Option<(String, Value)>,
    /// `apiVersion: v1` chart (Helm 2 lock digests are accepted too).
    pub v1: bool,
    /// Names (not aliases) already present in `charts/`.
    pub vendored: &'a [String],
}

/// A dependency resolved to a chart archive.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// A cached archive: put it in `charts/` as `file_name`.
    Archive {
        file_name: String,
        path: PathBuf,
        /// Hex sha256 (content id for the render cache).
        digest: String,
        /// Where it came from (the requested URL, after mirroring).
        url: String,
    },
    /// A `file://` dependency: a chart directory of the Git repository (repo-relative).
    Local { name: String, repo_path: String },
}

/// The result: archives to add to `charts/`, and notices (offline use of a stale index).
#[derive(Debug, Default)]
pub struct Resolution {
    pub fetched: Vec<Fetched>,
    pub notices: Vec<String>,
}

/// Is a dependency named `name` already in `charts/` (as `name/` or `name-<version>.tgz`)?
pub fn is_vendored(vendored: &[String], name: &str) -> bool {
    vendored.iter().any(|v| {
        v == name
            || v.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|ver| ver.starts_with(|c: char| c.is_ascii_digit() || c == 'v'))
    })
}

impl ChartRepos {
    /// Resolve every dependency of `declared` that is not vendored. `chart_path` is the
    /// chart's repo-relative directory (`file://` paths are relative to it).
    pub fn resolve(
        &self,
        declared: &Declared<'_>,
        chart_path: &str,
    ) -> Result<Resolution, ChartError> {
        let missing: Vec<&Dep> = declared
            .dependencies
            .iter()
            .filter(|d| !is_vendored(declared.vendored, &d.name))
            .collect();
        let mut out = Resolution::default();
        if missing.is_empty() {
            return Ok(out);
        }
        // `@name` repositories are replaced by their URL before the lock digest is computed,
        // as Helm does; the Helm 2 digest is of the file as written.
        let v2_digest = hash_v2_req(&declared.dependencies);
        let named: Vec<Dep> = declared
            .dependencies
            .iter()
            .map(|d| {
                let mut d = d.clone();
                if let Some(url) = self.named_url(&d.repository) {
                    d.repository = url;
                }
                d
            })
            .collect();
        let lock = match &declared.lock {
            Some((file, v)) => {
                let lock = Lock::from_value(v);
                let ok = lock.digest == hash_req(&named, &lock.dependencies)
                    || (declared.v1 && lock.digest == v2_digest);
                if !ok {
                    return Err(ChartError::LockOutOfSync {
                        lock_file: file.clone(),
                        deps_file: declared.deps_file.clone(),
                        detail: out_of_sync_detail(&named, &lock.dependencies),
                    });
                }
                Some(lock)
            }
            None => None,
        };
        for dep in missing {
            let wrap = |e: ChartError| ChartError::Dependency {
                dependency: dep.name.clone(),
                constraint: dep.version.clone(),
                repository: dep.repository.clone(),
                source: Box::new(e),
            };
            // With a lock, the exact locked version from the locked repository.
            let (constraint, repository) = match lock
                .as_ref()
                .and_then(|l| l.dependencies.iter().find(|l| l.name == dep.name))
            {
                Some(l) => (format!("={}", l.version), l.repository.clone()),
                None => (dep.version.clone(), dep.repository.clone()),
            };
            let fetched = self
                .resolve_one(&dep.name, &constraint, &repository, chart_path, &mut out)
                .map_err(wrap)?;
            if !out.fetched.contains(&fetched) {
                out.fetched.push(fetched);
            }
        }
        Ok(out)
    }

    /// One chart (an Application's `source.chart`): the newest version of `name` in
    /// `repository` matching `constraint`, as a cached archive, plus notices.
    pub fn fetch_chart(
        &self,
        name: &str,
        constraint: &str,
        repository: &str,
    ) -> Result<(Fetched, Vec<String>), ChartError> {
        let mut out = Resolution::default();
        let fetched = self.resolve_one(name, constraint, repository, "", &mut out)?;
        Ok((fetched, out.notices))
    }

    fn named_url(&self, repository: &str) -> Option<String> {
        let name = repository
            .strip_prefix('@')
            .or_else(|| repository.strip_prefix("alias:"))?;
        self.config().named(name).map(|r| r.url.clone())
    }

    fn resolve_one(
        &self,
        name: &str,
        constraint: &str,
        repository: &str,
        chart_path: &str,
        out: &mut Resolution,
    ) -> Result<Fetched, ChartError> {
        let cfg = self.config();
        if repository.is_empty() {
            return Err(ChartError::Repository {
                repository: String::new(),
                message: format!("is empty and charts/{name} is not in the chart"),
                fix: format!(
                    "commit the chart as charts/{name}/, or set its repository in Chart.yaml"
                ),
            });
        }
        if let Some(rel) = repository.strip_prefix("file://") {
            let Some(repo_path) = crate::render::helm_cli::resolve_in_repo(chart_path, rel) else {
                return Err(ChartError::Local {
                    path: rel.to_string(),
                    message:
                        "the path leaves the Git repository; Sextant renders only what is in it"
                            .into(),
                });
            };
            return Ok(Fetched::Local {
                name: name.to_string(),
                repo_path,
            });
        }
        let base = match self.named_url(repository) {
            Some(url) => url,
            None if repository.starts_with('@') || repository.starts_with("alias:") => {
                return Err(ChartError::Repository {
                    repository: repository.to_string(),
                    message: "names a repository that config.toml does not define".into(),
                    fix: "add [[charts.repositories]] with this name and its url to config.toml, or write the URL in Chart.yaml".into(),
                });
            }
            None => repository.to_string(),
        };
        let mirrored_base = cfg.mirrored(base.trim_end_matches('/'));
        if !(mirrored_base.starts_with("https://") || mirrored_base.starts_with("http://")) {
            let (message, fix) = if base.starts_with("oci://") {
                (
                    "is an OCI registry; OCI dependencies are not supported yet",
                    "commit the chart under charts/, or map the registry to a Helm HTTP repository with [[charts.mirrors]]",
                )
            } else {
                (
                    "is not an http(s):// or file:// repository",
                    "use an https:// chart repository, a file:// path, or @name from config.toml",
                )
            };
            return Err(ChartError::Repository {
                repository: repository.to_string(),
                message: message.into(),
                fix: fix.into(),
            });
        }
        let index_url = format!("{mirrored_base}/index.yaml");
        let fetched = self.cache().index(cfg, &index_url)?;
        if let Some(n) = fetched.offline_notice
            && !out.notices.contains(&n)
        {
            out.notices.push(n);
        }
        let index = fetched.index;
        if !index.entries.contains_key(name) {
            return Err(ChartError::NotInIndex {
                chart: name.to_string(),
                url: index_url,
            });
        }
        let Some(entry) = index.select(name, constraint) else {
            return Err(ChartError::NoMatchingVersion {
                chart: name.to_string(),
                constraint: constraint.to_string(),
                url: index_url,
                available: index.newest(name, 5),
            });
        };
        let Some(first) = entry.urls.first() else {
            return Err(ChartError::MalformedIndex {
                url: index_url,
                message: format!("{name} {} has no urls", entry.version),
            });
        };
        // Absolute archive URLs may point at the upstream host: mirror them too.
        let url = cfg.mirrored(&resolve_url(&mirrored_base, first));
        let digest = entry.digest.trim_start_matches("sha256:").to_lowercase();
        let path = self.cache().archive(cfg, &url, &digest)?;
        let digest = if digest.is_empty() {
            let bytes = std::fs::read(&path).map_err(ChartError::io(&path))?;
            super::cache::sha256_hex(&bytes)
        } else {
            digest
        };
        Ok(Fetched::Archive {
            file_name: format!("{name}-{}.tgz", entry.version),
            path,
            digest,
            url,
        })
    }
}

/// Name the dependency a stale lock disagrees on, when one can be found.
fn out_of_sync_detail(req: &[Dep], lock: &[Dep]) -> String {
    for d in req {
        match lock.iter().find(|l| l.name == d.name) {
            None => return format!(": dependency `{}` is not in the lock", d.name),
            Some(l) if l.repository != d.repository => {
                return format!(
                    ": dependency `{}` is locked from {} but Chart.yaml says {}",
                    d.name, l.repository, d.repository
                );
            }
            Some(l)
                if !helmchart::semver::satisfies(
                    if d.version.is_empty() {
                        "*"
                    } else {
                        &d.version
                    },
                    &l.version,
                ) =>
            {
                return format!(
                    ": dependency `{}` is locked at {} which does not match `{}`",
                    d.name, l.version, d.version
                );
            }
            Some(_) => {}
        }
    }
    for l in lock {
        if !req.iter().any(|d| d.name == l.name) {
            return format!(": dependency `{}` is locked but no longer declared", l.name);
        }
    }
    let names: Vec<&str> = req.iter().map(|d| d.name.as_str()).collect();
    format!(
        " (digest differs; dependencies: {}; a field such as condition, alias or tags changed)",
        names.join(", ")
    )
}
