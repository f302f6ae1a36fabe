//! The methods of protocol v1 and their typed params and results: one marker type per method
//! implementing [`Method`], the host → backend methods here (with `workspace/open` and
//! `workspace/close` for backends that serve several workspaces), the backend → host ones in
//! [`crate::host_methods`], and every method name in [`name`].

mod backend;
mod control;
mod handle_a2a;
mod initialize;
mod method;
pub mod name;
mod workspaces;

pub use backend::{AgentCard, BackendCapabilities, BackendInfo, InitializeResult, Skill};
pub use control::{
    CallMeta, CancelParams, CancelReason, CancelRequest, Empty, Ping, Progress, ProgressParams,
};
pub use handle_a2a::{
    DispatchContext, HandleA2a, HandleA2aParams, HandleA2aResult, Sender, SenderKind,
};
pub use initialize::{
    HostCapabilities, HostInfo, Initialize, InitializeParams, Limits, WorkspaceRef,
};
pub use method::Method;
pub use workspaces::{
    WorkspaceClose, WorkspaceCloseParams, WorkspaceOpen, WorkspaceOpenParams, WorkspaceOpenResult,
};
