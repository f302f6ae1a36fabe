//! `molecule connect` against waits the platform names that no platform would: a
//! `Retry-After` or `X-RateLimit-Reset` of 18446744073709551615 (once a panic on an instant
//! overflow: exit 101 at registration, exit 0 from the poll, heartbeats stopped for good from a
//! heartbeat, a conversation stuck from a reply), and an hour's `Retry-After` on a 429 (once
//! every call held for an hour, heartbeats included). Waits are now saturated and cut to
//! `--max-wait`, the cut is logged once, and heartbeats go through a 429's block.

use molecule_emulator::Endpoint;
use serde_json::Value;

use super::connect_emu::{Emu, rule, with_headers};
use super::connect_host::{Site, echo};
use super::support::wait::until;

const HUGE: &str = "18446744073709551615";

fn warned_cuts(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["level"] == "WARN")
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("the platform asked to wait"))
        })
        .count()
}

#[tokio::test]
async fn absurd_waits_on_every_path_are_cut_and_nothing_panics() {
    let emu = Emu::start().await;
    let limited = |endpoint, status| {
        let mut r = with_headers(
            rule(endpoint, 1),
            &[
                ("Retry-After", HUGE),
                ("X-RateLimit-Limit", "600"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", HUGE),
            ],
        );
        r.status = status;
        r.body = r#"{"error":"rate limit exceeded"}"#.into();
        r
    };
    emu.hostile(vec![
        limited(Endpoint::Register, Some(429)),
        limited(Endpoint::Activity, Some(429)),
        // A real answer carrying the absurd reset: the heartbeat's own path.
        limited(Endpoint::Heartbeat, None),
        limited(Endpoint::A2a, Some(503)),
    ]);
    let site = Site::new();
    let host = emu.serve(&site, &echo(), &["--max-wait", "300ms"]);
    host.wait_log("serving", |_| true).await;
    emu.peer_says("after the storm").await;
    emu.peer_got("echo: after the storm").await;
    emu.more_heartbeats(3).await;
    assert_eq!(emu.emu.stats().hostile, 4);
    let cut = host.wait_log("the platform asked to wait", |_| true).await;
    assert_eq!(cut["max_wait_ms"], 300, "{cut}");
    assert_eq!(warned_cuts(&host.events()), 1, "the cut is logged once");
    host.stop().await;
}

#[tokio::test]
async fn an_hours_retry_after_holds_calls_for_the_longest_wait_and_never_heartbeats() {
    let emu = Emu::start().await;
    let mut limited = with_headers(rule(Endpoint::Activity, 1), &[("Retry-After", "3600")]);
    limited.status = Some(429);
    limited.body = r#"{"error":"rate limit exceeded","retry_after":3600}"#.into();
    let site = Site::new();
    // Polls 50 ms apart: with the event stream live and no message, the next read (the one
    // the 429 answers) would otherwise be the 30 s safety poll, at the edge of the test's wait.
    let host = emu.serve(
        &site,
        &echo(),
        &["--max-wait", "2s", "--safety-poll-interval", "50ms"],
    );
    host.wait_log("serving", |_| true).await;
    emu.hostile(vec![limited]);
    until("the 429 served", || emu.emu.stats().hostile == 1).await;
    // Heartbeats go on while every other call waits out the block.
    emu.more_heartbeats(3).await;
    emu.peer_says("held").await;
    emu.peer_got("echo: held").await;
    let retry = host
        .wait_log("retrying in", |e| {
            e["call"] == "GET /workspaces/<id>/activity"
        })
        .await;
    assert_eq!(retry["delay_ms"], 2000, "{retry}");
    host.stop().await;
}
