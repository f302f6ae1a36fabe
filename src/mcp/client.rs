//! The host's Unix socket, as `molecule mcp` uses it: one connection per call, one NDJSON
//! JSON-RPC request, one answer.
//!
//! A connection per call keeps the client stateless: a host that restarted (a new socket) is
//! reached by the next call, and a call that hangs cannot hold up another.

use molecule_protocol::codec::write_line;
use molecule_protocol::{RequestId, encode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;

/// The environment variable that names the host's socket.
pub const SOCKET_ENV: &str = "MOLECULE_HOST_SOCKET";

/// Why a call through the socket got no result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No socket was given.
    #[error(
        "{SOCKET_ENV} is not set: molecule mcp reaches the workspace through the socket of the \
         molecule host that runs this agent; start it from a backend of `molecule connect` or \
         `molecule dev` (which set {SOCKET_ENV}), or set {SOCKET_ENV} to that socket's path"
    )]
    Unset,
    /// The socket cannot be connected to.
    #[error(
        "cannot reach the molecule host at {} ({SOCKET_ENV}): {source}; is the `molecule connect` \
         that runs this agent still running?", path.display()
    )]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The connect error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing failed, or the host closed the connection before it answered.
    #[error("the molecule host at {} ({SOCKET_ENV}) did not answer {method}: {reason}", path.display())]
    Transport {
        /// The socket path.
        path: PathBuf,
        /// The method called.
        method: String,
        /// What went wrong.
        reason: String,
    },
    /// The host answered with a JSON-RPC error.
    #[error("{method} failed: {message} (code {code}{detail})")]
    Rpc {
        /// The method called.
        method: String,
        /// The error code.
        code: i64,
        /// The host's message.
        message: String,
        /// What the error's data says (`, class unreachable, retryable`), or nothing.
        detail: String,
    },
}

/// `, class unreachable, retryable` from an error's data.
fn describe_data(data: Option<&Value>) -> String {
    let Some(data) = data else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(class) = data.get("class").and_then(Value::as_str) {
        out.push_str(&format!(", class {class}"));
    }
    match data.get("retryable").and_then(Value::as_bool) {
        Some(true) => out.push_str(", retryable"),
        Some(false) => out.push_str(", not retryable"),
        None => {}
    }
    if let Some(ms) = data.get("retryAfterMs").and_then(Value::as_u64) {
        out.push_str(&format!(", retry after {ms} ms"));
    }
    if let Some(id) = data.get("messageId").and_then(Value::as_str) {
        out.push_str(&format!(", messageId {id}"));
    }
    out
}

/// Calls the host's methods through its socket.
#[derive(Clone, Debug)]
pub struct SocketClient {
    path: Option<PathBuf>,
    timeout: Duration,
}

impl SocketClient {
    /// A client of the socket at `path` (`None`: unset); each call fails after `timeout`.
    pub fn new(path: Option<PathBuf>, timeout: Duration) -> SocketClient {
        SocketClient { path, timeout }
    }

    /// The socket path, when one was given.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Calls `method` with `params` and returns its result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let path = self.path.as_deref().ok_or(CallError::Unset)?;
        let transport = |reason: String| CallError::Transport {
            path: path.to_owned(),
            method: method.to_owned(),
            reason,
        };
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| CallError::Connect {
                path: path.to_owned(),
                source,
            })?;
        let exchange = exchange(stream, method, params);
        let answer = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {:?}", self.timeout)))?
            .map_err(transport)?;
        into_result(method, answer)
    }
}

/// Writes one request and reads lines until its answer.
async fn exchange(stream: UnixStream, method: &str, params: Value) -> Result<Value, String> {
    let (read, mut write) = stream.into_split();
    let line = encode::request_by_name(&RequestId::Number(1), method, &params)
        .map_err(|e| e.to_string())?;
    write_line(&mut write, &line)
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(read).lines();
    loop {
        let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? else {
            return Err("the connection closed before the answer".to_owned());
        };
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message.get("id") == Some(&json!(1)) && message.get("method").is_none() {
            return Ok(message);
        }
    }
}

/// The result of a JSON-RPC answer, or its error.
fn into_result(method: &str, mut answer: Value) -> Result<Value, CallError> {
    if let Some(error) = answer.get_mut("error").map(Value::take) {
        return Err(CallError::Rpc {
            method: method.to_owned(),
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: match error.get("message").and_then(Value::as_str) {
                Some(m) if !m.is_empty() => m.to_owned(),
                _ => "the host gave no message".to_owned(),
            },
            detail: describe_data(error.get("data")),
        });
    }
    Ok(answer
        .get_mut("result")
        .map(Value::take)
        .unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_its_class_and_retryability() {
        let answer = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 1013,
            "message": "peers/send to x: platform unavailable",
            "data": {"class": "unreachable", "retryable": true}}});
        let err = into_result("peers/send", answer).unwrap_err().to_string();
        assert_eq!(
            err,
            "peers/send failed: peers/send to x: platform unavailable (code 1013, class \
             unreachable, retryable)"
        );
    }

    #[test]
    fn an_empty_message_is_replaced() {
        let answer = json!({"id": 1, "error": {"code": -32603, "message": ""}});
        let err = into_result("peers/list", answer).unwrap_err().to_string();
        assert!(err.contains("the host gave no message"), "{err}");
    }
}
