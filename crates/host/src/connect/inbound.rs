//! What an activity row is: one of the host's own rows to skip, a canvas upload to fetch, a
//! message for the backend (a delegation result among them), or a row that cannot be read
//! (answered with a short error).
//!
//! The sender comes from the row, never from the message: `source_id` set means another
//! workspace; no `source_id` means the canvas, unless `params.metadata.source` names another
//! kind of caller. The platform's `summary` is never used as the sender's text.

use crate::normalize::parse_request_body;
use molecule_protocol::a2a::{Message as A2aMessage, MessageKind, Object, Part, Role};
use molecule_protocol::keys::conversation_key;
use molecule_protocol::{Sender, SenderKind};
use serde_json::Value;
use uuid::Uuid;

use crate::platform::ActivityRow;

/// Where the answer to a row goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyTo {
    /// `POST /workspaces/<id>/a2a`.
    Agent(Uuid),
    /// `POST /workspaces/<own id>/notify`.
    Canvas,
    /// Nowhere: the sender cannot be answered (its id is not a UUID).
    Nobody,
}

/// A message to hand to the backend.
#[derive(Clone, Debug, PartialEq)]
pub struct Inbound {
    /// The normalised message.
    pub message: A2aMessage,
    /// Who sent it.
    pub sender: Sender,
    /// Its conversation.
    pub conversation: String,
    /// Where the reply goes.
    pub reply_to: ReplyTo,
    /// The message it answers, when it is an automatic reply.
    pub in_reply_to: Option<String>,
    /// How many automatic replies deep it is.
    pub hops: u32,
    /// At the hop limit: delivered, but its result is not posted.
    pub suppressed: bool,
}

/// A staged canvas upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The platform's file id.
    pub file_id: String,
    /// The `platform-pending:` URI later messages use.
    pub uri: String,
    /// The file name the person gave.
    pub name: Option<String>,
}

/// What to do with a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Class {
    /// Not for the backend; settled at once.
    Skip(&'static str),
    /// Fetch the file, then settle.
    Upload(Upload),
    /// Unreadable: logged, answered with a short error when it has a sender, settled.
    Invalid {
        /// Why, for the log.
        reason: String,
        /// Who sent it.
        sender: Sender,
        /// Its conversation.
        conversation: String,
        /// Where the error reply goes.
        reply_to: ReplyTo,
    },
    /// For the backend.
    Message(Box<Inbound>),
}

/// Classifies `row` for workspace `own`, with hop limit `hop_limit`.
pub fn classify(row: &ActivityRow, own: Uuid, hop_limit: u32) -> Class {
    let method = row.method.as_deref();
    if method == Some("notify") {
        return Class::Skip("own canvas reply");
    }
    if method == Some("delegate_result") {
        // Logged under our own id, but not a self-echo: the answer to a delegation this
        // workspace made (docs/platform-api.md §4.5).
        return delegation_result(row, own);
    }
    if row
        .source_id
        .as_deref()
        .is_some_and(|s| Uuid::try_parse(s).ok() == Some(own))
    {
        return Class::Skip("own row");
    }
    if row
        .activity_type
        .as_deref()
        .is_some_and(|t| t != "a2a_receive")
    {
        return Class::Skip("not a message");
    }
    if method == Some("chat_upload_receive") {
        return upload(row);
    }
    let (sender, reply_to) = sender_of(row);
    let fallback = || Uuid::new_v5(&own, format!("inbound:{}", row.id).as_bytes()).to_string();
    let parsed = match &row.request_body {
        Some(body) => parse_request_body(body, fallback).map_err(|e| e.to_string()),
        None => Err("the row has no request body".to_owned()),
    };
    let call = match parsed {
        Ok(call) => call,
        Err(reason) => {
            let conversation = conversation_key(&sender, None);
            return Class::Invalid {
                reason,
                sender,
                conversation,
                reply_to,
            };
        }
    };
    let message = call.message;
    let (in_reply_to, hops) = molecule_meta(message.metadata.as_ref());
    if hops > hop_limit {
        return Class::Skip("automatic reply past the hop limit");
    }
    let conversation = conversation_key(&sender, message.context_id.as_deref());
    Class::Message(Box::new(Inbound {
        message,
        sender,
        conversation,
        reply_to,
        in_reply_to,
        hops,
        suppressed: hops == hop_limit,
    }))
}

