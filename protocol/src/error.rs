//! The JSON-RPC error object and its `data`: how the receiver should treat a failure. The codes
//! and what each means are in [`crate::code`].

use crate::code;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RpcError {
    /// The error code: a standard JSON-RPC code, -32002, -32800, an application code
    /// (1001–1007), a host-call code (1010–1016), or another integer.
    pub code: i64,
    /// A short human-readable description, for logs.
    pub message: String,
    /// Structured detail. With an application code it is an object with `retryable`,
    /// `retryAfterMs`, `userMessage` and `details` (see SPEC.md, "Error codes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// The `data` member of an application error: how the host should treat the failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ErrorData {
    /// Whether redelivering the same message may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// How long to wait before a retry, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Text that is safe to show the sender of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
    /// Anything else, for the operator's log only (never sent to the sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Host-call errors (1010–1016): the failure's class (`unauthorized`, `unreachable`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Host-call errors: what the call was about (a workspace id, or the endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Host-call errors: the HTTP status the platform answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Host-call errors of `peers/send`: the id the message was sent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

setters!(ErrorData {
    with_retryable => retryable: opt bool,
    with_retry_after_ms => retry_after_ms: opt u64,
    with_user_message => user_message: text String,
    with_details => details: opt Value,
    with_class => class: text String,
    with_target => target: text String,
    with_status => status: opt u16,
    with_message_id => message_id: text String,
});

impl RpcError {
    /// An error with no data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// An error carrying [`ErrorData`].
    pub fn with_data(code: i64, message: impl Into<String>, data: ErrorData) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: serde_json::to_value(data).ok(),
        }
    }

    /// `-32601` for `method`.
    pub fn method_not_found(method: &str) -> Self {
        RpcError::new(
            code::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    /// `-32602` with a reason.
    pub fn invalid_params(reason: impl std::fmt::Display) -> Self {
        RpcError::new(code::INVALID_PARAMS, format!("invalid params: {reason}"))
    }

    /// `-32603`: an unexpected failure inside the receiver.
    pub fn internal(message: impl Into<String>) -> Self {
        RpcError::new(code::INTERNAL_ERROR, message)
    }

    /// `-32002`: a request arrived before `initialize`.
    pub fn not_initialized() -> Self {
        RpcError::new(
            code::NOT_INITIALIZED,
            "not initialized: send initialize first",
        )
    }

    /// `-32800`: the request was cancelled by the host.
    pub fn cancelled() -> Self {
        RpcError::new(code::REQUEST_CANCELLED, "request cancelled by the host")
    }

    /// The error's [`ErrorData`], when `data` has that shape.
    pub fn error_data(&self) -> ErrorData {
        self.data
            .as_ref()
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .unwrap_or_default()
    }

    /// Whether a retry may succeed: `data.retryable` when given, else the code's default.
    pub fn is_retryable(&self) -> bool {
        self.error_data()
            .retryable
            .unwrap_or_else(|| code::retryable_by_default(self.code))
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_follows_data_then_code() {
        assert!(RpcError::new(code::BUSY, "b").is_retryable());
        assert!(!RpcError::new(code::REFUSED, "r").is_retryable());
        let forced = RpcError::with_data(
            code::INTERNAL_ERROR,
            "boom",
            ErrorData::default().with_retryable(true),
        );
        assert!(forced.is_retryable());
    }
}
