//! The command line of `molecule connect`, with an environment variable behind every setting.
//!
//! Values are taken as text here and checked in [`super::config`], so that a missing or
//! malformed setting is one line naming both the flag and the variable. Flags that exist only
//! so tests can run a timer in milliseconds are hidden from `--help`.

use std::path::PathBuf;

/// What `molecule connect --help` prints after the options.
pub const AFTER_HELP: &str = "\
The token: --token-file PATH (re-read after a 401, so a rotation needs no restart), or the
MOLECULE_WORKSPACE_TOKEN variable. --token works too but puts the token in the process list,
visible to every user of the machine.

Heartbeats (every --heartbeat-interval) report error_rate: the share of the rows handled in the
last 5 minutes that failed in the backend (a crash, a timeout, an error answer), with the latest
such failure as sample_error. While the backend's crash-loop breaker is open, error_rate is 1.

Messages are fetched as they arrive: the host keeps the platform's event stream open and reads
the activity feed when an event says a message came in. The feed stays the only truth: it is
read every --safety-poll-interval besides, in case an event was lost, and every --poll-interval
while the stream is down or the platform has none (said once in the log). --no-event-stream
turns the stream off.

Delivery is at least once: a crash can make the backend see a message again (same
idempotencyKey), and a reply re-sent after a crash carries the same messageId. Only newer
platforms deduplicate replies on messageId, and only for poll-mode targets; canvas replies are
never deduplicated, which is why answered rows are recorded in the state directory. Run one
molecule connect per workspace: two machines serving one workspace answer every message twice.

The backend may call the host back (protocol/SPEC.md §14): list and message its peers, read the
workspace's record, write to the canvas. Tools it starts reach the same calls on the Unix socket
named in its MOLECULE_HOST_SOCKET variable (--no-host-socket turns the socket off); peer calls
and user/notify are capped per minute by --peer-calls-per-minute.

Exit codes:
  0  clean shutdown (SIGINT/SIGTERM)
  1  internal error
  2  configuration error (the message names the flag and the variable)
  3  the backend failed to start (permanent until the backend is fixed)
  4  the platform rejected the token: invalid, revoked or rotated (permanent)
  5  no such workspace (permanent)
  6  workspace removed on the platform (permanent)
  7  another molecule connect already serves this workspace and state directory";

