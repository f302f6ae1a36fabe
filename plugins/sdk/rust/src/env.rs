//! [`HostEnv`]: what the host tells a backend through its environment.

use std::path::PathBuf;

/// The environment the molecule host gives the backend process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostEnv {
    /// `MOLECULE_BACKEND=1`: started by the host.
    pub under_host: bool,
    /// `MOLECULE_PROTOCOL_VERSION`.
    pub protocol_version: Option<u32>,
    /// `MOLECULE_HOST_PID`: the host's process id.
    pub host_pid: Option<u32>,
    /// `MOLECULE_HOST_EXE`: the host binary, for tools the backend starts.
    pub host_exe: Option<PathBuf>,
    /// `MOLECULE_WORKSPACE_ID`: the workspace served.
    pub workspace_id: Option<String>,
    /// `MOLECULE_STATE_DIR`: a private (0700) directory for the backend's own state.
    pub state_dir: Option<PathBuf>,
}

impl HostEnv {
    /// Reads the variables; each is `None` when unset, empty or unparsable.
    pub fn from_env() -> HostEnv {
        let text = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let number = |name: &str| text(name)?.trim().parse().ok();
        HostEnv {
            under_host: text("MOLECULE_BACKEND").as_deref() == Some("1"),
            protocol_version: number("MOLECULE_PROTOCOL_VERSION"),
            host_pid: number("MOLECULE_HOST_PID"),
            host_exe: text("MOLECULE_HOST_EXE").map(PathBuf::from),
            workspace_id: text("MOLECULE_WORKSPACE_ID"),
            state_dir: text("MOLECULE_STATE_DIR").map(PathBuf::from),
        }
    }
}
