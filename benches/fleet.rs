//! `molecule run` with many workspaces: the emulator with `MOLECULE_FLEET_N` workspaces
//! (default 100), a `molecule.toml` giving each the Rust echo (`molecule echo-backend`, which
//! serves up to 1,024 workspaces per process, SPEC §17; `MOLECULE_FLEET_SHARED=0` gives each
//! workspace a backend environment of its own, hence a process of its own) and the default
//! timers; then
//!
//! - the time from start to every workspace serving (registered, polling);
//! - over an idle window (`MOLECULE_FLEET_WINDOW` seconds, default 60): the host's RSS and CPU
//!   alone, then with its backends, and the platform requests per minute per workspace (the
//!   emulator's count);
//! - row-to-reply latency p50/p99 of `MOLECULE_FLEET_ROWS` messages (default 200) to one
//!   workspace while the others idle (from the emulator's row stamps), then again while
//!   `MOLECULE_FLEET_CRASHING` others (default 10; the test backend, crashing on every
//!   request) are each sent a message and crash, restart and open their breakers;
//! - the time a reload that changes one workspace takes (SIGHUP to the "reloaded" line).
//!
//! `cargo bench --bench fleet`, with `MOLECULE_FLEET_N=1000` for the large fleet.

#[path = "support/host.rs"]
mod host;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use host::{MOLECULE, env_num as num, quantile, rss_kib, stop};

/// The misbehaving test backend, for the workspaces in a crash loop.
const TEST_BACKEND: &str = env!("CARGO_BIN_EXE_molecule-test-backend");
use molecule_emulator::{
    CreatedWorkspace, DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs, WorkspaceSpec,
};

/// The emulator, the sender, the fleet and the host's directory.
struct Fleet {
    emu: Emulator,
    peer: CreatedWorkspace,
    ws: Vec<CreatedWorkspace>,
    dir: tempfile::TempDir,
    /// Workspaces 1..=crashing run the test backend that crashes on every request.
    crashing: usize,
    /// The echo workspaces may share backend processes.
    shared: bool,
}