/// `molecule connect <workspace-id> --backend-cmd ./my-agent`.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(after_help = AFTER_HELP, args_override_self = true)]
pub struct ConnectArgs {
    /// The workspace to serve: its UUID, as shown in the canvas.
    #[arg(value_name = "WORKSPACE_ID", env = "MOLECULE_WORKSPACE_ID")]
    pub workspace_id: Option<String>,
    /// The platform's API URL, e.g. https://acme.moleculesai.app.
    #[arg(long, value_name = "URL", env = "MOLECULE_API_URL")]
    pub api_url: Option<String>,
    /// A file holding the workspace token (re-read after a 401).
    #[arg(long, value_name = "PATH", env = "MOLECULE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The token itself (visible to other users in the process list; prefer --token-file or
    /// MOLECULE_WORKSPACE_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The backend to run, as a command line (split like a shell would, never run by one).
    #[arg(long, value_name = "COMMAND", env = "MOLECULE_BACKEND_CMD")]
    pub backend_cmd: Option<String>,
    /// An extra variable for the backend's environment (repeatable).
    #[arg(long = "backend-env", value_name = "KEY=VALUE")]
    pub backend_env: Vec<String>,
    /// Where the cursor, the answered rows and uploads are kept [default: the user's state
    /// directory, molecule/<workspace-id>].
    #[arg(long, value_name = "DIR", env = "MOLECULE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Serve /metrics (Prometheus), /healthz and /readyz on this address, e.g.
    /// 127.0.0.1:9464 (port 0: any free port, logged) [default: off].
    #[arg(long, value_name = "ADDR", env = "MOLECULE_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// How often the activity feed is polled when it has nothing more, while the event stream
    /// is not live [default: 1s].
    #[arg(long, value_name = "DURATION", env = "MOLECULE_POLL_INTERVAL")]
    pub poll_interval: Option<String>,
    /// While the event stream is live, how often the feed is read anyway, in case an event was
    /// lost [default: 30s].
    #[arg(long, value_name = "DURATION", env = "MOLECULE_SAFETY_POLL_INTERVAL")]
    pub safety_poll_interval: Option<String>,
    /// Do not use the platform's event stream: poll every --poll-interval.
    #[arg(long, env = "MOLECULE_NO_EVENT_STREAM")]
    pub no_event_stream: bool,
    /// How often the host heartbeats; under 90s, after which the platform marks the workspace
    /// stale [default: 20s].
    #[arg(long, value_name = "DURATION", env = "MOLECULE_HEARTBEAT_INTERVAL")]
    pub heartbeat_interval: Option<String>,
    /// Rows fetched per poll, 1 to 500 [default: 100].
    #[arg(long, value_name = "N", env = "MOLECULE_BATCH_SIZE")]
    pub batch_size: Option<String>,
    /// On a first start (no saved cursor), how far back to look for messages [default: 10m].
    #[arg(long, value_name = "DURATION", env = "MOLECULE_SINCE")]
    pub since: Option<String>,
    /// How long the backend may take to answer one message [default: 10m].
    #[arg(long, value_name = "DURATION", env = "MOLECULE_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// Conversations handled at once (also capped by the backend's maxConcurrency) [default: 4].
    #[arg(long, value_name = "N", env = "MOLECULE_CONCURRENCY")]
    pub concurrency: Option<String>,
    /// The Origin header [default: the API URL's origin].
    #[arg(long, value_name = "ORIGIN", env = "MOLECULE_ORIGIN")]
    pub origin: Option<String>,
    /// The organisation id, sent as X-Molecule-Org-Id.
    #[arg(long, value_name = "ID", env = "MOLECULE_ORG_ID")]
    pub org_id: Option<String>,
    /// Automatic replies this many hops deep are delivered but not answered, deeper ones are
    /// dropped: two agents cannot answer each other forever [default: 4].
    #[arg(long, value_name = "N", env = "MOLECULE_HOP_LIMIT")]
    pub hop_limit: Option<String>,
    /// Messages from one agent that carry no molecule metadata (another runtime, whose replies
    /// the hop limit cannot count) answered with no message from a person in between; past
    /// that, the agent is not answered for a while and the canvas is told (0: no limit)
    /// [default: 10].
    #[arg(long, value_name = "N", env = "MOLECULE_FOREIGN_REPLY_LIMIT")]
    pub foreign_reply_limit: Option<String>,
    /// Deliveries of one message before it gets an error reply [default: 5].
    #[arg(long, value_name = "N", env = "MOLECULE_MAX_ATTEMPTS")]
    pub max_attempts: Option<String>,
    /// On shutdown, how long messages in flight may take to finish [default: 30s].
    #[arg(long, value_name = "DURATION", env = "MOLECULE_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<String>,
    /// How long the backend may take to start and answer initialize [default: 30s].
    #[arg(
        long,
        value_name = "DURATION",
        env = "MOLECULE_BACKEND_STARTUP_TIMEOUT"
    )]
    pub backend_startup_timeout: Option<String>,
    /// For backends that report progress: how long without any before a request is
    /// cancelled [default: 120s].
    #[arg(long, value_name = "DURATION", env = "MOLECULE_BACKEND_IDLE_TIMEOUT")]
    pub backend_idle_timeout: Option<String>,
    /// Acknowledge handled rows (newer platforms). Off by default: it shortens the platform's
    /// retention of the feed.
    #[arg(long, env = "MOLECULE_ACK")]
    pub ack: bool,
    /// Start the backend, check the platform and the token, print a summary and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Timers and limits for tests and tuning.
    #[command(flatten)]
    pub tuning: TuningArgs,
    /// The host methods served to the backend (peer calls).
    #[command(flatten)]
    pub peers: super::PeerArgs,
}

