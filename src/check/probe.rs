//! The messages the checker sends (`handle_a2a` params like the host's, and deliberately broken
//! ones) and the validation of what comes back.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use molecule_protocol::a2a::{Message as A2aMessage, MessageKind, Part, Role};
use molecule_protocol::keys;
use molecule_protocol::methods::WorkspaceRef;
use molecule_protocol::methods::{CancelParams, CancelReason, Empty};
use molecule_protocol::time::format_rfc3339_millis;
use molecule_protocol::{
    DispatchContext, HandleA2aParams, HandleA2aResult, RequestId, Sender, SenderKind,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::plan::Plan;

/// The text of an ordinary message.
pub const HELLO: &str =
    "Hello from molecule backend-check. This is a test message: any reply will do.";

/// Multi-byte text: accents, Greek, CJK, an emoji with a skin tone and a joiner, a line
/// separator, a combining accent.
pub const UTF8_SAMPLE: &str =
    "naïve café — Ελληνικά, 日本語, 한국어, 🦀👩🏽‍💻, line\u{2028}separator, e\u{301}";

/// Gives every message of the run its own activity id.
static SEQ: AtomicU32 = AtomicU32::new(1);

/// `handle_a2a` params for `parts`, from a person in the canvas, built as the host builds
/// them (idempotency and conversation keys included), for the workspace of `initialize`
/// (named in `params.workspace` to a backend that serves several).
pub fn params(plan: &Plan, parts: Vec<Part>) -> Value {
    let named = plan.many_workspaces().then_some(&plan.workspace);
    params_for(plan, parts, &plan.workspace, named)
}

/// `handle_a2a` params for `parts` sent to `workspace`, named in `params.workspace` when
/// `named` says so.
pub fn params_for(plan: &Plan, parts: Vec<Part>, workspace: &Uuid, named: Option<&Uuid>) -> Value {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let activity = format!("backend-check-activity-{n}");
    let context_id = format!("backend-check-{n}");
    let sender = Sender::new(SenderKind::Canvas).with_name("backend-check");
    let deadline = SystemTime::now() + plan.timers.answer;
    let message = A2aMessage {
        kind: MessageKind::Message,
        role: Role::User,
        message_id: format!("backend-check-message-{n}"),
        context_id: Some(context_id.clone()),
        task_id: None,
        reference_task_ids: None,
        parts,
        metadata: None,
        extensions: None,
    };
    let context = DispatchContext::new(
        activity.clone(),
        1,
        format_rfc3339_millis(deadline),
        keys::idempotency_key(workspace, &activity),
        keys::conversation_key(&sender, Some(&context_id)),
    );
    let mut params = HandleA2aParams::new(message, sender, context);
    params.workspace = named.map(|ws| WorkspaceRef::new(ws.to_string()));
    serde_json::to_value(params).unwrap_or(Value::Null)
}

/// The same message delivered again: the same activity and keys, attempt 2.
pub fn redelivery(plan: &Plan, params: &Value) -> Value {
    let mut again = params.clone();
    if let Some(context) = again.get_mut("context").and_then(Value::as_object_mut) {
        context.insert("attempt".into(), json!(2));
        let deadline = SystemTime::now() + plan.timers.answer;
        context.insert("deadline".into(), json!(format_rfc3339_millis(deadline)));
    }
    again
}

/// Params with one text part.
pub fn text(plan: &Plan, text: &str) -> Value {
    params(plan, vec![Part::text(text)])
}

/// Params with no `message` at all: invalid.
pub fn without_message(plan: &Plan) -> Value {
    let mut value = text(plan, HELLO);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("message");
    }
    value
}

/// The busy message, or the ordinary one when none was given.
pub fn busy(plan: &Plan) -> Value {
    text(plan, plan.busy_message.as_deref().unwrap_or(HELLO))
}

/// A text of about `bytes` bytes (ASCII, with line breaks), starting with `marker`.
pub fn large_text(marker: &str, bytes: usize) -> String {
    let line = "The quick brown fox jumps over the lazy dog. 0123456789\n";
    let mut out = String::with_capacity(bytes + line.len());
    out.push_str(marker);
    out.push('\n');
    while out.len() + line.len() <= bytes {
        out.push_str(line);
    }
    out
}

/// The empty params of `ping`.
pub fn empty() -> Value {
    serde_json::to_value(Empty::default()).unwrap_or(Value::Null)
}

/// `$/cancelRequest` params.
pub fn cancel(id: &RequestId, reason: CancelReason) -> Value {
    serde_json::to_value(CancelParams::new(id.clone(), reason)).unwrap_or(Value::Null)
}

/// `$/cancelRequest` params with a reason no version of the protocol defines, written by hand
/// because the types cannot: receivers must treat it like `other`.
pub fn cancel_for_an_unknown_reason(id: &RequestId) -> Value {
    json!({"id": id, "reason": "solar_flare"})
}

