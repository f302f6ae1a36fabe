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

pub use error::{PeerError, PeerErrorClass};
/// The error codes of the peer methods (1010–1016) and their classes, with the rest of the
/// protocol's codes.
pub use molecule_protocol::code::{self, class};
/// The wire types of the peer methods, from the protocol crate: one contract for the host that
/// serves them and the SDK that calls them.
pub use molecule_protocol::host_methods::{
    DiscoverParams, DiscoverResult, NotifyFile, NotifyParams, NotifyResult, Peer, PeersListResult,
    SendParams, SendResult, WorkspaceInfoResult,
};
/// The `_meta` of a call.
pub use molecule_protocol::methods::CallMeta;
/// The method names, the peer methods' among them.
pub use molecule_protocol::methods::name as method;

use crate::host::HostHandle;
use molecule_protocol::Part;
use molecule_protocol::host_methods::{
    PeersDiscover, PeersList, PeersSend, UserNotify, WorkspaceInfo,
};
use molecule_protocol::keys::call_message_id;
use molecule_protocol::methods::Empty;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

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
        let listed = self
            .host
            .call_method::<PeersList>(&Empty::default())
            .await?;
        Ok(listed.peers)
    }

    /// One peer by id (`peers/discover`); `None` when the platform does not know it.
    pub async fn discover(&self, id: &str) -> Result<Option<Peer>, PeerError> {
        let params = DiscoverParams::new(id);
        Ok(self.host.call_method::<PeersDiscover>(&params).await?.peer)
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
        let mut params = match message.content {
            Content::Text(text) if text.trim().is_empty() => {
                return Err(PeerError::invalid(format!(
                    "peers/send to {id}: the message text is empty"
                )));
            }
            Content::Text(text) => SendParams::text(id, text),
            Content::Parts(parts) => SendParams::parts(id, parts),
        };
        params.context_id = message.context_id;
        params.message_id = message.message_id.or(derived);
        params.wait_ms = message
            .wait
            .map(|wait| u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        Ok(self.host.call_method::<PeersSend>(&params).await?)
    }

    /// This workspace's record on the platform (`workspace/info`), as the platform returned it.
    pub async fn workspace_info(&self) -> Result<Value, PeerError> {
        let info = self
            .host
            .call_method::<WorkspaceInfo>(&Empty::default())
            .await?;
        Ok(Value::Object(info.workspace))
    }

    /// Writes `text` to the person in the canvas (`user/notify`).
    pub async fn notify_user(&self, text: &str) -> Result<(), PeerError> {
        self.notify_user_with_files(text, Vec::new()).await
    }

    /// Writes `text` to the person in the canvas with files to show beside it (http(s) URIs).
    pub async fn notify_user_with_files(
        &self,
        text: &str,
        attachments: Vec<NotifyFile>,
    ) -> Result<(), PeerError> {
        let params = NotifyParams::new(text).with_attachments(attachments);
        self.host.call_method::<UserNotify>(&params).await?;
        Ok(())
    }
}
