//! The backend → host methods (SPEC §14): peer calls, the workspace's own record and messages
//! to the person in the canvas. Typed params and results only; the host serves them, the SDKs
//! call them. Their names are in [`crate::methods::name`], their error codes and classes in
//! [`crate::code`].
//!
//! Params are read as the host reads them (unknown members ignored, `_meta` allowed); results
//! are written as the host writes them.

use crate::a2a::{Object, Part};
use crate::methods::{CallMeta, Empty, Method, name};
use serde::{Deserialize, Serialize};

/// Another workspace, as the platform's registry describes it (read tolerantly: only `id` is
/// certain).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// Its workspace id.
    pub id: String,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `online`, `offline`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Its agent URL, when the registry gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its agent card, as registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_card: Option<Object>,
}

impl Peer {
    /// The name, or the id when the peer has none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// `peers/list`.
pub struct PeersList;
impl Method for PeersList {
    const NAME: &'static str = name::PEERS_LIST;
    type Params = Empty;
    type Result = PeersListResult;
}

/// The peers of the serving workspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PeersListResult {
    /// The workspaces this one may message.
    pub peers: Vec<Peer>,
}

/// `peers/discover`.
pub struct PeersDiscover;
impl Method for PeersDiscover {
    const NAME: &'static str = name::PEERS_DISCOVER;
    type Params = DiscoverParams;
    type Result = DiscoverResult;
}

/// Which workspace to look up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DiscoverParams {
    /// Its workspace id; anything but a UUID is refused with -32602.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub id: String,
    /// The call's metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<CallMeta>,
}

/// The record found, or `null` when the platform knows no such workspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DiscoverResult {
    /// The record; `null` when not found.
    pub peer: Option<Peer>,
}

/// `peers/send`.
pub struct PeersSend;
impl Method for PeersSend {
    const NAME: &'static str = name::PEERS_SEND;
    type Params = SendParams;
    type Result = SendResult;
}

/// A message to another workspace: exactly one of `parts` and `text`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendParams {
    /// The target workspace id.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub id: String,
    /// The message's parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<Part>>,
    /// Shorthand for one non-empty text part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The conversation; the host mints one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// The message's id, the same on every attempt; the host mints one when absent (SDKs
    /// derive it, SPEC §12.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Wait up to this long for the peer's answer to arrive in our own feed when the platform
    /// only queues the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// The call's metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<CallMeta>,
}

/// What became of a message to another workspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    /// The id the message was sent with.
    pub message_id: String,
    /// Its conversation (the caller's, or the one the host minted).
    pub context_id: String,
    /// True when the platform queued the message and no answer is given here.
    pub queued: bool,
    /// The answer's parts, when one came (`queued` is then false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<Part>>,
    /// The task's state, when the peer answered with a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl SendResult {
    /// The answer's text parts, joined by newlines; empty when there is no answer.
    pub fn text(&self) -> String {
        let parts = self.parts.as_deref().unwrap_or_default();
        let texts: Vec<&str> = parts.iter().filter_map(Part::as_text).collect();
        texts.join("\n")
    }
}

/// `workspace/info`.
pub struct WorkspaceInfo;
impl Method for WorkspaceInfo {
    const NAME: &'static str = name::WORKSPACE_INFO;
    type Params = Empty;
    type Result = WorkspaceInfoResult;
}

/// The serving workspace's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct WorkspaceInfoResult {
    /// The platform's record, as it returned it.
    pub workspace: Object,
}

/// `user/notify`.
pub struct UserNotify;
impl Method for UserNotify {
    const NAME: &'static str = name::USER_NOTIFY;
    type Params = NotifyParams;
    type Result = NotifyResult;
}

/// A message to the person in the canvas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct NotifyParams {
    /// The text (markdown); must not be empty.
    pub text: String,
    /// Files to show with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<NotifyFile>,
    /// The call's metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<CallMeta>,
}

/// A file shown with a canvas message: an http(s) URI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NotifyFile {
    /// Where the file is.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uri")))]
    pub uri: String,
    /// Its name; the last segment of the URI's path when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// The canvas message was accepted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct NotifyResult {
    /// Always true.
    pub delivered: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RequestId;
    use serde_json::json;

    #[test]
    fn params_read_the_wire_shapes() {
        let p: SendParams = serde_json::from_value(json!({
            "id": "7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24", "text": "hi", "waitMs": 5000,
            "_meta": {"requestId": 4}, "future": true
        }))
        .expect("send params");
        assert_eq!(p.wait_ms, Some(5000));
        assert_eq!(
            p.meta.and_then(|m| m.request_id),
            Some(RequestId::Number(4))
        );
        let none = serde_json::to_value(DiscoverResult { peer: None }).expect("json");
        assert_eq!(none, json!({"peer": null}));
    }

    #[test]
    fn a_peer_is_named_by_its_id_when_it_has_no_name() {
        let peers: PeersListResult = serde_json::from_value(json!({
            "peers": [{"id": "a", "name": "researcher", "extra": 1}, {"id": "b"}]
        }))
        .expect("peers");
        let names: Vec<&str> = peers.peers.iter().map(Peer::display_name).collect();
        assert_eq!(names, ["researcher", "b"]);
    }

    #[test]
    fn the_text_of_a_send_result_joins_its_text_parts() {
        let answered: SendResult = serde_json::from_value(json!({
            "messageId": "m", "contextId": "c", "queued": false,
            "parts": [{"kind": "text", "text": "one"}, {"kind": "data", "data": {}},
                      {"kind": "text", "text": "two"}]
        }))
        .expect("answered");
        assert_eq!(answered.text(), "one\ntwo");
        let queued: SendResult =
            serde_json::from_value(json!({"messageId": "m", "contextId": "c", "queued": true}))
                .expect("queued");
        assert_eq!(queued.text(), "");
    }
}
