//! `molecule connect` picking up where it was: attempt counts that survive a `kill -9` of the
//! host in the middle of a retry, and a cursor lookup that keeps failing with 500, which is
//! taken as a lost cursor (the 410 path).

use std::collections::BTreeMap;

use molecule_protocol::keys::idempotency_key;
use nix::sys::signal::Signal;
use serde_json::json;
use wiremock::ResponseTemplate;

use super::connect_backend_faults::{Scripted, own, replies_by_row};
use super::connect_host::{Host, Site, echo};
use super::connect_platform::{PEER, Platform, reply_text};
use super::support::wait::until;

#[tokio::test]
async fn attempt_counts_survive_a_kill_9_of_the_host_in_the_middle_of_a_retry() {
    let platform = Platform::start().await;
    let s = Scripted::new();
    // The backend answers "busy" to the first two deliveries of the row (it counts them in
    // files, across processes), then "ok" with the attempt number the host sent.
    let row = platform.agent_says(PEER, "busy-twice then fine", None);
    let mut first = s.args(&platform.url());
    // The retry after the first "busy" is an hour away: the host is killed while it waits.
    first.extend(["--retry-base", "1h", "--retry-max", "1h"].map(String::from));
    let mut host = Host::start(&first);
    host.wait_log("delivery failed", |e| e["row"] == row.as_str())
        .await;
    until("the attempt to be saved", || {
        s.site.state()["attempts"][&row] == 1
    })
    .await;
    host.signal(Signal::SIGKILL);
    host.wait_exit().await;
    assert!(platform.replies().await.is_empty());

    let host = Host::start(&s.args(&platform.url()));
    platform.wait_replies(1).await;
    let replies = replies_by_row(&platform, &[&row]).await;
    // Reset to 0, the restarted host would have sent attempts 1 and 2 (the second "busy" and
    // then "ok (attempt 2)").
    let key = idempotency_key(&own(), &row);
    assert_eq!(
        replies[&row],
        [format!("ok: busy-twice then fine (attempt 3, key {key})")]
    );
    host.stop().await;
}

#[tokio::test]
async fn a_500_that_repeats_on_the_cursor_lookup_is_taken_as_a_lost_cursor() {
    let platform = Platform::start().await;
    let site = Site::new();
    for t in ["a", "b"] {
        platform.agent_says(PEER, t, None);
    }
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(2).await;
    host.wait_handled(2).await;
    // The platform fails on the cursor row's lookup, as it does when the row is half gone.
    {
        let failing =
            ResponseTemplate::new(500).set_body_json(json!({"error": "cursor lookup failed"}));
        let mut feed = platform.feed.lock().expect("feed");
        feed.faults.extend((0..3).map(|_| failing.clone()));
    }
    platform.agent_says(PEER, "c", None);
    let lost = host
        .wait_log("the platform keeps failing on the cursor", |_| true)
        .await;
    assert_eq!(lost["level"], "INFO");
    platform.wait_replies(3).await;
    platform.more_polls(3).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for req in platform.requests().await {
        if let Some(t) = reply_text(&req) {
            *counts.entry(t).or_default() += 1;
        }
    }
    let once: BTreeMap<String, usize> = ["a", "b", "c"]
        .iter()
        .map(|t| (format!("echo: {t}"), 1))
        .collect();
    assert_eq!(
        counts, once,
        "read back from the cursor's time: no repeat, no loss"
    );
    // Two 500s were retried as transient first.
    let retried = host
        .events()
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("platform call failed"))
                && e["reason"].as_str().is_some_and(|r| r.contains("HTTP 500"))
        })
        .count();
    assert_eq!(retried, 2);
    host.stop().await;
}
