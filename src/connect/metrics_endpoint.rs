//! `--metrics-addr`: the local health and metrics endpoint of `molecule connect`, three routes
//! over plain HTTP/1.1 on a tokio listener (the host library serves nothing; a framework would
//! be more code than the routes):
//!
//! - `GET /metrics`: the exposition of [`Metrics`], OpenMetrics when the scraper asks for it
//!   (Prometheus does), the classic text format otherwise;
//! - `GET /healthz`: 200 while the process runs;
//! - `GET /readyz`: 200 when every workspace is registered, its backend up and its last poll
//!   recent; 503 with the reason otherwise.
//!
//! One request per connection, answered and closed; a request head over 8 KiB or slower than
//! 5 s is dropped. Bind to a loopback address unless the network in front is trusted: the
//! metrics name the workspace ids.

use std::net::SocketAddr;
use std::time::Duration;

use molecule_host::connect::Hooks;
use molecule_host::exit::{CONFIG, HasExitCode};
use molecule_host::observe::Metrics;
use molecule_host::observe::metrics::{CLASSIC, OPENMETRICS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head read.
const HEAD_MAX: usize = 8 * 1024;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The endpoint could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on --metrics-addr {addr}: {source}; choose a free port, or 0 for any")]
pub struct BindError {
    addr: SocketAddr,
    source: std::io::Error,
}

impl HasExitCode for BindError {
    fn exit_code(&self) -> u8 {
        CONFIG
    }
}

/// `hooks` with a new registry, served on `addr`, that the workspace joins.
pub async fn with_metrics(addr: SocketAddr, mut hooks: Hooks) -> Result<Hooks, BindError> {
    let (metrics, bound) = serve_registry(addr).await?;
    hooks.metrics = Some(metrics);
    hooks.metrics_addr = Some(bound);
    Ok(hooks)
}

/// A new registry served on `addr`, with the address bound, for the workspaces to join
/// (`molecule run` serves all of its workspaces from one).
pub async fn serve_registry(addr: SocketAddr) -> Result<(Metrics, String), BindError> {
    let metrics = Metrics::new();
    let bound = start(addr, metrics.clone()).await?;
    Ok((metrics, bound.to_string()))
}

/// Binds `addr` and serves `metrics` on it for as long as the runtime runs; the address
/// bound (port 0 picks one) is logged and returned.
pub async fn start(addr: SocketAddr, metrics: Metrics) -> Result<SocketAddr, BindError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| BindError { addr, source })?;
    tracing::info!(addr = %bound, "serving /metrics, /healthz and /readyz");
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, metrics.clone()));
                }
                Err(e) => {
                    tracing::debug!("metrics endpoint: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(bound)
}

async fn answer(mut stream: TcpStream, metrics: Metrics) {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    let (status, content_type, body) = route(&head, &metrics);
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The request head, up to the blank line; `None` when it is too long or the client left.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > HEAD_MAX {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

/// The status line, content type and body for a request head.
fn route(head: &str, metrics: &Metrics) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" {
        return ("405 Method Not Allowed", TEXT, "only GET\n".into());
    }
    match path {
        "/metrics" => {
            let open = head.lines().any(|l| {
                let l = l.to_ascii_lowercase();
                l.starts_with("accept:") && l.contains("application/openmetrics-text")
            });
            match open {
                true => ("200 OK", OPENMETRICS, metrics.encode()),
                false => ("200 OK", CLASSIC, metrics.encode_classic()),
            }
        }
        "/healthz" => ("200 OK", TEXT, "ok\n".into()),
        "/readyz" => match metrics.readiness() {
            Ok(()) => ("200 OK", TEXT, "ready\n".into()),
            Err(why) => (
                "503 Service Unavailable",
                TEXT,
                format!("not ready: {why}\n"),
            ),
        },
        _ => (
            "404 Not Found",
            TEXT,
            "try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}
