//! `molecule-test-backend`: a backend that misbehaves on purpose, for the host's tests and for
//! `backend-check`'s self-test. Standard library, serde_json and nix only.
//!
//! Without `MOLECULE_TEST_FAULT` it is a correct echo backend: it answers `initialize`, `ping`,
//! `handle_a2a` (each text part prefixed `echo: `, data parts passed back), honours
//! `$/cancelRequest` with `-32800`, and exits at stdin EOF.
//!
//! `MOLECULE_TEST_FAULT` (comma-separated) picks what goes wrong for the whole process:
//! `exit-before-init`, `no-init` (never answers initialize), `init-error` (answers it with
//! error `MOLECULE_TEST_INIT_ERROR_CODE`, default -32002), `wrong-version` (answers with
//! `MOLECULE_TEST_PROTOCOL_VERSION`, default 2), `junk-handshake` (a log line on stdout instead
//! of the answer), `junk-stdout` (a log line before every reply), `oversize` (every reply one
//! byte over `maxMessageBytes`), `dup-id` (every reply twice), `stray-id` (plus a reply for an
//! id never sent), `crash-on-request`, `ignore-cancel`, `ignore-sigterm` (also ignores EOF),
//! `grandchild` (starts a process in its own session that holds the pipes and writes its pid to
//! `MOLECULE_TEST_PID_FILE`), `double-fork` (the daemon's escape: a child calls `setsid`, starts
//! the process that writes its pid to `MOLECULE_TEST_PID_FILE` with stdio on /dev/null, and
//! exits, so the survivor's parent is gone), `stderr-flood` (`MOLECULE_TEST_FLOOD_LINES` lines, default
//! 50000, all written before it exits), `host-call` (calls host method `MOLECULE_TEST_HOST_METHOD` before each reply).
//!
//! Faults that `backend-check` must each catch: `echo-version` (answers initialize with the
//! version offered), `no-init-check` (serves requests before initialize), `numeric-ids`
//! (answers a string id that looks like a number with an integer id), `unknown-method-result`,
//! `answer-notifications` (answers unknown notifications with an `"id": null` error),
//! `lax-params` (answers handle_a2a without a message with a result, not -32602), `bad-parts`
//! (`type` instead of `kind` in reply parts), `small-lines` (exits on a line over 64 KiB, like
//! asyncio's default reader), `mangle-utf8` (non-ASCII text comes back as `?`),
//! `answer-any-cancel` (answers -32800 even for ids not in flight), `late-progress` (a
//! `$/progress` after each answer), `exit-1-at-eof`, `self-cancel` (answers every handle_a2a
//! -32800 without having been cancelled), `string-ids` and `next-id` (once initialized, an
//! integer id is answered as a string, or plus one), `interleave` (a debug print lands in the
//! middle of each `handle_a2a` answer), `host-error-internal` and `host-error-crash` (a host
//! call answered with an error is answered -32603, or crashes the backend), `unscoped` (calls
//! carry no `_meta.requestId`), `random-message-ids` (`send` changes its messageId each time).
//!
//! The first word of a `handle_a2a` text picks what happens to that one request: `hang`,
//! `crash`, `sleep:MS`, `big:BYTES`, `progress:COUNT:MS`, `gather` (held until
//! `MOLECULE_TEST_GATHER` are held, then all answered with the most ever in flight),
//! `cancel-answers` (held; a cancel gets a *result*, as if it had just finished), `env`,
//! `parent-environ` (the host's `/proc/<pid>/environ`, or why it cannot be read), `init`
//! (the initialize params received), `params` (this request's params), `stderr:LINES`, `log-json`, `call-host:METHOD`, `junk`,
//! `dup`, `stray`, `stop-reading`, `self-cancel`, `calls:N:METHOD` (N host calls at once, then
//! a data part counting their outcomes by error code, `0` for a result), `bad-utf8` (an answer
//! with invalid UTF-8 in a string), `bad-utf8-call` (a host call with invalid UTF-8 in its
//! params; its answer answers the request), `send` (a well-formed `peers/send`, its messageId
//! derived from the idempotencyKey; its answer answers the request).
//!
//! Other knobs: `MOLECULE_TEST_MAX_CONCURRENCY` and `MOLECULE_TEST_MAX_WORKSPACES` (absent: not
//! advertised; with the latter, `workspace/open` and `workspace/close` are answered `{}` unless
//! the fault `no-workspace-open`; logged to `MOLECULE_TEST_WORKSPACE_LOG`; an open of
//! `MOLECULE_TEST_REFUSE_WORKSPACE`, or of an id listed in the file `MOLECULE_TEST_REFUSE_FILE`,
//! is refused with 1001; with the fault `call-after-open` an open is followed at once by a call
//! of `MOLECULE_TEST_HOST_METHOD` naming the workspace, whose outcome is logged as
//! `called <id> <ok|code>`), `MOLECULE_TEST_CALL_WORKSPACE` (host calls carry it as
//! `_meta.workspaceId`), `MOLECULE_TEST_CAPS`
//! (default `cancel,progress`), `MOLECULE_TEST_CRASH_AT` (exit when that many requests are in
//! flight), `MOLECULE_TEST_FAIL_IF_EXISTS` (exit before initialize while that file exists).

