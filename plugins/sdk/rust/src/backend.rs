//! The [`Backend`] trait: what a backend author implements.

use crate::context::RequestContext;
use crate::workspace::Workspace;
use molecule_protocol::methods::{AgentCard, BackendInfo, InitializeParams};
use molecule_protocol::{BackendCapabilities, HandleA2aParams, HandleA2aResult, RpcError};
use std::future::Future;
use std::time::Duration;

/// A Molecule backend: it answers `handle_a2a` requests, and says who it is in the handshake.
///
/// Only [`Backend::info`] and [`Backend::handle_a2a`] are required. Each request runs as a task
/// of its own, so `handle_a2a` takes `&self` and may run many times at once (up to the
/// `maxConcurrency` the backend advertises); keep shared state behind your own synchronisation.
pub trait Backend: Send + Sync + 'static {
    /// The backend's name and version, sent in the handshake. [`crate::package_info!`] fills it
    /// from the calling crate's `Cargo.toml`.
    fn info(&self) -> BackendInfo;

    /// What the backend supports. The default is one request at a time, cancellable (the SDK
    /// drops a cancelled handler's future), and no progress notifications.
    fn capabilities(&self) -> BackendCapabilities {
        BackendCapabilities::default().with_cancel(true)
    }

    /// Agent-card fields the host may publish for the workspace. None by default.
    fn agent_card(&self) -> Option<AgentCard> {
        None
    }

    /// Called once with the host's half of the handshake, before the backend answers it. An
    /// error is sent back as the answer to `initialize`, and the host will not start the
    /// backend. Answer quickly: load heavy state lazily, the host's start-up timeout is running.
    fn initialize(
        &self,
        params: &InitializeParams,
    ) -> impl Future<Output = Result<(), RpcError>> + Send {
        let _ = params;
        async { Ok(()) }
    }

    /// Answers one inbound message. Return the reply parts (empty parts: send no reply), or an
    /// error: see [`crate::AppError`] for the application codes the host understands.
    fn handle_a2a(
        &self,
        params: HandleA2aParams,
        cx: RequestContext,
    ) -> impl Future<Output = Result<HandleA2aResult, RpcError>> + Send;

    /// A workspace was added to this process (`workspace/open`, SPEC §17): only a backend whose
    /// capabilities advertise `maxWorkspaces` above 1 is called. Prepare what the workspace
    /// needs, and return its own agent card if it differs from [`Backend::agent_card`]. An error
    /// refuses the workspace (the host gives it a process of its own).
    fn open_workspace(
        &self,
        workspace: &Workspace,
    ) -> impl Future<Output = Result<Option<AgentCard>, RpcError>> + Send {
        let _ = workspace;
        async { Ok(None) }
    }

    /// A workspace was taken from this process (`workspace/close`), after its requests ended:
    /// release what is held for it, and stop using its state directory.
    fn close_workspace(&self, workspace: &Workspace) -> impl Future<Output = ()> + Send {
        let _ = workspace;
        async {}
    }

    /// How long a handler may go on after its request is cancelled, to wind down and answer by
    /// itself (watching [`RequestContext::cancelled`]). Zero, the default, drops the handler's
    /// future at once and answers `-32800`.
    fn cancel_grace(&self) -> Duration {
        Duration::ZERO
    }
}

/// Builds a [`BackendInfo`] from the calling crate's package name, version and description.
///
/// ```
/// let info = molecule_plugin::package_info!();
/// assert_eq!(info.name, "molecule-plugin");
/// ```
#[macro_export]
macro_rules! package_info {
    () => {{
        let description = env!("CARGO_PKG_DESCRIPTION");
        let mut info = $crate::protocol::methods::BackendInfo::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        );
        info.description = (!description.is_empty()).then(|| description.to_owned());
        info
    }};
}
