//! `workspace/open` and `workspace/close`: the host → backend requests that add a workspace to
//! a backend process that serves several (it advertised `maxWorkspaces` above 1), and take one
//! away (SPEC §17). The workspace named in `initialize` is open from the handshake on.

use super::backend::AgentCard;
use super::control::Empty;
use super::initialize::WorkspaceRef;
use super::{Method, name};
use serde::{Deserialize, Serialize};

/// `workspace/open`: serve one more workspace in this process.
pub struct WorkspaceOpen;
impl Method for WorkspaceOpen {
    const NAME: &'static str = name::WORKSPACE_OPEN;
    type Params = WorkspaceOpenParams;
    type Result = WorkspaceOpenResult;
}

/// The params of `workspace/open`: the workspace, and what a single-workspace backend gets in
/// its environment for it (`MOLECULE_STATE_DIR`, `MOLECULE_HOST_SOCKET`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorkspaceOpenParams {
    /// The workspace: its UUID, and its display name when known.
    pub workspace: WorkspaceRef,
    /// Its own state directory: created by the host with mode 0700, kept across restarts,
    /// never shared with another workspace.
    pub state_dir: String,
    /// The Unix socket serving the host methods for this workspace to the tools the backend
    /// starts for it; absent when the host serves no socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_socket: Option<String>,
}

impl WorkspaceOpenParams {
    /// Open `workspace`, whose state lives in `state_dir`.
    pub fn new(workspace: WorkspaceRef, state_dir: impl Into<String>) -> Self {
        WorkspaceOpenParams {
            workspace,
            state_dir: state_dir.into(),
            host_socket: None,
        }
    }
}

setters!(WorkspaceOpenParams {
    with_host_socket => host_socket: text String,
});

/// The result of `workspace/open`: the workspace is served from now on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorkspaceOpenResult {
    /// What the host may publish in this workspace's agent card; absent: the card of
    /// `initialize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_card: Option<AgentCard>,
}

setters!(WorkspaceOpenResult {
    with_agent_card => agent_card: opt AgentCard,
});

/// `workspace/close`: stop serving a workspace in this process. Its requests have all ended;
/// the backend releases what it holds for it and answers `{}`.
pub struct WorkspaceClose;
impl Method for WorkspaceClose {
    const NAME: &'static str = name::WORKSPACE_CLOSE;
    type Params = WorkspaceCloseParams;
    type Result = Empty;
}

/// The params of `workspace/close`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorkspaceCloseParams {
    /// The workspace to close (its `id`; the host sends no `name`).
    pub workspace: WorkspaceRef,
}

impl WorkspaceCloseParams {
    /// Close the workspace `id`.
    pub fn new(id: impl Into<String>) -> Self {
        WorkspaceCloseParams {
            workspace: WorkspaceRef::new(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_builders_write_what_a_literal_would() {
        let ws = WorkspaceRef::new("7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24").with_name("b");
        let open = WorkspaceOpenParams::new(ws, "/var/lib/m/b").with_host_socket("/run/m/b.sock");
        assert_eq!(
            serde_json::to_value(&open).unwrap(),
            json!({"workspace": {"id": "7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24", "name": "b"},
                   "stateDir": "/var/lib/m/b", "hostSocket": "/run/m/b.sock"})
        );
        assert_eq!(
            serde_json::to_value(WorkspaceCloseParams::new("x")).unwrap(),
            json!({"workspace": {"id": "x"}})
        );
        assert_eq!(
            serde_json::to_value(WorkspaceOpenResult::default()).unwrap(),
            json!({})
        );
    }
}
