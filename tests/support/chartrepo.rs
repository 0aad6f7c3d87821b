//! A real Helm chart repository on 127.0.0.1 for tests: a small HTTP/1.1 file server over a
//! directory (holding `index.yaml` and `.tgz` files made by the real `helm package` /
//! `helm repo index`), with basic auth on one path prefix and a request counter (so a test can
//! show a warm render made no request). Stops when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

/// Basic auth required under `prefix` (e.g. `/private/`).
#[derive(Debug, Clone)]
pub struct BasicAuth {
    pub prefix: String,
    pub username: String,
    pub password: String,
}

pub struct ChartRepoServer {
    addr: String,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl ChartRepoServer {
    /// Serve `root` on a free port of 127.0.0.1. Panics (never skips) if it cannot bind.
    pub fn start(root: &Path, auth: Option<BasicAuth>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1 for the chart repo");
        let addr = listener.local_addr().expect("local addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let (s, r, root) = (stop.clone(), requests.clone(), root.to_path_buf());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (root, auth, r) = (root.clone(), auth.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &root, auth.as_ref(), &r);
                });
            }
        });
        Self {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Stop serving (later connections are refused).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ChartRepoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(
    conn: TcpStream,
    root: &Path,
    auth: Option<&BasicAuth>,
    requests: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_string());
        }
    }
    if method.is_empty() {
        return Ok(());
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let mut out = conn;
    let path = path.split('?').next().unwrap_or("/");
    if let Some(a) = auth
        && path.starts_with(&a.prefix)
    {
        use base64::Engine as _;
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", a.username, a.password))
        );
        if authorization.as_deref() != Some(want.as_str()) {
            return respond(
                &mut out,
                401,
                "Unauthorized",
                b"unauthorized\n",
                &[("WWW-Authenticate", "Basic realm=\"charts\"")],
            );
        }
    }
    let rel = path.trim_start_matches('/');
    if method != "GET" || rel.split('/').any(|p| p == "..") {
        return respond(&mut out, 400, "Bad Request", b"bad request\n", &[]);
    }
    let file: PathBuf = root.join(rel);
    match std::fs::File::open(&file).and_then(|mut f| {
        let mut v = Vec::new();
        f.read_to_end(&mut v).map(|_| v)
    }) {
        Ok(body) if file.is_file() => respond(&mut out, 200, "OK", &body, &[]),
        _ => respond(&mut out, 404, "Not Found", b"not found\n", &[]),
    }
}

fn respond(
    out: &mut TcpStream,
    code: u16,
    reason: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}
