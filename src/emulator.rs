//! `molecule emulator` (hidden): the emulator alone, for poking at it by hand and for tests
//! and benchmarks in other languages. `molecule dev` is the user-facing way to run it.

use molecule_emulator::{ArmedFaults, Compat, Emulator, EmulatorConfig, FaultConfig, TenantGuard};
use molecule_host::exit;
use molecule_protocol::duration::parse_duration;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The hidden subcommand's arguments.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Platform generation to imitate.
    #[arg(long, value_enum, default_value_t = CompatArg::New)]
    pub compat: CompatArg,
    /// SQLite data file that keeps state across restarts.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Rate limit in requests per minute (off when absent).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Enforce TenantGuard with this org id.
    #[arg(long)]
    pub org_id: Option<String>,
    /// Fault settings as JSON (`{"seed":1,"rules":[{"error_before":0.3}]}`).
    #[arg(long)]
    pub faults: Option<String>,
    /// Seed for the fault generator (overrides the one in --faults).
    #[arg(long)]
    pub fault_seed: Option<u64>,
    /// Staleness window in milliseconds.
    #[arg(long)]
    pub stale_after_ms: Option<u64>,
    /// Retention and the one-shot faults.
    #[command(flatten)]
    pub armed: ArmedArgs,
}

/// Flags shared with `molecule dev`: retention and the one-shot faults armed at start (the
/// flag form of `/_dev/workspaces/<id>/gone-once`, `.../revoke-tokens` and `DELETE`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ArmedArgs {
    /// Prune activity rows older than this (such as 30m, 2h or 7d), running the retention job as
    /// often; the newer platform prunes only acked rows at this age [default: 7 days].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retention: Option<Duration>,
    /// Answer 410 (cursor gone) to each workspace's first activity read with a cursor, once.
    #[arg(long)]
    pub fault_gone_once: bool,
    /// Revoke every workspace's tokens this long after start (401 from then on).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub fault_revoke_after: Option<Duration>,
    /// Remove every workspace this long after start (tokens revoked, 410 on the workspace).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub fault_remove_after: Option<Duration>,
}

impl ArmedArgs {
    /// Applies these settings to `c`.
    pub fn apply(&self, c: &mut EmulatorConfig) {
        if let Some(r) = self.retention {
            let t = &mut c.timers;
            t.retention = r;
            t.hard_retention = t.hard_retention.max(r);
            // A retention shorter than the job's period would be pruned late: run it as often.
            t.prune_every = Some(t.prune_every.map_or(r, |p| p.min(r)));
        }
        c.armed = ArmedFaults {
            gone_once: self.fault_gone_once,
            revoke_tokens_after: self.fault_revoke_after,
            remove_after: self.fault_remove_after,
        };
    }
}

/// `--compat` values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CompatArg {
    /// The newer platform.
    New,
    /// The older platform.
    Old,
}

impl EmulatorArgs {
    /// The emulator settings these arguments describe.
    pub fn to_config(&self) -> Result<EmulatorConfig, String> {
        let compat = match self.compat {
            CompatArg::New => Compat::New,
            CompatArg::Old => Compat::Old,
        };
        let mut c = EmulatorConfig::for_compat(compat);
        c.listen = self.listen;
        c.data_file = self.data.clone();
        c.rate_limit_per_minute = self.rate_limit;
        c.tenant = self.org_id.clone().map(|org_id| TenantGuard {
            org_id,
            allowed_origins: Vec::new(),
        });
        if let Some(f) = &self.faults {
            c.faults = serde_json::from_str::<FaultConfig>(f)
                .map_err(|e| format!("--faults is not valid fault JSON: {e}"))?;
        }
        if let Some(seed) = self.fault_seed {
            c.faults.seed = seed;
        }
        if let Some(ms) = self.stale_after_ms {
            c.timers.stale_after = Duration::from_millis(ms);
        }
        self.armed.apply(&mut c);
        Ok(c)
    }
}

/// Runs the emulator until SIGINT/SIGTERM. Prints one JSON line with the base URL on stdout.
pub fn run(args: EmulatorArgs) -> ExitCode {
    let config = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("molecule: error: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("molecule: error: cannot start the runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    rt.block_on(async {
        let emu = match Emulator::start(config).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("molecule: error: {e}");
                return ExitCode::from(exit::CONFIG);
            }
        };
        println!("{}", serde_json::json!({"base_url": emu.base_url()}));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        emu.shutdown().await;
        ExitCode::SUCCESS
    })
}