/// Checks a `handle_a2a` result against §7.4, with a precise reason when it is not valid.
pub fn validate_result(value: &Value) -> Result<HandleA2aResult, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("the result is {}, not an object", json_type(value)))?;
    let parts = obj
        .get("parts")
        .ok_or("the result has no \"parts\" array")?
        .as_array()
        .ok_or("\"parts\" is not an array")?;
    for (i, part) in parts.iter().enumerate() {
        validate_part(part).map_err(|why| format!("part {} {why}", i + 1))?;
    }
    if let Some(m) = obj.get("metadata")
        && !m.is_object()
        && !m.is_null()
    {
        return Err(format!("\"metadata\" is {}, not an object", json_type(m)));
    }
    serde_json::from_value(value.clone()).map_err(|e| format!("the result does not parse: {e}"))
}

/// Checks one part of a result or of a message against §7.1, saying what is wrong with it.
pub fn validate_part(part: &Value) -> Result<(), String> {
    let obj = part
        .as_object()
        .ok_or_else(|| format!("is {}, not an object", json_type(part)))?;
    let kind = match obj.get("kind") {
        Some(Value::String(k)) => k.as_str(),
        Some(other) => return Err(format!("has a \"kind\" that is {}", json_type(other))),
        None if obj.contains_key("type") => {
            return Err("has \"type\" instead of \"kind\" (results must use \"kind\")".into());
        }
        None => return Err("has no \"kind\"".into()),
    };
    match kind {
        "text" => match obj.get("text") {
            Some(Value::String(_)) => Ok(()),
            _ => Err("(text) has no string \"text\"".into()),
        },
        "data" => match obj.get("data") {
            Some(Value::Object(_)) => Ok(()),
            _ => Err("(data) has no object \"data\" (wrap other values in an object)".into()),
        },
        "file" => {
            let file = obj
                .get("file")
                .and_then(Value::as_object)
                .ok_or("(file) has no object \"file\"")?;
            let uri = file.get("uri").is_some_and(Value::is_string);
            let bytes = file.get("bytes").is_some_and(Value::is_string);
            match (uri, bytes) {
                (true, false) | (false, true) => Ok(()),
                (true, true) => Err("(file) has both \"uri\" and \"bytes\"; give one".into()),
                (false, false) => Err("(file) has neither a string \"uri\" nor \"bytes\"".into()),
            }
        }
        other => Err(format!(
            "has kind {other:?}; the kinds are \"text\", \"file\" and \"data\""
        )),
    }
}

/// A short summary of a valid result: "2 parts (text, data)".
pub fn summary(result: &HandleA2aResult) -> String {
    if result.parts.is_empty() {
        return "no parts (no reply)".into();
    }
    let kinds: Vec<&str> = result
        .parts
        .iter()
        .map(|p| match p {
            Part::Text { .. } => "text",
            Part::File { .. } => "file",
            Part::Data { .. } => "data",
        })
        .collect();
    let n = kinds.len();
    let s = if n == 1 { "" } else { "s" };
    format!("{n} part{s} ({})", kinds.join(", "))
}

/// The texts of a result's text parts.
pub fn texts(result: &HandleA2aResult) -> Vec<&str> {
    result.parts.iter().filter_map(Part::as_text).collect()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_parts_precisely() {
        let ok = json!({"parts":[{"kind":"text","text":"a"},{"kind":"data","data":{}},
                                 {"kind":"file","file":{"uri":"https://x"}}]});
        assert_eq!(
            summary(&validate_result(&ok).unwrap()),
            "3 parts (text, data, file)"
        );
        let cases = [
            (json!([]), "the result is an array, not an object"),
            (json!({}), "the result has no \"parts\" array"),
            (
                json!({"parts":[{"type":"text","text":"a"}]}),
                "part 1 has \"type\" instead of \"kind\" (results must use \"kind\")",
            ),
            (
                json!({"parts":[{"kind":"text","text":"a"},{"kind":"data","data":3}]}),
                "part 2 (data) has no object \"data\" (wrap other values in an object)",
            ),
            (
                json!({"parts":[{"kind":"file","file":{"uri":"u","bytes":"b"}}]}),
                "part 1 (file) has both \"uri\" and \"bytes\"; give one",
            ),
            (
                json!({"parts":[{"kind":"image"}]}),
                "part 1 has kind \"image\"; the kinds are \"text\", \"file\" and \"data\"",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(validate_result(&value).unwrap_err(), want, "{value}");
        }
    }

    #[test]
    fn large_text_has_the_size_asked() {
        let t = large_text("m", 10_000);
        assert!(t.starts_with("m\n") && t.len() <= 10_000 && t.len() > 9_900);
    }
}
