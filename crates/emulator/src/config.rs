//! The emulator's settings: which platform version it imitates, its limits, timers, guards and
//! faults. Every timer is here so tests can run the behaviour under test in milliseconds.

use super::faults::FaultConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which platform generation the emulator imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// The newer platform (molecule-core at 2026-08-14; docs/platform-api.md §1.2 lists the
    /// differences): `seq`, messageId dedup, the ack endpoint, `include=peer_info`, 16 MiB
    /// `/a2a` bodies, TenantGuard 400.
    #[default]
    New,
    /// The older platform (molecule-core at 2026-05-06): no `seq`, no dedup, no ack endpoint,
    /// 1 MiB `/a2a` bodies, TenantGuard 404, `X-Workspace-ID` trusted as the caller.
    Old,
}

impl Compat {
    /// `true` for the newer platform.
    pub fn is_new(self) -> bool {
        self == Compat::New
    }
}

/// Everything the emulator can be told at start.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The platform generation to imitate.
    pub compat: Compat,
    /// The SQLite data file; `None` keeps everything in memory.
    pub data_file: Option<PathBuf>,
    /// The admin (canvas-class) bearer. `None` mints one (and keeps it in the data file).
    pub admin_token: Option<String>,
    /// Body and upload limits.
    pub limits: Limits,
    /// Liveness, retention and forwarding timers.
    pub timers: Timers,
    /// TenantGuard: when set, non-exempt routes need `Origin` or `X-Molecule-Org-Id`.
    pub tenant: Option<TenantGuard>,
    /// The rate limit in requests per minute; `None` turns the limiter off (the default, as in
    /// the platform's dev mode).
    pub rate_limit_per_minute: Option<u32>,
    /// Fault injection; off by default.
    pub faults: FaultConfig,
    /// One-shot faults armed at start (the flag form of the `/_dev` ones).
    pub armed: ArmedFaults,
    /// The key every `/_dev` request must carry in `X-Molecule-Dev` (`molecule dev` makes one
    /// per run); `None` accepts any value, which still keeps browsers' cross-origin requests
    /// out ([`crate::dev_guard`]).
    pub dev_key: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            compat: Compat::New,
            data_file: None,
            admin_token: None,
            limits: Limits::default(),
            timers: Timers::for_compat(Compat::New),
            tenant: None,
            rate_limit_per_minute: None,
            faults: FaultConfig::default(),
            armed: ArmedFaults::default(),
            dev_key: None,
        }
    }
}

impl EmulatorConfig {
    /// The defaults for `compat` (timers and limits follow the generation).
    pub fn for_compat(compat: Compat) -> Self {
        EmulatorConfig {
            compat,
            limits: Limits::for_compat(compat),
            timers: Timers::for_compat(compat),
            ..EmulatorConfig::default()
        }
    }
}

/// Request size limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `/a2a` body cap: 16 MiB on the newer platform (413 above), 1 MiB on the older one (the
    /// body is silently truncated there, which surfaces as `400 invalid JSON`).
    pub a2a_body: usize,
    /// Cap on every other JSON body (the platform sets none; this keeps a bad client from
    /// exhausting memory). 413 above.
    pub json_body: usize,
    /// A chat upload request as a whole (multipart): 50 MB.
    pub upload_total: usize,
    /// One file in a chat upload: 25 MB.
    pub upload_file: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::for_compat(Compat::New)
    }
}

impl Limits {
    /// The platform's caps for `compat`.
    pub fn for_compat(compat: Compat) -> Self {
        Limits {
            a2a_body: if compat.is_new() { 16 << 20 } else { 1 << 20 },
            json_body: 16 << 20,
            upload_total: 50_000_000,
            upload_file: 25_000_000,
        }
    }
}

/// Timers; each one configurable so tests can use milliseconds.
#[derive(Clone, Debug)]
pub struct Timers {
    /// A workspace whose last heartbeat or register is older than this is stale
    /// (`awaiting_agent`): 180 s on the newer platform, 90 s on the older.
    pub stale_after: Duration,
    /// Rows older than this are pruned (on the newer platform only once acked): 7 days.
    pub retention: Duration,
    /// Newer platform: rows older than this are pruned whether acked or not: 30 days.
    pub hard_retention: Duration,
    /// How often the retention job runs; `None` runs it only when asked (`prune_now`).
    pub prune_every: Option<Duration>,
    /// Deadline of a forwarded request to a push-mode workspace.
    pub push_timeout: Duration,
    /// How long a chat long-poll waits for something new.
    pub chat_wait: Duration,
}

impl Timers {
    /// The platform's timers for `compat`.
    pub fn for_compat(compat: Compat) -> Self {
        const DAY: u64 = 86_400;
        Timers {
            stale_after: Duration::from_secs(if compat.is_new() { 180 } else { 90 }),
            retention: Duration::from_secs(7 * DAY),
            hard_retention: Duration::from_secs(30 * DAY),
            prune_every: Some(Duration::from_secs(6 * 3600)),
            push_timeout: Duration::from_secs(300),
            chat_wait: Duration::from_secs(25),
        }
    }
}

/// The tenant guard of hosted SaaS tenants.
#[derive(Clone, Debug, Default)]
pub struct TenantGuard {
    /// The org UUID that `X-Molecule-Org-Id` must carry.
    pub org_id: String,
    /// Extra `Origin` values accepted besides the emulator's own base URL.
    pub allowed_origins: Vec<String>,
}

/// One-shot faults armed when the emulator starts, on every workspace there is when each one
/// fires: what `/_dev/workspaces/<id>/gone-once`, `.../revoke-tokens` and `DELETE` do, for runs
/// (such as `molecule dev`) where nobody is there to call the admin API at the right moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArmedFaults {
    /// Each workspace's first activity read with a cursor answers 410 (cursor gone), once.
    pub gone_once: bool,
    /// This long after start, every workspace's tokens are revoked (401 from then on).
    pub revoke_tokens_after: Option<Duration>,
    /// This long after start, every workspace is removed (tokens revoked, 410 on the workspace).
    pub remove_after: Option<Duration>,
}
