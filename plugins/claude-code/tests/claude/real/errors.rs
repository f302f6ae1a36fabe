//! Every error class over the real CLI, each as the host must see it: a bad key, no login, the
//! API unreachable (answered, or still retrying when the turn runs out of time), rate limits
//! with and without the limiter's reset time, and server errors.

use super::support::{RealRig, each_cli};
use crate::messages_api::{MessagesApi, Reply, rate_limited, refused_url};
use crate::support::from_agent;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

fn error(answer: &Value) -> &Value {
    answer
        .get("error")
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Logs the CLI in with a subscription token instead of an API key: only then does it read
/// the subscription limiter's headers and report `rate_limit_event`s.
fn subscriber(rig: &mut RealRig) {
    rig.set_env("ANTHROPIC_API_KEY", None);
    rig.set_env(
        "CLAUDE_CODE_OAUTH_TOKEN",
        Some("sk-ant-oat01-local-test-token"),
    );
}

#[test]
fn a_bad_key_stops_at_the_first_401_and_says_not_logged_in() {
    each_cli(|cli| {
        let api =
            MessagesApi::start(|_| Reply::error(401, "authentication_error", "invalid x-api-key"));
        let mut rig = RealRig::new(cli, &api);
        // The CLI's own default: ten retries over about three minutes.
        rig.set_env("CLAUDE_CODE_MAX_RETRIES", None);
        let mut b = rig.start(&["--turn-timeout", "10s"]);
        let answer = b.a2a(from_agent("hi", PEER));
        let e = error(&answer);
        assert_eq!(e["data"]["retryable"], false, "{answer}");
        let msg = e["data"]["userMessage"].as_str().expect("userMessage");
        assert!(msg.contains("not logged in"), "{msg}");
        assert!(
            api.calls().len() <= 3,
            "stopped at the first retry: {}",
            api.calls().len()
        );
    });
}

#[test]
fn no_credentials_at_all_says_not_logged_in() {
    each_cli(|cli| {
        let api = MessagesApi::answering("unused");
        let mut rig = RealRig::new(cli, &api);
        rig.set_env("ANTHROPIC_API_KEY", None);
        let mut b = rig.start(&[]);
        let e = error(&b.a2a(from_agent("hi", PEER))).clone();
        assert_eq!(e["data"]["retryable"], false, "{e}");
        assert!(
            e["data"]["userMessage"]
                .as_str()
                .unwrap()
                .contains("not logged in")
        );
        assert!(api.calls().is_empty());
    });
}

#[test]
fn an_unreachable_api_is_retryable_and_says_so() {
    each_cli(|cli| {
        let rig = RealRig::at_url(cli, &refused_url());
        let mut b = rig.start(&[]);
        let answer = b.a2a(from_agent("hi", PEER));
        let e = error(&answer);
        assert_eq!(e["code"], 1003, "{answer}");
        assert_eq!(e["data"]["retryable"], true);
        let msg = e["data"]["userMessage"].as_str().expect("userMessage");
        assert!(msg.contains("reach"), "{msg}");
    });
}

#[test]
fn a_turn_that_times_out_while_the_cli_retries_blames_the_api_not_the_request() {
    each_cli(|cli| {
        let mut rig = RealRig::at_url(cli, &refused_url());
        rig.set_env("CLAUDE_CODE_MAX_RETRIES", None);
        let mut b = rig.start(&["--turn-timeout", "4s"]);
        let answer = b.a2a(from_agent("hi", PEER));
        let e = error(&answer);
        assert_eq!(e["code"], 1003, "{answer}");
        assert_eq!(e["data"]["retryable"], true);
        let msg = e["data"]["userMessage"].as_str().expect("userMessage");
        assert!(
            msg.contains("reach") && !msg.contains("smaller request"),
            "{msg}"
        );
    });
}

#[test]
fn a_429_waits_a_minute_without_a_reset_time() {
    each_cli(|cli| {
        let api = MessagesApi::start(|_| rate_limited(30, None));
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        let answer = b.a2a(from_agent("hi", PEER));
        let e = error(&answer);
        assert_eq!(e["code"], 1002, "{answer}");
        assert_eq!(e["data"]["retryAfterMs"], 60_000);
    });
}

#[test]
fn a_429_from_the_subscription_limiter_waits_until_its_reset() {
    each_cli(|cli| {
        let reset = now_s() + 120;
        let api = MessagesApi::start(move |_| rate_limited(30, Some(("rejected", reset))));
        let mut rig = RealRig::new(cli, &api);
        subscriber(&mut rig);
        let mut b = rig.start(&[]);
        let answer = b.a2a(from_agent("hi", PEER));
        let e = error(&answer);
        assert_eq!(e["code"], 1002, "{answer}");
        let wait = e["data"]["retryAfterMs"].as_u64().expect("retryAfterMs");
        assert!((90_000..=120_000).contains(&wait), "{wait}");
    });
}

#[test]
fn a_rate_limit_event_that_allows_is_not_taken_for_a_reset_time() {
    each_cli(|cli| {
        // The first call is allowed (and says when the window resets, in five hours); the
        // second is refused by a limiter that gives no reset time.
        let reset = now_s() + 5 * 3600;
        let api = MessagesApi::start(move |r| {
            if r.tool_results().is_empty() {
                Reply::tool_use("Read", json!({"file_path": "notes.txt"}))
                    .into_answer()
                    .with_header("anthropic-ratelimit-unified-status", "allowed")
                    .with_header("anthropic-ratelimit-unified-reset", reset)
            } else {
                rate_limited(30, None)
            }
        });
        let mut rig = RealRig::new(cli, &api);
        std::fs::write(rig.cwd().join("notes.txt"), "n").expect("notes");
        subscriber(&mut rig);
        let mut b = rig.start(&[]);
        let answer = b.a2a(from_agent("hi", PEER));
        let e = error(&answer);
        assert_eq!(e["code"], 1002, "{answer}");
        assert_eq!(e["data"]["retryAfterMs"], 60_000, "{answer}");
    });
}

#[test]
fn server_errors_and_overload_are_retryable() {
    each_cli(|cli| {
        for (status, kind) in [(500, "api_error"), (529, "overloaded_error")] {
            let api = MessagesApi::start(move |_| Reply::error(status, kind, "try later"));
            let rig = RealRig::new(cli, &api);
            let mut b = rig.start(&[]);
            let answer = b.a2a(from_agent("hi", PEER));
            let e = error(&answer);
            assert_eq!(e["code"], 1003, "{status}: {answer}");
            assert_eq!(e["data"]["retryable"], true);
            assert_eq!(e["data"]["retryAfterMs"], 30_000);
        }
    });
}
