//! The JSON-RPC 2.0 envelope: ids, requests, notifications and responses. The error object is
//! in [`crate::error`], the writing of lines in [`crate::encode`].
//!
//! Incoming lines are classified by hand from a JSON object (a request has `method` and `id`,
//! a notification `method` and no `id`, a response `id` and `result` or `error`) rather than
//! through an untagged serde enum, so that every malformed message gets a precise reason.

use crate::error::RpcError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A request id: the host always sends integers, but backends may use strings, and every side
/// echoes the id exactly as it received it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id (the host's ids are integers counting up from 0).
    Number(i64),
    /// A string id.
    String(String),
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

impl From<&str> for RequestId {
    fn from(s: &str) -> Self {
        RequestId::String(s.to_owned())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A request: it carries an id and expects exactly one response.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The id the response must echo.
    pub id: RequestId,
    /// The method name.
    pub method: String,
    /// The params, when present (object or array).
    pub params: Option<Value>,
}

/// A notification: a method call with no id and no response.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The method name.
    pub method: String,
    /// The params, when present.
    pub params: Option<Value>,
}

/// A response to a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The id of the request answered; `None` for an error about an unreadable request.
    pub id: Option<RequestId>,
    /// The result, or the error.
    pub result: Result<Value, RpcError>,
}

/// Any JSON-RPC message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A notification.
    Notification(Notification),
    /// A response.
    Response(Response),
}

/// Why a line is not a usable JSON-RPC message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MessageError {
    /// The line is not JSON at all (a stray log line, say).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The line is JSON but not an object.
    #[error("not a JSON-RPC object (a JSON {0})")]
    NotObject(&'static str),
    /// `jsonrpc` is missing or not "2.0".
    #[error("missing or wrong \"jsonrpc\" member (must be \"2.0\")")]
    BadVersion,
    /// The id is neither an integer nor a string.
    #[error("\"id\" must be an integer or a string")]
    BadId,
    /// `method` is present but not a string.
    #[error("\"method\" must be a string")]
    BadMethod,
    /// Neither a request, a notification nor a response.
    #[error("neither a request, a notification nor a response")]
    Unclassifiable,
    /// A response whose `error` member is not an error object.
    #[error("malformed \"error\" member: {0}")]
    BadError(String),
    /// A response with both `result` and `error`.
    #[error("response has both \"result\" and \"error\"")]
    ResultAndError,
}

impl MessageError {
    /// Whether the line was JSON-RPC-shaped enough to deserve an Invalid Request answer, rather
    /// than junk that must only be logged and counted.
    pub fn is_junk(&self) -> bool {
        matches!(self, MessageError::NotJson(_) | MessageError::NotObject(_))
    }
}

impl Message {
    /// Parses one line (without its newline).
    pub fn parse(line: &[u8]) -> Result<Message, MessageError> {
        let value: Value =
            serde_json::from_slice(line).map_err(|e| MessageError::NotJson(e.to_string()))?;
        Message::from_value(value)
    }

    /// Classifies a parsed JSON value.
    pub fn from_value(value: Value) -> Result<Message, MessageError> {
        let mut obj = match value {
            Value::Object(map) => map,
            other => return Err(MessageError::NotObject(json_type_name(&other))),
        };
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(MessageError::BadVersion);
        }
        let id = match obj.remove("id") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(
                serde_json::from_value::<RequestId>(v).map_err(|_| MessageError::BadId)?,
            )),
        };
        let method = match obj.remove("method") {
            None => None,
            Some(Value::String(m)) => Some(m),
            Some(_) => return Err(MessageError::BadMethod),
        };
        let params = obj.remove("params");
        if let Some(method) = method {
            return match id {
                None => Ok(Message::Notification(Notification { method, params })),
                Some(Some(id)) => Ok(Message::Request(Request { id, method, params })),
                Some(None) => Err(MessageError::BadId),
            };
        }
        let id = id.ok_or(MessageError::Unclassifiable)?;
        let result = match (obj.remove("result"), obj.remove("error")) {
            (Some(_), Some(_)) => return Err(MessageError::ResultAndError),
            (Some(result), None) => Ok(result),
            (None, Some(err)) => Err(serde_json::from_value::<RpcError>(err)
                .map_err(|e| MessageError::BadError(e.to_string()))?),
            (None, None) => return Err(MessageError::Unclassifiable),
        };
        Ok(Message::Response(Response { id, result }))
    }

    /// The message as a JSON value, in the member order of [`crate::encode`].
    pub fn to_value(&self) -> Value {
        // Serialising ids, strings and JSON values into a `Value` cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The message as one compact line, without the trailing newline, written as
    /// [`crate::encode`] writes it.
    pub fn to_line(&self) -> String {
        // Serialising ids, strings and JSON values cannot fail, and compact JSON never
        // contains a raw newline.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Response {
    /// A successful response.
    pub fn ok(id: RequestId, result: Value) -> Self {
        Response {
            id: Some(id),
            result: Ok(result),
        }
    }

    /// An error response.
    pub fn err(id: RequestId, error: RpcError) -> Self {
        Response {
            id: Some(id),
            result: Err(error),
        }
    }
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;
    use crate::error::ErrorData;
    use serde_json::json;

    #[test]
    fn classifies_each_kind() {
        let req = Message::parse(br#"{"jsonrpc":"2.0","id":3,"method":"ping","params":{}}"#);
        assert!(matches!(
            req,
            Ok(Message::Request(Request {
                id: RequestId::Number(3),
                ..
            }))
        ));
        let note = Message::parse(br#"{"jsonrpc":"2.0","method":"$/progress"}"#);
        assert!(matches!(note, Ok(Message::Notification(_))));
        let resp = Message::parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#);
        assert!(matches!(
            resp,
            Ok(Message::Response(Response {
                id: Some(RequestId::String(_)),
                result: Ok(_)
            }))
        ));
        let err =
            Message::parse(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#);
        assert!(matches!(
            err,
            Ok(Message::Response(Response {
                id: None,
                result: Err(_)
            }))
        ));
    }

    #[test]
    fn rejects_junk_precisely() {
        assert!(Message::parse(b"Loading model...").unwrap_err().is_junk());
        assert_eq!(
            Message::parse(b"[1]").unwrap_err(),
            MessageError::NotObject("array")
        );
        assert_eq!(
            Message::parse(br#"{"id":1,"method":"x"}"#).unwrap_err(),
            MessageError::BadVersion
        );
        assert_eq!(
            Message::parse(br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#).unwrap_err(),
            MessageError::BadId
        );
        assert_eq!(
            Message::parse(
                br#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":""}}"#
            )
            .unwrap_err(),
            MessageError::ResultAndError
        );
    }

    #[test]
    fn large_ids_round_trip_exactly() {
        let line = r#"{"jsonrpc":"2.0","id":9007199254740991,"result":null}"#;
        let msg = Message::parse(line.as_bytes()).unwrap();
        assert_eq!(msg.to_line(), line);
    }

    #[test]
    fn pins_wire_bytes() {
        let msg = Message::Response(Response::err(
            RequestId::Number(7),
            RpcError::with_data(
                code::BUSY,
                "busy",
                ErrorData::default()
                    .with_retryable(true)
                    .with_retry_after_ms(250),
            ),
        ));
        assert_eq!(
            msg.to_line(),
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":1001,"message":"busy","data":{"retryable":true,"retryAfterMs":250}}}"#
        );
        let back = Message::parse(msg.to_line().as_bytes()).unwrap();
        assert_eq!(back, msg);
        assert_eq!(json!(RequestId::from("x")), json!("x"));
    }
}
