//! The client-side rate limiter against a server that reports its budget: the headers are
//! read, polls are held at the heartbeat reserve while heartbeats still go, and a platform
//! that reports nothing is never slowed.

#![allow(clippy::unwrap_used, reason = "test helpers panic on broken fixtures")]

use crate::platform_support::{Logs, client};
use molecule_host::platform::*;
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn budget(remaining: u32) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-ratelimit-limit", "600")
        .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
        .insert_header("x-ratelimit-reset", "3600")
}

#[tokio::test]
async fn polls_wait_at_the_reserve_while_heartbeats_go() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("/activity$"))
        .respond_with(budget(8).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/registry/heartbeat"))
        .respond_with(budget(7))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/registry/heartbeat"))
        .respond_with(budget(600))
        .with_priority(2)
        .mount(&server)
        .await;
    let s = client(&server);
    let c = s.client.clone();
    c.activity(&ActivityQuery::default()).await.unwrap();
    let b = c.limiter().budget();
    assert_eq!(b.available(), 8);

    // 8 left is within the poll's margin (reserve 5 + 2 steps of 5): the next poll waits for
    // the window to reset, an hour away.
    let poller = tokio::spawn({
        let c = c.clone();
        async move { c.activity(&ActivityQuery::default()).await }
    });
    let held = logs.wait_for("rate limiter: holding a call").await;
    assert!(
        held.contains("Poll") && held.contains("available=8"),
        "{held}"
    );

    // The heartbeat is not held (were it held, the timeout would fail the test, not hang it).
    let hb = Heartbeat::default();
    let beat = c.heartbeat(&hb);
    tokio::time::timeout(Duration::from_secs(10), beat)
        .await
        .expect("heartbeat held")
        .unwrap();
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert_eq!(paths[1], "/registry/heartbeat");

    // A report of a fresh window releases the held poll at once.
    c.heartbeat(&Heartbeat::default()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), poller)
        .await
        .expect("poll still held")
        .unwrap()
        .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_platform_without_headers_is_never_paced() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let s = client(&server);
    for _ in 0..50 {
        s.client.activity(&ActivityQuery::default()).await.unwrap();
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 50);
    assert!(logs.lines_with(&["rate limiter"]).is_empty());
}
