//! The handshake, ids, errors and framing, as a host sees them.

use crate::support::{Scripted, builder, text_of};
use molecule_plugin::ServeOptions;
use molecule_plugin::protocol::{RequestId, code};
use molecule_plugin::testing::text_params;
use serde_json::{Value, json};

#[tokio::test]
async fn the_handshake_reports_the_backend() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let init = host.init_result().unwrap();
    assert_eq!(init.protocol_version, 1);
    assert_eq!(init.backend.name, "scripted");
    assert_eq!(init.backend.version, "9.9.9");
    assert_eq!(init.capabilities.max_concurrency, Some(8));
    assert!(init.capabilities.cancel && init.capabilities.progress);
    let first = &host.transcript()[0];
    assert_eq!(
        first["id"], 0,
        "the handshake answer echoes the host's id 0"
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn requests_before_initialize_get_32002_and_the_handshake_still_works() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().without_initialize().start(backend).await.unwrap();
    for method in ["ping", "handle_a2a", "no/such"] {
        let err = host.call::<Value>(method, json!({})).await.unwrap_err();
        assert_eq!(err.rpc().unwrap().code, code::NOT_INITIALIZED, "{method}");
    }
    host.notify("$/cancelRequest", json!({"id": 1}));
    let params = host.default_initialize_params();
    host.initialize(params).await.unwrap();
    let pong: Value = host.call("ping", json!({})).await.unwrap();
    assert_eq!(pong, json!({}));
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_newer_host_protocol_is_answered_with_the_backends_own_version() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().without_initialize().start(backend).await.unwrap();
    let mut params = host.default_initialize_params();
    params.protocol_version = 999;
    let init = host.initialize(params).await.unwrap();
    assert_eq!(init.protocol_version, 1);
    host.close().await.unwrap();
}

#[tokio::test]
async fn malformed_initialize_gets_32602_and_a_second_one_is_refused() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().without_initialize().start(backend).await.unwrap();
    let err = host
        .call::<Value>("initialize", json!({"protocolVersion": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.rpc().unwrap().code, code::INVALID_PARAMS);
    let params = host.default_initialize_params();
    host.initialize(params.clone()).await.unwrap();
    let again = host.initialize(params).await.unwrap_err();
    assert_eq!(again.rpc().unwrap().code, code::INVALID_REQUEST);
    host.close().await.unwrap();
}

#[tokio::test]
async fn ids_are_echoed_exactly() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let ids = [
        RequestId::Number(9_007_199_254_740_991),
        RequestId::Number(-7),
        RequestId::from("a string id"),
        RequestId::from(""),
    ];
    for id in &ids {
        host.send_request(id, "ping", json!({}));
    }
    for id in &ids {
        assert_eq!(host.raw_answer(id).await.unwrap(), Ok(json!({})));
    }
    let raw: Vec<String> = host
        .transcript()
        .iter()
        .skip(1)
        .map(|v| v["id"].to_string())
        .collect();
    assert_eq!(raw, ["9007199254740991", "-7", "\"a string id\"", "\"\""]);
    host.close().await.unwrap();
}

#[tokio::test]
async fn unknown_methods_bad_params_and_bad_envelopes_get_precise_errors() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let err = host.call::<Value>("teleport", json!({})).await.unwrap_err();
    assert_eq!(err.rpc().unwrap().code, code::METHOD_NOT_FOUND);
    let err = host
        .call::<Value>("handle_a2a", json!({"sender": {}}))
        .await
        .unwrap_err();
    assert_eq!(err.rpc().unwrap().code, code::INVALID_PARAMS);
    host.send_line(b"{\"id\":41,\"method\":\"ping\"}\n".to_vec());
    let wrong = host
        .raw_answer(&RequestId::Number(41))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        wrong.code,
        code::INVALID_REQUEST,
        "a missing \"jsonrpc\" is named"
    );
    assert!(wrong.message.contains("jsonrpc"), "{}", wrong.message);
    host.close().await.unwrap();
}

