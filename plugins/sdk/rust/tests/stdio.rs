//! `serve_stdio` in a real process: stray prints and child processes cannot touch the
//! protocol stream.
//!
//! This binary is its own backend: started with `STDIO_TEST_CHILD=1` it serves [`Noisy`];
//! otherwise it runs the checks, each of which starts a copy of itself as the backend.

use molecule_plugin::protocol::methods::BackendInfo;
use molecule_plugin::protocol::{HandleA2aParams, HandleA2aResult, RpcError};
use molecule_plugin::{Backend, RequestContext, reply};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A backend that prints to stdout and starts a child that writes to stdout and reads stdin.
struct Noisy;

impl Backend for Noisy {
    fn info(&self) -> BackendInfo {
        molecule_plugin::package_info!()
    }

    async fn handle_a2a(
        &self,
        _params: HandleA2aParams,
        _cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        println!("stray println from the handler");
        print!("a print without a newline ");
        let child = Command::new("sh")
            .args(["-c", "echo child-stdout; cat; echo cat-exit:$?"])
            .status();
        Ok(reply::text(format!("child exited: {}", child.is_ok())))
    }
}

fn main() -> ExitCode {
    if std::env::var_os("STDIO_TEST_CHILD").is_some() {
        return molecule_plugin::run(Noisy);
    }
    let checks: [(&str, fn()); 1] = [(
        "stray_prints_and_children_never_reach_the_protocol_stream",
        stray_prints_and_children_never_reach_the_protocol_stream,
    )];
    let mut failed = 0;
    for (name, check) in checks {
        let ok = std::panic::catch_unwind(check).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    println!("{} passed, {failed} failed", checks.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn stray_prints_and_children_never_reach_the_protocol_stream() {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .env("STDIO_TEST_CHILD", "1")
        .env("MOLECULE_BACKEND", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the backend");
    let mut stdin = child.stdin.take().expect("stdin");
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":1,"host":{"name":"t","version":"0","pid":1},
        "workspace":{"id":"w"},"limits":{"maxMessageBytes":65536,"requestTimeoutMs":60000},
        "capabilities":{}}});
    let ask = json!({"jsonrpc":"2.0","id":1,"method":"handle_a2a","params":{
        "message":{"role":"user","messageId":"m","parts":[{"kind":"text","text":"hi"}]},
        "sender":{"kind":"canvas"},
        "context":{"activityId":"a","attempt":1,"deadline":"2099-01-01T00:00:00Z",
                   "idempotencyKey":"k","conversationKey":"canvas"}}});
    let ping = json!({"jsonrpc":"2.0","id":2,"method":"ping"});
    // stdin stays open while the handler's child runs: a child that could read the host's
    // pipe would block on it, or fail on its non-blocking mode, instead of seeing an end.
    writeln!(stdin, "{init}\n{ask}").expect("write");

    let stdout = child.stdout.take().expect("stdout");
    let (line_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let deadline = Duration::from_secs(10);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("\"id\":1")) {
        let line = lines_rx
            .recv_timeout(deadline)
            .expect("no answer to handle_a2a in time");
        lines.push(line);
    }
    writeln!(stdin, "{ping}").expect("write");
    drop(stdin);

    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((err, child.wait()));
    });
    let (stderr, status) = rx
        .recv_timeout(deadline)
        .expect("the backend did not exit in time");
    assert!(
        status.expect("wait").success(),
        "exit status; stderr: {stderr}"
    );
    lines.extend(lines_rx.recv_timeout(deadline));
    lines.extend(lines_rx.try_iter());
    let messages: Vec<Value> = lines
        .iter()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|_| panic!("non-protocol stdout line {l:?}"))
        })
        .collect();
    let mut ids: Vec<i64> = messages.iter().filter_map(|m| m["id"].as_i64()).collect();
    ids.sort();
    assert_eq!(ids, [0, 1, 2], "every request answered once: {messages:?}");
    let answer = messages.iter().find(|m| m["id"] == 1).expect("answer to 1");
    assert_eq!(answer["result"]["parts"][0]["text"], "child exited: true");
    for expected in ["stray println", "a print without", "child-stdout"] {
        assert!(
            stderr.contains(expected),
            "{expected:?} should be on stderr: {stderr}"
        );
    }
    assert!(
        stderr.contains("cat-exit:0"),
        "a child reading stdin sees a plain end of input, not the host's lines: {stderr}"
    );
}
