//! The supervisor's lifecycle: status, the crash-loop breaker and its half-open trial, the
//! draining shutdown, no descendant left behind, and stderr turned into tracing events.

use std::path::Path;
use std::time::Duration;

use molecule_host::backend::{
    CallError, ProcInfo, State, StopStep, Unavailable, descendants, descendants::same_process,
};
use molecule_protocol::methods::CancelReason;
use tracing::Level;

use crate::support::backend::{Setup, reply_text};
use crate::support::logs::Capture;
use crate::support::wait::{file, until, within};

#[tokio::test]
async fn the_breaker_opens_on_a_crash_loop_and_half_opens_after_the_cooldown() {
    let setup = Setup::new();
    let refuse = setup.path("refuse-to-start");
    let run = setup
        .env("MOLECULE_TEST_FAIL_IF_EXISTS", refuse.to_str().unwrap())
        .with(|c| {
            c.restart.backoff_base = Duration::from_millis(5);
            c.restart.backoff_max = Duration::from_millis(20);
            c.restart.breaker_crashes = 3;
            c.restart.breaker_window = Duration::from_secs(600);
            c.restart.breaker_cooldown = Duration::from_millis(300);
        })
        .start()
        .await;
    let mut status = run.sup.status();
    // From now on every start fails: one crash and two failed restarts open the breaker.
    std::fs::write(&refuse, "").unwrap();
    assert!(matches!(run.ask("crash").await, Err(CallError::Crashed(_))));
    let first = within(
        "the breaker to open",
        status.wait_for(|s| matches!(s.state, State::BreakerOpen { .. })),
    )
    .await
    .unwrap()
    .clone();
    assert_eq!(first.crashes, 3);
    assert!(
        first
            .last_error
            .as_deref()
            .unwrap()
            .contains("configuration missing"),
        "{first:?}"
    );
    let err = run.ask("hello").await.unwrap_err();
    assert!(
        matches!(err, CallError::Unavailable(Unavailable::BreakerOpen { .. })),
        "{err:?}"
    );
    // The trial start after the cool-down fails too: open again, for a new cool-down.
    let State::BreakerOpen { until: first_until } = first.state else {
        unreachable!()
    };
    within(
        "the failed trial",
        status.wait_for(|s| matches!(s.state, State::BreakerOpen { until } if until > first_until)),
    )
    .await
    .unwrap();
    // Fixed: the next trial succeeds and closes the breaker.
    std::fs::remove_file(&refuse).unwrap();
    within(
        "the successful trial",
        status.wait_for(|s| s.state == State::Ready),
    )
    .await
    .unwrap();
    assert_eq!(reply_text(&run.ask("hello").await.unwrap()), "echo: hello");
    assert!(run.sup.status().borrow().crashes >= 4);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let run = Setup::new().start().await;
    let pid = run.pid();
    let slow = run.ask("sleep:300");
    let shutdown = async {
        until("the request to be sent", || {
            run.sup.stats().requests_sent >= 2
        })
        .await;
        run.sup.shutdown(true).await
    };
    let (reply, report) = tokio::join!(slow, shutdown);
    assert_eq!(reply_text(&reply.unwrap()), "echo: sleep:300");
    assert_eq!((report.finished, report.cancelled), (1, 0));
    let stop = report.stop.unwrap();
    assert_eq!(stop.step, StopStep::ExitedAfterEof);
    assert_eq!(stop.status.and_then(|s| s.code()), Some(0));
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(run.sup.status().borrow().state, State::Stopped);
    let err = run.ask("hello").await.unwrap_err();
    assert!(
        matches!(err, CallError::Unavailable(Unavailable::Stopped)),
        "{err:?}"
    );
}

#[tokio::test]
async fn shutdown_cancels_what_the_drain_did_not_finish() {
    let run = Setup::new()
        .with(|c| c.timeouts.drain = Duration::from_millis(100))
        .start()
        .await;
    let hung = run.ask("hang");
    let shutdown = async {
        until("the request to be sent", || {
            run.sup.stats().requests_sent >= 2
        })
        .await;
        run.sup.shutdown(true).await
    };
    let (outcome, report) = tokio::join!(hung, shutdown);
    let err = outcome.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Cancelled {
                reason: CancelReason::HostShutdown
            }
        ),
        "{err:?}"
    );
    assert_eq!((report.finished, report.cancelled), (0, 1));
}

