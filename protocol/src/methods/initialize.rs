//! `initialize`, the host's half: who the host is, the workspace, the limits and what the host
//! supports.

use super::backend::InitializeResult;
use super::{Method, name};
use serde::{Deserialize, Serialize};

/// `initialize`: the handshake, always the first request.
pub struct Initialize;
impl Method for Initialize {
    const NAME: &'static str = name::INITIALIZE;
    type Params = InitializeParams;
    type Result = InitializeResult;
}

/// The host's half of the handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    /// The newest protocol major version the host speaks.
    pub protocol_version: u32,
    /// Who the host is.
    pub host: HostInfo,
    /// The workspace this backend serves.
    pub workspace: WorkspaceRef,
    /// Limits the backend must respect.
    pub limits: Limits,
    /// What the host supports.
    pub capabilities: HostCapabilities,
}

/// Identifies the host program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostInfo {
    /// `"molecule"`.
    pub name: String,
    /// The host's version.
    pub version: String,
    /// The host's process id.
    pub pid: u32,
}

/// The workspace a backend serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRef {
    /// The workspace UUID.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub id: String,
    /// Its display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Limits the host enforces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// The longest line, in bytes, either side may write.
    pub max_message_bytes: u64,
    /// The hard timeout of one request, in milliseconds.
    pub request_timeout_ms: u64,
    /// The idle timeout (no `$/progress`) of one request, in milliseconds; applied only to
    /// backends that advertise `progress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    /// How long the host waits for the answer to a `$/cancelRequest`, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_grace_ms: Option<u64>,
}

/// What the host supports. An absent capability means unsupported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostCapabilities {
    /// The host sends `$/cancelRequest`.
    #[serde(default)]
    pub cancel: bool,
    /// The host honours `$/progress`.
    #[serde(default)]
    pub progress: bool,
    /// The backend → host methods the host serves.
    #[serde(default)]
    pub host_methods: Vec<String>,
}
