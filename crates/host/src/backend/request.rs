//! One request's life on the host side: sent, then awaited against the hard timeout, the idle
//! timeout, the caller's cancellation and the host's shutdown. When one of those fires, the
//! backend gets `$/cancelRequest` and the cancel grace to give its one answer; an answer that
//! arrives in the grace (the race where it was already on its way) is the outcome.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use molecule_protocol::code;
use molecule_protocol::methods::CancelReason;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::error::{CallError, ProtocolViolation, Unavailable};
use super::handlers::HostHandlers;
use super::rpc::{Connection, Registered};

/// Counts cancels left unanswered in a row; trips its token at the limit.
#[derive(Debug)]
pub(crate) struct CancelTracker {
    in_a_row: AtomicU32,
    limit: u32,
    pub(crate) tripped: CancellationToken,
}

impl CancelTracker {
    pub(crate) fn new(limit: u32) -> Self {
        CancelTracker {
            in_a_row: AtomicU32::new(0),
            limit: limit.max(1),
            tripped: CancellationToken::new(),
        }
    }

    fn answered(&self) {
        self.in_a_row.store(0, Ordering::Relaxed);
    }

    fn unanswered(&self) {
        let n = self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.limit {
            self.tripped.cancel();
        }
    }

    /// How many cancels in a row went unanswered.
    pub(crate) fn count(&self) -> u32 {
        self.in_a_row.load(Ordering::Relaxed)
    }
}

/// What one call needs from the backend instance it runs on.
pub(crate) struct Ctx<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) grace: Duration,
    pub(crate) shutdown: &'a CancellationToken,
    pub(crate) cancels: &'a CancelTracker,
}

/// One call.
pub(crate) struct Call<'a, P> {
    pub(crate) method: &'a str,
    pub(crate) params: &'a P,
    /// The hard timeout.
    pub(crate) hard: Duration,
    /// The idle timeout, reset by `$/progress`.
    pub(crate) idle: Option<Duration>,
    /// The caller's cancellation, and the reason the backend is told.
    pub(crate) cancel: Option<&'a CancellationToken>,
    pub(crate) cancel_reason: CancelReason,
    /// The workspace this request is for, when backend → host calls may be made for it: they
    /// then see its deadline, a token, and that workspace.
    pub(crate) scope: Option<&'a str>,
    /// This is the `workspace/open` of that workspace, served by those handlers once answered.
    pub(crate) opens: Option<(&'a str, &'a HostHandlers)>,
}

/// Why the host stopped waiting.
#[derive(Clone, Copy)]
enum Why {
    Deadline(Duration),
    Idle(Duration),
    Caller(CancelReason),
    Shutdown,
}

impl Why {
    fn reason(self) -> CancelReason {
        match self {
            Why::Deadline(_) => CancelReason::Deadline,
            Why::Idle(_) => CancelReason::IdleTimeout,
            Why::Caller(r) => r,
            Why::Shutdown => CancelReason::HostShutdown,
        }
    }

    fn error(self) -> CallError {
        match self {
            Why::Deadline(d) => CallError::Timeout(d),
            Why::Idle(d) => CallError::IdleTimeout(d),
            Why::Caller(reason) => CallError::Cancelled { reason },
            Why::Shutdown => CallError::Cancelled {
                reason: CancelReason::HostShutdown,
            },
        }
    }
}

/// Stops waiting for a request whose caller went away (the future was dropped), telling the
/// backend unless a cancel was already sent.
struct Abandon<'a> {
    conn: &'a Connection,
    id: i64,
    /// Whether the backend still has to be told.
    tell: bool,
    /// Whether the request still waits (cleared once its outcome is taken).
    waiting: bool,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if self.waiting && self.conn.forget(self.id) && self.tell {
            self.conn.cancel(self.id, CancelReason::Other);
        }
    }
}

