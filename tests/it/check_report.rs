//! The checker's command line and reports: the JSON report names every check, the summary is
//! readable, the exit codes say what happened, and the capability checks pass a backend
//! that does what it advertises.

use std::os::unix::fs::PermissionsExt;

use molecule::check::CheckId;

use super::check_support::{FAST, check_fault, check_json, checker};
use super::support::backend::TEST_BACKEND;

#[test]
fn the_json_report_names_every_check() {
    let run = check_json(&[], &[env!("CARGO_BIN_EXE_molecule"), "echo-backend"]);
    let checks = run.report["checks"].as_array().expect("checks");
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    let all: Vec<&str> = CheckId::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(ids, all);
    for c in checks {
        for field in ["tier", "title", "outcome", "message"] {
            assert!(c[field].is_string(), "{field} in {c}");
        }
        assert!(c["durationMs"].is_u64(), "{c}");
    }
    assert_eq!(run.report["backend"]["protocolVersion"], 1);
    assert_eq!(run.report["exitCode"], 0);
    assert_eq!(run.report["summary"]["failed"], 0);
}

#[test]
fn the_summary_shows_each_outcome_and_the_fix() {
    let fault = "--env=MOLECULE_TEST_FAULT=junk-stdout";
    let out = checker(
        &[FAST, &[fault, "--only=stdout.clean,init.twice"]].concat(),
        &[TEST_BACKEND],
    );
    assert_eq!(out.status.code(), Some(9));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "backend: test-backend 0.0.1, protocol 1 (maxConcurrency 1, cancel, progress)",
        "  PASS  handshake",
        "  FAIL  stdout.clean  stdout line 1 is not JSON-RPC: \"Loading model weights... done\"",
        "fix: write logs to stderr: stdout carries protocol lines only",
        "advisory (never fail the run)",
        "  FAIL  init.twice",
        "3 checks in",
        "result: FAIL (1 required check failed; exit 9)",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
}

#[test]
fn advisory_failures_do_not_fail_the_run() {
    // The test backend ignores both SHOULDs: a second initialize, and being run by hand.
    let run = check_fault(
        "",
        &["--only=init.twice,run-by-hand", "--eof-timeout=300ms"],
    );
    assert_eq!(run.code, 0, "{:#}", run.report);
    run.assert_fails("init.twice", "answered a second initialize with a result");
    run.assert_fails(
        "run-by-hand",
        "was still running 300 ms after being started on a terminal without MOLECULE_BACKEND",
    );
}

#[test]
fn capability_checks_pass_a_backend_that_does_what_it_advertises() {
    let run = check_fault(
        "",
        &[
            "--env=MOLECULE_TEST_MAX_CONCURRENCY=4",
            "--busy-message=hang",
            "--only=concurrency.parallel,concurrency.ping,cancel.in-flight",
        ],
    );
    assert_eq!(run.code, 0, "{:#}", run.report);
    assert!(
        run.message("concurrency.parallel")
            .contains("all while the busy request still ran")
    );
    assert_eq!(
        run.message("concurrency.ping"),
        "answered ping while a request ran"
    );
    assert!(
        run.message("cancel.in-flight")
            .starts_with("answered the cancelled request once, with -32800")
    );
}

#[test]
fn progress_in_flight_passes_progress_sent_while_a_request_runs() {
    let run = check_fault(
        "",
        &["--busy-message=progress:3:5", "--only=progress.in-flight"],
    );
    assert_eq!(run.code, 0, "{:#}", run.report);
    assert!(
        run.message("progress.in-flight")
            .starts_with("sent 3 $/progress notifications while its request ran"),
        "{}",
        run.message("progress.in-flight")
    );
}

#[test]
fn capability_checks_are_skipped_with_the_reason() {
    let run = check_fault(
        "",
        &[
            "--env=MOLECULE_TEST_CAPS=none",
            "--only=concurrency.parallel,cancel.in-flight,progress.in-flight",
        ],
    );
    assert_eq!(run.code, 0);
    for (id, why) in [
        ("concurrency.parallel", "maxConcurrency is 1 (or absent)"),
        ("cancel.in-flight", "the backend does not advertise cancel"),
        (
            "progress.in-flight",
            "the backend does not advertise progress",
        ),
    ] {
        assert_eq!(run.outcome(id), "skip");
        assert!(
            run.message(id).starts_with(why),
            "{id}: {}",
            run.message(id)
        );
    }
}

#[test]
fn a_program_that_cannot_be_executed_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    // Its interpreter does not exist: exec fails, nothing runs.
    let script = dir.path().join("no-interpreter");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = check_json(&[], &[&script.display().to_string()]);
    assert_eq!(run.code, 3, "{:#}", run.report);
    run.assert_fails("handshake", "cannot start");
    let missing = checker(&["--json"], &["/no/such/backend"]);
    assert_eq!(missing.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert_eq!(report["exitCode"], 3);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("backend program \"/no/such/backend\" not found"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let mut cmd = assert_cmd::Command::cargo_bin("molecule").unwrap();
    let no_command = cmd.arg("backend-check").output().unwrap();
    assert_eq!(no_command.status.code(), Some(2));
    let unknown = checker(&["--only=no.such.check"], &[TEST_BACKEND]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no.such.check") && stderr.contains("stdout.clean"),
        "{stderr}"
    );
    let bad_time = checker(&["--timeout=soon"], &[TEST_BACKEND]);
    assert_eq!(bad_time.status.code(), Some(2));
}

#[test]
fn an_advertised_capability_that_could_not_be_checked_is_not_a_pass() {
    // The test backend advertises cancel and progress; without --busy-message neither can run.
    let run = check_fault("", &["--only=cancel.in-flight,progress.in-flight"]);
    for id in ["cancel.in-flight", "progress.in-flight"] {
        assert_eq!(run.outcome(id), "unchecked", "{id}: {:#}", run.check(id));
        assert!(
            run.message(id).contains("--busy-message"),
            "{}",
            run.message(id)
        );
    }
    assert_eq!(run.report["summary"]["unchecked"], 2, "{:#}", run.report);
    let out = checker(
        &[FAST, &["--only=cancel.in-flight"]].concat(),
        &[TEST_BACKEND],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  UNCHECKED  cancel.in-flight"), "{text}");
    assert!(
        text.contains(
            "result: INCOMPLETE (no required check failed; 1 advertised capability was not checked)"
        ),
        "{text}"
    );
}

#[test]
fn a_backend_that_advertises_progress_must_send_it() {
    // It advertises progress but works 600 ms in silence, past the 150 ms idle timeout.
    let run = check_fault(
        "",
        &[
            "--busy-message=sleep:600",
            "--idle-timeout=150ms",
            "--only=progress.in-flight",
        ],
    );
    assert_eq!(run.code, 9, "{:#}", run.report);
    run.assert_fails(
        "progress.in-flight",
        "sent no $/progress for request 1 within the 150 ms idle timeout",
    );
    // Progress every 20 ms, within a 150 ms idle timeout: a pass.
    let run = check_fault(
        "",
        &[
            "--busy-message=progress:10:20",
            "--idle-timeout=150ms",
            "--only=progress.in-flight",
        ],
    );
    assert_eq!(run.code, 0, "{:#}", run.report);
    assert!(
        run.message("progress.in-flight")
            .starts_with("sent 10 $/progress notifications while its request ran"),
        "{}",
        run.message("progress.in-flight")
    );
}