/// A `delegate_result` row: the text the delegate answered (`response_body.text`), handed to
/// the backend with `metadata.molecule.delegationId`, from a sender of kind `other`. It is the
/// end of a task this workspace started, not a new one: nothing the backend answers is posted.
fn delegation_result(row: &ActivityRow, own: Uuid) -> Class {
    let field = |body: &Option<Value>, k: &str| {
        body.as_ref()
            .and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let sender = Sender::new(SenderKind::Other);
    let conversation = conversation_key(&sender, None);
    let Some(text) = field(&row.response_body, "text").filter(|t| !t.trim().is_empty()) else {
        return Class::Invalid {
            reason: "a delegation result without response_body.text".into(),
            sender,
            conversation,
            reply_to: ReplyTo::Nobody,
        };
    };
    let delegation = field(&row.response_body, "delegation_id")
        .or_else(|| field(&row.request_body, "delegation_id"));
    let mut molecule = Object::new();
    if let Some(id) = delegation {
        molecule.insert("delegationId".into(), Value::String(id));
    }
    let mut metadata = Object::new();
    metadata.insert("molecule".into(), Value::Object(molecule));
    let message = A2aMessage {
        kind: MessageKind::Message,
        role: Role::Agent,
        message_id: Uuid::new_v5(&own, format!("inbound:{}", row.id).as_bytes()).to_string(),
        context_id: None,
        task_id: None,
        reference_task_ids: None,
        parts: vec![Part::text(text)],
        metadata: Some(metadata),
        extensions: None,
    };
    Class::Message(Box::new(Inbound {
        message,
        sender,
        conversation,
        reply_to: ReplyTo::Nobody,
        in_reply_to: None,
        hops: 0,
        suppressed: false,
    }))
}

fn sender_of(row: &ActivityRow) -> (Sender, ReplyTo) {
    if let Some(source) = &row.source_id {
        let reply_to = Uuid::try_parse(source).map_or(ReplyTo::Nobody, ReplyTo::Agent);
        let mut sender = Sender::agent(source.to_ascii_lowercase());
        sender.name = row.peer_name.clone();
        sender.role = row.peer_role.clone();
        return (sender, reply_to);
    }
    let source = row
        .request_body
        .as_ref()
        .and_then(|b| b.pointer("/params/metadata/source"))
        .and_then(Value::as_str);
    let kind = match source {
        None | Some("canvas_user") => SenderKind::Canvas,
        Some(_) => SenderKind::Other,
    };
    let sender = Sender::new(kind);
    (sender, ReplyTo::Canvas)
}

/// `metadata.molecule.{inReplyTo, hops}` of a message; hops 0 when absent.
fn molecule_meta(metadata: Option<&Object>) -> (Option<String>, u32) {
    let Some(meta) = metadata
        .and_then(|m| m.get("molecule"))
        .and_then(Value::as_object)
    else {
        return (None, 0);
    };
    let in_reply_to = meta
        .get("inReplyTo")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let hops = match meta.get("hops") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    (in_reply_to, u32::try_from(hops).unwrap_or(u32::MAX))
}

fn upload(row: &ActivityRow) -> Class {
    let body = row.request_body.as_ref();
    let field = |k: &str| {
        body.and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let file_id = field("file_id");
    let uri = field("uri");
    match (file_id, uri) {
        (Some(file_id), Some(uri)) => Class::Upload(Upload {
            file_id,
            uri,
            name: field("name"),
        }),
        _ => Class::Skip("upload row without file_id or uri"),
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
