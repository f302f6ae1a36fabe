//! Tolerant reading of inbound A2A messages.
//!
//! Peers and platform versions disagree on spelling: `kind` or `type` on parts, camelCase or
//! snake_case keys, a message under `params.message`, under `params`, or at the top level, the
//! proto spellings `fileWithUri`/`fileWithBytes`, v1.0 parts with no discriminator. Everything is
//! mapped onto the strict types of [`molecule_protocol::a2a`] here, in one place, so that the host and the
//! backends never see the variety.

use molecule_protocol::a2a::{FileContent, Message, MessageKind, Object, Part, Role};
use serde_json::Value;

/// Why a request body yielded no message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NormalizeError {
    /// The body is not a JSON object.
    #[error("request body is not a JSON object")]
    NotObject,
    /// No message was found at `params.message`, `params` or the top level.
    #[error("no message found (looked at params.message, params and the top level)")]
    NoMessage,
    /// A message was found but none of its parts could be read.
    #[error("message has no usable parts ({skipped} unreadable)")]
    NoUsableParts {
        /// How many parts were present but unreadable.
        skipped: usize,
    },
}

/// An inbound `message/send` (or similar) call, read from an activity row's `request_body`.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundCall {
    /// The JSON-RPC method of the body, when it has one.
    pub method: Option<String>,
    /// The normalised message.
    pub message: Message,
    /// `params.metadata` (newer platforms put `source: "canvas_user"` there).
    pub params_metadata: Option<Object>,
    /// Parts that were present but could not be read.
    pub skipped_parts: usize,
}

/// Reads the message out of a JSON-RPC request body. `fallback_message_id` supplies a
/// `messageId` when the message has none (callers derive one deterministically).
pub fn parse_request_body(
    body: &Value,
    fallback_message_id: impl FnOnce() -> String,
) -> Result<InboundCall, NormalizeError> {
    let top = body.as_object().ok_or(NormalizeError::NotObject)?;
    let params = top.get("params").and_then(Value::as_object);
    let method = top.get("method").and_then(Value::as_str).map(str::to_owned);
    let params_metadata = params
        .and_then(|p| p.get("metadata"))
        .and_then(Value::as_object)
        .cloned();
    let (msg_obj, outer) = locate_message(top, params).ok_or(NormalizeError::NoMessage)?;
    // The spec's own multi-turn example puts messageId beside the message, inside params.
    let outer_id = outer.and_then(|o| get_str(o, &["messageId", "message_id"]));
    let (message, skipped_parts) = normalize_message(msg_obj, || {
        outer_id
            .map(str::to_owned)
            .unwrap_or_else(fallback_message_id)
    });
    if message.parts.is_empty() {
        return Err(NormalizeError::NoUsableParts {
            skipped: skipped_parts,
        });
    }
    Ok(InboundCall {
        method,
        message,
        params_metadata,
        skipped_parts,
    })
}

fn locate_message<'a>(
    top: &'a Object,
    params: Option<&'a Object>,
) -> Option<(&'a Object, Option<&'a Object>)> {
    if let Some(p) = params {
        if let Some(m) = p.get("message").and_then(Value::as_object) {
            return Some((m, Some(p)));
        }
        if has_content(p) {
            return Some((p, None));
        }
    }
    if has_content(top) {
        return Some((top, None));
    }
    None
}

fn has_content(obj: &Object) -> bool {
    obj.get("parts").is_some_and(Value::is_array) || obj.contains_key("content")
}

