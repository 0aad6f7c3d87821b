//! A Helm repository's `index.yaml`: which versions of which charts it has, where their
//! archives are and their sha256 digests; and version selection as `helm dependency` does
//! (newest version satisfying the constraint, Masterminds semver rules).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::ChartError;

/// One chart version in an index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub urls: Vec<String>,
    /// Hex sha256 of the archive, when the index has it.
    pub digest: String,
}

/// A parsed index: chart name → versions, newest first.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
}

/// A scalar read as text (`version: 1.0` is a float to YAML, a version to Helm).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    S(String),
    I(i64),
    F(f64),
    B(bool),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::S(s) => s,
            Scalar::I(i) => i.to_string(),
            Scalar::F(f) => f.to_string(),
            Scalar::B(b) => b.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    name: Option<Scalar>,
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(default)]
    urls: Option<Vec<String>>,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    entries: Option<BTreeMap<String, Option<Vec<Option<RawEntry>>>>>,
}

impl Index {
    /// Parse `bytes` fetched from `url` (for messages).
    pub fn parse(bytes: &[u8], url: &str) -> Result<Index, ChartError> {
        let malformed = |message: String| ChartError::MalformedIndex {
            url: url.to_string(),
            message,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| malformed(e.to_string()))?;
        // Public indexes are large (tens of thousands of entries): scale the parser's budget
        // with the input, which the download size limit already bounds.
        let scaled = text.len().max(1_000_000);
        let mut budget = serde_saphyr::Budget::default();
        budget.max_events = scaled;
        budget.max_nodes = scaled;
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        let raw: RawIndex = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| malformed(e.to_string()))?;
        if raw.api_version.as_deref().unwrap_or_default().is_empty() {
            // Helm: "no API version specified".
            return Err(malformed(
                "no apiVersion (not a Helm repository index)".into(),
            ));
        }
        let mut entries = BTreeMap::new();
        for (name, versions) in raw.entries.unwrap_or_default() {
            let mut list: Vec<IndexEntry> = versions
                .unwrap_or_default()
                .into_iter()
                .flatten()
                .map(|e| IndexEntry {
                    name: e.name.map(Scalar::text).unwrap_or_else(|| name.clone()),
                    version: e.version.map(Scalar::text).unwrap_or_default(),
                    urls: e.urls.unwrap_or_default(),
                    digest: e.digest.unwrap_or_default(),
                })
                // Helm skips entries whose version is not semver.
                .filter(|e| helmchart::semver::Version::parse(&e.version).is_some())
                .collect();
            list.sort_by(|a, b| compare_versions(&b.version, &a.version));
            entries.insert(name, list);
        }
        Ok(Index { entries })
    }

    /// The newest version of `chart` matching `constraint`.
    pub fn select(&self, chart: &str, constraint: &str) -> Option<&IndexEntry> {
        let constraint = if constraint.trim().is_empty() {
            "*"
        } else {
            constraint
        };
        self.entries
            .get(chart)?
            .iter()
            .find(|e| helmchart::semver::satisfies(constraint, &e.version))
    }

    /// A few of the newest versions of `chart` (for "no matching version" messages).
    pub fn newest(&self, chart: &str, n: usize) -> String {
        let list: Vec<&str> = self
            .entries
            .get(chart)
            .map(|l| l.iter().take(n).map(|e| e.version.as_str()).collect())
            .unwrap_or_default();
        if list.is_empty() {
            "none".into()
        } else {
            list.join(", ")
        }
    }
}

fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (
        helmchart::semver::Version::parse(a),
        helmchart::semver::Version::parse(b),
    ) {
        (Some(x), Some(y)) => (x.major, x.minor, x.patch)
            .cmp(&(y.major, y.minor, y.patch))
            .then_with(|| match (x.pre.is_empty(), y.pre.is_empty()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) => compare_prerelease(&x.pre, &y.pre),
            }),
        _ => a.cmp(b),
    }
}

/// Semver prerelease precedence: numeric identifiers numerically and below alphanumeric ones.
fn compare_prerelease(a: &str, b: &str) -> std::cmp::Ordering {
    let (ap, bp): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in ap.iter().zip(bp.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    ap.len().cmp(&bp.len())
}

/// Resolve a chart URL from an index against the repository URL, as Helm does: relative
/// URLs are relative to the repository directory.
pub fn resolve_url(repo_url: &str, chart_url: &str) -> String {
    if chart_url.contains("://") {
        return chart_url.to_string();
    }
    let base = repo_url.trim_end_matches('/');
    if let Some(abs) = chart_url.strip_prefix('/') {
        // Host-absolute: scheme://host + path.
        let host_end = base
            .find("://")
            .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
            .unwrap_or(base.len());
        return format!("{}/{abs}", &base[..host_end]);
    }
    format!("{base}/{}", chart_url.trim_start_matches("./"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "apiVersion: v1\nentries:\n  redis:\n  - name: redis\n    version: 20.0.5\n    urls: [redis-20.0.5.tgz]\n    digest: abc\n  - name: redis\n    version: 20.1.0\n    urls: [https://x/redis-20.1.0.tgz]\n  - name: redis\n    version: 21.0.0-rc.1\n    urls: [r.tgz]\n  - name: redis\n    version: notsemver\n  common:\n  - version: 2\n    urls: [c.tgz]\n";

    #[test]
    fn selects_newest_matching_without_prereleases() {
        let idx = Index::parse(INDEX.as_bytes(), "u").unwrap();
        assert_eq!(idx.select("redis", "~20.0").unwrap().version, "20.0.5");
        assert_eq!(idx.select("redis", "20.x.x").unwrap().version, "20.1.0");
        assert_eq!(idx.select("redis", ">=20.0.0").unwrap().version, "20.1.0");
        assert_eq!(idx.select("redis", "*").unwrap().version, "20.1.0");
        assert!(idx.select("redis", "~19.0").is_none());
        assert_eq!(idx.select("common", "2.x").unwrap().version, "2");
        assert_eq!(idx.newest("redis", 2), "21.0.0-rc.1, 20.1.0");
    }

    #[test]
    fn malformed_indexes_are_reported() {
        let err = Index::parse(b"entries: [", "http://h/index.yaml").unwrap_err();
        assert!(
            err.to_string()
                .contains("malformed repository index http://h/index.yaml")
        );
        let err = Index::parse(b"entries: {}\n", "u").unwrap_err();
        assert!(err.to_string().contains("apiVersion"), "{err}");
    }

    #[test]
    fn chart_urls_resolve_against_the_repository() {
        assert_eq!(resolve_url("http://h/r/", "c-1.tgz"), "http://h/r/c-1.tgz");
        assert_eq!(resolve_url("http://h/r", "/x/c.tgz"), "http://h/x/c.tgz");
        assert_eq!(
            resolve_url("http://h/r", "https://o/c.tgz"),
            "https://o/c.tgz"
        );
    }
}
