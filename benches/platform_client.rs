//! How fast the platform client is, so it is never the bottleneck of a drain: reply POSTs per
//! second (sequential and 4 at once), activity rows per second through 500-row pages, and the
//! host CPU time and peak RSS this costs, and how fast a row over the page cap is read through
//! (not kept; platform::rowscan). The server is a minimal keep-alive HTTP/1.1 loop on loopback
//! that answers from memory, so the figures are the client's (plus the kernel's).
//!
//! Run: `cargo bench -p molecule --bench platform_client`

use molecule_host::platform::{ActivityQuery, PlatformClient, PlatformConfig, TokenSource};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uuid::Uuid;

const WS: &str = "11111111-2222-3333-4444-555555555555";
const PAGE_ROWS: usize = 500;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let addr = serve(activity_page()).await;
    let cfg = PlatformConfig::new(&format!("http://{addr}"), WS).expect("config");
    let token = TokenSource::from_value("bench-token", "bench").expect("token");
    let client = PlatformClient::new(cfg, token).expect("client");
    let target = Uuid::parse_str("99999999-8888-7777-6666-555555555555").expect("uuid");
    let body = reply_body();
    // Warm the connection pool.
    for _ in 0..200 {
        client.post_a2a(target, &body).await.expect("warm-up");
    }

    let (n, cpu0, t0) = (5_000, cpu_seconds(), Instant::now());
    for _ in 0..n {
        client.post_a2a(target, &body).await.expect("reply");
    }
    report(
        "reply POSTs, sequential",
        n,
        t0.elapsed(),
        cpu_seconds() - cpu0,
    );

    let (n, cpu0, t0) = (20_000, cpu_seconds(), Instant::now());
    let body = Arc::new(body);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (c, b) = (client.clone(), body.clone());
            tokio::spawn(async move {
                for _ in 0..n / 4 {
                    c.post_a2a(target, &*b).await.expect("reply");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    report(
        "reply POSTs, 4 concurrent",
        n,
        t0.elapsed(),
        cpu_seconds() - cpu0,
    );

    let (pages, cpu0, t0) = (200, cpu_seconds(), Instant::now());
    let q = ActivityQuery {
        since_id: Some("cursor".into()),
        limit: Some(PAGE_ROWS as u32),
        ..ActivityQuery::default()
    };
    for _ in 0..pages {
        let page = client.activity(&q).await.expect("page");
        assert_eq!(page.rows.len(), PAGE_ROWS);
    }
    report(
        "activity rows (500-row pages)",
        pages * PAGE_ROWS,
        t0.elapsed(),
        cpu_seconds() - cpu0,
    );
    println!("peak RSS: {} KiB", peak_rss_kib());

    // One row of 70 MB, over the 64 MiB cap: read through without being kept.
    const BIG: usize = 70 << 20;
    let addr = serve(oversized_page(BIG)).await;
    let cfg = PlatformConfig::new(&format!("http://{addr}"), WS).expect("config");
    let token = TokenSource::from_value("bench-token", "bench").expect("token");
    let client = PlatformClient::new(cfg, token).expect("client");
    let (pages, cpu0, t0) = (5, cpu_seconds(), Instant::now());
    for _ in 0..pages {
        let page = client.activity(&q).await.expect("page");
        assert!(page.rows[0].unreadable.is_some(), "read through, not kept");
    }
    let mb = (pages * BIG) as f64 / f64::from(1 << 20);
    let (wall, cpu) = (t0.elapsed(), cpu_seconds() - cpu0);
    println!(
        "a 70 MB row over the cap, read through: {mb:.0} MB in {wall:.2?} = {:.0} MB/s, process \
         CPU {cpu:.2} s ({:.1} ms per MB, server included)",
        mb / wall.as_secs_f64(),
        cpu * 1e3 / mb
    );
}

fn oversized_page(size: usize) -> Vec<u8> {
    let row = json!({"id": Uuid::new_v4().to_string(), "source_id": WS,
        "request_body": {"text": "x".repeat(size)},
        "created_at": "2026-05-06T06:42:13.123456Z", "seq": 1});
    serde_json::to_vec(&[row]).expect("page")
}

fn report(what: &str, n: usize, wall: Duration, cpu: f64) {
    let per_sec = n as f64 / wall.as_secs_f64();
    let cpu_us = cpu * 1e6 / n as f64;
    println!(
        "{what}: {n} in {wall:.2?} = {per_sec:.0}/s, process CPU {cpu:.2} s ({cpu_us:.1} µs each, server included)"
    );
}

fn reply_body() -> serde_json::Value {
    json!({"jsonrpc":"2.0","id":"r","method":"message/send","params":{"message":{
        "kind":"message","role":"agent","messageId":"m","contextId":"c",
        "parts":[{"kind":"text","text":"an echo of a typical short message"}],
        "metadata":{"molecule":{"inReplyTo":"x","hops":1}}}}})
}

fn activity_page() -> Vec<u8> {
    let rows: Vec<_> = (0..PAGE_ROWS)
        .map(|i| {
            json!({"id": Uuid::new_v4().to_string(), "workspace_id": WS, "activity_type": "a2a_receive",
                "source_id": "99999999-8888-7777-6666-555555555555", "target_id": WS,
                "method": "message/send", "summary": "message/send → ws (queued for poll)",
                "request_body": {"jsonrpc":"2.0","id":"x","method":"message/send","params":{"message":{
                    "role":"user","messageId": format!("m{i}"),"contextId": format!("c{}", i % 50),
                    "parts":[{"kind":"text","text":"hello there, a typical short message"}]}}},
                "status":"ok","created_at":"2026-05-06T06:42:13.123456Z","seq": i})
        })
        .collect();
    serde_json::to_vec(&rows).expect("page")
}

/// A keep-alive HTTP/1.1 server: GET answers `page`, anything else `queued`.
async fn serve(page: Vec<u8>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let page: Arc<[u8]> = response(&page).into();
    let queued: Arc<[u8]> =
        response(br#"{"status":"queued","delivery_mode":"poll","method":"message/send"}"#).into();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (page, queued) = (page.clone(), queued.clone());
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                loop {
                    let Some((head_end, is_get, body_len)) = read_head(&mut sock, &mut buf).await
                    else {
                        return;
                    };
                    while buf.len() < head_end + body_len {
                        let mut chunk = [0u8; 8192];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + body_len);
                    let out = if is_get { &page } else { &queued };
                    if sock.write_all(out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn read_head(
    sock: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> Option<(usize, bool, usize)> {
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            return Some((pos + 4, head.starts_with("get "), len));
        }
        let mut chunk = [0u8; 8192];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn response(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// User + system CPU seconds of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
