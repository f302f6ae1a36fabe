//! [`Workspace`]: the workspace a request is for, and the table of the workspaces a backend
//! that serves several in one process has open (SPEC §17).
//!
//! A backend serves the workspace named in `initialize` from the handshake on; its state
//! directory and host socket come from the environment. One that advertises `maxWorkspaces`
//! above 1 may be given more with `workspace/open` (their directory and socket in the params)
//! and lose any with `workspace/close`; each `handle_a2a` then names its workspace.

use crate::env::HostEnv;
use molecule_protocol::methods::{WorkspaceOpenParams, WorkspaceRef};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A workspace this backend serves.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Workspace {
    /// Its UUID.
    pub id: String,
    /// Its display name, when the host gave one.
    pub name: Option<String>,
    /// Its own state directory (0700, kept across restarts), when the host gave one.
    pub state_dir: Option<PathBuf>,
    /// The Unix socket serving the host methods for it, for the tools the backend starts for
    /// this workspace (their `MOLECULE_HOST_SOCKET`).
    pub host_socket: Option<PathBuf>,
}

impl Workspace {
    /// The workspace of `initialize`, with the directory and socket of the environment.
    pub(crate) fn first(workspace: &WorkspaceRef, env: &HostEnv) -> Workspace {
        Workspace {
            id: workspace.id.clone(),
            name: workspace.name.clone(),
            state_dir: env.state_dir.clone(),
            host_socket: env.host_socket.clone(),
        }
    }

    /// A workspace opened with `workspace/open`.
    pub(crate) fn opened(params: &WorkspaceOpenParams) -> Workspace {
        Workspace {
            id: params.workspace.id.clone(),
            name: params.workspace.name.clone(),
            state_dir: Some(PathBuf::from(&params.state_dir)),
            host_socket: params.host_socket.as_ref().map(PathBuf::from),
        }
    }
}

/// The workspaces open in this process, by id (compared without case).
#[derive(Debug, Default)]
pub(crate) struct Workspaces {
    first: Option<Arc<Workspace>>,
    open: HashMap<String, Arc<Workspace>>,
}

impl Workspaces {
    /// Opens the workspace of `initialize`.
    pub(crate) fn start(&mut self, first: Workspace) {
        let first = Arc::new(first);
        self.open
            .insert(first.id.to_ascii_lowercase(), first.clone());
        self.first = Some(first);
    }

    /// Opens a workspace; `false` when it is open already.
    pub(crate) fn open(&mut self, ws: Workspace) -> bool {
        let key = ws.id.to_ascii_lowercase();
        if self.open.contains_key(&key) {
            return false;
        }
        self.open.insert(key, Arc::new(ws));
        true
    }

    /// Closes a workspace; the one closed.
    pub(crate) fn close(&mut self, id: &str) -> Option<Arc<Workspace>> {
        self.open.remove(&id.to_ascii_lowercase())
    }

    /// The workspace a request is for: the one it names, else the one of `initialize` (whose
    /// record stays known after it is closed, for hosts that name no workspace). `None` when
    /// it names one that is not open.
    pub(crate) fn of_request(&self, named: Option<&WorkspaceRef>) -> Option<Arc<Workspace>> {
        match named {
            Some(ws) => self.open.get(&ws.id.to_ascii_lowercase()).cloned(),
            None => self.first.clone(),
        }
    }
}
