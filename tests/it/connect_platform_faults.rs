//! `molecule connect` when the platform misbehaves: a lost cursor (410), bursts of 5xx on the
//! feed and on replies, 429 with Retry-After, a rotated or revoked token, a removed workspace,
//! rows that become visible late, refused heartbeats, and acknowledgements.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::connect_host::{Host, Site, echo, write_private};
use super::connect_platform::{PEER, Platform, TOKEN, WS};

/// How many replies carry each text.
async fn reply_counts(platform: &Platform) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for req in platform.requests().await {
        if let Some(t) = super::connect_platform::reply_text(&req) {
            *counts.entry(t).or_default() += 1;
        }
    }
    counts
}

fn once_each(texts: &[&str]) -> BTreeMap<String, usize> {
    texts.iter().map(|t| (format!("echo: {t}"), 1)).collect()
}

#[tokio::test]
async fn a_lost_cursor_is_recovered_without_repeats_or_losses() {
    let platform = Platform::start().await;
    let site = Site::new();
    for t in ["a", "b", "c"] {
        platform.agent_says(PEER, t, None);
    }
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(3).await;
    // The cursor row is pruned while the host runs: the next poll answers 410.
    let head = platform.feed.lock().expect("feed").rows[2]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    platform.feed.lock().expect("feed").gone.insert(head);
    platform.agent_says(PEER, "d", None);
    platform.wait_replies(4).await;
    let lost = host.wait_log("cursor row is gone", |_| true).await;
    assert_eq!(lost["level"], "INFO");
    host.stop().await;
    // And again across a restart: the saved cursor is gone, rows arrived meanwhile.
    let saved = site.state()["cursor"]["id"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    platform.feed.lock().expect("feed").gone.insert(saved);
    platform.agent_says(PEER, "e", None);
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(5).await;
    host.wait_log("cursor row is gone", |_| true).await;
    platform.more_polls(3).await;
    assert_eq!(
        reply_counts(&platform).await,
        once_each(&["a", "b", "c", "d", "e"])
    );
    host.stop().await;
}

#[tokio::test]
async fn bursts_of_5xx_on_the_feed_and_on_replies_are_survived() {
    let platform = Platform::start().await;
    let site = Site::new();
    {
        let mut feed = platform.feed.lock().expect("feed");
        feed.faults
            .extend((0..4).map(|_| ResponseTemplate::new(503)));
        feed.faults.push(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "since_secs must be a positive integer"})),
        );
        feed.faults
            .extend((0..3).map(|_| ResponseTemplate::new(502)));
    }
    platform
        .fault("POST", "/a2a$", ResponseTemplate::new(503), 3)
        .await;
    platform
        .fault("POST", "/notify$", ResponseTemplate::new(500), 2)
        .await;
    for t in ["one", "two"] {
        platform.agent_says(PEER, t, Some(t));
    }
    platform.canvas_says("three");
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(3 + 3 + 2).await;
    platform.more_polls(2).await;
    assert!(platform.feed.lock().expect("feed").faults.is_empty());
    // The three refused POSTs to /a2a and the two to /notify were retried; a retry carries
    // the reply's one messageId, and each message was answered (accepted) exactly once.
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in platform.replies().await {
        let m = &r["params"]["message"];
        let text = m["parts"][0]["text"].as_str().expect("text").to_owned();
        ids.entry(text)
            .or_default()
            .push(m["messageId"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 2);
    assert_eq!(ids.values().map(Vec::len).sum::<usize>(), 2 + 3);
    assert!(ids.values().all(|v| v.iter().all(|id| *id == v[0])));
    assert_eq!(platform.notifies().await.len(), 1 + 2);
    assert_eq!(host.wait_handled(3).await.len(), 3);
    host.stop().await;
}

#[tokio::test]
async fn a_429_retry_after_is_honoured_as_logged() {
    let platform = Platform::start().await;
    let site = Site::new();
    let limited = ResponseTemplate::new(429)
        .insert_header("Retry-After", "1")
        .set_body_json(json!({"error":"rate limit exceeded","retry_after":1}));
    platform
        .feed
        .lock()
        .expect("feed")
        .faults
        .push(limited.clone());
    platform.fault("POST", "/a2a$", limited, 1).await;
    platform.agent_says(PEER, "limited", None);
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(1).await;
    for call in [
        "GET /workspaces/<id>/activity",
        "POST /workspaces/<target>/a2a",
    ] {
        let e = host.wait_log("retrying in", |e| e["call"] == call).await;
        assert_eq!(e["delay_ms"], 1000, "{e}");
    }
    assert_eq!(reply_counts(&platform).await, once_each(&["limited"]));
    host.stop().await;
}

#[tokio::test]
async fn a_rotated_token_file_is_read_again_after_a_401() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    host.wait_log("serving", |_| true).await;
    let rotated = "rotated-token-value-000000000000000000000000";
    write_private(&site.token_file(), rotated);
    Mock::given(method("GET"))
        .and(path(format!("/workspaces/{WS}/activity")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error":"invalid workspace auth token"})),
        )
        .with_priority(1)
        .mount(&platform.server)
        .await;
    platform.agent_says(PEER, "after rotation", None);
    platform.wait_replies(1).await;
    let last = platform.calls("POST", "/a2a$").await;
    let bearer = last[0]
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(bearer, Some(format!("Bearer {rotated}")));
    host.stop().await;
}

#[tokio::test]
async fn a_revoked_token_exits_4_and_a_removed_workspace_exits_6() {
    for (removed, code) in [(false, 4), (true, 6)] {
        let platform = Platform::start().await;
        let site = Site::new();
        let mut host = Host::start(&site.args(&platform.url(), &echo()));
        host.wait_log("serving", |_| true).await;
        if removed {
            let gone = json!({"error":"workspace removed","hint":"Regenerate workspace + token from the canvas","removed_at":null});
            platform
                .fault(
                    "GET",
                    &format!("^/workspaces/{WS}$"),
                    ResponseTemplate::new(410).set_body_json(gone),
                    5,
                )
                .await;
        }
        let revoked = ResponseTemplate::new(401)
            .set_body_json(json!({"error":"invalid workspace auth token"}));
        platform
            .feed
            .lock()
            .expect("feed")
            .faults
            .extend([revoked.clone(), revoked]);
        assert_eq!(
            host.wait_exit().await,
            Some(code),
            "{}",
            host.lines().join("\n")
        );
        let last = host.lines().last().cloned().unwrap_or_default();
        let expected = if removed {
            "was removed"
        } else {
            "rejected the token"
        };
        assert!(last.contains(expected), "{last}");
    }
}

#[tokio::test]
async fn a_row_that_becomes_visible_late_is_still_handled_once() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), &echo());
    args.extend(["--overlap-interval", "30ms"].map(String::from));
    platform.agent_says(PEER, "first", Some("x"));
    let late = platform.agent_says(PEER, "late", Some("y"));
    platform.agent_says(PEER, "third", Some("z"));
    platform
        .feed
        .lock()
        .expect("feed")
        .hidden
        .insert(late.clone());
    let host = Host::start(&args);
    platform.wait_replies(2).await;
    platform.more_polls(2).await;
    platform.feed.lock().expect("feed").hidden.clear();
    platform.wait_replies(3).await;
    host.wait_log("visible after the cursor had passed it", |e| {
        e["row"] == late.as_str()
    })
    .await;
    platform.more_polls(5).await;
    assert_eq!(
        reply_counts(&platform).await,
        once_each(&["first", "late", "third"])
    );
    host.stop().await;
}

