//! `molecule connect` as a process: killed while one conversation holds the settled prefix,
//! signalled (drain, second signal), its backend and descendants after SIGTERM and SIGKILL, the
//! token kept out of every child, and slow replies that must not hold anything up.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::connect_host::{Host, Site, TEST_BACKEND, echo, gone};
use super::connect_platform::{PEER, PEER2, Platform, TOKEN};
use super::support::wait::until;

/// The test backend answering four requests at once, plus `extra` variables.
fn test_backend(args: &mut Vec<String>, extra: &[&str]) {
    for kv in ["MOLECULE_TEST_MAX_CONCURRENCY=4"].iter().chain(extra) {
        args.extend(["--backend-env".into(), kv.to_string()]);
    }
}

fn backend_pid(host: &Host) -> u32 {
    let ready = host
        .events()
        .into_iter()
        .find(|e| e["message"] == "backend ready")
        .expect("backend ready");
    ready["pid"].as_u64().expect("pid") as u32
}

#[tokio::test]
async fn sigkill_while_a_slow_conversation_holds_the_prefix_answers_no_row_twice() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    test_backend(&mut args, &[]);
    platform.agent_says(PEER, "hang", Some("slow"));
    let fast: Vec<String> = (0..5)
        .map(|i| platform.agent_says(PEER2, &format!("fast {i}"), Some("quick")))
        .collect();
    let mut host = Host::start(&args);
    platform.wait_replies(5).await;
    until("the settled rows above the held prefix to be saved", || {
        site.state()["settled_above"]
            .as_array()
            .is_some_and(|a| a.len() == 5)
    })
    .await;
    let backend = backend_pid(&host);
    host.signal(Signal::SIGKILL);
    host.wait_exit().await;
    until("the backend to die with its host", || gone(backend)).await;

    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(6).await;
    platform.more_polls(3).await;
    let texts: Vec<String> = platform
        .replies()
        .await
        .iter()
        .map(|r| {
            r["params"]["message"]["parts"][0]["text"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let mut expected: Vec<String> = (0..5).map(|i| format!("echo: fast {i}")).collect();
    expected.push("echo: hang".into());
    assert_eq!(
        texts, expected,
        "each fast row once, the held one after the restart"
    );
    assert_eq!(host.wait_handled(1).await.len(), 1);
    assert_eq!(fast.len(), 5);
    host.stop().await;
}

#[tokio::test]
async fn sigterm_drains_the_row_in_flight_and_leaves_no_backend_or_descendant() {
    let platform = Platform::start().await;
    let site = Site::new();
    let pid_file = site.dir.path().join("grandchild.pid");
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    test_backend(
        &mut args,
        &[
            "MOLECULE_TEST_FAULT=grandchild",
            &format!("MOLECULE_TEST_PID_FILE={}", pid_file.display()),
        ],
    );
    let host = Host::start(&args);
    host.wait_log("serving", |_| true).await;
    let grandchild: u32 = super::support::wait::file(&pid_file)
        .await
        .trim()
        .parse()
        .expect("pid");
    let backend = backend_pid(&host);
    platform.agent_says(PEER, "sleep:300", None);
    platform
        .wait_for("the row to be with the backend", |reqs| {
            reqs.iter()
                .any(|r| {
                    r.url.path() == "/registry/heartbeat"
                        && r.body_json::<Value>().is_ok_and(|b| b["active_tasks"] == 1)
                })
                .then_some(())
        })
        .await;
    host.stop().await;
    assert_eq!(
        platform.wait_replies(1).await,
        ["echo: sleep:300"],
        "finished within the drain"
    );
    assert!(
        gone(backend) && gone(grandchild),
        "backend {backend} or its descendant {grandchild} survived"
    );
}

#[tokio::test]
async fn a_second_signal_skips_the_drain() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    args.extend(["--drain-timeout", "1h"].map(String::from));
    let mut host = Host::start(&args);
    platform.agent_says(PEER, "hang", None);
    platform
        .wait_for("the row to be with the backend", |reqs| {
            reqs.iter()
                .any(|r| {
                    r.url.path() == "/registry/heartbeat"
                        && r.body_json::<Value>().is_ok_and(|b| b["active_tasks"] == 1)
                })
                .then_some(())
        })
        .await;
    host.signal(Signal::SIGTERM);
    host.wait_log("stopping: no new deliveries", |_| true).await;
    host.signal(Signal::SIGTERM);
    assert_eq!(host.wait_exit().await, Some(0));
    assert!(
        host.lines()
            .iter()
            .any(|l| l.contains("skipping the drain"))
    );
    assert!(
        platform.replies().await.is_empty(),
        "the hung row stays unanswered for the next start"
    );
    assert!(site.state()["cursor"].is_null());
}

#[tokio::test]
async fn sigkill_of_the_host_takes_the_backend_with_it() {
    let platform = Platform::start().await;
    let site = Site::new();
    // Only the backend itself: a descendant that left its process group outlives a host that
    // is killed outright (nothing in the host runs then); a graceful stop sweeps it.
    let mut host = Host::start(&site.args(&platform.url(), TEST_BACKEND));
    host.wait_log("serving", |_| true).await;
    let backend = backend_pid(&host);
    assert!(!gone(backend));
    host.signal(Signal::SIGKILL);
    host.wait_exit().await;
    until(
        "the backend to die with its host (PR_SET_PDEATHSIG)",
        || gone(backend),
    )
    .await;
}

#[tokio::test]
async fn the_token_never_reaches_a_childs_argv_or_environment_or_the_logs() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    let i = args.iter().position(|a| a == "--token-file").expect("flag");
    args.drain(i..i + 2);
    let host = Host::start_with(&args, &[("MOLECULE_WORKSPACE_TOKEN", TOKEN)]);
    platform.canvas_says("env");
    platform.wait_replies(1).await;
    let backend = backend_pid(&host);
    let environ = std::fs::read(format!("/proc/{backend}/environ")).expect("environ");
    let cmdline = std::fs::read(format!("/proc/{backend}/cmdline")).expect("cmdline");
    let notify = serde_json::to_string(&platform.notifies().await).expect("json");
    assert!(
        notify.contains("MOLECULE_WORKSPACE_ID"),
        "the backend's environment was echoed"
    );
    let lines = host.stop().await;
    for (what, text) in [
        (
            "environment",
            String::from_utf8_lossy(&environ).into_owned(),
        ),
        ("argv", String::from_utf8_lossy(&cmdline).into_owned()),
        ("reply", notify),
        ("logs", lines.join("\n")),
    ] {
        assert!(
            !text.contains(TOKEN),
            "the token is in the backend's {what}"
        );
    }
    assert!(platform.calls("POST", "/a2a$").await.is_empty());
}

