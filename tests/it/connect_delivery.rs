//! `molecule connect` delivering messages: the reply envelope, canvas replies, the rows it must
//! not dispatch, the first start, backlogs, unreadable rows and the hop limit. Each test runs
//! the real binary against the wiremock platform with the Rust echo (or the test backend).

use molecule_protocol::keys::reply_message_id;
use serde_json::{Value, json};
use uuid::Uuid;

use super::connect_host::{Host, Site, TEST_BACKEND, echo};
use super::connect_platform::{PEER, PEER2, Platform, TOKEN, WS, message};

fn own() -> Uuid {
    Uuid::parse_str(WS).expect("a uuid")
}

#[tokio::test]
async fn an_agent_message_is_answered_at_its_source_with_the_exact_envelope() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    let row = platform.agent_says(PEER, "hello", Some("ctx-1"));
    let inbound =
        platform.feed.lock().unwrap().rows[0]["request_body"]["params"]["message"]["messageId"]
            .clone();
    platform.wait_replies(1).await;
    let posted = platform.calls("POST", "/a2a$").await;
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].url.path(), format!("/workspaces/{PEER}/a2a"));
    let id = reply_message_id(&own(), &row);
    let expected = json!({"jsonrpc":"2.0","id":id,"method":"message/send","params":{"message":{
        "kind":"message","role":"agent","messageId":id,"contextId":"ctx-1",
        "parts":[{"kind":"text","text":"echo: hello"}],
        "metadata":{"molecule":{"inReplyTo":inbound,"hops":1}}}}});
    assert_eq!(posted[0].body_json::<Value>().unwrap(), expected);
    for poll in platform.polls().await {
        let query = poll.url.query().unwrap_or_default();
        assert!(
            query.contains("type=a2a_receive") && query.contains("include=peer_info"),
            "{query}"
        );
    }
    // Every call carries the bearer, Origin and the workspace header (the seed sent neither).
    let origin = platform.url();
    for req in platform.requests().await {
        let h = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            h("authorization"),
            Some(format!("Bearer {TOKEN}")),
            "{}",
            req.url
        );
        assert_eq!(h("origin").as_deref(), Some(origin.as_str()), "{}", req.url);
        assert_eq!(h("x-workspace-id").as_deref(), Some(WS), "{}", req.url);
    }
    host.stop().await;
}

#[tokio::test]
async fn a_canvas_message_is_answered_in_the_canvas() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.canvas_says("hi there");
    platform.wait_replies(1).await;
    assert_eq!(
        platform.notifies().await,
        [json!({"message": "echo: hi there"})]
    );
    assert!(platform.calls("POST", "/a2a$").await.is_empty());
    let handled = host
        .wait_log("row handled", |e| e["sender"] == "canvas")
        .await;
    assert_eq!(handled["outcome"], "replied");
    host.stop().await;
}

