//! Requests through the supervisor: concurrency up to `maxConcurrency`, cancellation (and the
//! race where the answer was already on its way), idle timeouts reset by progress, and
//! backend → host calls.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use molecule_host::backend::{CallError, CallOptions, HostCall, RequestScope};
use molecule_protocol::methods::CancelReason;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::backend::{Setup, message, reply_data, reply_text};
use crate::support::wait::until;

#[tokio::test]
async fn concurrency_reaches_max_concurrency_and_no_more() {
    let run = Setup::new()
        .env("MOLECULE_TEST_MAX_CONCURRENCY", "3")
        .env("MOLECULE_TEST_GATHER", "3")
        .start()
        .await;
    // The backend holds each `gather` until three are held at once: all six finish only if
    // the host runs three at a time, and each reports the most ever in flight.
    let replies = join_all((0..6).map(|_| run.ask("gather"))).await;
    for reply in replies {
        assert_eq!(reply_text(&reply.unwrap()), "gathered max=3");
    }
}

#[tokio::test]
async fn without_max_concurrency_requests_run_one_at_a_time() {
    let run = Setup::new().env("MOLECULE_TEST_GATHER", "1").start().await;
    let replies = join_all((0..4).map(|_| run.ask("sleep:20"))).await;
    assert!(replies.iter().all(Result::is_ok));
    assert_eq!(
        reply_text(&run.ask("gather").await.unwrap()),
        "gathered max=1"
    );
}

#[tokio::test]
async fn a_caller_cancel_is_sent_and_frees_the_slot() {
    let run = Setup::new().start().await;
    let cancel = CancellationToken::new();
    let opts = CallOptions {
        cancel: Some(cancel.clone()),
        cancel_reason: CancelReason::Superseded,
        ..CallOptions::default()
    };
    let hung = run.ask_with("hang", opts);
    let cancel_when_sent = async {
        until("the request to be sent", || {
            run.sup.stats().requests_sent >= 2
        })
        .await;
        cancel.cancel();
    };
    let (outcome, ()) = tokio::join!(hung, cancel_when_sent);
    let err = outcome.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Cancelled {
                reason: CancelReason::Superseded
            }
        ),
        "{err:?}"
    );
    // maxConcurrency is 1: the cancelled request gave its slot back.
    assert_eq!(reply_text(&run.ask("hello").await.unwrap()), "echo: hello");
}

#[tokio::test]
async fn an_answer_racing_the_cancel_is_the_outcome() {
    let run = Setup::new().start().await;
    let cancel = CancellationToken::new();
    let opts = CallOptions {
        cancel: Some(cancel.clone()),
        ..CallOptions::default()
    };
    // The backend answers a cancelled `cancel-answers` with a result, as if it had finished
    // just before the cancel arrived.
    let racing = run.ask_with("cancel-answers", opts);
    let cancel_when_sent = async {
        until("the request to be sent", || {
            run.sup.stats().requests_sent >= 2
        })
        .await;
        cancel.cancel();
    };
    let (outcome, ()) = tokio::join!(racing, cancel_when_sent);
    assert_eq!(reply_text(&outcome.unwrap()), "finished before the cancel");
    assert_eq!(reply_text(&run.ask("hello").await.unwrap()), "echo: hello");
    let stats = run.sup.stats();
    assert_eq!((stats.duplicate_responses, stats.unknown_responses), (0, 0));
}

#[tokio::test]
async fn cancelling_after_the_answer_changes_nothing() {
    let run = Setup::new().start().await;
    let cancel = CancellationToken::new();
    let opts = CallOptions {
        cancel: Some(cancel.clone()),
        ..CallOptions::default()
    };
    let reply = run.ask_with("hello", opts).await.unwrap();
    cancel.cancel();
    assert_eq!(reply_text(&reply), "echo: hello");
    run.sup.call("ping", json!({})).await.unwrap();
    assert_eq!(
        run.sup.stats().requests_sent,
        3,
        "initialize, handle_a2a, ping: no cancel"
    );
}

#[tokio::test]
async fn progress_resets_the_idle_timeout() {
    let run = Setup::new()
        .with(|c| c.timeouts.idle = Some(Duration::from_millis(500)))
        .start()
        .await;
    let started = Instant::now();
    // 15 progress notes 60 ms apart: the request outlives the idle timeout nearly twice.
    let reply = run.ask("progress:15:60").await.unwrap();
    assert_eq!(reply_text(&reply), "echo: progress:15:60");
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "the idle timeout was exceeded"
    );
}

