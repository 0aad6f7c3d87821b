//! Git push webhooks for `sextant reconcile --webhook-listen ADDR`: GitHub
//! (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`), Gitea (`X-Gitea-Signature: <hex
//! HMAC-SHA256>`) and GitLab (`X-Gitlab-Token: <secret>`). A request is only acted on when its
//! signature or token checks out against the configured secret (compared in constant time);
//! anything else gets a 4xx and changes nothing. A valid push triggers a fetch and a refresh of
//! the Apps whose `repoURL` is the pushed repository *and* whose `targetRevision` is the pushed
//! branch or tag, so they reconcile within seconds; a push nothing tracks is acknowledged (200)
//! and changes nothing.
//!
//! Revision matching follows Argo CD's webhook handler: the pushed ref `refs/heads/<b>` or
//! `refs/tags/<t>` is shortened to `<b>`/`<t>`; an App tracking `HEAD` (or nothing) follows the
//! repository's default branch (from the payload: GitHub/Gitea `repository.default_branch`,
//! GitLab `project.default_branch`; when the payload has none, the default branch of the
//! repository Sextant reads); an App tracking `refs/heads/<b>` or `refs/tags/<t>` matches only that
//! ref; any other `targetRevision` matches a branch or tag of that exact name (a commit sha
//! never moves, so a push never concerns it).

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::app::App;
use crate::engine::api::{Command, EngineHandle};

/// Largest payload accepted (GitHub caps push payloads at 25 MB; pushes we care about are small).
pub const MAX_BODY: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Gitea,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Gitea => "gitea",
        }
    }
}

/// Why a request was refused; each maps to a 4xx status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(
        "unsigned request: expected X-Hub-Signature-256 (GitHub), X-Gitea-Signature (Gitea) or X-Gitlab-Token (GitLab)"
    )]
    Unsigned,
    #[error("{0} signature does not match the configured secret")]
    BadSignature(&'static str),
    #[error("malformed {0} signature header")]
    MalformedSignature(&'static str),
    #[error("unsupported event {0:?}: only push events are handled")]
    UnsupportedEvent(String),
    #[error("invalid payload: {0}")]
    BadPayload(String),
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Unsigned | Rejection::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Rejection::MalformedSignature(_)
            | Rejection::UnsupportedEvent(_)
            | Rejection::BadPayload(_) => StatusCode::BAD_REQUEST,
        }
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Constant-time equality (the length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hmac_ok(secret: &[u8], body: &[u8], tag: &[u8]) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, body, tag).is_ok()
}

/// HMAC-SHA256 of `body` as lowercase hex (for tests and clients).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&key, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Check a request's signature; `header` looks a header up case-insensitively.
pub fn verify<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
    secret: &[u8],
) -> Result<Provider, Rejection> {
    if let Some(sig) = header("x-gitea-signature") {
        let tag = hex_decode(sig).ok_or(Rejection::MalformedSignature("Gitea"))?;
        return if hmac_ok(secret, body, &tag) {
            Ok(Provider::Gitea)
        } else {
            Err(Rejection::BadSignature("Gitea"))
        };
    }
    if let Some(sig) = header("x-hub-signature-256") {
        let hex = sig
            .trim()
            .strip_prefix("sha256=")
            .ok_or(Rejection::MalformedSignature("GitHub"))?;
        let tag = hex_decode(hex).ok_or(Rejection::MalformedSignature("GitHub"))?;
        return if hmac_ok(secret, body, &tag) {
            Ok(Provider::GitHub)
        } else {
            Err(Rejection::BadSignature("GitHub"))
        };
    }
    if let Some(token) = header("x-gitlab-token") {
        return if ct_eq(token.as_bytes(), secret) {
            Ok(Provider::GitLab)
        } else {
            Err(Rejection::BadSignature("GitLab"))
        };
    }
    Err(Rejection::Unsigned)
}

/// What a push event says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Push {
    /// Every URL the payload gives for the repository (https, ssh, web).
    pub repo_urls: Vec<String>,
    /// `refs/heads/main`, `refs/tags/v1`.
    pub git_ref: String,
    /// The new head commit.
    pub after: String,
    /// The repository's default branch, when the payload says.
    pub default_branch: Option<String>,
}