/// Normalises one message object. Returns the message and how many parts were skipped.
pub fn normalize_message(
    obj: &Object,
    fallback_message_id: impl FnOnce() -> String,
) -> (Message, usize) {
    let role = match get_str(obj, &["role"]) {
        Some("agent") | Some("assistant") | Some("ROLE_AGENT") => Role::Agent,
        _ => Role::User,
    };
    let message_id = get_str(obj, &["messageId", "message_id"])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(fallback_message_id);
    let (parts, skipped) = normalize_parts(obj);
    let message = Message {
        kind: MessageKind::Message,
        role,
        message_id,
        context_id: non_empty(get_str(obj, &["contextId", "context_id"])),
        task_id: non_empty(get_str(obj, &["taskId", "task_id"])),
        reference_task_ids: obj
            .get("referenceTaskIds")
            .or_else(|| obj.get("reference_task_ids"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }),
        parts,
        metadata: obj.get("metadata").and_then(Value::as_object).cloned(),
        extensions: obj.get("extensions").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        }),
    };
    (message, skipped)
}

fn normalize_parts(obj: &Object) -> (Vec<Part>, usize) {
    match obj.get("parts").or_else(|| obj.get("content")) {
        Some(Value::String(s)) => (vec![Part::text(s.clone())], 0),
        Some(Value::Array(items)) => {
            let parts: Vec<Part> = items.iter().filter_map(normalize_part).collect();
            let skipped = items.len() - parts.len();
            (parts, skipped)
        }
        _ => (Vec::new(), 0),
    }
}

/// Normalises one part; `None` when it cannot be read.
pub fn normalize_part(value: &Value) -> Option<Part> {
    let obj = value.as_object()?;
    let metadata = obj.get("metadata").and_then(Value::as_object).cloned();
    let kind = get_str(obj, &["kind", "type"]).map(str::to_ascii_lowercase);
    let kind = kind.or_else(|| infer_kind(obj).map(str::to_owned))?;
    match kind.as_str() {
        "text" => {
            let text = get_str(obj, &["text"])?.to_owned();
            Some(Part::Text { text, metadata })
        }
        "file" | "image" | "audio" | "video" => {
            let file = normalize_file(obj)?;
            Some(Part::File { file, metadata })
        }
        "data" => {
            let data = match obj.get("data")? {
                Value::Object(o) => o.clone(),
                // A2A requires an object; keep other JSON values rather than drop them.
                other => Object::from_iter([("value".to_owned(), other.clone())]),
            };
            Some(Part::Data { data, metadata })
        }
        _ => None,
    }
}

fn infer_kind(obj: &Object) -> Option<&'static str> {
    if obj.get("text").is_some_and(Value::is_string) {
        Some("text")
    } else if obj.contains_key("file") || obj.contains_key("url") || obj.contains_key("raw") {
        Some("file")
    } else if obj.contains_key("data") {
        Some("data")
    } else {
        None
    }
}

fn normalize_file(part: &Object) -> Option<FileContent> {
    // v0.3 nests the file under `file`; v1.0 puts `url`/`raw` on the part itself.
    let src = part.get("file").and_then(Value::as_object).unwrap_or(part);
    let nested = |key: &str| src.get(key).and_then(Value::as_object);
    let uri = get_str(src, &["uri", "url"])
        .or_else(|| nested("fileWithUri").and_then(|o| get_str(o, &["uri"])))
        .or_else(|| src.get("fileWithUri").and_then(Value::as_str))
        .map(str::to_owned);
    let bytes = get_str(src, &["bytes", "raw"])
        .or_else(|| src.get("fileWithBytes").and_then(Value::as_str))
        .or_else(|| src.get("data").and_then(Value::as_str))
        .map(str::to_owned);
    if uri.is_none() && bytes.is_none() {
        return None;
    }
    Some(FileContent {
        name: get_str(src, &["name", "filename"]).map(str::to_owned),
        mime_type: get_str(src, &["mimeType", "mime_type", "mediaType", "media_type"])
            .or_else(|| get_str(part, &["mimeType", "mime_type", "mediaType"]))
            .map(str::to_owned),
        // A file has a URI or bytes, never both: prefer the reference.
        bytes: if uri.is_some() { None } else { bytes },
        uri,
        size: src.get("size").and_then(Value::as_u64),
    })
}

