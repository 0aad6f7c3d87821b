//! Platform directories: config, cache (clones of remote repos), state (logs).

use std::path::PathBuf;

use directories::ProjectDirs;

pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("io", "sextant", "sextant")
}

/// Where clones of remote repositories live.
pub fn cache_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("sextant-cache"))
}

/// Where logs go: the state dir where the platform has one, else the data dir.
pub fn log_dir() -> PathBuf {
    project_dirs()
        .map(|d| {
            d.state_dir()
                .unwrap_or_else(|| d.data_local_dir())
                .to_path_buf()
        })
        .unwrap_or_else(|| std::env::temp_dir().join("sextant-state"))
        .join("logs")
}
