//! Helpers shared by the emulator tests: start an emulator, create workspaces, and speak the
//! platform API over real HTTP.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use molecule_emulator::{CreatedWorkspace, DeliveryMode, Emulator, EmulatorConfig, WorkspaceSpec};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// A running emulator with a poll-mode main workspace and a peer under it.
pub struct Env {
    pub emu: Emulator,
    pub http: Client,
    pub main: CreatedWorkspace,
    pub peer: CreatedWorkspace,
}

/// A client whose every request carries `X-Molecule-Dev` (the in-process emulator has no key,
/// so any value opens its `/_dev` path; platform routes ignore the header).
pub fn client() -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-molecule-dev",
        reqwest::header::HeaderValue::from_static("1"),
    );
    Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .unwrap()
}

pub async fn env() -> Env {
    env_with(EmulatorConfig::default()).await
}

pub async fn env_with(config: EmulatorConfig) -> Env {
    let emu = Emulator::start(config).await.unwrap();
    let main = emu
        .create_workspace(WorkspaceSpec {
            name: Some("main".into()),
            role: Some("assistant".into()),
            delivery_mode: Some(DeliveryMode::Poll),
            ..WorkspaceSpec::default()
        })
        .unwrap();
    let peer = emu
        .create_workspace(WorkspaceSpec {
            name: Some("peer".into()),
            role: Some("reviewer".into()),
            parent_id: Some(main.id),
            delivery_mode: Some(DeliveryMode::Poll),
            ..WorkspaceSpec::default()
        })
        .unwrap();
    Env {
        emu,
        http: client(),
        main,
        peer,
    }
}

/// A JSON-RPC `message/send` with `text` and `message_id`.
pub fn message(text: &str, message_id: &str) -> Value {
    json!({"jsonrpc":"2.0","id":Uuid::new_v4().to_string(),"method":"message/send","params":{
        "message":{"role":"user","messageId":message_id,"parts":[{"kind":"text","text":text}]}}})
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    /// Sends a request with an optional bearer and JSON body; returns status, headers, body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, v)
    }

    /// `POST /workspaces/<target>/a2a` as the holder of `token`.
    pub async fn a2a(&self, target: Uuid, token: &str, body: &Value) -> (StatusCode, Value) {
        let (s, _, v) = self
            .call(
                Method::POST,
                &format!("/workspaces/{target}/a2a"),
                Some(token),
                Some(body),
            )
            .await;
        (s, v)
    }

    /// The peer sends `text` to main; returns the new row's messageId.
    pub async fn peer_says(&self, text: &str) -> String {
        let mid = Uuid::new_v4().to_string();
        let (s, v) = self
            .a2a(self.main.id, &self.peer.token, &message(text, &mid))
            .await;
        assert_eq!(s, 200, "{v}");
        mid
    }

    /// `GET /workspaces/<main>/activity?<query>` with main's token.
    pub async fn activity(&self, query: &str) -> (StatusCode, Value) {
        let path = format!("/workspaces/{}/activity?{query}", self.main.id);
        let (s, _, v) = self
            .call(Method::GET, &path, Some(&self.main.token), None)
            .await;
        (s, v)
    }

    /// The rows of an activity answer that must be 200.
    pub async fn rows(&self, query: &str) -> Vec<Value> {
        let (s, v) = self.activity(query).await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().clone()
    }
}

/// The texts of `rows` (their first text part).
pub fn texts(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r.pointer("/request_body/params/message/parts/0/text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