#[tokio::test]
async fn junk_lines_and_unknown_notifications_are_never_answered() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    host.send_line(b"Loading model weights...\n\n\r\n[1,2]\n".to_vec());
    host.notify("x/unknown", json!({"a": 1}));
    host.send_request(&RequestId::Number(5), "ping", json!({}));
    host.raw_answer(&RequestId::Number(5))
        .await
        .unwrap()
        .unwrap();
    let t = host.transcript();
    assert_eq!(
        t.len(),
        2,
        "only the handshake and the ping were answered: {t:?}"
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn crlf_line_endings_and_a_leading_bom_are_accepted() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().without_initialize().start(backend).await.unwrap();
    let init = serde_json::to_string(&json!({"jsonrpc":"2.0","id":"i","method":"initialize",
        "params": host.default_initialize_params()}))
    .unwrap();
    host.send_line(format!("\u{feff}{init}\r\n").into_bytes());
    host.raw_answer(&RequestId::from("i"))
        .await
        .unwrap()
        .unwrap();
    host.send_line(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\r\n".to_vec());
    assert_eq!(
        host.raw_answer(&RequestId::Number(2)).await.unwrap(),
        Ok(json!({}))
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn application_errors_carry_their_data() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let err = host.handle_a2a(text_params("busy")).await.unwrap_err();
    let rpc = err.rpc().unwrap();
    assert_eq!(rpc.code, code::BUSY);
    assert_eq!(
        rpc.data,
        Some(
            json!({"retryable": true, "retryAfterMs": 250, "userMessage": "Busy, try again soon."})
        )
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_panicking_handler_is_answered_32603_and_the_backend_carries_on() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let err = host.handle_a2a(text_params("panic")).await.unwrap_err();
    let rpc = err.rpc().unwrap();
    assert_eq!(rpc.code, code::INTERNAL_ERROR);
    assert!(rpc.message.contains("scripted panic"), "{}", rpc.message);
    let ok = host
        .handle_a2a(text_params("echo still here"))
        .await
        .unwrap();
    assert_eq!(text_of(&ok), "still here");
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_reply_over_the_hosts_limit_becomes_error_1007() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder()
        .max_message_bytes(4096)
        .start(backend)
        .await
        .unwrap();
    let err = host.handle_a2a(text_params("big 10000")).await.unwrap_err();
    assert_eq!(err.rpc().unwrap().code, code::REPLY_TOO_LARGE);
    let ok = host.handle_a2a(text_params("big 100")).await.unwrap();
    assert_eq!(text_of(&ok).len(), 100);
    host.close().await.unwrap();
}

#[tokio::test]
async fn an_over_long_request_is_answered_at_once_and_reading_goes_on() {
    let (backend, _events) = Scripted::new(1);
    let options = ServeOptions {
        max_message_bytes: 2048,
        ..ServeOptions::default()
    };
    let mut host = builder()
        .serve_options(options)
        .start(backend)
        .await
        .unwrap();
    let mut params = text_params("echo ");
    params
        .message
        .parts
        .push(molecule_plugin::protocol::Part::text("y".repeat(5000)));
    host.send_request(
        &RequestId::Number(77),
        "handle_a2a",
        serde_json::to_value(params).unwrap(),
    );
    let err = host
        .raw_answer(&RequestId::Number(77))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, code::INVALID_REQUEST);
    assert!(err.message.contains("too large"), "{}", err.message);
    let ok = host.handle_a2a(text_params("echo after")).await.unwrap();
    assert_eq!(text_of(&ok), "after");
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_request_id_already_in_flight_is_refused() {
    let (backend, mut events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let params = serde_json::to_value(text_params("hang")).unwrap();
    host.send_request(&RequestId::Number(3), "handle_a2a", params.clone());
    assert_eq!(crate::support::event(&mut events).await, "hanging");
    host.send_request(&RequestId::Number(3), "handle_a2a", params);
    let err = host
        .raw_answer(&RequestId::Number(3))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, code::INVALID_REQUEST);
    assert!(err.message.contains("already in flight"), "{}", err.message);
    host.cancel(&RequestId::Number(3));
    host.close().await.unwrap();
}

#[tokio::test]
async fn the_deadline_is_readable() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    let r = host.handle_a2a(text_params("deadline")).await.unwrap();
    assert!(
        text_of(&r) == "Some(9)" || text_of(&r) == "Some(10)",
        "{}",
        text_of(&r)
    );
    host.close().await.unwrap();
}
