//! What a finished turn means for the sender: a reply, an error the host knows how to treat,
//! or "this session is broken, start a fresh one".
//!
//! Success is `is_error == false` on the `result` line, never the exit code or `subtype`: API
//! failures arrive as `subtype: "success", is_error: true`, sometimes with exit code 0.

use crate::prompt::NO_REPLY;
use crate::stream::{RateLimitInfo, TurnResult};
use molecule_plugin::AppError;
use molecule_plugin::protocol::{HandleA2aResult, RpcError, code};
use molecule_plugin::reply::{self, WithMetadata};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wait before redelivering after a 429 without a reset time.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Wait before redelivering after a 5xx or an overload.
pub const OVERLOAD_WAIT: Duration = Duration::from_secs(30);
/// Longest wait taken from a rate-limit reset time.
const MAX_WAIT: Duration = Duration::from_secs(6 * 3600);
/// The most characters of Claude's error text kept in `details`.
const MAX_DETAIL: usize = 2_000;

/// The user message of a turn Claude could not run for lack of credentials.
pub const NOT_LOGGED_IN: &str = "This agent is not logged in to Claude, so it cannot answer. \
    Its operator needs to log in on the machine that runs it (run `claude` once, or set \
    ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN).";

/// What a finished turn comes to.
#[derive(Debug)]
pub enum Verdict {
    /// Answer the request with this.
    Answer(Result<HandleA2aResult, RpcError>),
    /// The session cannot be used: forget it and try once more in a fresh one.
    FreshSession,
}

/// Reads a `result` line (with the rate-limit state seen before it, and the assistant's text
/// as a fallback for an empty `result`).
pub fn from_result(r: &TurnResult, limit: Option<&RateLimitInfo>, assistant: &str) -> Verdict {
    let text = r.error_text();
    if r.is_error && session_broken(&text) {
        return Verdict::FreshSession;
    }
    let cut_short = match (r.subtype.as_str(), r.terminal_reason.as_deref()) {
        ("error_max_turns", _) | (_, Some("max_turns")) => Some(
            "I stopped before finishing: this agent may take only a limited number of steps for \
             one message. Send a follow-up if you want me to carry on.",
        ),
        ("error_max_budget_usd", _) => Some(
            "I stopped before finishing: this agent's spending limit for one message was reached.",
        ),
        _ => None,
    };
    if let Some(note) = cut_short {
        let partial = r
            .result
            .as_deref()
            .filter(|t| !r.is_error && !t.trim().is_empty());
        let text = partial.map_or(note.to_owned(), |p| format!("{p}\n\n({note})"));
        return Verdict::Answer(Ok(with_usage(reply::text(text), r)));
    }
    if r.is_error {
        return Verdict::Answer(Err(classify_error(r, limit, &text)));
    }
    let body = r
        .result
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(assistant)
        .trim();
    let answer = if body.is_empty() || body == NO_REPLY {
        reply::none()
    } else {
        reply::text(body)
    };
    Verdict::Answer(Ok(with_usage(answer, r)))
}

/// Whether Claude's error text says the session cannot be resumed or reused.
pub fn session_broken(text: &str) -> bool {
    text.contains("No conversation found") || text.contains("already in use")
}

fn classify_error(r: &TurnResult, limit: Option<&RateLimitInfo>, text: &str) -> RpcError {
    let lower = text.to_lowercase();
    let status = r.api_error_status.unwrap_or(0);
    let details = details(r, text);
    if status == 401 || status == 403 || not_logged_in(&lower) {
        return AppError::upstream_unavailable("claude is not logged in")
            .retryable(false)
            .user_message(NOT_LOGGED_IN)
            .details(details)
            .into();
    }
    if status == 429 || lower.contains("rate limit") || lower.contains("rate_limit") {
        let wait = limit.and_then(reset_wait).unwrap_or(RATE_LIMIT_WAIT);
        return AppError::rate_limited("claude was rate limited")
            .retry_after(wait)
            .details(details)
            .into();
    }
    if status >= 500 || lower.contains("overloaded") {
        return AppError::upstream_unavailable(format!("the model API failed (status {status})"))
            .retry_after(OVERLOAD_WAIT)
            .details(details)
            .into();
    }
    AppError::new(code::INTERNAL_ERROR, "claude reported an error")
        .details(details)
        .into()
}

fn not_logged_in(lower: &str) -> bool {
    [
        "/login",
        "invalid api key",
        "not logged in",
        "authentication_error",
        "oauth token",
    ]
    .iter()
    .any(|m| lower.contains(m))
}

/// How long until the rate limit resets, from `resetsAt` (Unix seconds, or milliseconds).
fn reset_wait(limit: &RateLimitInfo) -> Option<Duration> {
    let at = limit.resets_at?;
    let at_ms = if at > 1e12 { at } else { at * 1000.0 };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as f64;
    let wait = Duration::from_millis((at_ms - now_ms).max(1000.0) as u64);
    Some(wait.min(MAX_WAIT))
}

fn details(r: &TurnResult, text: &str) -> Value {
    json!({
        "subtype": r.subtype,
        "terminalReason": r.terminal_reason,
        "apiErrorStatus": r.api_error_status,
        "error": text.chars().take(MAX_DETAIL).collect::<String>(),
    })
}

