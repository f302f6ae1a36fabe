//! Draining a backlog through `molecule connect`: 10,000 queued rows over 50 conversations,
//! the Rust echo as the backend, the emulator as the platform (rate limit off). Prints rows/s
//! at concurrency 1 and 4, the host's CPU time and memory (resident size at each quarter of
//! the drain, and the peak). Latency and request counts are the `stream` bench's.
//!
//! `cargo bench --bench drain`. `MOLECULE_BENCH_ROWS` sets the backlog (default 10000).

#[path = "support/host.rs"]
mod host;

use std::time::Instant;

use host::{env_num as num, rss_kib, setup, stop};

const CONVERSATIONS: usize = 50;

fn main() -> anyhow::Result<()> {
    let rows = num("MOLECULE_BENCH_ROWS", 10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("backlog: {rows} rows over {CONVERSATIONS} conversations, Rust echo, emulator (rate limit off)");
        for concurrency in [1, 4] {
            drain(rows, concurrency).await?;
        }
        Ok(())
    })
}

async fn drain(rows: usize, concurrency: usize) -> anyhow::Result<()> {
    let s = setup().await?;
    let c = concurrency.to_string();
    // A first run leaves a saved cursor: the backlog then drains the way it does after downtime.
    s.send("warm-up".into(), 0).await?;
    let host = s.host(&["--concurrency", &c]).await?;
    s.wait_replies(1, |_| {}).await;
    stop(host)?;
    for i in 0..rows {
        s.send(
            format!("message {i}: please echo this back"),
            i % CONVERSATIONS,
        )
        .await?;
    }
    let host = s.host(&["--concurrency", &c]).await?;
    let pid = host.id();
    let (cpu0, started) = (cpu_secs(pid), Instant::now());
    let mut quarters = Vec::new();
    s.wait_replies(rows + 1, |done| {
        if quarters.len() < 4 && done * 4 >= rows * (quarters.len() + 1) {
            quarters.push(rss_kib(pid, "VmRSS:"));
        }
    })
    .await;
    let elapsed = started.elapsed();
    let (cpu, peak) = (cpu_secs(pid) - cpu0, rss_kib(pid, "VmHWM:"));
    quarters.push(rss_kib(pid, "VmRSS:"));
    stop(host)?;
    println!(
        "concurrency {concurrency}: {:>6.0} rows/s ({rows} rows in {:.2} s); host CPU {:.2} s ({:.0} µs/row); \
         RSS at each quarter {:?} KiB, peak {peak} KiB",
        rows as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        cpu,
        cpu * 1e6 / rows as f64,
        quarters
    );
    Ok(())
}

/// User + system CPU time of a process, in seconds (the kernel counts in 1/100 s).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
