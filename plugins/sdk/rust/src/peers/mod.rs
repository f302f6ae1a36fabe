//! Typed calls to the host's peer methods: list and discover the workspace's peers, message
//! them, read the workspace's own record and write to the person in the canvas.
//!
//! Get a [`Peers`] from [`crate::RequestContext::peers`] inside a handler, or from
//! [`crate::HostHandle::peers`] outside one. Inside a handler, the *i*-th
//! [`Peers::send_to_peer`] gets the `messageId` `call_message_id(idempotencyKey, i)` (SPEC
//! §12.4) unless the message names its own, so a redelivered message does not delegate the
//! same work twice. Each method fails with a [`PeerError`] that carries the host's code and
//! error class.

mod error;

pub use error::{PeerError, PeerErrorClass, code};

use crate::host::HostHandle;
use molecule_protocol::Part;
use molecule_protocol::keys::call_message_id;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The host methods of the peer calls.
pub mod method {
    /// `peers/list`.
    pub const LIST: &str = "peers/list";
    /// `peers/discover`.
    pub const DISCOVER: &str = "peers/discover";
    /// `peers/send`.
    pub const SEND: &str = "peers/send";
    /// `workspace/info`.
    pub const WORKSPACE_INFO: &str = "workspace/info";
    /// `user/notify`.
    pub const NOTIFY_USER: &str = "user/notify";
}

/// Another workspace this one may message. Only `id` is sure to be there.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// The peer's workspace id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its role, as its owner describes it.
    #[serde(default)]
    pub role: Option<String>,
    /// Its status on the platform (`online`, …).
    #[serde(default)]
    pub status: Option<String>,
    /// Its A2A URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Its agent card, when the platform gave one.
    #[serde(default)]
    pub agent_card: Option<Value>,
}

impl Peer {
    /// The name, or the id when the peer has none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// What `peers/send` returned: the peer's reply, or word that the message was queued.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    /// The id the message was sent with.
    pub message_id: String,
    /// The conversation's context id (the host mints one when the call gave none).
    #[serde(default)]
    pub context_id: String,
    /// True when the platform queued the message and no reply came (yet).
    #[serde(default)]
    pub queued: bool,
    /// The reply's parts, when a reply came.
    #[serde(default)]
    pub parts: Vec<Part>,
    /// The task state, when the peer answered with a task.
    #[serde(default)]
    pub state: Option<String>,
}

impl SendResult {
    /// The reply's text parts, joined by newlines.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.parts.iter().filter_map(Part::as_text).collect();
        texts.join("\n")
    }
}

#[derive(Clone, Debug)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// A message for a peer: text or parts, and the options of the send.
#[derive(Clone, Debug)]
pub struct PeerMessage {
    content: Content,
    context_id: Option<String>,
    message_id: Option<String>,
    wait: Option<Duration>,
}

impl PeerMessage {
    /// A text message.
    pub fn text(text: impl Into<String>) -> PeerMessage {
        PeerMessage::with(Content::Text(text.into()))
    }

    /// A message of these parts.
    pub fn parts(parts: Vec<Part>) -> PeerMessage {
        PeerMessage::with(Content::Parts(parts))
    }

    fn with(content: Content) -> PeerMessage {
        PeerMessage {
            content,
            context_id: None,
            message_id: None,
            wait: None,
        }
    }

    /// Continues the conversation with this context id.
    pub fn context_id(mut self, context_id: impl Into<String>) -> PeerMessage {
        self.context_id = Some(context_id.into());
        self
    }

    /// Sends with this message id instead of the derived one.
    pub fn message_id(mut self, message_id: impl Into<String>) -> PeerMessage {
        self.message_id = Some(message_id.into());
        self
    }

    /// Waits up to `wait` for the reply of a peer that does not answer at once (`waitMs`).
    pub fn wait(mut self, wait: Duration) -> PeerMessage {
        self.wait = Some(wait);
        self
    }
}

