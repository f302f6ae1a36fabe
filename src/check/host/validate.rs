//! The checks a host makes on a backend's call before acting on it (SPEC §14.1–14.2), as a
//! pure function: the scripted host answers `-32602` when one fails, and `host-calls.params`
//! reports it.

use molecule_protocol::host_methods::{DiscoverParams, NotifyParams, SendParams};
use molecule_protocol::methods::name;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::check::probe;

/// Why the params of a call to `method` are not what SPEC §14 asks for.
pub fn check(method: &str, params: Option<&Value>) -> Result<(), String> {
    let empty = Value::Object(Default::default());
    let params = params.unwrap_or(&empty);
    if !params.is_object() {
        return Err(format!("params must be an object, not {params}"));
    }
    meta(params)?;
    match method {
        name::PEERS_DISCOVER => uuid("id", &read::<DiscoverParams>(params)?.id),
        name::PEERS_SEND => send(params),
        name::USER_NOTIFY => notify(&read::<NotifyParams>(params)?),
        _ => Ok(()),
    }
}

fn read<T: DeserializeOwned>(params: &Value) -> Result<T, String> {
    serde_json::from_value(params.clone()).map_err(|e| e.to_string())
}

/// `_meta`, when present, is an object whose `requestId` is an integer or a string.
fn meta(params: &Value) -> Result<(), String> {
    let Some(meta) = params.get("_meta") else {
        return Ok(());
    };
    let Some(meta) = meta.as_object() else {
        return Err(format!("_meta must be an object, not {meta}"));
    };
    match meta.get("requestId") {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Number(n)) if n.is_i64() => Ok(()),
        Some(other) => Err(format!(
            "_meta.requestId must be the request's id exactly as the host sent it (an integer \
             or a string), not {other}"
        )),
    }
}

fn uuid(member: &str, value: &str) -> Result<(), String> {
    Uuid::parse_str(value)
        .map(|_| ())
        .map_err(|_| format!("{member} must be a workspace UUID, not {value:?}"))
}

fn send(params: &Value) -> Result<(), String> {
    // Parts first: the typed read would only say "missing field `kind`".
    if let Some(parts) = params.get("parts").and_then(Value::as_array) {
        for (i, part) in parts.iter().enumerate() {
            probe::validate_part(part).map_err(|why| format!("part {} {why}", i + 1))?;
        }
    }
    let p: SendParams = read(params)?;
    uuid("id", &p.id)?;
    match (&p.parts, &p.text) {
        (Some(_), Some(_)) => return Err("give parts or text, not both".into()),
        (None, None) => return Err("give parts or text".into()),
        (None, Some(t)) if t.trim().is_empty() => return Err("text is empty".into()),
        (Some(parts), None) if parts.is_empty() => return Err("parts is empty".into()),
        _ => {}
    }
    if p.message_id.as_deref().is_some_and(str::is_empty) {
        return Err("messageId is empty (leave it out, or derive it: SPEC §12.4)".into());
    }
    Ok(())
}

fn notify(p: &NotifyParams) -> Result<(), String> {
    if p.text.trim().is_empty() {
        return Err("text is empty".into());
    }
    for (i, a) in p.attachments.iter().enumerate() {
        if !(a.uri.starts_with("https://") || a.uri.starts_with("http://")) {
            return Err(format!(
                "attachment {} must have an http(s) uri, not {:?}",
                i + 1,
                a.uri
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PEER: &str = "6c1f2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

    #[test]
    fn says_what_is_wrong_with_a_call() {
        assert_eq!(check("peers/list", None), Ok(()));
        assert_eq!(
            check(
                "peers/send",
                Some(&json!({"id": PEER, "text": "hi", "waitMs": 5}))
            ),
            Ok(())
        );
        let cases = [
            ("peers/list", json!([]), "params must be an object, not []"),
            (
                "peers/list",
                json!({"_meta": {"requestId": 1.5}}),
                "_meta.requestId must be",
            ),
            (
                "peers/discover",
                json!({"id": "bob"}),
                "id must be a workspace UUID, not \"bob\"",
            ),
            ("peers/send", json!({"id": PEER}), "give parts or text"),
            (
                "peers/send",
                json!({"id": PEER, "text": " "}),
                "text is empty",
            ),
            (
                "peers/send",
                json!({"id": PEER, "parts": [{"type": "text", "text": "a"}]}),
                "part 1 has \"type\" instead of \"kind\"",
            ),
            (
                "peers/send",
                json!({"id": PEER, "text": "a", "waitMs": -1}),
                "invalid value",
            ),
            ("peers/send", json!({"note": "x"}), "missing field `id`"),
            (
                "user/notify",
                json!({"text": "x", "attachments": [{"uri": "file:///etc/passwd"}]}),
                "attachment 1 must have an http(s) uri",
            ),
        ];
        for (method, params, want) in cases {
            let got = check(method, Some(&params)).unwrap_err();
            assert!(got.contains(want), "{method} {params}: {got}");
        }
    }
}
