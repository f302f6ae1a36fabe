//! A panic in any task of `molecule connect` ends the process with exit code 1 once the state
//! is safe: never exit 0 (a panicked poll loop once did, so a service manager would not restart
//! it), never a host that carries on without the task (a dead heartbeat task once left the
//! workspace looking offline while replies went on; a dead delivery or reply task left its
//! conversation stuck). Panics are injected with `MOLECULE_INJECT_PANIC`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::connect_host::{Host, Site, echo};
use super::connect_platform::{PEER, Platform};

fn panic_logged(host: &Host) -> bool {
    host.events().iter().any(|e| {
        e["level"] == "ERROR"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("a task panicked"))
    })
}

async fn reply_counts(platform: &Platform) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for req in platform.requests().await {
        if let Some(t) = super::connect_platform::reply_text(&req) {
            *counts.entry(t).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn a_panic_in_any_task_stops_the_host_with_exit_code_1() {
    for place in ["poller", "heartbeat", "engine", "deliver", "post"] {
        let platform = Platform::start().await;
        let site = Site::new();
        platform.agent_says(PEER, "hello", None);
        let mut host = Host::start_with(
            &site.args(&platform.url(), &echo()),
            &[("MOLECULE_INJECT_PANIC", place)],
        );
        let code = host.wait_exit().await;
        assert_eq!(code, Some(1), "{place}:\n{}", host.lines().join("\n"));
        assert!(panic_logged(&host), "{place}: the panic is logged");
    }
}

#[tokio::test]
async fn a_reply_lost_to_a_panic_is_posted_after_the_restart_and_nothing_twice() {
    for place in ["post", "engine", "deliver"] {
        let platform = Platform::start().await;
        let site = Site::new();
        platform.agent_says(PEER, "first", None);
        let host = Host::start(&site.args(&platform.url(), &echo()));
        platform.wait_replies(1).await;
        host.wait_handled(1).await;
        host.stop().await;
        platform.agent_says(PEER, "second", None);
        let mut host = Host::start_with(
            &site.args(&platform.url(), &echo()),
            &[("MOLECULE_INJECT_PANIC", place)],
        );
        assert_eq!(host.wait_exit().await, Some(1), "{place}");
        // The state the panicked host left is whole, and "first" stays settled in it.
        let state: Value = site.state();
        assert!(state["cursor"]["id"].is_string(), "{place}: {state}");
        let host = Host::start(&site.args(&platform.url(), &echo()));
        platform.wait_replies(2).await;
        platform.more_polls(3).await;
        let counts = reply_counts(&platform).await;
        let expected: BTreeMap<String, usize> = [("echo: first", 1), ("echo: second", 1)]
            .into_iter()
            .map(|(t, n)| (t.to_owned(), n))
            .collect();
        assert_eq!(counts, expected, "{place}");
        host.stop().await;
    }
}
