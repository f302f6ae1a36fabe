//! The platform proxy's normalisation of an inbound JSON-RPC body before it is queued: wrap a
//! bare body, give the message an id, turn `content` into parts, and on the newer platform
//! default the role to `user` and rename `type` to `kind` on parts.

use super::error::ApiError;
use crate::config::Compat;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// A normalised body and what the proxy reads out of it.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The body as stored in the `a2a_receive` row.
    pub body: Value,
    /// The JSON-RPC method (empty when the body had none).
    pub method: String,
    /// `params.message.messageId`, the dedup key.
    pub message_id: Option<String>,
}

/// Normalises `raw` (the request bytes) as the platform's proxy does.
pub fn normalize(raw: &[u8], compat: Compat) -> Result<Normalized, ApiError> {
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(raw) else {
        return Err(ApiError::bad_request("invalid JSON"));
    };
    if !obj.contains_key("jsonrpc") {
        // A bare body is wrapped; only `method` and `params` survive (a shorthand `{parts}`
        // body loses its parts, as on the platform).
        let method = obj.remove("method").unwrap_or(Value::Null);
        let params = obj.remove("params").unwrap_or(Value::Null);
        obj = Map::new();
        obj.insert("jsonrpc".into(), json!("2.0"));
        obj.insert("id".into(), json!(Uuid::new_v4()));
        obj.insert("method".into(), method);
        obj.insert("params".into(), params);
    }
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let carries_message = matches!(method.as_str(), "" | "message/send" | "message/stream");
    let message = obj
        .get_mut("params")
        .and_then(Value::as_object_mut)
        .and_then(|p| p.get_mut("message"))
        .and_then(Value::as_object_mut);
    let message_id = match message {
        Some(m) => Some(normalize_message(m, compat)?),
        None if carries_message => {
            return Err(ApiError::bad_request(
                "invalid A2A payload: params.message with parts or content is required",
            ));
        }
        None => None,
    };
    Ok(Normalized {
        body: Value::Object(obj),
        method,
        message_id,
    })
}

fn normalize_message(m: &mut Map<String, Value>, compat: Compat) -> Result<String, ApiError> {
    let id = match m.get("messageId").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => {
            let id = Uuid::new_v4().to_string();
            m.insert("messageId".into(), json!(id));
            id
        }
    };
    if !m.get("parts").is_some_and(Value::is_array) {
        let parts = match m.get("content") {
            Some(Value::String(s)) => json!([{"kind": "text", "text": s}]),
            Some(Value::Array(a)) => Value::Array(a.clone()),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid A2A payload: message has no parts or content",
                ));
            }
        };
        m.insert("parts".into(), parts);
    }
    if compat.is_new() {
        m.entry("role").or_insert_with(|| json!("user"));
        if let Some(Value::Array(parts)) = m.get_mut("parts") {
            for p in parts.iter_mut().filter_map(Value::as_object_mut) {
                if !p.contains_key("kind")
                    && let Some(t) = p.remove("type")
                {
                    p.insert("kind".into(), t);
                }
            }
        }
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: Value, c: Compat) -> Result<Normalized, ApiError> {
        normalize(v.to_string().as_bytes(), c)
    }

    #[test]
    fn newer_platform_fills_role_renames_type_and_keeps_explicit_values() {
        let n = norm(
            json!({"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{
                "messageId":"m1","parts":[{"type":"text","text":"hi"},{"kind":"text","type":"x","text":"k"}]}}}),
            Compat::New,
        )
        .unwrap();
        let m = &n.body["params"]["message"];
        assert_eq!(m["role"], "user");
        assert_eq!(m["parts"][0], json!({"kind":"text","text":"hi"}));
        assert_eq!(m["parts"][1]["kind"], "text");
        assert_eq!(n.message_id.as_deref(), Some("m1"));
        let agent = norm(
            json!({"jsonrpc":"2.0","method":"message/send","params":{"message":{"role":"agent","parts":[]}}}),
            Compat::New,
        )
        .unwrap();
        assert_eq!(agent.body["params"]["message"]["role"], "agent");
    }

    #[test]
    fn older_platform_passes_type_and_missing_role_through() {
        let n = norm(
            json!({"jsonrpc":"2.0","method":"message/send","params":{"message":{"parts":[{"type":"text","text":"hi"}]}}}),
            Compat::Old,
        )
        .unwrap();
        let m = &n.body["params"]["message"];
        assert!(m.get("role").is_none());
        assert_eq!(m["parts"][0]["type"], "text");
        assert!(Uuid::parse_str(m["messageId"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn bare_bodies_are_wrapped_and_content_becomes_parts() {
        let n = norm(
            json!({"method":"message/send","params":{"message":{"content":"hello"}}}),
            Compat::New,
        )
        .unwrap();
        assert_eq!(n.body["jsonrpc"], "2.0");
        assert!(n.body["id"].is_string());
        assert_eq!(
            n.body["params"]["message"]["parts"],
            json!([{"kind":"text","text":"hello"}])
        );
        // A shorthand body loses its parts, so it is refused.
        let e = norm(json!({"parts":[{"kind":"text","text":"x"}]}), Compat::New).unwrap_err();
        assert_eq!(e.status, 400);
        let e = norm(
            json!({"jsonrpc":"2.0","method":"message/send","params":{"message":{}}}),
            Compat::New,
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            normalize(b"{not json", Compat::New).unwrap_err().body["error"],
            "invalid JSON"
        );
    }
}
