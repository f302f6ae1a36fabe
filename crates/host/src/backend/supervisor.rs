//! The handle the rest of the host uses: start a backend, send it work within its concurrency,
//! watch its status, and shut it down.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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
use super::process::StopReport;
use super::request::{self, Call};
use super::stats::{Counter, Counters, Stats};
use super::stderr::StderrTail;

/// The state of the backend, as the heartbeat reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A backend is running and takes requests.
    Ready,
    /// The backend ended; a new one is being started after the backoff.
    Restarting,
    /// The backend keeps crashing: no requests until one trial start at `until`.
    BreakerOpen {
        /// When the trial start happens.
        until: Instant,
    },
    /// Shutdown has begun: no new requests.
    ShuttingDown,
    /// No backend runs and none will.
    Stopped,
}

/// The supervisor's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The state.
    pub state: State,
    /// The running backend's pid.
    pub pid: Option<u32>,
    /// Crashes (and failed restarts) since start.
    pub crashes: u64,
    /// The latest crash or failed start, in one line.
    pub last_error: Option<String>,
}

/// Per-call options.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// Overrides the configured hard timeout.
    pub timeout: Option<Duration>,
    /// The caller's own deadline: the hard timeout ends there when that is sooner.
    pub deadline: Option<SystemTime>,
    /// Cancels the call: the backend gets `$/cancelRequest` and the cancel grace to answer.
    pub cancel: Option<CancellationToken>,
    /// The reason the backend is told when `cancel` fires (default `other`).
    pub cancel_reason: CancelReason,
}

/// What a shutdown did.
#[derive(Clone, Debug, Default)]
pub struct ShutdownReport {
    /// Requests in flight at the start that finished within the drain.
    pub finished: usize,
    /// Requests still in flight after the drain, cancelled with reason `host_shutdown`.
    pub cancelled: usize,
    /// How the backend process was stopped (none was running when the breaker was open).
    pub stop: Option<StopReport>,
}

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
}

struct Handle {
    shared: Arc<Supervision>,
    stop: mpsc::UnboundedSender<StopRequest>,
    abandon: CancellationToken,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The last handle is gone without a shutdown: stop the backend at once.
        self.abandon.cancel();
    }
}

/// Runs one backend process: restarts it when it crashes, and sends it requests.
#[derive(Clone)]
pub struct Supervisor {
    handle: Arc<Handle>,
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
        });
        let (stop, stop_rx) = mpsc::unbounded_channel();
        tokio::spawn(manage(shared.clone(), instance, stop_rx, abandon.clone()));
        Ok(Supervisor {
            handle: Arc::new(Handle {
                shared,
                stop,
                abandon,
            }),
        })
    }

    /// The latest backend's answer to `initialize`.
    pub fn backend_info(&self) -> Arc<InitializeResult> {
        lock(&self.handle.shared.info).clone()
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
            let (instance, _permit) = self.acquire(&opts, true).await?;
            let hard = self.hard_timeout(&mut params, &opts);
            // SPEC §17: a backend that serves several workspaces is told each message's.
            if instance.info.capabilities.workspaces() > 1 && params.workspace.is_none() {
                let id = self.handle.shared.config.workspace_id.clone();
                params.workspace = Some(WorkspaceRef::new(id));
            }
            let idle = if instance.info.capabilities.progress {
                self.handle.shared.config.timeouts.idle
            } else {
                None
            };
            let _inflight = Inflight::new(instance.clone());
            let call = Call {
                method: name::HANDLE_A2A,
                params: &params,
                hard,
                idle,
                cancel: opts.cancel.as_ref(),
                cancel_reason: opts.cancel_reason,
                scoped: true,
            };
            // Not sent: that backend ended first, and the next one gets the request.
            let Some(outcome) = request::run(&instance.ctx(), call).await else {
                continue;
            };
            return serde_json::from_value(outcome?)
                .map_err(|e| CallError::Protocol(ProtocolViolation::BadResult(e.to_string())));
        }
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
                scoped: false,
            };
            if let Some(outcome) = request::run(&instance.ctx(), call).await {
                return outcome;
            }
        }
    }

    /// Stops taking work, lets in-flight requests finish within the drain timeout (unless
    /// `drain` is false, or a later call passes false), cancels the rest, then stops the
    /// backend by the ladder and sweeps its descendants.
    pub async fn shutdown(&self, drain: bool) -> ShutdownReport {
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