impl From<&str> for PeerMessage {
    fn from(text: &str) -> PeerMessage {
        PeerMessage::text(text)
    }
}

impl From<String> for PeerMessage {
    fn from(text: String) -> PeerMessage {
        PeerMessage::text(text)
    }
}

/// The counter of a request's sends, for the derived message ids.
pub(crate) struct SendCounter {
    idempotency_key: String,
    next: AtomicU32,
}

impl SendCounter {
    pub(crate) fn new(idempotency_key: String) -> SendCounter {
        SendCounter {
            idempotency_key,
            next: AtomicU32::new(0),
        }
    }

    fn next_message_id(&self) -> String {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        call_message_id(&self.idempotency_key, index)
    }
}

/// The peer calls, made through a [`HostHandle`]. See the [module docs](self).
pub struct Peers<'a> {
    host: &'a HostHandle,
    sends: Option<&'a SendCounter>,
}

impl<'a> Peers<'a> {
    pub(crate) fn new(host: &'a HostHandle, sends: Option<&'a SendCounter>) -> Peers<'a> {
        Peers { host, sends }
    }

    /// The workspace's peers (`peers/list`).
    pub async fn list_peers(&self) -> Result<Vec<Peer>, PeerError> {
        #[derive(Deserialize)]
        struct Listed {
            peers: Vec<Peer>,
        }
        let listed: Listed = self.call(method::LIST, json!({})).await?;
        Ok(listed.peers)
    }

    /// One peer by id (`peers/discover`); `None` when the platform does not know it.
    pub async fn discover(&self, id: &str) -> Result<Option<Peer>, PeerError> {
        #[derive(Deserialize)]
        struct Found {
            peer: Option<Peer>,
        }
        let found: Found = self.call(method::DISCOVER, json!({"id": id})).await?;
        Ok(found.peer)
    }

    /// Sends `message` to the peer `id` (`peers/send`) and returns its reply, or that it was
    /// queued. Inside a handler the message id is derived (see the [module docs](self)).
    pub async fn send_to_peer(
        &self,
        id: &str,
        message: impl Into<PeerMessage>,
    ) -> Result<SendResult, PeerError> {
        let message = message.into();
        // Counted even when the caller names the id, so the index of each call stays put.
        let derived = self.sends.map(SendCounter::next_message_id);
        let mut params = json!({"id": id});
        match message.content {
            Content::Text(text) if text.trim().is_empty() => {
                return Err(PeerError::invalid(format!(
                    "peers/send to {id}: the message text is empty"
                )));
            }
            Content::Text(text) => params["text"] = json!(text),
            Content::Parts(parts) => params["parts"] = json!(parts),
        }
        if let Some(context_id) = message.context_id {
            params["contextId"] = json!(context_id);
        }
        if let Some(message_id) = message.message_id.or(derived) {
            params["messageId"] = json!(message_id);
        }
        if let Some(wait) = message.wait {
            params["waitMs"] = json!(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        }
        self.call(method::SEND, params).await
    }

    /// This workspace's record on the platform (`workspace/info`).
    pub async fn workspace_info(&self) -> Result<Value, PeerError> {
        let mut result: Value = self.call(method::WORKSPACE_INFO, json!({})).await?;
        Ok(result
            .get_mut("workspace")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    /// Writes `text` to the person in the canvas (`user/notify`).
    pub async fn notify_user(&self, text: &str) -> Result<(), PeerError> {
        let _: Value = self
            .call(method::NOTIFY_USER, json!({"text": text}))
            .await?;
        Ok(())
    }

    async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, PeerError> {
        let result = self.host.call(method, params).await?;
        serde_json::from_value(result).map_err(|e| {
            PeerError::from(crate::host::HostCallError::Shape {
                method: method.to_owned(),
                reason: format!("the host's result does not fit: {e}"),
            })
        })
    }
}
