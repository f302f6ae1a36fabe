//! What a [`Supervisor`](super::Supervisor) reports (its state and status, what a shutdown did)
//! and what a caller may say per call.

use std::time::{Duration, Instant, SystemTime};

use molecule_protocol::methods::CancelReason;
use tokio_util::sync::CancellationToken;

use super::process::StopReport;

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
