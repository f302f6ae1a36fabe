//! `backend-check` on answers it cannot match to a request: an id the checker never sent, a
//! line another write broke, and the hints it gives, which name a language only when it knows
//! the backend's.

use super::check_support::{Run, check_fault, check_json, interpreter};
use super::support::backend::TEST_BACKEND;

fn no_check_waited_for_a_timeout(run: &Run) {
    for check in run.report["checks"].as_array().into_iter().flatten() {
        let message = check["message"].as_str().unwrap_or_default();
        assert!(!message.contains("no answer to"), "{check:#}");
    }
}

#[test]
fn an_integer_id_answered_as_a_string_fails_every_check_at_once() {
    let run = check_fault("string-ids", &["--timeout=5s", "--eof-timeout=300ms"]);
    assert_eq!(run.code, 9, "{:#}", run.report);
    run.assert_fails(
        "a2a.result",
        "answered id \"1\", which the host never sent (stdout line 2: ",
    );
    assert!(
        run.message("a2a.result").contains(
            "the same id as handle_a2a (id 1), with another type: echo ids exactly as received"
        ),
        "{}",
        run.message("a2a.result")
    );
    no_check_waited_for_a_timeout(&run);
}

#[test]
fn an_answer_to_the_next_id_fails_at_once() {
    let run = check_fault("next-id", &["--only=a2a.result"]);
    assert_eq!(run.code, 9, "{:#}", run.report);
    run.assert_fails(
        "a2a.result",
        "answered id 2, which the host never sent (stdout line 2: {\"jsonrpc\":\"2.0\",\"id\":2,",
    );
    assert!(
        run.message("a2a.result")
            .contains("while the checker waited for handle_a2a (id 1)")
    );
}

#[test]
fn a_debug_print_inside_an_answer_is_reported_as_the_broken_answer() {
    let run = check_fault("interleave", &["--only=a2a.result", "--timeout=5s"]);
    assert_eq!(run.code, 9, "{:#}", run.report);
    run.assert_fails(
        "a2a.result",
        "the answer to handle_a2a (id 1) on stdout line 2 is not valid JSON",
    );
    assert!(
        run.message("a2a.result")
            .contains("DEBUG: handled the request")
    );
    let hint = run.check("a2a.result")["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("one write"), "{hint}");
}

#[test]
fn a_hint_names_python_only_for_a_python_backend() {
    // The Rust test backend exits on a line over 64 KiB: no language to name.
    let run = check_fault("small-lines", &["--only=a2a.large"]);
    let hint = run.check("a2a.large")["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("64 KiB"), "{hint}");
    assert!(!hint.to_lowercase().contains("python"), "{hint}");
    let Some(python) = interpreter("python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("short_lines.py");
    std::fs::write(&script, SHORT_LINES_PY).unwrap();
    let run = check_json(
        &["--only=a2a.large"],
        &[&python.display().to_string(), &script.display().to_string()],
    );
    let hint = run.check("a2a.large")["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("asyncio"), "{hint}");
    assert!(!TEST_BACKEND.ends_with(".py"));
}

/// A Python backend that, like asyncio's default reader, gives up on lines over 64 KiB.
const SHORT_LINES_PY: &str = r#"
import json, sys
for line in sys.stdin:
    if len(line) > 65536:
        sys.exit("line over 64 KiB")
    msg = json.loads(line)
    if msg.get("method") == "initialize":
        result = {"protocolVersion": 1, "backend": {"name": "short", "version": "1"}}
    elif "id" in msg:
        result = {"parts": []}
    else:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"#;
