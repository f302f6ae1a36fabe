//! Draining a backlog through `molecule connect`: 10,000 queued rows over 50 conversations,
//! the Rust echo as the backend, the emulator as the platform (rate limit off). Prints rows/s
//! at concurrency 1 and 4, the host's CPU time and memory (resident size at each quarter of
//! the drain, and the peak), and the latency from a row appearing to its reply at the default
//! poll interval (p50/p99).
//!
//! `cargo bench --bench drain`. `MOLECULE_BENCH_ROWS` sets the backlog (default 10000),
//! `MOLECULE_BENCH_LATENCY_ROWS` the latency sample (default 200).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use molecule_emulator::{
    CreatedWorkspace, DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs, WorkspaceSpec,
};
use molecule_protocol::time::parse_rfc3339;
use serde_json::Value;

const MOLECULE: &str = env!("CARGO_BIN_EXE_molecule");
const CONVERSATIONS: usize = 50;

fn main() -> anyhow::Result<()> {
    let num = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rows = num("MOLECULE_BENCH_ROWS", 10_000);
    let sample = num("MOLECULE_BENCH_LATENCY_ROWS", 200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("backlog: {rows} rows over {CONVERSATIONS} conversations, Rust echo, emulator (rate limit off)");
        for concurrency in [1, 4] {
            drain(rows, concurrency).await?;
        }
        latency(sample).await
    })
}

struct Setup {
    emu: Emulator,
    main: CreatedWorkspace,
    peer: CreatedWorkspace,
    dir: tempfile::TempDir,
}

async fn setup() -> anyhow::Result<Setup> {
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let spec = |name: &str, parent| WorkspaceSpec {
        name: Some(name.into()),
        parent_id: parent,
        delivery_mode: Some(DeliveryMode::Poll),
        ..WorkspaceSpec::default()
    };
    let main = emu.create_workspace(spec("main", None))?;
    let peer = emu.create_workspace(spec("peer", Some(main.id)))?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("token"), &main.token)?;
    Ok(Setup {
        emu,
        main,
        peer,
        dir,
    })
}

impl Setup {
    /// Starts a host; returns it once it serves.
    async fn host(&self, extra: &[&str]) -> anyhow::Result<Child> {
        let dir = self.dir.path();
        let mut child = Command::new(MOLECULE)
            .args([
                "--log-format",
                "json",
                "connect",
                &self.main.id.to_string(),
                "--api-url",
                self.emu.base_url(),
            ])
            .args(["--backend-cmd", &format!("{MOLECULE} echo-backend")])
            .args(["--token-file", &dir.join("token").display().to_string()])
            .args(["--state-dir", &dir.join("state").display().to_string()])
            // The backlog comes from one peer without molecule metadata: no loop guard.
            .args(["--foreign-reply-limit", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("\"serving\"")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), rx).await??;
        Ok(child)
    }

    async fn send(&self, text: String, conversation: usize) -> anyhow::Result<()> {
        let msg = DevMessage {
            text,
            context_id: Some(format!("conversation-{conversation}")),
            ..DevMessage::default()
        };
        self.emu
            .send(self.main.id, SendAs::Workspace(self.peer.id), msg)
            .await?;
        Ok(())
    }

    fn replies(&self) -> usize {
        self.emu
            .workspace_state(self.peer.id)
            .and_then(|s| s["rows"].as_u64())
            .unwrap_or(0) as usize
    }

    async fn wait_replies(&self, n: usize, mut each: impl FnMut(usize)) {
        while self.replies() < n {
            each(self.replies());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    child.wait()?;
    Ok(())
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

async fn latency(rows: usize) -> anyhow::Result<()> {
    let s = setup().await?;
    let host = s.host(&[]).await?;
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..rows {
        s.send(format!("latency {i}"), i % CONVERSATIONS).await?;
        // Exponential gaps (mean 50 ms) so arrivals do not lock onto the poll ticks.
        let gap = -0.05 * (1.0 - rng.f64()).ln();
        tokio::time::sleep(Duration::from_secs_f64(gap)).await;
    }
    s.wait_replies(rows, |_| {}).await;
    stop(host)?;
    let created = |r: &Value| {
        r["created_at"]
            .as_str()
            .and_then(parse_rfc3339)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    let inbound: std::collections::HashMap<String, SystemTime> = s
        .emu
        .feed(s.main.id)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            Some((
                r.pointer("/request_body/params/message/messageId")?
                    .as_str()?
                    .to_owned(),
                created(r),
            ))
        })
        .collect();
    let mut ms: Vec<f64> = s
        .emu
        .feed(s.peer.id)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let answered = r
                .pointer("/request_body/params/message/metadata/molecule/inReplyTo")?
                .as_str()?;
            Some(
                created(r)
                    .duration_since(*inbound.get(answered)?)
                    .ok()?
                    .as_secs_f64()
                    * 1e3,
            )
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
    println!(
        "latency, row to reply, default poll interval (1 s), {} rows: p50 {:.0} ms, p99 {:.0} ms",
        ms.len(),
        at(0.5),
        at(0.99)
    );
    Ok(())
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
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
