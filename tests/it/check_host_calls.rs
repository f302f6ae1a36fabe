//! `backend-check` plays the host for the backend's own calls: it lists every host method,
//! answers from a script (results, each error class, a call ended with its request), serves
//! `MOLECULE_HOST_SOCKET`, and checks the calls a backend makes and how it takes the answers.

use super::check_support::{Run, check_fault, check_json, interpreter, repo_file};

const HOST_CHECKS: &str =
    "--only=host-calls.listed,host-calls.params,host-calls.errors,host-calls.scoped";

fn assert_passes_the_host_checks(run: &Run) {
    assert_eq!(run.code, 0, "{:#}", run.report);
    for id in [
        "host-calls.listed",
        "host-calls.params",
        "host-calls.errors",
        "host-calls.scoped",
    ] {
        assert_eq!(run.outcome(id), "pass", "{id}: {:#}", run.check(id));
    }
}

#[test]
fn a_backend_that_sends_well_formed_calls_and_takes_every_error_passes() {
    let run = check_fault("", &["--host-call-message=send", HOST_CHECKS]);
    assert_passes_the_host_checks(&run);
    assert_eq!(
        run.message("host-calls.params"),
        "made 1 call to the host (peers/send), each with well-formed params"
    );
    let errors = run.message("host-calls.errors");
    for class in [
        "1010 → a result",
        "1016 → a result",
        "-32800 after a cancel → -32800",
    ] {
        assert!(errors.contains(class), "{class}: {errors}");
    }
    assert!(
        run.message("host-calls.scoped")
            .contains("its 1 peers/send sent the same messageId when the message came again"),
        "{}",
        run.message("host-calls.scoped")
    );
}

#[test]
fn every_host_method_is_offered() {
    let methods = [
        "peers/list",
        "peers/discover",
        "peers/send",
        "workspace/info",
        "user/notify",
    ];
    let run = check_fault(
        "host-call",
        &[
            "--env=MOLECULE_TEST_HOST_METHOD=peers/forget",
            "--only=host-calls.listed",
        ],
    );
    run.assert_fails(
        "host-calls.listed",
        &format!(
            "called the host method \"peers/forget\" (stdout line 2), which the host does not list \
             in capabilities.hostMethods (it lists {})",
            methods.join(", ")
        ),
    );
}

#[test]
fn malformed_params_are_named() {
    // The test backend's `call-host` sends {"note": …}: peers/send needs an id and a text.
    let run = check_fault(
        "",
        &[
            "--host-call-message=call-host:peers/send",
            "--only=host-calls.params",
        ],
    );
    run.assert_fails(
        "host-calls.params",
        "called peers/send (stdout line 2) with invalid params: missing field `id`",
    );
}

#[test]
fn an_uncaught_host_error_is_a_failure() {
    let run = check_fault(
        "host-error-internal",
        &[
            "--host-call-message=call-host:peers/list",
            "--only=host-calls.errors",
        ],
    );
    run.assert_fails(
        "host-calls.errors",
        "when the host answered its calls with 1010 (unauthorized), it answered its request with \
         handler failed: uncaught host error (code -32603)",
    );
    let run = check_fault(
        "host-error-crash",
        &[
            "--host-call-message=call-host:peers/list",
            "--only=host-calls.errors",
        ],
    );
    run.assert_fails(
        "host-calls.errors",
        "when the host answered its calls with 1010 (unauthorized): the backend exited with status 1",
    );
}

#[test]
fn calls_without_their_request_or_with_new_message_ids_are_reported() {
    let run = check_fault(
        "unscoped",
        &["--host-call-message=send", "--only=host-calls.scoped"],
    );
    run.assert_fails(
        "host-calls.scoped",
        "called peers/send (stdout line 2) while handling request 1 without _meta.requestId 1",
    );
    assert_eq!(run.code, 0, "an advisory check never fails the run");
    let run = check_fault(
        "random-message-ids",
        &["--host-call-message=send", "--only=host-calls.scoped"],
    );
    run.assert_fails(
        "host-calls.scoped",
        "delivered the same message again (same idempotencyKey, attempt 2), it sent peers/send \
         with messageIds",
    );
}

#[test]
fn without_calls_the_host_checks_are_skipped_with_the_reason() {
    let run = check_fault("", &[HOST_CHECKS]);
    for id in [
        "host-calls.params",
        "host-calls.errors",
        "host-calls.scoped",
    ] {
        assert_eq!(run.outcome(id), "skip", "{id}");
        assert!(
            run.message(id).contains("give --host-call-message"),
            "{}",
            run.message(id)
        );
    }
}

#[test]
fn the_python_and_node_delegates_pass_the_host_checks() {
    let message = "--host-call-message=summarise the quarterly report";
    if let Some(python) = interpreter("python3") {
        let script = repo_file("plugins/delegate/python/delegate.py");
        let run = check_json(
            &[message, HOST_CHECKS],
            &[&python.display().to_string(), &script],
        );
        assert_passes_the_host_checks(&run);
    }
    if let Some(node) = interpreter("node") {
        let script = repo_file("plugins/delegate/node/delegate.js");
        let run = check_json(
            &[message, HOST_CHECKS],
            &[&node.display().to_string(), &script],
        );
        assert_passes_the_host_checks(&run);
    }
}

#[test]
fn calls_on_the_host_socket_are_served_and_checked() {
    let Some(python) = interpreter("python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("socket_tool.py");
    std::fs::write(&script, SOCKET_TOOL_PY).unwrap();
    let command = [python.display().to_string(), script.display().to_string()];
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let run = check_json(
        &["--host-call-message=peers/list", "--only=host-calls.params"],
        &command,
    );
    assert_eq!(
        run.message("host-calls.params"),
        "made 1 call to the host (peers/list; 1 on the socket), each with well-formed params",
        "{:#}",
        run.report
    );
    let run = check_json(
        &["--host-call-message=peers/send", "--only=host-calls.params"],
        &command,
    );
    run.assert_fails(
        "host-calls.params",
        "called peers/send on the host socket with invalid params: peers/send: give parts or text",
    );
}

/// A backend that makes, for each message, the call its text names on MOLECULE_HOST_SOCKET
/// (as a tool it started would), and answers with the host's reply.
const SOCKET_TOOL_PY: &str = r#"
import json, os, socket, sys
def on_socket(method):
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["MOLECULE_HOST_SOCKET"])
    params = {"id": "2d5e8c1a-7b3f-4e6d-9a0c-1f2e3d4c5b6a"} if method == "peers/send" else {}
    s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}) + "\n").encode())
    reply = s.makefile().readline()
    s.close()
    return reply
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("method") == "initialize":
        result = {"protocolVersion": 1, "backend": {"name": "socket-tool", "version": "1"}}
    elif msg.get("method") == "handle_a2a":
        reply = on_socket(msg["params"]["message"]["parts"][0]["text"])
        result = {"parts": [{"kind": "text", "text": reply}]}
    elif "id" in msg:
        result = {}
    else:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"#;
