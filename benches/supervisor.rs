//! Round-trip cost of `handle_a2a` through the supervisor: median and p99 per request, and
//! requests per second with 1 and with 8 in flight; and the host's resident memory with one
//! idle backend.
//!
//! `cargo bench --bench supervisor` runs it against the test backend's echo mode. Any other
//! backend: `MOLECULE_BENCH_BACKEND='python3 plugins/echo/python/echo.py' cargo bench --bench
//! supervisor` (or the command as the first argument after `--`); the Python and Node echoes
//! need their SDK installed or named by `PYTHONPATH=plugins/sdk/python` /
//! `NODE_PATH=plugins/sdk/node`. `MOLECULE_BENCH_REQUESTS` sets the number of requests per run
//! (default 20000).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use molecule_host::backend::{BackendCommand, CallOptions, Supervisor, SupervisorConfig};
use molecule_protocol::HandleA2aParams;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let cmdline = std::env::var("MOLECULE_BENCH_BACKEND")
        .ok()
        .or_else(|| std::env::args().skip(1).find(|a| !a.starts_with("--")));
    let requests: usize = std::env::var("MOLECULE_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(bench(cmdline, requests))
}

async fn bench(cmdline: Option<String>, requests: usize) -> anyhow::Result<()> {
    let command = match &cmdline {
        Some(line) => BackendCommand::parse(line)?,
        None => {
            BackendCommand::from_argv(vec![env!("CARGO_BIN_EXE_molecule-test-backend").into()])?
        }
    };
    let state = tempfile::tempdir()?;
    let mut config = SupervisorConfig::new(command, "ws-bench", state.path().join("state"));
    config
        .env
        .extra
        .push(("MOLECULE_TEST_MAX_CONCURRENCY".into(), "8".into()));
    let rss_before = rss_kib();
    let sup = Supervisor::start(config).await?;
    let info = sup.backend_info();
    println!(
        "backend: {} {} (maxConcurrency {}), {} requests per run",
        info.backend.name,
        info.backend.version,
        info.capabilities.concurrency(),
        requests
    );
    // Let the backend settle, then read the host's memory with the backend idle.
    sup.call("ping", json!({})).await?;
    let rss_idle = rss_kib();
    run(&sup, requests / 10, 1).await?;
    let one = run(&sup, requests, 1).await?;
    let eight = run(&sup, requests, 8).await?;
    let rss_after = rss_kib();
    one.print("1 in flight");
    eight.print("8 in flight");
    println!(
        "host RSS: {} KiB before start, {} KiB with one idle backend, {} KiB after the runs",
        rss_before, rss_idle, rss_after
    );
    let report = sup.shutdown(true).await;
    println!("shutdown: {:?}", report.stop.map(|s| s.step));
    Ok(())
}

struct Figures {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Figures {
    fn print(&self, label: &str) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = |q: f64| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)];
        let rate = sorted.len() as f64 / self.elapsed.as_secs_f64();
        println!(
            "{label}: median {:>7.1} µs, p99 {:>7.1} µs, {:>8.0} requests/s",
            at(0.5).as_secs_f64() * 1e6,
            at(0.99).as_secs_f64() * 1e6,
            rate
        );
    }
}

/// Sends `total` requests with `parallel` in flight at a time.
async fn run(sup: &Supervisor, total: usize, parallel: usize) -> anyhow::Result<Figures> {
    let params = message();
    let started = Instant::now();
    let per_task = total / parallel;
    let tasks = (0..parallel).map(|_| {
        let sup = sup.clone();
        let params = params.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                sup.handle_a2a(params.clone(), CallOptions::default())
                    .await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        })
    });
    let mut latencies = Vec::with_capacity(total);
    for task in join_all(tasks).await {
        latencies.extend(task??);
    }
    Ok(Figures {
        latencies,
        elapsed: started.elapsed(),
    })
}

fn message() -> HandleA2aParams {
    let params = json!({
        "message": {"kind": "message", "role": "user", "messageId": "m-bench",
                    "contextId": "c-bench",
                    "parts": [{"kind": "text", "text": "hello, how are you today?"}]},
        "sender": {"kind": "agent", "workspaceId": "ws-peer", "name": "peer"},
        "context": {"activityId": "act-1", "attempt": 1, "deadline": "",
                    "idempotencyKey": "idem-1", "conversationKey": "conv-1"}
    });
    serde_json::from_value(params).expect("valid params")
}

/// The host's resident set size, from `/proc/self/status`.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
