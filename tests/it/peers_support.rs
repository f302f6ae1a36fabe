//! Helpers for the peer-call tests: a host running `molecule-test-peer-backend` against the
//! wiremock platform, scripts of host calls sent as canvas messages, and the outcomes the
//! backend reports back in its canvas reply.
#![allow(dead_code, reason = "each test uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::connect_host::{Host, Site};
use super::connect_platform::{PEER, PEER2, Platform, WS};

/// The peer-call test backend.
pub const PEER_BACKEND: &str = env!("CARGO_BIN_EXE_molecule-test-peer-backend");

/// Fast peer-call settings (a test repeats a flag to override it).
pub const PEER_FAST: &[&str] = &["--peer-retry-base", "5ms", "--peer-retry-max", "20ms"];

/// A host serving `WS` on `platform` with the peer backend and `extra` flags.
pub fn start(platform: &Platform, site: &Site, extra: &[&str]) -> Host {
    start_with(platform, site, extra, &[])
}

/// The same with extra environment variables.
pub fn start_with(platform: &Platform, site: &Site, extra: &[&str], env: &[(&str, &str)]) -> Host {
    let mut args = site.args(&platform.url(), PEER_BACKEND);
    args.extend(PEER_FAST.iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut env = env.to_vec();
    env.push((
        "RUST_LOG",
        "info,molecule_host::connect=debug,molecule_host::peers=debug",
    ));
    Host::start_with(&args, &env)
}

/// Mounts the registry: the peer list and the records of `PEER` and `PEER2`.
pub async fn mount_registry(platform: &Platform) {
    let peers = json!([
        {"id": PEER, "name": "Peer", "role": "reviewer", "status": "online", "url": "", "extra": 1},
        {"id": PEER2, "name": "Other", "agent_card": {"name": "Other", "skills": []}},
        {"name": "no id, dropped"}
    ]);
    let mounts = [
        (format!("/registry/{WS}/peers"), peers),
        (
            format!("/registry/discover/{PEER}"),
            json!({"id": PEER, "name": "Peer", "role": "reviewer"}),
        ),
        (
            format!("/registry/discover/{PEER2}"),
            json!({"id": PEER2, "name": "Other", "role": "writer"}),
        ),
    ];
    for (p, body) in mounts {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .with_priority(10)
            .mount(&platform.server)
            .await;
    }
}

/// A script of host calls, as the text of a message.
pub fn script(calls: Value) -> String {
    json!({ "calls": calls }).to_string()
}

/// Sends `calls` as a canvas message and returns each call's `{method, result, error}`.
pub async fn run(platform: &Platform, calls: Value) -> Vec<Value> {
    platform.canvas_says(&script(calls));
    report(platform).await["outcomes"]
        .as_array()
        .cloned()
        .unwrap()
}

/// The data part of the backend's (first) scripted answer, from its canvas reply.
pub async fn report(platform: &Platform) -> Value {
    platform
        .wait_for("the backend's report in the canvas", |reqs| {
            reqs.iter()
                .filter(|r| r.url.path().ends_with("/notify"))
                .find_map(|r| parse_report(&r.body_json::<Value>().ok()?))
        })
        .await
}

fn parse_report(body: &Value) -> Option<Value> {
    let text = body["message"].as_str()?;
    let inner = text.strip_prefix("```json\n")?.strip_suffix("\n```")?;
    let v: Value = serde_json::from_str(inner).ok()?;
    v.get("outcomes").is_some().then_some(v)
}

/// The error code of an outcome (`None` for a result).
pub fn code(outcome: &Value) -> Option<i64> {
    outcome["error"]["code"].as_i64()
}

/// The `data.class` of an outcome's error.
pub fn class(outcome: &Value) -> &str {
    outcome["error"]["data"]["class"].as_str().unwrap_or("")
}

/// The bodies of the `message/send`s posted to `target` by peers/send (role `user`).
pub async fn sends_to(platform: &Platform, target: &str) -> Vec<Value> {
    platform
        .calls("POST", &format!("/workspaces/{target}/a2a$"))
        .await
        .iter()
        .map(|r| r.body_json::<Value>().unwrap())
        .filter(|b| b["params"]["message"]["role"] == "user")
        .collect()
}

/// The first text part of each reply posted to an agent, in order.
pub async fn reply_texts(platform: &Platform) -> Vec<String> {
    platform
        .replies()
        .await
        .iter()
        .filter_map(|b| {
            b.pointer("/params/message/parts/0/text")?
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}
