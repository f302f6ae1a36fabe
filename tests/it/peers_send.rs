//! `peers/send` through the real binary and a real backend against the wiremock platform: the
//! retry schedule (only unprocessed failures, five attempts, the total budget), one messageId
//! on every attempt and across a redelivered `handle_a2a`, the answers (message, task, queued,
//! busy, push-async, JSON-RPC error, malformed), and the request's deadline.

use molecule_protocol::keys::{call_message_id, idempotency_key};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::ResponseTemplate;

use super::connect_host::Site;
use super::connect_platform::{PEER, PEER2, Platform, WS};
use super::peers_support::{class, code, run, script, sends_to, start};

fn send(target: &str, text: &str) -> Value {
    json!({"method": "peers/send", "params": {"id": target, "text": text}})
}

fn busy() -> ResponseTemplate {
    ResponseTemplate::new(503)
        .insert_header("retry-after", "0")
        .set_body_json(json!({"error": "workspace agent busy", "retry_after": 0}))
}

fn answer(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"jsonrpc": "2.0", "id": "x", "result": result}))
}

#[tokio::test]
async fn unprocessed_failures_are_retried_with_backoff_and_one_message_id() {
    let platform = Platform::start().await;
    let target = format!("/workspaces/{PEER}/a2a$");
    platform
        .fault(
            "POST",
            &target,
            ResponseTemplate::new(429).insert_header("retry-after", "0"),
            1,
        )
        .await;
    platform.fault("POST", &target, busy(), 2).await;
    let reply = json!({"kind": "message", "role": "agent", "messageId": "r1",
                       "parts": [{"kind": "text", "text": "here you are"}]});
    platform.fault("POST", &target, answer(reply), 1).await;
    let site = Site::new();
    let host = start(
        &platform,
        &site,
        &["--peer-retry-base", "10ms", "--peer-retry-max", "40ms"],
    );
    let out = run(&platform, json!([send(PEER, "figures?")])).await;
    let result = &out[0]["result"];
    assert_eq!(result["queued"], false, "{}", out[0]);
    assert_eq!(
        result["parts"],
        json!([{"kind": "text", "text": "here you are"}])
    );
    let sent = sends_to(&platform, PEER).await;
    assert_eq!(sent.len(), 4, "429, 503, 503, then the answer");
    let ids: Vec<&Value> = sent
        .iter()
        .map(|b| &b["params"]["message"]["messageId"])
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(result["messageId"], *ids[0]);
    let message = &sent[0]["params"]["message"];
    assert_eq!(message["kind"], "message");
    assert_eq!(message["parts"][0]["kind"], "text");
    assert_eq!(
        message["contextId"], result["contextId"],
        "the host minted the context"
    );
    assert!(Uuid::try_parse(result["contextId"].as_str().unwrap_or("")).is_ok());
    let retries: Vec<Value> = host
        .events()
        .into_iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("platform call failed; retrying"))
        })
        .collect();
    assert_eq!(retries.len(), 3, "one warning per retry");
    assert!(
        retries
            .iter()
            .all(|e| e["call"] == "POST /workspaces/<target>/a2a")
    );
    host.stop().await;
}

#[tokio::test]
async fn refusals_are_not_retried_and_say_what_they_were() {
    let platform = Platform::start().await;
    let target = format!("/workspaces/{PEER}/a2a$");
    let rpc_error =
        json!({"jsonrpc": "2.0", "id": "x", "error": {"code": -32000, "message": "agent error"}});
    for fault in [
        ResponseTemplate::new(400).set_body_json(json!({"error": "bad request"})),
        ResponseTemplate::new(502),
        ResponseTemplate::new(200).set_body_json(rpc_error),
        ResponseTemplate::new(200).set_body_json(json!({"unexpected": true})),
        ResponseTemplate::new(403),
        ResponseTemplate::new(404),
        ResponseTemplate::new(503),
    ] {
        platform.fault("POST", &target, fault, 1).await;
    }
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let calls: Vec<Value> = (0..7).map(|i| send(PEER, &format!("m{i}"))).collect();
    let out = run(&platform, Value::Array(calls)).await;
    let got: Vec<(Option<i64>, &str)> = out.iter().map(|o| (code(o), class(o))).collect();
    assert_eq!(
        got,
        [
            (Some(1014), "rejected"),
            (Some(1014), "rejected"),
            (Some(1014), "rejected"),
            (Some(1014), "bad_response"),
            (Some(1010), "unauthorized"),
            (Some(1011), "not_found"),
            (Some(1013), "server_error"),
        ]
    );
    for o in &out {
        let message = o["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(&format!("peers/send to {PEER}: ")),
            "{message}"
        );
        assert!(o["error"]["data"]["messageId"].is_string(), "{o}");
        assert_eq!(o["error"]["data"]["target"], PEER);
    }
    assert!(
        out[2]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("agent error")
    );
    assert_eq!(sends_to(&platform, PEER).await.len(), 7, "one attempt each");
    host.stop().await;
}

