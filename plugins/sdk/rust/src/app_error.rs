//! [`AppError`]: the application errors (codes 1001–1007) the host knows how to treat.

use molecule_protocol::{ErrorData, RpcError, code};
use serde_json::Value;
use std::time::Duration;

/// An application error for a `handle_a2a` answer, built with one constructor per code and
/// refined with the builder methods. It converts into [`RpcError`], so `?` works in handlers:
///
/// ```
/// use molecule_plugin::AppError;
/// use std::time::Duration;
///
/// let err: molecule_plugin::protocol::RpcError = AppError::rate_limited("model API said 429")
///     .retry_after(Duration::from_secs(20))
///     .user_message("I'm a bit overloaded, retrying shortly.")
///     .into();
/// assert_eq!(err.code, 1002);
/// assert_eq!(err.error_data().retry_after_ms, Some(20_000));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AppError {
    code: i64,
    message: String,
    data: ErrorData,
}

impl AppError {
    /// An error with any code; `retryable` starts at the code's default.
    pub fn new(code: i64, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
            data: ErrorData::default().with_retryable(code::retryable_by_default(code)),
        }
    }

    /// 1001: the backend is at capacity; the host redelivers later.
    pub fn busy(message: impl Into<String>) -> AppError {
        AppError::new(code::BUSY, message)
    }

    /// 1002: an upstream model or API throttled the backend; set [`AppError::retry_after`].
    pub fn rate_limited(message: impl Into<String>) -> AppError {
        AppError::new(code::RATE_LIMITED, message)
    }

    /// 1003: a dependency of the backend is down; the host redelivers with backoff.
    pub fn upstream_unavailable(message: impl Into<String>) -> AppError {
        AppError::new(code::UPSTREAM_UNAVAILABLE, message)
    }

    /// 1004: a part kind or MIME type the backend cannot handle; not retried.
    pub fn unsupported_content(message: impl Into<String>) -> AppError {
        AppError::new(code::UNSUPPORTED_CONTENT, message)
    }

    /// 1005: the backend gave up within its own deadline; not retried.
    pub fn deadline_exceeded(message: impl Into<String>) -> AppError {
        AppError::new(code::DEADLINE_EXCEEDED, message)
    }

    /// 1006: a policy or safety refusal; not retried.
    pub fn refused(message: impl Into<String>) -> AppError {
        AppError::new(code::REFUSED, message)
    }

    /// 1007: the reply would exceed the host's message size limit; not retried.
    pub fn reply_too_large(message: impl Into<String>) -> AppError {
        AppError::new(code::REPLY_TOO_LARGE, message)
    }

    /// Overrides whether redelivering the message may succeed.
    pub fn retryable(mut self, retryable: bool) -> AppError {
        self.data.retryable = Some(retryable);
        self
    }

    /// How long the host should wait before redelivering (whole milliseconds).
    pub fn retry_after(mut self, after: Duration) -> AppError {
        self.data.retry_after_ms = Some(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Text that is safe to show the sender of the message.
    pub fn user_message(mut self, text: impl Into<String>) -> AppError {
        self.data.user_message = Some(text.into());
        self
    }

    /// Anything else, for the operator's log only (never sent to the sender).
    pub fn details(mut self, details: Value) -> AppError {
        self.data.details = Some(details);
        self
    }

    /// The error code.
    pub fn code(&self) -> i64 {
        self.code
    }
}

impl From<AppError> for RpcError {
    fn from(e: AppError) -> RpcError {
        RpcError::with_data(e.code, e.message, e.data)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for AppError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_code_carries_its_default_retryability() {
        let cases = [
            (AppError::busy("b"), 1001, true),
            (AppError::rate_limited("r"), 1002, true),
            (AppError::upstream_unavailable("u"), 1003, true),
            (AppError::unsupported_content("c"), 1004, false),
            (AppError::deadline_exceeded("d"), 1005, false),
            (AppError::refused("f"), 1006, false),
            (AppError::reply_too_large("l"), 1007, false),
        ];
        for (err, code, retryable) in cases {
            let rpc = RpcError::from(err);
            assert_eq!(rpc.code, code);
            assert_eq!(rpc.data, Some(json!({ "retryable": retryable })), "{code}");
        }
    }

    #[test]
    fn builders_fill_the_data_object() {
        let rpc = RpcError::from(
            AppError::refused("policy")
                .retryable(true)
                .retry_after(Duration::from_millis(1500))
                .user_message("Not something I can help with.")
                .details(json!({"rule": 7})),
        );
        assert_eq!(
            rpc.data,
            Some(json!({"retryable": true, "retryAfterMs": 1500,
                        "userMessage": "Not something I can help with.",
                        "details": {"rule": 7}}))
        );
        assert_eq!(rpc.message, "policy");
    }
}
