//! A failed turn as an error the host can act on: not logged in (not retried, the sender is
//! told what the operator must do), rate limited (retried after the limiter's reset), the
//! model API failing or out of reach (retried), or an internal error. Details go to the
//! operator's log through `data.details`, never to the sender.

use crate::stream::{ApiRetry, RateLimitInfo, TurnResult};
use molecule_plugin::AppError;
use molecule_plugin::protocol::{RpcError, code};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wait before redelivering after a 429 without a reset time.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Wait before redelivering after a 5xx, an overload or an unreachable API.
pub const OVERLOAD_WAIT: Duration = Duration::from_secs(30);
/// Longest wait taken from a rate-limit reset time.
const MAX_WAIT: Duration = Duration::from_secs(6 * 3600);
/// The most characters of Claude's error text kept in `details`.
const MAX_DETAIL: usize = 2_000;

/// The user message of a turn Claude could not run for lack of credentials.
pub const NOT_LOGGED_IN: &str = "This agent is not logged in to Claude, so it cannot answer. \
    Its operator needs to log in on the machine that runs it (run `claude` once, or set \
    ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN).";

/// The user message of a turn that could not reach the model API.
pub const UNREACHABLE: &str = "This agent cannot reach the Claude API right now (a network \
    problem on its side), so your message will be tried again shortly.";

/// The user message of a turn the model API failed (5xx, overloaded).
pub const API_FAILING: &str = "The Claude API is failing or overloaded right now, so your \
    message will be tried again shortly.";

/// What the stream said about a turn that ended in an error `result`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signals<'a> {
    /// The last rate-limit event.
    pub limit: Option<&'a RateLimitInfo>,
    /// The `error` of the last assistant message that had one.
    pub assistant_error: Option<&'a str>,
}

/// The error for a `result` with `is_error`, classified by HTTP status, the CLI's own error
/// kind, and (for older or newer wording) its text.
pub fn classify(r: &TurnResult, signals: Signals<'_>, text: &str) -> RpcError {
    let lower = text.to_lowercase();
    let status = r.api_error_status.unwrap_or(0);
    let kind = signals.assistant_error.unwrap_or_default();
    let details = details(r, text);
    if status == 401 || status == 403 || kind == "authentication_failed" || not_logged_in(&lower) {
        return not_logged_in_error(details);
    }
    if status == 429 || kind == "rate_limit" || lower.contains("rate limit") {
        // Only an event that says the limit was hit tells when it lifts: an `allowed` one
        // carries the reset of a window that was not exhausted.
        let wait = signals
            .limit
            .filter(|l| l.is_rejected())
            .and_then(reset_wait)
            .unwrap_or(RATE_LIMIT_WAIT);
        return AppError::rate_limited("claude was rate limited")
            .retry_after(wait)
            .details(details)
            .into();
    }
    if status == 0 && (network_failure(&lower) || kind == "server_error") {
        return unreachable_error(details);
    }
    if status >= 500 || lower.contains("overloaded") {
        return AppError::upstream_unavailable(format!("the model API failed (status {status})"))
            .retry_after(OVERLOAD_WAIT)
            .user_message(API_FAILING)
            .details(details)
            .into();
    }
    AppError::new(code::INTERNAL_ERROR, "claude reported an error")
        .user_message("Claude failed to answer this message; its operator has been told.")
        .details(details)
        .into()
}

/// The error for a turn stopped because the model API refused the CLI's credentials.
pub fn auth_failed(status: u16) -> RpcError {
    crate::log::error(&format!(
        "the model API refused claude's credentials (status {status}): log in with `claude`, \
         or fix ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN in the backend's environment"
    ));
    not_logged_in_error(json!({"apiErrorStatus": status}))
}

/// The error for a turn that ran out of time: if the CLI was still retrying a failed model
/// call, the API is to blame (retried later), not the size of the request.
pub fn timed_out(retrying: Option<&ApiRetry>) -> RpcError {
    let Some(retry) = retrying else {
        return AppError::deadline_exceeded("the turn timed out")
            .user_message(
                "This took me too long, so I stopped. Please try again, perhaps with a smaller request.",
            )
            .into();
    };
    let details = json!({"retrying": {"errorStatus": retry.error_status, "error": retry.error,
                                      "attempt": retry.attempt, "maxRetries": retry.max_retries}});
    match retry.error_status {
        None => unreachable_error(details),
        Some(429) => AppError::rate_limited("claude was still retrying a rate-limited call")
            .retry_after(RATE_LIMIT_WAIT)
            .details(details)
            .into(),
        Some(status) => AppError::upstream_unavailable(format!(
            "claude was still retrying a failed model call (status {status})"
        ))
        .retry_after(OVERLOAD_WAIT)
        .user_message(API_FAILING)
        .details(details)
        .into(),
    }
}

