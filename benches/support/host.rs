//! What the connect benchmarks share: an emulator with a poll-mode main workspace and a peer
//! under it, a `molecule connect` serving main with the Rust echo, messages from the peer, and
//! the replies counted and timed from the two feeds.
#![allow(dead_code, reason = "each bench uses a different subset")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use molecule_emulator::{
    CreatedWorkspace, DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs, WorkspaceSpec,
};
use molecule_protocol::time::parse_rfc3339;
use serde_json::Value;

pub const MOLECULE: &str = env!("CARGO_BIN_EXE_molecule");

/// The emulator, its two workspaces and a directory for the host.
pub struct Setup {
    pub emu: Emulator,
    pub main: CreatedWorkspace,
    pub peer: CreatedWorkspace,
    pub dir: tempfile::TempDir,
}

pub async fn setup() -> anyhow::Result<Setup> {
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
    pub async fn host(&self, extra: &[&str]) -> anyhow::Result<Child> {
        self.host_until(extra, "\"serving\"").await
    }

    /// Starts a host; returns it once it logged a line containing `ready`.
    pub async fn host_until(&self, extra: &[&str], ready: &str) -> anyhow::Result<Child> {
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
        let ready = ready.to_owned();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(&ready)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), rx).await??;
        Ok(child)
    }

    pub async fn send(&self, text: String, conversation: usize) -> anyhow::Result<()> {
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

    pub fn replies(&self) -> usize {
        self.emu
            .workspace_state(self.peer.id)
            .and_then(|s| s["rows"].as_u64())
            .unwrap_or(0) as usize
    }

    pub async fn wait_replies(&self, n: usize, mut each: impl FnMut(usize)) {
        while self.replies() < n {
            each(self.replies());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn stop(mut child: Child) -> anyhow::Result<()> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    child.wait()?;
    Ok(())
}

/// Row-to-reply latencies in milliseconds, sorted: from each message's row in main's feed to
/// the row of its reply in the peer's feed (both stamped by the emulator).
pub fn latencies_ms(s: &Setup) -> Vec<f64> {
    latencies_between(&s.emu, s.main.id, s.peer.id, |_| true)
}

/// Row-to-reply latencies in milliseconds, sorted, of the messages in `to`'s feed whose
/// messageId `keep` accepts, to their replies in `from`'s feed (both stamped by the emulator).
pub fn latencies_between(
    emu: &molecule_emulator::Emulator,
    to: uuid::Uuid,
    from: uuid::Uuid,
    keep: impl Fn(&str) -> bool,
) -> Vec<f64> {
    let created = |r: &Value| {
        r["created_at"]
            .as_str()
            .and_then(parse_rfc3339)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    let inbound: std::collections::HashMap<String, SystemTime> = emu
        .feed(to)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let id = r
                .pointer("/request_body/params/message/messageId")?
                .as_str()?;
            keep(id).then(|| (id.to_owned(), created(r)))
        })
        .collect();
    let mut ms: Vec<f64> = emu
        .feed(from)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let answered = r
                .pointer("/request_body/params/message/metadata/molecule/inReplyTo")?
                .as_str()?;
            let took = created(r).duration_since(*inbound.get(answered)?).ok()?;
            Some(took.as_secs_f64() * 1e3)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

/// The `q` quantile of sorted `ms`.
pub fn quantile(ms: &[f64], q: f64) -> f64 {
    ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)]
}

/// A memory field of `/proc/<pid>/status` in KiB (`VmRSS:` now, `VmHWM:` the peak); 0 once
/// the process is gone.
pub fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// The number in environment variable `key` (a bench's size knob), or `default`.
pub fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
