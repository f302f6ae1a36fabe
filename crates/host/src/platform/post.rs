//! Posting one reply: retried through transient failures for as long as the host runs, ended
//! by a success or a permanent refusal (logged by the caller with its status and body).
//!
//! A 2xx is a success whatever JSON its body holds: a push-mode sender answers with its agent's
//! next turn, and acting on that would start an agent ping-pong. But a 2xx whose body is not
//! JSON at all (an HTML page) did not come from the platform, which answers `/notify` with
//! `{"status":"sent"}` and `/a2a` with `queued` or the JSON-RPC answer it passes through
//! (docs/platform-api.md §5.4, §6.1): a proxy, a captive portal or a mistyped `--api-url`
//! answered, and the reply most likely went nowhere. It is posted again (same `messageId`) a
//! few times, then given up as unconfirmed and logged. A 401 is not a reason to drop the
//! reply: it waits, because the poll decides whether the token is really gone (and then the
//! host exits and the row is delivered again after the fix).
//!
//! A reply to an agent is not idempotent for a push-mode target: the platform dispatches a
//! re-sent message to the agent again (only its log row is deduplicated on `messageId`). A
//! timeout is the one failure that says the agent is probably at work on it (the platform
//! waits for the agent's whole turn): such a reply is not posted again, the row ends
//! [`Posted::Unconfirmed`] and the caller logs it. Every other transient failure (no
//! connection, a broken connection, 401, 429, 5xx) is retried with the same `messageId`:
//! losing a reply is worse than a rare duplicate, which newer platforms drop for poll-mode
//! targets and which carries the same id everywhere else.

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::backoff::Backoff;
use crate::platform::{
    Call, NotifyAttachment, PlatformClient, PlatformError, RetryPolicy, Transport, retry,
};

/// How many times a reply refused with 401 is held and tried again. A revoked token ends the
/// host through the poll long before; a 401 that outlasts this is about this reply alone.
const UNAUTHORIZED_HOLDS: u32 = 5;

/// How many times a reply answered 2xx with a body that is not JSON is posted again.
const FOREIGN_ANSWER_HOLDS: u32 = 5;

/// A reply, ready to post.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyBody {
    /// A `message/send` to another workspace.
    Agent {
        /// The sender to answer.
        target: Uuid,
        /// The JSON-RPC body.
        envelope: Value,
    },
    /// A message in the canvas.
    Canvas {
        /// The text (never empty).
        message: String,
        /// http(s) files.
        attachments: Vec<NotifyAttachment>,
    },
}

/// How posting ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    /// The platform accepted it.
    Delivered,
    /// The platform refused it for good.
    Refused {
        /// The status, when there was one.
        status: Option<u16>,
        /// The error, with a body excerpt.
        reason: String,
    },
    /// A reply to an agent may or may not have reached it, and is not posted again.
    Unconfirmed {
        /// What happened, with the status when there was one.
        reason: String,
    },
    /// The host is shutting down; the row stays unsettled.
    Abandoned,
}

/// Whether a push-mode agent is probably working on a reply that failed this way: the POST
/// was sent and timed out waiting for the agent's turn (see the module doc).
fn may_have_been_processed(e: &PlatformError) -> bool {
    matches!(
        e,
        PlatformError::Transient {
            cause: Transport::Timeout,
            ..
        }
    )
}

/// Posts a reply to an agent, retrying only what surely was not processed; `Ok(Err(e))` is a
/// failure after which the reply may have been processed.
async fn post_agent(
    client: &PlatformClient,
    target: Uuid,
    envelope: &Value,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
) -> Result<Result<(), PlatformError>, PlatformError> {
    retry(Call::PostA2a, policy, cancel, || async move {
        match client.post_a2a(target, envelope).await {
            Ok(_) => Ok(Ok(())),
            Err(e) if may_have_been_processed(&e) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    })
    .await
}

/// Posts `body`, retrying transient failures until `cancel` fires.
pub async fn post(
    client: &PlatformClient,
    body: &ReplyBody,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
) -> Posted {
    let mut unauthorized = Backoff::new(policy.base, policy.cap);
    let mut foreign = Backoff::new(policy.base, policy.cap);
    loop {
        let result = match body {
            ReplyBody::Agent { target, envelope } => {
                match post_agent(client, *target, envelope, policy, cancel).await {
                    Ok(Err(e)) => {
                        return Posted::Unconfirmed {
                            reason: e.to_string(),
                        };
                    }
                    Ok(Ok(())) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            ReplyBody::Canvas {
                message,
                attachments,
            } => {
                retry(Call::Notify, policy, cancel, || {
                    client.notify(message, attachments)
                })
                .await
            }
        };
        let err = match result {
            Ok(()) => return Posted::Delivered,
            Err(e) => e,
        };
        let delay = match err {
            PlatformError::Cancelled { .. } => return Posted::Abandoned,
            PlatformError::Decode { status, .. } if (200..300).contains(&status) => {
                if foreign.attempt() >= FOREIGN_ANSWER_HOLDS {
                    return Posted::Unconfirmed {
                        reason: format!(
                            "{err}; {FOREIGN_ANSWER_HOLDS} more tries were answered the same, not \
                             by the platform (check --api-url and any proxy in between)"
                        ),
                    };
                }
                let delay = foreign.next_delay();
                tracing::warn!(
                    delay_ms = delay.as_millis() as u64,
                    "a reply was answered with something that is not the platform's answer; \
                     posting it again in {} ms: {err}",
                    delay.as_millis()
                );
                delay
            }
            PlatformError::Unauthorized { .. } if unauthorized.attempt() < UNAUTHORIZED_HOLDS => {
                let delay = unauthorized.next_delay();
                tracing::warn!(
                    delay_ms = delay.as_millis() as u64,
                    "a reply was refused with 401; holding it while the token is checked: {err}"
                );
                delay
            }
            other => {
                return Posted::Refused {
                    status: other.status(),
                    reason: other.to_string(),
                };
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return Posted::Abandoned,
            () = tokio::time::sleep(delay) => {}
        }
    }
}