#[tokio::test]
async fn silence_is_an_idle_timeout() {
    let run = Setup::new()
        .with(|c| c.timeouts.idle = Some(Duration::from_millis(100)))
        .start()
        .await;
    let err = run.ask("hang").await.unwrap_err();
    assert!(
        matches!(err, CallError::IdleTimeout(d) if d == Duration::from_millis(100)),
        "{err:?}"
    );
    assert_eq!(reply_text(&run.ask("hello").await.unwrap()), "echo: hello");
}

#[tokio::test]
async fn the_idle_timeout_spares_backends_without_progress() {
    let run = Setup::new()
        .env("MOLECULE_TEST_CAPS", "cancel")
        .with(|c| c.timeouts.idle = Some(Duration::from_millis(50)))
        .start()
        .await;
    assert!(!run.sup.backend_info().capabilities.progress);
    let reply = run.ask("sleep:300").await.unwrap();
    assert_eq!(reply_text(&reply), "echo: sleep:300");
}

#[tokio::test]
async fn the_backend_sees_the_deadline_of_its_hard_timeout() {
    use molecule_protocol::time::parse_rfc3339;
    let run = Setup::new().start().await;
    // What a caller writes into the params is replaced; a later deadline of its own does
    // not lengthen the timeout.
    let mut params = message("params");
    params.context.deadline = "2000-01-01T00:00:00Z".into();
    let opts = CallOptions {
        timeout: Some(Duration::from_secs(60)),
        deadline: Some(SystemTime::now() + Duration::from_secs(3600)),
        ..CallOptions::default()
    };
    let before = SystemTime::now();
    let reply = run.sup.handle_a2a(params, opts).await.unwrap();
    let after = SystemTime::now();
    let seen = reply_data(&reply)["context"]["deadline"]
        .as_str()
        .unwrap()
        .to_owned();
    let seen = parse_rfc3339(&seen).unwrap();
    let minute = Duration::from_secs(60);
    // Milliseconds are kept, so the deadline may read up to 1 ms before `before + 60 s`.
    assert!(seen + Duration::from_millis(1) >= before + minute && seen <= after + minute);
    // A deadline of the caller's already past leaves no time at all.
    let past = CallOptions {
        deadline: Some(before),
        ..CallOptions::default()
    };
    let err = run.sup.handle_a2a(message("hang"), past).await.unwrap_err();
    assert!(
        matches!(err, CallError::Timeout(d) if d == Duration::ZERO),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_registered_host_handler_answers_with_its_request_scope() {
    type Seen = Vec<(String, Option<RequestScope>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let record = seen.clone();
    let run = Setup::new()
        .with(move |c| {
            c.handlers.register("peers/list", move |call: HostCall| {
                let record = record.clone();
                async move {
                    let live = call
                        .request
                        .as_ref()
                        .is_some_and(|s| !s.cancel.is_cancelled());
                    record
                        .lock()
                        .unwrap()
                        .push((call.method.clone(), call.request.clone()));
                    Ok(json!({"peers": [], "scopeLive": live, "params": call.params}))
                }
            });
        })
        .start()
        .await;
    let reply = run.ask("call-host:peers/list").await.unwrap();
    let answer = &reply_data(&reply)["hostResponse"];
    assert_eq!(answer["result"]["peers"], json!([]));
    assert_eq!(answer["result"]["scopeLive"], true, "{answer}");
    assert_eq!(answer["result"]["params"]["note"], "from the test backend");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (method, scope) = &seen[0];
    assert_eq!(method, "peers/list");
    let scope = scope.as_ref().expect("the call names its handle_a2a");
    assert!(
        scope.deadline > Instant::now(),
        "the deadline is the request's"
    );
    assert!(
        scope.cancel.is_cancelled(),
        "the scope ends with its request"
    );
    // Unregistered methods still get -32601.
    let reply = run.ask("call-host:workspace/info").await.unwrap();
    assert_eq!(reply_data(&reply)["hostResponse"]["error"]["code"], -32601);
}

#[tokio::test]
async fn ping_goes_through_the_generic_call() {
    let run = Setup::new().start().await;
    assert_eq!(run.sup.call("ping", json!({})).await.unwrap(), json!({}));
    let err = run.sup.call("no/such", json!({})).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Rpc(e) if e.code == -32601),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_caller_that_drops_its_request_frees_the_slot_and_cancels_it() {
    let run = Setup::new().start().await;
    tokio::select! {
        outcome = run.ask("hang") => panic!("the hung request ended: {outcome:?}"),
        () = until("the request to be sent", || run.sup.stats().requests_sent >= 2) => {}
    }
    // The request's future is gone: its slot is free (maxConcurrency is 1)…
    assert_eq!(reply_text(&run.ask("hello").await.unwrap()), "echo: hello");
    // …and the backend was told: its -32800 arrives for an id nobody waits for any more.
    until("the cancelled request's answer", || {
        run.sup.stats().duplicate_responses == 1
    })
    .await;
}
