//! Requests run side by side, and control messages are read while handlers are busy.

use crate::support::{Scripted, builder, event, text_of};
use molecule_plugin::testing::text_params;
use serde_json::{Value, json};

#[tokio::test]
async fn requests_run_concurrently() {
    // Eight handlers wait on one barrier: they finish only if all eight run at once.
    let (backend, _events) = Scripted::new(8);
    let mut host = builder().start(backend).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(host.send_a2a(text_params("barrier")).await.unwrap());
    }
    for id in &ids {
        let r: molecule_plugin::protocol::HandleA2aResult = host.answer(id).await.unwrap();
        assert_eq!(text_of(&r), "all arrived");
    }
    host.close().await.unwrap();
}

#[tokio::test]
async fn ping_and_other_requests_are_answered_while_a_handler_is_busy() {
    let (backend, mut events) = Scripted::new(1);
    let gate = backend.gate.clone();
    let mut host = builder().start(backend).await.unwrap();
    let slow = host.send_a2a(text_params("gate")).await.unwrap();
    assert_eq!(event(&mut events).await, "at gate");
    let pong: Value = host.call("ping", json!({})).await.unwrap();
    assert_eq!(pong, json!({}));
    let quick = host
        .handle_a2a(text_params("echo overtakes"))
        .await
        .unwrap();
    assert_eq!(text_of(&quick), "overtakes");
    assert_eq!(host.answer_count(&slow), 0);
    gate.notify_one();
    let r: molecule_plugin::protocol::HandleA2aResult = host.answer(&slow).await.unwrap();
    assert_eq!(text_of(&r), "through the gate");
    host.close().await.unwrap();
}
