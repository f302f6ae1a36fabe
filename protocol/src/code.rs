//! Error codes, in one place: each code's number and name, whether an error with it is worth
//! retrying when its `data.retryable` is absent, whether only host calls use it, and the
//! `data.class` values it goes with (SPEC §8 and §14.3).
//!
//! What the host does with an error answer to `handle_a2a` follows from the table: `-32800`
//! after a `$/cancelRequest` closes the request and nothing is posted; a retryable error
//! ([`crate::RpcError::is_retryable`]: `data.retryable`, else the code's default) is delivered
//! again later; any other error gets an error reply (`data.userMessage`, or a generic text) and
//! the message is settled.

/// The line was not valid JSON (backends should log junk rather than answer it).
pub const PARSE_ERROR: i64 = -32700;
/// The message was JSON but not a valid JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// The method is unknown to the receiver.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The params failed validation.
pub const INVALID_PARAMS: i64 = -32602;
/// An unexpected failure inside the receiver.
pub const INTERNAL_ERROR: i64 = -32603;
/// A request other than `initialize` arrived before `initialize`.
pub const NOT_INITIALIZED: i64 = -32002;
/// The request was cancelled by the host: close it out and post nothing.
pub const REQUEST_CANCELLED: i64 = -32800;
/// The backend is at capacity; redeliver later.
pub const BUSY: i64 = 1001;
/// An upstream model or API throttled the backend; redeliver after `retryAfterMs`.
pub const RATE_LIMITED: i64 = 1002;
/// A dependency of the backend is down; redeliver with backoff.
pub const UPSTREAM_UNAVAILABLE: i64 = 1003;
/// A part kind or MIME type the backend cannot handle.
pub const UNSUPPORTED_CONTENT: i64 = 1004;
/// The backend gave up within its own deadline.
pub const DEADLINE_EXCEEDED: i64 = 1005;
/// A policy or safety refusal.
pub const REFUSED: i64 = 1006;
/// The reply would exceed the advertised message size limit.
pub const REPLY_TOO_LARGE: i64 = 1007;
/// Host call: the platform refused the token (401/403).
pub const UNAUTHORIZED: i64 = 1010;
/// Host call: the workspace or the target is unknown to the platform (404).
pub const NOT_FOUND: i64 = 1011;
/// Host call: the workspace was removed on the platform (410).
pub const REMOVED: i64 = 1012;
/// Host call: the platform could not be reached or failed (after retries).
pub const PLATFORM_UNAVAILABLE: i64 = 1013;
/// Host call: the platform or the peer refused the request, or answered nonsense.
pub const REJECTED: i64 = 1014;
/// Host call: `waitMs` elapsed before the peer answered (the message was sent).
pub const WAIT_TIMED_OUT: i64 = 1015;
/// Host call: the backend's peer-call budget for this minute is spent, or too many of its
/// calls are in flight.
pub const BUDGET_EXHAUSTED: i64 = 1016;

/// The `data.class` values of host-call errors (codes 1010–1016).
pub mod class {
    /// 1010: the platform refused the token (401/403).
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// 1011: 404.
    pub const NOT_FOUND: &str = "not_found";
    /// 1012: 410, re-onboarding needed.
    pub const REMOVED: &str = "removed";
    /// 1013: connection failure, timeout or reset, after retries.
    pub const UNREACHABLE: &str = "unreachable";
    /// 1013: a 5xx.
    pub const SERVER_ERROR: &str = "server_error";
    /// 1014: other 4xx, 502, a JSON-RPC error from the peer.
    pub const REJECTED: &str = "rejected";
    /// 1014: a malformed answer.
    pub const BAD_RESPONSE: &str = "bad_response";
    /// 1015: `waitMs` elapsed (the message was sent).
    pub const WAIT_TIMEOUT: &str = "wait_timeout";
    /// 1016: the per-backend peer-call budget is spent.
    pub const BUDGET: &str = "budget";
    /// 1016: too many of the backend's calls are in flight; retry once one is answered.
    pub const IN_FLIGHT: &str = "in_flight";
}

