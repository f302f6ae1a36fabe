//! The reply stage against slow and failing push-mode agents: a POST to a push-mode agent lasts
//! that agent's whole turn, so replies to agents run in a lane of their own and never hold back
//! canvas replies (or replies to other agents); a reply that timed out while the agent's turn
//! ran is not posted again (a second turn would follow), while 502 and 503 are retried.

use std::time::Duration;

use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::connect_host::{Host, Site, echo};
use super::connect_platform::{PEER, Platform};

/// A push-mode agent that takes its whole (very long) turn to answer the reply POST.
async fn slow_agent(platform: &Platform) -> String {
    let id = Uuid::new_v4().to_string();
    Mock::given(method("POST"))
        .and(path(format!("/workspaces/{id}/a2a")))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .with_priority(1)
        .mount(&platform.server)
        .await;
    id
}

/// The POSTs to agent `id`'s `/a2a` so far.
async fn posts_to(platform: &Platform, id: &str) -> usize {
    platform
        .calls("POST", &format!("/workspaces/{id}/a2a$"))
        .await
        .len()
}

#[tokio::test]
async fn slow_push_mode_agents_do_not_hold_back_canvas_replies_or_other_agents() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), &echo());
    // Fewer canvas slots than slow agents: with one shared pool, the canvas reply would wait
    // for an agent's turn to end (an hour).
    args.extend(["--reply-concurrency", "2", "--drain-timeout", "100ms"].map(String::from));
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(slow_agent(&platform).await);
    }
    for (i, id) in slow.iter().enumerate() {
        platform.agent_says(id, &format!("slow {i}"), None);
    }
    platform.canvas_says("from the canvas");
    platform.agent_says(PEER, "from a poll-mode agent", None);
    let host = Host::start(&args);
    platform
        .wait_for(
            "every reply posted while the slow agents still hold theirs",
            |reqs| {
                let posted = |p: &str| reqs.iter().any(|r| r.url.path() == p);
                let slow_all = slow
                    .iter()
                    .all(|id| posted(&format!("/workspaces/{id}/a2a")));
                let canvas = reqs.iter().any(|r| r.url.path().ends_with("/notify"));
                (slow_all && canvas && posted(&format!("/workspaces/{PEER}/a2a"))).then_some(())
            },
        )
        .await;
    let handled = host.wait_handled(2).await;
    assert_eq!(handled.len(), 2, "the slow replies are still in flight");
    host.stop().await;
}

#[tokio::test]
async fn a_timed_out_reply_is_not_posted_again_but_5xx_replies_are() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), &echo());
    args.extend(["--reply-timeout", "300ms"].map(String::from));
    let timed_out = slow_agent(&platform).await;
    let failed = Uuid::new_v4().to_string();
    let bad_gateway = ResponseTemplate::new(502)
        .set_body_json(serde_json::json!({"error": "failed to reach workspace agent"}));
    platform
        .fault(
            "POST",
            &format!("^/workspaces/{failed}/a2a$"),
            bad_gateway,
            1,
        )
        .await;
    let busy = Uuid::new_v4().to_string();
    let restarting = ResponseTemplate::new(503).set_body_json(
        serde_json::json!({"error": "workspace agent unreachable — container restart triggered", "restarting": true}),
    );
    platform
        .fault("POST", &format!("^/workspaces/{busy}/a2a$"), restarting, 1)
        .await;
    let rows = [
        platform.agent_says(&timed_out, "slow", None),
        platform.agent_says(&failed, "gateway", None),
        platform.agent_says(&busy, "restarting", None),
    ];
    let host = Host::start(&args);
    let line = host
        .wait_log("row handled with an error", |e| {
            e["row"] == rows[0].as_str()
        })
        .await;
    assert_eq!(line["outcome"], "reply_unconfirmed", "{line}");
    for row in &rows[1..] {
        host.wait_log("row handled", |e| {
            e["row"] == row.as_str() && e["outcome"] == "replied"
        })
        .await;
    }
    platform.more_polls(3).await;
    assert_eq!(
        posts_to(&platform, &timed_out).await,
        1,
        "timed out: posted once"
    );
    // A 502 or a 503 says the platform's dispatch failed: retried with the same messageId.
    assert_eq!(posts_to(&platform, &failed).await, 2, "502: posted again");
    assert_eq!(posts_to(&platform, &busy).await, 2, "503: posted again");
    host.wait_log("may have reached it, so it is not posted again", |_| true)
        .await;
    host.stop().await;
}
