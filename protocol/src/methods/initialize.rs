//! `initialize`, the host's half: who the host is, the workspace, the limits and what the host
//! supports.

use super::backend::InitializeResult;
use super::{Method, name};
use crate::version::PROTOCOL_VERSION;
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
#[non_exhaustive]
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

impl InitializeParams {
    /// The params of a host that speaks this crate's [`PROTOCOL_VERSION`].
    pub fn new(
        host: HostInfo,
        workspace: WorkspaceRef,
        limits: Limits,
        capabilities: HostCapabilities,
    ) -> Self {
        InitializeParams {
            protocol_version: PROTOCOL_VERSION,
            host,
            workspace,
            limits,
            capabilities,
        }
    }
}

setters!(InitializeParams {
    with_protocol_version => protocol_version: val u32,
});

/// Identifies the host program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HostInfo {
    /// `"molecule"`.
    pub name: String,
    /// The host's version.
    pub version: String,
    /// The host's process id.
    pub pid: u32,
}

impl HostInfo {
    /// A host called `name`, at `version`, running as process `pid`.
    pub fn new(name: impl Into<String>, version: impl Into<String>, pid: u32) -> Self {
        HostInfo {
            name: name.into(),
            version: version.into(),
            pid,
        }
    }
}

/// The workspace a backend serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorkspaceRef {
    /// The workspace UUID.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub id: String,
    /// Its display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl WorkspaceRef {
    /// The workspace `id`, without a name.
    pub fn new(id: impl Into<String>) -> Self {
        WorkspaceRef {
            id: id.into(),
            name: None,
        }
    }
}

setters!(WorkspaceRef {
    with_name => name: text String,
});

/// Limits the host enforces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

impl Limits {
    /// Lines of at most `max_message_bytes`, requests of at most `request_timeout_ms`.
    pub fn new(max_message_bytes: u64, request_timeout_ms: u64) -> Self {
        Limits {
            max_message_bytes,
            request_timeout_ms,
            idle_timeout_ms: None,
            cancel_grace_ms: None,
        }
    }
}

setters!(Limits {
    with_idle_timeout_ms => idle_timeout_ms: opt u64,
    with_cancel_grace_ms => cancel_grace_ms: opt u64,
});

/// What the host supports. An absent capability means unsupported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

setters!(HostCapabilities {
    with_cancel => cancel: val bool,
    with_progress => progress: val bool,
    with_host_methods => host_methods: val Vec<String>,
});
