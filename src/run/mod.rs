//! `molecule run --config molecule.toml`: many workspaces in one service. Each is served
//! exactly as `molecule connect` serves one (the same `serve`, the same state directory
//! layout), concurrently on one runtime; the workspaces of one platform share its connection
//! pool and rate limiter; SIGHUP (or `molecule run --reload`) re-reads the file.
//!
//! - [`keys`]: the one table of the file's keys (connect's long flags with underscores);
//! - [`file`], [`entry`]: the file read and checked, each workspace validated by connect's own
//!   validation, every refusal placed at file:line:column and key;
//! - [`fleet`]: the served set, its reload, parking a workspace that fails;
//! - [`control`]: the pid file that `--reload` signals;
//! - [`shard`]: `--shard i/n`; [`schema`]: the JSON Schema of the file.
//!
//! Exit codes: 0 after SIGINT/SIGTERM, whatever became of the workspaces (a failing one is
//! logged and parked); 2 when the file is invalid (or `--check` finds a problem); 1 on a panic.

pub mod control;
pub mod entry;
pub mod file;
pub mod fleet;
pub mod keys;
pub mod schema;
pub mod shard;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use molecule_host::backend::OrphanReaper;
use molecule_host::connect::ConnectError;
use molecule_host::exit;
use molecule_host::signal::Shutdown;
use tokio::signal::unix::{SignalKind, signal};

use self::file::RunFile;
use self::fleet::Fleet;
use self::shard::Shard;

/// What `molecule run --help` prints after the options.
pub const AFTER_HELP: &str = "\
The file: the keys are molecule connect's long flags with underscores. Top-level keys are
defaults; each [[workspace]] has an id, its token (token_file = PATH or token_env = VARIABLE;
never the token itself), backend_cmd, and any override. Unknown keys are errors. Minimal:

  api_url = \"https://acme.moleculesai.app\"
  [[workspace]]
  id = \"3f0c…\"
  token_file = \"/etc/molecule/agent-a.token\"
  backend_cmd = \"python3 /srv/agents/a.py\"

Each workspace keeps the state directory molecule connect would use for it (or its state_dir),
so a workspace moves between connect and run without losing anything. A workspace that fails
for good (revoked token, removed workspace, a backend that cannot start) is logged and parked;
the others keep serving. SIGHUP, or molecule run --config FILE --reload, re-reads the file:
new workspaces start, removed ones drain and stop, changed ones restart, the others are not
touched; an invalid file is logged and the running set stays.

Exit codes:
  0  stopped by SIGINT/SIGTERM
  1  internal error
  2  the file is invalid (--check: it cannot be served as written)
  3  --reload: no molecule run of this file is running";

/// `molecule run --config molecule.toml`.
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct RunArgs {
    /// The run file (TOML).
    #[arg(long, value_name = "PATH", env = "MOLECULE_RUN_CONFIG")]
    pub config: PathBuf,
    /// Check the file (keys, values, tokens, backend commands) and exit: 0 valid, 2 not.
    #[arg(long)]
    pub check: bool,
    /// Tell the running `molecule run` of this file to re-read it (SIGHUP), and exit.
    #[arg(long, conflicts_with = "check")]
    pub reload: bool,
    /// Serve shard I of N: the workspaces whose id hashes to I (0 ≤ I < N).
    #[arg(long, value_name = "I/N", env = "MOLECULE_SHARD")]
    pub shard: Option<String>,
    /// Serve /metrics, /healthz and /readyz for every workspace on this address [default: off].
    #[arg(long, value_name = "ADDR", env = "MOLECULE_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// The pid file that --reload reads [default: run-<hash of the file's path>.pid in the
    /// state root].
    #[arg(long, value_name = "PATH", env = "MOLECULE_RUN_PID_FILE")]
    pub pid_file: Option<PathBuf>,
}

