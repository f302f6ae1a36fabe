//! What the backend adds to a turn, and what it weighs.
//!
//! 1. Overhead: the time of one turn through `molecule-claude-code` (request written → answer
//!    read) against the time of running `fake-claude` directly (spawn → result line read →
//!    exit), median and p99 of each, and their differences. The two series are not paired,
//!    so the p99 difference is not a p99 of the overhead: on a busy machine it can come out
//!    below the median difference.
//! 2. Memory: the backend's RSS after start, with 10 conversations in its session map, and
//!    with 10 turns running at once.
//!
//! `cargo bench -p molecule-claude-code` (`CLAUDE_BENCH_TURNS` sets the count, 300 by default).
//! It prints figures; it asserts nothing about speed.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const FAKE: &str = env!("CARGO_BIN_EXE_fake-claude");
const BACKEND: &str = env!("CARGO_BIN_EXE_molecule-claude-code");

fn main() {
    let turns: usize = std::env::var("CLAUDE_BENCH_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("tempdir");
    let direct = time_direct(turns, dir.path());
    let mut backend = Backend::start(dir.path());
    let through = time_backend(&mut backend, turns);
    let (d50, d99) = stats(&direct);
    let (b50, b99) = stats(&through);
    println!("turns: {turns} (fake CLI, one conversation, resumed each turn)");
    println!("fake-claude run directly:      median {d50:>9.3?}  p99 {d99:>9.3?}");
    println!("through molecule-claude-code:  median {b50:>9.3?}  p99 {b99:>9.3?}");
    println!(
        "difference (backend - direct): median {:>9.3?}  p99 {:>9.3?}",
        b50.saturating_sub(d50),
        b99.saturating_sub(d99)
    );
    rss_figures(dir.path());
}

fn time_direct(turns: usize, dir: &std::path::Path) -> Vec<Duration> {
    (0..turns)
        .map(|i| {
            let start = Instant::now();
            let mut child = Command::new(FAKE)
                .args(["-p", "--output-format=stream-json", "--verbose"])
                .arg(format!("--session-id={}", uuid::Uuid::new_v4()))
                .current_dir(dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn fake-claude");
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(format!("turn {i}").as_bytes())
                .expect("prompt");
            drop(stdin);
            let stdout = BufReader::new(child.stdout.take().expect("stdout"));
            let got = stdout
                .lines()
                .map_while(Result::ok)
                .any(|l| l.contains("\"type\":\"result\""));
            assert!(got, "no result line");
            child.wait().expect("wait");
            start.elapsed()
        })
        .collect()
}

fn time_backend(b: &mut Backend, turns: usize) -> Vec<Duration> {
    (0..turns)
        .map(|i| {
            let start = Instant::now();
            let answer = b.a2a(&format!("turn {i}"), "agent:bench");
            assert!(answer.get("result").is_some(), "{answer}");
            start.elapsed()
        })
        .collect()
}

fn rss_figures(dir: &std::path::Path) {
    let mut b = Backend::start_with(dir, &["--max-concurrency", "10"]);
    println!(
        "backend RSS after start:                 {:>6} KiB",
        b.rss_kib()
    );
    for n in 0..10 {
        b.a2a("hello", &format!("agent:peer-{n}"));
    }
    println!(
        "backend RSS with 10 conversations idle:  {:>6} KiB",
        b.rss_kib()
    );
    let ids: Vec<i64> = (0..10)
        .map(|n| b.send_a2a("[fake:hang] work", &format!("agent:peer-{n}")))
        .collect();
    let runs_file = dir.join("runs.jsonl");
    let started = Instant::now();
    while count_children(&runs_file) < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the 10 turns did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "backend RSS with 10 turns running:       {:>6} KiB",
        b.rss_kib()
    );
    for id in ids {
        b.send(&json!({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":id,"reason":"other"}}));
    }
    for _ in 0..10 {
        b.recv();
    }
}

fn count_children(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("\"event\":\"children\"")
        .count()
}

fn stats(samples: &[Duration]) -> (Duration, Duration) {
    let mut s = samples.to_vec();
    s.sort();
    let at = |q: f64| s[((s.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

struct Backend {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: i64,
}

impl Backend {
    fn start(dir: &std::path::Path) -> Backend {
        Backend::start_with(dir, &[])
    }

    fn start_with(dir: &std::path::Path, args: &[&str]) -> Backend {
        let state = tempfile::tempdir_in(dir).expect("state dir").keep();
        let mut child = Command::new(BACKEND)
            .arg("--claude-bin")
            .arg(FAKE)
            .arg("--cwd")
            .arg(dir)
            .args(["--kill-grace", "200ms", "--exit-grace", "200ms"])
            .args(args)
            .env("MOLECULE_BACKEND", "1")
            .env("MOLECULE_STATE_DIR", &state)
            .env("FAKE_CLAUDE_LOG", dir.join("runs.jsonl"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the backend");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut b = Backend {
            child,
            stdin,
            stdout,
            next: 1,
        };
        b.send(&json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":1,
            "host":{"name":"bench","version":"0","pid":1},"workspace":{"id":"00000000-0000-4000-8000-000000000001"},
            "limits":{"maxMessageBytes":8388608,"requestTimeoutMs":600000},
            "capabilities":{"cancel":true,"progress":true,"hostMethods":[]}}}));
        b.recv();
        b
    }

    fn send(&mut self, v: &Value) {
        writeln!(self.stdin, "{v}").expect("write");
        self.stdin.flush().expect("flush");
    }

    /// The next response (progress notifications are skipped).
    fn recv(&mut self) -> Value {
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).expect("read") > 0,
                "the backend closed stdout"
            );
            let v: Value = serde_json::from_str(&line).expect("JSON");
            if v.get("method").is_none() {
                return v;
            }
        }
    }

    fn send_a2a(&mut self, text: &str, key: &str) -> i64 {
        let id = self.next;
        self.next += 1;
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":"handle_a2a","params":{
            "message":{"kind":"message","role":"user","messageId":format!("m-{id}"),"parts":[{"kind":"text","text":text}]},
            "sender":{"kind":"agent","workspaceId":"aaaaaaaa-0000-4000-8000-000000000001"},
            "context":{"activityId":format!("a-{id}"),"attempt":1,"deadline":"2099-01-01T00:00:00.000Z",
                       "idempotencyKey":format!("k-{id}"),"conversationKey":key,"hops":0}}}));
        id
    }

    fn a2a(&mut self, text: &str, key: &str) -> Value {
        self.send_a2a(text, key);
        self.recv()
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