/// Hidden settings: every timer, so tests run the one under test in milliseconds.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TuningArgs {
    /// Most rows fetched and not yet answered.
    #[arg(long, hide = true, env = "MOLECULE_WINDOW")]
    pub window: Option<String>,
    /// Canvas replies posted at once (replies to agents are not capped).
    #[arg(long, hide = true, env = "MOLECULE_REPLY_CONCURRENCY")]
    pub reply_concurrency: Option<String>,
    /// First delay of every retry (platform calls, backend errors).
    #[arg(long, hide = true, env = "MOLECULE_RETRY_BASE")]
    pub retry_base: Option<String>,
    /// Longest delay of every retry.
    #[arg(long, hide = true, env = "MOLECULE_RETRY_MAX")]
    pub retry_max: Option<String>,
    /// How often the recent feed is read again for rows that became visible late.
    #[arg(long, hide = true, env = "MOLECULE_OVERLAP_INTERVAL")]
    pub overlap_interval: Option<String>,
    /// How far back that read looks.
    #[arg(long, hide = true, env = "MOLECULE_OVERLAP_WINDOW")]
    pub overlap_window: Option<String>,
    /// Reopen an event stream that has been silent this long.
    #[arg(long, hide = true, env = "MOLECULE_EVENT_STREAM_IDLE_TIMEOUT")]
    pub event_stream_idle_timeout: Option<String>,
    /// How often a platform without an event stream is asked again.
    #[arg(long, hide = true, env = "MOLECULE_EVENT_STREAM_RETRY")]
    pub event_stream_retry: Option<String>,
    /// How often the workspace registers again.
    #[arg(long, hide = true, env = "MOLECULE_REREGISTER_INTERVAL")]
    pub reregister_interval: Option<String>,
    /// How often the state file is written when something changed.
    #[arg(long, hide = true, env = "MOLECULE_FLUSH_INTERVAL")]
    pub flush_interval: Option<String>,
    /// How often the summary line is logged.
    #[arg(long, hide = true, env = "MOLECULE_SUMMARY_INTERVAL")]
    pub summary_interval: Option<String>,
    /// Clock-skew margin when reading back after a lost cursor.
    #[arg(long, hide = true, env = "MOLECULE_CURSOR_SKEW")]
    pub cursor_skew: Option<String>,
    /// Most rows a first start reads back before it skips the older ones.
    #[arg(long, hide = true, env = "MOLECULE_SINCE_MAX_ROWS")]
    pub since_max_rows: Option<String>,
    /// How long downloaded canvas uploads are kept.
    #[arg(long, hide = true, env = "MOLECULE_UPLOAD_RETENTION")]
    pub upload_retention: Option<String>,
    /// The window of the heartbeat's error rate.
    #[arg(long, hide = true, env = "MOLECULE_ERROR_WINDOW")]
    pub error_window: Option<String>,
    /// Timeout of each platform call.
    #[arg(long, hide = true, env = "MOLECULE_HTTP_TIMEOUT")]
    pub http_timeout: Option<String>,
    /// Timeout of a reply to an agent (a push-mode agent answers with its whole turn).
    #[arg(long, hide = true, env = "MOLECULE_REPLY_TIMEOUT")]
    pub reply_timeout: Option<String>,
    /// The longest wait the platform can impose (Retry-After, X-RateLimit-Reset) [default: 60s].
    #[arg(long, hide = true, env = "MOLECULE_MAX_WAIT")]
    pub max_wait: Option<String>,
    /// How long an agent past --foreign-reply-limit is not answered [default: 10m].
    #[arg(long, hide = true, env = "MOLECULE_FOREIGN_REPLY_COOLDOWN")]
    pub foreign_reply_cooldown: Option<String>,
    /// The most bytes read of a JSON answer, and of a page of rows [default: 64 MiB].
    #[arg(long, hide = true, env = "MOLECULE_MAX_RESPONSE_BYTES")]
    pub max_response_bytes: Option<String>,
    /// The backend's cancel grace.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_CANCEL_GRACE")]
    pub backend_cancel_grace: Option<String>,
    /// The first restart delay after a backend crash.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_RESTART_BASE")]
    pub backend_restart_base: Option<String>,
    /// The longest restart delay.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_RESTART_MAX")]
    pub backend_restart_max: Option<String>,
    /// Crashes within the breaker window that open the breaker.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_BREAKER_CRASHES")]
    pub backend_breaker_crashes: Option<String>,
    /// The breaker's window.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_BREAKER_WINDOW")]
    pub backend_breaker_window: Option<String>,
    /// How long the breaker stays open.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_BREAKER_COOLDOWN")]
    pub backend_breaker_cooldown: Option<String>,
    /// Wait after closing the backend's stdin.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_EOF_WAIT")]
    pub backend_eof_wait: Option<String>,
    /// Wait after SIGTERM before SIGKILL.
    #[arg(long, hide = true, env = "MOLECULE_BACKEND_TERM_WAIT")]
    pub backend_term_wait: Option<String>,
}
