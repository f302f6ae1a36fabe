//! Running `molecule dev`: the emulator, the workspaces, `connect` in-process, the ready
//! message, and the shutdown.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::connect;
use crate::emulator::{CompatArg, EmulatorArgs};
use molecule_emulator::{Emulator, EmulatorError};
use molecule_host::backend::{BackendCommand, Lookup};
use molecule_host::connect::{Config, ConnectError, TokenSetting};
use molecule_host::exit::{self, HasExitCode};
use molecule_host::peers::PeerSettings;
use molecule_host::platform::PlatformConfig;
use molecule_host::signal::Shutdown;

use super::args::DevArgs;
use super::banner::Banner;
use super::key;
use super::workspaces::{self, WorkspaceError};

/// Why `molecule dev` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The port is taken.
    #[error(
        "port {port} on 127.0.0.1 is already in use: give another with --port N, or --port 0 \
         to pick a free one"
    )]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// A malformed setting.
    #[error("{0}")]
    Setting(String),
    /// The emulator could not start.
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// The workspaces could not be set up.
    #[error(transparent)]
    Workspaces(#[from] WorkspaceError),
    /// The host's state directory.
    #[error("cannot create the state directory {}: {source} (--data)", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `connect` failed (the backend, the token, ...).
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

impl HasExitCode for DevError {
    fn exit_code(&self) -> u8 {
        match self {
            DevError::PortInUse { .. } | DevError::Setting(_) | DevError::StateDir { .. } => {
                exit::CONFIG
            }
            DevError::Emulator(EmulatorError::Data { .. }) => exit::CONFIG,
            DevError::Emulator(_) | DevError::Workspaces(_) => exit::INTERNAL,
            DevError::Connect(e) => e.exit_code(),
        }
    }
}

/// `molecule dev` from the command line.
pub fn main(args: DevArgs) -> ExitCode {
    molecule_host::panics::install();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return exit::report(&DevError::Connect(ConnectError::Runtime(e))),
    };
    let home = match StateHome::new(args.data.as_deref()) {
        Ok(h) => h,
        Err(e) => return exit::report(&e),
    };
    let result = runtime.block_on(run(args, &home.path));
    // Tasks still flushing the host's state must be gone before a temporary directory is
    // removed, or the removal races their last write.
    runtime.shutdown_timeout(Duration::from_secs(1));
    home.close();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}

/// Runs until the first signal (`Ok`) or a permanent failure; the host's state goes in `home`.
pub async fn run(args: DevArgs, home: &Path) -> Result<(), DevError> {
    let shutdown = Shutdown::install().map_err(ConnectError::Runtime)?;
    let dev_key = key::generate();
    let emu = start_emulator(&args, &dev_key).await?;
    let _key_file = key::write(emu.local_addr().port(), &dev_key)
        .inspect_err(|e| {
            tracing::warn!("cannot save the admin key ({e}): molecule send needs a token")
        })
        .ok();
    let token_file = home.join("agent.token");
    let ws = workspaces::ensure(&emu, &token_file)?;
    let (command, backend) = backend(&args)?;
    let mut platform =
        PlatformConfig::new(emu.base_url(), &ws.agent.to_string()).map_err(ConnectError::from)?;
    if let Some(org) = &args.org_id {
        platform = platform.with_org_id(org).map_err(ConnectError::from)?;
    }
    let mut config = Config::new(platform, TokenSetting::File(token_file), command);
    config.backend.env = connect::config::backend_env(&args.backend_env)
        .map_err(|e| DevError::Setting(e.to_string()))?;
    config.state_dir = Some(home.join("connect"));
    apply_timers(&args, &mut config);
    let ws_agent = ws.agent;
    let banner = Banner {
        base_url: emu.base_url().to_owned(),
        compat: compat_name(args.compat),
        workspaces: ws,
        backend,
        data: args.data.clone(),
        key: dev_key,
        host_state: home.join("connect"),
    };
    let (mut hooks, socket) = connect::peer_hooks(PeerSettings::default(), ws_agent);
    hooks.on_ready = Some(Arc::new(move || banner.print()));
    let served = molecule_host::connect::serve(config, shutdown, hooks).await;
    drop(socket);
    emu.shutdown().await;
    Ok(served?)
}

