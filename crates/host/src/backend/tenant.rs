//! One workspace of a backend process that serves several (SPEC §17.3): what is its own in the
//! shared process. The process is the supervisor's as usual (one restart policy, one breaker,
//! one `maxConcurrency` of slots); each workspace has its requests in flight (drained and
//! cancelled when it closes, while the others carry on), its turn in the queue for the slots,
//! its agent card, and its backend → host calls (routed by [`super::routes`]). Opening, closing
//! and reopening are in [`super::membership`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use molecule_protocol::methods::{AgentCard, CancelReason};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::config::SupervisorConfig;
use super::error::CallError;
use super::handlers::HostHandlers;
use super::instance::Instance;
use super::supervisor::lock;

/// What a workspace brings to a shared process: what a process of its own would have been
/// started with for it.
#[derive(Clone, Debug)]
pub struct WorkspaceSpec {
    /// The workspace's id.
    pub id: String,
    /// Its backend state directory (`stateDir`, its `MOLECULE_STATE_DIR`).
    pub state_dir: PathBuf,
    /// Its host socket (`hostSocket`, its `MOLECULE_HOST_SOCKET`).
    pub host_socket: Option<PathBuf>,
    /// Its backend → host methods.
    pub handlers: HostHandlers,
}

impl WorkspaceSpec {
    /// The workspace `config` would start a process for.
    pub fn of(config: &SupervisorConfig) -> Self {
        WorkspaceSpec {
            id: config.workspace_id.clone(),
            state_dir: config.state_dir.clone(),
            host_socket: config.env.host_socket.clone(),
            handlers: config.handlers.clone(),
        }
    }

    /// `config` made to start a process for this workspace.
    pub(crate) fn apply(&self, mut config: SupervisorConfig) -> SupervisorConfig {
        config.workspace_id = self.id.clone();
        config.state_dir = self.state_dir.clone();
        config.env.host_socket = self.host_socket.clone();
        config.handlers = self.handlers.clone();
        config
    }
}

/// Why a workspace could not join a shared process; it then gets a process of its own.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The process is restarting, parked, or stopping.
    #[error("the shared backend process is not taking workspaces now")]
    NotReady,
    /// The process serves as many workspaces as it advertised.
    #[error("the shared backend process already serves {max} workspaces, its maxWorkspaces")]
    Full {
        /// Its `maxWorkspaces`.
        max: u32,
    },
    /// The workspace's state directory could not be created.
    #[error("cannot create the backend state directory {}: {source}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The backend answered `workspace/open` with an error, or not in time.
    #[error("the backend refused workspace/open: {0}")]
    Refused(CallError),
}

/// One workspace open in a shared process.
pub(crate) struct Tenant {
    pub(crate) spec: WorkspaceSpec,
    /// The card `workspace/open` answered, when it differs from `initialize`'s.
    pub(crate) card: Mutex<Option<AgentCard>>,
    /// No new requests: the workspace is closing.
    pub(crate) closing: CancellationToken,
    /// A second shutdown call: skip the drain.
    pub(crate) skip_drain: CancellationToken,
    pub(crate) inflight: watch::Sender<usize>,
    /// Its one place in the queue for the process's slots.
    queue: Arc<Semaphore>,
    /// The token its requests on the current process run under: a child of that process's
    /// shutdown token, so either ends them.
    cancel: Mutex<Option<(Weak<Instance>, CancellationToken)>>,
    /// A restarted process refused it: its requests wait for a new open, tried after then.
    pub(crate) parked: Mutex<Option<Instant>>,
}

impl Tenant {
    pub(crate) fn new(spec: WorkspaceSpec, card: Option<AgentCard>) -> Arc<Tenant> {
        Arc::new(Tenant {
            spec,
            card: Mutex::new(card),
            closing: CancellationToken::new(),
            skip_drain: CancellationToken::new(),
            inflight: watch::channel(0).0,
            queue: Arc::new(Semaphore::new(1)),
            cancel: Mutex::new(None),
            parked: Mutex::new(None),
        })
    }

    /// Waits for this workspace's turn to queue for a slot of the process (its earlier
    /// requests queue first), unless `cancel` fires.
    pub(crate) async fn turn(
        &self,
        cancel: Option<&CancellationToken>,
        reason: CancelReason,
    ) -> Result<OwnedSemaphorePermit, CallError> {
        let never = CancellationToken::new();
        tokio::select! {
            permit = self.queue.clone().acquire_owned() => {
                permit.map_err(|_| CallError::Unavailable(super::error::Unavailable::ShuttingDown))
            }
            () = cancel.unwrap_or(&never).cancelled() => Err(CallError::Cancelled { reason }),
        }
    }

    /// The token for this workspace's requests on `instance`.
    pub(crate) fn token_for(&self, instance: &Arc<Instance>) -> CancellationToken {
        let mut slot = lock(&self.cancel);
        if let Some((on, token)) = slot.as_ref()
            && Weak::ptr_eq(on, &Arc::downgrade(instance))
        {
            return token.clone();
        }
        let token = instance.shutdown.child_token();
        *slot = Some((Arc::downgrade(instance), token.clone()));
        token
    }

    /// Counts one request in flight until the guard drops.
    pub(crate) fn enter(self: &Arc<Self>) -> TenantInflight {
        self.inflight.send_modify(|n| *n += 1);
        TenantInflight(self.clone())
    }

    /// While parked (a restarted process refused it), until when.
    pub(crate) fn parked_until(&self) -> Option<Instant> {
        *lock(&self.parked)
    }

    /// Drains this workspace's requests (unless `drain` is false), then cancels the rest with
    /// `host_shutdown`; returns (finished, cancelled).
    pub(crate) async fn settle(&self, drain: bool, limits: (Duration, Duration)) -> (usize, usize) {
        let (drain_for, grace) = limits;
        let mut inflight = self.inflight.subscribe();
        let at_start = *inflight.borrow_and_update();
        if drain && at_start > 0 {
            tokio::select! {
                _ = timeout(drain_for, inflight.wait_for(|n| *n == 0)) => {}
                _ = self.skip_drain.cancelled() => {}
            }
        }
        let left = *inflight.borrow();
        if left > 0 {
            if let Some((_, token)) = lock(&self.cancel).as_ref() {
                token.cancel();
            }
            let _ = timeout(
                grace + Duration::from_secs(1),
                inflight.wait_for(|n| *n == 0),
            )
            .await;
        }
        (at_start.saturating_sub(left), left)
    }
}

/// One request of a workspace in flight.
pub(crate) struct TenantInflight(Arc<Tenant>);

impl Drop for TenantInflight {
    fn drop(&mut self) {
        self.0.inflight.send_modify(|n| *n = n.saturating_sub(1));
    }
}