fn not_logged_in_error(details: Value) -> RpcError {
    AppError::upstream_unavailable("claude is not logged in")
        .retryable(false)
        .user_message(NOT_LOGGED_IN)
        .details(details)
        .into()
}

fn unreachable_error(details: Value) -> RpcError {
    AppError::upstream_unavailable("claude cannot reach the model API")
        .retry_after(OVERLOAD_WAIT)
        .user_message(UNREACHABLE)
        .details(details)
        .into()
}

/// Whether Claude's error text says it was never logged in or its key was refused.
pub fn not_logged_in(lower: &str) -> bool {
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

/// Whether Claude's error text says no answer came from the API at all.
fn network_failure(lower: &str) -> bool {
    [
        "unable to connect",
        "connection refused",
        "econnrefused",
        "econnreset",
        "enotfound",
        "etimedout",
        "getaddrinfo",
        "socket hang up",
        "fetch failed",
        "network",
        "timed out",
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
        return not_logged_in_error(details);
    }
    AppError::new(
        code::INTERNAL_ERROR,
        format!("claude exited with {status} without a result"),
    )
    .user_message("Claude stopped before answering this message; its operator has been told.")
    .details(details)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(v: Value) -> TurnResult {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn errors_are_classified_by_status_kind_and_text() {
        let none = Signals::default();
        let overloaded = result(
            json!({"subtype":"success","is_error":true,"api_error_status":529,"result":"Overloaded"}),
        );
        let e = classify(&overloaded, none, "Overloaded");
        assert_eq!((e.code, e.error_data().retryable), (1003, Some(true)));
        let login = result(json!({"subtype":"success","is_error":true}));
        let e = classify(&login, none, "Invalid API key · Please run /login");
        assert_eq!(e.error_data().user_message.as_deref(), Some(NOT_LOGGED_IN));
        assert_eq!(e.error_data().retryable, Some(false));
        let refused = result(json!({"subtype":"success","is_error":true}));
        let text = "API Error: Unable to connect to API (ConnectionRefused)";
        let e = classify(&refused, none, text);
        assert_eq!((e.code, e.error_data().retryable), (1003, Some(true)));
        assert_eq!(e.error_data().user_message.as_deref(), Some(UNREACHABLE));
        let kind = Signals {
            assistant_error: Some("server_error"),
            ..Signals::default()
        };
        assert_eq!(
            classify(&refused, kind, "API Error: new wording")
                .error_data()
                .user_message
                .as_deref(),
            Some(UNREACHABLE)
        );
        let other = result(json!({"subtype":"error_during_execution","is_error":true}));
        assert_eq!(classify(&other, none, "boom").code, code::INTERNAL_ERROR);
    }

    #[test]
    fn only_a_rejected_limit_gives_the_wait() {
        let r = result(json!({"subtype":"success","is_error":true,"api_error_status":429}));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let mut limit = RateLimitInfo {
            status: Some("allowed".into()),
            resets_at: Some(now + 5.0 * 3600.0),
        };
        let signals = Signals {
            limit: Some(&limit),
            ..Signals::default()
        };
        let e = classify(&r, signals, "limited");
        assert_eq!(e.error_data().retry_after_ms, Some(60_000));
        limit.status = Some("rejected".into());
        limit.resets_at = Some(now + 120.0);
        let signals = Signals {
            limit: Some(&limit),
            ..Signals::default()
        };
        let ms = classify(&r, signals, "limited")
            .error_data()
            .retry_after_ms
            .unwrap();
        assert!((100_000..=120_000).contains(&ms), "{ms}");
    }

    #[test]
    fn a_timeout_while_retrying_blames_the_api() {
        let plain = timed_out(None);
        assert_eq!(plain.code, 1005);
        let refused = ApiRetry {
            error_status: None,
            error: Some("unknown".into()),
            attempt: Some(3),
            max_retries: Some(10),
        };
        let e = timed_out(Some(&refused));
        assert_eq!((e.code, e.error_data().retryable), (1003, Some(true)));
        assert_eq!(e.error_data().user_message.as_deref(), Some(UNREACHABLE));
    }
}
