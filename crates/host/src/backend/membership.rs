//! Which workspaces a shared backend process serves (SPEC §17.3): the first is the one it was
//! started for; more are opened with `workspace/open` and closed with `workspace/close`; after a
//! crash the next process is started for the first open one and reopens the others.
//!
//! Every change holds the process's `membership` lock, so an open, a close and a restart never
//! interleave: a restart publishes the new process only once its workspaces are open again, and
//! a close that follows it finds them there.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use molecule_protocol::methods::{
    AgentCard, CancelReason, WorkspaceCloseParams, WorkspaceOpenParams, WorkspaceOpenResult,
    WorkspaceRef, name,
};
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::error::{CallError, ProtocolViolation, StartError, Unavailable};
use super::instance::Instance;
use super::manager::{Current, on_started};
use super::request::{self, Call};
use super::supervisor::{ShutdownReport, Supervision, Supervisor, lock};
use super::tenant::{OpenError, Tenant, WorkspaceSpec};

impl Supervisor {
    /// When the backend advertised `maxWorkspaces` above 1: this process's handle (to open
    /// more workspaces with [`Supervisor::open`]) and the handle of the workspace it was started
    /// for. `Err` (this handle back) for a backend that serves one workspace.
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
        self.is_serving()
            && !shared.full.load(Ordering::Acquire)
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

    /// The host is stopping: its workspaces stop without `workspace/close` each, and the last
    /// stops the process (SPEC §17.3 rule 10), so a backend that no longer answers cannot hold
    /// up the shutdown once per workspace.
    pub fn stopping_all(&self) {
        self.handle
            .shared
            .stopping_all
            .store(true, Ordering::Release);
    }

    /// Opens `spec`'s workspace in this shared process (`workspace/open`) and returns its
    /// handle, whose requests name it and whose shutdown closes it.
    pub async fn open(&self, spec: WorkspaceSpec) -> Result<Supervisor, OpenError> {
        let shared = &self.handle.shared;
        let _members = shared.membership.lock().await;
        let instance = ready(shared).ok_or(OpenError::NotReady)?;
        let max = instance.info.capabilities.workspaces();
        if lock(&shared.tenants).len() >= max as usize {
            return Err(OpenError::Full { max });
        }
        crate::private_dir::ensure(&spec.state_dir).map_err(|source| OpenError::StateDir {
            path: spec.state_dir.clone(),
            source,
        })?;
        let limit = shared.config.timeouts.startup;
        let card = match open_on(&instance, &spec, limit).await {
            Ok(card) => card,
            Err(e) => {
                undo_open(shared, &instance, &spec.id, &e).await;
                return Err(e);
            }
        };
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
        let mut report = ShutdownReport {
            finished,
            cancelled,
            stop: None,
        };
        let members = shared.membership.lock().await;
        let last = {
            let mut tenants = lock(&shared.tenants);
            tenants.retain(|other| !Arc::ptr_eq(other, tenant));
            tenants.is_empty()
        };
        if last {
            shared.retired.store(true, Ordering::Release);
            drop(members);
            report.stop = self.stop_process(drain).await.stop;
            return report;
        }
        if let Some(instance) = ready(shared) {
            if shared.stopping_all.load(Ordering::Acquire) {
                instance.conn.routes().close(&tenant.spec.id);
            } else {
                close_on(&instance, &tenant.spec.id, t.startup).await;
            }
        }
        report
    }

    /// A parked workspace (its restarted process refused it) opens again, once its wait is
    /// over; until then, and when the open fails again, its requests are refused as a breaker
    /// would refuse them, and tried again later.
    pub(crate) async fn unpark(&self, tenant: &Tenant) -> Result<(), CallError> {
        let Some(until) = tenant.parked_until() else {
            return Ok(());
        };
        let parked = CallError::Unavailable(Unavailable::BreakerOpen { until });
        if Instant::now() < until {
            return Err(parked);
        }
        let shared = &self.handle.shared;
        let _members = shared.membership.lock().await;
        if tenant.parked_until().is_none() {
            return Ok(());
        }
        let instance = ready(shared).ok_or(parked)?;
        match open_on(&instance, &tenant.spec, shared.config.timeouts.startup).await {
            Ok(card) => {
                *lock(&tenant.card) = card;
                *lock(&tenant.parked) = None;
                tracing::info!(workspace = %tenant.spec.id, pid = instance.pid, "the workspace is open again in the shared backend process");
                Ok(())
            }
            Err(e) => {
                let until = park(shared, tenant, &e);
                Err(CallError::Unavailable(Unavailable::BreakerOpen { until }))
            }
        }
    }
}

