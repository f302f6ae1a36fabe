//! [`RequestContext`]: what a handler knows about the request it is answering.

use crate::host::HostHandle;
use crate::outbox::Outbox;
use crate::peers::{Peers, SendCounter};
use crate::workspace::Workspace;
use molecule_protocol::methods::{Progress, ProgressParams};
use molecule_protocol::{RequestId, encode};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// The context of one `handle_a2a`: its id, its cancellation, its deadline, a progress sender
/// and a handle for calls to the host.
pub struct RequestContext {
    id: RequestId,
    workspace: Arc<Workspace>,
    token: CancellationToken,
    deadline: Option<SystemTime>,
    outbox: Outbox,
    host: HostHandle,
    sends: SendCounter,
}

impl RequestContext {
    pub(crate) fn new(
        id: RequestId,
        workspace: Arc<Workspace>,
        token: CancellationToken,
        deadline: Option<SystemTime>,
        outbox: Outbox,
        host: HostHandle,
        idempotency_key: String,
    ) -> RequestContext {
        RequestContext {
            id,
            workspace,
            token,
            deadline,
            outbox,
            host,
            sends: SendCounter::new(idempotency_key),
        }
    }

    /// The JSON-RPC id of the request.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// The workspace the request is for: the one `handle_a2a` names, or the one of
    /// `initialize` (SPEC §17). Keep per-workspace state apart by its id; its `state_dir` is
    /// where this workspace's files belong.
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// Completes when the host cancels the request, or once the request has been answered.
    /// Use it in `tokio::select!` to stop work early (see [`crate::Backend::cancel_grace`]).
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Whether the request was cancelled (or already answered).
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// A clone of the request's cancellation token, for tasks the handler starts.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// When the host stops waiting for the answer (`context.deadline`), when it could be read.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// The time left until the deadline (zero once it has passed); `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.duration_since(SystemTime::now()).unwrap_or_default())
    }

    /// Tells the host the request is still being worked on, which resets its idle timer. Only
    /// hosts of backends that advertise the `progress` capability apply an idle timer. The
    /// message is logged by the host, never shown to the sender. Ignored once the request was
    /// cancelled or answered.
    pub async fn progress(&self, message: impl Into<String>) {
        self.send_progress(Some(message.into()), None).await;
    }

    /// Like [`RequestContext::progress`], with a completion percentage (0–100).
    pub async fn progress_percent(&self, message: impl Into<String>, percent: f64) {
        self.send_progress(Some(message.into()), Some(percent))
            .await;
    }

    /// Like [`RequestContext::progress`], without a message.
    pub async fn keep_alive(&self) {
        self.send_progress(None, None).await;
    }

    async fn send_progress(&self, message: Option<String>, percent: Option<f64>) {
        if self.token.is_cancelled() {
            return;
        }
        let mut params = ProgressParams::new(self.id.clone());
        params.message = message;
        params.percent = percent;
        if let Ok(line) = encode::notification::<Progress>(&params) {
            // A closed stream means the host is gone; the handler learns it from cancellation.
            let _ = self.outbox.send(line).await;
        }
    }

    /// Calls to the host made through this handle carry this request's id in
    /// `params._meta.requestId`.
    pub fn host(&self) -> &HostHandle {
        &self.host
    }

    /// The peer calls, tied to this request: they carry its id, and the *i*-th
    /// [`Peers::send_to_peer`] gets the message id `call_message_id(idempotencyKey, i)`.
    pub fn peers(&self) -> Peers<'_> {
        Peers::new(&self.host, Some(&self.sends))
    }
}
