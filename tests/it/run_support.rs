//! `molecule run` in tests: the emulator with a peer and `n` poll-mode workspaces, their token
//! files, a `molecule.toml` written with every timer in milliseconds, and the real binary
//! started on it (its JSON log read as [`Host`] reads connect's).
#![allow(dead_code, reason = "each test uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::path::PathBuf;

use molecule_emulator::{
    CreatedWorkspace, DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs, WorkspaceSpec,
};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

use super::connect_host::{Host, TEST_BACKEND, write_private};
use super::support::wait::until;

/// Every timer of the file in milliseconds (top-level defaults).
pub const FAST: &str = r#"poll_interval = "20ms"
heartbeat_interval = "100ms"
retry_base = "10ms"
retry_max = "100ms"
flush_interval = "10ms"
summary_interval = "1h"
overlap_interval = "1h"
drain_timeout = "5s"
backend_restart_base = "10ms"
backend_restart_max = "50ms"
backend_eof_wait = "500ms"
backend_term_wait = "500ms"
"#;

/// The emulator, a peer that sends the messages, the served workspaces and their files.
pub struct Fleet {
    pub emu: Emulator,
    pub peer: CreatedWorkspace,
    pub ws: Vec<CreatedWorkspace>,
    pub dir: TempDir,
}

impl Fleet {
    /// The emulator with `n` workspaces (and their token files).
    pub async fn start(n: usize) -> Fleet {
        Fleet::start_with(n, EmulatorConfig::default()).await
    }

    /// The same on an emulator configured by `config`.
    pub async fn start_with(n: usize, config: EmulatorConfig) -> Fleet {
        let emu = Emulator::start(config).await.unwrap();
        let spec = |name: String, parent_id| WorkspaceSpec {
            name: Some(name),
            parent_id,
            delivery_mode: Some(DeliveryMode::Poll),
            ..WorkspaceSpec::default()
        };
        let peer = emu.create_workspace(spec("peer".into(), None)).unwrap();
        // Children of the peer: the platform lets a parent and its children talk.
        let ws: Vec<CreatedWorkspace> = (0..n)
            .map(|i| {
                emu.create_workspace(spec(format!("w{i}"), Some(peer.id)))
                    .unwrap()
            })
            .collect();
        let fleet = Fleet {
            emu,
            peer,
            ws,
            dir: tempfile::tempdir().unwrap(),
        };
        for (i, w) in fleet.ws.iter().enumerate() {
            write_private(&fleet.token_file(i), &format!("{}\n", w.token));
        }
        fleet
    }

    pub fn id(&self, i: usize) -> Uuid {
        self.ws[i].id
    }

    pub fn token_file(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("token-{i}"))
    }

    pub fn state_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("state-{i}"))
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("molecule.toml")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.dir.path().join("run.pid")
    }

    /// The `[[workspace]]` of workspace `i`, its own state directory, with `extra` lines.
    pub fn entry(&self, i: usize, extra: &str) -> String {
        format!(
            "[[workspace]]\nid = \"{}\"\ntoken_file = \"{}\"\nstate_dir = \"{}\"\n{extra}\n",
            self.id(i),
            self.token_file(i).display(),
            self.state_dir(i).display()
        )
    }

    /// Writes the file: the platform, the test backend, the fast timers (but those `top`
    /// sets), `top` and `entries`.
    pub fn write(&self, top: &str, entries: &[String]) -> PathBuf {
        let key = |l: &str| l.split(" =").next().unwrap_or_default().to_owned();
        let mine: Vec<String> = top.lines().map(key).collect();
        let fast: String = FAST
            .lines()
            .filter(|l| !mine.contains(&key(l)))
            .map(|l| format!("{l}\n"))
            .collect();
        let text = format!(
            "api_url = \"{}\"\nbackend_cmd = \"{TEST_BACKEND}\"\n{fast}{top}\n{}",
            self.emu.base_url(),
            entries.concat()
        );
        // Written whole, then renamed: a reload never reads half a file.
        let tmp = self.dir.path().join("molecule.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.config()).unwrap();
        self.config()
    }

    /// The arguments of `molecule run` on the file, with `extra`.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = ["--log-format", "json", "run", "--config"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.push(self.config().display().to_string());
        a.extend(["--pid-file".into(), self.pid_file().display().to_string()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    /// Starts `molecule run` on the file.
    pub fn run(&self, extra: &[&str]) -> Host {
        Host::start(&self.args(extra))
    }

    /// The peer sends `text` to workspace `i`.
    pub async fn say(&self, i: usize, text: &str) {
        let msg = DevMessage {
            text: text.into(),
            message_id: Some(Uuid::new_v4().to_string()),
            ..DevMessage::default()
        };
        self.emu
            .send(self.id(i), SendAs::Workspace(self.peer.id), msg)
            .await
            .unwrap();
    }

    /// Whether the emulator saw workspace `i` registered.
    pub fn registered(&self, i: usize) -> bool {
        self.emu
            .workspace_state(self.id(i))
            .is_some_and(|s| s["registered"] == true || s["status"] == "online")
    }
}

/// The log events of workspace `id` (logged in its span).
pub fn of(host: &Host, id: Uuid) -> Vec<Value> {
    let id = id.to_string();
    host.events()
        .into_iter()
        .filter(|e| e["span"]["workspace"] == id.as_str())
        .collect()
}

/// Waits until workspace `id` logged `n` "row handled" lines; returns them.
pub async fn handled(host: &Host, id: Uuid, n: usize) -> Vec<Value> {
    let rows = || {
        of(host, id)
            .into_iter()
            .filter(|e| e["message"] == "row handled")
            .collect::<Vec<_>>()
    };
    until(&format!("{n} rows handled by {id}"), || rows().len() >= n).await;
    rows()
}

/// Waits for the log line containing `text` in workspace `id`'s span.
pub async fn logged(host: &Host, id: Uuid, text: &str) -> Value {
    let idt = id.to_string();
    host.wait_log(text, |e| e["span"]["workspace"] == idt.as_str())
        .await
}