fn main() -> anyhow::Result<()> {
    let n = num("MOLECULE_FLEET_N", 100);
    let window = Duration::from_secs(num("MOLECULE_FLEET_WINDOW", 60) as u64);
    let rows = num("MOLECULE_FLEET_ROWS", 200);
    let crashing = num("MOLECULE_FLEET_CRASHING", 10).min(n.saturating_sub(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(n, window, rows, crashing))
}

async fn run(n: usize, window: Duration, rows: usize, crashing: usize) -> anyhow::Result<()> {
    let f = fleet(n, crashing).await?;
    write_file(&f, None)?;
    let sharing = match f.shared {
        true => "shared processes",
        false => "a process each",
    };
    println!("molecule run: {n} workspaces, the Rust echo ({sharing}), default timers");
    let started = Instant::now();
    let (host, lines) = start(&f)?;
    while lines.serving.load(Ordering::Relaxed) < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "not all serving"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "all {n} serving after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    // Let the start-up burst pass before the idle window.
    tokio::time::sleep(Duration::from_secs(5)).await;
    idle(&f, &host, window).await;
    latency(&f, rows, "while the others idle").await?;
    if crashing > 0 {
        for i in 1..=crashing {
            let msg = DevMessage {
                text: "crash".into(),
                ..DevMessage::default()
            };
            f.emu
                .send(f.ws[i].id, SendAs::Workspace(f.peer.id), msg)
                .await?;
        }
        let label = format!("while {crashing} others crash on every request");
        latency(&f, rows, &label).await?;
    }
    let beats = heartbeats(&f);
    reload(&f, &host, &lines).await?;
    no_missed_beat(&f, &beats).await;
    stop(host)?;
    Ok(())
}

async fn fleet(n: usize, crashing: usize) -> anyhow::Result<Fleet> {
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let spec = |name: String, parent_id| WorkspaceSpec {
        name: Some(name),
        parent_id,
        delivery_mode: Some(DeliveryMode::Poll),
        ..WorkspaceSpec::default()
    };
    let peer = emu.create_workspace(spec("peer".into(), None))?;
    let ws = (0..n)
        .map(|i| emu.create_workspace(spec(format!("w{i}"), Some(peer.id))))
        .collect::<Result<Vec<_>, _>>()?;
    let dir = tempfile::tempdir()?;
    for (i, w) in ws.iter().enumerate() {
        write_private(&dir.path().join(format!("token-{i}")), &w.token)?;
    }
    Ok(Fleet {
        emu,
        peer,
        ws,
        dir,
        crashing,
        shared: num("MOLECULE_FLEET_SHARED", 1) != 0,
    })
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// The run file; `changed` gets a different concurrency.
fn write_file(f: &Fleet, changed: Option<usize>) -> anyhow::Result<()> {
    let d = f.dir.path();
    let mut text = format!(
        "api_url = \"{}\"\nbackend_cmd = \"{MOLECULE} echo-backend\"\nforeign_reply_limit = 0\n",
        f.emu.base_url()
    );
    for (i, w) in f.ws.iter().enumerate() {
        let mut extra = String::new();
        if changed == Some(i) {
            extra.push_str("concurrency = 2\n");
        }
        if (1..=f.crashing).contains(&i) {
            extra.push_str(&format!("backend_cmd = \"{TEST_BACKEND}\"\n"));
            extra.push_str("backend_env = { MOLECULE_TEST_FAULT = \"crash-on-request\" }\n");
        } else if !f.shared {
            // Backends that differ in their environment never share a process.
            extra.push_str(&format!(
                "backend_env = {{ MOLECULE_FLEET_WORKSPACE = \"{i}\" }}\n"
            ));
        }
        text.push_str(&format!(
            "[[workspace]]\nid = \"{}\"\ntoken_file = \"{}\"\nstate_dir = \"{}\"\n{extra}",
            w.id,
            d.join(format!("token-{i}")).display(),
            d.join(format!("state-{i}")).display()
        ));
    }
    std::fs::write(d.join("molecule.toml.tmp"), text)?;
    std::fs::rename(d.join("molecule.toml.tmp"), d.join("molecule.toml"))?;
    Ok(())
}

/// What the host's log said so far.
#[derive(Default)]
struct Lines {
    serving: AtomicUsize,
    reloaded: AtomicUsize,
}

fn start(f: &Fleet) -> anyhow::Result<(Child, Arc<Lines>)> {
    let config = f.dir.path().join("molecule.toml");
    let mut child = Command::new(MOLECULE)
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config)
        .arg("--pid-file")
        .arg(f.dir.path().join("run.pid"))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let lines = Arc::new(Lines::default());
    let stderr = child.stderr.take().expect("piped");
    let seen = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("\"message\":\"serving\"") {
                seen.serving.fetch_add(1, Ordering::Relaxed);
            } else if line.contains("\"message\":\"reloaded\"") {
                seen.reloaded.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok((child, lines))
}

/// CPU ticks (user + system) of `pid`.
fn ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of stat (utime, stime), counted after the command's ')'.
    get(11) + get(12)
}

async fn idle(f: &Fleet, host: &Child, window: Duration) {
    let n = f.ws.len() as f64;
    let pid = host.id();
    let kids = molecule_host::backend::children(pid);
    let all_ticks = || ticks(pid) + kids.iter().map(|k| ticks(*k)).sum::<u64>();
    let (host0, all0) = (ticks(pid), all_ticks());
    let requests0 = f.emu.stats().requests_total();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let secs = started.elapsed().as_secs_f64();
    let hz = 100.0; // USER_HZ on Linux
    let cpu = |t: u64| t as f64 / hz / secs * 100.0;
    let (host_cpu, all_cpu) = (cpu(ticks(pid) - host0), cpu(all_ticks() - all0));
    let rss = rss_kib(pid, "VmRSS:");
    let kids_rss: u64 = kids.iter().map(|k| rss_kib(*k, "VmRSS:")).sum();
    let requests = (f.emu.stats().requests_total() - requests0) as f64;
    println!(
        "idle over {secs:.0} s: host RSS {:.1} MiB ({:.0} KiB/workspace), CPU {host_cpu:.2}% of a core ({:.4}%/workspace)",
        rss as f64 / 1024.0,
        rss as f64 / n,
        host_cpu / n
    );
    println!(
        "with the {} backends: RSS {:.1} MiB ({:.0} KiB/workspace), CPU {all_cpu:.2}% of a core",
        kids.len(),
        (rss + kids_rss) as f64 / 1024.0,
        (rss + kids_rss) as f64 / n
    );
    println!(
        "platform requests: {:.2}/min/workspace",
        requests / secs * 60.0 / n
    );
}