#[tokio::test]
async fn a_second_shutdown_call_skips_the_drain() {
    let run = Setup::new().start().await;
    let hung = run.ask("hang");
    let shutdowns = async {
        until("the request to be sent", || {
            run.sup.stats().requests_sent >= 2
        })
        .await;
        let graceful = run.sup.shutdown(true);
        let immediate = async {
            until("the shutdown to start", || {
                run.sup.status().borrow().state == State::ShuttingDown
            })
            .await;
            run.sup.shutdown(false).await
        };
        tokio::join!(graceful, immediate)
    };
    // The default drain is 30 s: the test's deadline would fire if it were waited out.
    let (outcome, (first, second)) =
        within("the shutdown", async { tokio::join!(hung, shutdowns) }).await;
    assert!(
        matches!(outcome, Err(CallError::Cancelled { .. })),
        "{outcome:?}"
    );
    assert_eq!(first.cancelled, 1);
    assert_eq!(second.cancelled, 1, "both calls report the same shutdown");
}

#[tokio::test]
async fn shutdown_leaves_no_descendant_even_outside_the_group() {
    let setup = Setup::new().fault("grandchild");
    let pid_file = setup.path("grandchild.pid");
    let run = setup
        .env("MOLECULE_TEST_PID_FILE", pid_file.to_str().unwrap())
        .start()
        .await;
    let leader = run.pid();
    let grandchild: i32 = file(&pid_file).await.parse().unwrap();
    let tree: Vec<ProcInfo> = descendants(leader).unwrap();
    let in_tree = tree
        .iter()
        .find(|p| p.pid == grandchild)
        .expect("the grandchild is a descendant");
    assert_eq!(in_tree.sid, grandchild, "it leads its own session");
    assert_ne!(
        in_tree.pgid, leader as i32,
        "so killpg on the backend's group misses it"
    );
    let report = within("shutdown", run.sup.shutdown(true)).await;
    let stop = report.stop.unwrap();
    assert!(
        stop.swept.iter().any(|p| p.pid == grandchild),
        "{:?}",
        stop.swept
    );
    for p in &tree {
        assert!(
            !same_process(p),
            "descendant {} ({}) survived",
            p.pid,
            p.name
        );
    }
    let table = molecule_host::backend::process_table().unwrap();
    assert!(
        !table.iter().any(|p| p.pgid == leader as i32),
        "nothing is left in the group"
    );
    assert!(!table.iter().any(|p| p.pid == leader as i32));
}

#[tokio::test]
async fn dropping_the_supervisor_stops_the_backend() {
    let run = Setup::new().start().await;
    let pid = run.pid();
    let dir = run.dir;
    drop(run.sup);
    until("the backend to go", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    })
    .await;
    drop(dir);
}

#[tokio::test]
async fn status_names_the_running_backend() {
    let run = Setup::new().start().await;
    let status = run.sup.status().borrow().clone();
    assert_eq!(status.state, State::Ready);
    assert_eq!(status.crashes, 0);
    assert_eq!(status.last_error, None);
    let pid = status.pid.unwrap();
    let proc = molecule_host::backend::descendants::read_proc(pid as i32).unwrap();
    assert_eq!(
        proc.pgid, pid as i32,
        "the backend leads its own process group"
    );
    assert_eq!(proc.ppid, std::process::id() as i32);
}

#[tokio::test]
async fn stderr_lines_become_tracing_events_tagged_with_the_backend() {
    let (logs, _guard) = Capture::install();
    let run = Setup::new().start().await;
    let pid = run.pid();
    run.ask("log-json").await.unwrap();
    run.ask("stderr:2").await.unwrap();
    until("the stderr lines", || logs.find("flood done").is_some()).await;
    let json = logs
        .find("json log line")
        .expect("the JSON line was logged");
    assert_eq!(json.level, Level::WARN);
    assert_eq!(json.target, "molecule::backend::stderr");
    assert_eq!(json.fields["backend"], "molecule-test-backend");
    assert_eq!(json.fields["pid"], pid.to_string());
    assert_eq!(json.fields["fields"], r#"{"detail":7}"#);
    let plain = logs.find("flood line 1").unwrap();
    assert_eq!(plain.level, Level::INFO);
    assert_eq!(plain.fields["pid"], pid.to_string());
    let ready = logs.find("backend ready").expect("the start is logged");
    assert_eq!(ready.fields["pid"], pid.to_string());
}
