//! `molecule connect`: serve one workspace of the platform with a backend.
//!
//! It registers the workspace in poll mode, heartbeats, polls the activity feed for inbound
//! messages, hands each to the backend as one `handle_a2a`, and posts the reply to the sender.
//! Delivery is at least once: a crash at any moment re-delivers unsettled rows and never drops
//! one; duplicates are rare and recognisable (the same `idempotencyKey` for the backend, the
//! same reply `messageId` for the platform).
//!
//! Modules, one responsibility each:
//! - [`args`], [`config`], [`settings`]: the command line, validated into a [`Config`];
//! - [`statedir`]: the 0700 state directory and its lock; [`state`]: the [`state::Ledger`] of
//!   settled rows (two cursors: the poll's in-memory fetch position, and the saved contiguous
//!   settled prefix plus the rows settled above it), its file and its writer task;
//! - [`startup`]: buildinfo, the workspace check, registration; [`heartbeat`] and [`health`];
//! - `feed`: the poll loop, read-backs (first start, lost cursor) and late-row re-reads;
//! - [`inbound`]: what a row is; [`uploads`]: canvas files;
//! - `engine`: the one task that moves rows from fetched to settled, with [`queues`]
//!   (per-conversation order), [`dispatch`] (one delivery and what its outcome means) and
//!   [`reply`] (bodies and posting);
//! - [`hooks`]: the seams for `molecule dev` and the peer calls; `run`: [`serve`].

pub mod args;
pub mod config;
mod config_values;
pub mod dispatch;
mod dry_run;
mod engine;
mod error;
mod feed;
pub mod health;
mod heartbeat;
pub mod hooks;
pub mod inbound;
pub mod queues;
pub mod reply;
mod run;
pub mod settings;
pub mod startup;
pub mod state;
pub mod statedir;
pub mod uploads;

pub use args::ConnectArgs;
pub use config::{BackendSettings, Config, ConfigError, TokenSetting};
pub use error::ConnectError;
pub use hooks::{Hooks, RowInterceptor};
pub use run::serve;
pub use settings::Settings;

use std::process::ExitCode;

use crate::exit;
use crate::logging::{self, LogFormat};
use crate::peers::{HostSocket, PeerSettings, Peers};
use crate::signal::Shutdown;

/// `molecule connect` from the command line: logging, the runtime, the signals, [`serve`].
pub fn main(args: ConnectArgs, log_format: LogFormat) -> ExitCode {
    logging::init(log_format);
    let config = match Config::from_args(&args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    let peer_settings = match PeerSettings::from_args(&args.peers) {
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
        let shutdown = Shutdown::install().map_err(ConnectError::Runtime)?;
        let (hooks, socket) = peer_hooks(peer_settings, config.platform.workspace_id());
        let result = serve(config, shutdown, hooks).await;
        drop(socket);
        result
    });
    // Tasks still blocked on I/O must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}

/// The host methods (peer calls) with their socket, which lives until it is dropped. A socket
/// that cannot be made is logged: stdio still serves the methods. `molecule dev` serves them
/// the same way, so a backend tried there can call its peers as it would on a tenant.
pub(crate) fn peer_hooks(
    settings: PeerSettings,
    workspace: uuid::Uuid,
) -> (Hooks, Option<HostSocket>) {
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