/// Parse a verified payload. `Ok(None)` for events that need no action (GitHub's `ping`).
pub fn parse_push<'a>(
    provider: Provider,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
) -> Result<Option<Push>, Rejection> {
    let event = match provider {
        Provider::GitHub => header("x-github-event"),
        Provider::Gitea => header("x-gitea-event").or_else(|| header("x-github-event")),
        Provider::GitLab => header("x-gitlab-event"),
    }
    .unwrap_or("")
    .to_string();
    match (provider, event.as_str()) {
        (Provider::GitHub | Provider::Gitea, "ping") => return Ok(None),
        (Provider::GitHub | Provider::Gitea, "push") => {}
        (Provider::GitLab, "Push Hook" | "Tag Push Hook" | "System Hook") => {}
        _ => return Err(Rejection::UnsupportedEvent(event)),
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Rejection::BadPayload(format!("not JSON: {e}")))?;
    let mut urls = Vec::new();
    let mut take = |obj: &Value, keys: &[&str]| {
        for k in keys {
            if let Some(u) = obj.get(*k).and_then(Value::as_str)
                && !u.is_empty()
            {
                urls.push(u.to_string());
            }
        }
    };
    match provider {
        Provider::GitHub | Provider::Gitea => take(
            &v["repository"],
            &["clone_url", "html_url", "ssh_url", "git_url", "url"],
        ),
        Provider::GitLab => {
            take(
                &v["project"],
                &[
                    "git_http_url",
                    "git_ssh_url",
                    "web_url",
                    "http_url",
                    "ssh_url",
                ],
            );
            take(
                &v["repository"],
                &["git_http_url", "git_ssh_url", "homepage", "url"],
            );
        }
    }
    if urls.is_empty() {
        return Err(Rejection::BadPayload(
            "no repository URL in the payload".into(),
        ));
    }
    let default_branch = match provider {
        Provider::GitHub | Provider::Gitea => v.pointer("/repository/default_branch"),
        Provider::GitLab => v.pointer("/project/default_branch"),
    }
    .and_then(Value::as_str)
    .filter(|b| !b.is_empty())
    .map(str::to_string);
    let git_ref = v["ref"].as_str().unwrap_or_default().to_string();
    if git_ref.is_empty() {
        return Err(Rejection::BadPayload(
            "no `ref` in the push payload (expected e.g. refs/heads/main)".into(),
        ));
    }
    Ok(Some(Push {
        repo_urls: urls,
        git_ref,
        after: v["after"].as_str().unwrap_or_default().to_string(),
        default_branch,
    }))
}

/// Canonical form of a repository URL: `host/path`, lowercase host, no scheme, user, `.git` or
/// trailing slash; scp-like `git@host:path` becomes `host/path`.
pub fn normalize_url(url: &str) -> String {
    let u = url.trim();
    let rest = match u.split_once("://") {
        Some((_, r)) => r.to_string(),
        None => match u.split_once(':') {
            // scp-like: user@host:path
            Some((host, path)) if !host.contains('/') => format!("{host}/{path}"),
            _ => u.to_string(),
        },
    };
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(&rest);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    // Drop a port only for ssh-style URLs would be a guess; keep it.
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    format!("{}/{}", host.to_ascii_lowercase(), path)
}

/// The short name of a ref, as Argo CD's `ParseRevision`: `refs/heads/feature/x` → `feature/x`,
/// `refs/tags/v1` → `v1`; anything else is returned unchanged.
pub fn short_ref(r: &str) -> &str {
    r.strip_prefix("refs/heads/")
        .or_else(|| r.strip_prefix("refs/tags/"))
        .unwrap_or(r)
}

/// Whether a push of `git_ref` concerns an App whose `targetRevision` is `target`.
/// `default_branch` is the pushed repository's default branch, when known.
pub fn revision_matches(target: &str, git_ref: &str, default_branch: Option<&str>) -> bool {
    let target = target.trim();
    let pushed = short_ref(git_ref);
    if target.is_empty() || target == "HEAD" {
        // HEAD is the default branch: only a push to that branch moves it.
        return git_ref.starts_with("refs/heads/") && default_branch == Some(pushed);
    }
    if target.starts_with("refs/heads/") || target.starts_with("refs/tags/") {
        return target == git_ref;
    }
    // A bare name is a branch or a tag (Argo CD does not tell them apart either).
    target == pushed
}