/// Sends `call` and returns its one outcome; `None` when it was never sent because the backend
/// had already ended (the caller may give it to the next backend).
pub(crate) async fn run<P: Serialize>(
    ctx: &Ctx<'_>,
    call: Call<'_, P>,
) -> Option<Result<Value, CallError>> {
    let hard_deadline = Instant::now() + call.hard;
    let scope_token = CancellationToken::new();
    // Work done on this request's behalf stops when it ends, however it ends.
    let _scope_guard = scope_token.clone().drop_guard();
    let seed = call
        .scope
        .map(|ws| (hard_deadline.into_std(), scope_token.clone(), ws.to_owned()));
    let registered = ctx.conn.register(seed)?;
    let id = registered.id;
    if let Some((workspace, handlers)) = call.opens {
        ctx.conn
            .routes()
            .open_on_answer(id, workspace, handlers.clone());
    }
    match ctx.conn.send_request(id, call.method, call.params).await {
        Ok(true) => {}
        Ok(false) => {
            ctx.conn.forget(id);
            return None;
        }
        Err(e) => {
            ctx.conn.forget(id);
            return Some(Err(e));
        }
    }
    let abandon = Abandon {
        conn: ctx.conn,
        id,
        tell: true,
        waiting: true,
    };
    Some(wait(ctx, &call, registered, abandon, hard_deadline).await)
}

/// Waits for the answer of a request that was written, cancelling it when needed.
async fn wait<P>(
    ctx: &Ctx<'_>,
    call: &Call<'_, P>,
    registered: Registered,
    mut abandon: Abandon<'_>,
    hard_deadline: Instant,
) -> Result<Value, CallError> {
    let id = registered.id;
    let mut outcome = registered.outcome;
    let mut idle_deadline = call.idle.map(|d| Instant::now() + d);
    let why = loop {
        tokio::select! {
            biased;
            r = &mut outcome => {
                abandon.waiting = false;
                return unprompted(id, flatten(r));
            }
            _ = registered.progress.notified() => {
                idle_deadline = call.idle.map(|d| Instant::now() + d);
            }
            _ = sleep_until(hard_deadline) => break Why::Deadline(call.hard),
            _ = sleep_until(idle_deadline.unwrap_or(hard_deadline)), if idle_deadline.is_some() => {
                break Why::Idle(call.idle.unwrap_or_default());
            }
            _ = cancelled(call.cancel) => break Why::Caller(call.cancel_reason),
            _ = ctx.shutdown.cancelled() => break Why::Shutdown,
        }
    };
    abandon.tell = false;
    ctx.conn.cancel(id, why.reason());
    let answer = match timeout(ctx.grace, &mut outcome).await {
        Ok(r) => Some(flatten(r)),
        // The answer may have been delivered between the timeout and now.
        Err(_) if !ctx.conn.forget(id) => outcome.try_recv().ok().map(Ok).map(flatten),
        Err(_) => None,
    };
    abandon.waiting = false;
    settle_cancel(ctx, why, answer)
}

/// The outcome of a cancelled request, given the answer (if any) within the grace.
fn settle_cancel(
    ctx: &Ctx<'_>,
    why: Why,
    answer: Option<Result<Value, CallError>>,
) -> Result<Value, CallError> {
    match answer {
        None => {
            ctx.cancels.unanswered();
            tracing::warn!(
                in_a_row = ctx.cancels.count(),
                "the backend did not answer a cancelled request within {:?}",
                ctx.grace
            );
            Err(why.error())
        }
        Some(Err(CallError::Rpc(e))) if e.code == code::REQUEST_CANCELLED => {
            ctx.cancels.answered();
            Err(why.error())
        }
        Some(other) => {
            if !matches!(other, Err(CallError::Crashed(_))) {
                ctx.cancels.answered();
            }
            other
        }
    }
}

/// An answer that arrived before any cancel: `-32800` there breaks the protocol (SPEC §8: it is
/// valid only after a `$/cancelRequest` for that id). Taken at its word it would close the
/// request with nothing posted, and the message would be lost.
fn unprompted(id: i64, answer: Result<Value, CallError>) -> Result<Value, CallError> {
    match answer {
        Err(CallError::Rpc(e)) if e.code == code::REQUEST_CANCELLED => {
            let violation = ProtocolViolation::UnpromptedCancel;
            tracing::warn!(id, "protocol error: {violation}");
            Err(CallError::Protocol(violation))
        }
        other => other,
    }
}

fn flatten(
    r: Result<Result<Value, CallError>, oneshot::error::RecvError>,
) -> Result<Value, CallError> {
    r.unwrap_or(Err(CallError::Unavailable(Unavailable::Stopped)))
}

async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(t) => t.cancelled().await,
        None => std::future::pending().await,
    }
}
