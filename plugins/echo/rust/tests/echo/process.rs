//! A backend process driven line by line, with a deadline on every wait.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::Duration;

/// How long any one wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub struct Backend {
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    exited: Receiver<ExitStatus>,
    stderr: Receiver<String>,
}

impl Backend {
    /// Starts `molecule-echo` as the host would (MOLECULE_BACKEND=1, pipes on all three fds).
    pub fn start() -> Backend {
        Backend::spawn(
            Command::new(env!("CARGO_BIN_EXE_molecule-echo")).env("MOLECULE_BACKEND", "1"),
            Stdio::piped(),
        )
    }

    /// Starts `cmd` with `stdin` and piped stdout and stderr.
    pub fn spawn(cmd: &mut Command, stdin: Stdio) -> Backend {
        let mut child = cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the backend");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (line_tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr_rx) = channel();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        let stdin = child.stdin.take();
        Backend {
            stdin,
            lines,
            exited: wait_in_thread(child),
            stderr: stderr_rx,
        }
    }

    /// Writes raw bytes to the backend's stdin.
    pub fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(bytes).expect("write to the backend");
        stdin.flush().expect("flush to the backend");
    }

    /// Sends one message as a line.
    pub fn send(&mut self, msg: &Value) {
        self.write(format!("{msg}\n").as_bytes());
    }

    /// Sends a request.
    pub fn request(&mut self, id: Value, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    }

    /// The next stdout line, which must be a JSON-RPC 2.0 object.
    pub fn recv(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("no line from the backend in time");
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line:?}"));
        assert_eq!(value["jsonrpc"], "2.0", "not JSON-RPC 2.0: {line}");
        value
    }

    /// Performs the handshake and returns the result.
    pub fn initialize(&mut self) -> Value {
        self.request(json!(0), "initialize", initialize_params());
        let answer = self.recv();
        assert_eq!(answer["id"], 0);
        answer["result"].clone()
    }

    /// Closes stdin (the shutdown signal).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&self) -> ExitStatus {
        self.exited
            .recv_timeout(DEADLINE)
            .expect("the backend did not exit in time")
    }

    /// Everything the process wrote to stderr (after it exited).
    pub fn stderr(&self) -> String {
        self.stderr
            .recv_timeout(DEADLINE)
            .expect("stderr did not end in time")
    }

    /// Whether any further stdout line is pending once the output ended.
    pub fn remaining_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

fn wait_in_thread(mut child: Child) -> Receiver<ExitStatus> {
    let (tx, rx) = channel();
    thread::spawn(move || {
        if let Ok(status) = child.wait() {
            let _ = tx.send(status);
        }
    });
    rx
}

pub fn initialize_params() -> Value {
    json!({
        "protocolVersion": 1,
        "host": {"name": "test", "version": "0", "pid": std::process::id()},
        "workspace": {"id": "00000000-0000-4000-8000-000000000001"},
        "limits": {"maxMessageBytes": 8_388_608, "requestTimeoutMs": 60_000},
        "capabilities": {"cancel": true, "progress": true, "hostMethods": []}
    })
}

/// `handle_a2a` params carrying `parts`.
pub fn a2a(parts: Value) -> Value {
    json!({
        "message": {"kind": "message", "role": "user", "messageId": "m-1", "parts": parts},
        "sender": {"kind": "canvas", "workspaceId": null},
        "context": {"activityId": "act-1", "attempt": 1, "deadline": "2099-01-01T00:00:00.000Z",
                    "idempotencyKey": "k-1", "conversationKey": "canvas"}
    })
}
