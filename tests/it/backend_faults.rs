//! Each fault of the misbehaving backend: the host stays up, reports a clear error, every
//! request gets exactly one outcome, and the next request works (after a restart where the
//! fault ends the backend).

use std::time::Duration;

use futures_util::future::join_all;
use molecule_host::backend::{CallError, CallOptions, ExitCause, ProtocolViolation, descendants};
use molecule_protocol::methods::CancelReason;

use crate::connect_host::gone;
use crate::support::backend::{Running, Setup, reply_data, reply_text};
use crate::support::wait::{file, until, within};

/// Fast restarts: the backoff is not what these tests are about.
fn quick_restarts(setup: Setup) -> Setup {
    setup.with(|c| {
        c.restart.backoff_base = Duration::from_millis(5);
        c.restart.backoff_max = Duration::from_millis(20);
    })
}

async fn assert_echo(run: &Running) {
    assert_eq!(
        reply_text(&run.ask("hello").await.expect("an echo")),
        "echo: hello"
    );
}

#[tokio::test]
async fn junk_lines_between_replies_are_counted_and_never_answered() {
    let run = Setup::new().fault("junk-stdout").start().await;
    for _ in 0..3 {
        assert_echo(&run).await;
    }
    // One junk line before the handshake's answer and one before each reply.
    assert_eq!(run.sup.stats().junk_lines, 4);
    assert_eq!(run.sup.stats().crashes, 0);
}

