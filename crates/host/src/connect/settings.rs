//! The numbers `molecule connect` runs by: intervals, limits and timeouts, with their defaults.
//!
//! Every timer lives here so that a test can shorten the one it exercises (see the hidden flags
//! in [`super::args::TuningArgs`]).

use std::time::Duration;

use crate::wake::StreamSettings;

/// The heartbeat interval must stay below this: the platform marks a workspace stale after
/// 90 seconds without one.
pub const HEARTBEAT_LIMIT: Duration = Duration::from_secs(90);

/// The largest page the platform serves.
pub const MAX_BATCH: u32 = 500;

/// How far back the platform's activity feed can be read (its hard retention).
pub const MAX_LOOKBACK: Duration = Duration::from_secs(30 * 24 * 3600);

/// Polling the activity feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollSettings {
    /// Wait between polls that found nothing more, while the event stream is not live (1 s).
    pub interval: Duration,
    /// The event stream: on by default; while it is live the feed is read when an event says
    /// a message arrived, and every `stream.safety_interval` (30 s) besides.
    pub stream: StreamSettings,
    /// Rows per page (100; at most 500).
    pub batch_size: u32,
    /// A first start reads messages this far back (10 min).
    pub since: Duration,
    /// A first start reads at most this many rows back; older ones are skipped and counted
    /// (10,000).
    pub since_max_rows: usize,
    /// Most rows fetched and not yet settled; fetching stops while it is reached (1,000).
    pub window: usize,
    /// How often the recent feed is read again for rows that became visible late (30 s), as
    /// long as the newest row fetched is recent enough for that to find anything.
    pub overlap_interval: Duration,
    /// How far back that read looks (60 s).
    pub overlap_window: Duration,
    /// Clock-skew margin when reading back after a lost cursor (5 min).
    pub cursor_skew: Duration,
    /// Acknowledge settled rows (`POST /activity/ack`), off by default.
    pub ack: bool,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval: Duration::from_secs(1),
            stream: StreamSettings::default(),
            batch_size: 100,
            since: Duration::from_secs(600),
            since_max_rows: 10_000,
            window: 1_000,
            overlap_interval: Duration::from_secs(30),
            overlap_window: Duration::from_secs(60),
            cursor_skew: Duration::from_secs(300),
            ack: false,
        }
    }
}

/// Handing rows to the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Conversations handled at once, further capped by the backend's `maxConcurrency` (4).
    pub concurrency: u32,
    /// Deliveries of one message before it gets an error reply (5).
    pub max_attempts: u32,
    /// Automatic replies at this depth are delivered but not answered; deeper ones are
    /// dropped (4).
    pub hop_limit: u32,
    /// Messages without molecule metadata answered per peer with no message from a person in
    /// between, before that peer is paused (10; 0: no limit). See `engine::core::loops`.
    pub foreign_limit: u32,
    /// How long such a peer is paused, and the quiet spell that restarts its count (10 min).
    pub foreign_cooldown: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            concurrency: 4,
            max_attempts: 5,
            hop_limit: 4,
            foreign_limit: 10,
            foreign_cooldown: Duration::from_secs(600),
        }
    }
}

/// Every other timer and limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Heartbeat interval (20 s; under 90 s).
    pub heartbeat: Duration,
    /// Registration is repeated this often, in case the delivery mode was switched (1 h).
    pub reregister: Duration,
    /// The state file is written at most this often (100 ms).
    pub flush: Duration,
    /// The summary line is logged this often (60 s).
    pub summary: Duration,
    /// How often the status file is rewritten when nothing changes (2 s).
    pub status: Duration,
    /// The window of the heartbeat's error rate (5 min).
    pub error_window: Duration,
    /// Downloaded canvas uploads are deleted after this long (7 days).
    pub upload_retention: Duration,
    /// First delay of the retries of platform calls and backend errors (1 s).
    pub retry_base: Duration,
    /// Longest such delay (60 s).
    pub retry_max: Duration,
    /// Canvas replies posted at once (16). Replies to agents have no cap: one to a push-mode
    /// agent lasts its whole turn.
    pub reply_concurrency: usize,
    /// Timeout of a reply to an agent: a push-mode agent answers with its whole turn (31 min,
    /// past the platform's own 30-minute ceiling).
    pub reply_timeout: Duration,
    /// Timeout of every other platform call (30 s).
    pub http_timeout: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            heartbeat: Duration::from_secs(20),
            reregister: Duration::from_secs(3600),
            flush: Duration::from_millis(100),
            summary: Duration::from_secs(60),
            error_window: Duration::from_secs(300),
            status: crate::observe::status_file::DEFAULT_INTERVAL,
            upload_retention: Duration::from_secs(7 * 24 * 3600),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            reply_concurrency: 16,
            reply_timeout: Duration::from_secs(31 * 60),
            http_timeout: Duration::from_secs(30),
        }
    }
}

/// All of the above.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Polling.
    pub poll: PollSettings,
    /// Delivering rows to the backend.
    pub delivery: DeliverySettings,
    /// The rest.
    pub timers: Timers,
}