#[tokio::test]
async fn own_notify_rows_and_own_rows_are_never_dispatched() {
    let platform = Platform::start().await;
    let site = Site::new();
    platform.push(
        json!({"method":"notify","source_id":null,"summary":"Agent message: echo: x",
                         "response_body":{"result":"echo: x"}}),
    );
    platform.push(json!({"source_id": WS, "request_body": message("my own echo", None, None)}));
    platform.canvas_says("after");
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(1).await;
    platform.more_polls(3).await;
    assert_eq!(
        platform.notifies().await,
        [json!({"message": "echo: after"})]
    );
    assert!(platform.replies().await.is_empty());
    assert_eq!(host.wait_handled(1).await.len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn a_delegation_result_under_our_own_id_reaches_the_backend_and_nothing_is_posted() {
    // docs/platform-api.md §4.5: own-source rows are skipped, except delegate_result.
    let platform = Platform::start().await;
    let site = Site::new();
    let result = platform.push(json!({"source_id": WS, "method": "delegate_result",
        "request_body": {"delegation_id": "d-1"},
        "response_body": {"text": "the delegate's answer", "delegation_id": "d-1"}}));
    platform.push(json!({"source_id": WS, "request_body": message("my own echo", None, None)}));
    platform.canvas_says("after");
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(1).await;
    let handled = host.wait_handled(2).await;
    platform.more_polls(3).await;
    let delegated = handled
        .iter()
        .find(|e| e["row"] == result.as_str())
        .expect("the delegation result was handled");
    // The echo answered it; a result is not a new task, so the answer goes nowhere.
    assert_eq!(delegated["outcome"], "sender_cannot_be_answered");
    assert_eq!(delegated["sender"], "other");
    assert_eq!(
        platform.notifies().await,
        [json!({"message": "echo: after"})]
    );
    assert!(platform.replies().await.is_empty());
    assert_eq!(host.handled().len(), 2, "the self-echo row is skipped");
    host.stop().await;
}

#[tokio::test]
async fn a_first_start_handles_the_window_oldest_first_once() {
    let platform = Platform::start().await;
    let site = Site::new();
    let old = platform.agent_says(PEER, "too old", Some("c"));
    platform.feed.lock().unwrap().rows[0]["created_at"] = json!("2020-01-01T00:00:00.000001Z");
    for i in 0..7 {
        platform.agent_says(PEER, &format!("m{i}"), Some("c"));
    }
    let mut args = site.args(&platform.url(), &echo());
    args.extend(["--batch-size", "3"].map(String::from));
    let host = Host::start(&args);
    let texts = platform.wait_replies(7).await;
    let expected: Vec<String> = (0..7).map(|i| format!("echo: m{i}")).collect();
    assert_eq!(
        texts, expected,
        "oldest first (the seed handled the newest-first page as is)"
    );
    platform.more_polls(3).await;
    assert_eq!(
        platform.replies().await.len(),
        7,
        "each once, and not the row older than --since"
    );
    assert!(!host.handled().iter().any(|e| e["row"] == old.as_str()));
    host.stop().await;
}

#[tokio::test]
async fn a_full_batch_is_followed_by_the_next_poll_at_once() {
    let platform = Platform::start().await;
    let site = Site::new();
    for i in 0..9 {
        platform.agent_says(
            if i % 2 == 0 { PEER } else { PEER2 },
            &format!("b{i}"),
            None,
        );
    }
    let mut args = site.args(&platform.url(), &echo());
    // With an hour between polls, only "poll again at once after a full page" drains this.
    args.extend(["--batch-size", "2", "--poll-interval", "1h"].map(String::from));
    let host = Host::start(&args);
    let mut texts = platform.wait_replies(9).await;
    texts.sort();
    let mut expected: Vec<String> = (0..9).map(|i| format!("echo: b{i}")).collect();
    expected.sort();
    assert_eq!(texts, expected);
    host.stop().await;
}

#[tokio::test]
async fn an_unreadable_row_gets_a_short_error_reply_and_the_queue_moves_on() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.push(json!({"source_id": PEER, "summary": "SUMMARY-NOT-THE-TEXT",
                         "request_body": {"jsonrpc":"2.0","params":{"message":{"parts":[{"kind":"text"}]}}}}));
    platform.push(json!({"source_id": null, "summary": "SUMMARY-NOT-THE-TEXT"}));
    platform.agent_says(PEER, "next", None);
    platform.wait_replies(3).await;
    let replies = platform.replies().await;
    let first = &replies[0]["params"]["message"];
    assert!(
        first["parts"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, I could not read your message")
    );
    assert_eq!(first["metadata"]["molecule"]["error"], true);
    assert_eq!(
        replies[1]["params"]["message"]["parts"][0]["text"],
        "echo: next"
    );
    let notify = platform.notifies().await;
    assert!(
        notify[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, I could not read")
    );
    for req in platform.requests().await {
        assert!(!String::from_utf8_lossy(&req.body).contains("SUMMARY-NOT-THE-TEXT"));
    }
    host.stop().await;
}

#[tokio::test]
async fn a_message_at_the_hop_limit_is_delivered_but_not_answered() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    args.extend(["--hop-limit", "2"].map(String::from));
    let host = Host::start(&args);
    let auto = |hops: u32| json!({"inReplyTo": "earlier", "hops": hops});
    let at = platform
        .push(json!({"source_id": PEER, "request_body": message("at", None, Some(auto(2)))}));
    let past = platform
        .push(json!({"source_id": PEER, "request_body": message("past", None, Some(auto(3)))}));
    platform
        .push(json!({"source_id": PEER, "request_body": message("below", None, Some(auto(1)))}));
    platform.wait_replies(1).await;
    let suppressed = host
        .wait_log("row handled", |e| e["row"] == at.as_str())
        .await;
    assert_eq!(suppressed["outcome"], "reply_suppressed_at_hop_limit");
    host.wait_log("not for the backend", |e| e["row"] == past.as_str())
        .await;
    platform.more_polls(2).await;
    let replies = platform.replies().await;
    assert_eq!(replies.len(), 1);
    let m = &replies[0]["params"]["message"];
    assert_eq!(
        (&m["parts"][0]["text"], &m["metadata"]["molecule"]["hops"]),
        (&json!("echo: below"), &json!(2))
    );
    host.stop().await;
}

#[tokio::test]
async fn a_summary_line_reports_rows_handled_and_the_backlog() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), &echo());
    args.extend(["--summary-interval", "50ms"].map(String::from));
    let host = Host::start(&args);
    platform.canvas_says("count me");
    platform.wait_replies(1).await;
    let summary = host.wait_log("summary:", |e| e["handled"] == 1).await;
    assert_eq!(
        (&summary["errors"], &summary["backlog"], &summary["level"]),
        (&json!(0), &json!(0), &json!("INFO"))
    );
    let handled = host.wait_log("row handled", |_| true).await;
    assert!(handled["latency_ms"].is_u64());
    assert!(
        !host.lines().iter().any(|l| l.contains("count me")),
        "no message content at info"
    );
    host.stop().await;
}
