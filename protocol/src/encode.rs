//! The one writer of protocol lines: every message the host, `backend-check` and the Rust SDK
//! write is encoded here, and [`Message::to_line`] goes through the same code. The members are
//! written in the order `jsonrpc, id, method, params` or `jsonrpc, id, result|error` (the id
//! first, so that an over-long line can still be attributed from its start).
//!
//! Each function returns one line: a compact JSON object followed by `\n` (compact JSON never
//! holds a raw newline). The typed functions take a [`Method`], so a name is never written with
//! another method's params; the `_by_name` ones serve callers that pick the method at run time.

use crate::error::RpcError;
use crate::jsonrpc::{Message, RequestId};
use crate::methods::Method;
use serde::{Serialize, Serializer};

/// The value of the `jsonrpc` member.
const VERSION: &str = "2.0";

/// A request of method `M`.
pub fn request<M: Method>(id: &RequestId, params: &M::Params) -> serde_json::Result<Vec<u8>> {
    request_by_name(id, M::NAME, params)
}

/// A notification of method `M` (a method without a result).
pub fn notification<M: Method<Result = ()>>(params: &M::Params) -> serde_json::Result<Vec<u8>> {
    notification_by_name(M::NAME, params)
}

/// A request of the method called `method`.
pub fn request_by_name<P: Serialize + ?Sized>(
    id: &RequestId,
    method: &str,
    params: &P,
) -> serde_json::Result<Vec<u8>> {
    line(&RequestLine {
        jsonrpc: VERSION,
        id,
        method,
        params: Some(params),
    })
}

/// A notification of the method called `method`.
pub fn notification_by_name<P: Serialize + ?Sized>(
    method: &str,
    params: &P,
) -> serde_json::Result<Vec<u8>> {
    line(&NotificationLine {
        jsonrpc: VERSION,
        method,
        params: Some(params),
    })
}

/// A successful response to `id`.
pub fn result<T: Serialize + ?Sized>(id: &RequestId, result: &T) -> serde_json::Result<Vec<u8>> {
    line(&ResultLine {
        jsonrpc: VERSION,
        id: Some(id),
        result,
    })
}

/// An error response to `id`; `None` (written `null`) answers a request whose id could not be
/// read.
pub fn error(id: Option<&RequestId>, error: &RpcError) -> Vec<u8> {
    let line = line(&ErrorLine {
        jsonrpc: VERSION,
        id,
        error,
    });
    // An `RpcError` is strings, an integer and a JSON value: it always serialises.
    line.unwrap_or_else(|_| {
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"unencodable error"}}
"#
        .to_vec()
    })
}

fn line<T: Serialize>(message: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = serde_json::to_vec(message)?;
    out.push(b'\n');
    Ok(out)
}

#[derive(Serialize)]
struct RequestLine<'a, P: ?Sized> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

#[derive(Serialize)]
struct NotificationLine<'a, P: ?Sized> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

#[derive(Serialize)]
struct ResultLine<'a, T: ?Sized> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    result: &'a T,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    error: &'a RpcError,
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Message::Request(r) => RequestLine {
                jsonrpc: VERSION,
                id: &r.id,
                method: &r.method,
                params: r.params.as_ref(),
            }
            .serialize(s),
            Message::Notification(n) => NotificationLine {
                jsonrpc: VERSION,
                method: &n.method,
                params: n.params.as_ref(),
            }
            .serialize(s),
            Message::Response(r) => match &r.result {
                Ok(result) => ResultLine {
                    jsonrpc: VERSION,
                    id: r.id.as_ref(),
                    result,
                }
                .serialize(s),
                Err(error) => ErrorLine {
                    jsonrpc: VERSION,
                    id: r.id.as_ref(),
                    error,
                }
                .serialize(s),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;
    use crate::methods::{CancelParams, CancelReason, CancelRequest, Empty, Ping};

    fn text(line: &[u8]) -> &str {
        std::str::from_utf8(line).unwrap()
    }

    #[test]
    fn pins_the_bytes_of_each_kind() {
        let id = RequestId::Number(3);
        let ping = request::<Ping>(&id, &Empty::default()).unwrap();
        assert_eq!(
            text(&ping),
            "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{}}\n"
        );
        let cancel = CancelParams::new(RequestId::Number(3), CancelReason::HostShutdown);
        assert_eq!(
            text(&notification::<CancelRequest>(&cancel).unwrap()),
            "{\"jsonrpc\":\"2.0\",\"method\":\"$/cancelRequest\",\"params\":{\"id\":3,\"reason\":\"host_shutdown\"}}\n"
        );
        assert_eq!(
            text(&result(&RequestId::from("a"), &Empty::default()).unwrap()),
            "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}\n"
        );
        assert_eq!(
            text(&error(None, &RpcError::new(code::PARSE_ERROR, "x"))),
            "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}\n"
        );
    }

    #[test]
    fn a_message_is_written_as_the_encoders_write_it() {
        let params = serde_json::json!({"text": "é\u{2028}"});
        let id = RequestId::from("b-1");
        let typed = request_by_name(&id, "peers/send", &params).unwrap();
        let message = Message::Request(crate::jsonrpc::Request {
            id: id.clone(),
            method: "peers/send".into(),
            params: Some(params.clone()),
        });
        assert_eq!(format!("{}\n", message.to_line()).into_bytes(), typed);
        let bare = Message::Notification(crate::jsonrpc::Notification {
            method: "x".into(),
            params: None,
        });
        assert_eq!(bare.to_line(), r#"{"jsonrpc":"2.0","method":"x"}"#);
    }
}