/// Names of the Apps whose source repository is the pushed one and whose target revision the
/// push moved. `local_remote` is the URL of the repository Sextant reads (every App comes from
/// it, whatever its `repoURL` says); `local_default_branch` is that repository's default branch,
/// used for Apps tracking `HEAD` when the payload does not name the default branch.
pub fn affected(
    apps: &[App],
    push: &Push,
    local_remote: Option<&str>,
    local_default_branch: Option<&str>,
) -> Vec<String> {
    let pushed: Vec<String> = push.repo_urls.iter().map(|u| normalize_url(u)).collect();
    let all = local_remote.is_some_and(|r| pushed.contains(&normalize_url(r)));
    let default_branch = push.default_branch.as_deref().or(local_default_branch);
    apps.iter()
        .filter(|a| all || pushed.contains(&normalize_url(&a.source.repo_url)))
        .filter(|a| revision_matches(&a.source.target_revision, &push.git_ref, default_branch))
        .map(|a| a.name.clone())
        .collect()
}

/// The default branch of the repository at `root`: what the remote's `HEAD` points to
/// (`refs/remotes/<remote>/HEAD`, recorded by fetch), else the checked-out branch.
pub fn local_default_branch(root: &std::path::Path) -> Option<String> {
    let git = git2::Repository::open(root).ok()?;
    if let Ok(remotes) = git.remotes() {
        for name in remotes.iter().flatten().flatten() {
            let prefix = format!("refs/remotes/{name}/");
            if let Ok(r) = git.find_reference(&format!("{prefix}HEAD"))
                && let Ok(Some(target)) = r.symbolic_target()
                && let Some(branch) = target.strip_prefix(&prefix)
            {
                return Some(branch.to_string());
            }
        }
    }
    let head = git.head().ok()?;
    if head.is_branch() {
        head.shorthand().ok().map(str::to_string)
    } else {
        None
    }
}

/// Shared state of the webhook server.
pub struct WebhookServer {
    pub engine: EngineHandle,
    pub secret: Vec<u8>,
    /// The remote URL of the repository the engine reads.
    pub local_remote: Option<String>,
    /// Where that repository is (for its default branch, read at each push: fetches update it).
    pub local_root: Option<std::path::PathBuf>,
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

impl WebhookServer {
    /// Handle one request. Never panics, never logs the secret or the signature.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        if path != "/api/webhook" && path != "/webhook" {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"error": "not found: POST push events to /api/webhook"}),
            );
        }
        if req.method() != Method::POST {
            return reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": "only POST is accepted"}),
            );
        }
        let headers = req.headers().clone();
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({"error": format!("payload larger than {MAX_BODY} bytes or unreadable")}),
                );
            }
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let outcome = verify(header, &body, &self.secret)
            .and_then(|p| parse_push(p, header, &body).map(|push| (p, push)));
        let (provider, push) = match outcome {
            Ok(x) => x,
            Err(rej) => {
                eprintln!("webhook: rejected request from {peer}: {rej}");
                tracing::warn!(%peer, "webhook rejected: {rej}");
                return reply(rej.status(), json!({"error": rej.to_string()}));
            }
        };
        let Some(push) = push else {
            return reply(
                StatusCode::OK,
                json!({"provider": provider.as_str(), "event": "ping", "apps": []}),
            );
        };
        let snap = self.engine.snapshot();
        let apps: Vec<App> = snap.apps.iter().map(|s| s.app.clone()).collect();
        let local_default = self.local_root.as_deref().and_then(local_default_branch);
        let names = affected(
            &apps,
            &push,
            self.local_remote.as_deref(),
            local_default.as_deref(),
        );
        eprintln!(
            "webhook: {} push to {} ({}) from {peer}: refreshing {}",
            provider.as_str(),
            push.repo_urls.first().map(String::as_str).unwrap_or(""),
            push.git_ref,
            if names.is_empty() {
                "nothing (no App tracks this repository and revision)".to_string()
            } else {
                names.join(", ")
            }
        );
        // One hard refresh fetches and re-reads the repository (every App whose revision moved
        // re-renders from it); the other affected Apps get a re-compare.
        for (i, name) in names.iter().enumerate() {
            let _ = self
                .engine
                .send(Command::Refresh {
                    app: Some(name.clone()),
                    hard: i == 0,
                })
                .await;
        }
        reply(
            if names.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            },
            json!({
                "provider": provider.as_str(),
                "event": "push",
                "ref": push.git_ref,
                "after": push.after,
                "apps": names,
            }),
        )
    }
}