/// `molecule run` (logging is set up by then).
pub fn main(args: RunArgs) -> ExitCode {
    molecule_host::panics::install();
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => return refuse(&e),
    };
    let pid_file = match control::pid_file(&args, shard) {
        Ok(p) => p,
        Err(e) => return refuse(&e),
    };
    if args.reload {
        return control::reload(&pid_file);
    }
    let file = match load(&args, shard) {
        Ok(f) => f,
        Err(e) => return exit::report(&e),
    };
    if args.check {
        return check(&file, shard);
    }
    raise_open_files();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return exit::report(&ConnectError::Runtime(e)),
    };
    let code = runtime.block_on(serve(args, shard, file, pid_file));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

fn refuse(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::CONFIG)
}

/// Reads the file and keeps this shard's workspaces.
fn load(args: &RunArgs, shard: Option<Shard>) -> Result<RunFile, file::FileError> {
    let mut file = file::load(&args.config, &crate::startup::var)?;
    if let Some(shard) = shard {
        file.workspaces.retain(|w| shard.owns(w.id));
    }
    Ok(file)
}

/// `--check`: every workspace's token can be read; the rest was checked by reading the file.
fn check(file: &RunFile, shard: Option<Shard>) -> ExitCode {
    let mut bad = 0;
    for w in &file.workspaces {
        if let Err(e) = w.config.token.source(&w.state_dir) {
            eprintln!("error: {}: workspace {}: {e}", file.path.display(), w.id);
            bad += 1;
        }
    }
    if bad > 0 {
        return ExitCode::from(exit::CONFIG);
    }
    let of = shard.map_or(String::new(), |s| {
        format!(" (shard {}/{})", s.index, s.count)
    });
    println!(
        "{}: ok, {} workspaces{of}",
        file.path.display(),
        file.workspaces.len()
    );
    ExitCode::SUCCESS
}

/// Serves the file's workspaces until SIGINT/SIGTERM, re-reading it on SIGHUP.
async fn serve(args: RunArgs, shard: Option<Shard>, file: RunFile, pid_file: PathBuf) -> ExitCode {
    let root = match Shutdown::install() {
        Ok(s) => s,
        Err(e) => return exit::report(&ConnectError::Runtime(e)),
    };
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => return exit::report(&ConnectError::Runtime(e)),
    };
    let _reaper = OrphanReaper::start_if_init();
    let metrics = match args.metrics_addr {
        Some(addr) => match crate::connect::metrics_endpoint::serve_registry(addr).await {
            Ok(m) => Some(m),
            Err(e) => return exit::report(&e),
        },
        None => None,
    };
    let _pid = control::PidFile::write(&pid_file)
        .inspect_err(|e| tracing::warn!("--reload will not find this process: {e}"))
        .ok();
    let mut fleet = Fleet::new(root.clone(), metrics);
    let n = file.workspaces.len();
    fleet.apply(file.workspaces).await;
    tracing::info!(workspaces = n, "molecule run is serving its workspaces");
    let panicked = molecule_host::panics::signal();
    loop {
        tokio::select! {
            Some(()) = hup.recv() => reload(&args, shard, &mut fleet).await,
            () = root.graceful.cancelled() => break,
            () = panicked.cancelled() => break,
        }
    }
    fleet.stop_all().await;
    if molecule_host::panics::occurred() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// SIGHUP: the file again; an invalid one leaves everything as it is.
async fn reload(args: &RunArgs, shard: Option<Shard>, fleet: &mut Fleet) {
    tracing::info!("SIGHUP: reading {} again", args.config.display());
    match load(args, shard) {
        Ok(file) => {
            let c = fleet.apply(file.workspaces).await;
            tracing::info!(
                added = c.added,
                removed = c.removed,
                changed = c.changed,
                unchanged = c.unchanged,
                "reloaded"
            );
        }
        Err(e) => tracing::error!(
            workspaces = fleet.size(),
            "reload refused, the running workspaces stay as they are: {e}"
        ),
    }
}

/// Raises the soft limit of open files to the hard one. Each workspace holds a handful (its
/// backend's pipes, its lock, its host socket), and the usual soft limit of 1,024 would end a
/// fleet of a few hundred with "too many open files"; Go's runtime does the same at start.
fn raise_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!("cannot raise the open-file limit from {soft} to {hard}: {e}");
    }
}
