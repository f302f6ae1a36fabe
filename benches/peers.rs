//! Peer calls through `molecule connect` on the emulator (rate limit off): two hosts with the
//! Rust echo as their backends; calls are made on host A's socket (`MOLECULE_HOST_SOCKET`).
//! Prints the latency (p50/p90/max) of `peers/list`, and of a synchronous `peers/send` round
//! trip with `waitMs` (A → platform → B's feed → B's echo → A's feed → the waiting call): with
//! the event stream (the defaults), and without it at a 20 ms and at the default 1 s poll
//! interval, where the round trip is dominated by the two hosts' polls.
//!
//! `cargo bench --bench peers`. `MOLECULE_BENCH_CALLS` sets the sample (default 100; a tenth
//! of it at the 1 s poll interval).

#[path = "support/host.rs"]
mod host;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use molecule_emulator::{CreatedWorkspace, Emulator};
use serde_json::{Value, json};

use host::{MOLECULE, setup, stop};

fn main() -> anyhow::Result<()> {
    let calls: usize = std::env::var("MOLECULE_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!(
            "peer calls on the emulator (rate limit off), Rust echo backends, via A's host socket"
        );
        let slow = (calls / 10).max(3);
        let configs: [(&str, &[&str], usize); 3] = [
            ("event stream (defaults)", &[], calls),
            (
                "no event stream, 20 ms poll",
                &["--no-event-stream", "--poll-interval", "20ms"],
                calls,
            ),
            (
                "no event stream, 1 s poll (as before)",
                &["--no-event-stream"],
                slow,
            ),
        ];
        for (name, flags, n) in configs {
            run(name, flags, n).await?;
        }
        Ok(())
    })
}

async fn run(name: &str, flags: &[&str], n: usize) -> anyhow::Result<()> {
    // A asks B: B is the peer under A.
    let s = setup().await?;
    let (emu, a, b, dir) = (s.emu, s.main, s.peer, s.dir);
    let host_a = host(&emu, &a, dir.path(), flags)?;
    let host_b = host(&emu, &b, dir.path(), flags)?;
    let socket = wait_socket(
        &dir.path()
            .join("run/molecule")
            .join(format!("{}.sock", a.id)),
    )?;
    if flags.is_empty() {
        // Both hosts' streams open: the emulator counts them.
        let open = |id| {
            emu.workspace_state(id)
                .is_some_and(|s| s["event_streams"] == 1)
        };
        while !(open(a.id) && open(b.id)) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let stream = UnixStream::connect(&socket)?;
    let list = json!({"jsonrpc": "2.0", "id": 0, "method": "peers/list"});
    call(&stream, &list)?;
    let mut lists = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = call(&stream, &list)?;
        anyhow::ensure!(r["result"]["peers"].is_array(), "peers/list failed: {r}");
        lists.push(t.elapsed());
    }
    let mut sends = Vec::with_capacity(n);
    for i in 0..n {
        let send = json!({"jsonrpc": "2.0", "id": i + 1, "method": "peers/send",
            "params": {"id": b.id.to_string(), "text": format!("q{i}"), "waitMs": 30000}});
        let t = Instant::now();
        let r = call(&stream, &send)?;
        anyhow::ensure!(r["result"]["queued"] == false, "peers/send failed: {r}");
        sends.push(t.elapsed());
    }
    println!("{name}, {n} calls each:");
    report("  peers/list", &mut lists);
    report("  peers/send round trip (waitMs)", &mut sends);
    for child in [host_a, host_b] {
        stop(child)?;
    }
    emu.shutdown().await;
    Ok(())
}

fn host(
    emu: &Emulator,
    ws: &CreatedWorkspace,
    dir: &Path,
    flags: &[&str],
) -> anyhow::Result<Child> {
    let own = dir.join(ws.id.to_string());
    std::fs::create_dir_all(&own)?;
    std::fs::write(own.join("token"), &ws.token)?;
    std::fs::create_dir_all(dir.join("run"))?;
    let child = Command::new(MOLECULE)
        .args(["connect", &ws.id.to_string(), "--api-url", emu.base_url()])
        .args(["--backend-cmd", &format!("{MOLECULE} echo-backend")])
        .args(["--token-file", &own.join("token").display().to_string()])
        .args(["--state-dir", &own.join("state").display().to_string()])
        .args(["--peer-calls-per-minute", "100000"])
        .args(flags)
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(child)
}

/// Waits for the socket to accept (the host is serving once the factory ran).
fn wait_socket(path: &Path) -> anyhow::Result<PathBuf> {
    let end = Instant::now() + Duration::from_secs(30);
    let probe = json!({"jsonrpc": "2.0", "id": "probe", "method": "workspace/info"});
    while Instant::now() < end {
        if let Ok(s) = UnixStream::connect(path)
            && call(&s, &probe).is_ok_and(|r| r.get("result").is_some())
        {
            return Ok(path.to_owned());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("the host socket {} never served", path.display())
}

fn call(stream: &UnixStream, request: &Value) -> anyhow::Result<Value> {
    let mut w = stream;
    writeln!(w, "{request}")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(serde_json::from_str(&line)?)
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(1.0))
    );
}
