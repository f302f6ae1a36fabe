//! Running the real `molecule dev` and `molecule send` binaries: the ready message parsed from
//! stdout, log lines from stderr, the emulator's `/_dev` API read over HTTP.
#![allow(dead_code, reason = "each test uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use super::connect_host::MOLECULE;
use super::support::sdk::sdk_env;
use super::support::wait::until;

/// Timers in milliseconds for `molecule dev`.
pub const FAST: &[&str] = &[
    "--poll-interval-ms",
    "20",
    "--heartbeat-interval-ms",
    "100",
    "--retry-base-ms",
    "10",
    "--retry-max-ms",
    "100",
    "--flush-interval-ms",
    "10",
];

/// A running `molecule dev`.
pub struct Dev {
    pub child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
    /// `http://127.0.0.1:<port>`, once ready.
    pub url: String,
    pub agent: String,
    pub peer: String,
    /// The chat page's URL, as printed (it carries the run's admin key in its fragment).
    pub chat_url: String,
    /// The run's key to the `/_dev` path.
    pub key: String,
}

fn collect(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// `molecule` without the proxies of the test's environment.
pub fn molecule() -> Command {
    let mut cmd = Command::new(MOLECULE);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "MOLECULE_WORKSPACE_TOKEN",
        "MOLECULE_TOKEN_FILE",
        "MOLECULE_WORKSPACE_ID",
        "MOLECULE_API_URL",
        "MOLECULE_BACKEND_CMD",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

impl Dev {
    /// Starts `molecule dev --port 0` with fast timers and `extra` flags, and waits for the
    /// ready message.
    pub async fn start(extra: &[&str]) -> Dev {
        let mut dev = Dev::spawn(extra);
        dev.ready().await;
        dev
    }

    /// Starts it without waiting.
    pub fn spawn(extra: &[&str]) -> Dev {
        Dev::spawn_with(extra, &[])
    }

    /// Starts it with extra environment variables, without waiting.
    pub fn spawn_with(extra: &[&str], env: &[(&str, &str)]) -> Dev {
        let mut cmd = molecule();
        cmd.args(["--log-format", "json", "dev", "--port", "0"])
            .args(FAST)
            .args(extra)
            .env("RUST_LOG", "info,molecule_host::connect=debug")
            .envs(sdk_env())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        Dev {
            child,
            out,
            err,
            url: String::new(),
            agent: String::new(),
            peer: String::new(),
            chat_url: String::new(),
            key: String::new(),
        }
    }

    /// Waits for the ready message and reads the URL and the ids from its send lines.
    pub async fn ready(&mut self) {
        until("the ready message of molecule dev", || {
            self.stdout().iter().any(|l| l.starts_with("As the peer:")) || self.exited()
        })
        .await;
        let out = self.stdout();
        let peer_line = out.iter().find(|l| l.starts_with("As the peer:"));
        let words: Vec<&str> = peer_line
            .unwrap_or_else(|| panic!("molecule dev exited:\n{}", self.stderr().join("\n")))
            .split_whitespace()
            .collect();
        let after = |flag: &str| {
            let i = words.iter().position(|w| *w == flag).unwrap();
            words[i + 1].to_owned()
        };
        let send = words.iter().position(|w| *w == "send").unwrap();
        self.agent = words[send + 1].to_owned();
        self.peer = after("--as");
        self.url = after("--api-url");
        let chat = out.iter().find_map(|l| l.strip_prefix("Chat page:"));
        self.chat_url = chat.unwrap().trim().to_owned();
        self.key = self.chat_url.split_once("#key=").unwrap().1.to_owned();
    }

    pub fn stdout(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.err.lock().unwrap().clone()
    }

    /// The JSON log events so far.
    pub fn events(&self) -> Vec<Value> {
        self.stderr()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The `row handled` events.
    pub fn handled(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("row handled"))
            })
            .count()
    }

    pub fn exited(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .map_or(true, |s| s.contains(") Z "))
    }

    /// `molecule send` against this platform: `send <agent> <text> --api-url <url> <extra>`.
    pub fn send(&self, text: &str, extra: &[&str]) -> Output {
        let mut cmd = molecule();
        cmd.args(["send", &self.agent, text, "--api-url", &self.url])
            .args(["--retry-base-ms", "10", "--poll-interval-ms", "20"])
            .args(extra);
        cmd.output().unwrap()
    }

    /// GET on the emulator with the run's admin key, parsed.
    pub async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .header("x-molecule-dev", &self.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A workspace's feed, oldest first.
    pub async fn feed(&self, ws: &str) -> Vec<Value> {
        match self.get(&format!("/_dev/workspaces/{ws}/feed")).await {
            Value::Array(rows) => rows,
            other => panic!("not a feed: {other}"),
        }
    }

    /// The texts of the agent's chat messages (`notify` rows), oldest first.
    pub async fn notifies(&self) -> Vec<String> {
        self.feed(&self.agent)
            .await
            .iter()
            .filter(|r| r["method"] == "notify")
            .map(|r| r["response_body"]["result"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The texts of the agent's replies in the peer's feed, oldest first.
    pub async fn peer_replies(&self) -> Vec<String> {
        self.feed(&self.peer)
            .await
            .iter()
            .filter_map(|r| {
                r.pointer("/request_body/params/message/parts/0/text")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub async fn stop(&mut self) -> Option<i32> {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let mut status = None;
        until("molecule dev to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        status.unwrap().code()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// stdout of a finished command, trimmed.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// stderr of a finished command.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether `tool` is on the PATH; when it is not, a test is skipped locally (with a message)
/// and fails on CI (`CI` set).
pub fn have(tool: &str, install: &str) -> bool {
    if which::which(tool).is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{tool} is required on CI: install {install}"
    );
    eprintln!("skipped: {tool} not found; install {install}");
    false
}
