//! The handle the rest of the host uses: start a backend, send it work within its concurrency,
//! watch its status, and shut it down.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use molecule_protocol::methods::{CancelReason, WorkspaceRef, name};
use molecule_protocol::time::format_rfc3339_millis;
use molecule_protocol::{HandleA2aParams, HandleA2aResult, InitializeResult};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::config::SupervisorConfig;
use super::error::{CallError, ProtocolViolation, StartError, Unavailable};
use super::instance::Instance;
use super::manager::{Current, StopRequest, manage};
use super::request::{self, Call};
use super::stats::{Counter, Counters, Stats};
pub use super::status::{CallOptions, ShutdownReport, State, Status};
use super::stderr::StderrTail;
use super::tenant::Tenant;

/// The supervision of one backend: what the [`Supervisor`] handle and the lifecycle task
/// share (the current instance, the status, the counters, the shutdown's report).
pub(crate) struct Supervision {
    pub(crate) config: SupervisorConfig,
    pub(crate) current: watch::Sender<Current>,
    pub(crate) status: watch::Sender<Status>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) info: Mutex<Arc<InitializeResult>>,
    pub(crate) tail: Mutex<Arc<StderrTail>>,
    pub(crate) skip_drain: CancellationToken,
    pub(crate) final_report: Mutex<Option<ShutdownReport>>,
    /// The workspaces open in a shared process (SPEC §17), the one it was started for first;
    /// empty for a process that serves one workspace.
    pub(crate) tenants: Mutex<Vec<Arc<Tenant>>>,
    /// Held while workspaces are opened, closed, or reopened in a new process.
    pub(crate) membership: tokio::sync::Mutex<()>,
    /// Its last workspace closed: it is stopping and takes no more.
    pub(crate) retired: AtomicBool,
    /// An open went unanswered in time: it takes no more workspaces.
    pub(crate) full: AtomicBool,
    /// The host is stopping: workspaces stop without `workspace/close`.
    pub(crate) stopping_all: AtomicBool,
}

pub(crate) struct Handle {
    pub(crate) shared: Arc<Supervision>,
    stop: mpsc::UnboundedSender<StopRequest>,
    abandon: CancellationToken,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The last handle is gone without a shutdown: stop the backend at once.
        self.abandon.cancel();
    }
}

/// Runs one backend process: restarts it when it crashes, and sends it requests. A handle is
/// either the process's, or (for a process shared by several workspaces) one workspace's.
#[derive(Clone)]
pub struct Supervisor {
    pub(crate) handle: Arc<Handle>,
    pub(crate) tenant: Option<Arc<Tenant>>,
}

impl Supervisor {
    /// Spawns the backend and completes the handshake. A failure here is permanent until the
    /// backend is fixed (exit code 3); later failures are restarts.
    pub async fn start(config: SupervisorConfig) -> Result<Supervisor, StartError> {
        let counters = Arc::new(Counters::default());
        let abandon = CancellationToken::new();
        let instance = Instance::start(&config, &counters, &abandon).await?;
        counters.bump(Counter::starts);
        tracing::info!(
            backend = %instance.info.backend.name,
            version = %instance.info.backend.version,
            pid = instance.pid,
            max_concurrency = instance.info.capabilities.concurrency(),
            "backend ready"
        );
        let status = Status {
            state: State::Ready,
            pid: Some(instance.pid),
            crashes: 0,
            last_error: None,
        };
        let shared = Arc::new(Supervision {
            config,
            current: watch::channel(Current::Ready(instance.clone())).0,
            status: watch::channel(status).0,
            counters,
            info: Mutex::new(instance.info.clone()),
            tail: Mutex::new(instance.tail.clone()),
            skip_drain: CancellationToken::new(),
            final_report: Mutex::new(None),
            tenants: Mutex::new(Vec::new()),
            membership: tokio::sync::Mutex::new(()),
            retired: AtomicBool::new(false),
            full: AtomicBool::new(false),
            stopping_all: AtomicBool::new(false),
        });
        let (stop, stop_rx) = mpsc::unbounded_channel();
        tokio::spawn(manage(shared.clone(), instance, stop_rx, abandon.clone()));
        Ok(Supervisor {
            handle: Arc::new(Handle {
                shared,
                stop,
                abandon,
            }),
            tenant: None,
        })
    }

