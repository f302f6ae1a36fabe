//! `peers/list`, `peers/discover` and `peers/send`: the workspaces this one may talk to, and
//! messages to them.

use crate::a2a::{Object, Part};
use crate::methods::{CallMeta, Empty, Method, name};
use serde::{Deserialize, Serialize};

/// Another workspace, as the platform's registry describes it (read tolerantly: only `id` is
/// certain).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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
    /// The workspace `id`, with nothing else known about it.
    pub fn new(id: impl Into<String>) -> Self {
        Peer {
            id: id.into(),
            ..Peer::default()
        }
    }

    /// The name, or the id when the peer has none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

setters!(Peer {
    with_name => name: text String,
    with_role => role: text String,
    with_status => status: text String,
    with_url => url: text String,
    with_agent_card => agent_card: opt Object,
});

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
#[non_exhaustive]
pub struct PeersListResult {
    /// The workspaces this one may message.
    pub peers: Vec<Peer>,
}

impl PeersListResult {
    /// The list `peers`.
    pub fn new(peers: Vec<Peer>) -> Self {
        PeersListResult { peers }
    }
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
#[non_exhaustive]
pub struct DiscoverParams {
    /// Its workspace id; anything but a UUID is refused with -32602.
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "uuid")))]
    pub id: String,
    /// The call's metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<CallMeta>,
}

impl DiscoverParams {
    /// Looks up workspace `id`.
    pub fn new(id: impl Into<String>) -> Self {
        DiscoverParams {
            id: id.into(),
            meta: None,
        }
    }
}

setters!(DiscoverParams {
    with_meta => meta: opt CallMeta,
});

/// The record found, or `null` when the platform knows no such workspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct DiscoverResult {
    /// The record; `null` when not found.
    pub peer: Option<Peer>,
}

impl DiscoverResult {
    /// The record found, or `None`.
    pub fn new(peer: Option<Peer>) -> Self {
        DiscoverResult { peer }
    }
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
#[non_exhaustive]
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

impl SendParams {
    /// `text` to workspace `id`.
    pub fn text(id: impl Into<String>, text: impl Into<String>) -> Self {
        SendParams {
            id: id.into(),
            text: Some(text.into()),
            ..SendParams::default()
        }
    }

    /// A message of `parts` to workspace `id`.
    pub fn parts(id: impl Into<String>, parts: Vec<Part>) -> Self {
        SendParams {
            id: id.into(),
            parts: Some(parts),
            ..SendParams::default()
        }
    }
}

setters!(SendParams {
    with_context_id => context_id: text String,
    with_message_id => message_id: text String,
    with_wait_ms => wait_ms: opt u64,
    with_meta => meta: opt CallMeta,
});

/// What became of a message to another workspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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
    /// Message `message_id` of conversation `context_id` was sent; `queued` when the platform
    /// only queued it.
    pub fn new(message_id: impl Into<String>, context_id: impl Into<String>, queued: bool) -> Self {
        SendResult {
            message_id: message_id.into(),
            context_id: context_id.into(),
            queued,
            parts: None,
            state: None,
        }
    }

    /// The answer's text parts, joined by newlines; empty when there is no answer.
    pub fn text(&self) -> String {
        let parts = self.parts.as_deref().unwrap_or_default();
        let texts: Vec<&str> = parts.iter().filter_map(Part::as_text).collect();
        texts.join("\n")
    }
}

setters!(SendResult {
    with_parts => parts: opt Vec<Part>,
    with_state => state: text String,
});

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