/// Serve webhooks on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, server: Arc<WebhookServer>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("webhook accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, std::convert::Infallible>(server.handle(req, peer).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await
            {
                tracing::debug!(%peer, "webhook connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    }

    const SECRET: &[u8] = b"It's a Secret to Everybody";

    #[test]
    fn github_signature_matches_documented_example() {
        // GitHub's documentation example: secret "It's a Secret to Everybody", payload
        // "Hello, World!".
        let sig = sign(SECRET, b"Hello, World!");
        assert_eq!(
            sig,
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let h = format!("sha256={sig}");
        let pairs = [("X-Hub-Signature-256", h.as_str())];
        assert_eq!(
            verify(headers(&pairs), b"Hello, World!", SECRET),
            Ok(Provider::GitHub)
        );
        assert_eq!(
            verify(headers(&pairs), b"Hello, World?", SECRET),
            Err(Rejection::BadSignature("GitHub"))
        );
        assert_eq!(
            verify(headers(&pairs), b"Hello, World!", b"other"),
            Err(Rejection::BadSignature("GitHub"))
        );
    }

    #[test]
    fn malformed_and_missing_signatures() {
        let body = b"{}";
        let no_prefix = [("X-Hub-Signature-256", "abcd")];
        assert_eq!(
            verify(headers(&no_prefix), body, SECRET),
            Err(Rejection::MalformedSignature("GitHub"))
        );
        let bad_hex = [("X-Hub-Signature-256", "sha256=zz")];
        assert_eq!(
            verify(headers(&bad_hex), body, SECRET),
            Err(Rejection::MalformedSignature("GitHub"))
        );
        assert_eq!(verify(headers(&[]), body, SECRET), Err(Rejection::Unsigned));
        assert_eq!(
            Rejection::Unsigned.status(),
            StatusCode::UNAUTHORIZED,
            "unsigned is a 4xx"
        );
        // The old SHA-1 header alone is not accepted.
        let sha1 = [("X-Hub-Signature", "sha1=0000")];
        assert_eq!(
            verify(headers(&sha1), body, SECRET),
            Err(Rejection::Unsigned)
        );
    }

    #[test]
    fn gitea_and_gitlab() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let sig = sign(SECRET, body);
        let gitea = [("X-Gitea-Signature", sig.as_str())];
        assert_eq!(verify(headers(&gitea), body, SECRET), Ok(Provider::Gitea));
        let wrong = sign(b"nope", body);
        let gitea_bad = [("X-Gitea-Signature", wrong.as_str())];
        assert_eq!(
            verify(headers(&gitea_bad), body, SECRET),
            Err(Rejection::BadSignature("Gitea"))
        );
        let secret = std::str::from_utf8(SECRET).unwrap();
        let gitlab = [("X-Gitlab-Token", secret)];
        assert_eq!(verify(headers(&gitlab), body, SECRET), Ok(Provider::GitLab));
        let gitlab_bad = [("X-Gitlab-Token", "It's a Secret to Everybodx")];
        assert_eq!(
            verify(headers(&gitlab_bad), body, SECRET),
            Err(Rejection::BadSignature("GitLab"))
        );
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq(b"abc", b"abc"));
    }

    #[test]
    fn parses_push_payloads() {
        let gh = br#"{"ref":"refs/heads/main","after":"abc","repository":{"clone_url":"https://github.com/Example/repo.git","ssh_url":"git@github.com:Example/repo.git"}}"#;
        let ev = [("X-GitHub-Event", "push")];
        let p = parse_push(Provider::GitHub, headers(&ev), gh)
            .unwrap()
            .unwrap();
        assert_eq!(p.git_ref, "refs/heads/main");
        assert_eq!(p.after, "abc");
        assert_eq!(p.repo_urls.len(), 2);
        let ping = [("X-GitHub-Event", "ping")];
        assert_eq!(
            parse_push(Provider::GitHub, headers(&ping), b"{}"),
            Ok(None)
        );
        let issue = [("X-GitHub-Event", "issues")];
        assert!(matches!(
            parse_push(Provider::GitHub, headers(&issue), gh),
            Err(Rejection::UnsupportedEvent(_))
        ));
        let gl =
            br#"{"ref":"refs/heads/main","project":{"git_http_url":"https://gitlab.com/g/r.git"}}"#;
        let ev = [("X-Gitlab-Event", "Push Hook")];
        let p = parse_push(Provider::GitLab, headers(&ev), gl)
            .unwrap()
            .unwrap();
        assert_eq!(p.repo_urls, vec!["https://gitlab.com/g/r.git".to_string()]);
        assert!(matches!(
            parse_push(Provider::GitLab, headers(&ev), b"not json"),
            Err(Rejection::BadPayload(_))
        ));
        assert!(matches!(
            parse_push(Provider::GitLab, headers(&ev), b"{}"),
            Err(Rejection::BadPayload(_))
        ));
    }

    #[test]
    fn url_normalisation_and_affected_apps() {
        assert_eq!(
            normalize_url("https://GitHub.com/example/astromesh-gitops.git"),
            "github.com/example/astromesh-gitops"
        );
        assert_eq!(
            normalize_url("git@github.com:example/astromesh-gitops.git"),
            "github.com/example/astromesh-gitops"
        );
        assert_eq!(
            normalize_url("ssh://git@github.com/example/astromesh-gitops/"),
            "github.com/example/astromesh-gitops"
        );
        let mut a = super::super::session::tests::app("a-dev", "dev");
        a.source.repo_url = "https://github.com/example/astromesh-gitops.git".into();
        let mut b = super::super::session::tests::app("b-dev", "dev");
        b.source.repo_url = "https://github.com/example/other.git".into();
        let push = Push {
            repo_urls: vec!["git@github.com:example/astromesh-gitops.git".into()],
            git_ref: "refs/heads/main".into(),
            default_branch: Some("main".into()),
            ..Push::default()
        };
        let apps = vec![a, b];
        assert_eq!(
            affected(&apps, &push, None, None),
            vec!["a-dev".to_string()]
        );
        // A push to the repository Sextant reads affects every App declared in it.
        assert_eq!(
            affected(
                &apps,
                &push,
                Some("https://github.com/example/astromesh-gitops"),
                None
            )
            .len(),
            2
        );
        // ... but only when it moves their target revision.
        let other_branch = Push {
            git_ref: "refs/heads/feature".into(),
            ..push.clone()
        };
        assert!(
            affected(
                &apps,
                &other_branch,
                Some("https://github.com/example/astromesh-gitops"),
                None
            )
            .is_empty()
        );
    }

    #[test]
    fn revision_matching_follows_argo_cd() {
        // HEAD (or empty) follows the default branch, and only branch pushes move it.
        assert!(revision_matches("HEAD", "refs/heads/main", Some("main")));
        assert!(revision_matches("", "refs/heads/main", Some("main")));
        assert!(!revision_matches("HEAD", "refs/heads/dev", Some("main")));
        assert!(!revision_matches("HEAD", "refs/tags/main", Some("main")));
        assert!(!revision_matches("HEAD", "refs/heads/main", None));
        // A branch name: that branch only; slashes in branch names are kept.
        assert!(revision_matches("main", "refs/heads/main", Some("main")));
        assert!(!revision_matches("main", "refs/heads/main2", Some("main")));
        assert!(revision_matches(
            "feature/x",
            "refs/heads/feature/x",
            Some("main")
        ));
        assert!(!revision_matches("x", "refs/heads/feature/x", Some("main")));
        // A tag name matches a tag push; a bare name matches a tag of that name too (Argo CD).
        assert!(revision_matches("v1.2.0", "refs/tags/v1.2.0", None));
        assert!(!revision_matches("v1.2.0", "refs/tags/v1.2.1", None));
        // Fully qualified targets match only that exact ref.
        assert!(revision_matches(
            "refs/heads/release",
            "refs/heads/release",
            None
        ));
        assert!(!revision_matches(
            "refs/heads/release",
            "refs/tags/release",
            None
        ));
        assert!(revision_matches("refs/tags/v2", "refs/tags/v2", None));
        assert!(!revision_matches("refs/tags/v2", "refs/heads/v2", None));
        // A commit sha never moves.
        assert!(!revision_matches(
            "0123456789abcdef0123456789abcdef01234567",
            "refs/heads/main",
            Some("main")
        ));
        assert_eq!(short_ref("refs/heads/feature/x"), "feature/x");
        assert_eq!(short_ref("refs/tags/v1"), "v1");
        assert_eq!(short_ref("main"), "main");
    }

    #[test]
    fn default_branch_from_payload_and_local_fallback() {
        let gh = br#"{"ref":"refs/heads/trunk","repository":{"clone_url":"https://h/r.git","default_branch":"trunk"}}"#;
        let ev = [("X-GitHub-Event", "push")];
        let p = parse_push(Provider::GitHub, headers(&ev), gh)
            .unwrap()
            .unwrap();
        assert_eq!(p.default_branch.as_deref(), Some("trunk"));
        let gl = br#"{"ref":"refs/heads/main","project":{"git_http_url":"https://h/r.git","default_branch":"main"}}"#;
        let ev = [("X-Gitlab-Event", "Push Hook")];
        let p = parse_push(Provider::GitLab, headers(&ev), gl)
            .unwrap()
            .unwrap();
        assert_eq!(p.default_branch.as_deref(), Some("main"));
        // No ref: not a push we can match.
        let noref = br#"{"repository":{"clone_url":"https://h/r.git"}}"#;
        let ev = [("X-GitHub-Event", "push")];
        assert!(matches!(
            parse_push(Provider::GitHub, headers(&ev), noref),
            Err(Rejection::BadPayload(_))
        ));

        let mut app = super::super::session::tests::app("a-dev", "dev");
        app.source.repo_url = "https://h/r.git".into();
        let push = Push {
            repo_urls: vec!["https://h/r".into()],
            git_ref: "refs/heads/main".into(),
            ..Push::default()
        };
        // The payload does not say; the local repository's default branch decides.
        assert_eq!(
            affected(std::slice::from_ref(&app), &push, None, Some("main")).len(),
            1
        );
        assert!(affected(std::slice::from_ref(&app), &push, None, Some("trunk")).is_empty());
        // The payload wins over the local guess.
        let with_default = Push {
            default_branch: Some("trunk".into()),
            ..push
        };
        assert!(
            affected(
                std::slice::from_ref(&app),
                &with_default,
                None,
                Some("main")
            )
            .is_empty()
        );
    }

    #[test]
    fn tag_pushes_reach_apps_tracking_the_tag() {
        let gl = br#"{"ref":"refs/tags/v1.4.0","after":"abc","project":{"git_http_url":"https://gitlab.com/g/r.git","default_branch":"main"}}"#;
        let ev = [("X-Gitlab-Event", "Tag Push Hook")];
        let push = parse_push(Provider::GitLab, headers(&ev), gl)
            .unwrap()
            .unwrap();
        let app = |name: &str, target: &str| {
            let mut a = super::super::session::tests::app(name, "dev");
            a.source.repo_url = "git@gitlab.com:g/r.git".into();
            a.source.target_revision = target.into();
            a
        };
        let apps = vec![
            app("tagged", "v1.4.0"),
            app("qualified", "refs/tags/v1.4.0"),
            app("older-tag", "v1.3.0"),
            app("head", "HEAD"),
            app("main", "main"),
        ];
        assert_eq!(
            affected(&apps, &push, None, None),
            vec!["tagged".to_string(), "qualified".to_string()]
        );
    }

    #[test]
    fn local_default_branch_of_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let git = git2::Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("t", "t@t").unwrap();
        let tree = git.treebuilder(None).unwrap().write().unwrap();
        let tree = git.find_tree(tree).unwrap();
        let c = git
            .commit(Some("refs/heads/trunk"), &sig, &sig, "c", &tree, &[])
            .unwrap();
        git.set_head("refs/heads/trunk").unwrap();
        assert_eq!(local_default_branch(dir.path()).as_deref(), Some("trunk"));
        // A remote's recorded HEAD wins over the checked-out branch.
        git.remote("origin", "https://h/r.git").unwrap();
        git.reference("refs/remotes/origin/main", c, true, "t")
            .unwrap();
        git.reference_symbolic(
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
            true,
            "t",
        )
        .unwrap();
        assert_eq!(local_default_branch(dir.path()).as_deref(), Some("main"));
    }
}