#[tokio::test]
async fn five_attempts_at_most_then_the_failure_names_them() {
    let platform = Platform::start().await;
    platform
        .fault("POST", &format!("/workspaces/{PEER}/a2a$"), busy(), 20)
        .await;
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let out = run(&platform, json!([send(PEER, "anyone?")])).await;
    assert_eq!(
        (code(&out[0]), class(&out[0])),
        (Some(1013), "server_error")
    );
    let message = out[0]["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("after 5 attempts"), "{message}");
    assert_eq!(out[0]["error"]["data"]["retryable"], true);
    assert_eq!(sends_to(&platform, PEER).await.len(), 5);
    // Four delays: 5, 10, 20, then capped at 20 ms (±25%).
    let delays: Vec<u64> = host
        .events()
        .iter()
        .filter(|e| e["call"] == "POST /workspaces/<target>/a2a")
        .filter_map(|e| e["delay_ms"].as_u64())
        .collect();
    assert_eq!(delays.len(), 4);
    assert!(delays[3] <= 25, "capped: {delays:?}");
    host.stop().await;
}

#[tokio::test]
async fn the_total_budget_stops_the_retries_early() {
    let platform = Platform::start().await;
    platform
        .fault("POST", &format!("/workspaces/{PEER}/a2a$"), busy(), 20)
        .await;
    let site = Site::new();
    let flags = [
        "--peer-retry-base",
        "150ms",
        "--peer-retry-max",
        "150ms",
        "--peer-send-budget",
        "200ms",
    ];
    let host = start(&platform, &site, &flags);
    let out = run(&platform, json!([send(PEER, "anyone?")])).await;
    assert_eq!(code(&out[0]), Some(1013), "{}", out[0]);
    let attempts = sends_to(&platform, PEER).await.len();
    assert!(
        (1..5).contains(&attempts),
        "{attempts} attempts within the budget"
    );
    host.stop().await;
}

#[tokio::test]
async fn task_queued_busy_and_push_async_answers() {
    let platform = Platform::start().await;
    let target = format!("/workspaces/{PEER}/a2a$");
    let task = json!({"kind": "task", "id": "t1", "status": {"state": "completed",
        "message": {"role": "agent", "parts": [{"kind": "text", "text": "summary"}]}},
        "artifacts": [{"artifactId": "a", "parts": [{"kind": "data", "data": {"rows": 3}}]}]});
    for fault in [
        answer(task),
        ResponseTemplate::new(202)
            .set_body_json(json!({"queued": true, "queue_id": "q1", "queue_depth": 2})),
        ResponseTemplate::new(200)
            .set_body_json(json!({"status": "queued", "delivery_mode": "push-async"})),
    ] {
        platform.fault("POST", &target, fault, 1).await;
    }
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let calls = json!([
        send(PEER, "a"),
        send(PEER, "b"),
        send(PEER, "c"),
        send(PEER2, "d")
    ]);
    let out = run(&platform, calls).await;
    assert_eq!(out[0]["result"]["state"], "completed");
    assert_eq!(
        out[0]["result"]["parts"],
        json!([{"kind": "data", "data": {"rows": 3}}, {"kind": "text", "text": "summary"}])
    );
    for o in &out[1..] {
        assert_eq!(o["result"]["queued"], true, "{o}");
        assert!(o["result"].get("parts").is_none());
    }
    host.stop().await;
}

#[tokio::test]
async fn a_redelivered_message_sends_with_the_same_message_id() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let text = json!({"calls": [send(PEER, "do the work")], "failFirst": true}).to_string();
    let row = platform.canvas_says(&text);
    super::peers_support::report(&platform).await;
    let sent = sends_to(&platform, PEER).await;
    assert_eq!(sent.len(), 2, "one send per delivery");
    let key = idempotency_key(&Uuid::parse_str(WS).unwrap_or_default(), &row);
    let expected = call_message_id(&key, 0);
    for body in &sent {
        assert_eq!(body["params"]["message"]["messageId"], expected.as_str());
    }
    host.stop().await;
}

#[tokio::test]
async fn a_call_never_outlives_its_request() {
    let platform = Platform::start().await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(json!({"status": "queued", "delivery_mode": "poll"}))
        .set_delay(std::time::Duration::from_secs(30));
    platform
        .fault("POST", &format!("/workspaces/{PEER}/a2a$"), slow, 1)
        .await;
    let site = Site::new();
    let host = start(
        &platform,
        &site,
        &["--request-timeout", "400ms", "--max-attempts", "1"],
    );
    platform.canvas_says(&script(json!([send(PEER, "slow")])));
    let ended = host
        .wait_log("host call", |e| e["method"] == "peers/send")
        .await;
    assert_eq!(ended["outcome"], "error -32800", "{ended}");
    host.stop().await;
}
