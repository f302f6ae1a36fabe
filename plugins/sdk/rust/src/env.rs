//! [`HostEnv`]: what the host tells a backend through its environment.

use std::collections::HashMap;
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
    /// `MOLECULE_HOST_SOCKET`: the Unix socket serving the host methods to the tools the
    /// backend starts.
    pub host_socket: Option<PathBuf>,
}

impl HostEnv {
    /// Reads the process environment; see [`HostEnv::from_vars`].
    pub fn from_env() -> HostEnv {
        HostEnv::from_vars(std::env::vars())
    }

    /// Reads the variables from `vars`; each field is `None` when its variable is unset, empty
    /// or unparsable.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> HostEnv {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(k, v)| k.starts_with("MOLECULE_") && !v.trim().is_empty())
            .collect();
        let text = |name: &str| vars.get(name).cloned();
        let number = |name: &str| vars.get(name)?.trim().parse().ok();
        HostEnv {
            under_host: text("MOLECULE_BACKEND").as_deref() == Some("1"),
            protocol_version: number("MOLECULE_PROTOCOL_VERSION"),
            host_pid: number("MOLECULE_HOST_PID"),
            host_exe: text("MOLECULE_HOST_EXE").map(PathBuf::from),
            workspace_id: text("MOLECULE_WORKSPACE_ID"),
            state_dir: text("MOLECULE_STATE_DIR").map(PathBuf::from),
            host_socket: text("MOLECULE_HOST_SOCKET").map(PathBuf::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_variable_and_ignores_blank_or_bad_values() {
        let vars = [
            ("MOLECULE_BACKEND", "1"),
            ("MOLECULE_PROTOCOL_VERSION", "1"),
            ("MOLECULE_HOST_PID", "not a pid"),
            ("MOLECULE_HOST_EXE", "/usr/bin/molecule"),
            ("MOLECULE_WORKSPACE_ID", "  "),
            ("MOLECULE_STATE_DIR", "/var/lib/m/ws"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let env = HostEnv::from_vars(vars);
        assert_eq!(
            env,
            HostEnv {
                under_host: true,
                protocol_version: Some(1),
                host_pid: None,
                host_exe: Some("/usr/bin/molecule".into()),
                workspace_id: None,
                state_dir: Some("/var/lib/m/ws".into()),
                host_socket: None,
            }
        );
        assert!(!HostEnv::from_vars([]).under_host);
    }
}
