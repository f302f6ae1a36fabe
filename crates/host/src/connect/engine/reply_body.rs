//! The bodies of replies, built strictly: an A2A v0.3 `message/send` for an agent (`kind` on
//! the message and every part, `role: "agent"`, the context echoed, the derived `messageId`,
//! `metadata.molecule`), or a non-empty canvas message with its http(s) attachments.

use molecule_protocol::a2a::{FileContent, Message, MessageKind, Object, Part, Role};
use molecule_protocol::keys::reply_message_id;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::platform::NotifyAttachment;

/// What the text of an error reply says when the backend gave no `userMessage`.
pub const GENERIC_ERROR: &str = "Sorry, something went wrong while handling your message.";

/// What an unreadable message is answered with.
pub const UNREADABLE: &str =
    "Sorry, I could not read your message: it has no text, file or data part I understand.";

/// The inbound message a reply answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answering {
    /// The activity row.
    pub row_id: String,
    /// Its `messageId` (becomes `metadata.molecule.inReplyTo`).
    pub message_id: String,
    /// Its `contextId`, echoed.
    pub context_id: Option<String>,
    /// Its hops; the reply carries one more.
    pub hops: u32,
}

/// The `message/send` that answers an agent.
pub fn agent_envelope(
    own: Uuid,
    answering: &Answering,
    parts: Vec<Part>,
    backend_metadata: Option<Object>,
    error: bool,
) -> Value {
    let message_id = reply_message_id(&own, &answering.row_id);
    let mut metadata = backend_metadata.unwrap_or_default();
    let mut molecule =
        json!({"inReplyTo": answering.message_id, "hops": answering.hops.saturating_add(1)});
    if error {
        molecule["error"] = Value::Bool(true);
    }
    metadata.insert("molecule".into(), molecule);
    let message = Message {
        kind: MessageKind::Message,
        role: Role::Agent,
        message_id: message_id.clone(),
        context_id: answering.context_id.clone(),
        task_id: None,
        reference_task_ids: None,
        parts,
        metadata: Some(metadata),
        extensions: None,
    };
    json!({"jsonrpc": "2.0", "id": message_id, "method": "message/send",
           "params": {"message": message}})
}

/// The text and attachments of a canvas message made of `parts`; the text is never empty.
pub fn canvas_message(parts: &[Part]) -> (String, Vec<NotifyAttachment>) {
    let mut blocks = Vec::new();
    let mut attachments = Vec::new();
    for part in parts {
        match part {
            Part::Text { text, .. } if !text.trim().is_empty() => blocks.push(text.clone()),
            Part::Text { .. } => {}
            Part::Data { data, .. } => {
                let pretty = serde_json::to_string_pretty(data).unwrap_or_default();
                blocks.push(format!("```json\n{pretty}\n```"));
            }
            Part::File { file, .. } => match http_attachment(file) {
                Some(a) => attachments.push(a),
                None => blocks.push(format!("[file: {}]", file_label(file))),
            },
        }
    }
    let text = if !blocks.is_empty() {
        blocks.join("\n\n")
    } else if !attachments.is_empty() {
        let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
        format!("Attached: {}", names.join(", "))
    } else {
        "(empty reply)".to_owned()
    };
    (text, attachments)
}

/// The parts of an error reply.
pub fn error_parts(user_message: Option<&str>) -> Vec<Part> {
    let text = user_message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(GENERIC_ERROR);
    vec![Part::text(text)]
}

fn http_attachment(file: &FileContent) -> Option<NotifyAttachment> {
    let uri = file.uri.as_deref()?;
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    Some(NotifyAttachment {
        uri: uri.to_owned(),
        name: file_label(file),
        mime_type: file.mime_type.clone(),
        size: file.size,
    })
}

fn file_label(file: &FileContent) -> String {
    if let Some(name) = file.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return name.to_owned();
    }
    file.uri
        .as_deref()
        .and_then(|u| u.split(['?', '#']).next())
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("file")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_envelope_is_strict_a2a() {
        let own = Uuid::parse_str("7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24").unwrap();
        let answering = Answering {
            row_id: "0b6c2f4e-8a1d-4c3b-9e5f-7a2d4c6e8f10".into(),
            message_id: "in-1".into(),
            context_id: Some("ctx".into()),
            hops: 0,
        };
        let meta = Object::from_iter([
            ("usage".into(), json!({"t": 1})),
            ("molecule".into(), json!("x")),
        ]);
        let v = agent_envelope(own, &answering, vec![Part::text("hi")], Some(meta), false);
        assert_eq!(
            v,
            json!({"jsonrpc":"2.0","id":"4a6320d2-c972-5783-a5a7-efc04e16cb73",
            "method":"message/send","params":{"message":{"kind":"message","role":"agent",
            "messageId":"4a6320d2-c972-5783-a5a7-efc04e16cb73","contextId":"ctx",
            "parts":[{"kind":"text","text":"hi"}],
            "metadata":{"usage":{"t":1},"molecule":{"inReplyTo":"in-1","hops":1}}}}})
        );
        let e = agent_envelope(own, &answering, error_parts(None), None, true);
        assert_eq!(
            e["params"]["message"]["metadata"]["molecule"]["error"],
            true
        );
    }

    #[test]
    fn canvas_messages_are_never_empty() {
        let file =
            |uri: &str, name: Option<&str>| Part::file_uri(uri, name.map(str::to_owned), None);
        let (text, att) = canvas_message(&[file("https://x/r.pdf?sig=1", None)]);
        assert_eq!(
            (text.as_str(), att[0].name.as_str()),
            ("Attached: r.pdf", "r.pdf")
        );
        let (text, att) =
            canvas_message(&[Part::text("see"), file("file:///tmp/a.png", Some("a.png"))]);
        assert_eq!(text, "see\n\n[file: a.png]");
        assert!(att.is_empty());
        let data = Part::data(Object::from_iter([("k".into(), json!(1))]));
        assert_eq!(canvas_message(&[data]).0, "```json\n{\n  \"k\": 1\n}\n```");
        assert_eq!(canvas_message(&[Part::text(" ")]).0, "(empty reply)");
    }
}
