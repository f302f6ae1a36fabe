//! A2A v0.3 message and part shapes, emitted strictly (`kind` everywhere, camelCase keys).
//!
//! What arrives from the platform is read tolerantly by the host (`molecule_host::normalize`),
//! which turns every spelling seen in the wild into these types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object.
pub type Object = Map<String, Value>;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The party asking (a person, or an agent sending a task).
    User,
    /// An agent answering.
    Agent,
}

/// The fixed discriminator of an A2A message: always `"message"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// `"message"`.
    #[default]
    Message,
}

/// An A2A message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "A2aMessage"))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Always `"message"`.
    #[serde(default)]
    pub kind: MessageKind,
    /// `user` or `agent`.
    pub role: Role,
    /// The sender's id for this message; the platform deduplicates on it.
    pub message_id: String,
    /// Groups the messages of one conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// The task this message belongs to, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Tasks this message refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_task_ids: Option<Vec<String>>,
    /// The content.
    pub parts: Vec<Part>,
    /// Free-form metadata; the host's automatic replies carry `molecule: {inReplyTo, hops}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
    /// A2A extension URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Vec<String>>,
}

/// One piece of content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Part {
    /// Plain text or markdown.
    Text {
        /// The text.
        text: String,
        /// Part metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Object>,
    },
    /// A file, by URI or inline base64 bytes.
    File {
        /// The file.
        file: FileContent,
        /// Part metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Object>,
    },
    /// Structured data (always a JSON object).
    Data {
        /// The data.
        data: Object,
        /// Part metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Object>,
    },
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text {
            text: text.into(),
            metadata: None,
        }
    }

    /// A data part.
    pub fn data(data: Object) -> Self {
        Part::Data {
            data,
            metadata: None,
        }
    }

    /// A file part that points at a URI.
    pub fn file_uri(
        uri: impl Into<String>,
        name: Option<String>,
        mime_type: Option<String>,
    ) -> Self {
        Part::File {
            file: FileContent {
                name,
                mime_type,
                uri: Some(uri.into()),
                bytes: None,
                size: None,
            },
            metadata: None,
        }
    }

    /// The text of a text part.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Part::Text { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// The file of a file part: a `uri` or base64 `bytes`, never both.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileContent {
    /// The file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Where the file is (`https://…`, `file://…`, `platform-pending:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The content, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// The size in bytes, when known (a Molecule extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Message {
    /// The concatenated text of the message's text parts, separated by newlines.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.parts.iter().filter_map(Part::as_text).collect();
        texts.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emits_kind_on_message_and_parts() {
        let msg = Message {
            kind: MessageKind::Message,
            role: Role::Agent,
            message_id: "m1".into(),
            context_id: Some("c1".into()),
            task_id: None,
            reference_task_ids: None,
            parts: vec![Part::text("hi")],
            metadata: None,
            extensions: None,
        };
        assert_eq!(
            serde_json::to_value(&msg).unwrap(),
            json!({"kind":"message","role":"agent","messageId":"m1","contextId":"c1",
                   "parts":[{"kind":"text","text":"hi"}]})
        );
    }
}
