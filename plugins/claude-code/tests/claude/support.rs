//! A backend process driven line by line, the fake CLI's records, and waits with deadlines.

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

/// How long any one wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The platform token the tests put in the backend's environment, which must never reach Claude.
pub const TOKEN: &str = "molecule-secret-token-123";

/// A scratch area: the state dir, the fake CLI's log and session store, and Claude's cwd.
pub struct Rig {
    pub dir: tempfile::TempDir,
}

impl Rig {
    pub fn new() -> Rig {
        let rig = Rig {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(rig.cwd()).expect("cwd");
        rig
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn cwd(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("fake-claude.jsonl")
    }

    /// The command that starts the backend with the fake CLI and millisecond timers.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-claude-code"));
        cmd.arg("--claude-bin")
            .arg(env!("CARGO_BIN_EXE_fake-claude"));
        if !args.contains(&"--cwd") {
            cmd.arg("--cwd").arg(self.cwd());
        }
        cmd.args(["--kill-grace", "300ms", "--exit-grace", "300ms"])
            .args(args)
            .env("MOLECULE_BACKEND", "1")
            .env("MOLECULE_STATE_DIR", self.state())
            .env("MOLECULE_WORKSPACE_TOKEN", TOKEN)
            .env("CLAUDECODE", "1")
            .env("FAKE_CLAUDE_LOG", self.log())
            .env(
                "FAKE_CLAUDE_SESSIONS",
                self.dir.path().join("claude-sessions"),
            )
            .env_remove("MOLECULE_CLAUDE_PROGRESS_INTERVAL")
            .env_remove("MOLECULE_HOST_SOCKET")
            .env_remove("MOLECULE_HOST_EXE");
        cmd
    }

    /// Starts the backend and performs the handshake.
    pub fn start(&self, args: &[&str]) -> Backend {
        let mut backend = Backend::spawn(&mut self.command(args));
        backend.initialize();
        backend
    }

    /// Every run of the fake CLI so far (its `children` records left out).
    pub fn runs(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r.get("argv").is_some())
            .collect()
    }

    pub fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for the fake's `children` record of a hanging run: (fake pid, [child, grandchild]).
    pub fn wait_children(&self) -> (i32, Vec<i32>) {
        let record = wait_for("the fake CLI to start its children", || {
            self.records()
                .into_iter()
                .find(|r| r["event"] == "children")
        });
        let pid = record["pid"].as_i64().expect("pid") as i32;
        let kids = record["children"]
            .as_array()
            .expect("children")
            .iter()
            .map(|v| v.as_i64().expect("a pid") as i32)
            .collect();
        (pid, kids)
    }

    /// The session map file, parsed.
    pub fn session_map(&self) -> Value {
        let text = std::fs::read_to_string(self.state().join("claude-sessions.json"))
            .expect("session map");
        serde_json::from_str(&text).expect("session map JSON")
    }
}

/// The value of `--name=` in a recorded run's argv.
pub fn flag(run: &Value, name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    run["argv"]
        .as_array()?
        .iter()
        .find_map(|a| a.as_str()?.strip_prefix(&prefix).map(str::to_owned))
}

