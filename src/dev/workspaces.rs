//! The two workspaces `molecule dev` runs with: the agent (served by the backend) and a peer
//! it may talk to. Their ids are kept with the emulator's state, so a restart on the same data
//! file finds them again; the agent's token is kept, 0600, in the host's state directory.

use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use molecule_emulator::{DeliveryMode, Emulator, EmulatorError, WorkspaceSpec};
use molecule_host::platform::{Secret, TokenError, store_token};

/// Where the ids are kept in the emulator's state.
const META_KEY: &str = "molecule-dev:workspaces";

/// The agent and its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevWorkspaces {
    /// The workspace the backend serves.
    pub agent: Uuid,
    /// A child of the agent: on the newer platform two workspaces may talk only along the
    /// hierarchy (ancestor, descendant or sibling under one parent), so the peer is made a
    /// child rather than a second root.
    pub peer: Uuid,
}

/// Why the workspaces could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The emulator refused.
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// The token could not be saved.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Finds the workspaces of an earlier run (both still there), or creates them; makes sure the
/// agent's token is in `token_file`.
pub fn ensure(emu: &Emulator, token_file: &Path) -> Result<DevWorkspaces, WorkspaceError> {
    if let Some(found) = earlier(emu)? {
        if !has_token(token_file) {
            // The state directory was deleted but the data file kept: a fresh token.
            store_token(token_file, &Secret::new(emu.mint_token(found.agent)?))?;
        }
        return Ok(found);
    }
    let spec = |name: &str, role: &str, parent_id| WorkspaceSpec {
        name: Some(name.into()),
        role: Some(role.into()),
        parent_id,
        // The host registers in poll mode; starting there means a message sent before it has
        // registered waits in the feed instead of failing for want of a URL.
        delivery_mode: Some(DeliveryMode::Poll),
        ..WorkspaceSpec::default()
    };
    let agent = emu.create_workspace(spec("agent", "the agent under development", None))?;
    let peer = emu.create_workspace(spec("peer", "another agent", Some(agent.id)))?;
    store_token(token_file, &Secret::new(agent.token))?;
    let found = DevWorkspaces {
        agent: agent.id,
        peer: peer.id,
    };
    let text = serde_json::to_string(&found).unwrap_or_default();
    emu.set_meta(META_KEY, &text)?;
    Ok(found)
}

fn earlier(emu: &Emulator) -> Result<Option<DevWorkspaces>, EmulatorError> {
    let Some(text) = emu.meta(META_KEY)? else {
        return Ok(None);
    };
    let Ok(found) = serde_json::from_str::<DevWorkspaces>(&text) else {
        return Ok(None);
    };
    let live = |id| {
        emu.workspace_state(id)
            .is_some_and(|s| s["status"] != "removed")
    };
    Ok((live(found.agent) && live(found.peer)).then_some(found))
}

fn has_token(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| !t.trim().is_empty())
}