async fn start_emulator(args: &DevArgs, dev_key: &str) -> Result<Emulator, DevError> {
    let eargs = EmulatorArgs {
        listen: ([127, 0, 0, 1], args.port).into(),
        compat: args.compat,
        data: args.data.clone(),
        rate_limit: args.rate_limit,
        org_id: args.org_id.clone(),
        faults: args.faults.clone(),
        fault_seed: args.fault_seed,
        stale_after_ms: args.timers.stale_after_ms,
        armed: args.armed.clone(),
    };
    let mut config = eargs.to_config().map_err(DevError::Setting)?;
    config.dev_key = Some(dev_key.to_owned());
    match Emulator::start(config).await {
        Ok(emu) => Ok(emu),
        Err(EmulatorError::Bind { source, .. })
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            Err(DevError::PortInUse { port: args.port })
        }
        Err(e) => Err(e.into()),
    }
}

/// The backend command and how the ready message names it.
fn backend(args: &DevArgs) -> Result<(BackendCommand, String), ConnectError> {
    match &args.backend_cmd {
        Some(line) => Ok((
            BackendCommand::parse_in(line, &Lookup::from_process())?,
            line.clone(),
        )),
        None => {
            let exe = std::env::current_exe().map_err(ConnectError::Runtime)?;
            let argv = vec![exe.into_os_string(), "echo-backend".into()];
            Ok((
                BackendCommand::from_argv(argv)?,
                "the built-in echo (--backend-cmd to use yours)".to_owned(),
            ))
        }
    }
}

fn apply_timers(args: &DevArgs, config: &mut Config) {
    let ms = |v: Option<u64>| v.map(Duration::from_millis);
    let t = &args.timers;
    let s = &mut config.settings;
    if let Some(d) = ms(t.poll_interval_ms) {
        s.poll.interval = d;
    }
    if let Some(d) = ms(t.heartbeat_interval_ms) {
        s.timers.heartbeat = d;
    }
    if let Some(d) = ms(t.safety_poll_interval_ms) {
        s.poll.stream.safety_interval = d;
    }
    s.poll.stream.enabled = !t.no_event_stream;
    if let Some(d) = ms(t.retry_base_ms) {
        s.timers.retry_base = d;
        s.poll.stream.reconnect_base = d;
    }
    if let Some(d) = ms(t.retry_max_ms) {
        s.timers.retry_max = d;
        s.poll.stream.reconnect_max = d;
    }
    if let Some(d) = ms(t.flush_interval_ms) {
        s.timers.flush = d;
    }
}

fn compat_name(c: CompatArg) -> &'static str {
    match c {
        CompatArg::New => "newer",
        CompatArg::Old => "older",
    }
}

/// The host's state directory: `<data>.state/` (kept), or a temporary one (removed on drop).
struct StateHome {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl StateHome {
    fn new(data: Option<&Path>) -> Result<StateHome, DevError> {
        let (path, temp) = match data {
            Some(file) => {
                let mut name = file.as_os_str().to_owned();
                name.push(".state");
                (PathBuf::from(name), None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("molecule-dev-")
                    .tempdir()
                    .map_err(|source| DevError::StateDir {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                (t.path().to_owned(), Some(t))
            }
        };
        molecule_host::private_dir::ensure(&path).map_err(|source| DevError::StateDir {
            path: path.clone(),
            source,
        })?;
        Ok(StateHome { path, temp })
    }

    /// Removes a temporary directory (a kept one stays).
    fn close(self) {
        if let Some(t) = self.temp
            && let Err(e) = t.close()
        {
            tracing::warn!("could not remove the temporary state directory: {e}");
        }
    }
}
