//! `backend-check` passes the three echo backends (Rust, Python, Node), which follow the spec.

use std::path::PathBuf;

use super::check_support::{Run, check_json, interpreter, repo_file};

/// Every mandatory and advertised-capability check passes, and the advisory ones too; the ones
/// of an absent capability are skipped, and the ones of an advertised capability that need
/// `--busy-message` are unchecked, never passed.
fn assert_conforms(run: &Run, name: &str) {
    assert_eq!(run.code, 0, "{:#}\n{}", run.report, run.stderr);
    assert!(run.required_failures().is_empty(), "{:#}", run.report);
    assert_eq!(run.report["backend"]["name"], name);
    for id in [
        "handshake",
        "ids.echo",
        "a2a.large",
        "a2a.utf8",
        "stdout.clean",
        "shutdown.eof",
        "shutdown.descendants",
        "concurrency.parallel",
        "init.twice",
        "shutdown.sigterm",
        "run-by-hand",
        "workspaces.many",
    ] {
        assert_eq!(run.outcome(id), "pass", "{id}: {:#}", run.check(id));
    }
    // The echo quotes the message, so the UTF-8 check compared the quote too.
    assert!(run.message("a2a.utf8").contains("quoting it intact"));
    assert!(
        run.message("run-by-hand")
            .contains("exited with status 2 and said")
    );
    assert_eq!(run.outcome("progress.in-flight"), "skip");
    assert_eq!(run.outcome("concurrency.ping"), "unchecked");
    let cancel = run.report["backend"]["capabilities"]["cancel"] == true;
    let (outcome, message) = (
        run.outcome("cancel.in-flight"),
        run.message("cancel.in-flight"),
    );
    if cancel {
        assert_eq!(outcome, "unchecked");
        assert!(message.contains("needs --busy-message"), "{message}");
    } else {
        assert_eq!(outcome, "skip", "{message}");
    }
}

#[test]
fn the_embedded_rust_echo_conforms() {
    let run = check_json(&[], &[env!("CARGO_BIN_EXE_molecule"), "echo-backend"]);
    assert_conforms(&run, "molecule-echo");
}

#[test]
fn the_molecule_echo_binary_conforms() {
    // `cargo test --workspace` (what CI runs) builds it next to the molecule binary.
    let echo = PathBuf::from(env!("CARGO_BIN_EXE_molecule")).with_file_name("molecule-echo");
    if !echo.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: run cargo test --workspace",
            echo.display()
        );
        eprintln!(
            "skipped: {} is not built (cargo test --workspace builds it)",
            echo.display()
        );
        return;
    }
    let run = check_json(&[], &[&echo.display().to_string()]);
    assert_conforms(&run, "molecule-echo");
}

#[test]
fn the_python_echo_conforms() {
    let Some(python) = interpreter("python3") else {
        return;
    };
    let script = repo_file("plugins/echo/python/echo.py");
    let run = check_json(&[], &[&python.display().to_string(), &script]);
    assert_conforms(&run, "molecule-echo-python");
}

#[test]
fn the_node_echo_conforms() {
    let Some(node) = interpreter("node") else {
        return;
    };
    let script = repo_file("plugins/echo/node/echo.js");
    let run = check_json(&[], &[&node.display().to_string(), &script]);
    assert_conforms(&run, "molecule-echo-node");
}
