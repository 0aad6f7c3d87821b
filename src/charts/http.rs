//! HTTP(S) downloads of indexes and chart archives: system roots plus an optional CA file per
//! repository, `insecure` per repository, credentials per URL prefix, proxy variables, a size
//! limit. Blocking (renders run on worker threads, never on the UI thread).

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::config::{ChartsConfig, RepositoryConfig};
use super::error::ChartError;

/// Download `url` (already mirrored) with the settings that match it.
pub fn get(cfg: &ChartsConfig, url: &str) -> Result<Vec<u8>, ChartError> {
    let repo = cfg.repository_for(url);
    let agent = agent(cfg, repo, url)?;
    let mut req = agent.get(url);
    if let Some(auth) = authorization(repo, url)? {
        req = req.header("Authorization", auth);
    }
    let unreachable = |e: ureq::Error| ChartError::Unreachable {
        url: url.to_string(),
        message: e.to_string(),
    };
    let mut resp = req.call().map_err(unreachable)?;
    let status = resp.status().as_u16();
    match status {
        200..=299 => {}
        401 | 403 => {
            return Err(ChartError::Denied {
                url: url.to_string(),
                status,
                reason: if status == 401 {
                    "unauthorized: no or wrong credentials"
                } else {
                    "forbidden: the credentials lack access"
                },
                prefix: repo_prefix(url),
            });
        }
        _ => {
            return Err(ChartError::HttpStatus {
                url: url.to_string(),
                status,
            });
        }
    }
    let limit = cfg.max_download_bytes();
    if resp.body().content_length().is_some_and(|n| n > limit) {
        return Err(too_large(cfg, url));
    }
    // Read one byte past the limit so an over-long body is told apart from one exactly at it.
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(limit.saturating_add(1))
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => too_large(cfg, url),
            other => unreachable(other),
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large(cfg, url));
    }
    Ok(bytes)
}

fn too_large(cfg: &ChartsConfig, url: &str) -> ChartError {
    ChartError::TooLarge {
        url: url.to_string(),
        limit_mib: cfg.max_download_mib,
    }
}

/// The directory part of `url` (what a credentials entry would be written for).
fn repo_prefix(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((dir, _)) if dir.contains("://") && dir.split("://").nth(1).is_some() => {
            dir.to_string()
        }
        _ => url.to_string(),
    }
}

fn system_roots() -> &'static [Certificate<'static>] {
    static ROOTS: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        if !loaded.errors.is_empty() {
            tracing::debug!(
                "some system CA certificates could not be read: {:?}",
                loaded.errors
            );
        }
        loaded
            .certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect()
    })
}

fn agent(
    cfg: &ChartsConfig,
    repo: Option<&RepositoryConfig>,
    url: &str,
) -> Result<ureq::Agent, ChartError> {
    let mut roots: Vec<Certificate<'static>> = system_roots().to_vec();
    if let Some(path) = repo.and_then(|r| r.ca_file.as_ref()) {
        let pem = std::fs::read(path).map_err(|e| ChartError::Credentials {
            url: url.to_string(),
            message: format!("cannot read ca_file {}: {e}", path.display()),
            fix: "point ca_file at a readable PEM file".into(),
        })?;
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                roots.push(c);
            }
        }
    }
    let tls = TlsConfig::builder()
        .root_certs(if roots.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::new_with_certs(&roots)
        })
        .disable_verification(repo.is_some_and(|r| r.insecure))
        .build();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(cfg.timeout_secs.max(1))))
        .tls_config(tls)
        .proxy(ureq::Proxy::try_from_env())
        // ureq drops the Authorization header on redirects (its default): credentials are
        // for the URL they were configured for, not for wherever it redirects.
        .max_redirects(10)
        .build();
    Ok(config.into())
}

/// The `Authorization` header for `url`, reading the secret from its env var or file.
fn authorization(repo: Option<&RepositoryConfig>, url: &str) -> Result<Option<String>, ChartError> {
    let Some(repo) = repo else { return Ok(None) };
    let secret = |env: &Option<String>, file: &Option<std::path::PathBuf>, what: &str| {
        if let Some(var) = env {
            return match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(v)),
                _ => Err(ChartError::Credentials {
                    url: url.to_string(),
                    message: format!("environment variable {var} ({what}) is not set"),
                    fix: format!("export {var}, or change the repository entry in config.toml"),
                }),
            };
        }
        if let Some(path) = file {
            return std::fs::read_to_string(path)
                .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| ChartError::Credentials {
                    url: url.to_string(),
                    message: format!("cannot read {what} file {}: {e}", path.display()),
                    fix: "make the file readable, or change the repository entry in config.toml"
                        .into(),
                });
        }
        Ok(None)
    };
    if let Some(token) = secret(&repo.token_env, &repo.token_file, "token")? {
        return Ok(Some(format!("Bearer {token}")));
    }
    let Some(user) = &repo.username else {
        return Ok(None);
    };
    let password = secret(&repo.password_env, &repo.password_file, "password")?.unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Ok(Some(format!("Basic {encoded}")))
}
