//! Backend → host calls over stdio, driven through the supervisor with the real test backend:
//! a backend that floods calls gets at most the bound in flight, and the rest answered at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use molecule_host::backend::HostCall;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::support::backend::{Setup, reply_data};
use crate::support::wait::until;

#[tokio::test]
async fn a_flood_of_host_calls_runs_at_most_the_bound_and_the_rest_are_refused() {
    const CALLS: usize = 200;
    const BOUND: usize = 8;
    let entered = Arc::new(AtomicUsize::new(0));
    // Handlers hold until the test lets them go, so every call the host admitted is in flight.
    let gate = Arc::new(Semaphore::new(0));
    let (seen, held) = (entered.clone(), gate.clone());
    let run = Setup::new()
        .with(move |c| {
            c.host_calls_in_flight = BOUND;
            c.handlers.register("peers/list", move |_call: HostCall| {
                let (seen, held) = (seen.clone(), held.clone());
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let _permit = held.acquire().await;
                    Ok(json!({"peers": []}))
                }
            });
        })
        .start()
        .await;
    let text = format!("calls:{CALLS}:peers/list");
    let ask = run.ask(&text);
    tokio::pin!(ask);
    let admitted_and_refused =
        || entered.load(Ordering::SeqCst) + run.sup.stats().host_calls_refused as usize;
    tokio::select! {
        outcome = &mut ask => panic!("answered before the calls were released: {outcome:?}"),
        () = until("every call to be admitted or refused", || admitted_and_refused() >= CALLS) => {}
    }
    assert_eq!(entered.load(Ordering::SeqCst), BOUND, "calls in flight");
    gate.add_permits(CALLS);
    let reply = ask.await.expect("the batch's answer");
    let outcomes = &reply_data(&reply)["outcomes"];
    assert_eq!(outcomes["0"], BOUND as u64, "{outcomes}");
    assert_eq!(outcomes["1016"], (CALLS - BOUND) as u64, "{outcomes}");
}

#[tokio::test]
async fn a_backend_that_serves_several_workspaces_is_told_each_messages_workspace() {
    let many = Setup::new()
        .env("MOLECULE_TEST_MAX_WORKSPACES", "8")
        .start()
        .await;
    let params = reply_data(&many.ask("params").await.unwrap());
    assert_eq!(params["workspace"], json!({"id": "ws-test"}), "{params}");
    let one = Setup::new().start().await;
    let params = reply_data(&one.ask("params").await.unwrap());
    assert_eq!(params.get("workspace"), None, "{params}");
}

/// The answer a backend got to a `peers/list` it made outside any request.
async fn unscoped_call(env: &[(&str, &str)]) -> serde_json::Value {
    let mut setup = Setup::new().fault("unscoped").with(|c| {
        c.handlers.register("peers/list", |_call: HostCall| async {
            Ok(json!({"peers": []}))
        });
    });
    for (k, v) in env {
        setup = setup.env(k, v);
    }
    let run = setup.start().await;
    let reply = run.ask("call-host:peers/list").await.expect("an answer");
    reply_data(&reply)["hostResponse"].clone()
}

#[tokio::test]
async fn a_call_must_name_a_workspace_this_host_serves() {
    // A backend that serves several workspaces names the workspace of a call outside a request.
    let answer = unscoped_call(&[("MOLECULE_TEST_MAX_WORKSPACES", "8")]).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("_meta.workspaceId")
    );
    let named = [
        ("MOLECULE_TEST_MAX_WORKSPACES", "8"),
        ("MOLECULE_TEST_CALL_WORKSPACE", "ws-test"),
    ];
    let answer = unscoped_call(&named).await;
    assert_eq!(answer["result"], json!({"peers": []}), "{answer}");
    // A single-workspace backend needs no name, but any name it gives must be this one.
    assert_eq!(unscoped_call(&[]).await["result"], json!({"peers": []}));
    let answer = unscoped_call(&[("MOLECULE_TEST_CALL_WORKSPACE", "another-ws")]).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("names no workspace open")
    );
}