fn get_str<'a>(obj: &'a Object, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<InboundCall, NormalizeError> {
        parse_request_body(&body, || "fallback".to_owned())
    }

    #[test]
    fn reads_the_canonical_shape() {
        let call = parse(
            json!({"jsonrpc":"2.0","id":"x","method":"message/send","params":{
            "message":{"role":"user","messageId":"m1","contextId":"c1",
                       "parts":[{"kind":"text","text":"hi"}]},
            "metadata":{"source":"canvas_user"}}}),
        )
        .unwrap();
        assert_eq!(call.method.as_deref(), Some("message/send"));
        assert_eq!(call.message.message_id, "m1");
        assert_eq!(call.message.context_id.as_deref(), Some("c1"));
        assert_eq!(call.message.parts, vec![Part::text("hi")]);
        assert_eq!(call.params_metadata.unwrap()["source"], "canvas_user");
    }

    #[test]
    fn reads_type_snake_case_and_other_locations() {
        let call = parse(json!({"params":{"parts":[{"type":"text","text":"a"}],
                                          "message_id":"m2","context_id":"c2"}}))
        .unwrap();
        assert_eq!(call.message.parts, vec![Part::text("a")]);
        assert_eq!(call.message.message_id, "m2");
        assert_eq!(call.message.context_id.as_deref(), Some("c2"));
        let top = parse(json!({"parts":[{"text":"inferred"}]})).unwrap();
        assert_eq!(top.message.parts, vec![Part::text("inferred")]);
        assert_eq!(top.message.message_id, "fallback");
        let content = parse(json!({"params":{"message":{"content":"plain"}}})).unwrap();
        assert_eq!(content.message.parts, vec![Part::text("plain")]);
    }

    #[test]
    fn message_id_beside_the_message_is_used() {
        let call = parse(json!({"params":{"messageId":"outer",
            "message":{"parts":[{"kind":"text","text":"x"}]}}}))
        .unwrap();
        assert_eq!(call.message.message_id, "outer");
    }

    #[test]
    fn reads_file_aliases_and_v1_parts() {
        let call = parse(json!({"params":{"message":{"parts":[
            {"kind":"file","file":{"name":"a.png","mime_type":"image/png","uri":"https://x/a.png","size":3}},
            {"kind":"file","file":{"fileWithBytes":"QUJD","mimeType":"text/plain"}},
            {"url":"https://x/b","mediaType":"text/plain"},
            {"kind":"data","data":[1,2]},
            {"kind":"hologram"}
        ]}}}))
        .unwrap();
        assert_eq!(call.skipped_parts, 1);
        let p = &call.message.parts;
        assert!(matches!(&p[0], Part::File { file, .. }
            if file.uri.as_deref() == Some("https://x/a.png") && file.size == Some(3)
               && file.mime_type.as_deref() == Some("image/png")));
        assert!(matches!(&p[1], Part::File { file, .. } if file.bytes.as_deref() == Some("QUJD")));
        assert!(matches!(&p[2], Part::File { file, .. }
            if file.uri.as_deref() == Some("https://x/b") && file.mime_type.as_deref() == Some("text/plain")));
        assert!(matches!(&p[3], Part::Data { data, .. } if data["value"] == json!([1,2])));
    }

    #[test]
    fn roles_are_normalised() {
        let agent = parse(
            json!({"params":{"message":{"role":"assistant","parts":[{"kind":"text","text":"x"}]}}}),
        );
        assert_eq!(agent.unwrap().message.role, Role::Agent);
        let missing = parse(json!({"params":{"message":{"parts":[{"kind":"text","text":"x"}]}}}));
        assert_eq!(missing.unwrap().message.role, Role::User);
    }

    #[test]
    fn reports_why_nothing_was_found() {
        assert_eq!(parse(json!("x")).unwrap_err(), NormalizeError::NotObject);
        assert_eq!(
            parse(json!({"params":null})).unwrap_err(),
            NormalizeError::NoMessage
        );
        assert_eq!(
            parse(json!({"params":{"message":{"parts":[{"kind":"text"}]}}})).unwrap_err(),
            NormalizeError::NoUsableParts { skipped: 1 }
        );
    }
}