#[tokio::test]
async fn a_reply_over_the_cap_fails_that_request_at_once() {
    let run = Setup::new()
        .with(|c| c.max_message_bytes = 4096)
        .start()
        .await;
    let err = run.ask("big:10000").await.unwrap_err();
    match &err {
        CallError::Protocol(ProtocolViolation::ReplyTooLarge { len, max: 4096 }) => {
            assert!(*len > 10_000, "{len}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("over the 4096-byte message limit"),
        "{err}"
    );
    assert_echo(&run).await;
    assert_eq!(run.sup.stats().oversize_lines, 1);
}

#[tokio::test]
async fn a_request_over_the_cap_is_not_sent() {
    let run = Setup::new()
        .with(|c| c.max_message_bytes = 1024)
        .start()
        .await;
    let err = run.ask(&"y".repeat(2000)).await.unwrap_err();
    assert!(
        matches!(err, CallError::RequestTooLarge { max: 1024, .. }),
        "{err:?}"
    );
    assert_echo(&run).await;
}

#[tokio::test]
async fn a_crash_fails_every_request_in_flight_then_the_backend_restarts() {
    let run = quick_restarts(Setup::new())
        .env("MOLECULE_TEST_MAX_CONCURRENCY", "3")
        .env("MOLECULE_TEST_CRASH_AT", "3")
        .start()
        .await;
    let first_pid = run.pid();
    let outcomes = join_all((0..3).map(|_| run.ask("hang"))).await;
    for outcome in outcomes {
        match outcome {
            Err(CallError::Crashed(report)) => {
                assert_eq!(report.cause, ExitCause::Exited);
                assert_eq!(report.status.and_then(|s| s.code()), Some(42));
                assert!(
                    report
                        .stderr_tail
                        .contains("crashing with 3 requests in flight"),
                    "{report:?}"
                );
                assert_eq!(report.pid, first_pid);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_echo(&run).await;
    assert_ne!(run.pid(), first_pid);
    let status = run.sup.status().borrow().clone();
    assert_eq!(status.crashes, 1);
    assert!(status.last_error.unwrap().contains("exit status: 42"));
    assert_eq!(run.sup.stats().starts, 2);
}

#[tokio::test]
async fn a_hung_request_times_out_and_frees_its_slot() {
    let run = Setup::new().start().await;
    let opts = CallOptions {
        timeout: Some(Duration::from_millis(200)),
        ..CallOptions::default()
    };
    let err = run.ask_with("hang", opts).await.unwrap_err();
    assert!(
        matches!(err, CallError::Timeout(d) if d == Duration::from_millis(200)),
        "{err:?}"
    );
    // maxConcurrency is 1: this only runs because the timed-out request gave its slot back.
    assert_echo(&run).await;
    assert_eq!(run.sup.stats().crashes, 0);
}

#[tokio::test]
async fn a_backend_that_ignores_sigterm_is_killed() {
    let run = Setup::new()
        .fault("ignore-sigterm")
        .with(|c| {
            c.timeouts.eof_wait = Duration::from_millis(100);
            c.timeouts.term_wait = Duration::from_millis(100);
        })
        .start()
        .await;
    assert_echo(&run).await;
    let pid = run.pid();
    let report = within("shutdown", run.sup.shutdown(true)).await;
    let stop = report.stop.expect("a backend was running");
    assert_eq!(stop.step, molecule_host::backend::StopStep::Killed);
    assert_eq!(
        stop.status
            .and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
        Some(9)
    );
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[tokio::test]
async fn a_grandchild_holding_the_pipes_does_not_delay_a_crash_or_outlive_it() {
    let setup = quick_restarts(Setup::new()).fault("grandchild");
    let pid_file = setup.path("grandchild.pid");
    let setup = setup
        .env("MOLECULE_TEST_PID_FILE", pid_file.to_str().unwrap())
        .with(|c| c.timeouts.pipe_grace = Duration::from_millis(200));
    let run = setup.start().await;
    let grandchild: u32 = file(&pid_file).await.parse().unwrap();
    std::fs::remove_file(&pid_file).unwrap();
    let err = run.ask("crash").await.unwrap_err();
    assert!(matches!(err, CallError::Crashed(_)), "{err:?}");
    // Gone or a zombie: once killed, a grandchild reparented to init is init's to reap, which
    // some inits do late.
    until("the grandchild to be gone", || gone(grandchild)).await;
    // The restarted backend has a grandchild of its own; it works all the same.
    assert_echo(&run).await;
    let second: u32 = file(&pid_file).await.parse().unwrap();
    assert!(
        descendants(run.pid())
            .unwrap()
            .iter()
            .any(|p| u32::try_from(p.pid) == Ok(second))
    );
    within("shutdown", run.sup.shutdown(true)).await;
    assert!(gone(second));
}

#[tokio::test]
async fn a_stderr_flood_is_drained_rate_limited_and_tailed() {
    let run = Setup::new()
        .fault("stderr-flood")
        .env("MOLECULE_TEST_FLOOD_LINES", "20000")
        .with(|c| {
            c.stderr.rate_lines = 100;
            c.stderr.rate_window = Duration::from_secs(3600);
        })
        .start()
        .await;
    assert_echo(&run).await;
    until("the flood to be read", || {
        run.sup.stats().stderr_lines >= 20_001
    })
    .await;
    let stats = run.sup.stats();
    assert_eq!(stats.stderr_lines, 20_001);
    assert_eq!(stats.stderr_suppressed, 20_001 - 100);
    let tail = run.sup.stderr_tail();
    assert!(tail.len() <= 16 * 1024, "{}", tail.len());
    assert!(
        tail.ends_with("flood line 19999\nflood done"),
        "{}",
        &tail[tail.len() - 40..]
    );
    assert!(
        tail.starts_with("flood line "),
        "the tail starts on a whole line"
    );
}

#[tokio::test]
async fn an_id_answered_twice_is_delivered_once() {
    let run = Setup::new().fault("dup-id").start().await;
    for _ in 0..3 {
        assert_echo(&run).await;
    }
    // The ping's own answer comes after the duplicates of everything before it.
    run.sup.call("ping", serde_json::json!({})).await.unwrap();
    assert!(
        run.sup.stats().duplicate_responses >= 4,
        "{:?}",
        run.sup.stats()
    );
    assert_eq!(run.sup.stats().unknown_responses, 0);
}

#[tokio::test]
async fn an_answer_for_an_id_never_sent_is_ignored() {
    let run = Setup::new().fault("stray-id").start().await;
    for _ in 0..3 {
        assert_echo(&run).await;
    }
    run.sup.call("ping", serde_json::json!({})).await.unwrap();
    assert!(
        run.sup.stats().unknown_responses >= 4,
        "{:?}",
        run.sup.stats()
    );
    assert_eq!(run.sup.stats().duplicate_responses, 0);
}

#[tokio::test]
async fn cancels_left_unanswered_restart_the_backend() {
    let run = quick_restarts(Setup::new())
        .fault("ignore-cancel")
        .env("MOLECULE_TEST_MAX_CONCURRENCY", "3")
        .with(|c| c.timeouts.cancel_grace = Duration::from_millis(50))
        .start()
        .await;
    let first_pid = run.pid();
    let opts = CallOptions {
        timeout: Some(Duration::from_millis(100)),
        ..CallOptions::default()
    };
    let outcomes = join_all((0..3).map(|_| run.ask_with("hang", opts.clone()))).await;
    for outcome in outcomes {
        assert!(matches!(outcome, Err(CallError::Timeout(_))), "{outcome:?}");
    }
    let mut status = run.sup.status();
    within(
        "the restart",
        status.wait_for(|s| s.crashes == 1 && s.pid.is_some_and(|p| p != first_pid)),
    )
    .await
    .unwrap();
    let last = run.sup.status().borrow().last_error.clone().unwrap();
    assert!(
        last.contains("left 3 cancels in a row unanswered"),
        "{last}"
    );
    assert_echo(&run).await;
}

#[tokio::test]
async fn a_backend_that_stops_reading_is_killed_as_hung() {
    let run = quick_restarts(Setup::new())
        .env("MOLECULE_TEST_MAX_CONCURRENCY", "2")
        .with(|c| c.timeouts.write = Duration::from_millis(200))
        .start()
        .await;
    let big = "z".repeat(512 * 1024);
    // The big request must be written after the backend has stopped reading: the writer
    // writes in the order requests are queued.
    let after_stuck = async {
        until("the first request to be queued", || {
            run.sup.stats().requests_sent >= 2
        })
        .await;
        run.ask(&big).await
    };
    let (stuck, blocked) = tokio::join!(run.ask("stop-reading"), after_stuck);
    for outcome in [stuck, blocked] {
        match outcome {
            Err(CallError::Crashed(report)) => {
                assert_eq!(
                    report.cause,
                    ExitCause::WriteStalled(Duration::from_millis(200))
                )
            }
            other => panic!("{other:?}"),
        }
    }
    assert_echo(&run).await;
}

#[tokio::test]
async fn a_backend_calling_the_host_gets_method_not_found_without_handlers() {
    let run = Setup::new().start().await;
    let reply = run.ask("call-host:peers/list").await.unwrap();
    let data = crate::support::backend::reply_data(&reply);
    assert_eq!(data["hostResponse"]["error"]["code"], -32601, "{data}");
    assert_echo(&run).await;
}

#[tokio::test]
async fn a_caller_that_gives_up_early_still_gets_one_outcome() {
    let run = Setup::new().start().await;
    let cancel = tokio_util::sync::CancellationToken::new();
    cancel.cancel();
    let opts = CallOptions {
        cancel: Some(cancel),
        cancel_reason: CancelReason::Superseded,
        ..CallOptions::default()
    };
    let err = run.ask_with("hello", opts).await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Cancelled {
                reason: CancelReason::Superseded
            }
        ),
        "{err:?}"
    );
    assert_echo(&run).await;
}

#[tokio::test]
async fn an_answer_that_is_not_utf8_fails_its_request_at_once() {
    let run = Setup::new().start().await;
    let opts = CallOptions {
        timeout: Some(Duration::from_secs(5)),
        ..CallOptions::default()
    };
    let err = run.ask_with("bad-utf8", opts).await.unwrap_err();
    match &err {
        CallError::Protocol(ProtocolViolation::NotUtf8 { offset }) => assert!(*offset > 0),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    assert_eq!(run.sup.stats().invalid_messages, 1);
    assert_echo(&run).await;
}

#[tokio::test]
async fn a_host_call_that_is_not_utf8_is_answered_at_once() {
    let run = Setup::new().start().await;
    let opts = CallOptions {
        timeout: Some(Duration::from_secs(5)),
        ..CallOptions::default()
    };
    let reply = run
        .ask_with("bad-utf8-call", opts)
        .await
        .expect("an answer");
    let error = &reply_data(&reply)["hostResponse"]["error"];
    assert_eq!(error["code"], -32600, "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("not valid UTF-8"), "{message}");
    assert_echo(&run).await;
}