/// Sends `rows` messages to the first workspace, ten at a time, and prints their latencies.
async fn latency(f: &Fleet, rows: usize, label: &str) -> anyhow::Result<()> {
    let target = f.ws[0].id;
    let mut sent = HashSet::new();
    for i in 0..rows {
        let id = uuid::Uuid::new_v4().to_string();
        let msg = DevMessage {
            text: format!("message {i}"),
            message_id: Some(id.clone()),
            context_id: Some(format!("conversation-{}", i % 10)),
            ..DevMessage::default()
        };
        f.emu
            .send(target, SendAs::Workspace(f.peer.id), msg)
            .await?;
        sent.insert(id);
        if i % 10 == 9 || i + 1 == rows {
            wait_replies(f, &sent).await?;
        }
    }
    let ms = latencies_ms(f, &sent);
    println!(
        "row to reply, one workspace of {} {label} ({} messages): p50 {:.1} ms, p99 {:.1} ms",
        f.ws.len(),
        ms.len(),
        quantile(&ms, 0.5),
        quantile(&ms, 0.99)
    );
    Ok(())
}

async fn wait_replies(f: &Fleet, sent: &HashSet<String>) -> anyhow::Result<()> {
    let started = Instant::now();
    while latencies_ms(f, sent).len() < sent.len() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "replies missing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Row-to-reply latencies (ms, sorted) of the messages `sent` to the first workspace.
fn latencies_ms(f: &Fleet, sent: &HashSet<String>) -> Vec<f64> {
    host::latencies_between(&f.emu, f.ws[0].id, f.peer.id, |id| sent.contains(id))
}

/// Changes one workspace's entry, sends SIGHUP, and times the reload.
async fn reload(f: &Fleet, host: &Child, lines: &Lines) -> anyhow::Result<()> {
    let last = f.ws.len() - 1;
    write_file(f, Some(last))?;
    let before = lines.serving.load(Ordering::Relaxed);
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(host.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )?;
    while lines.reloaded.load(Ordering::Relaxed) < 1
        || lines.serving.load(Ordering::Relaxed) <= before
    {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "no reload");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!(
        "reload of one changed workspace among {}: {:.0} ms to serving again",
        f.ws.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Every workspace's last heartbeat time as the emulator recorded it.
fn heartbeats(f: &Fleet) -> Vec<serde_json::Value> {
    f.ws.iter()
        .map(|w| {
            f.emu
                .workspace_state(w.id)
                .map(|s| s["last_heartbeat_at"].clone())
                .unwrap_or_default()
        })
        .collect()
}

/// After a reload: how many of the unchanged workspaces heartbeat again within one and a half
/// heartbeat intervals (20 s by default) of the heartbeat times taken before it. One that did
/// not missed a beat.
async fn no_missed_beat(f: &Fleet, before: &[serde_json::Value]) {
    let others = f.ws.len() - 1;
    let started = Instant::now();
    let mut missing = others;
    while started.elapsed() < Duration::from_secs(30) {
        let now = heartbeats(f);
        missing = (0..others).filter(|i| now[*i] == before[*i]).count();
        if missing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "heartbeats around the reload: {} of the {others} unchanged workspaces beat again within {:.1} s; {missing} missed a beat",
        others - missing,
        started.elapsed().as_secs_f64()
    );
}
