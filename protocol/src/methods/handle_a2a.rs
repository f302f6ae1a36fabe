//! `handle_a2a`: one inbound message, who sent it, its delivery context, and the reply.

use super::initialize::WorkspaceRef;
use super::{Method, name};
use crate::a2a::{Message, Object, Part};
use serde::{Deserialize, Serialize};

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
#[non_exhaustive]
pub struct HandleA2aParams {
    /// The inbound message, normalised.
    pub message: Message,
    /// Who sent it.
    pub sender: Sender,
    /// Delivery context.
    pub context: DispatchContext,
    /// The workspace the message is for: always sent to a backend that advertised
    /// `maxWorkspaces` above 1 (SPEC §17); when absent, the workspace of `initialize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceRef>,
}

impl HandleA2aParams {
    /// `message` from `sender`, delivered in `context`.
    pub fn new(message: Message, sender: Sender, context: DispatchContext) -> Self {
        HandleA2aParams {
            message,
            sender,
            context,
            workspace: None,
        }
    }
}

setters!(HandleA2aParams {
    with_workspace => workspace: opt WorkspaceRef,
});

/// The sender of an inbound message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

impl Sender {
    /// A sender of `kind`, with no workspace id, name or role.
    pub fn new(kind: SenderKind) -> Self {
        Sender {
            kind,
            workspace_id: None,
            name: None,
            role: None,
        }
    }

    /// The agent of workspace `workspace_id`.
    pub fn agent(workspace_id: impl Into<String>) -> Self {
        Sender::new(SenderKind::Agent).with_workspace_id(workspace_id)
    }
}

setters!(Sender {
    with_workspace_id => workspace_id: text String,
    with_name => name: text String,
    with_role => role: text String,
});

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
#[non_exhaustive]
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

impl DispatchContext {
    /// The context of delivery `attempt` of activity row `activity_id`, by `deadline` (RFC
    /// 3339), with its idempotency and conversation keys; a message written by hand (no
    /// `inReplyTo`, 0 hops, its reply not suppressed).
    pub fn new(
        activity_id: impl Into<String>,
        attempt: u32,
        deadline: impl Into<String>,
        idempotency_key: impl Into<String>,
        conversation_key: impl Into<String>,
    ) -> Self {
        DispatchContext {
            activity_id: activity_id.into(),
            attempt,
            deadline: deadline.into(),
            idempotency_key: idempotency_key.into(),
            conversation_key: conversation_key.into(),
            in_reply_to: None,
            hops: 0,
            reply_suppressed: false,
        }
    }
}

setters!(DispatchContext {
    with_in_reply_to => in_reply_to: text String,
    with_hops => hops: val u32,
    with_reply_suppressed => reply_suppressed: val bool,
});

/// The result of `handle_a2a`: the reply parts; empty parts mean "send no reply".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HandleA2aResult {
    /// The reply content.
    pub parts: Vec<Part>,
    /// Copied into the reply message's metadata (usage, cost…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
}

impl HandleA2aResult {
    /// A reply of `parts`, without metadata; no parts means no reply. (No `with_metadata`
    /// here: the Rust SDK's `WithMetadata` adds one member at a time under that name.)
    pub fn new(parts: Vec<Part>) -> Self {
        HandleA2aResult {
            parts,
            metadata: None,
        }
    }
}
