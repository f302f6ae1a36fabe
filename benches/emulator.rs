//! Emulator benchmark: time from start to ready, idle RSS, and the requests per second it
//! sustains on cursor reads of 100 rows (`GET activity`) and on `POST a2a`, from a loopback
//! client with several connections. Then `molecule dev` as a person runs it: the time from
//! start to its ready message (emulator, workspaces, backend started, registered, polling),
//! and its idle RSS with the embedded echo backend.
//!
//! The emulator runs as its own process (`molecule emulator`, the hidden subcommand) so its
//! RSS and start-up are its own; the client shares the machine's cores with it.
//!
//!     cargo bench --bench emulator
//!
//! `MOLECULE_BENCH_SECS` (default 5) sets each load phase's length and
//! `MOLECULE_BENCH_CONNS` (default 8) the number of client connections.

#[path = "support/host.rs"]
mod host;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = tick(11) + tick(12);
    ticks as f64 / 100.0
}

/// A minimal keep-alive HTTP/1.1 client connection: the benchmark measures the server, so the
/// client should cost as little CPU as possible on the shared cores.
struct RawConn {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    buf: Vec<u8>,
}

impl RawConn {
    async fn open(addr: &str) -> RawConn {
        let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        RawConn {
            stream: tokio::io::BufReader::new(s),
            buf: Vec::with_capacity(1 << 17),
        }
    }

    /// Sends `head` (+ `body`) and reads the whole answer; returns its status.
    async fn call(&mut self, head: &str, body: &[u8]) -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let mut req = Vec::with_capacity(head.len() + body.len());
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(body);
        self.stream.get_mut().write_all(&req).await.expect("write");
        let mut status = 0;
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("read");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if status == 0 {
                status = l
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            } else if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        self.buf.resize(len, 0);
        self.stream.read_exact(&mut self.buf).await.expect("body");
        status
    }
}

/// Starts the emulator process; returns it, its base URL and the time to its ready line.
fn start() -> (Child, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_molecule"))
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start molecule emulator");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the ready line");
    let ready = started.elapsed();
    let v: Value = serde_json::from_str(&line).expect("the ready line is JSON");
    let url = v["base_url"].as_str().expect("base_url").to_owned();
    (child, url, ready)
}

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    let mut req = http.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("json")
}

fn message(i: u64, tag: &str) -> Value {
    json!({"jsonrpc":"2.0","id":i,"method":"message/send","params":{"message":{
        "role":"user","messageId":format!("{tag}-{i}"),
        "parts":[{"kind":"text","text":format!("benchmark message {i}, a sentence of ordinary length")}]}}})
}