    /// The latest backend's answer to `initialize` (with this workspace's agent card, when
    /// its `workspace/open` answered one).
    pub fn backend_info(&self) -> Arc<InitializeResult> {
        let info = lock(&self.handle.shared.info).clone();
        match self.tenant.as_ref().and_then(|t| lock(&t.card).clone()) {
            Some(card) => {
                let mut own = (*info).clone();
                own.agent_card = Some(card);
                Arc::new(own)
            }
            None => info,
        }
    }

    /// The workspace this handle's requests are for.
    pub fn workspace_id(&self) -> &str {
        match &self.tenant {
            Some(t) => &t.spec.id,
            None => &self.handle.shared.config.workspace_id,
        }
    }

    /// The pid of the process serving this workspace now, when one runs.
    pub fn pid(&self) -> Option<u32> {
        self.handle.shared.status.borrow().pid
    }

    /// The status, to watch.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.handle.shared.status.subscribe()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.handle.shared.counters.snapshot()
    }

    /// The end of the latest backend's stderr.
    pub fn stderr_tail(&self) -> String {
        lock(&self.handle.shared.tail).text()
    }

    /// Hands one inbound message to the backend and returns its reply (its one outcome).
    ///
    /// Waits for a free slot (at most the backend's `maxConcurrency` run at once) and, while the
    /// backend restarts, for it to be ready. The hard timeout is `opts.timeout` or the
    /// configured one, shortened to `opts.deadline` when that is sooner. The supervisor alone
    /// writes `params.context.deadline` (the end of that timeout, from when the request is
    /// sent): whatever the caller put there is replaced, never read.
    pub async fn handle_a2a(
        &self,
        mut params: HandleA2aParams,
        opts: CallOptions,
    ) -> Result<HandleA2aResult, CallError> {
        loop {
            let turn = self.turn(&opts).await?;
            let (instance, _permit) = self.acquire(&opts, true).await?;
            drop(turn);
            // Counted before the check, so a close either sees it in flight or it sees the close.
            let _own = self.tenant.as_ref().map(|t| t.enter());
            if self
                .tenant
                .as_ref()
                .is_some_and(|t| t.closing.is_cancelled())
            {
                return Err(CallError::Unavailable(Unavailable::ShuttingDown));
            }
            let hard = self.hard_timeout(&mut params, &opts);
            let workspace = self.workspace_id();
            // SPEC §17: a backend that serves several workspaces is told each message's.
            if instance.info.capabilities.workspaces() > 1 && params.workspace.is_none() {
                params.workspace = Some(WorkspaceRef::new(workspace));
            }
            let idle = if instance.info.capabilities.progress {
                self.handle.shared.config.timeouts.idle
            } else {
                None
            };
            let _inflight = Inflight::new(instance.clone());
            // A workspace of a shared process is cancelled alone when it closes.
            let token = self.tenant.as_ref().map(|t| t.token_for(&instance));
            let mut ctx = instance.ctx();
            if let Some(token) = &token {
                ctx.shutdown = token;
            }
            let call = Call {
                method: name::HANDLE_A2A,
                params: &params,
                hard,
                idle,
                cancel: opts.cancel.as_ref(),
                cancel_reason: opts.cancel_reason,
                scope: Some(workspace),
                opens: None,
            };
            // Not sent: that backend ended first, and the next one gets the request.
            let Some(outcome) = request::run(&ctx, call).await else {
                continue;
            };
            return serde_json::from_value(outcome?)
                .map_err(|e| CallError::Protocol(ProtocolViolation::BadResult(e.to_string())));
        }
    }

    /// For one workspace of a shared process: refused once it is closing, opened again if it
    /// was parked, and its turn to queue for a slot (one request per workspace waits for a slot
    /// at a time, so a freed slot goes to the workspace that has waited longest, SPEC §17.3
    /// rule 5).
    async fn turn(&self, opts: &CallOptions) -> Result<Option<OwnedSemaphorePermit>, CallError> {
        let Some(t) = &self.tenant else {
            return Ok(None);
        };
        if t.closing.is_cancelled() {
            return Err(CallError::Unavailable(Unavailable::ShuttingDown));
        }
        self.unpark(t).await?;
        Ok(Some(
            t.turn(opts.cancel.as_ref(), opts.cancel_reason).await?,
        ))
    }

    /// Sends any request (`ping`…) and returns its result. It takes no concurrency slot.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let opts = CallOptions::default();
        loop {
            let (instance, _) = self.acquire(&opts, false).await?;
            let _inflight = Inflight::new(instance.clone());
            let call = Call {
                method,
                params: &params,
                hard: self.handle.shared.config.timeouts.request,
                idle: None,
                cancel: None,
                cancel_reason: CancelReason::Other,
                scope: None,
                opens: None,
            };
            if let Some(outcome) = request::run(&instance.ctx(), call).await {
                return outcome;
            }
        }
    }

    /// Stops taking work, lets in-flight requests finish within the drain timeout (unless
    /// `drain` is false, or a later call passes false), cancels the rest, then stops the
    /// backend by the ladder and sweeps its descendants.
    ///
    /// On the handle of one workspace of a shared process, it closes that workspace only
    /// (SPEC §17.3 rule 6); the last one to close stops the process.
    pub async fn shutdown(&self, drain: bool) -> ShutdownReport {
        match &self.tenant {
            Some(tenant) => self.close(tenant, drain).await,
            None => self.stop_process(drain).await,
        }
    }

    /// Stops the process, whoever's handle this is.
    pub(crate) async fn stop_process(&self, drain: bool) -> ShutdownReport {
        let shared = &self.handle.shared;
        if !drain {
            shared.skip_drain.cancel();
        }
        let (reply, report) = oneshot::channel();
        if self.handle.stop.send(StopRequest { drain, reply }).is_ok()
            && let Ok(report) = report.await
        {
            return report;
        }
        // Another call did the shutdown: wait for its outcome.
        let mut status = shared.status.subscribe();
        let _ = status.wait_for(|s| s.state == State::Stopped).await;
        lock(&shared.final_report).clone().unwrap_or_default()
    }

    /// The instance to use, once ready, and a slot on it when `slot` is true.
    async fn acquire(
        &self,
        opts: &CallOptions,
        slot: bool,
    ) -> Result<(Arc<Instance>, Option<OwnedSemaphorePermit>), CallError> {
        let cancelled = CallError::Cancelled {
            reason: opts.cancel_reason,
        };
        let never = CancellationToken::new();
        let cancel = opts.cancel.as_ref().unwrap_or(&never);
        if cancel.is_cancelled() {
            return Err(cancelled);
        }
        let mut current = self.handle.shared.current.subscribe();
        loop {
            let state = current.borrow_and_update().clone();
            let instance = match state {
                Current::Ready(instance) => instance,
                Current::Restarting => {
                    tokio::select! {
                        changed = current.changed() => if changed.is_err() {
                            return Err(CallError::Unavailable(Unavailable::Stopped));
                        },
                        _ = cancel.cancelled() => return Err(cancelled),
                    }
                    continue;
                }
                Current::BreakerOpen(until) => {
                    return Err(CallError::Unavailable(Unavailable::BreakerOpen { until }));
                }
                Current::ShuttingDown => {
                    return Err(CallError::Unavailable(Unavailable::ShuttingDown));
                }
                Current::Stopped => return Err(CallError::Unavailable(Unavailable::Stopped)),
            };
            if instance.ended.is_cancelled() {
                // The backend is ending; the next state is about to be published.
                tokio::select! {
                    _ = current.changed() => {}
                    _ = cancel.cancelled() => return Err(cancelled),
                }
                continue;
            }
            if !slot {
                return Ok((instance, None));
            }
            tokio::select! {
                permit = instance.slots.clone().acquire_owned() => match permit {
                    Ok(permit) => return Ok((instance, Some(permit))),
                    // Closed: shutdown began, or the backend ended; the new state is published.
                    Err(_) => continue,
                },
                _ = instance.ended.cancelled() => continue,
                _ = cancel.cancelled() => return Err(cancelled),
            }
        }
    }

    /// The hard timeout of a request sent now, written into its params as the deadline.
    fn hard_timeout(&self, params: &mut HandleA2aParams, opts: &CallOptions) -> Duration {
        let now = SystemTime::now();
        let mut hard = opts
            .timeout
            .unwrap_or(self.handle.shared.config.timeouts.request);
        if let Some(theirs) = opts.deadline {
            hard = hard.min(theirs.duration_since(now).unwrap_or_default());
        }
        params.context.deadline = format_rfc3339_millis(now + hard);
        hard
    }
}

/// Counts one request in flight on an instance while it lives.
struct Inflight {
    instance: Arc<Instance>,
}

impl Inflight {
    fn new(instance: Arc<Instance>) -> Self {
        instance.inflight.send_modify(|n| *n += 1);
        Inflight { instance }
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        self.instance
            .inflight
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_be_shared_between_tasks() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Supervisor>();
        shareable::<Status>();
        shareable::<CallOptions>();
    }
}
