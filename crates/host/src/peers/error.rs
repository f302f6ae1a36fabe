//! Host-call failures as the backend sees them: a JSON-RPC error whose code (1010–1016) and
//! `data.class` say what went wrong, and whose message names the class and the target. The
//! code follows from the class ([`code::of_class`]), so the two cannot disagree.

use molecule_protocol::code::{self, class};
use molecule_protocol::{ErrorData, RpcError};

use crate::platform::{PlatformError, Transport};

/// One host-call failure, before it becomes an [`RpcError`].
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// `data.class`, which decides the code.
    pub class: &'static str,
    /// The method and its target, e.g. `peers/send to <uuid>`.
    pub what: String,
    /// The id or endpoint the call was about.
    pub target: Option<String>,
    /// What happened.
    pub detail: String,
    /// The platform's status.
    pub status: Option<u16>,
    /// When to try again.
    pub retry_after_ms: Option<u64>,
    /// The id a message was sent with.
    pub message_id: Option<String>,
}

impl Failure {
    /// The JSON-RPC code of the class; `-32603` for a class the protocol does not define.
    pub fn code(&self) -> i64 {
        code::of_class(self.class).unwrap_or(code::INTERNAL_ERROR)
    }

    /// Whether trying the same call again later may succeed.
    pub fn retryable(&self) -> bool {
        code::retryable_by_default(self.code())
    }

    /// The error sent to the backend.
    pub fn into_rpc(self) -> RpcError {
        let (code, retryable) = (self.code(), self.retryable());
        let mut data = ErrorData::default()
            .with_retryable(retryable)
            .with_class(self.class);
        data.retry_after_ms = self.retry_after_ms;
        data.target = self.target;
        data.status = self.status;
        data.message_id = self.message_id;
        let message = format!("{}: {}", self.what, self.detail);
        RpcError::with_data(code, message, data)
    }
}

/// The failure of a platform call made for `what` (`peers/list`, `peers/send to <uuid>`…)
/// after `attempts` attempts.
pub fn from_platform(
    what: String,
    target: Option<String>,
    e: &PlatformError,
    attempts: u32,
) -> RpcError {
    if let PlatformError::Cancelled { .. } = e {
        return RpcError::cancelled();
    }
    if let PlatformError::InvalidArgument { reason, .. } = e {
        return RpcError::invalid_params(format!("{what}: {reason}"));
    }
    let (class, label) = classify(e);
    let after = if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    };
    Failure {
        class,
        what,
        target,
        detail: format!("{label}{after}: {e}"),
        status: e.status(),
        retry_after_ms: e.retry_after().map(|d| d.as_millis() as u64),
        message_id: None,
    }
    .into_rpc()
}

/// The class and a short label of a platform error.
fn classify(e: &PlatformError) -> (&'static str, &'static str) {
    const UNAUTHORIZED: (&str, &str) = (
        class::UNAUTHORIZED,
        "unauthorized (the token is invalid or was rotated)",
    );
    const NOT_FOUND: (&str, &str) = (class::NOT_FOUND, "not found");
    const REMOVED: (&str, &str) = (
        class::REMOVED,
        "workspace removed (it must be onboarded again)",
    );
    const REJECTED: (&str, &str) = (class::REJECTED, "rejected");
    const SERVER: (&str, &str) = (class::SERVER_ERROR, "platform unavailable");
    match e {
        PlatformError::Unauthorized { .. } => UNAUTHORIZED,
        PlatformError::Permanent { status, .. } => match status {
            401 | 403 => UNAUTHORIZED,
            404 => NOT_FOUND,
            410 => REMOVED,
            _ => REJECTED,
        },
        PlatformError::NoSuchWorkspace { .. } => NOT_FOUND,
        PlatformError::Removed { .. } => REMOVED,
        PlatformError::Transient { cause, .. } => match cause {
            Transport::Status(502) => REJECTED,
            Transport::Status(_) => SERVER,
            Transport::Connect | Transport::Timeout | Transport::Io => {
                (class::UNREACHABLE, "platform unavailable")
            }
        },
        PlatformError::RateLimited { .. } => SERVER,
        PlatformError::Decode { .. } | PlatformError::TooLarge { .. } => {
            (class::BAD_RESPONSE, "bad response")
        }
        PlatformError::CursorGone { .. } => REJECTED,
        // Not a class of the protocol: the code is -32603.
        _ => ("internal", "internal error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Call;

    #[test]
    fn classes_follow_the_status() {
        let permanent = |status| PlatformError::Permanent {
            call: Call::ListPeers,
            status,
            excerpt: String::new(),
        };
        let rpc = from_platform("peers/list".into(), None, &permanent(403), 1);
        assert_eq!(rpc.code, code::UNAUTHORIZED);
        assert_eq!(rpc.error_data().class.as_deref(), Some("unauthorized"));
        assert_eq!(
            from_platform("x".into(), None, &permanent(400), 1).code,
            code::REJECTED
        );
        let refused = PlatformError::Transient {
            call: Call::PostA2a,
            cause: Transport::Connect,
            retry_after: None,
            excerpt: "connection refused".into(),
        };
        let rpc = from_platform("peers/send to t".into(), Some("t".into()), &refused, 5);
        assert_eq!(rpc.code, code::PLATFORM_UNAVAILABLE);
        assert!(rpc.is_retryable());
        assert!(
            rpc.message
                .starts_with("peers/send to t: platform unavailable after 5 attempts: "),
            "{}",
            rpc.message
        );
    }
}
