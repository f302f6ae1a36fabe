//! Extension points for code that runs connect in-process: `molecule dev` and the peer calls.
//!
//! - [`Hooks::host_handlers`] builds the backend → host methods once the platform client
//!   exists (the peer calls need it to reach other workspaces).
//! - [`Hooks::interceptor`] sees every new row before it is classified and may claim it: the
//!   answer to a waiting `peers/send` call is routed to that call instead of becoming a new
//!   `handle_a2a`. A claimed row is settled like any handled row.
//! - [`Hooks::on_ready`] is called once the workspace is registered and polling starts.

use std::sync::Arc;

use crate::backend::HostHandlers;
use crate::platform::{ActivityRow, PlatformClient};

/// Decides, before dispatch, whether a row belongs to someone else.
pub trait RowInterceptor: Send + Sync {
    /// Returns `true` to take `row` (it is then settled without reaching the backend). Called
    /// once per new row, on the engine's task: it must not block.
    fn claim(&self, row: &ActivityRow) -> bool;
}

/// Builds the backend → host handlers from the platform client.
pub type HandlerFactory = dyn Fn(&PlatformClient) -> HostHandlers + Send + Sync;

/// The extension points; all optional.
#[derive(Clone, Default)]
pub struct Hooks {
    /// The backend → host methods to serve.
    pub host_handlers: Option<Arc<HandlerFactory>>,
    /// Claims rows before dispatch.
    pub interceptor: Option<Arc<dyn RowInterceptor>>,
    /// Called once serving starts.
    pub on_ready: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("host_handlers", &self.host_handlers.is_some())
            .field("interceptor", &self.interceptor.is_some())
            .field("on_ready", &self.on_ready.is_some())
            .finish()
    }
}