/// One error code of the protocol, as SPEC §8 lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Code {
    /// The number.
    pub code: i64,
    /// Its name in SPEC §8 ("method not found", "busy"…).
    pub name: &'static str,
    /// Whether an error with this code is worth retrying when `data.retryable` is absent;
    /// `None` for `-32800`, which closes a cancelled request instead.
    pub retryable: Option<bool>,
    /// Only the host's answers to backend → host calls use it.
    pub host_calls_only: bool,
    /// The `data.class` values that go with it (host-call codes only).
    pub classes: &'static [&'static str],
}

const fn code(code: i64, name: &'static str, retryable: bool) -> Code {
    Code {
        code,
        name,
        retryable: Some(retryable),
        host_calls_only: false,
        classes: &[],
    }
}

const fn host_call(
    code: i64,
    name: &'static str,
    retryable: bool,
    classes: &'static [&'static str],
) -> Code {
    Code {
        code,
        name,
        retryable: Some(retryable),
        host_calls_only: true,
        classes,
    }
}

/// Every error code of protocol v1, in the order of SPEC §8.
pub const ALL: &[Code] = &[
    code(PARSE_ERROR, "parse error", false),
    code(INVALID_REQUEST, "invalid request", false),
    code(METHOD_NOT_FOUND, "method not found", false),
    code(INVALID_PARAMS, "invalid params", false),
    code(INTERNAL_ERROR, "internal error", false),
    code(NOT_INITIALIZED, "not initialized", false),
    Code {
        retryable: None,
        ..code(REQUEST_CANCELLED, "cancelled by the host", false)
    },
    code(BUSY, "busy", true),
    code(RATE_LIMITED, "rate limited", true),
    code(UPSTREAM_UNAVAILABLE, "upstream unavailable", true),
    code(UNSUPPORTED_CONTENT, "unsupported content", false),
    code(DEADLINE_EXCEEDED, "deadline exceeded", false),
    code(REFUSED, "refused", false),
    code(REPLY_TOO_LARGE, "reply too large", false),
    host_call(UNAUTHORIZED, "unauthorized", false, &[class::UNAUTHORIZED]),
    host_call(NOT_FOUND, "not found", false, &[class::NOT_FOUND]),
    host_call(REMOVED, "removed", false, &[class::REMOVED]),
    host_call(
        PLATFORM_UNAVAILABLE,
        "platform unavailable",
        true,
        &[class::UNREACHABLE, class::SERVER_ERROR],
    ),
    host_call(
        REJECTED,
        "rejected",
        false,
        &[class::REJECTED, class::BAD_RESPONSE],
    ),
    host_call(
        WAIT_TIMED_OUT,
        "wait timed out",
        false,
        &[class::WAIT_TIMEOUT],
    ),
    host_call(
        BUDGET_EXHAUSTED,
        "budget exhausted",
        true,
        &[class::BUDGET, class::IN_FLIGHT],
    ),
];

/// The entry of `code`, when it is one of the protocol's.
pub fn lookup(code: i64) -> Option<&'static Code> {
    ALL.iter().find(|c| c.code == code)
}

/// The code a host-call error of `class` carries, when `class` is one of the protocol's.
pub fn of_class(class: &str) -> Option<i64> {
    ALL.iter()
        .find(|c| c.classes.contains(&class))
        .map(|c| c.code)
}

/// Whether an error with this code is worth retrying when its `data.retryable` is absent. A
/// code the protocol does not define is not.
pub fn retryable_by_default(code: i64) -> bool {
    lookup(code).and_then(|c| c.retryable).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_and_class_is_listed_once() {
        for (i, c) in ALL.iter().enumerate() {
            assert!(
                ALL[i + 1..].iter().all(|d| d.code != c.code),
                "{} twice",
                c.code
            );
            for class in c.classes {
                assert_eq!(of_class(class), Some(c.code), "{class}");
            }
        }
        assert_eq!(of_class("internal"), None);
    }

    #[test]
    fn retryable_defaults_follow_the_table() {
        let retryable: Vec<i64> = ALL
            .iter()
            .map(|c| c.code)
            .filter(|c| retryable_by_default(*c))
            .collect();
        assert_eq!(
            retryable,
            [
                BUSY,
                RATE_LIMITED,
                UPSTREAM_UNAVAILABLE,
                PLATFORM_UNAVAILABLE,
                BUDGET_EXHAUSTED
            ]
        );
        assert!(!retryable_by_default(REQUEST_CANCELLED));
        assert!(!retryable_by_default(4242), "a code of the backend's own");
    }
}
