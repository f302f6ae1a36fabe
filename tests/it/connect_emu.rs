//! The emulator with a poll-mode workspace served by the real `molecule connect` binary and a
//! peer beside it, for the tests of hostile platform answers and foreign peers: hostile rules
//! are set on the running emulator, the peer speaks the platform API over HTTP.
#![allow(dead_code, reason = "each test uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use molecule_emulator::{
    CreatedWorkspace, DeliveryMode, DevMessage, Emulator, EmulatorConfig, FaultConfig, HostileRule,
    SendAs, WorkspaceSpec,
};
use serde_json::Value;
use uuid::Uuid;

use super::connect_host::{Host, Site, write_private};
use super::emulator_support::client;
use super::support::wait::until_some;

/// The emulator, the served workspace and a peer under it.
pub struct Emu {
    pub emu: Emulator,
    pub main: CreatedWorkspace,
    pub peer: CreatedWorkspace,
    pub http: reqwest::Client,
}

impl Emu {
    pub async fn start() -> Emu {
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let spec = |name: &str, parent| WorkspaceSpec {
            name: Some(name.into()),
            parent_id: parent,
            delivery_mode: Some(DeliveryMode::Poll),
            ..WorkspaceSpec::default()
        };
        let main = emu.create_workspace(spec("main", None)).unwrap();
        let peer = emu.create_workspace(spec("peer", Some(main.id))).unwrap();
        Emu {
            emu,
            main,
            peer,
            http: client(),
        }
    }

    /// Serves the main workspace with `backend`; `extra` arguments win over the fast defaults.
    pub fn serve(&self, site: &Site, backend: &str, extra: &[&str]) -> Host {
        write_private(&site.token_file(), &self.main.token);
        let mut args = site.args(self.emu.base_url(), backend);
        args[3] = self.main.id.to_string();
        args.extend(extra.iter().map(|s| s.to_string()));
        Host::start(&args)
    }

    /// Sets the hostile answers (and no other fault).
    pub fn hostile(&self, rules: Vec<HostileRule>) {
        self.emu.set_faults(FaultConfig {
            hostile: rules,
            ..FaultConfig::default()
        });
    }

    /// The peer sends a message to main (through the platform's proxy logic, past the faults
    /// and hostile rules), as a client of another runtime would: a fresh messageId, no
    /// contextId, no metadata. Returns the messageId.
    pub async fn peer_says(&self, text: &str) -> String {
        let id = Uuid::new_v4().to_string();
        let msg = DevMessage {
            text: text.into(),
            message_id: Some(id.clone()),
            ..DevMessage::default()
        };
        self.emu
            .send(self.main.id, SendAs::Workspace(self.peer.id), msg)
            .await
            .unwrap();
        id
    }

    /// The peer posts a message to main over HTTP with its own token, as the platform's own
    /// SDK does: a fresh messageId, no contextId, no metadata.
    pub async fn peer_posts(&self, text: &str) {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": Uuid::new_v4().to_string(),
            "method": "message/send", "params": {"message": {"role": "user",
            "messageId": Uuid::new_v4().to_string(), "parts": [{"kind": "text", "text": text}]}}});
        let url = format!("{}/workspaces/{}/a2a", self.emu.base_url(), self.main.id);
        let resp = self
            .http
            .post(url)
            .bearer_auth(&self.peer.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
    }

    /// The texts of the messages in `ws`'s feed (first text part), oldest first.
    pub fn texts(&self, ws: Uuid) -> Vec<String> {
        self.strings(
            ws,
            "message/send",
            "/request_body/params/message/parts/0/text",
        )
    }

    /// The canvas messages main posted (`/notify` rows of its own feed), oldest first.
    pub fn notices(&self) -> Vec<String> {
        self.strings(self.main.id, "notify", "/response_body/result")
    }

    /// The string at `pointer` in each `method` row of `ws`'s feed.
    fn strings(&self, ws: Uuid, method: &str, pointer: &str) -> Vec<String> {
        let feed = self.emu.feed(ws).unwrap();
        feed.iter()
            .filter(|r| r["method"] == method)
            .filter_map(|r| r.pointer(pointer)?.as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until the peer's feed holds `text`.
    pub async fn peer_got(&self, text: &str) {
        until_some(&format!("{text:?} in the peer's feed"), async || {
            self.texts(self.peer.id)
                .iter()
                .any(|t| t == text)
                .then_some(())
        })
        .await;
    }

    /// main's last heartbeat time, as the emulator recorded it.
    pub fn last_heartbeat(&self) -> Value {
        self.emu.workspace_state(self.main.id).unwrap()["last_heartbeat_at"].clone()
    }

    /// Waits until main has heartbeaten `n` more times (distinct heartbeat times seen).
    pub async fn more_heartbeats(&self, n: usize) {
        let mut seen = vec![self.last_heartbeat()];
        until_some(&format!("{n} more heartbeats"), async || {
            let now = self.last_heartbeat();
            if !seen.contains(&now) {
                seen.push(now);
            }
            (seen.len() > n).then_some(())
        })
        .await;
    }
}

/// A hostile rule for `times` requests to `endpoint`.
pub fn rule(endpoint: molecule_emulator::Endpoint, times: u32) -> HostileRule {
    HostileRule {
        endpoint: Some(endpoint),
        times: Some(times),
        ..HostileRule::default()
    }
}

/// `rule` with these headers.
pub fn with_headers(mut r: HostileRule, headers: &[(&str, &str)]) -> HostileRule {
    r.headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    r
}
