//! What one delivery of a row to the backend came to, read from the supervisor's answer:
//! answered, to be retried (an attempt spent), failed for good, not sent because the backend's
//! crash-loop breaker is open (no attempt spent: the core holds the row until the breaker
//! closes), or abandoned because the host is stopping (the row stays unsettled and comes back
//! after a restart). Pure: the shell makes the call, this says what it means.

use std::time::Duration;

use molecule_protocol::{HandleA2aResult, RpcError};

use crate::backend::{CallError, ProtocolViolation, Unavailable};

use super::super::health::Failure;

/// What one delivery came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The backend answered (empty parts mean "send no reply").
    Answered(HandleA2aResult),
    /// A failure worth another delivery; one attempt is spent.
    Retry {
        /// The backend's `retryAfterMs`, when given.
        after: Option<Duration>,
        /// What went wrong.
        failure: Failure,
        /// The backend crashed with the row in flight.
        crashed: bool,
        /// Shown to the sender if the attempts run out.
        user_message: Option<String>,
    },
    /// A failure that another delivery cannot fix: an error reply, then settled.
    Failed {
        /// The backend's `userMessage`, when given.
        user_message: Option<String>,
        /// What went wrong (never sent to the sender).
        failure: Failure,
    },
    /// The backend's crash-loop breaker is open: not sent, no attempt spent.
    BreakerOpen,
    /// The host is shutting down: the row stays unsettled.
    Abandoned,
}

/// What the supervisor's answer to one `handle_a2a` means for the row.
pub fn of(answer: Result<HandleA2aResult, CallError>) -> Outcome {
    match answer {
        Ok(result) => Outcome::Answered(result),
        Err(e) => classify(e),
    }
}

/// What a failed call means for the row.
pub fn classify(error: CallError) -> Outcome {
    let retry = |summary: &str, detail: String, crashed| Outcome::Retry {
        after: None,
        failure: Failure::new(summary, detail),
        crashed,
        user_message: None,
    };
    match error {
        CallError::Rpc(e) => from_rpc(&e),
        CallError::Crashed(report) => retry(
            "the backend crashed",
            format!("the backend {}", report.summary()),
            true,
        ),
        e @ CallError::Timeout(_) => retry("the backend timed out", e.to_string(), false),
        e @ CallError::IdleTimeout(_) => retry(
            "the backend stopped reporting progress",
            e.to_string(),
            false,
        ),
        CallError::Unavailable(Unavailable::BreakerOpen { .. }) => Outcome::BreakerOpen,
        CallError::Cancelled { .. } | CallError::Unavailable(_) => Outcome::Abandoned,
        // A `-32800` nobody asked for says nothing about the message: like a crash, it is a
        // failed attempt, and the attempts running out get the generic error reply. Settling
        // the row on it would lose the message.
        e @ CallError::Protocol(ProtocolViolation::UnpromptedCancel) => {
            retry("the backend broke the protocol", e.to_string(), false)
        }
        e @ (CallError::Protocol(_) | CallError::Encode(_) | CallError::RequestTooLarge { .. }) => {
            Outcome::Failed {
                user_message: None,
                failure: Failure::new("the backend broke the protocol", e.to_string()),
            }
        }
    }
}

fn from_rpc(e: &RpcError) -> Outcome {
    let data = e.error_data();
    let failure = Failure::new(
        format!("the backend answered error {}", e.code),
        format!("the backend answered error {}: {}", e.code, e.message),
    );
    if e.is_retryable() {
        Outcome::Retry {
            after: data.retry_after_ms.map(Duration::from_millis),
            failure,
            crashed: false,
            user_message: data.user_message,
        }
    } else {
        Outcome::Failed {
            user_message: data.user_message,
            failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_protocol::methods::CancelReason;
    use molecule_protocol::{ErrorData, code};

    #[test]
    fn rpc_errors_follow_the_spec() {
        let busy = RpcError::with_data(
            code::BUSY,
            "queue full",
            ErrorData::default()
                .with_retry_after_ms(250)
                .with_user_message("Busy."),
        );
        assert!(matches!(classify(CallError::Rpc(busy)),
            Outcome::Retry { after: Some(d), crashed: false, .. } if d == Duration::from_millis(250)));
        let refused = RpcError::with_data(
            code::REFUSED,
            "policy",
            ErrorData::default().with_user_message("No."),
        );
        assert_eq!(
            classify(CallError::Rpc(refused)),
            Outcome::Failed {
                user_message: Some("No.".into()),
                failure: Failure::new(
                    "the backend answered error 1006",
                    "the backend answered error 1006: policy"
                ),
            }
        );
        let forced = RpcError::with_data(-32603, "boom", ErrorData::default().with_retryable(true));
        assert!(matches!(
            classify(CallError::Rpc(forced)),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(CallError::Protocol(ProtocolViolation::UnpromptedCancel)),
            Outcome::Retry {
                crashed: false,
                user_message: None,
                ..
            }
        ));
        assert_eq!(
            classify(CallError::Cancelled {
                reason: CancelReason::HostShutdown
            }),
            Outcome::Abandoned
        );
        assert!(matches!(
            classify(CallError::Timeout(Duration::from_secs(1))),
            Outcome::Retry { crashed: false, .. }
        ));
    }

    #[test]
    fn an_open_breaker_is_no_attempt_and_a_stopping_backend_abandons() {
        let until = std::time::Instant::now();
        let open = CallError::Unavailable(Unavailable::BreakerOpen { until });
        assert_eq!(classify(open), Outcome::BreakerOpen);
        let stopping = CallError::Unavailable(Unavailable::ShuttingDown);
        assert_eq!(classify(stopping), Outcome::Abandoned);
    }
}
