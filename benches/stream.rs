//! What the event stream buys, on the emulator with the Rust echo (rate limit off), side by
//! side: with the stream live (the defaults), with every event dropped (the safety poll is
//! the fallback), and without a stream (`--no-event-stream`, the 1 s poll of before).
//!
//! - Row-to-reply latency (p50/p99) of `MOLECULE_BENCH_LATENCY_ROWS` messages (default 200)
//!   arriving with exponential gaps (mean 50 ms), and the platform requests the host made
//!   meanwhile.
//! - Platform requests of an idle workspace per minute, counted by the emulator once the host
//!   has settled after a first message (its overlap re-reads are done), over
//!   `MOLECULE_BENCH_IDLE_SECS` (default 300: one idle reconnect of the stream falls in it;
//!   60 without a stream), and so how many idle workspaces one client address can serve in
//!   the older platform's bucket of 600 requests a minute.
//!
//! `cargo bench --bench stream`.

#[path = "support/host.rs"]
mod host;

use std::time::{Duration, Instant};

use molecule_emulator::{FaultConfig, StatsSnapshot, StreamFaults};

use host::{Setup, latencies_ms, quantile, setup, stop};

const CONVERSATIONS: usize = 50;
const LIVE: &str = "event stream live";
const SERVING: &str = "\"serving\"";

/// One way of running the host.
struct Mode {
    name: &'static str,
    flags: &'static [&'static str],
    drop_events: bool,
    ready: &'static str,
}

const MODES: [Mode; 3] = [
    Mode {
        name: "event stream live (safety poll 30 s)",
        flags: &[],
        drop_events: false,
        ready: LIVE,
    },
    Mode {
        name: "every event dropped (fallback: the 30 s safety poll)",
        flags: &[],
        drop_events: true,
        ready: LIVE,
    },
    Mode {
        name: "no event stream (--no-event-stream, 1 s poll, as before)",
        flags: &["--no-event-stream"],
        drop_events: false,
        ready: SERVING,
    },
];

fn main() -> anyhow::Result<()> {
    let num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rows = num("MOLECULE_BENCH_LATENCY_ROWS", 200) as usize;
    let idle_secs = num("MOLECULE_BENCH_IDLE_SECS", 300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("the event stream: Rust echo, emulator (rate limit off)");
        for mode in &MODES {
            latency(mode, rows).await?;
        }
        idle(&MODES[0], idle_secs).await?;
        idle(&MODES[2], idle_secs.min(60)).await
    })
}

async fn start(mode: &Mode) -> anyhow::Result<(Setup, std::process::Child)> {
    let s = setup().await?;
    if mode.drop_events {
        s.emu.set_faults(FaultConfig {
            stream: StreamFaults {
                drop: 1.0,
                ..StreamFaults::default()
            },
            ..FaultConfig::default()
        });
    }
    let host = s.host_until(mode.flags, mode.ready).await?;
    Ok((s, host))
}

/// The requests between two snapshots: the feed reads, and all of them.
fn spent(a: &StatsSnapshot, b: &StatsSnapshot) -> (u64, u64) {
    let reads = b.requests_to(molecule_emulator::Endpoint::Activity)
        - a.requests_to(molecule_emulator::Endpoint::Activity);
    (reads, b.requests_total() - a.requests_total())
}

async fn latency(mode: &Mode, rows: usize) -> anyhow::Result<()> {
    let (s, host) = start(mode).await?;
    let before = s.emu.stats();
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..rows {
        s.send(format!("latency {i}"), i % CONVERSATIONS).await?;
        // Exponential gaps (mean 50 ms) so arrivals do not lock onto any timer.
        let gap = -0.05 * (1.0 - rng.f64()).ln();
        tokio::time::sleep(Duration::from_secs_f64(gap)).await;
    }
    s.wait_replies(rows, |_| {}).await;
    let (secs, after) = (started.elapsed().as_secs_f64(), s.emu.stats());
    stop(host)?;
    let ms = latencies_ms(&s);
    let (reads, all) = spent(&before, &after);
    println!(
        "latency, row to reply, {}: {} rows: p50 {:.1} ms, p99 {:.1} ms; {reads} feed reads, \
         {all} platform requests in {secs:.1} s ({} replies among them)",
        mode.name,
        ms.len(),
        quantile(&ms, 0.5),
        quantile(&ms, 0.99),
        rows
    );
    Ok(())
}

async fn idle(mode: &Mode, secs: u64) -> anyhow::Result<()> {
    let (s, host) = start(mode).await?;
    // One message gives the host a cursor; the re-reads for late rows that follow it end an
    // overlap window (60 s) later.
    s.send("warm-up".into(), 0).await?;
    s.wait_replies(1, |_| {}).await;
    tokio::time::sleep(Duration::from_secs(65)).await;
    let before = s.emu.stats();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let after = s.emu.stats();
    stop(host)?;
    let (reads, all) = spent(&before, &after);
    let per_minute = all as f64 * 60.0 / secs as f64;
    let by_endpoint: Vec<String> = after
        .requests
        .iter()
        .map(|(e, n)| (e, n - before.requests.get(e).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(e, n)| format!("{e:?} {n}"))
        .collect();
    println!(
        "idle workspace, {}: {per_minute:.1} platform requests a minute ({all} in {secs} s: {}; \
         {reads} feed reads) -> {:.0} idle workspaces per client address in 600 requests a minute",
        mode.name,
        by_endpoint.join(", "),
        600.0 / per_minute
    );
    Ok(())
}
