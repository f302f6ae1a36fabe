//! Running the real `molecule connect` binary in tests: arguments with every timer in
//! milliseconds, its JSON log lines collected from stderr, waits on those lines with a
//! deadline, signals, and the exit code.
#![allow(dead_code, reason = "each test uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

use super::connect_platform::{TOKEN, WS};
use super::support::sdk::sdk_env;
use super::support::wait::{DEADLINE, until};

/// The host binary.
pub const MOLECULE: &str = env!("CARGO_BIN_EXE_molecule");
/// The misbehaving test backend.
pub const TEST_BACKEND: &str = env!("CARGO_BIN_EXE_molecule-test-backend");

/// The Rust echo, embedded in the host binary.
pub fn echo() -> String {
    format!("{MOLECULE} echo-backend")
}

/// A place for a host's state and token.
pub struct Site {
    pub dir: TempDir,
}

impl Site {
    pub fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        write_private(&site.token_file(), &format!("{TOKEN}\n"));
        site
    }

    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn state_file(&self) -> PathBuf {
        self.state_dir().join("state.json")
    }

    /// The saved state, parsed (`Null` when there is none).
    pub fn state(&self) -> Value {
        std::fs::read_to_string(self.state_file())
            .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap())
    }

    /// The arguments of a host serving `WS` on `url` with `backend` and fast timers.
    pub fn args(&self, url: &str, backend: &str) -> Vec<String> {
        let mut a: Vec<String> = [
            "--log-format",
            "json",
            "connect",
            WS,
            "--api-url",
            url,
            "--backend-cmd",
            backend,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend([
            "--token-file".into(),
            self.token_file().display().to_string(),
        ]);
        a.extend(["--state-dir".into(), self.state_dir().display().to_string()]);
        a.extend(FAST.iter().map(|s| s.to_string()));
        a
    }
}

/// Every timer in milliseconds (a test overrides the one it exercises by repeating the flag:
/// the last value wins).
pub const FAST: &[&str] = &[
    "--poll-interval",
    "20ms",
    "--heartbeat-interval",
    "100ms",
    "--retry-base",
    "10ms",
    "--retry-max",
    "100ms",
    "--flush-interval",
    "10ms",
    "--summary-interval",
    "1h",
    "--overlap-interval",
    "1h",
    "--drain-timeout",
    "5s",
    "--backend-restart-base",
    "10ms",
    "--backend-restart-max",
    "50ms",
    "--backend-eof-wait",
    "500ms",
    "--backend-term-wait",
    "500ms",
];

/// Writes `text` to `path`, mode 0600.
pub fn write_private(path: &Path, text: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A running host.
pub struct Host {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// The thread collecting stderr; it ends at EOF, once the host has exited.
    reader: std::thread::JoinHandle<()>,
}

impl Host {
    /// Starts `molecule` with `args`; the environment is the test's, minus proxies.
    pub fn start(args: &[String]) -> Host {
        Host::start_with(args, &[])
    }

    /// Starts it with extra environment variables.
    pub fn start_with(args: &[String], env: &[(&str, &str)]) -> Host {
        Host::start_under(&[], args, env)
    }

    /// Starts it as the last argument of `wrapper` (`unshare … --`, say); with no wrapper, as
    /// itself. [`pid`](Self::pid) is then the wrapper's.
    pub fn start_under(wrapper: &[&str], args: &[String], env: &[(&str, &str)]) -> Host {
        Host::spawn(Host::command_under(wrapper, args, env))
    }

    /// The command [`start_with`](Host::start_with) runs, to adjust before [`spawn`](Host::spawn).
    pub fn command(args: &[String], env: &[(&str, &str)]) -> Command {
        Host::command_under(&[], args, env)
    }

    /// The command [`start_under`](Host::start_under) runs.
    fn command_under(wrapper: &[&str], args: &[String], env: &[(&str, &str)]) -> Command {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(MOLECULE);
                cmd
            }
            None => Command::new(MOLECULE),
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("RUST_LOG", "info,molecule_host::connect=debug");
        cmd.envs(sdk_env());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts `cmd`, collecting its stderr lines.
    pub fn spawn(mut cmd: Command) -> Host {
        let mut child = cmd.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Host {
            child,
            lines,
            reader,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stderr line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The log events so far (JSON lines), each with its `message`.
    pub fn events(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a log event whose message contains `text` and that `pred` accepts.
    pub async fn wait_log(&self, text: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        until(&format!("a log line containing {text:?}"), || {
            found = self
                .events()
                .into_iter()
                .find(|e| e["message"].as_str().is_some_and(|m| m.contains(text)) && pred(e));
            found.is_some() || self.exited()
        })
        .await;
        found.unwrap_or_else(|| {
            panic!(
                "the host exited before logging {text:?}:\n{}",
                self.lines().join("\n")
            )
        })
    }

    /// The `row handled` events so far.
    /// The "row handled" lines once there are at least `n` of them: a row's line is logged after
    /// its reply is accepted, so a test that saw the reply must still wait for the line.
    pub async fn wait_handled(&self, n: usize) -> Vec<Value> {
        until(&format!("{n} \"row handled\" log lines"), || {
            self.handled().len() >= n || self.exited()
        })
        .await;
        self.handled()
    }

    pub fn handled(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("row handled"))
            })
            .collect()
    }

    fn exited(&self) -> bool {
        // A zombie is an exited process whose status nobody read yet.
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .map_or(true, |s| s.contains(") Z "))
    }

    /// Sends `signal`.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// Waits for the exit, and for its last stderr line to be collected, and returns its code
    /// (`None` for a signal).
    pub async fn wait_exit(&mut self) -> Option<i32> {
        let mut status = None;
        until("the host to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        until("the host's stderr to end", || self.reader.is_finished()).await;
        status.unwrap().code()
    }

    /// Sends SIGTERM and expects a clean exit.
    pub async fn stop(mut self) -> Vec<String> {
        self.signal(Signal::SIGTERM);
        let code = self.wait_exit().await;
        assert_eq!(code, Some(0), "{}", self.lines().join("\n"));
        self.lines()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `molecule` with `args` to completion; returns the exit code and stderr.
pub fn run(args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(MOLECULE)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `molecule` with `args` to completion; returns the exit code, stdout and stderr.
pub fn run_out(args: &[String]) -> (Option<i32>, String, String) {
    let out = Command::new(MOLECULE)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Whether process `pid` is gone (or a zombie).
pub fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

/// How long a test may wait on anything.
pub const fn deadline() -> Duration {
    DEADLINE
}
