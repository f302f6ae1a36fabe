//! [`PeerError`]: why a peer call failed, with the host's code and error class.

use crate::host::HostCallError;
use molecule_protocol::code::class;
use serde_json::Value;
use std::time::Duration;

/// What kind of failure a [`PeerError`] is: the host's `error.data.class`, or what went wrong
/// on this side of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerErrorClass {
    /// `unauthorized`: the token is invalid or was rotated.
    Unauthorized,
    /// `not_found`: the workspace or the target is unknown.
    NotFound,
    /// `removed`: the workspace was removed on the platform.
    Removed,
    /// `unreachable`: the platform could not be reached.
    Unreachable,
    /// `server_error`: the platform answered 5xx.
    ServerError,
    /// `rejected`: the platform or the peer refused the message.
    Rejected,
    /// `bad_response`: the platform's answer was malformed.
    BadResponse,
    /// `wait_timeout`: no reply within `waitMs` (the message was sent).
    WaitTimeout,
    /// `budget`: too many peer calls this minute.
    Budget,
    /// `in_flight`: too many calls to the host in flight at once; retry once one is answered.
    InFlight,
    /// The host refused the params (`-32602`).
    InvalidParams,
    /// The host does not offer the method (not in `hostMethods`).
    NotOffered,
    /// The connection to the host failed or the answer did not fit.
    Connection,
    /// Any other class the host named, or none.
    Other(String),
}

impl PeerErrorClass {
    fn parse(class: &str) -> PeerErrorClass {
        match class {
            class::UNAUTHORIZED => PeerErrorClass::Unauthorized,
            class::NOT_FOUND => PeerErrorClass::NotFound,
            class::REMOVED => PeerErrorClass::Removed,
            class::UNREACHABLE => PeerErrorClass::Unreachable,
            class::SERVER_ERROR => PeerErrorClass::ServerError,
            class::REJECTED => PeerErrorClass::Rejected,
            class::BAD_RESPONSE => PeerErrorClass::BadResponse,
            class::WAIT_TIMEOUT => PeerErrorClass::WaitTimeout,
            class::BUDGET => PeerErrorClass::Budget,
            class::IN_FLIGHT => PeerErrorClass::InFlight,
            other => PeerErrorClass::Other(other.to_owned()),
        }
    }
}

#[derive(Debug)]
struct Details {
    code: Option<i64>,
    class: PeerErrorClass,
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    message_id: Option<String>,
    target: Option<String>,
    status: Option<u16>,
}

/// A peer call failed. [`PeerError::class`] says how, [`PeerError::retryable`] whether trying
/// again later may work, and the message (its `Display`) names the class and the target.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message)]
pub struct PeerError(Box<Details>);

impl PeerError {
    /// The host's error code (`1010`–`1016`, `-32602`…), when the host answered with one.
    pub fn code(&self) -> Option<i64> {
        self.0.code
    }

    /// The kind of failure.
    pub fn class(&self) -> &PeerErrorClass {
        &self.0.class
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the same call may succeed later.
    pub fn retryable(&self) -> bool {
        self.0.retryable
    }

    /// How long to wait before trying again, when the host said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The id of the message that was sent (a `wait_timeout`: the peer may still answer).
    pub fn message_id(&self) -> Option<&str> {
        self.0.message_id.as_deref()
    }

    /// The peer or URL the call was for, when the host said.
    pub fn target(&self) -> Option<&str> {
        self.0.target.as_deref()
    }

    /// The platform's HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    fn local(class: PeerErrorClass, message: String) -> PeerError {
        PeerError(Box::new(Details {
            code: None,
            class,
            message,
            retryable: false,
            retry_after: None,
            message_id: None,
            target: None,
            status: None,
        }))
    }

    /// A call refused before it was sent: bad arguments.
    pub(crate) fn invalid(message: String) -> PeerError {
        PeerError::local(PeerErrorClass::InvalidParams, message)
    }
}

impl From<HostCallError> for PeerError {
    fn from(e: HostCallError) -> PeerError {
        let error = match e {
            HostCallError::Rpc { error, .. } => error,
            HostCallError::NotOffered { .. } => {
                return PeerError::local(PeerErrorClass::NotOffered, e.to_string());
            }
            other => return PeerError::local(PeerErrorClass::Connection, other.to_string()),
        };
        let data = error.data.as_ref();
        let field = |k: &str| data.and_then(|d| d.get(k));
        let text = |k: &str| field(k).and_then(Value::as_str).map(str::to_owned);
        let class = match text("class") {
            Some(c) => PeerErrorClass::parse(&c),
            None if error.code == -32602 => PeerErrorClass::InvalidParams,
            None => PeerErrorClass::Other(String::new()),
        };
        let message = if error.message.is_empty() {
            format!("the host answered with error {}", error.code)
        } else {
            error.message.clone()
        };
        PeerError(Box::new(Details {
            code: Some(error.code),
            class,
            message,
            retryable: field("retryable").and_then(Value::as_bool).unwrap_or(false),
            retry_after: field("retryAfterMs")
                .and_then(Value::as_u64)
                .map(Duration::from_millis),
            message_id: text("messageId"),
            target: text("target"),
            status: field("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
        }))
    }
}
