//! `$/cancelRequest`: exactly one answer per request, whatever the timing.

use crate::support::{Scripted, builder, event, text_of};
use molecule_plugin::protocol::{RequestId, code};
use molecule_plugin::testing::text_params;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn cancelling_a_running_request_answers_32800_once_and_the_backend_stays_usable() {
    let (backend, mut events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let id = host.send_a2a(text_params("hang")).await.unwrap();
    assert_eq!(event(&mut events).await, "hanging");
    host.cancel(&id);
    let err = host.raw_answer(&id).await.unwrap().unwrap_err();
    assert_eq!(err.code, code::REQUEST_CANCELLED);
    host.cancel(&id);
    let next = host.handle_a2a(text_params("echo next")).await.unwrap();
    assert_eq!(text_of(&next), "next");
    assert_eq!(host.answer_count(&id), 1, "a second cancel adds no answer");
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_cancel_that_races_the_answer_never_yields_a_second_answer() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..50 {
        // The request and its cancel arrive together: either outcome is valid, once.
        let id = RequestId::Number(1000 + i);
        let params = serde_json::to_value(text_params("echo raced")).unwrap();
        host.send_request(&id, "handle_a2a", params);
        host.cancel(&id);
        ids.push(id);
    }
    for id in &ids {
        match host.raw_answer(id).await.unwrap() {
            Ok(v) => assert_eq!(v["parts"][0]["text"], "raced"),
            Err(e) => assert_eq!(e.code, code::REQUEST_CANCELLED),
        }
    }
    // A cancel for a request answered long ago is ignored too.
    host.cancel(&ids[0]);
    host.call::<serde_json::Value>("ping", json!({}))
        .await
        .unwrap();
    for id in &ids {
        assert_eq!(host.answer_count(id), 1, "request {id}");
    }
    host.close().await.unwrap();
}

#[tokio::test]
async fn cancelling_an_unknown_id_is_ignored() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    host.cancel(&RequestId::from("never-sent"));
    host.notify("$/cancelRequest", json!({"nonsense": true}));
    host.call::<serde_json::Value>("ping", json!({}))
        .await
        .unwrap();
    assert_eq!(host.transcript().len(), 2);
    host.close().await.unwrap();
}

#[tokio::test]
async fn with_a_cancel_grace_the_handler_answers_by_itself() {
    let (mut backend, mut events) = Scripted::new(1);
    backend.grace = Duration::from_secs(10);
    let mut host = builder().start(backend).await.unwrap();
    let id = host.send_a2a(text_params("wind-down")).await.unwrap();
    assert_eq!(event(&mut events).await, "winding");
    host.cancel(&id);
    let r: molecule_plugin::protocol::HandleA2aResult = host.answer(&id).await.unwrap();
    assert_eq!(text_of(&r), "partial answer");
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_handler_that_ignores_the_cancel_is_dropped_after_its_grace() {
    let (mut backend, mut events) = Scripted::new(1);
    backend.grace = Duration::from_millis(20);
    let mut host = builder().start(backend).await.unwrap();
    let id = host.send_a2a(text_params("hang")).await.unwrap();
    assert_eq!(event(&mut events).await, "hanging");
    host.cancel(&id);
    let err = host.raw_answer(&id).await.unwrap().unwrap_err();
    assert_eq!(err.code, code::REQUEST_CANCELLED);
    host.close().await.unwrap();
}

#[tokio::test]
async fn progress_is_sent_while_working_and_never_after_the_answer() {
    let (backend, mut events) = Scripted::new(1);
    let gate = backend.gate.clone();
    let mut host = builder().start(backend).await.unwrap();
    let id = host.send_a2a(text_params("progress 3")).await.unwrap();
    let got = host.wait_progress(&id, 3).await.unwrap();
    let texts: Vec<_> = got
        .iter()
        .map(|p| p.message.clone().unwrap_or_default())
        .collect();
    assert_eq!(texts, ["step 0", "step 1", "step 2"]);
    host.cancel(&id);
    // The handler stops on the cancel: its own answer or -32800, once.
    host.raw_answer(&id).await.unwrap().ok();
    assert_eq!(host.answer_count(&id), 1);

    let late = host.send_a2a(text_params("late-progress")).await.unwrap();
    host.raw_answer(&late).await.unwrap().unwrap();
    gate.notify_one();
    assert_eq!(event(&mut events).await, "late progress sent");
    host.call::<serde_json::Value>("ping", json!({}))
        .await
        .unwrap();
    assert!(
        host.progress(&late).is_empty(),
        "progress after the answer is dropped"
    );
    host.close().await.unwrap();
}