type Op = Box<
    dyn Fn(
            &mut RawConn,
            u64,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>
        + Send
        + Sync,
>;

/// Runs `conns` connections for `secs`, each calling `op` back to back; returns requests/s.
async fn load<F>(conns: u64, secs: u64, addr: &str, op: F) -> f64
where
    F: Fn(
            &mut RawConn,
            u64,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>
        + Send
        + Sync
        + 'static,
{
    let op: Arc<Op> = Arc::new(Box::new(op));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..conns {
        let (op, done, addr) = (op.clone(), done.clone(), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = RawConn::open(&addr).await;
            let mut i = w << 32;
            while Instant::now() < deadline {
                op(&mut conn, i).await;
                i += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let secs = env_num("MOLECULE_BENCH_SECS", 5);
    let conns = env_num("MOLECULE_BENCH_CONNS", 8);
    let (mut child, base, ready) = start();
    let pid = child.id();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let idle = rss_kib(pid);
    let (reads, writes) = rt.block_on(async {
        // The emulator's `/_dev` path wants this header (any value: the in-process one has no key).
        let mut dev_header = reqwest::header::HeaderMap::new();
        dev_header.insert("x-molecule-dev", reqwest::header::HeaderValue::from_static("1"));
        let http = reqwest::Client::builder()
            .no_proxy()
            .default_headers(dev_header)
            .pool_max_idle_per_host(conns as usize)
            .build()
            .expect("client");
        let main = post(
            &http,
            &format!("{base}/_dev/workspaces"),
            None,
            &json!({"name":"main","delivery_mode":"poll"}),
        )
        .await;
        let peer = post(
            &http,
            &format!("{base}/_dev/workspaces"),
            None,
            &json!({"name":"peer","parent_id":main["id"],"delivery_mode":"poll"}),
        )
        .await;
        let (main_id, main_tok) = (
            main["id"].as_str().unwrap_or_default().to_owned(),
            main["token"].as_str().unwrap_or_default().to_owned(),
        );
        let peer_tok = peer["token"].as_str().unwrap_or_default().to_owned();
        let a2a = format!("{base}/workspaces/{main_id}/a2a");
        for i in 0..1100 {
            post(&http, &a2a, Some(&peer_tok), &message(i, "seed")).await;
        }
        let all: Vec<Value> = http
            .get(format!("{base}/_dev/workspaces/{main_id}/feed"))
            .send()
            .await
            .expect("feed")
            .json()
            .await
            .expect("json");
        let cursor = all[0]["id"].as_str().unwrap_or_default().to_owned();
        let read_url = format!(
            "{base}/workspaces/{main_id}/activity?type=a2a_receive&limit=100&since_id={cursor}"
        );
        let first: Vec<Value> = http
            .get(&read_url)
            .bearer_auth(&main_tok)
            .send()
            .await
            .expect("read")
            .json()
            .await
            .expect("json");
        assert_eq!(first.len(), 100, "each read returns a full page");
        let bytes = serde_json::to_vec(&first).map(|b| b.len()).unwrap_or(0);
        println!("activity page: 100 rows, {bytes} bytes");

        let addr = base.trim_start_matches("http://").to_owned();
        let read_path = read_url.trim_start_matches(&base).to_owned();
        let get_head = format!(
            "GET {read_path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {main_tok}\r\n\r\n"
        );
        let cpu0 = cpu_secs(pid);
        let reads = load(conns, secs, &addr, move |c: &mut RawConn, _| {
            let head = get_head.clone();
            Box::pin(async move {
                assert_eq!(c.call(&head, b"").await, 200);
            })
        })
        .await;
        let cpu1 = cpu_secs(pid);
        let a2a_path = a2a.trim_start_matches(&base).to_owned();
        let peer_tok2 = peer_tok.clone();
        let addr2 = addr.clone();
        let writes = load(conns, secs, &addr, move |c: &mut RawConn, i| {
            let body = serde_json::to_vec(&message(i, "load")).unwrap_or_default();
            let head = format!(
                "POST {a2a_path} HTTP/1.1\r\nHost: {addr2}\r\nAuthorization: Bearer {peer_tok2}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            Box::pin(async move {
                assert_eq!(c.call(&head, &body).await, 200);
            })
        })
        .await;
        let cpu2 = cpu_secs(pid);
        let secs_f = secs as f64;
        println!(
            "emulator CPU: reads {:.2} s over {secs} s ({:.0} µs/request), writes {:.2} s ({:.0} µs/request)",
            cpu1 - cpu0,
            (cpu1 - cpu0) * 1e6 / (reads * secs_f),
            cpu2 - cpu1,
            (cpu2 - cpu1) * 1e6 / (writes * secs_f),
        );
        (reads, writes)
    });
    let loaded = rss_kib(pid);
    // SAFETY-free shutdown: the emulator exits cleanly on SIGTERM.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    println!("start to ready: {:.1} ms", ready.as_secs_f64() * 1000.0);
    println!("idle RSS: {:.1} MiB", idle as f64 / 1024.0);
    println!(
        "GET activity (cursor reads of 100 rows, {conns} connections, {secs} s): {reads:.0} req/s"
    );
    println!("POST a2a ({conns} connections, {secs} s): {writes:.0} req/s");
    println!("RSS after load: {:.1} MiB", loaded as f64 / 1024.0);
    dev_figures();
}

/// Starts `molecule dev --port 0` (the embedded echo, state in memory) and times it to the
/// end of its ready message.
fn start_dev() -> (Child, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_molecule"))
        .args(["dev", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start molecule dev");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("molecule dev printed its ready message")
            .expect("utf-8");
        if line.starts_with("State:") {
            break;
        }
    }
    (child, started.elapsed())
}

fn stop(child: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
}

fn dev_figures() {
    let mut times = Vec::new();
    for _ in 0..5 {
        let (mut child, ready) = start_dev();
        times.push(ready);
        stop(&mut child);
    }
    times.sort();
    let (mut child, _) = start_dev();
    // Idle: let start-up allocations settle through a few poll and heartbeat rounds.
    std::thread::sleep(Duration::from_secs(3));
    let pid = child.id();
    let host = rss_kib(pid);
    let echo: u64 = molecule_host::backend::children(pid)
        .into_iter()
        .map(rss_kib)
        .sum();
    stop(&mut child);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "molecule dev start to ready message (5 runs): median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(times[2]),
        ms(times[0]),
        ms(times[4])
    );
    println!(
        "molecule dev idle RSS: {:.1} MiB (platform + host), embedded echo backend {:.1} MiB, \
         total {:.1} MiB",
        host as f64 / 1024.0,
        echo as f64 / 1024.0,
        (host + echo) as f64 / 1024.0
    );
}
