//! The retry helper against a real server: transient answers are retried, Retry-After is
//! honoured (asserted on the logged delay, not on wall time), permanent ones are not retried.

#![allow(clippy::unwrap_used, reason = "test helpers panic on broken fixtures")]

use crate::platform_support::{Logs, client};
use molecule_host::platform::*;
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast() -> RetryPolicy {
    RetryPolicy::forever(Duration::from_millis(1), Duration::from_millis(8))
}

async fn heartbeat_answers(server: &MockServer, first: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/registry/heartbeat"))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/registry/heartbeat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status":"ok"})))
        .with_priority(2)
        .mount(server)
        .await;
}

async fn beat(c: &PlatformClient, policy: &RetryPolicy) -> Result<(), PlatformError> {
    let beat = Heartbeat::default();
    retry(Call::Heartbeat, policy, &CancellationToken::new(), || {
        c.heartbeat(&beat)
    })
    .await
}

#[tokio::test]
async fn a_503_then_200_is_retried_and_logged() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    heartbeat_answers(&server, ResponseTemplate::new(503), 2).await;
    let s = client(&server);
    beat(&s.client, &fast()).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    let retries = logs.lines_with(&["WARN", "retrying", "POST /registry/heartbeat", "HTTP 503"]);
    assert_eq!(retries.len(), 2, "{}", logs.text());
    assert!(retries[0].contains("attempt=1") && retries[1].contains("attempt=2"));
}

#[tokio::test]
async fn retry_after_of_a_429_is_the_delay() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429)
        .insert_header("retry-after", "1")
        .insert_header("x-ratelimit-limit", "600")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset", "1")
        .set_body_json(json!({"error":"rate limit exceeded","retry_after":1}));
    heartbeat_answers(&server, limited, 1).await;
    let s = client(&server);
    beat(&s.client, &fast()).await.unwrap();
    let line = logs.wait_for("retrying").await;
    assert!(line.contains("delay_ms=1000"), "{line}");
    assert!(line.contains("HTTP 429 rate limited"), "{line}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn retry_after_in_a_503_body_is_the_delay() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let busy = ResponseTemplate::new(503).set_body_json(json!({"busy":true,"retry_after":0.025}));
    heartbeat_answers(&server, busy, 1).await;
    let s = client(&server);
    // Far longer than the server's hint: the hint must win over the backoff.
    let policy = RetryPolicy::forever(Duration::from_secs(60), Duration::from_secs(60));
    beat(&s.client, &policy).await.unwrap();
    let line = logs.wait_for("retrying").await;
    assert!(line.contains("delay_ms=25"), "{line}");
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let bad = ResponseTemplate::new(400).set_body_json(json!({"error":"invalid request body"}));
    heartbeat_answers(&server, bad, 5).await;
    let s = client(&server);
    let err = beat(&s.client, &fast()).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("invalid request body"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(logs.lines_with(&["retrying"]).is_empty());
}

#[tokio::test]
async fn peer_sends_stop_after_five_attempts_and_skip_processed_failures() {
    let server = MockServer::start().await;
    let target = "aaaaaaaa-0000-0000-0000-000000000000";
    Mock::given(method("POST"))
        .and(path(format!("/workspaces/{target}/a2a")))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"busy":true,"retry_after":0.001})),
        )
        .mount(&server)
        .await;
    let s = client(&server);
    let policy = RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
        ..RetryPolicy::peer_send()
    };
    let target = uuid::Uuid::parse_str(target).unwrap();
    let cancel = CancellationToken::new();
    let body = json!({});
    let err = retry(Call::PostA2a, &policy, &cancel, || {
        s.client.post_a2a(target, &body)
    })
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(server.received_requests().await.unwrap().len(), 5);

    // A 500 may have reached the peer's agent: not retried.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let err = retry(Call::PostA2a, &policy, &cancel, || {
        s.client.post_a2a(target, &body)
    })
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
