//! Everything a [`Supervisor`](super::Supervisor) can be told: the command, the workspace, the
//! environment, and every timer (so tests can use milliseconds for the one under test).

use std::path::PathBuf;
use std::time::Duration;

use super::command::BackendCommand;
use super::env::EnvConfig;
use super::handlers::HostHandlers;
use super::process::Ladder;

/// How to run one backend.
#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// The backend command.
    pub command: BackendCommand,
    /// The name used in logs before the backend names itself; default: the program's name.
    pub name: Option<String>,
    /// The workspace the backend serves (`MOLECULE_WORKSPACE_ID`, `initialize`).
    pub workspace_id: String,
    /// The backend's own state directory (`MOLECULE_STATE_DIR`); created 0700 at start.
    pub state_dir: PathBuf,
    /// The backend's environment.
    pub env: EnvConfig,
    /// The longest line either side may write (advertised as `limits.maxMessageBytes`).
    pub max_message_bytes: usize,
    /// Timers.
    pub timeouts: Timeouts,
    /// Restarts and the crash-loop breaker.
    pub restart: RestartPolicy,
    /// Stderr handling.
    pub stderr: StderrLimits,
    /// The backend → host methods served (advertised as `capabilities.hostMethods`).
    pub handlers: HostHandlers,
    /// How many backend → host calls may be in flight at once (64); a call past the bound is
    /// answered at once with 1016 (`data.class` `in_flight`).
    pub host_calls_in_flight: usize,
}

/// The default of [`SupervisorConfig::host_calls_in_flight`].
pub const HOST_CALLS_IN_FLIGHT: usize = 64;

impl SupervisorConfig {
    /// A configuration with the documented defaults.
    pub fn new(
        command: BackendCommand,
        workspace_id: impl Into<String>,
        state_dir: PathBuf,
    ) -> Self {
        SupervisorConfig {
            command,
            name: None,
            workspace_id: workspace_id.into(),
            state_dir,
            env: EnvConfig::default(),
            max_message_bytes: molecule_protocol::codec::DEFAULT_MAX_MESSAGE_BYTES,
            timeouts: Timeouts::default(),
            restart: RestartPolicy::default(),
            stderr: StderrLimits::default(),
            handlers: HostHandlers::default(),
            host_calls_in_flight: HOST_CALLS_IN_FLIGHT,
        }
    }

    /// The name used in logs.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.command.name())
    }
}

/// Every timer of the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From spawn to the `initialize` result (30 s).
    pub startup: Duration,
    /// The hard timeout of one request (10 min); a call may override it.
    pub request: Duration,
    /// The idle timeout, reset by `$/progress` (120 s); applied only to backends that
    /// advertise `progress`. `None` disables it.
    pub idle: Option<Duration>,
    /// How long to wait for the answer to a `$/cancelRequest` (10 s).
    pub cancel_grace: Duration,
    /// How long shutdown lets in-flight requests finish (30 s).
    pub drain: Duration,
    /// How long to wait for an exit after closing stdin (5 s).
    pub eof_wait: Duration,
    /// How long to wait after SIGTERM before SIGKILL (5 s).
    pub term_wait: Duration,
    /// A write to the backend's stdin blocked this long means it is hung (10 s).
    pub write: Duration,
    /// Once the backend has exited, how long its pipes may stay open (1 s): a descendant that
    /// holds them is killed after that.
    pub pipe_grace: Duration,
    /// How often the backend's descendants are looked at, so that one that leaves its process
    /// group is still known when its parent dies (5 s).
    pub descendant_scan: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            startup: Duration::from_secs(30),
            request: Duration::from_secs(600),
            idle: Some(Duration::from_secs(120)),
            cancel_grace: Duration::from_secs(10),
            drain: Duration::from_secs(30),
            eof_wait: Duration::from_secs(5),
            term_wait: Duration::from_secs(5),
            write: Duration::from_secs(10),
            pipe_grace: Duration::from_secs(1),
            descendant_scan: Duration::from_secs(5),
        }
    }
}

impl Timeouts {
    /// The stop ladder's waits.
    pub fn ladder(&self) -> Ladder {
        Ladder {
            eof_wait: self.eof_wait,
            term_wait: self.term_wait,
        }
    }
}

/// Restart backoff and the crash-loop breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The first restart delay (1 s), doubled per crash, with jitter.
    pub backoff_base: Duration,
    /// The longest restart delay (60 s).
    pub backoff_max: Duration,
    /// A backend up this long resets the backoff (5 min).
    pub healthy_after: Duration,
    /// This many crashes… (5)
    pub breaker_crashes: u32,
    /// …within this window open the breaker (3 min).
    pub breaker_window: Duration,
    /// How long the breaker stays open before one trial start (60 s).
    pub breaker_cooldown: Duration,
    /// This many cancels in a row left unanswered restart the backend (3).
    pub unanswered_cancels: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(300),
            breaker_crashes: 5,
            breaker_window: Duration::from_secs(180),
            breaker_cooldown: Duration::from_secs(60),
            unanswered_cancels: 3,
        }
    }
}

/// How the backend's stderr is read and logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StderrLimits {
    /// Longer lines are cut (64 KiB).
    pub line_cap: usize,
    /// How much of the end of stderr is kept for crash reports (16 KiB).
    pub tail_bytes: usize,
    /// At most this many lines are logged… (1000)
    pub rate_lines: u32,
    /// …per window (10 s); the rest are counted and summarised.
    pub rate_window: Duration,
}

impl Default for StderrLimits {
    fn default() -> Self {
        StderrLimits {
            line_cap: 64 * 1024,
            tail_bytes: 16 * 1024,
            rate_lines: 1000,
            rate_window: Duration::from_secs(10),
        }
    }
}
