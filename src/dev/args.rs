//! The command line of `molecule dev`.

use std::path::PathBuf;

/// What `molecule dev --help` prints after the options.
pub const AFTER_HELP: &str = "\
molecule dev starts a local Molecule platform on 127.0.0.1, creates an agent workspace (served
by --backend-cmd, the built-in echo by default) and a peer workspace, and prints the URL of a
chat page and a `molecule send` line that needs no token. Ctrl-C stops it.

With --data FILE the platform keeps its state (workspaces, tokens, messages) in that SQLite
file and the host keeps its cursor in FILE.state/, so a restart picks up where it stopped.";

/// The default port: fixed, so the printed URLs stay the same from one run to the next.
pub const DEFAULT_PORT: u16 = 7357;

/// `molecule dev [--backend-cmd CMD] [--port N] [--data FILE] ...`
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = AFTER_HELP, args_override_self = true)]
pub struct DevArgs {
    /// The backend to run, as a command line [default: the echo built into molecule].
    #[arg(long, value_name = "COMMAND", env = "MOLECULE_BACKEND_CMD")]
    pub backend_cmd: Option<String>,
    /// An extra variable for the backend's environment (repeatable). The backend inherits
    /// this environment except the MOLECULE_* variables, which are the host's: pass one on
    /// with this flag.
    #[arg(long = "backend-env", value_name = "KEY=VALUE")]
    pub backend_env: Vec<String>,
    /// The port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Keep the platform's state in this SQLite file (and the host's in FILE.state/) so a
    /// restart keeps workspaces, tokens, messages and the cursor [default: in memory].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Which platform generation to imitate.
    #[arg(long, value_enum, default_value_t = crate::emulator::CompatArg::New)]
    pub compat: crate::emulator::CompatArg,
    /// Fault injection as JSON: "rules" (random errors, drops, latency), "hostile" (canned
    /// answers), "rows" (corrupted rows), "stream"; e.g. '{"rules":[{"error_before":0.3}]}'.
    #[arg(long, value_name = "JSON")]
    pub faults: Option<String>,
    /// Seed of the fault generator (overrides the one in --faults), for reproducible runs.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
    /// Turn the platform's rate limiter on, at this many requests per minute.
    #[arg(long, value_name = "PER_MINUTE")]
    pub rate_limit: Option<u32>,
    /// Imitate a hosted tenant with this org id: platform routes need `X-Molecule-Org-Id` (sent
    /// by the host) or an `Origin` equal to the platform's URL; register and heartbeat are exempt.
    #[arg(long, value_name = "ORG_ID")]
    pub org_id: Option<String>,
    /// Retention and the one-shot faults.
    #[command(flatten)]
    pub armed: crate::emulator::ArmedArgs,
    /// Timers in milliseconds, for tests.
    #[command(flatten)]
    pub timers: DevTimers,
}

/// Hidden timer settings, so tests run in milliseconds.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DevTimers {
    /// The host's poll interval.
    #[arg(long, hide = true, value_name = "MS")]
    pub poll_interval_ms: Option<u64>,
    /// The host's safety poll interval while the event stream is live.
    #[arg(long, hide = true, value_name = "MS")]
    pub safety_poll_interval_ms: Option<u64>,
    /// The host polls without the event stream.
    #[arg(long, hide = true)]
    pub no_event_stream: bool,
    /// The host's heartbeat interval.
    #[arg(long, hide = true, value_name = "MS")]
    pub heartbeat_interval_ms: Option<u64>,
    /// The host's first retry delay.
    #[arg(long, hide = true, value_name = "MS")]
    pub retry_base_ms: Option<u64>,
    /// The longest retry delay.
    #[arg(long, hide = true, value_name = "MS")]
    pub retry_max_ms: Option<u64>,
    /// The host's state flush interval.
    #[arg(long, hide = true, value_name = "MS")]
    pub flush_interval_ms: Option<u64>,
    /// How long the platform waits before calling a silent workspace stale.
    #[arg(long, hide = true, value_name = "MS")]
    pub stale_after_ms: Option<u64>,
}
