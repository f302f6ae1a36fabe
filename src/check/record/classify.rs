//! What each line is: a request, a notification, a response, an invalid JSON-RPC object, junk,
//! or a line over the cap, with the id it names when it names one.

use molecule_protocol::codec::sniff_id;
use molecule_protocol::jsonrpc::MessageError;
use molecule_protocol::{Message, RequestId, RpcError};
use serde_json::Value;

/// How much of a line is kept for quoting.
const PREVIEW_CHARS: usize = 120;

/// What a line was.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A request.
    Request {
        /// Its id.
        id: RequestId,
        /// Its method.
        method: String,
        /// Its params, for the backend's calls to the host (the checker's own are not kept).
        params: Option<Value>,
    },
    /// A notification; `about` is its `params.id` (the request a cancel or progress is about).
    Notification {
        /// Its method.
        method: String,
        /// `params.id`, when it is a valid id.
        about: Option<RequestId>,
    },
    /// A response.
    Response {
        /// The id answered (`None` for `"id": null`).
        id: Option<RequestId>,
        /// The result or the error.
        result: Result<Value, RpcError>,
    },
    /// A JSON object that is not a valid JSON-RPC message.
    Invalid {
        /// Why.
        reason: String,
        /// Its top-level `id`, as written.
        raw_id: Option<Value>,
    },
    /// A line that is not a JSON object at all.
    Junk {
        /// Why.
        reason: String,
        /// The integer or string `"id"` at its start, when it starts like a JSON-RPC message
        /// (an answer another write broke, say).
        id: Option<RequestId>,
    },
    /// A line over the advertised cap, discarded.
    Oversize {
        /// Its length in bytes.
        len: usize,
        /// The id read from its start, when legible.
        id: Option<RequestId>,
    },
}

/// The start of a line, quoted as text.
pub fn preview(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().nth(PREVIEW_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Classifies a line the backend wrote.
pub(super) fn classify(line: &[u8]) -> Kind {
    if let Err(e) = std::str::from_utf8(line) {
        return not_utf8(line, e.valid_up_to());
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Kind::Junk {
                reason: MessageError::NotJson(e.to_string()).to_string(),
                id: sniff_id(line),
            };
        }
    };
    let raw_id = value.get("id").cloned();
    match Message::from_value(value) {
        Ok(Message::Request(r)) => Kind::Request {
            id: r.id,
            method: r.method,
            params: r.params,
        },
        Ok(Message::Notification(n)) => Kind::Notification {
            about: about(n.params.as_ref()),
            method: n.method,
        },
        Ok(Message::Response(r)) => Kind::Response {
            id: r.id,
            result: r.result,
        },
        Err(e) if e.is_junk() => Kind::Junk {
            reason: e.to_string(),
            id: None,
        },
        Err(e) => Kind::Invalid {
            reason: e.to_string(),
            raw_id,
        },
    }
}

/// A line that is not UTF-8 (SPEC §2): invalid, with the id it names once each bad byte is
/// replaced, as the host reads it.
fn not_utf8(line: &[u8], offset: usize) -> Kind {
    let reason = format!("not valid UTF-8 (the first bad byte is at offset {offset})");
    let lossy = String::from_utf8_lossy(line);
    let raw_id = serde_json::from_str::<Value>(&lossy)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .or_else(|| sniff_id(line).and_then(|id| serde_json::to_value(id).ok()));
    Kind::Invalid { reason, raw_id }
}

/// The `params.id` of a notification.
pub(super) fn about(params: Option<&Value>) -> Option<RequestId> {
    let id = params?.get("id")?.clone();
    serde_json::from_value(id).ok()
}