/// Polls `check` until it gives a value, failing the test after [`DEADLINE`].
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` has exited (gone, or a zombie waiting for its parent).
pub fn is_gone(pid: i32) -> bool {
    molecule_proc::read_proc(pid).is_none_or(|p| p.is_zombie())
}

/// Waits until every pid in `pids` has exited.
pub fn wait_all_gone(pids: &[i32]) {
    wait_for(&format!("processes {pids:?} to end"), || {
        pids.iter().all(|&p| is_gone(p)).then_some(())
    });
}

/// The backend process, with its stdout read line by line on a thread.
pub struct Backend {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    pending: VecDeque<Value>,
    next_id: i64,
    stderr: Receiver<String>,
}

impl Backend {
    pub fn spawn(cmd: &mut Command) -> Backend {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the backend");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line:?}"));
                if tx.send(value).is_err() {
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
        Backend {
            stdin: child.stdin.take(),
            child,
            lines,
            pending: VecDeque::new(),
            next_id: 1,
            stderr: stderr_rx,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn send(&mut self, msg: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{msg}\n").as_bytes())
            .expect("write to the backend");
        stdin.flush().expect("flush");
    }

    pub fn request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        id
    }

    pub fn initialize(&mut self) -> Value {
        self.send(
            &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":initialize_params(None)}),
        );
        let answer = self.answer(0);
        answer["result"].clone()
    }

    /// Sends `handle_a2a` and returns its id.
    pub fn send_a2a(&mut self, params: Value) -> i64 {
        self.request("handle_a2a", params)
    }

    /// Sends `handle_a2a` and waits for its answer (the whole response object).
    pub fn a2a(&mut self, params: Value) -> Value {
        let id = self.send_a2a(params);
        self.answer(id)
    }

    pub fn cancel(&mut self, id: i64) {
        self.send(&json!({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":id,"reason":"deadline"}}));
    }

    /// Waits for the response to `id`; every other line read meanwhile is kept.
    pub fn answer(&mut self, id: i64) -> Value {
        self.wait_line(&format!("the answer to {id}"), |v| {
            v["id"] == id && v.get("method").is_none()
        })
    }

    /// Waits for a line matching `pred`.
    pub fn wait_line(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).expect("present");
        }
        let start = Instant::now();
        loop {
            let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_default();
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(v) => self.pending.push_back(v),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("timed out waiting for {what}; read {:?}", self.pending)
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "stdout closed while waiting for {what}; read {:?}",
                    self.pending
                ),
            }
        }
    }

    /// The progress notifications for `id` read so far.
    pub fn progress(&self, id: i64) -> Vec<Value> {
        self.pending
            .iter()
            .filter(|v| v["method"] == "$/progress" && v["params"]["id"] == id)
            .cloned()
            .collect()
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the backend to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_for("the backend to exit", || {
            self.child.try_wait().expect("try_wait")
        })
    }

    /// Everything the backend wrote on stderr (once it has exited).
    pub fn stderr(&self) -> String {
        self.stderr.recv_timeout(DEADLINE).expect("stderr to end")
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn initialize_params(idle_timeout_ms: Option<u64>) -> Value {
    json!({
        "protocolVersion": 1,
        "host": {"name": "test", "version": "0", "pid": std::process::id()},
        "workspace": {"id": "00000000-0000-4000-8000-000000000001"},
        "limits": {"maxMessageBytes": 8_388_608, "requestTimeoutMs": 600_000, "idleTimeoutMs": idle_timeout_ms},
        "capabilities": {"cancel": true, "progress": true, "hostMethods": []}
    })
}

/// `handle_a2a` params: `text` from the agent workspace `peer` (in conversation `agent:<peer>`).
pub fn from_agent(text: &str, peer: &str) -> Value {
    json!({
        "message": {"kind": "message", "role": "user", "messageId": uuid(), "parts": [{"kind": "text", "text": text}]},
        "sender": {"kind": "agent", "workspaceId": peer, "name": "planner", "role": "Plans research"},
        "context": {"activityId": uuid(), "attempt": 1, "deadline": "2099-01-01T00:00:00.000Z",
                    "idempotencyKey": uuid(), "conversationKey": format!("agent:{peer}"), "hops": 0}
    })
}

pub fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "00000000-0000-4000-8000-{:012}",
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The text of a successful answer's first part.
pub fn reply_text(answer: &Value) -> &str {
    answer["result"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not a text reply: {answer}"))
}

/// The `molecule` host binary: `$MOLECULE_BIN` when set, else the one next to this crate's
/// binaries in the target directory, when it was built (`cargo test --workspace` builds every member's binaries before any test runs).
/// It is not built from here: a nested `cargo build` would wait on the lock the running
/// `cargo test` holds.
pub fn molecule_binary() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os("MOLECULE_BIN") {
        return Some(PathBuf::from(given));
    }
    let ours = Path::new(env!("CARGO_BIN_EXE_molecule-claude-code"));
    let host = ours.with_file_name("molecule");
    host.is_file().then_some(host)
}

/// The host binary when it has `subcommand`; otherwise prints why the caller skips.
pub fn molecule_with(subcommand: &str) -> Option<PathBuf> {
    let Some(host) = molecule_binary() else {
        eprintln!(
            "SKIPPED: no `molecule` binary next to molecule-claude-code; run `cargo build -p molecule` \
             or `cargo test --workspace` to run this test"
        );
        return None;
    };
    let ok = Command::new(&host)
        .args([subcommand, "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIPPED: {host:?} has no `{subcommand}` subcommand yet (not merged); this test runs once it has"
        );
        return None;
    }
    Some(host)
}
