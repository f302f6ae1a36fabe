//! For the `molecule mcp` tests: an MCP client driving the real binary over its stdio, and a
//! stand-in for the host's Unix socket that answers per the agreed peer-call shapes.

use crate::support::wait::within;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixListener;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;

/// `molecule mcp` as a child process, spoken to as an MCP client.
pub struct McpClient {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: i64,
}

impl McpClient {
    /// Starts `molecule mcp` with MOLECULE_HOST_SOCKET set to `socket`, or unset.
    pub fn start(socket: Option<&Path>) -> McpClient {
        McpClient::start_with(socket, &[])
    }

    /// The same with extra environment variables.
    pub fn start_with(socket: Option<&Path>, env: &[(&str, &str)]) -> McpClient {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule"));
        cmd.arg("mcp")
            .env_remove("MOLECULE_HOST_SOCKET")
            .env_remove("MOLECULE_IDEMPOTENCY_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(socket) = socket {
            cmd.env("MOLECULE_HOST_SOCKET", socket);
        }
        let mut child = cmd.spawn().expect("molecule mcp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        McpClient {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    async fn send(&mut self, message: Value) {
        let mut line = serde_json::to_vec(&message).expect("json");
        line.push(b'\n');
        self.stdin.write_all(&line).await.expect("write to mcp");
        self.stdin.flush().await.expect("flush");
    }

    /// Sends a request and returns its response (the whole JSON-RPC object).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let line = within(&format!("the answer to {method}"), self.stdout.next_line())
                .await
                .expect("read stdout")
                .unwrap_or_else(|| panic!("molecule mcp closed stdout before answering {method}"));
            let message: Value = serde_json::from_str(&line).expect("stdout is JSON");
            if message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// The MCP handshake: `initialize`, then `notifications/initialized`. Returns the result.
    pub async fn initialize(&mut self) -> Value {
        let params = json!({"protocolVersion": "2025-06-18", "capabilities": {},
                            "clientInfo": {"name": "molecule-tests", "version": "0"}});
        let answer = self.request("initialize", params).await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        answer["result"].clone()
    }

    /// The names of the tools `tools/list` gives.
    pub async fn tool_names(&mut self) -> Vec<String> {
        let answer = self.request("tools/list", json!({})).await;
        answer["result"]["tools"]
            .as_array()
            .expect("a tool list")
            .iter()
            .map(|t| t["name"].as_str().expect("a name").to_owned())
            .collect()
    }

    /// Calls a tool; returns its result (`content`, `isError`).
    pub async fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        let answer = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        answer["result"].clone()
    }

    /// Closes stdin and waits for a clean exit.
    pub async fn close(mut self) {
        drop(self.stdin);
        let status = within("molecule mcp to exit", self.child.wait())
            .await
            .expect("wait");
        assert!(status.success(), "molecule mcp exited with {status}");
    }
}

/// The text of a tool result's first content block.
pub fn result_text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

/// A stand-in for the host's socket: it records each request and answers it with
/// `answer(method, params)` (the JSON-RPC `result`, or `Err(error object)`).
pub struct FakeHostSocket {
    pub path: PathBuf,
    requests: mpsc::UnboundedReceiver<Value>,
    _dir: tempfile::TempDir,
}

type Answer = Arc<dyn Fn(&str, &Value) -> Result<Value, Value> + Send + Sync>;

impl FakeHostSocket {
    /// Listens on a fresh socket in a temporary directory.
    pub fn start(
        answer: impl Fn(&str, &Value) -> Result<Value, Value> + Send + Sync + 'static,
    ) -> FakeHostSocket {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("host.sock");
        let listener = UnixListener::bind(&path).expect("bind the socket");
        let (tx, requests) = mpsc::unbounded_channel();
        let answer: Answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, answer.clone(), tx.clone()));
            }
        });
        FakeHostSocket {
            path,
            requests,
            _dir: dir,
        }
    }

    /// The next request the socket received (the whole JSON-RPC object).
    pub async fn next_request(&mut self) -> Value {
        within("a request on the host socket", self.requests.recv())
            .await
            .expect("the socket task is alive")
    }
}

async fn serve_connection(
    stream: tokio::net::UnixStream,
    answer: Answer,
    seen: mpsc::UnboundedSender<Value>,
) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let request: Value = serde_json::from_str(&line).expect("the request is JSON");
        let _ = seen.send(request.clone());
        let method = request["method"].as_str().unwrap_or("");
        let reply = match answer(method, &request["params"]) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": request["id"], "result": result}),
            Err(error) => json!({"jsonrpc": "2.0", "id": request["id"], "error": error}),
        };
        let mut out = serde_json::to_vec(&reply).expect("json");
        out.push(b'\n');
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}
