//! What a running connect says about itself at one moment: the content of its status file
//! (`<state>/status.json`) and what the metrics are drawn from. Plain data, no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The status file's format version; a reader refuses another.
pub const FORMAT: u32 = 1;

/// One moment of one workspace's connect. Times are Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`FORMAT`].
    pub format: u32,
    /// The workspace.
    pub workspace: Uuid,
    /// The connect's process id.
    pub pid: u32,
    /// `starting` (before registration), `serving`, or `stopping`.
    pub state: String,
    /// The platform's API URL.
    pub platform_url: String,
    /// When the connect started.
    pub started_ms: u64,
    /// When this was written: a reader takes a file older than a few `interval_ms` for the
    /// trace of a process that is gone.
    pub written_ms: u64,
    /// How often the file is rewritten (it is also rewritten on every change).
    pub interval_ms: u64,
    /// Whether the workspace is registered.
    pub registered: bool,
    /// The latest heartbeat the platform accepted.
    pub last_heartbeat_ms: Option<u64>,
    /// The latest successful read of the activity feed.
    pub last_poll_ms: Option<u64>,
    /// Rows taken in from the feed (duplicates aside).
    pub rows_received: u64,
    /// Rows settled without an error.
    pub rows_answered: u64,
    /// Rows settled with an error.
    pub rows_failed: u64,
    /// Rows fetched and not settled.
    pub backlog: usize,
    /// Rows with the backend.
    pub in_flight: usize,
    /// Rows fetched above the saved cursor (settled ones waiting for an older row included):
    /// how far the cursor a restart would resume from trails the feed.
    pub cursor_lag_rows: usize,
    /// The latest error, in one line.
    pub last_error: Option<LastError>,
    /// The backend.
    pub backend: BackendSnapshot,
    /// The event stream: `off`, `connecting`, `live`, `down` or `unsupported`.
    pub stream: String,
    /// The platform's rate limit, once its answers have shown one.
    pub rate_limit: Option<RateLimit>,
    /// Failed platform exchanges, by class.
    pub platform_errors: BTreeMap<String, u64>,
    /// Where the metrics are served, when they are.
    pub metrics_addr: Option<String>,
    /// Empty when ready; else why not (what `/readyz` answers).
    pub not_ready: Option<String>,
}

/// The latest error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// When.
    pub at_ms: u64,
    /// What, in one line (never a message's content).
    pub text: String,
}

/// The backend's side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendSnapshot {
    /// `not_started`, `ready`, `restarting`, `breaker_open`, `shutting_down` or `stopped`.
    pub state: String,
    /// The running backend's pid.
    pub pid: Option<u32>,
    /// Backend processes started.
    pub starts: u64,
    /// Crashes and failed restarts.
    pub restarts: u64,
}

/// The rate limit as last reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests per window.
    pub limit: u32,
    /// Requests left in this window.
    pub remaining: u32,
}
