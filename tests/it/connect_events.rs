//! `molecule connect` on the emulator's event stream, through the real binary: messages
//! answered without waiting for a poll (both intervals set to minutes, so only the stream can
//! have fetched them), every event lost (the safety poll answers everything), the stream cut
//! mid-drain (nothing lost, nothing answered twice), a platform without the route (interval
//! polling, said once), a 401 on the stream (a rotated token file recovers it; a revoked token
//! ends the host with the auth exit code), and a burst of events that costs a handful of polls.

use std::collections::HashMap;

use molecule_emulator::{
    Compat, DevMessage, Emulator, Endpoint, FaultConfig, FaultRule, SendAs, StreamFaults,
};
use serde_json::Value;
use uuid::Uuid;

use super::connect_emulator::{Pair, feed, pair, serve};
use super::connect_host::{Host, Site, echo, write_private};
use super::support::wait::until;

/// Both intervals in minutes: within a test's deadline only the stream makes the host poll.
const STREAM_ONLY: &[&str] = &["--poll-interval", "10m", "--safety-poll-interval", "10m"];

fn stream_faults(emu: &Emulator, stream: StreamFaults) {
    emu.set_faults(FaultConfig {
        seed: 3,
        stream,
        ..FaultConfig::default()
    });
}

/// How many replies the peer received to each message, by the message's id.
fn replies(p: &Pair) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for row in feed(&p.emu, p.peer.id) {
        if let Some(id) = row
            .pointer("/request_body/params/message/metadata/molecule/inReplyTo")
            .and_then(Value::as_str)
        {
            *n.entry(id.to_owned()).or_default() += 1;
        }
    }
    n
}

/// The peer says each of `texts` to main; returns the messages' ids.
async fn peer_says(p: &Pair, texts: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut ids = Vec::new();
    for text in texts {
        let id = Uuid::new_v4().to_string();
        let msg = DevMessage {
            text,
            message_id: Some(id.clone()),
            ..DevMessage::default()
        };
        p.emu
            .send(p.main.id, SendAs::Workspace(p.peer.id), msg)
            .await
            .expect("sent");
        ids.push(id);
    }
    ids
}

/// Waits until every one of `ids` has its reply, then checks none has two.
async fn answered_once(p: &Pair, ids: &[String]) {
    until(&format!("replies to all {} messages", ids.len()), || {
        let r = replies(p);
        ids.iter().all(|id| r.contains_key(id))
    })
    .await;
    let r = replies(p);
    let twice: Vec<_> = r.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "answered twice: {twice:?}");
}

async fn live(host: &Host) {
    host.wait_log("event stream live", |e| e["stream"] == "live")
        .await;
}

/// Waits until a fresh host with both intervals in minutes has made its two reads of the feed
/// (at start, and at once after the stream opened): from then on it rests, and only the
/// stream's reconnects reach the platform (besides heartbeats).
async fn resting(p: &Pair) {
    until("the start-up reads of the feed", || {
        p.emu.stats().requests_to(Endpoint::Activity) >= 2
    })
    .await;
}

#[tokio::test]
async fn a_message_is_answered_without_waiting_for_a_poll() {
    let p = pair(Compat::New).await;
    let site = Site::new();
    let host = serve(&p.emu, &p.main, &site, &echo(), STREAM_ONLY);
    live(&host).await;
    let ids = peer_says(&p, ["hi".to_owned()]).await;
    answered_once(&p, &ids).await;
    let ids = peer_says(&p, ["again".to_owned()]).await;
    answered_once(&p, &ids).await;
    host.stop().await;
}

#[tokio::test]
async fn a_dry_run_says_the_stream_is_live() {
    let p = pair(Compat::New).await;
    let site = Site::new();
    write_private(&site.token_file(), &p.main.token);
    let mut args = site.args(p.emu.base_url(), &echo());
    args[3] = p.main.id.to_string();
    args.push("--dry-run".into());
    // The emulator serves on this test's thread: the run must not block it.
    let run = tokio::task::spawn_blocking(move || super::connect_host::run_out(&args));
    let (code, stdout, stderr) = run.await.expect("ran");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("events:     live: messages are fetched as they arrive"),
        "{stdout}"
    );
    assert_eq!(p.emu.stats().streams_opened, 1);
}

#[tokio::test]
async fn every_event_lost_every_message_is_answered_by_the_safety_poll() {
    let p = pair(Compat::New).await;
    stream_faults(
        &p.emu,
        StreamFaults {
            drop: 1.0,
            ..StreamFaults::default()
        },
    );
    let site = Site::new();
    let safety = ["--poll-interval", "10m", "--safety-poll-interval", "200ms"];
    let host = serve(&p.emu, &p.main, &site, &echo(), &safety);
    live(&host).await;
    let ids = peer_says(&p, (0..5).map(|i| format!("lost event {i}"))).await;
    answered_once(&p, &ids).await;
    assert!(p.emu.stats().events_dropped_fault >= 5);
    assert_eq!(p.emu.stats().events_sent, 0, "no event reached the host");
    host.stop().await;
}

#[tokio::test]
async fn a_stream_cut_mid_drain_reconnects_and_nothing_is_lost_or_answered_twice() {
    let p = pair(Compat::New).await;
    stream_faults(
        &p.emu,
        StreamFaults {
            cut_after: Some(3),
            ..StreamFaults::default()
        },
    );
    let site = Site::new();
    let host = serve(&p.emu, &p.main, &site, &echo(), STREAM_ONLY);
    live(&host).await;
    let ids = peer_says(&p, (0..20).map(|i| format!("message {i}"))).await;
    answered_once(&p, &ids).await;
    host.wait_log("event stream lost (closed by the platform)", |_| true)
        .await;
    host.wait_log("event stream live again", |_| true).await;
    assert!(p.emu.stats().streams_cut >= 1);
    host.stop().await;
}

