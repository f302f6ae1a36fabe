//! Claude's peer tools: the `molecule mcp` server of the host that runs this backend, given to
//! every `claude` run with `--mcp-config`, and its four tools allowed by default.
//!
//! The host puts its socket in `MOLECULE_HOST_SOCKET` and its own path in `MOLECULE_HOST_EXE`;
//! the MCP server (`$MOLECULE_HOST_EXE mcp`) reaches the workspace's peer calls through that
//! socket, so Claude can list its peers and delegate to them without any other tool. Each run
//! gets its own server, which also receives the turn's `handle_a2a` idempotency key
//! (`MOLECULE_IDEMPOTENCY_KEY`) to derive its sends' `messageId`s: a redelivered message makes
//! Claude delegate with the same ids. The configuration holds no secret (a path, a command and
//! a key derived from ids), so it is passed inline.

use serde_json::json;
use std::path::PathBuf;

/// The MCP server's name in Claude's configuration; tool rules are `mcp__molecule__<tool>`.
pub const SERVER_NAME: &str = "molecule";

/// The tools allowed by default: exactly those of `molecule mcp`.
pub const ALLOWED: [&str; 4] = [
    "mcp__molecule__list_peers",
    "mcp__molecule__send_message_to_peer",
    "mcp__molecule__workspace_info",
    "mcp__molecule__send_message_to_user",
];

/// Where the MCP server is and which socket it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerTools {
    /// The host executable (`MOLECULE_HOST_EXE`), run as `<exe> mcp`.
    pub host_exe: PathBuf,
    /// The host's socket (`MOLECULE_HOST_SOCKET`).
    pub socket: PathBuf,
}

impl PeerTools {
    /// The peer tools for this host socket, or `None` when there is no socket (run outside a
    /// host that serves peer calls). Without `MOLECULE_HOST_EXE`, `molecule` on PATH is used.
    pub fn from_env(socket: Option<PathBuf>, host_exe: Option<PathBuf>) -> Option<PeerTools> {
        let socket = socket.filter(|s| !s.as_os_str().is_empty())?;
        let host_exe = host_exe
            .filter(|e| !e.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("molecule"));
        Some(PeerTools { host_exe, socket })
    }

    /// The `--mcp-config` JSON for the turn with `idempotency_key`: one stdio server that runs
    /// `<host exe> mcp` with the socket and the key.
    pub fn mcp_config(&self, idempotency_key: &str) -> String {
        json!({"mcpServers": {SERVER_NAME: {
            "type": "stdio",
            "command": self.host_exe.to_string_lossy(),
            "args": ["mcp"],
            "env": {"MOLECULE_HOST_SOCKET": self.socket.to_string_lossy(),
                    "MOLECULE_IDEMPOTENCY_KEY": idempotency_key},
        }}})
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_runs_the_host_exe_with_the_socket() {
        let tools = PeerTools::from_env(Some("/run/m/s.sock".into()), Some("/bin/molecule".into()))
            .expect("a socket");
        let config: serde_json::Value =
            serde_json::from_str(&tools.mcp_config("key-1")).expect("json");
        let server = &config["mcpServers"]["molecule"];
        assert_eq!(server["command"], "/bin/molecule");
        assert_eq!(server["args"], json!(["mcp"]));
        assert_eq!(server["env"]["MOLECULE_HOST_SOCKET"], "/run/m/s.sock");
        assert_eq!(server["env"]["MOLECULE_IDEMPOTENCY_KEY"], "key-1");
    }

    #[test]
    fn no_socket_no_tools() {
        assert_eq!(
            PeerTools::from_env(None, Some("/bin/molecule".into())),
            None
        );
        assert_eq!(PeerTools::from_env(Some("".into()), None), None);
        let fallback = PeerTools::from_env(Some("/s".into()), None).expect("a socket");
        assert_eq!(fallback.host_exe, PathBuf::from("molecule"));
    }
}
