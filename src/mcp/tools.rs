//! The four tools: their names, descriptions and input schemas, how a call becomes a host
//! method call, and how the host's answer becomes text for the model.

use std::sync::atomic::{AtomicU32, Ordering};

use molecule_protocol::keys::call_message_id;
use molecule_protocol::methods::name;
use serde_json::{Map, Value, json};

/// The variable that gives this server the idempotency key of the `handle_a2a` it serves.
pub const IDEMPOTENCY_ENV: &str = "MOLECULE_IDEMPOTENCY_KEY";

/// The `messageId`s of this server's peer sends. One server serves one turn of the agent
/// (one `handle_a2a`), so with that delivery's idempotency key the i-th send gets
/// `call_message_id(key, i)`: when the message is delivered again and the agent delegates the
/// same work, the peer sees the same ids. Without a key the host mints random ids.
#[derive(Debug, Default)]
pub struct SendIds {
    key: Option<String>,
    next: AtomicU32,
}

impl SendIds {
    /// Ids derived from `key` (an empty key counts as none).
    pub fn new(key: Option<String>) -> SendIds {
        SendIds {
            key: key.filter(|k| !k.trim().is_empty()),
            next: AtomicU32::new(0),
        }
    }

    /// The id of the next send, or `None` without a key.
    fn next(&self) -> Option<String> {
        let key = self.key.as_deref()?;
        Some(call_message_id(
            key,
            self.next.fetch_add(1, Ordering::Relaxed),
        ))
    }
}

/// The longest wait a caller may ask of `send_message_to_peer` (one hour).
pub const MAX_WAIT_SECONDS: f64 = 3600.0;

/// One tool as listed in `tools/list`.
pub struct ToolSpec {
    /// The tool's name.
    pub name: &'static str,
    /// What it is for, written for the model that chooses tools.
    pub description: &'static str,
    /// Its input schema (a JSON Schema object).
    pub schema: Value,
}

/// The tools, in the order they are listed.
pub fn specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "list_peers",
            description: "List the other workspaces (agents) this workspace may message: each \
                peer's id, name, role and status. Call it to find out who can help with a task \
                and to get the id that send_message_to_peer needs.",
            schema: object(json!({}), &[]),
        },
        ToolSpec {
            name: "send_message_to_peer",
            description: "Send a message to another workspace (a peer agent, by the id from \
                list_peers) to delegate a task or ask a question, and return its reply. A peer \
                that answers at once replies in this call. Otherwise the message is queued and \
                its reply reaches you later as a new message, unless wait_seconds is given: \
                then the call waits up to that long for the reply. Give context_id (returned by \
                an earlier call) to continue the same thread with that peer. Write the text so \
                that it stands on its own: the peer does not see your conversation.",
            schema: object(
                json!({
                    "id": {"type": "string", "format": "uuid",
                           "description": "The peer's workspace id, from list_peers."},
                    "text": {"type": "string", "minLength": 1,
                             "description": "The message for the peer."},
                    "wait_seconds": {"type": "number", "minimum": 0,
                                     "maximum": MAX_WAIT_SECONDS,
                                     "description": "How long to wait for the reply of a peer \
                                         that does not answer at once (seconds). Omit it to \
                                         return as soon as the message is queued."},
                    "context_id": {"type": "string",
                                   "description": "The contextId of an earlier exchange with \
                                       this peer, to continue that thread."}
                }),
                &["id", "text"],
            ),
        },
        ToolSpec {
            name: "workspace_info",
            description: "Read this workspace's own record on the platform (its id, name, role, \
                status and the rest of what the platform keeps about it).",
            schema: object(json!({}), &[]),
        },
        ToolSpec {
            name: "send_message_to_user",
            description: "Send a message to the person watching this workspace in the canvas, \
                at any time: a progress update during a long task, a question, or a result \
                that should not wait. Your answer to the current message is delivered anyway; \
                use this only for messages in between.",
            schema: object(
                json!({"text": {"type": "string", "minLength": 1,
                                "description": "The message for the person."}}),
                &["text"],
            ),
        },
    ]
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required,
           "additionalProperties": false})
}

/// A host method call, made from a tool call's arguments.
#[derive(Debug, PartialEq)]
pub struct HostCall {
    /// The host method.
    pub method: &'static str,
    /// Its params.
    pub params: Value,
}

/// Maps a tool call to the host call that performs it; `Err` explains a bad argument, or
/// `None` when the tool does not exist. A valid send takes the next of `ids`.
pub fn host_call(
    tool: &str,
    args: &Map<String, Value>,
    ids: &SendIds,
) -> Option<Result<HostCall, String>> {
    let call = |method, params| Ok(HostCall { method, params });
    Some(match tool {
        "list_peers" => call(name::PEERS_LIST, json!({})),
        "workspace_info" => call(name::WORKSPACE_INFO, json!({})),
        "send_message_to_user" => {
            text_arg(args, "text").and_then(|text| call(name::USER_NOTIFY, json!({"text": text})))
        }
        "send_message_to_peer" => send_params(args).and_then(|mut p| {
            if let Some(id) = ids.next() {
                p["messageId"] = json!(id);
            }
            call(name::PEERS_SEND, p)
        }),
        _ => return None,
    })
}

fn text_arg(args: &Map<String, Value>, name: &str) -> Result<String, String> {
    match args.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("{name} is empty: give the message text")),
        Some(other) => Err(format!("{name} must be a string, not {other}")),
        None => Err(format!("{name} is required")),
    }
}