#[tokio::test]
async fn the_token_reaches_the_backend_when_the_operator_passes_it_with_backend_env() {
    // SPEC §4.1: the explicit way to hand the token to a backend.
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    args.extend([
        "--backend-env".into(),
        format!("MOLECULE_WORKSPACE_TOKEN={TOKEN}"),
    ]);
    let host = Host::start(&args);
    platform.canvas_says("env");
    platform.wait_replies(1).await;
    let backend = backend_pid(&host);
    let environ = std::fs::read(format!("/proc/{backend}/environ")).expect("environ");
    let wanted = format!("MOLECULE_WORKSPACE_TOKEN={TOKEN}");
    assert!(
        environ.split(|b| *b == 0).any(|kv| kv == wanted.as_bytes()),
        "the token is in the backend's environment"
    );
    let lines = host.stop().await;
    assert!(lines.iter().all(|l| !l.contains(TOKEN)), "nor in the logs");
}

#[tokio::test]
async fn a_slow_reply_holds_neither_a_backend_slot_nor_other_conversations() {
    let platform = Platform::start().await;
    let site = Site::new();
    // A push-mode sender answers a reply with its agent's whole turn: here, never in time.
    let slow = ResponseTemplate::new(200)
        .set_delay(Duration::from_secs(120))
        .set_body_json(json!({"status":"queued"}));
    platform
        .fault("POST", &format!("^/workspaces/{PEER}/a2a$"), slow, 10)
        .await;
    let turn = json!({"jsonrpc":"2.0","id":"x","result":{"kind":"message","role":"agent","messageId":"m",
                      "parts":[{"kind":"text","text":"a push agent's next turn"}]}});
    platform
        .fault(
            "POST",
            &format!("^/workspaces/{PEER2}/a2a$"),
            ResponseTemplate::new(200).set_body_json(turn),
            10,
        )
        .await;
    let mut args = site.args(&platform.url(), &echo());
    args.extend(["--concurrency", "1", "--drain-timeout", "200ms"].map(String::from));
    platform.agent_says(PEER, "slow", None);
    platform.agent_says(PEER2, "fast", None);
    platform.canvas_says("also fast");
    let host = Host::start(&args);
    platform.wait_replies(3).await;
    let handled = host
        .wait_log("row handled", |e| e["sender"] == format!("agent:{PEER2}"))
        .await;
    assert_eq!(handled["outcome"], "replied");
    host.wait_log("row handled", |e| e["sender"] == "canvas")
        .await;
    platform.more_polls(3).await;
    assert_eq!(
        platform
            .calls("POST", &format!("/workspaces/{PEER2}/a2a$"))
            .await
            .len(),
        1,
        "the answer body was not acted on"
    );
    assert_eq!(
        host.wait_handled(2).await.len(),
        2,
        "the slow reply is still being posted"
    );
    host.stop().await;
}

#[tokio::test]
async fn fetching_stops_while_the_window_of_unsettled_rows_is_full() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    test_backend(&mut args, &[]);
    args.extend(["--window", "3", "--drain-timeout", "100ms"].map(String::from));
    platform.agent_says(PEER, "hang", Some("slow"));
    for i in 0..4 {
        platform.agent_says(PEER2, &format!("b{i}"), Some("quick"));
    }
    let host = Host::start(&args);
    assert_eq!(platform.wait_replies(2).await, ["echo: b0", "echo: b1"]);
    let beats = |reqs: &[wiremock::Request]| {
        reqs.iter()
            .filter(|r| r.url.path() == "/registry/heartbeat")
            .count()
    };
    let polls = |reqs: &[wiremock::Request]| {
        reqs.iter()
            .filter(|r| r.url.path().ends_with("/activity"))
            .count()
    };
    let now = beats(&platform.requests().await);
    let at = platform
        .wait_for("a heartbeat", |r| (beats(r) > now).then(|| polls(r)))
        .await;
    let later = platform
        .wait_for("three more", |r| (beats(r) > now + 3).then(|| polls(r)))
        .await;
    assert_eq!(
        at, later,
        "no fetch while one slow row and the two after it fill the window"
    );
    assert_eq!(platform.replies().await.len(), 2);
    host.stop().await;

    let host = Host::start(&site.args(&platform.url(), &echo()));
    let mut texts = platform.wait_replies(5).await;
    platform.more_polls(3).await;
    texts[2..].sort();
    assert_eq!(texts[2..], ["echo: b2", "echo: b3", "echo: hang"]);
    assert_eq!(platform.replies().await.len(), 5);
    host.stop().await;
}
