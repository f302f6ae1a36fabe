//! `peers/send` with `waitMs` and sender enrichment, through the real binary and a real backend
//! against the wiremock platform: the answer row completes the waiting call (by `inReplyTo`,
//! then by `contextId`) and is not dispatched; no answer is a 1015; a sender without a name is
//! looked up once per TTL, failures included.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::connect_host::Site;
use super::connect_platform::{PEER, PEER2, Platform, message};
use super::peers_support::{
    class, code, mount_registry, reply_texts, report, script, sends_to, start,
};

/// Waits for the first peers/send to `target` and returns its message.
async fn sent_message(platform: &Platform, target: &str) -> Value {
    let path = format!("/workspaces/{target}/a2a");
    let body = platform
        .wait_for("a peers/send", |reqs| {
            reqs.iter()
                .filter(|r| r.url.path() == path)
                .filter_map(|r| r.body_json::<Value>().ok())
                .find(|b| b["params"]["message"]["role"] == "user")
        })
        .await;
    body["params"]["message"].clone()
}

#[tokio::test]
async fn the_answer_row_completes_the_wait_and_is_not_dispatched() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let calls = json!([
        {"method": "peers/send", "params": {"id": PEER, "text": "figures?", "waitMs": 30000}},
        {"method": "peers/send", "params": {"id": PEER2, "text": "and you?", "waitMs": 30000,
                                            "contextId": "ctx-shared"}},
    ]);
    platform.canvas_says(&script(calls));
    let first = sent_message(&platform, PEER).await;
    // The answer as this host's replies carry it: inReplyTo names our messageId.
    let meta = json!({"inReplyTo": first["messageId"], "hops": 1});
    let answer = message("4.2M, up 12%", Some("another-context"), Some(meta));
    platform.push(json!({"source_id": PEER, "peer_name": "Peer", "request_body": answer}));
    let second = sent_message(&platform, PEER2).await;
    assert_eq!(second["contextId"], "ctx-shared");
    // A peer that only echoes the context (no molecule metadata).
    let echo = message("nothing older", Some("ctx-shared"), None);
    platform.push(json!({"source_id": PEER2, "request_body": echo}));
    let out = report(&platform).await["outcomes"].clone();
    assert_eq!(out[0]["result"]["queued"], false, "{}", out[0]);
    assert_eq!(
        out[0]["result"]["parts"],
        json!([{"kind": "text", "text": "4.2M, up 12%"}])
    );
    assert_eq!(
        out[1]["result"]["parts"],
        json!([{"kind": "text", "text": "nothing older"}])
    );
    let claimed = host
        .wait_log("row answers a waiting peers/send call", |_| true)
        .await;
    assert!(claimed["row"].is_string());
    host.wait_handled(1).await;
    platform.more_polls(3).await;
    assert_eq!(host.handled().len(), 1, "only the script row was handled");
    let dispatched: Vec<String> = reply_texts(&platform)
        .await
        .into_iter()
        .filter(|t| t.starts_with("peer-backend got"))
        .collect();
    assert!(
        dispatched.is_empty(),
        "claimed rows reached the backend: {dispatched:?}"
    );
    host.stop().await;
}

#[tokio::test]
async fn no_answer_within_wait_ms_is_a_1015_and_a_late_answer_is_a_new_message() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let calls =
        json!([{"method": "peers/send", "params": {"id": PEER, "text": "hello?", "waitMs": 50}}]);
    platform.canvas_says(&script(calls));
    let out = report(&platform).await["outcomes"].clone();
    assert_eq!(
        (code(&out[0]), class(&out[0])),
        (Some(1015), "wait_timeout")
    );
    let sent = sends_to(&platform, PEER).await;
    assert_eq!(
        out[0]["error"]["data"]["messageId"],
        sent[0]["params"]["message"]["messageId"]
    );
    let meta = json!({"inReplyTo": sent[0]["params"]["message"]["messageId"], "hops": 1});
    platform.push(json!({"source_id": PEER, "peer_name": "Peer",
                         "request_body": message("late", None, Some(meta))}));
    let handled = host.wait_handled(2).await;
    assert_eq!(
        handled.len(),
        2,
        "the late answer is delivered to the backend"
    );
    host.stop().await;
}

#[tokio::test]
async fn senders_without_peer_info_are_looked_up_once_per_ttl() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    platform
        .fault(
            "GET",
            &format!("/registry/discover/{PEER2}$"),
            ResponseTemplate::new(500),
            10,
        )
        .await;
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    for (from, text) in [
        (PEER, "one"),
        (PEER, "two"),
        (PEER2, "three"),
        (PEER2, "four"),
    ] {
        // An older platform: no peer_name or peer_role on the row.
        platform.push(json!({"source_id": from, "request_body": message(text, Some(text), None)}));
    }
    host.wait_handled(4).await;
    let texts: Vec<String> = reply_texts(&platform).await;
    for t in ["one", "two"] {
        assert!(
            texts.contains(&format!("peer-backend got: {t} (from Peer/reviewer)")),
            "{texts:?}"
        );
    }
    for t in ["three", "four"] {
        assert!(
            texts.contains(&format!("peer-backend got: {t} (from -/-)")),
            "{texts:?}"
        );
    }
    assert_eq!(
        platform
            .calls("GET", &format!("/discover/{PEER}$"))
            .await
            .len(),
        1
    );
    assert_eq!(
        platform
            .calls("GET", &format!("/discover/{PEER2}$"))
            .await
            .len(),
        1,
        "failures are cached"
    );
    host.stop().await;
}

#[tokio::test]
async fn a_slow_registry_does_not_hold_dispatch_and_rows_with_peer_info_need_no_lookup() {
    let platform = Platform::start().await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(json!({"id": PEER, "name": "Slow"}))
        .set_delay(std::time::Duration::from_secs(30));
    platform
        .fault("GET", &format!("/registry/discover/{PEER}$"), slow, 10)
        .await;
    let site = Site::new();
    let host = start(&platform, &site, &["--peer-lookup-timeout", "50ms"]);
    platform.push(json!({"source_id": PEER, "request_body": message("quick", None, None)}));
    platform.agent_says(PEER2, "named", None);
    host.wait_handled(2).await;
    let texts: Vec<String> = reply_texts(&platform).await;
    assert!(
        texts.contains(&"peer-backend got: quick (from -/-)".to_owned()),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"peer-backend got: named (from Peer/reviewer)".to_owned()),
        "{texts:?}"
    );
    assert!(
        platform
            .calls("GET", &format!("/discover/{PEER2}$"))
            .await
            .is_empty()
    );
    host.stop().await;
}

#[tokio::test]
async fn ending_the_request_ends_the_wait() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = start(
        &platform,
        &site,
        &["--request-timeout", "400ms", "--max-attempts", "1"],
    );
    let calls =
        json!([{"method": "peers/send", "params": {"id": PEER, "text": "slow?", "waitMs": 60000}}]);
    platform.canvas_says(&script(calls));
    let sent = sent_message(&platform, PEER).await;
    let ended = host
        .wait_log("host call", |e| e["method"] == "peers/send")
        .await;
    assert_eq!(ended["outcome"], "error -32800", "{ended}");
    // The wait is withdrawn: its answer, arriving now, is an ordinary message.
    let meta = json!({"inReplyTo": sent["messageId"], "hops": 1});
    platform.push(json!({"source_id": PEER, "peer_name": "Peer",
                         "request_body": message("too late", None, Some(meta))}));
    let handled = host.wait_handled(2).await;
    assert_eq!(handled.len(), 2);
    host.stop().await;
}