#![expect(
    clippy::unwrap_used,
    reason = "a test fixture: any failure should be loud"
)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn num(name: &str, default: usize) -> usize {
    var(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The one writer of stdout: one line per write, flushed.
#[derive(Clone)]
struct Out(Arc<Mutex<std::io::Stdout>>);

impl Out {
    fn line(&self, text: &str) {
        self.bytes(format!("{text}\n").as_bytes());
    }
    fn send(&self, msg: Value) {
        self.line(&msg.to_string());
    }
    fn bytes(&self, bytes: &[u8]) {
        let mut out = self.0.lock().unwrap();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Held {
    Hang,
    Gather,
    CancelAnswers,
    Timed,
}

#[derive(Default)]
struct State {
    initialized: bool,
    init_params: Value,
    /// Requests received and not answered, by id text.
    open: HashMap<String, (Value, Held)>,
    max_open: usize,
    /// Host calls in flight: their id → the request they serve.
    host_calls: HashMap<String, Value>,
    /// `calls:N:METHOD` batches: the request → (calls still unanswered, outcomes by code).
    batches: HashMap<String, (usize, HashMap<String, u64>)>,
    next_host_call: u64,
}

struct Backend {
    faults: HashSet<String>,
    out: Out,
    state: Mutex<State>,
}

fn main() {
    match var("MOLECULE_TEST_ROLE").as_deref() {
        Some("grandchild") => return grandchild(),
        Some("middle") => return middle(),
        _ => {}
    }
    let faults: HashSet<String> = var("MOLECULE_TEST_FAULT")
        .unwrap_or_default()
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    let failing_file =
        var("MOLECULE_TEST_FAIL_IF_EXISTS").filter(|p| std::path::Path::new(p).exists());
    if faults.contains("exit-before-init") || failing_file.is_some() {
        eprintln!("test-backend: cannot start: configuration missing (on purpose)");
        std::process::exit(3);
    }
    if faults.contains("ignore-sigterm") {
        use nix::sys::signal::{SigHandler, Signal, signal};
        // SAFETY: installing SIG_IGN runs no code in the handler.
        unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) }.unwrap();
    }
    if faults.contains("grandchild") {
        spawn_grandchild();
    }
    if faults.contains("double-fork") {
        double_fork();
    }
    let flood = faults.contains("stderr-flood").then(|| {
        let lines = num("MOLECULE_TEST_FLOOD_LINES", 50_000);
        std::thread::spawn(move || flood_stderr(lines))
    });
    let backend = Arc::new(Backend {
        faults,
        out: Out(Arc::new(Mutex::new(std::io::stdout()))),
        state: Mutex::new(State::default()),
    });
    let mut stdin = std::io::stdin().lock();
    let mut line = Vec::new();
    while stdin.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
        if backend.has("small-lines") && line.len() > 64 * 1024 {
            eprintln!("test-backend: a line over 64 KiB, the reader's limit: exiting (on purpose)");
            std::process::exit(1);
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(msg) => backend.dispatch(msg),
            Err(_) => eprintln!("test-backend: ignoring a line that is not JSON"),
        }
        line.clear();
    }
    // The whole flood is written before the exit, so its size does not depend on timing.
    if let Some(flood) = flood {
        let _ = flood.join();
    }
    if backend.has("ignore-sigterm") {
        eprintln!("test-backend: stdin closed, staying up anyway (on purpose)");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    if backend.has("exit-1-at-eof") {
        std::process::exit(1);
    }
}

impl Backend {
    fn has(&self, fault: &str) -> bool {
        self.faults.contains(fault)
    }

    fn dispatch(self: &Arc<Self>, msg: Value) {
        let method = msg["method"].as_str().map(str::to_owned);
        match (method, msg.get("id").cloned()) {
            (Some(m), Some(id)) => self.request(&m, id, msg["params"].clone()),
            (Some(m), None) if m == "$/cancelRequest" => self.cancel(&msg["params"]),
            (Some(_), None) if self.has("answer-notifications") => self.out.send(
                json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32601, "message": "unknown"}}),
            ),
            (Some(_), None) => {}
            (None, Some(id)) => self.host_answer(&id, msg),
            (None, None) => eprintln!("test-backend: ignoring a message without method or id"),
        }
    }

    fn reply(&self, id: &Value, outcome: Result<Value, Value>) {
        let initialized = self.state.lock().unwrap().initialized;
        let wire_id = match (id.as_str().map(str::parse::<i64>), id.as_i64()) {
            (Some(Ok(n)), _) if self.has("numeric-ids") => json!(n),
            (_, Some(n)) if initialized && self.has("string-ids") => json!(n.to_string()),
            (_, Some(n)) if initialized && self.has("next-id") => json!(n + 1),
            _ => id.clone(),
        };
        let mut msg = json!({"jsonrpc": "2.0", "id": wire_id});
        match outcome {
            Ok(mut result) => {
                self.spoil(&mut result);
                msg["result"] = result
            }
            Err(error) => msg["error"] = error,
        }
        if self.has("junk-stdout") {
            self.out.line("Loading model weights... done");
        }
        if self.has("interleave") && msg.get("result").is_some_and(|r| r.get("parts").is_some()) {
            // An unlocked debug print from another thread, landing inside the answer.
            let text = msg.to_string();
            let (head, tail) = text.split_at(text.len() / 2);
            return self
                .out
                .bytes(format!("{head}DEBUG: handled the request\n{tail}\n").as_bytes());
        }
        self.out.send(msg.clone());
        if self.has("dup-id") {
            self.out.send(msg);
        }
        if self.has("stray-id") {
            let stray = 1_000_000 + id.as_i64().unwrap_or(0);
            self.out
                .send(json!({"jsonrpc": "2.0", "id": stray, "result": {"parts": []}}));
        }
    }

    /// `bad-parts` and `mangle-utf8`: what a careless backend does to its reply parts.
    fn spoil(&self, result: &mut Value) {
        let parts = result.get_mut("parts").and_then(Value::as_array_mut);
        for part in parts.into_iter().flatten() {
            let Some(part) = part.as_object_mut() else {
                continue;
            };
            if self.has("bad-parts")
                && let Some(kind) = part.remove("kind")
            {
                part.insert("type".into(), kind);
            }
            if self.has("mangle-utf8")
                && let Some(text) = part.get("text").and_then(Value::as_str)
            {
                let ascii: String = text
                    .chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect();
                part.insert("text".into(), json!(ascii));
            }
        }
    }

    /// Marks an open request answered; `false` when it was not open (answered already).
    fn take_open(&self, id: &Value) -> bool {
        let mut state = self.state.lock().unwrap();
        state.open.remove(&id.to_string()).is_some()
    }

    /// Answers an open request exactly once.
    fn finish(&self, id: &Value, outcome: Result<Value, Value>) {
        if self.take_open(id) {
            self.reply(id, outcome);
            if self.has("late-progress") {
                let params = json!({"id": id, "message": "still working (too late)"});
                self.out
                    .send(json!({"jsonrpc": "2.0", "method": "$/progress", "params": params}));
            }
        }
    }

    fn request(self: &Arc<Self>, method: &str, id: Value, params: Value) {
        if method == "initialize" {
            return self.initialize(id, params);
        }
        if !self.state.lock().unwrap().initialized && !self.has("no-init-check") {
            let error = json!({"code": -32002, "message": "not initialized"});
            return self.reply(&id, Err(error));
        }
        match method {
            "ping" => self.reply(&id, Ok(json!({}))),
            "handle_a2a" => self.handle_a2a(id, params),
            "workspace/open" | "workspace/close"
                if var("MOLECULE_TEST_MAX_WORKSPACES").is_some()
                    && !self.has("no-workspace-open") =>
            {
                self.workspace(method, &id, &params)
            }
            _ if self.has("unknown-method-result") => self.reply(&id, Ok(json!({}))),
            other => {
                let error =
                    json!({"code": -32601, "message": format!("method not found: {other}")});
                self.reply(&id, Err(error));
            }
        }
    }

    /// `workspace/open` and `workspace/close`: logged to `MOLECULE_TEST_WORKSPACE_LOG` as
    /// `<pid> <open|close> <id> [<stateDir>]`; an open of `MOLECULE_TEST_REFUSE_WORKSPACE` is
    /// refused with 1001.
    fn workspace(&self, method: &str, id: &Value, params: &Value) {
        let ws = params["workspace"]["id"].as_str().unwrap_or("?");
        let verb = method.trim_start_matches("workspace/");
        let listed = var("MOLECULE_TEST_REFUSE_FILE")
            .and_then(|f| std::fs::read_to_string(f).ok())
            .is_some_and(|text| text.lines().any(|l| l.trim() == ws));
        if verb == "open"
            && (listed || var("MOLECULE_TEST_REFUSE_WORKSPACE").as_deref() == Some(ws))
        {
            let error = json!({"code": 1001, "message": "at capacity"});
            return self.reply(id, Err(error));
        }
        let dir = params["stateDir"].as_str().unwrap_or("");
        workspace_log(&format!("{verb} {ws} {dir}"));
        self.reply(id, Ok(json!({})));
        if verb == "open" && self.has("call-after-open") {
            // At once, before anything else: the host must route it already.
            let method = var("MOLECULE_TEST_HOST_METHOD").unwrap_or_else(|| "peers/list".into());
            let call = json!({"jsonrpc": "2.0", "id": format!("opened-{ws}"), "method": method,
                              "params": {"_meta": {"workspaceId": ws}}});
            self.out.send(call);
        }
    }

    fn initialize(&self, id: Value, params: Value) {
        if self.has("no-init") {
            return;
        }
        if self.has("junk-handshake") {
            return self
                .out
                .line("Welcome to my-agent v1.0! Type 'help' for commands.");
        }
        if self.has("init-error") {
            let code = var("MOLECULE_TEST_INIT_ERROR_CODE").and_then(|c| c.parse::<i64>().ok());
            let code = code.unwrap_or(-32002);
            return self.reply(
                &id,
                Err(json!({"code": code, "message": "cannot initialize (on purpose)"})),
            );
        }
        let version = num("MOLECULE_TEST_PROTOCOL_VERSION", 0);
        let version = if self.has("wrong-version") {
            version.max(2)
        } else if self.has("echo-version") {
            params["protocolVersion"].as_u64().unwrap_or(1) as usize
        } else {
            1
        };
        let caps = var("MOLECULE_TEST_CAPS").unwrap_or_else(|| "cancel,progress".into());
        let mut capabilities = json!({
            "cancel": caps.contains("cancel"),
            "progress": caps.contains("progress"),
        });
        if let Some(n) = var("MOLECULE_TEST_MAX_CONCURRENCY").and_then(|v| v.parse::<u64>().ok()) {
            capabilities["maxConcurrency"] = json!(n);
        }
        if let Some(n) = var("MOLECULE_TEST_MAX_WORKSPACES").and_then(|v| v.parse::<u64>().ok()) {
            capabilities["maxWorkspaces"] = json!(n);
        }
        let result = json!({
            "protocolVersion": version,
            "backend": {"name": "test-backend", "version": "0.0.1"},
            "capabilities": capabilities,
        });
        // Initialized once answered: the faults that spoil ids spare the handshake.
        self.state.lock().unwrap().init_params = params;
        self.reply(&id, Ok(result));
        self.state.lock().unwrap().initialized = true;
    }

    fn handle_a2a(self: &Arc<Self>, id: Value, params: Value) {
        if !params["message"]["parts"].is_array() && !self.has("lax-params") {
            let error = json!({"code": -32602, "message": "invalid params: no message.parts"});
            return self.reply(&id, Err(error));
        }
        let text: Vec<&str> = params["message"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["text"].as_str())
            .collect();
        let word = text
            .join(" ")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned();
        let (command, arg) = word.split_once(':').unwrap_or((word.as_str(), ""));
        let command = if self.has("self-cancel") {
            "self-cancel"
        } else {
            command
        };
        let held = match command {
            "hang" | "stop-reading" => Held::Hang,
            "gather" => Held::Gather,
            "cancel-answers" => Held::CancelAnswers,
            _ => Held::Timed,
        };
        let open = {
            let mut state = self.state.lock().unwrap();
            state.open.insert(id.to_string(), (id.clone(), held));
            state.max_open = state.max_open.max(state.open.len());
            state.open.len()
        };
        if self.has("crash-on-request")
            || command == "crash"
            || open == num("MOLECULE_TEST_CRASH_AT", 0)
        {
            eprintln!("test-backend: crashing with {open} requests in flight (on purpose)");
            std::process::exit(42);
        }
        self.run(id, command, arg, &params);
    }

    /// Carries out one request's command.
    fn run(self: &Arc<Self>, id: Value, command: &str, arg: &str, params: &Value) {
        let echo = echo(params);
        match command {
            "hang" | "cancel-answers" => {}
            "stop-reading" => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            "gather" => self.gather(),
            "sleep" | "progress" => self.later(id, command, arg, echo),
            "big" => self.finish(&id, Ok(text_reply("x".repeat(arg.parse().unwrap_or(0))))),
            "env" => {
                let env: serde_json::Map<String, Value> =
                    std::env::vars().map(|(k, v)| (k, json!(v))).collect();
                self.finish(&id, Ok(data_reply(Value::Object(env))));
            }
            "params" => self.finish(&id, Ok(data_reply(params.clone()))),
            "parent-environ" => {
                // What a backend running as the host's user can read of the host's environment.
                let path = format!("/proc/{}/environ", std::os::unix::process::parent_id());
                let text = match std::fs::read(&path) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).replace('\0', "\n"),
                    Err(e) => format!("unreadable: {:?}", e.kind()),
                };
                self.finish(&id, Ok(text_reply(text)));
            }
            "init" => {
                let init = self.state.lock().unwrap().init_params.clone();
                self.finish(&id, Ok(data_reply(init)));
            }
            "stderr" => {
                flood_stderr(arg.parse().unwrap_or(0));
                self.finish(&id, Ok(echo));
            }
            "log-json" => {
                eprintln!(r#"{{"level":"warn","msg":"json log line","detail":7}}"#);
                self.finish(&id, Ok(echo));
            }
            "call-host" => self.call_host(&id, arg),
            "send" => self.send_to_peer(&id, params),
            "bad-utf8-call" => {
                let call = self.host_call_id(&id);
                let line = format!(
                    r#"{{"jsonrpc":"2.0","id":"{call}","method":"peers/list","params":{{"note":"caf"#
                );
                self.out.bytes(&[line.as_bytes(), b"\xe9\"}}\n"].concat());
            }
            "calls" => self.call_host_many(&id, arg),
            "bad-utf8" => {
                if self.take_open(&id) {
                    // Latin-1 text written as it is: the bytes are not UTF-8.
                    let head = format!(
                        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"parts":[{{"kind":"text","text":"caf"#
                    );
                    self.out
                        .bytes(&[head.as_bytes(), b"\xe9 \xff\"}]}}\n"].concat());
                }
            }
            "self-cancel" => self.finish(&id, Err(json!({"code": -32800, "message": "cancelled"}))),
            "junk" => {
                self.out.line("Loading model weights...");
                self.finish(&id, Ok(echo));
            }
            "dup" | "stray" => {
                self.finish(&id, Ok(echo.clone()));
                let again = if command == "dup" { id } else { json!(999_999) };
                self.reply(&again, Ok(echo));
            }
            _ if self.has("host-call") => {
                let method =
                    var("MOLECULE_TEST_HOST_METHOD").unwrap_or_else(|| "peers/list".into());
                self.call_host(&id, &method)
            }
            _ if self.has("oversize") => {
                // One statement, so the state lock is released before `finish` takes it.
                let max = self.state.lock().unwrap().init_params["limits"]["maxMessageBytes"]
                    .as_u64()
                    .unwrap_or(0) as usize;
                self.finish(&id, Ok(text_reply("x".repeat(max + 1))));
            }
            _ => self.finish(&id, Ok(echo)),
        }
    }

    /// `sleep:MS` and `progress:COUNT:MS`: answered from a thread, after a while.
    fn later(self: &Arc<Self>, id: Value, command: &str, arg: &str, reply: Value) {
        let (count, ms) = match command {
            "progress" => arg.split_once(':').unwrap_or(("3", "10")),
            _ => ("0", arg),
        };
        let (count, ms): (u64, u64) = (count.parse().unwrap_or(3), ms.parse().unwrap_or(10));
        let me = self.clone();
        std::thread::spawn(move || {
            for i in 0..count {
                std::thread::sleep(Duration::from_millis(ms));
                let params = json!({"id": id, "message": format!("step {i}")});
                me.out
                    .send(json!({"jsonrpc": "2.0", "method": "$/progress", "params": params}));
            }
            std::thread::sleep(Duration::from_millis(ms));
            me.finish(&id, Ok(reply));
        });
    }

    /// Answers every gathered request once enough are held at the same time.
    fn gather(&self) {
        let want = num("MOLECULE_TEST_GATHER", 2);
        let (ids, max) = {
            let state = self.state.lock().unwrap();
            let ids: Vec<Value> = state
                .open
                .values()
                .filter(|(_, h)| *h == Held::Gather)
                .map(|(id, _)| id.clone())
                .collect();
            (ids, state.max_open)
        };
        if ids.len() >= want {
            for id in ids {
                self.finish(&id, Ok(text_reply(format!("gathered max={max}"))));
            }
        }
    }

    fn cancel(&self, params: &Value) {
        if self.has("ignore-cancel") {
            return eprintln!("test-backend: ignoring $/cancelRequest (on purpose)");
        }
        let id = &params["id"];
        let held = self
            .state
            .lock()
            .unwrap()
            .open
            .get(&id.to_string())
            .map(|(_, h)| *h);
        match held {
            Some(Held::CancelAnswers) => {
                self.finish(id, Ok(text_reply("finished before the cancel".into())));
            }
            Some(_) => {
                let error = json!({"code": -32800, "message": "cancelled", "data": {"details": {"reason": params["reason"]}}});
                self.finish(id, Err(error));
            }
            None if self.has("answer-any-cancel") => {
                let error = json!({"code": -32800, "message": "cancelled"});
                self.reply(id, Err(error));
            }
            None => {}
        }
    }

    /// A fresh id for a host call made for the request `for_id`, whose answer will answer it.
    fn host_call_id(&self, for_id: &Value) -> String {
        let mut state = self.state.lock().unwrap();
        state.next_host_call += 1;
        let call_id = format!("host-{}", state.next_host_call);
        state
            .host_calls
            .insert(json!(call_id).to_string(), for_id.clone());
        call_id
    }

    fn call_host(&self, for_id: &Value, method: &str) {
        let params = json!({"note": "from the test backend"});
        self.call_host_with(for_id, method, params);
    }

    /// Calls `method` for the request `for_id`, adding `_meta.requestId` (unless `unscoped`).
    fn call_host_with(&self, for_id: &Value, method: &str, mut params: Value) {
        let call_id = self.host_call_id(for_id);
        if !self.has("unscoped") {
            params["_meta"] = json!({"requestId": for_id});
        }
        if let Some(ws) = var("MOLECULE_TEST_CALL_WORKSPACE") {
            params["_meta"]["workspaceId"] = json!(ws);
        }
        self.out
            .send(json!({"jsonrpc": "2.0", "id": call_id, "method": method, "params": params}));
    }

    /// `send`: a well-formed peers/send whose messageId follows from the message's
    /// idempotencyKey (or, with `random-message-ids`, changes on every delivery).
    fn send_to_peer(&self, for_id: &Value, params: &Value) {
        let key = params["context"]["idempotencyKey"]
            .as_str()
            .unwrap_or("none");
        let message_id = if self.has("random-message-ids") {
            let mut state = self.state.lock().unwrap();
            state.next_host_call += 1;
            format!("m-{}-{}", std::process::id(), state.next_host_call)
        } else {
            format!("m-{key}-0")
        };
        let call = json!({"id": "2d5e8c1a-7b3f-4e6d-9a0c-1f2e3d4c5b6a",
                          "text": "from the test backend", "messageId": message_id});
        self.call_host_with(for_id, "peers/send", call);
    }

    /// `calls:N:METHOD`: N calls written at once, without waiting for any answer.
    fn call_host_many(&self, for_id: &Value, arg: &str) {
        let (n, method) = arg.split_once(':').unwrap_or((arg, "peers/list"));
        let n: usize = n.parse().unwrap_or(1);
        self.state
            .lock()
            .unwrap()
            .batches
            .insert(for_id.to_string(), (n, HashMap::new()));
        for _ in 0..n {
            self.call_host(for_id, method);
        }
    }

    fn host_answer(&self, id: &Value, msg: Value) {
        if let Some(ws) = id.as_str().and_then(|i| i.strip_prefix("opened-")) {
            let outcome = match msg["error"]["code"].as_i64() {
                Some(code) => code.to_string(),
                None => "ok".into(),
            };
            return workspace_log(&format!("called {ws} {outcome}"));
        }
        let for_id = {
            let mut state = self.state.lock().unwrap();
            let for_id = state.host_calls.remove(&id.to_string());
            let batch = for_id
                .as_ref()
                .and_then(|f| state.batches.get_mut(&f.to_string()));
            if let Some((left, outcomes)) = batch {
                let code = msg["error"]["code"].as_i64().unwrap_or(0).to_string();
                *outcomes.entry(code).or_default() += 1;
                *left -= 1;
                if *left > 0 {
                    return;
                }
                let key = for_id.as_ref().unwrap().to_string();
                let (_, outcomes) = state.batches.remove(&key).unwrap();
                drop(state);
                let for_id = for_id.unwrap();
                return self.finish(&for_id, Ok(data_reply(json!({"outcomes": outcomes}))));
            }
            for_id
        };
        let failed = msg.get("error").is_some();
        match for_id {
            Some(_) if failed && self.has("host-error-crash") => {
                eprintln!(
                    "test-backend: the host answered a call with an error; crashing (on purpose)"
                );
                std::process::exit(1);
            }
            Some(for_id) if failed && self.has("host-error-internal") => {
                let error =
                    json!({"code": -32603, "message": "handler failed: uncaught host error"});
                self.finish(&for_id, Err(error));
            }
            Some(for_id) => {
                self.finish(&for_id, Ok(data_reply(json!({"hostResponse": msg}))));
            }
            None => eprintln!("test-backend: an answer for {id}, which it never sent"),
        }
    }
}

/// Appends `<pid> <what>` to `MOLECULE_TEST_WORKSPACE_LOG`, when set.
fn workspace_log(what: &str) {
    if let Some(log) = var("MOLECULE_TEST_WORKSPACE_LOG") {
        let line = format!("{} {what}\n", std::process::id());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        file.write_all(line.as_bytes()).unwrap();
    }
}

/// The echo of a request: text parts prefixed `echo: `, other parts as they came.
fn echo(params: &Value) -> Value {
    let parts: Vec<Value> = params["message"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p["text"].as_str() {
            Some(t) => json!({"kind": "text", "text": format!("echo: {t}")}),
            None => p.clone(),
        })
        .collect();
    json!({"parts": parts})
}

fn text_reply(text: String) -> Value {
    json!({"parts": [{"kind": "text", "text": text}]})
}

fn data_reply(data: Value) -> Value {
    json!({"parts": [{"kind": "data", "data": data}]})
}

fn flood_stderr(lines: usize) {
    let mut err = std::io::stderr().lock();
    for i in 0..lines {
        let _ = writeln!(err, "flood line {i}");
    }
    let _ = writeln!(err, "flood done");
}

fn spawn_grandchild() {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.env("MOLECULE_TEST_ROLE", "grandchild")
        .env_remove("MOLECULE_TEST_FAULT");
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    // Inherited stdio: the grandchild holds all three pipes open. It is never waited for: it
    // outlives this process on purpose, and the host's sweep must end it.
    let child = cmd.spawn().unwrap();
    std::mem::forget(child);
}

/// Starts the middle process of a double fork and waits for it: when this returns, the
/// grandchild is an orphan.
fn double_fork() {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("MOLECULE_TEST_ROLE", "middle")
        .env_remove("MOLECULE_TEST_FAULT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the middle process failed: {status}");
}

/// The middle of a double fork: a new session, one child that stays, and an exit.
fn middle() {
    nix::unistd::setsid().unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("MOLECULE_TEST_ROLE", "grandchild")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::mem::forget(child);
}

fn grandchild() {
    if let Some(path) = var("MOLECULE_TEST_PID_FILE") {
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, std::process::id().to_string()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
