//! `molecule connect`: the command line (flags and their environment variables), validated
//! into the host's [`molecule_host::connect::Config`], then served by
//! [`molecule_host::connect::serve`] with the peer calls wired in.

pub mod args;
pub mod config;
mod config_values;
pub mod metrics_endpoint;
pub mod peer_args;

pub use args::ConnectArgs;
pub use peer_args::PeerArgs;

use std::process::ExitCode;

use molecule_host::backend::OrphanReaper;
use molecule_host::connect::{ConnectError, Hooks, serve};
use molecule_host::exit;
use molecule_host::peers::{HostSocket, PeerSettings, Peers};
use molecule_host::signal::Shutdown;

/// `molecule connect` from the command line (logging is set up by then): the runtime, the
/// signals, [`serve`].
pub fn main(args: ConnectArgs) -> ExitCode {
    molecule_host::panics::install();
    let config = match config::from_args(&args, crate::startup::var) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    let peer_settings = match peer_args::settings(&args.peers) {
        Ok(s) => s,
        Err(e) => return exit::report(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return exit::report(&ConnectError::Runtime(e)),
    };
    let result = runtime.block_on(async {
        let shutdown = Shutdown::install().map_err(|e| exit::report(&ConnectError::Runtime(e)))?;
        let _reaper = OrphanReaper::start_if_init();
        let (mut hooks, socket) = peer_hooks(peer_settings, config.platform.workspace_id());
        if let Some(addr) = args.metrics_addr {
            let served = metrics_endpoint::with_metrics(addr, hooks).await;
            hooks = served.map_err(|e| exit::report(&e))?;
        }
        let result = serve(config, shutdown, hooks).await;
        drop(socket);
        result.map_err(|e| exit::report(&e))
    });
    // Tasks still blocked on I/O must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// The host methods (peer calls) with their socket, which lives until it is dropped. A socket
/// that cannot be made is logged: stdio still serves the methods. `molecule dev` serves them
/// the same way, so a backend tried there can call its peers as it would on a tenant.
pub fn peer_hooks(settings: PeerSettings, workspace: uuid::Uuid) -> (Hooks, Option<HostSocket>) {
    let want_socket = settings.socket;
    let peers = Peers::new(settings);
    let socket = want_socket
        .then(|| {
            HostSocket::start(
                peers.clone(),
                workspace,
                std::env::var_os("XDG_RUNTIME_DIR"),
            )
            .inspect_err(|e| tracing::warn!("cannot serve the host methods on a socket: {e}"))
            .ok()
        })
        .flatten();
    let hooks = peers.hooks(socket.as_ref().map(|s| s.path().to_owned()));
    (hooks, socket)
}
