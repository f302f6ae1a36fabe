//! Backend → host calls: offered methods only, unique ids, answers routed back, `_meta`.

use crate::support::{Scripted, builder, event, text_of};
use molecule_plugin::ServeOptions;
use molecule_plugin::protocol::RpcError;
use molecule_plugin::testing::text_params;
use serde_json::{Value, json};

#[tokio::test]
async fn a_call_reaches_the_host_with_the_handled_request_id_and_its_answer_comes_back() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder()
        .host_method("workspace/info", |params| {
            Ok(json!({"name": "ws", "got": params}))
        })
        .start(backend)
        .await
        .unwrap();
    let id = host
        .send_a2a(text_params("call workspace/info"))
        .await
        .unwrap();
    let r: molecule_plugin::protocol::HandleA2aResult = host.answer(&id).await.unwrap();
    let answer: Value = serde_json::from_str(text_of(&r)).unwrap();
    assert_eq!(answer["name"], "ws");
    assert_eq!(answer["got"]["q"], 1);
    assert_eq!(
        answer["got"]["_meta"]["requestId"],
        serde_json::to_value(&id).unwrap()
    );
    let calls = host.host_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].id,
        molecule_plugin::protocol::RequestId::from("backend-1")
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn concurrent_calls_get_distinct_ids_and_their_own_answers() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder()
        .host_method("peers/list", |p| {
            Ok(json!({"for": p["_meta"]["requestId"]}))
        })
        .start(backend)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(host.send_a2a(text_params("call peers/list")).await.unwrap());
    }
    for id in &ids {
        let r: molecule_plugin::protocol::HandleA2aResult = host.answer(id).await.unwrap();
        let answer: Value = serde_json::from_str(text_of(&r)).unwrap();
        assert_eq!(
            answer["for"],
            serde_json::to_value(id).unwrap(),
            "each answer is routed to its caller"
        );
    }
    let mut call_ids: Vec<_> = host.host_calls().into_iter().map(|c| c.id).collect();
    call_ids.sort();
    call_ids.dedup();
    assert_eq!(call_ids.len(), 6);
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_method_the_host_does_not_offer_fails_without_being_sent() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder()
        .host_method("peers/list", |_| Ok(json!([])))
        .start(backend)
        .await
        .unwrap();
    let r = host
        .handle_a2a(text_params("call user/notify"))
        .await
        .unwrap();
    assert!(
        text_of(&r).contains("does not offer \"user/notify\""),
        "{}",
        text_of(&r)
    );
    assert!(
        text_of(&r).contains("peers/list"),
        "the error lists what is offered"
    );
    assert!(host.host_calls().is_empty());
    host.close().await.unwrap();
}

#[tokio::test]
async fn an_error_from_the_host_reaches_the_caller() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder()
        .host_method("peers/send", |_| {
            Err(RpcError::new(1003, "peer unreachable"))
        })
        .start(backend)
        .await
        .unwrap();
    let r = host
        .handle_a2a(text_params("call peers/send"))
        .await
        .unwrap();
    assert!(
        text_of(&r).contains("peer unreachable (code 1003)"),
        "{}",
        text_of(&r)
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn an_over_long_answer_from_the_host_fails_the_call_not_the_connection() {
    let (backend, _events) = Scripted::new(1);
    let options = ServeOptions {
        max_message_bytes: 1024,
        ..ServeOptions::default()
    };
    let mut host = builder()
        .serve_options(options)
        .host_method("peers/list", |_| Ok(json!({"blob": "z".repeat(4000)})))
        .start(backend)
        .await
        .unwrap();
    let r = host
        .handle_a2a(text_params("call peers/list"))
        .await
        .unwrap();
    assert!(text_of(&r).contains("over the line cap"), "{}", text_of(&r));
    assert_eq!(
        host.call::<Value>("ping", json!({})).await.unwrap(),
        json!({})
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_call_still_waiting_when_input_ends_fails_and_the_request_is_still_answered() {
    let (backend, mut events) = Scripted::new(1);
    let mut host = builder()
        .unanswered_host_method("peers/discover")
        .start(backend)
        .await
        .unwrap();
    let id = host
        .send_a2a(text_params("call peers/discover"))
        .await
        .unwrap();
    host.wait_host_call("peers/discover", 0).await.unwrap();
    host.close().await.unwrap();
    let failure = event(&mut events).await;
    assert!(failure.contains("closed before it answered"), "{failure}");
    let wire_id = serde_json::to_value(&id).unwrap();
    let answers: Vec<Value> = host
        .transcript()
        .into_iter()
        .filter(|l| l["id"] == wire_id)
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "the request was answered before the backend stopped"
    );
    assert_eq!(
        answers[0]["result"]["parts"][0]["text"]
            .as_str()
            .map(|t| t.starts_with("error:")),
        Some(true)
    );
}
