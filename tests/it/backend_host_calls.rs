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
