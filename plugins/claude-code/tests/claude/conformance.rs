//! The protocol, checked on the real binary: by `molecule backend-check` when the host binary
//! has it, and by hand for the basics either way.

use crate::support::{Backend, Rig, initialize_params, molecule_with};
use serde_json::json;
use std::process::Stdio;

#[test]
fn molecule_backend_check_passes_on_this_backend() {
    if let Some(report) = backend_check(&[]) {
        assert!(report.contains("SKIP  workspaces.many"), "{report}");
    }
}

#[test]
fn molecule_backend_check_passes_with_several_workspaces_per_process() {
    if let Some(report) = backend_check(&["--max-workspaces", "2"]) {
        assert!(report.contains("PASS  workspaces.many"), "{report}");
    }
}

/// Runs `molecule backend-check` on the backend started with `args`; its report, once it
/// passed, or `None` when the host binary has no backend-check.
fn backend_check(args: &[&str]) -> Option<String> {
    let host = molecule_with("backend-check")?;
    let rig = Rig::new();
    let backend = rig.command(args);
    let help = std::process::Command::new(&host)
        .args(["backend-check", "--help"])
        .output()
        .expect("backend-check --help");
    let mut cmd = std::process::Command::new(host);
    cmd.arg("backend-check");
    if String::from_utf8_lossy(&help.stdout).contains("--busy-message") {
        // A turn that runs until cancelled, for the checks that need a request in flight.
        cmd.args(["--busy-message", "[fake:hang] busy"]);
    }
    cmd.arg("--")
        .arg(backend.get_program())
        .args(backend.get_args());
    for (k, v) in backend.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    // Turns that take a moment, so the checker's cancel and progress checks have work to stop.
    cmd.env("FAKE_CLAUDE_SCENARIO", "slow")
        .env("FAKE_CLAUDE_EVENTS", "3")
        .env("FAKE_CLAUDE_DELAY_MS", "100");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run backend-check");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "backend-check failed:\n{report}");
    Some(report)
}

#[test]
fn the_basics_of_the_protocol_hold() {
    let rig = Rig::new();
    let mut b = Backend::spawn(&mut rig.command(&[]));
    // Before initialize: -32002, and the backend stays usable.
    b.send(&json!({"jsonrpc":"2.0","id":"early","method":"ping","params":{}}));
    assert_eq!(
        b.wait_line("-32002", |v| v["id"] == "early")["error"]["code"],
        -32002
    );
    b.send(&json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":initialize_params(Some(60_000))}));
    let init = b.answer(0);
    let result = &init["result"];
    assert_eq!(result["protocolVersion"], 1);
    assert_eq!(result["backend"]["name"], "molecule-claude-code");
    assert_eq!(
        result["capabilities"],
        json!({"maxConcurrency": 2, "cancel": true, "progress": true})
    );
    b.send(&json!({"jsonrpc":"2.0","id":"s-1","method":"ping","params":{}}));
    assert_eq!(
        b.wait_line("ping", |v| v["id"] == "s-1")["result"],
        json!({})
    );
    let id = b.request("no/such", json!({}));
    assert_eq!(b.answer(id)["error"]["code"], -32601);
    let id = b.request("handle_a2a", json!({"message": 3}));
    assert_eq!(b.answer(id)["error"]["code"], -32602);
    b.close_stdin();
    assert!(b.wait_exit().success());
}

#[test]
fn run_by_hand_it_is_not_a_protocol_server_on_a_terminal() {
    // Without a terminal at hand, check --help and --version instead: both exit 0 and say
    // what the program is.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_molecule-claude-code"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--dangerously-skip-permissions") && help.contains("molecule connect"),
        "{help}"
    );
    assert!(!help.contains("kill-grace"), "test-only timers stay hidden");
}
