//! The methods of protocol v1 and their typed params and results.

use crate::a2a::{Message, Object, Part};
use crate::jsonrpc::RequestId;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A method: its wire name and the types of its params and result.
pub trait Method {
    /// The JSON-RPC method name.
    const NAME: &'static str;
    /// The params object.
    type Params: Serialize + DeserializeOwned;
    /// The result (`()` for notifications).
    type Result: Serialize + DeserializeOwned;
}

/// The wire names, for matching in dispatch code.
pub mod name {
    /// Host → backend, first request.
    pub const INITIALIZE: &str = "initialize";
    /// Host → backend, one per inbound message.
    pub const HANDLE_A2A: &str = "handle_a2a";
    /// Either direction, liveness.
    pub const PING: &str = "ping";
    /// Host → backend notification.
    pub const CANCEL_REQUEST: &str = "$/cancelRequest";
    /// Backend → host notification.
    pub const PROGRESS: &str = "$/progress";
}

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

/// The backend's half of the handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    /// The protocol major the backend will speak.
    pub protocol_version: u32,
    /// Who the backend is.
    pub backend: BackendInfo,
    /// What the host may publish in the workspace's agent card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_card: Option<AgentCard>,
    /// What the backend supports.
    #[serde(default)]
    pub capabilities: BackendCapabilities,
}

/// Identifies the backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    /// A short name, such as `echo`.
    pub name: String,
    /// The backend's version.
    pub version: String,
    /// One sentence on what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Agent-card fields a backend may supply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    /// What the agent does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its skills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
}

/// One skill of an agent card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    /// A stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A display name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Search tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Example prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<Vec<String>>,
}

/// What a backend supports. An absent capability means unsupported; unknown keys are ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackendCapabilities {
    /// How many requests it handles at once; absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// It honours `$/cancelRequest` (stops work early).
    #[serde(default)]
    pub cancel: bool,
    /// It sends `$/progress` while working.
    #[serde(default)]
    pub progress: bool,
}

impl BackendCapabilities {
    /// The concurrency the host may use: the advertised value, at least 1; 1 when absent.
    pub fn concurrency(&self) -> u32 {
        self.max_concurrency.unwrap_or(1).max(1)
    }
}

/// `handle_a2a`: one inbound message for the backend to answer.
pub struct HandleA2a;
impl Method for HandleA2a {
    const NAME: &'static str = name::HANDLE_A2A;
    type Params = HandleA2aParams;
    type Result = HandleA2aResult;
}

/// The params of `handle_a2a`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HandleA2aParams {
    /// The inbound message, normalised.
    pub message: Message,
    /// Who sent it.
    pub sender: Sender,
    /// Delivery context.
    pub context: DispatchContext,
}

/// The sender of an inbound message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    /// `agent`, `canvas` or `other`.
    pub kind: SenderKind,
    /// The sending workspace's id; null for every kind but `agent`.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub workspace_id: Option<String>,
    /// The sender's display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sender's role, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// What kind of party sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    /// Another workspace; the reply goes to its `/a2a`.
    Agent,
    /// A person typing in the canvas; the reply goes to the workspace's notify path.
    Canvas,
    /// A canvas-class caller that is not known to be a person (an org token, a webhook…);
    /// replies go to the notify path too.
    Other,
}

/// The delivery context of one `handle_a2a`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DispatchContext {
    /// The platform activity row this message came from.
    pub activity_id: String,
    /// 1 on first delivery; higher after a retry or a crash redelivery.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1)))]
    pub attempt: u32,
    /// When the host stops waiting, RFC 3339 UTC.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "date-time")))]
    pub deadline: String,
    /// Stable across redeliveries of this message; derive side-effect ids from it.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub idempotency_key: String,
    /// Messages with the same key are delivered one at a time, in order.
    #[cfg_attr(
        feature = "schemars",
        schemars(pattern(r"^(agent:[^#]+|canvas|other)(#[\s\S]+)?$"))
    )]
    pub conversation_key: String,
    /// Set when the message is itself an automatic reply: the messageId it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// How many automatic replies deep this message is (0 for a message written by hand).
    #[serde(default)]
    pub hops: u32,
    /// When true the host will not post this message's reply automatically (hop limit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reply_suppressed: bool,
}

/// The result of `handle_a2a`: the reply parts; empty parts mean "send no reply".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HandleA2aResult {
    /// The reply content.
    pub parts: Vec<Part>,
    /// Copied into the reply message's metadata (usage, cost…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
}

/// `ping`: liveness in either direction.
pub struct Ping;
impl Method for Ping {
    const NAME: &'static str = name::PING;
    type Params = Empty;
    type Result = Empty;
}

/// An empty params or result object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Empty {}

/// `$/cancelRequest`: stop work on a request and still answer it exactly once.
pub struct CancelRequest;
impl Method for CancelRequest {
    const NAME: &'static str = name::CANCEL_REQUEST;
    type Params = CancelParams;
    type Result = ();
}

/// The params of `$/cancelRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CancelParams {
    /// The request to cancel.
    pub id: RequestId,
    /// Why; a missing or unknown reason is treated like `other`.
    #[serde(default)]
    pub reason: CancelReason,
}

/// Why the host cancels a request. (Its JSON Schema is written by hand in `schema/mod.rs`: the
/// derive cannot express that unknown reasons are accepted.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The request's hard timeout passed.
    Deadline,
    /// No progress arrived within the idle timeout.
    IdleTimeout,
    /// The host is shutting down.
    HostShutdown,
    /// A newer message replaced this one.
    Superseded,
    /// A reason this version does not know.
    #[default]
    #[serde(other)]
    Other,
}

/// `$/progress`: the backend is still working on a request (resets its idle timer).
pub struct Progress;
impl Method for Progress {
    const NAME: &'static str = name::PROGRESS;
    type Params = ProgressParams;
    type Result = ();
}

/// The params of `$/progress`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProgressParams {
    /// The request being worked on.
    pub id: RequestId,
    /// A short status line (logged at debug; never sent to the sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Completion, 0–100, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_capabilities_mean_unsupported_and_unknown_keys_are_ignored() {
        let r: InitializeResult = serde_json::from_value(json!({
            "protocolVersion": 1, "backend": {"name":"x","version":"1"},
            "capabilities": {"futureThing": true}, "extra": 1
        }))
        .unwrap();
        assert_eq!(r.capabilities.concurrency(), 1);
        assert!(!r.capabilities.cancel && !r.capabilities.progress);
        let r: InitializeResult = serde_json::from_value(
            json!({"protocolVersion":1,"backend":{"name":"x","version":"1"}}),
        )
        .unwrap();
        assert_eq!(r.capabilities, BackendCapabilities::default());
    }

    #[test]
    fn unknown_cancel_reasons_are_tolerated() {
        let p: CancelParams =
            serde_json::from_value(json!({"id":1,"reason":"solar_flare"})).unwrap();
        assert_eq!(p.reason, CancelReason::Other);
        let p: CancelParams =
            serde_json::from_value(json!({"id":"a","reason":"deadline"})).unwrap();
        assert_eq!(p.reason, CancelReason::Deadline);
    }
}
