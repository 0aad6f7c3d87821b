//! Where chart files come from: a directory on disk, a `.tgz` archive, or an in-memory map
//! (e.g. blobs read from a git tree at a commit).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::error::LoadError;
use crate::ignore::Rules;

/// The files of one chart: slash-separated paths relative to the chart root → contents.
///
/// Build it from a directory ([`ChartFiles::from_dir`], `.helmignore` applied as Helm does),
/// from an archive ([`ChartFiles::from_tgz`]) or from any map of paths to bytes
/// ([`ChartFiles::from_map`], `.helmignore` applied too), such as the blobs of a git tree.
#[derive(Debug, Clone, Default)]
pub struct ChartFiles {
    files: BTreeMap<String, Arc<[u8]>>,
}

/// Largest total size of the files of a chart archive once decompressed (Helm's limit).
pub const MAX_DECOMPRESSED_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// Largest single file in a chart archive.
pub const MAX_DECOMPRESSED_FILE_SIZE: u64 = 5 * 1024 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn strip_bom(data: Vec<u8>) -> Vec<u8> {
    match data.strip_prefix(UTF8_BOM) {
        Some(rest) => rest.to_vec(),
        None => data,
    }
}

impl ChartFiles {
    /// Files from a map of relative paths (`/`-separated) to contents. `.helmignore` at the
    /// root, if present, filters the rest exactly as `helm` filters a chart directory.
    pub fn from_map<I, K, V>(entries: I) -> Result<ChartFiles, LoadError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Vec<u8>>,
    {
        let mut raw: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (k, v) in entries {
            let k: String = k.into();
            let k = k.replace('\\', "/");
            let k = k.trim_start_matches("./").to_string();
            if k.is_empty() || k.ends_with('/') {
                continue;
            }
            raw.insert(k, strip_bom(v.into()));
        }
        let rules = match raw.get(".helmignore") {
            Some(data) => {
                Rules::parse(&String::from_utf8_lossy(data)).map_err(|e| LoadError::Invalid {
                    file: ".helmignore".into(),
                    message: e,
                })?
            }
            None => Rules::default(),
        };
        let mut files = BTreeMap::new();
        for (path, data) in raw {
            if rules.ignored_with_parents(&path) {
                continue;
            }
            files.insert(path, Arc::from(data));
        }
        Ok(ChartFiles { files })
    }

    /// Files without `.helmignore` filtering (archives are loaded this way by Helm).
    pub fn from_map_unfiltered(entries: BTreeMap<String, Vec<u8>>) -> ChartFiles {
        ChartFiles {
            files: entries
                .into_iter()
                .map(|(k, v)| (k, Arc::from(strip_bom(v))))
                .collect(),
        }
    }

    /// Reads a chart directory (following `.helmignore`).
    pub fn from_dir(dir: &Path) -> Result<ChartFiles, LoadError> {
        let mut raw = BTreeMap::new();
        walk(dir, dir, &mut raw, 0)?;
        ChartFiles::from_map(raw)
    }

    /// Unpacks a gzipped chart archive (`helm package` output): the top directory is stripped.
    pub fn from_tgz(bytes: &[u8]) -> Result<ChartFiles, LoadError> {
        let gz = flate2::read::GzDecoder::new(bytes);
        let mut ar = tar::Archive::new(gz);
        let mut files = BTreeMap::new();
        let mut total: u64 = 0;
        let entries = ar
            .entries()
            .map_err(|e| LoadError::Archive(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| LoadError::Archive(e.to_string()))?;
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| LoadError::Archive(e.to_string()))?
                .to_string_lossy()
                .replace('\\', "/");
            let mut parts = path.splitn(2, '/');
            let _top = parts.next();
            let Some(rel) = parts.next() else { continue };
            if rel.is_empty() || rel.split('/').any(|p| p == "..") {
                continue;
            }
            let size = entry.header().size().unwrap_or(0);
            if size > MAX_DECOMPRESSED_FILE_SIZE {
                return Err(LoadError::Archive(format!(
                    "decompressed chart file {rel:?} is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}"
                )));
            }
            total += size;
            if total > MAX_DECOMPRESSED_CHART_SIZE {
                return Err(LoadError::Archive(
                    "chart exceeds maximum decompressed size".into(),
                ));
            }
            let mut data = Vec::with_capacity(size as usize);
            (&mut entry)
                .take(MAX_DECOMPRESSED_FILE_SIZE + 1)
                .read_to_end(&mut data)
                .map_err(|e| LoadError::Archive(e.to_string()))?;
            files.insert(rel.to_string(), data);
        }
        if files.is_empty() {
            return Err(LoadError::Archive("no files in chart archive".into()));
        }
        Ok(ChartFiles::from_map_unfiltered(files))
    }

    /// The contents of a file.
    pub fn get(&self, path: &str) -> Option<&Arc<[u8]>> {
        self.files.get(path)
    }

    /// All files, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<[u8]>)> {
        self.files.iter()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Vec<u8>>,
    depth: usize,
) -> Result<(), LoadError> {
    if depth > 64 {
        return Err(LoadError::Io {
            path: dir.display().to_string(),
            message: "directory nesting too deep (symlink loop?)".into(),
        });
    }
    let io = |p: &Path, e: std::io::Error| LoadError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let meta = std::fs::metadata(&p).map_err(|e| io(&p, e))?;
        if meta.is_dir() {
            walk(root, &p, out, depth + 1)?;
        } else if meta.is_file() {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            let data = std::fs::read(&p).map_err(|e| io(&p, e))?;
            out.insert(rel, data);
        }
    }
    Ok(())
}
