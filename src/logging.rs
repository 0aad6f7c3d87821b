//! Tracing to a file, never to the terminal (a full-screen UI owns it).

use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;

/// Keeps the non-blocking writer flushing until dropped at exit.
pub struct LogGuard {
    _guard: tracing_appender::non_blocking::WorkerGuard,
    pub file: PathBuf,
}

/// Send `tracing` output at `level` (e.g. `info`, `sextant=debug`) to `DIR/sextant.log`.
pub fn init(dir: &Path, level: &str) -> std::io::Result<LogGuard> {
    std::fs::create_dir_all(dir)?;
    let appender = tracing_appender::rolling::never(dir, "sextant.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_new(level).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("--log-level {level:?}: {e}"),
        )
    })?;
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(LogGuard {
        _guard: guard,
        file: dir.join("sextant.log"),
    })
}
