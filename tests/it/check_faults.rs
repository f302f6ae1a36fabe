//! `backend-check` fails the misbehaving test backend, fault by fault, on the right check and
//! with a message that says what the backend did.

use super::check_support::{Run, check_fault};
use super::support::wait::until_blocking;

/// A fault that only one check looks at: run just that one (and the handshake).
fn only(fault: &str, check: &str, flags: &[&str]) -> Run {
    let only = format!("--only={check}");
    let run = check_fault(fault, &[&[only.as_str()], flags].concat());
    assert_eq!(run.code, 9, "{:#}", run.report);
    run
}

#[test]
fn a_backend_that_exits_before_initialize() {
    let run = only("exit-before-init", "handshake", &[]);
    run.assert_fails(
        "handshake",
        "the backend exited with status 3 while the checker waited for initialize (id 0); its \
         last stderr line: \"test-backend: cannot start: configuration missing (on purpose)\"",
    );
    // Nothing else can run without a handshake.
    assert_eq!(run.report["checks"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_backend_that_never_answers_initialize() {
    let run = only("no-init", "handshake", &["--startup-timeout=300ms"]);
    run.assert_fails("handshake", "no answer to initialize (id 0) within 300 ms");
}

#[test]
fn a_backend_that_refuses_initialize() {
    let run = only("init-error", "handshake", &[]);
    run.assert_fails(
        "handshake",
        "answered initialize with an error: cannot initialize (on purpose) (code -32002)",
    );
}

#[test]
fn a_backend_that_speaks_another_protocol_version() {
    let run = only("wrong-version", "handshake", &[]);
    run.assert_fails(
        "handshake",
        "offered protocol 1, it answered protocol 2 (backend test-backend 0.0.1 speaks protocol \
         2; this molecule",
    );
}

#[test]
fn a_backend_that_greets_on_stdout_instead_of_answering() {
    // Long enough for the greeting to be read before the timeout, even on a busy machine.
    let run = only("junk-handshake", "handshake", &["--startup-timeout=2s"]);
    run.assert_fails(
        "handshake",
        "it wrote non-protocol output to stdout: \"Welcome to my-agent v1.0! Type 'help' for \
         commands.\"",
    );
}

#[test]
fn a_backend_that_accepts_any_offered_version() {
    let run = only("echo-version", "version.negotiation", &[]);
    run.assert_fails(
        "version.negotiation",
        "offered protocol 999, which no backend speaks yet, it answered 999",
    );
}

#[test]
fn a_backend_that_serves_requests_before_initialize() {
    let run = only("no-init-check", "init.first", &[]);
    run.assert_fails(
        "init.first",
        "answered ping before initialize with a result",
    );
}

#[test]
fn a_backend_that_turns_string_ids_into_numbers() {
    let run = only("numeric-ids", "ids.echo", &[]);
    run.assert_fails(
        "ids.echo",
        "answered ping with id \"7\" (a string) with id 7 (an integer) (stdout line 3)",
    );
}

#[test]
fn a_backend_that_answers_unknown_methods() {
    let run = only("unknown-method-result", "method.unknown", &[]);
    run.assert_fails(
        "method.unknown",
        "answered the unknown method \"backend-check/no-such-method\" with a result ({}), not \
         error -32601",
    );
}

#[test]
fn a_backend_that_accepts_invalid_params() {
    let run = only("lax-params", "params.invalid", &[]);
    run.assert_fails(
        "params.invalid",
        "answered handle_a2a without a message with a result ({\"parts\":[]}), not error -32602",
    );
}

#[test]
fn a_backend_that_answers_notifications() {
    let run = only("answer-notifications", "notification.unknown", &[]);
    run.assert_fails(
        "notification.unknown",
        "answered a notification it does not know (stdout line 2: {\"jsonrpc\":\"2.0\",\"id\":null",
    );
}

#[test]
fn a_backend_that_writes_type_instead_of_kind() {
    let run = only("bad-parts", "a2a.result", &[]);
    run.assert_fails(
        "a2a.result",
        "a text message was answered with an invalid result: part 1 has \"type\" instead of \
         \"kind\"",
    );
}

#[test]
fn a_backend_that_reads_only_short_lines() {
    let run = only("small-lines", "a2a.large", &[]);
    run.assert_fails(
        "a2a.large",
        "after a 1048564-byte message: the backend exited with status 1",
    );
}

#[test]
fn a_backend_that_mangles_multi_byte_text() {
    let run = only("mangle-utf8", "a2a.utf8", &[]);
    run.assert_fails(
        "a2a.utf8",
        "the reply quotes the message but its multi-byte text changed: sent \"naïve café",
    );
    assert!(run.message("a2a.utf8").contains("got \"na?ve caf?"));
}

#[test]
fn a_backend_that_crashes_on_a_request() {
    let run = only("crash-on-request", "a2a.result", &[]);
    run.assert_fails(
        "a2a.result",
        "the backend exited with status 42 while the checker waited for handle_a2a (id 1); its \
         last stderr line: \"test-backend: crashing with 1 requests in flight (on purpose)\"",
    );
    // The report quotes its stderr.
    let stderr = run.check("a2a.result")["stderr"].to_string();
    assert!(stderr.contains("crashing with 1 requests"), "{stderr}");
}

#[test]
fn a_backend_that_prints_junk_between_replies() {
    // The whole run: junk is only ever a stdout.clean failure, the host reads past it.
    let run = check_fault("junk-stdout", &[]);
    assert_eq!(run.code, 9);
    run.assert_fails(
        "stdout.clean",
        "stdout line 1 is not JSON-RPC: \"Loading model weights... done\" (3 more after it)",
    );
    assert_eq!(run.required_failures(), ["stdout.clean"]);
    assert_eq!(
        run.check("stdout.clean")["hint"],
        "write logs to stderr: stdout carries protocol lines only"
    );
}

#[test]
fn a_backend_that_writes_a_line_over_the_cap() {
    let run = only("oversize", "stdout.clean", &["--max-message-bytes=65536"]);
    run.assert_fails(
        "stdout.clean",
        "bytes, over the 65536-byte line cap the host advertised (limits.maxMessageBytes)",
    );
}

#[test]
fn a_backend_that_answers_twice() {
    let run = only("dup-id", "answers.once", &[]);
    run.assert_fails(
        "answers.once",
        "answered request 0 2 times (stdout lines 1, 2)",
    );
}

#[test]
fn a_backend_that_answers_an_id_it_never_got() {
    let run = only("stray-id", "answers.once", &[]);
    run.assert_fails(
        "answers.once",
        "answered id 1000000, which the host never sent (stdout line 2",
    );
}

#[test]
fn a_backend_that_calls_a_host_method_not_offered() {
    let unlisted = "--env=MOLECULE_TEST_HOST_METHOD=peers/forget";
    let run = only("host-call", "host-calls.listed", &[unlisted]);
    run.assert_fails(
        "host-calls.listed",
        "called the host method \"peers/forget\" (stdout line 2), which the host does not list in \
         capabilities.hostMethods (it lists peers/list,",
    );
}

#[test]
fn a_backend_that_answers_every_cancel() {
    let run = check_fault(
        "answer-any-cancel",
        &["--only=cancel.after-answer,cancel.unknown-id"],
    );
    run.assert_fails(
        "cancel.after-answer",
        "answered request 1 again after a $/cancelRequest that came after its answer (stdout \
         lines 2, 3)",
    );
    run.assert_fails(
        "cancel.unknown-id",
        "answered a $/cancelRequest for an id it never got (stdout line 2: \
         {\"jsonrpc\":\"2.0\",\"id\":4242",
    );
}

#[test]
fn a_backend_that_ignores_cancel() {
    let run = only(
        "ignore-cancel",
        "cancel.in-flight",
        &["--busy-message=hang", "--cancel-grace=200ms"],
    );
    run.assert_fails(
        "cancel.in-flight",
        "no answer to the cancelled request 1 within the 200 ms cancel grace",
    );
}

#[test]
fn a_backend_that_sends_progress_after_answering() {
    let run = only("late-progress", "progress.in-flight", &[]);
    run.assert_fails(
        "progress.in-flight",
        "sent $/progress for request 1 that came after its answer (stdout line 3)",
    );
}

#[test]
fn a_backend_that_exits_with_an_error_status() {
    let run = only("exit-1-at-eof", "shutdown.eof", &[]);
    run.assert_fails("shutdown.eof", "exited with status 1");
    assert!(run.message("shutdown.eof").ends_with("after stdin closed"));
}

#[test]
fn a_backend_that_ignores_eof_and_sigterm() {
    let run = check_fault(
        "ignore-sigterm",
        &[
            "--only=shutdown.eof,shutdown.sigterm",
            "--eof-timeout=200ms",
            "--term-timeout=200ms",
        ],
    );
    assert_eq!(run.code, 9);
    run.assert_fails(
        "shutdown.eof",
        "did not exit within 200 ms of stdin closing; it ignored SIGTERM too and was killed with \
         SIGKILL",
    );
    run.assert_fails(
        "shutdown.sigterm",
        "was still running 200 ms after SIGTERM (stdin open), and was killed",
    );
    assert_eq!(run.check("shutdown.sigterm")["tier"], "advisory");
}

#[test]
fn a_backend_that_leaves_a_grandchild_holding_the_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let env = format!("--env=MOLECULE_TEST_PID_FILE={}", pid_file.display());
    // The grandchild is sure to outlive the exit grace: keep it short.
    let run = only(
        "grandchild",
        "shutdown.descendants",
        &[&env, "--exit-grace=300ms"],
    );
    let pid = std::fs::read_to_string(&pid_file).expect("the grandchild wrote its pid");
    run.assert_fails(
        "shutdown.descendants",
        &format!("left 1 process running after it exited: pid {pid} (molecule-test-b"),
    );
    // The checker killed it; once the checker has exited, init reaps it.
    let stat = format!("/proc/{pid}/stat");
    until_blocking(&format!("the grandchild {pid} to end"), || {
        std::fs::read_to_string(&stat).map_or(true, |s| s.contains(") Z "))
    });
}

#[test]
fn a_backend_that_floods_stderr_still_conforms() {
    // Logging is never a protocol error; the advisory check reports the volume.
    let run = check_fault(
        "stderr-flood",
        &[
            "--env=MOLECULE_TEST_FLOOD_LINES=5000",
            "--only=stdout.clean,shutdown.eof,stderr.volume",
        ],
    );
    assert_eq!(run.code, 0, "{:#}", run.report);
    run.assert_fails(
        "stderr.volume",
        "wrote 5001 lines to stderr in a short session (initialize, ping, one message)",
    );
    assert_eq!(run.outcome("stdout.clean"), "pass");
}

#[test]
fn a_serial_backend_that_advertises_concurrency() {
    // `stop-reading` blocks the test backend's reader: it handles nothing more.
    let run = check_fault(
        "",
        &[
            "--env=MOLECULE_TEST_MAX_CONCURRENCY=4",
            "--busy-message=stop-reading",
            "--only=concurrency.parallel,concurrency.ping",
            "--timeout=500ms",
            "--eof-timeout=200ms",
        ],
    );
    assert_eq!(run.code, 9);
    run.assert_fails(
        "concurrency.parallel",
        "no answer to handle_a2a (id 1000) within 500 ms while the busy request \
         \"backend-check-busy\" ran; the backend advertises maxConcurrency 4",
    );
    run.assert_fails(
        "concurrency.ping",
        "no answer to ping (id 2) within 500 ms while request 1 ran",
    );
}

#[test]
fn a_backend_that_answers_cancelled_without_a_cancel() {
    let run = only("self-cancel", "a2a.result", &[]);
    run.assert_fails(
        "a2a.result",
        "a text message was answered with cancelled (code -32800), but it was never cancelled",
    );
}
