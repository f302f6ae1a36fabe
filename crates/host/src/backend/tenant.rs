//! One backend process serving several workspaces (SPEC §17.3): the workspaces open in it, each
//! with its own [`Supervisor`] handle, opened with `workspace/open` and closed with
//! `workspace/close`, reopened in the next process after a crash.
//!
//! The process is the supervisor's as usual (one restart policy, one breaker, one
//! `maxConcurrency` of slots taken first come, first served). What is each workspace's: its
//! requests in flight (drained and cancelled when it closes, while the others carry on), its
//! agent card, and its backend → host calls (routed by [`super::routes`]). The last workspace to
//! close stops the process.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use molecule_protocol::methods::{
    AgentCard, WorkspaceCloseParams, WorkspaceOpenParams, WorkspaceOpenResult, WorkspaceRef, name,
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::config::SupervisorConfig;
use super::error::{CallError, StartError};
use super::handlers::HostHandlers;
use super::instance::Instance;
use super::manager::Current;
use super::request::{self, Call};
use super::supervisor::{ShutdownReport, Supervision, Supervisor, lock};
use molecule_protocol::methods::CancelReason;

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
    fn apply(&self, mut config: SupervisorConfig) -> SupervisorConfig {
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
    skip_drain: CancellationToken,
    inflight: watch::Sender<usize>,
    /// Its one place in the queue for the process's slots.
    queue: Arc<Semaphore>,
    /// The token its requests on the current process run under: a child of that process's
    /// shutdown token, so either ends them.
    cancel: Mutex<Option<(Weak<Instance>, CancellationToken)>>,
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

    /// Drains this workspace's requests (unless `drain` is false), then cancels the rest with
    /// `host_shutdown`; returns (finished, cancelled).
    async fn settle(&self, drain: bool, limits: (Duration, Duration)) -> (usize, usize) {
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

impl Supervisor {
    /// When the backend advertised `maxWorkspaces` above 1: this process's handle (to open
    /// more workspaces with [`Supervisor::open`]) and the handle of the workspace it was started
    /// for. `None` (and this handle back) for a backend that serves one workspace.
    pub fn share(self) -> Result<(Supervisor, Supervisor), Supervisor> {
        if self.backend_info().capabilities.workspaces() <= 1 || self.tenant.is_some() {
            return Err(self);
        }
        let shared = &self.handle.shared;
        let first = Tenant::new(WorkspaceSpec::of(&shared.config), None);
        lock(&shared.tenants).push(first.clone());
        let tenant = Supervisor {
            handle: self.handle.clone(),
            tenant: Some(first),
        };
        Ok((self, tenant))
    }

    /// Whether this shared process may take one more workspace now.
    pub fn has_room(&self) -> bool {
        let shared = &self.handle.shared;
        let max = self.backend_info().capabilities.workspaces() as usize;
        !shared.retired.load(Ordering::Acquire)
            && matches!(&*shared.current.borrow(), Current::Ready(_))
            && lock(&shared.tenants).len() < max
    }

    /// Whether this shared process still runs or will run again (it is not stopping).
    pub fn is_serving(&self) -> bool {
        let shared = &self.handle.shared;
        !shared.retired.load(Ordering::Acquire)
            && !matches!(
                &*shared.current.borrow(),
                Current::ShuttingDown | Current::Stopped
            )
    }

    /// Opens `spec`'s workspace in this shared process (`workspace/open`) and returns its
    /// handle, whose requests name it and whose shutdown closes it.
    pub async fn open(&self, spec: WorkspaceSpec) -> Result<Supervisor, OpenError> {
        let shared = &self.handle.shared;
        let _members = shared.membership.lock().await;
        let current = shared.current.borrow().clone();
        let Current::Ready(instance) = current else {
            return Err(OpenError::NotReady);
        };
        if shared.retired.load(Ordering::Acquire) || instance.ended.is_cancelled() {
            return Err(OpenError::NotReady);
        }
        let max = instance.info.capabilities.workspaces();
        if lock(&shared.tenants).len() >= max as usize {
            return Err(OpenError::Full { max });
        }
        crate::private_dir::ensure(&spec.state_dir).map_err(|source| OpenError::StateDir {
            path: spec.state_dir.clone(),
            source,
        })?;
        let card = open_on(&instance, &spec, shared.config.timeouts.startup).await?;
        let tenant = Tenant::new(spec, card);
        lock(&shared.tenants).push(tenant.clone());
        tracing::info!(workspace = %tenant.spec.id, pid = instance.pid, "the workspace joined a shared backend process");
        Ok(Supervisor {
            handle: self.handle.clone(),
            tenant: Some(tenant),
        })
    }

    /// Closes this handle's workspace (SPEC §17.3 rule 6): no new requests, its requests in
    /// flight drained and the rest cancelled, then `workspace/close`. The last workspace to
    /// close stops the process.
    pub(crate) async fn close(&self, tenant: &Arc<Tenant>, drain: bool) -> ShutdownReport {
        if !drain {
            tenant.skip_drain.cancel();
        }
        if tenant.closing.is_cancelled() {
            let mut inflight = tenant.inflight.subscribe();
            let _ = inflight.wait_for(|n| *n == 0).await;
            return ShutdownReport::default();
        }
        tenant.closing.cancel();
        let shared = &self.handle.shared;
        let t = shared.config.timeouts;
        let (finished, cancelled) = tenant.settle(drain, (t.drain, t.cancel_grace)).await;
        let members = shared.membership.lock().await;
        let last = {
            let mut tenants = lock(&shared.tenants);
            tenants.retain(|other| !Arc::ptr_eq(other, tenant));
            tenants.is_empty()
        };
        let mut report = ShutdownReport {
            finished,
            cancelled,
            stop: None,
        };
        if last {
            shared.retired.store(true, Ordering::Release);
            drop(members);
            report.stop = self.stop_process(drain).await.stop;
            return report;
        }
        let current = shared.current.borrow().clone();
        if let Current::Ready(instance) = current {
            close_on(&instance, &tenant.spec.id, t.startup).await;
        }
        report
    }
}

/// Sends `workspace/open` for `spec` to `instance` and, once answered, routes its calls.
async fn open_on(
    instance: &Arc<Instance>,
    spec: &WorkspaceSpec,
    limit: Duration,
) -> Result<Option<AgentCard>, OpenError> {
    let mut params = WorkspaceOpenParams::new(
        WorkspaceRef::new(spec.id.clone()),
        spec.state_dir.display().to_string(),
    );
    if let Some(socket) = &spec.host_socket {
        params = params.with_host_socket(socket.display().to_string());
    }
    let answer = ask(instance, name::WORKSPACE_OPEN, &params, limit)
        .await
        .map_err(OpenError::Refused)?;
    let result: WorkspaceOpenResult = serde_json::from_value(answer).map_err(|e| {
        OpenError::Refused(CallError::Protocol(
            super::error::ProtocolViolation::BadResult(e.to_string()),
        ))
    })?;
    instance.conn.routes().open(&spec.id, spec.handlers.clone());
    Ok(result.agent_card)
}

/// Sends `workspace/close` for `id` and stops routing its calls; a refusal is logged (the
/// workspace's requests have all ended, so nothing is lost).
async fn close_on(instance: &Arc<Instance>, id: &str, limit: Duration) {
    let params = WorkspaceCloseParams::new(id);
    if let Err(e) = ask(instance, name::WORKSPACE_CLOSE, &params, limit).await {
        tracing::warn!(workspace = %id, "the backend did not close the workspace cleanly: {e}");
    }
    instance.conn.routes().close(id);
}

/// One host → backend request on `instance`, within `limit`.
async fn ask<P: Serialize>(
    instance: &Arc<Instance>,
    method: &str,
    params: &P,
    limit: Duration,
) -> Result<Value, CallError> {
    let call = Call {
        method,
        params,
        hard: limit,
        idle: None,
        cancel: None,
        cancel_reason: CancelReason::Other,
        scope: None,
    };
    match request::run(&instance.ctx(), call).await {
        Some(outcome) => outcome,
        // The process ended before the request was written.
        None => Err(CallError::Unavailable(super::error::Unavailable::Stopped)),
    }
}

/// Starts the next process of `shared` after a crash: for the workspaces open in the last one,
/// `initialize` names the first and `workspace/open` the others (SPEC §17.3 rule 9). A refused
/// reopen fails the start, which the restart policy and the breaker then count.
pub(crate) async fn restart_all(
    shared: &Supervision,
    abort: &CancellationToken,
) -> Result<Arc<Instance>, StartError> {
    let _members = shared.membership.lock().await;
    let tenants = lock(&shared.tenants).clone();
    let config = match tenants.first() {
        Some(first) => first.spec.apply(shared.config.clone()),
        None => shared.config.clone(),
    };
    let instance = Instance::start(&config, &shared.counters, abort).await?;
    for tenant in tenants.iter().skip(1) {
        match open_on(&instance, &tenant.spec, config.timeouts.startup).await {
            Ok(card) => *lock(&tenant.card) = card,
            Err(e) => {
                instance.stop(config.timeouts.ladder());
                instance.exited().await;
                return Err(StartError::Reopen {
                    workspace: tenant.spec.id.clone(),
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(instance)
}
