//! Retrying platform calls: capped exponential backoff with jitter, `Retry-After` honoured,
//! each retry logged at warn with the call, the reason and the delay in milliseconds.
//!
//! Long-running loops (heartbeat, poll, replies) retry for as long as their cancellation token
//! allows; peer calls stop after a few attempts or a total budget, and, because a message to a
//! push-mode peer is not idempotent, retry only when the platform surely did not act on it.

use super::error::{Call, ErrorClass, PlatformError};
use crate::backoff::Backoff;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// When and how often to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// The first backoff delay.
    pub base: Duration,
    /// The largest backoff delay.
    pub cap: Duration,
    /// The jitter fraction (±).
    pub jitter: f64,
    /// Give up after this many attempts (the first included); `None` retries until cancelled.
    pub max_attempts: Option<u32>,
    /// Give up when this much time has passed since the first attempt began.
    pub budget: Option<Duration>,
    /// Give up at this instant (the calling request's own deadline).
    pub deadline: Option<Instant>,
    /// Retry only errors after which the platform surely did not act (see
    /// [`PlatformError::not_processed`]), for calls that are not idempotent.
    pub only_unprocessed: bool,
}

impl RetryPolicy {
    /// Retries every transient and rate-limited error until cancelled, backing off from
    /// `base` to `cap`.
    pub fn forever(base: Duration, cap: Duration) -> Self {
        RetryPolicy {
            base,
            cap,
            jitter: 0.25,
            max_attempts: None,
            budget: None,
            deadline: None,
            only_unprocessed: false,
        }
    }

    /// The schedule of a message to a peer: up to 5 attempts, 1, 2, 4, 8 s (capped at 16 s,
    /// ±25%), 600 s in all, and only when the request was not processed.
    pub fn peer_send() -> Self {
        RetryPolicy {
            max_attempts: Some(5),
            budget: Some(Duration::from_secs(600)),
            only_unprocessed: true,
            ..RetryPolicy::forever(Duration::from_secs(1), Duration::from_secs(16))
        }
    }

    fn retries(&self, err: &PlatformError) -> bool {
        match err.class() {
            ErrorClass::Permanent => false,
            ErrorClass::Transient | ErrorClass::RateLimited => {
                !self.only_unprocessed || err.not_processed()
            }
        }
    }
}

/// Runs `op` until it succeeds, fails permanently, runs out of attempts or time, or `cancel`
/// fires (then [`PlatformError::Cancelled`]). The attempt in flight is bounded by the
/// deadline too, and abandoned on cancellation.
pub async fn retry<T, F, Fut>(
    call: Call,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut op: F,
) -> Result<T, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PlatformError>>,
{
    let start = Instant::now();
    let deadline = match (policy.budget.map(|b| start + b), policy.deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut backoff = Backoff::new(policy.base, policy.cap).with_jitter(policy.jitter);
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let err = match run_attempt(call, op(), cancel, deadline).await {
            Ok(v) => return Ok(v),
            Err(e @ PlatformError::Cancelled { .. }) => return Err(e),
            Err(e) => e,
        };
        if !policy.retries(&err) || policy.max_attempts.is_some_and(|m| attempt >= m) {
            return Err(err);
        }
        let delay = match err.retry_after() {
            Some(d) if !d.is_zero() => d,
            _ => backoff.next_delay(),
        };
        if deadline.is_some_and(|d| Instant::now().checked_add(delay).is_none_or(|t| t >= d)) {
            return Err(err);
        }
        tracing::warn!(
            call = %call,
            attempt,
            delay_ms = delay.as_millis() as u64,
            reason = %err,
            "platform call failed; retrying in {} ms",
            delay.as_millis()
        );
        tokio::select! {
            () = cancel.cancelled() => return Err(PlatformError::Cancelled { call }),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

async fn run_attempt<T>(
    call: Call,
    attempt: impl Future<Output = Result<T, PlatformError>>,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
) -> Result<T, PlatformError> {
    let bounded = async {
        match deadline {
            Some(d) => tokio::time::timeout_at(d, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(PlatformError::Transient {
                        call,
                        cause: super::error::Transport::Timeout,
                        retry_after: None,
                        excerpt: "the call's total time budget ran out".into(),
                    })
                }),
            None => attempt.await,
        }
    };
    tokio::select! {
        () = cancel.cancelled() => Err(PlatformError::Cancelled { call }),
        r = bounded => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::error::Transport;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient(status: u16, retry_after: Option<Duration>) -> PlatformError {
        PlatformError::Transient {
            call: Call::PostA2a,
            cause: Transport::Status(status),
            retry_after,
            excerpt: String::new(),
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy::forever(Duration::from_millis(1), Duration::from_millis(4))
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let n = AtomicU32::new(0);
        let r = retry(
            Call::Heartbeat,
            &fast(),
            &CancellationToken::new(),
            || async {
                match n.fetch_add(1, Ordering::SeqCst) {
                    0..3 => Err(transient(503, None)),
                    _ => Ok("ok"),
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), "ok");
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn permanent_errors_and_spent_attempts_stop_it() {
        let n = AtomicU32::new(0);
        let r: Result<(), _> = retry(Call::Notify, &fast(), &CancellationToken::new(), || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(PlatformError::Permanent {
                call: Call::Notify,
                status: 400,
                excerpt: String::new(),
            })
        })
        .await;
        assert_eq!(r.unwrap_err().status(), Some(400));
        assert_eq!(n.load(Ordering::SeqCst), 1);

        let policy = RetryPolicy {
            max_attempts: Some(3),
            ..fast()
        };
        let n = AtomicU32::new(0);
        let r: Result<(), _> = retry(
            Call::PostA2a,
            &policy,
            &CancellationToken::new(),
            || async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(transient(500, None))
            },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(500));
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn non_idempotent_calls_retry_only_unprocessed_requests() {
        let policy = RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            ..RetryPolicy::peer_send()
        };
        let n = AtomicU32::new(0);
        let r: Result<(), _> = retry(
            Call::PostA2a,
            &policy,
            &CancellationToken::new(),
            || async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(transient(502, None))
            },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(502));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_budget_shorter_than_retry_after_gives_up_and_cancel_stops_at_once() {
        let policy = RetryPolicy {
            budget: Some(Duration::from_millis(50)),
            ..fast()
        };
        let r: Result<(), _> = retry(
            Call::PostA2a,
            &policy,
            &CancellationToken::new(),
            || async { Err(transient(503, Some(Duration::from_secs(30)))) },
        )
        .await;
        assert_eq!(r.unwrap_err().retry_after(), Some(Duration::from_secs(30)));

        let cancel = CancellationToken::new();
        cancel.cancel();
        let r: Result<(), _> = retry(Call::Heartbeat, &fast(), &cancel, || async {
            std::future::pending().await
        })
        .await;
        assert!(matches!(
            r,
            Err(PlatformError::Cancelled {
                call: Call::Heartbeat
            })
        ));
    }
}
