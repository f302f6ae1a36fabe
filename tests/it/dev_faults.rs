//! `molecule dev` under injected platform faults on every endpoint, through the real binaries:
//! with requests failing before they are processed every message gets exactly one reply; with
//! answers lost after processing every message gets a reply, `/a2a` retries are recognised by
//! messageId, and the duplicate chat messages (which no platform deduplicates) are counted and
//! reported; injected latency holds a real request back by at least that long.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::dev_support::{Dev, stderr, stdout};
use super::support::wait::until;

const MESSAGES: usize = 6;

fn counts(texts: &[String]) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for t in texts {
        *m.entry(t.as_str()).or_default() += 1;
    }
    m
}

/// How long `molecule send` waits for each reply: ample, since the test is about one reply per
/// message, not speed.
const WAIT: &str = "20";

/// Sends `MESSAGES` messages as the canvas and as many as the peer, each waiting for its reply
/// (the exit code is checked; the peer's reply text too, since inReplyTo links it exactly).
async fn exchange(dev: &Dev) {
    for i in 0..MESSAGES {
        let o = dev.send(&format!("canvas {i}"), &["--wait", WAIT]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let o = dev.send(&format!("peer {i}"), &["--as", &dev.peer, "--wait", WAIT]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), format!("echo: peer {i}"));
    }
    until("every message handled", || dev.handled() >= 2 * MESSAGES).await;
}

/// Every message of `exchange` is in the agent's feed exactly once (by text and messageId).
async fn inbound_once(dev: &Dev) {
    let rows = dev.feed(&dev.agent).await;
    let inbound: Vec<&Value> = rows.iter().filter(|r| r["method"] != "notify").collect();
    assert_eq!(inbound.len(), 2 * MESSAGES, "{inbound:?}");
    let mut ids: Vec<&str> = inbound
        .iter()
        .filter_map(|r| {
            r.pointer("/request_body/params/message/messageId")?
                .as_str()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2 * MESSAGES, "one row per messageId");
}

async fn stats(dev: &Dev) -> Value {
    dev.get("/_dev/stats").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_before_processing_still_give_exactly_one_reply_per_message() {
    // 30% on every endpoint, half answered 503 and half dropped connections, neither processed.
    let faults = r#"{"rules":[{"error_before":0.15,"drop_before":0.15}]}"#;
    let mut dev = Dev::start(&["--faults", faults, "--fault-seed", "11"]).await;
    exchange(&dev).await;
    inbound_once(&dev).await;
    let notifies = dev.notifies().await;
    let expected: Vec<String> = (0..MESSAGES).map(|i| format!("echo: canvas {i}")).collect();
    assert_eq!(notifies, expected, "one chat reply per canvas message");
    let expected: Vec<String> = (0..MESSAGES).map(|i| format!("echo: peer {i}")).collect();
    assert_eq!(
        dev.peer_replies().await,
        expected,
        "one reply per peer message"
    );
    let s = stats(&dev).await;
    println!("faults before processing: {s}");
    let (before, dropped) = (
        s["faults_before"].as_u64(),
        s["connections_dropped"].as_u64(),
    );
    assert!(dropped > Some(0), "connections were dropped: {s}");
    assert!(before > dropped, "and errors answered: {s}");
    assert_eq!(s["faults_after"], 0);
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_still_give_every_message_a_reply_and_duplicates_are_counted() {
    let faults = r#"{"rules":[{"error_after":0.2,"drop_after":0.1}]}"#;
    let mut dev = Dev::start(&["--faults", faults, "--fault-seed", "5"]).await;
    exchange(&dev).await;
    // Retried /a2a posts carry the same messageId: each message is in the feed once.
    inbound_once(&dev).await;
    let expected: Vec<String> = (0..MESSAGES).map(|i| format!("echo: peer {i}")).collect();
    assert_eq!(
        dev.peer_replies().await,
        expected,
        "replies to the peer are deduplicated by messageId"
    );
    let notifies = dev.notifies().await;
    let seen = counts(&notifies);
    for i in 0..MESSAGES {
        let text = format!("echo: canvas {i}");
        assert!(
            seen.contains_key(text.as_str()),
            "{text} missing: {notifies:?}"
        );
    }
    let duplicates = notifies.len() - seen.len();
    let s = stats(&dev).await;
    println!(
        "lost answers: {s}; duplicate chat messages (notify is never deduplicated): {duplicates} \
         of {}",
        notifies.len()
    );
    assert!(
        s["faults_after"].as_u64() > Some(0),
        "faults were injected: {s}"
    );
    assert!(
        s["a2a_deduplicated"].as_u64() > Some(0),
        "some /a2a post was retried after its answer was lost, and recognised: {s}"
    );
    assert_eq!(dev.stop().await, Some(0));
}

/// How long a `GET /buildinfo` on `dev` takes.
async fn timed_buildinfo(dev: &Dev) -> Duration {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let start = Instant::now();
    let r = http
        .get(format!("{}/buildinfo", dev.url))
        .send()
        .await
        .expect("buildinfo");
    assert_eq!(r.status(), 200);
    start.elapsed()
}

/// A correctness check of the latency fault, not a performance figure: a request it hits takes
/// at least the injected 300 ms (a lower bound the fault guarantees), and with the fault turned
/// off the same request takes far less (a near-zero baseline, with a wide margin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_latency_delays_a_real_request_by_at_least_its_length() {
    const LATENCY: Duration = Duration::from_millis(300);
    let faults = r#"{"rules":[{"endpoint":"buildinfo","latency":1.0,"latency_ms":300}]}"#;
    let mut dev = Dev::start(&["--faults", faults]).await;
    // The host's own /buildinfo at start was delayed too: count from here.
    let count = async || stats(&dev).await["delayed"].as_u64().unwrap();
    let before = count().await;
    let delayed = timed_buildinfo(&dev).await;
    assert!(
        delayed >= LATENCY,
        "took {delayed:?}, less than the injected {LATENCY:?}"
    );
    assert_eq!(count().await, before + 1, "the request was delayed");
    let off = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .put(format!("{}/_dev/faults", dev.url))
        .header("x-molecule-dev", &dev.key)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let baseline = timed_buildinfo(&dev).await;
    println!("buildinfo with 300 ms injected: {delayed:?}; without: {baseline:?}");
    assert!(baseline < LATENCY, "without the fault it took {baseline:?}");
    assert_eq!(count().await, before + 1, "no delay once the fault is off");
    assert_eq!(dev.stop().await, Some(0));
}

/// `molecule send` waiting for a reply: a feed read that fails (here half of them) is tried
/// again on the retry schedule, not at the next safety read of the event stream, which is set
/// to ten minutes here. Before, the read the reply's event set off failed, the event was spent,
/// and the wait slept until the safety read: the 5–20 s round trips this file's other tests saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_while_waiting_for_the_reply_is_retried_at_once() {
    let faults = r#"{"rules":[{"endpoint":"activity","error_before":0.5}]}"#;
    let dev = Dev::start(&["--faults", faults, "--fault-seed", "5"]).await;
    // Without the retry, each message's wait stalls with even odds: six find it nearly always.
    for i in 0..MESSAGES {
        let wait = ["--wait", "20", "--safety-poll-ms", "600000"];
        let o = dev.send(
            &format!("peer {i}"),
            &[&["--as", &dev.peer], &wait[..]].concat(),
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), format!("echo: peer {i}"));
    }
}