#[tokio::test]
async fn without_the_route_the_host_polls_at_the_interval_and_says_so_once() {
    let p = pair(Compat::Old).await;
    let site = Site::new();
    let flags = ["--poll-interval", "50ms", "--event-stream-retry", "20ms"];
    let host = serve(&p.emu, &p.main, &site, &echo(), &flags);
    until("three attempts at the stream", || {
        p.emu.stats().requests_to(Endpoint::Events) >= 3
    })
    .await;
    let ids = peer_says(&p, ["polled".to_owned()]).await;
    answered_once(&p, &ids).await;
    let said: Vec<Value> = host
        .events()
        .into_iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("no event stream"))
        })
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0]["level"], "INFO");
    assert!(
        said[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("HTTP 404"),
        "{said:?}"
    );
    host.stop().await;
}

#[tokio::test]
async fn a_401_on_the_stream_rereads_the_token_file() {
    let p = pair(Compat::New).await;
    let site = Site::new();
    // Heartbeats a minute apart too: a heartbeat's 401 would re-read the file first.
    let flags = [STREAM_ONLY, &["--heartbeat-interval", "60s"]].concat();
    let host = serve(&p.emu, &p.main, &site, &echo(), &flags);
    live(&host).await;
    resting(&p).await;
    p.emu.revoke_tokens(p.main.id).expect("revoked");
    let fresh = p.emu.mint_token(p.main.id).expect("a token");
    write_private(&site.token_file(), &fresh);
    // An open stream outlives its token, as on the platform: cut it to make the host reopen.
    p.emu.cut_streams(p.main.id);
    host.wait_log("the token changed after a 401", |e| {
        e["call"] == "GET /workspaces/<id>/events/stream"
    })
    .await;
    host.wait_log("event stream live again", |_| true).await;
    let ids = peer_says(&p, ["after rotation".to_owned()]).await;
    answered_once(&p, &ids).await;
    let lines = host.stop().await.join("\n");
    assert!(!lines.contains(&fresh) && !lines.contains(&p.main.token));
}

#[tokio::test]
async fn a_revoked_token_on_the_stream_ends_the_host_with_the_auth_exit_code() {
    let p = pair(Compat::New).await;
    let site = Site::new();
    let flags = [STREAM_ONLY, &["--heartbeat-interval", "60s"]].concat();
    let mut host = serve(&p.emu, &p.main, &site, &echo(), &flags);
    live(&host).await;
    resting(&p).await;
    p.emu.revoke_tokens(p.main.id).expect("revoked");
    p.emu.cut_streams(p.main.id);
    // Polls are minutes apart: only the stream's 401 can have sent the host to its token path.
    assert_eq!(host.wait_exit().await, Some(4));
    let text = host.lines().join("\n");
    assert!(text.contains("rejected the token"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_a_thousand_events_costs_a_handful_of_polls() {
    let p = pair(Compat::New).await;
    // Each read of the feed takes 100 ms, as on a busy platform: events pile up meanwhile.
    p.emu.set_faults(FaultConfig {
        seed: 5,
        rules: vec![FaultRule {
            endpoint: Some(Endpoint::Activity),
            latency: 1.0,
            latency_ms: 100,
            ..FaultRule::default()
        }],
        ..FaultConfig::default()
    });
    let site = Site::new();
    let host = serve(&p.emu, &p.main, &site, &echo(), STREAM_ONLY);
    live(&host).await;
    let before = p.emu.stats().requests_to(Endpoint::Activity);
    let ids = peer_says(&p, (0..1000).map(|i| format!("burst {i}"))).await;
    answered_once(&p, &ids).await;
    let st = p.emu.stats();
    let polls = st.requests_to(Endpoint::Activity) - before;
    // 1,000 rows need at least 10 pages of 100; the events do not add a poll each.
    assert!(
        polls <= 40 && st.events_sent >= 4 * polls,
        "{polls} polls for {} events",
        st.events_sent
    );
    host.stop().await;
}

#[tokio::test]
async fn a_refused_heartbeat_reads_the_feed_at_once_to_decide() {
    let p = pair(Compat::New).await;
    let site = Site::new();
    let flags = [STREAM_ONLY, &["--heartbeat-interval", "100ms"]].concat();
    let mut host = serve(&p.emu, &p.main, &site, &echo(), &flags);
    live(&host).await;
    resting(&p).await;
    // The open stream outlives the token and polls are minutes apart: only the refused
    // heartbeat can send the host to read the feed, which is refused too and ends it. The
    // platform checks a heartbeat only against a live instance token, so someone else
    // registers the workspace after the revocation and is minted one, as when the workspace
    // is taken over elsewhere.
    p.emu.revoke_tokens(p.main.id).expect("revoked");
    let register = serde_json::json!({"id": p.main.id, "agent_card": {"name": "elsewhere"},
        "delivery_mode": "poll"});
    let answer = reqwest::Client::new()
        .post(format!("{}/registry/register", p.emu.base_url()))
        .json(&register)
        .send()
        .await
        .expect("register");
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(host.wait_exit().await, Some(4));
    let text = host.lines().join("\n");
    assert!(text.contains("refused a heartbeat"), "{text}");
}