#[tokio::test]
async fn refused_heartbeats_are_logged_loudly_and_heartbeats_go_on() {
    let platform = Platform::start().await;
    let site = Site::new();
    platform
        .fault(
            "POST",
            "^/registry/heartbeat$",
            ResponseTemplate::new(400).set_body_json(json!({"error":"invalid request body"})),
            2,
        )
        .await;
    let host = Host::start(&site.args(&platform.url(), &echo()));
    host.wait_log("refused a heartbeat", |e| e["level"] == "ERROR")
        .await;
    platform
        .wait_for("heartbeats after the refusals", |reqs| {
            (reqs
                .iter()
                .filter(|r| r.url.path() == "/registry/heartbeat")
                .count()
                >= 5)
                .then_some(())
        })
        .await;
    host.stop().await;
}

#[tokio::test]
async fn with_ack_the_settled_prefix_is_acknowledged() {
    let platform = Platform::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/workspaces/{WS}/activity/ack")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"last_acked_seq": 1})))
        .mount(&platform.server)
        .await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), &echo());
    args.push("--ack".into());
    platform.agent_says(PEER, "one", None);
    platform.agent_says(PEER, "two", None);
    let host = Host::start(&args);
    platform.wait_replies(2).await;
    let seq = platform.feed.lock().expect("feed").rows[1]["seq"].clone();
    platform
        .wait_for("the ack of the last row", |reqs| {
            reqs.iter()
                .filter(|r| r.url.path().ends_with("/activity/ack"))
                .find_map(|r| {
                    let body: Value = r.body_json().ok()?;
                    (body["acked_seq"] == seq).then_some(())
                })
        })
        .await;
    host.stop().await;
}

#[tokio::test]
async fn a_refused_canvas_reply_is_logged_with_its_reason_and_the_row_settles() {
    let platform = Platform::start().await;
    let site = Site::new();
    let refused = json!({"error":"talk_to_user_disabled","hint":"enable talking to the user"});
    platform
        .fault(
            "POST",
            "/notify$",
            ResponseTemplate::new(403).set_body_json(refused),
            1,
        )
        .await;
    platform.canvas_says("first");
    platform.canvas_says("second");
    let host = Host::start(&site.args(&platform.url(), &echo()));
    let logged = host.wait_log("refused the reply for good", |_| true).await;
    assert_eq!(logged["status"], 403);
    assert!(
        logged["message"]
            .as_str()
            .expect("text")
            .contains("talk_to_user_disabled")
    );
    platform.wait_replies(2).await;
    let outcomes: Vec<Value> = host
        .wait_handled(2)
        .await
        .iter()
        .map(|e| e["outcome"].clone())
        .collect();
    assert_eq!(outcomes, [json!("reply_refused"), json!("replied")]);
    platform.more_polls(2).await;
    assert_eq!(
        platform.notifies().await.len(),
        2,
        "a refused reply is not retried"
    );
    host.stop().await;
}

#[tokio::test]
async fn a_reply_refused_with_401_while_polls_work_is_held_then_given_up() {
    let platform = Platform::start().await;
    let site = Site::new();
    let refused = ResponseTemplate::new(401)
        .set_body_json(json!({"error":"caller ID does not match workspace auth token"}));
    platform
        .fault("POST", &format!("^/workspaces/{PEER}/a2a$"), refused, 100)
        .await;
    platform.agent_says(PEER, "to a peer that refuses us", None);
    let host = Host::start(&site.args(&platform.url(), &echo()));
    let logged = host.wait_log("refused the reply for good", |_| true).await;
    assert_eq!(logged["status"], 401);
    assert_eq!(
        platform.calls("POST", "/a2a$").await.len(),
        1 + 5,
        "held five times, then given up"
    );
    platform.canvas_says("still serving");
    platform
        .wait_for("the next reply", |reqs| {
            reqs.iter()
                .any(|r| r.url.path().ends_with("/notify"))
                .then_some(())
        })
        .await;
    host.stop().await;
}