fn with_usage(answer: HandleA2aResult, r: &TurnResult) -> HandleA2aResult {
    let count = |key: &str| {
        r.usage
            .as_ref()
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
    };
    let mut usage = serde_json::Map::new();
    for (from, to) in [
        ("input_tokens", "inputTokens"),
        ("output_tokens", "outputTokens"),
    ] {
        if let Some(n) = count(from) {
            usage.insert(to.into(), n.into());
        }
    }
    if let Some(cost) = r.total_cost_usd {
        usage.insert("costUsd".into(), json!(cost));
    }
    if usage.is_empty() || answer.parts.is_empty() {
        return answer;
    }
    answer.with_metadata("usage", Value::Object(usage))
}

/// The error for a turn whose process ended without a `result` line: the stderr tail goes to
/// `details` (the operator's log), never to the sender.
pub fn no_result(status: Option<std::process::ExitStatus>, stderr_tail: &[String]) -> RpcError {
    let joined = stderr_tail.join("\n");
    let status = status.map_or_else(|| "an unknown status".to_owned(), |s| s.to_string());
    let details = json!({"exitStatus": status, "stderrTail": stderr_tail});
    if joined.contains("dangerously-skip-permissions") && joined.contains("root") {
        return AppError::new(
            code::INTERNAL_ERROR,
            "claude refuses to skip permissions as root",
        )
        .user_message("This agent is misconfigured and cannot answer; its operator has been told.")
        .details(details)
        .into();
    }
    if not_logged_in(&joined.to_lowercase()) {
        return AppError::upstream_unavailable("claude is not logged in")
            .retryable(false)
            .user_message(NOT_LOGGED_IN)
            .details(details)
            .into();
    }
    AppError::new(
        code::INTERNAL_ERROR,
        format!("claude exited with {status} without a result"),
    )
    .details(details)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(v: Value) -> TurnResult {
        serde_json::from_value(v).unwrap()
    }

    fn error_of(v: Verdict) -> RpcError {
        match v {
            Verdict::Answer(Err(e)) => e,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn success_is_is_error_false_and_no_reply_sends_nothing() {
        let r = result(json!({"subtype":"success","is_error":false,"result":"hi",
                               "usage":{"input_tokens":3,"output_tokens":4},"total_cost_usd":0.5}));
        let Verdict::Answer(Ok(a)) = from_result(&r, None, "") else {
            panic!()
        };
        assert_eq!(a.parts[0].as_text(), Some("hi"));
        assert_eq!(
            a.metadata.unwrap()["usage"],
            json!({"inputTokens":3,"outputTokens":4,"costUsd":0.5})
        );
        let r = result(json!({"subtype":"success","is_error":false,"result":" NO_REPLY\n"}));
        let Verdict::Answer(Ok(a)) = from_result(&r, None, "") else {
            panic!()
        };
        assert!(a.parts.is_empty());
        let r = result(json!({"subtype":"success","is_error":false,"result":""}));
        let Verdict::Answer(Ok(a)) = from_result(&r, None, "from the assistant") else {
            panic!()
        };
        assert_eq!(a.parts[0].as_text(), Some("from the assistant"));
    }

    #[test]
    fn errors_are_classified_by_status_and_text() {
        let overloaded = result(
            json!({"subtype":"success","is_error":true,"api_error_status":529,"result":"Overloaded"}),
        );
        let e = error_of(from_result(&overloaded, None, ""));
        assert_eq!((e.code, e.error_data().retryable), (1003, Some(true)));
        let login = result(
            json!({"subtype":"success","is_error":true,"result":"Invalid API key · Please run /login"}),
        );
        let e = error_of(from_result(&login, None, ""));
        assert_eq!(e.error_data().user_message.as_deref(), Some(NOT_LOGGED_IN));
        assert_eq!(e.error_data().retryable, Some(false));
        let other =
            result(json!({"subtype":"error_during_execution","is_error":true,"errors":["boom"]}));
        assert_eq!(
            error_of(from_result(&other, None, "")).code,
            code::INTERNAL_ERROR
        );
    }

    #[test]
    fn a_rate_limit_waits_until_the_reset() {
        let r = result(
            json!({"subtype":"success","is_error":true,"api_error_status":429,"result":"limited"}),
        );
        let e = error_of(from_result(&r, None, ""));
        assert_eq!(e.error_data().retry_after_ms, Some(60_000));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let limit = RateLimitInfo {
            status: Some("rejected".into()),
            resets_at: Some(now + 120.0),
        };
        let e = error_of(from_result(&r, Some(&limit), ""));
        let ms = e.error_data().retry_after_ms.unwrap();
        assert!((100_000..=120_000).contains(&ms), "{ms}");
    }

    #[test]
    fn limits_reached_become_replies_and_broken_sessions_a_retry() {
        let r = result(json!({"subtype":"error_max_turns","is_error":true}));
        let Verdict::Answer(Ok(a)) = from_result(&r, None, "") else {
            panic!()
        };
        assert!(
            a.parts[0]
                .as_text()
                .unwrap()
                .contains("limited number of steps")
        );
        let r = result(json!({"subtype":"error_during_execution","is_error":true,
                               "errors":["No conversation found with session ID: x"]}));
        assert!(matches!(from_result(&r, None, ""), Verdict::FreshSession));
        let r = result(json!({"subtype":"error_during_execution","is_error":true,
                               "result":"Session ID x is already in use"}));
        assert!(matches!(from_result(&r, None, ""), Verdict::FreshSession));
    }
}