/// The running process, when it takes workspaces.
fn ready(shared: &Supervision) -> Option<Arc<Instance>> {
    let current = shared.current.borrow().clone();
    match current {
        Current::Ready(instance)
            if !instance.ended.is_cancelled() && !shared.retired.load(Ordering::Acquire) =>
        {
            Some(instance)
        }
        _ => None,
    }
}

/// After a failed open: one that was not answered in time may still be carried out by the
/// backend, so it is closed again, and a process that answers so slowly takes no more.
async fn undo_open(shared: &Supervision, instance: &Arc<Instance>, id: &str, e: &OpenError) {
    if let OpenError::Refused(CallError::Timeout(_)) = e {
        shared.full.store(true, Ordering::Release);
        close_on(instance, id, shared.config.timeouts.startup).await;
    } else {
        instance.conn.routes().close(id);
    }
}

/// Parks `tenant` for the breaker's cool-down after its reopen failed with `e`.
fn park(shared: &Supervision, tenant: &Tenant, e: &OpenError) -> Instant {
    let wait = shared.config.restart.breaker_cooldown;
    let until = Instant::now() + wait;
    *lock(&tenant.parked) = Some(until);
    tracing::error!(
        workspace = %tenant.spec.id,
        "the shared backend process refused to open the workspace again: {e}; it is parked, next try in {wait:?}"
    );
    until
}

/// Sends `workspace/open` for `spec` to `instance`; the reader routes its calls as it reads the
/// answer.
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
    let opens = Some((spec.id.as_str(), &spec.handlers));
    let answer = ask(instance, name::WORKSPACE_OPEN, &params, limit, opens)
        .await
        .map_err(OpenError::Refused)?;
    match serde_json::from_value::<WorkspaceOpenResult>(answer) {
        Ok(result) => Ok(result.agent_card),
        Err(e) => Err(OpenError::Refused(CallError::Protocol(
            ProtocolViolation::BadResult(e.to_string()),
        ))),
    }
}

/// Sends `workspace/close` for `id` and stops routing its calls; a refusal is logged (the
/// workspace's requests have all ended, so nothing is lost).
async fn close_on(instance: &Arc<Instance>, id: &str, limit: Duration) {
    let params = WorkspaceCloseParams::new(id);
    if let Err(e) = ask(instance, name::WORKSPACE_CLOSE, &params, limit, None).await {
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
    opens: Option<(&str, &super::handlers::HostHandlers)>,
) -> Result<Value, CallError> {
    let call = Call {
        method,
        params,
        hard: limit,
        idle: None,
        cancel: None,
        cancel_reason: CancelReason::Other,
        scope: None,
        opens,
    };
    match request::run(&instance.ctx(), call).await {
        Some(outcome) => outcome,
        // The process ended before the request was written.
        None => Err(CallError::Unavailable(Unavailable::Stopped)),
    }
}

/// Starts the next process of `shared` after a crash (SPEC §17.3 rule 9): `initialize` names
/// the first open workspace and `workspace/open` the others, within the new `maxWorkspaces`. A
/// workspace the new process refuses is parked alone (its requests wait and it is tried again
/// after the breaker's cool-down); the others serve. The process is published as ready only
/// once they are open.
pub(crate) async fn restart_all(
    shared: &Supervision,
    abort: &CancellationToken,
) -> Result<Arc<Instance>, StartError> {
    let _members = shared.membership.lock().await;
    if shared.retired.load(Ordering::Acquire) {
        return Err(StartError::Aborted);
    }
    let tenants: Vec<Arc<Tenant>> = lock(&shared.tenants)
        .iter()
        .filter(|t| !t.closing.is_cancelled())
        .cloned()
        .collect();
    let config = match tenants.first() {
        Some(first) => first.spec.apply(shared.config.clone()),
        None => shared.config.clone(),
    };
    let instance = Instance::start(&config, &shared.counters, abort).await?;
    let max = instance.info.capabilities.workspaces() as usize;
    if let Some(first) = tenants.first() {
        *lock(&first.parked) = None;
    }
    for (n, tenant) in tenants.iter().enumerate().skip(1) {
        if n >= max {
            let max = instance.info.capabilities.workspaces();
            park(shared, tenant, &OpenError::Full { max });
            continue;
        }
        let opened = tokio::select! {
            opened = open_on(&instance, &tenant.spec, config.timeouts.startup) => opened,
            () = abort.cancelled() => {
                instance.stop(config.timeouts.ladder());
                instance.exited().await;
                return Err(StartError::Aborted);
            }
        };
        match opened {
            Ok(card) => {
                *lock(&tenant.card) = card;
                *lock(&tenant.parked) = None;
            }
            Err(e) => {
                park(shared, tenant, &e);
            }
        }
    }
    on_started(shared, &instance);
    Ok(instance)
}
