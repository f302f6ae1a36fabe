//! Extension points for code that runs connect in-process: `molecule dev` and the peer calls.
//!
//! - [`Hooks::host_handlers`] builds the backend → host methods once the platform client
//!   exists (the peer calls need it to reach other workspaces).
//! - [`Hooks::interceptor`] sees every new row before it is classified and may claim it: the
//!   answer to a waiting `peers/send` call is routed to that call instead of becoming a new
//!   `handle_a2a`. A claimed row is settled like any handled row.
//! - [`Hooks::enricher`] fills in a `handle_a2a` sender's name and role when the row had none.
//! - [`Hooks::host_socket`] is the socket serving the host methods, given to the backend as
//!   `MOLECULE_HOST_SOCKET`.
//! - [`Hooks::on_ready`] is called once the workspace is registered and polling starts.
//! - [`Hooks::metrics`] is the process's metrics registry, which the workspace joins.
//! - [`Hooks::transport`] is the connection pool and rate limiter the workspace shares with
//!   the others of its platform (`molecule run`); without it the workspace has its own.
//! - [`Hooks::backends`] are the backend processes the workspace may share with others
//!   (`molecule run`, SPEC §17); without it the workspace's backend is a process of its own.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use molecule_protocol::Sender;

use crate::backend::{BackendPool, HostHandlers};
use crate::platform::{ActivityRow, PlatformClient};

/// Decides, before delivery, whether a row belongs to someone else.
pub trait RowInterceptor: Send + Sync {
    /// Returns `true` to take `row` (it is then settled without reaching the backend). Called
    /// once per new row (after the ledger admitted it), on the engine's task: it must not
    /// block.
    fn claim(&self, row: &ActivityRow) -> bool;
}

/// Completes a sender before delivery (older platforms send no name or role).
pub trait SenderEnricher: Send + Sync {
    /// Fills in what it can; must finish quickly (it holds the delivery).
    fn enrich<'a>(
        &'a self,
        sender: &'a mut Sender,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// Builds the backend → host handlers from the platform client.
pub type HandlerFactory = dyn Fn(&PlatformClient) -> HostHandlers + Send + Sync;

/// The extension points; all optional.
#[derive(Clone, Default)]
pub struct Hooks {
    /// The backend → host methods to serve.
    pub host_handlers: Option<Arc<HandlerFactory>>,
    /// Claims rows before delivery.
    pub interceptor: Option<Arc<dyn RowInterceptor>>,
    /// Completes senders before delivery.
    pub enricher: Option<Arc<dyn SenderEnricher>>,
    /// The host socket's path, for the backend's environment.
    pub host_socket: Option<PathBuf>,
    /// Called once serving starts.
    pub on_ready: Option<Arc<dyn Fn() + Send + Sync>>,
    /// The process's metrics registry: the workspace is added to it.
    pub metrics: Option<crate::observe::Metrics>,
    /// Where those metrics are served, for the status file.
    pub metrics_addr: Option<String>,
    /// The platform's shared connection pool and rate limiter.
    pub transport: Option<crate::platform::SharedTransport>,
    /// The backend processes shared between workspaces.
    pub backends: Option<BackendPool>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("host_handlers", &self.host_handlers.is_some())
            .field("interceptor", &self.interceptor.is_some())
            .field("enricher", &self.enricher.is_some())
            .field("host_socket", &self.host_socket)
            .field("on_ready", &self.on_ready.is_some())
            .field("metrics_addr", &self.metrics_addr)
            .field("transport", &self.transport.is_some())
            .field("backends", &self.backends.is_some())
            .finish()
    }
}
