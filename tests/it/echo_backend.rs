//! `molecule echo-backend`: the embedded echo speaks the protocol on stdin/stdout.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn the_hidden_echo_backend_subcommand_serves_the_echo() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_molecule"))
        .arg("echo-backend")
        .env("MOLECULE_BACKEND", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":1,"host":{"name":"t","version":"0","pid":1},
        "workspace":{"id":"00000000-0000-4000-8000-000000000001"},
        "limits":{"maxMessageBytes":8388608,"requestTimeoutMs":60000},"capabilities":{}}});
    let ask = json!({"jsonrpc":"2.0","id":1,"method":"handle_a2a","params":{
        "message":{"kind":"message","role":"user","messageId":"m","parts":[{"kind":"text","text":"hi"}]},
        "sender":{"kind":"canvas","workspaceId":null},
        "context":{"activityId":"a","attempt":1,"deadline":"2099-01-01T00:00:00Z",
                   "idempotencyKey":"k","conversationKey":"canvas"}}});
    writeln!(stdin, "{init}\n{ask}").unwrap();
    // Closing stdin is the shutdown signal; the answers still arrive before the exit.
    drop(stdin);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = tx.send((lines, child.wait()));
    });
    let (lines, status) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("molecule echo-backend did not exit after end of input");
    assert!(status.unwrap().success());
    let lines: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["result"]["backend"]["name"], "molecule-echo");
    assert_eq!(
        lines[1]["result"]["parts"],
        json!([{"kind":"text","text":"echo: hi"}])
    );
}