fn send_params(args: &Map<String, Value>) -> Result<Value, String> {
    let id = text_arg(args, "id")?;
    let text = text_arg(args, "text")?;
    let mut params = json!({"id": id.trim(), "text": text});
    if let Some(wait) = args.get("wait_seconds").filter(|v| !v.is_null()) {
        let seconds = wait
            .as_f64()
            .filter(|s| (0.0..=MAX_WAIT_SECONDS).contains(s))
            .ok_or_else(|| {
                format!("wait_seconds must be a number from 0 to {MAX_WAIT_SECONDS}, not {wait}")
            })?;
        // In range, so the cast cannot overflow.
        params["waitMs"] = json!((seconds * 1000.0).round() as u64);
    }
    match args.get("context_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if !c.is_empty() => params["contextId"] = json!(c),
        Some(other) => {
            return Err(format!(
                "context_id must be a non-empty string, not {other}"
            ));
        }
    }
    Ok(params)
}

/// The text the model reads for a successful host call.
pub fn render(tool: &str, params: &Value, result: &Value) -> String {
    match tool {
        "list_peers" => render_peers(result),
        "send_message_to_peer" => render_send(params, result),
        "send_message_to_user" => "Delivered to the person in the canvas.".to_owned(),
        _ => {
            let record = result.get("workspace").unwrap_or(result);
            serde_json::to_string_pretty(record).unwrap_or_default()
        }
    }
}

fn render_peers(result: &Value) -> String {
    let peers = result
        .get("peers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if peers.is_empty() {
        return "This workspace has no peers: there is no other workspace it may message."
            .to_owned();
    }
    let mut out = format!("{} peer(s):", peers.len());
    for peer in &peers {
        let field = |k: &str| peer.get(k).and_then(Value::as_str).unwrap_or("-");
        out.push_str(&format!(
            "\n- id: {} | name: {} | role: {} | status: {}",
            field("id"),
            field("name"),
            field("role"),
            field("status")
        ));
    }
    out
}

fn render_send(params: &Value, result: &Value) -> String {
    let peer = params
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("the peer");
    let str_of = |k: &str| result.get(k).and_then(Value::as_str).unwrap_or("-");
    let ids = format!(
        "(messageId {}, contextId {})",
        str_of("messageId"),
        str_of("contextId")
    );
    if result.get("queued").and_then(Value::as_bool) == Some(true) {
        return format!(
            "The message was sent to {peer} and queued {ids}: its reply, if any, will arrive \
             later as a new message. Pass the contextId to continue this thread."
        );
    }
    let state = match result.get("state").and_then(Value::as_str) {
        Some(s) => format!(" (task state: {s})"),
        None => String::new(),
    };
    let parts = result
        .get("parts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let body: Vec<String> = parts.iter().map(part_text).collect();
    let body = if body.is_empty() {
        "(no content)".to_owned()
    } else {
        body.join("\n")
    };
    format!("{peer} replied{state} {ids}:\n{body}")
}

/// A part as text: text parts as they are, other parts as JSON.
fn part_text(part: &Value) -> String {
    match (part.get("kind").and_then(Value::as_str), part.get("text")) {
        (Some("text"), Some(Value::String(t))) => t.clone(),
        _ => serde_json::to_string(part).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn send_maps_wait_seconds_and_context_id() {
        let call = host_call(
            "send_message_to_peer",
            &args(json!({"id": "p", "text": "hi", "wait_seconds": 1.5, "context_id": "c"})),
            &SendIds::default(),
        );
        assert_eq!(
            call,
            Some(Ok(HostCall {
                method: "peers/send",
                params: json!({"id": "p", "text": "hi", "waitMs": 1500, "contextId": "c"}),
            }))
        );
    }

    #[test]
    fn bad_arguments_are_explained() {
        let ids = SendIds::new(Some("k".into()));
        let bad = |v| host_call("send_message_to_peer", &args(v), &ids).and_then(Result::err);
        assert!(bad(json!({"id": "p"})).is_some_and(|e| e.contains("text is required")));
        assert!(
            bad(json!({"id": "p", "text": "x", "wait_seconds": -1}))
                .is_some_and(|e| e.contains("wait_seconds must be a number"))
        );
        assert!(
            host_call("send_message_to_user", &args(json!({"text": " "})), &ids)
                .and_then(Result::err)
                .is_some_and(|e| e.contains("text is empty"))
        );
        assert!(host_call("rm_rf", &Map::new(), &ids).is_none());
        // Refused sends take no id: the first valid one is still send 0.
        let ok = host_call(
            "send_message_to_peer",
            &args(json!({"id": "p", "text": "x"})),
            &ids,
        );
        let params = ok.and_then(Result::ok).map(|c| c.params);
        assert_eq!(
            params.map(|p| p["messageId"].clone()),
            Some(json!(call_message_id("k", 0)))
        );
    }

    #[test]
    fn a_task_reply_names_its_state_and_shows_other_parts_as_json() {
        let text = render(
            "send_message_to_peer",
            &json!({"id": "p"}),
            &json!({"messageId": "m", "contextId": "c", "queued": false, "state": "completed",
                    "parts": [{"kind": "text", "text": "done"}, {"kind": "data", "data": {"n": 1}}]}),
        );
        assert_eq!(
            text,
            "p replied (task state: completed) (messageId m, contextId c):\ndone\n\
             {\"kind\":\"data\",\"data\":{\"n\":1}}"
        );
    }
}
