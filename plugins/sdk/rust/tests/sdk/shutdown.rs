//! End of input is the shutdown signal: finish, cancel what is left, flush, return.

use crate::support::{Scripted, builder, event};
use molecule_plugin::protocol::code;
use molecule_plugin::testing::text_params;
use molecule_plugin::{ServeError, ServeOptions, serve};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn an_idle_backend_returns_cleanly_at_end_of_input() {
    let (backend, _events) = Scripted::new(1);
    let mut host = builder().start(backend).await.unwrap();
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_hung_handler_is_cancelled_after_the_shutdown_grace_and_answered() {
    let (backend, mut events) = Scripted::new(1);
    let options = ServeOptions {
        shutdown_grace: Duration::from_millis(30),
        shutdown_flush: Duration::from_secs(5),
        ..ServeOptions::default()
    };
    let mut host = builder()
        .serve_options(options)
        .start(backend)
        .await
        .unwrap();
    let id = host.send_a2a(text_params("hang")).await.unwrap();
    assert_eq!(event(&mut events).await, "hanging");
    host.close().await.unwrap();
    let err = host.raw_answer(&id).await.unwrap().unwrap_err();
    assert_eq!(err.code, code::REQUEST_CANCELLED);
    assert_eq!(host.answer_count(&id), 1);
}

#[tokio::test]
async fn serving_fails_with_a_write_error_when_the_host_stops_reading() {
    let (backend, _events) = Scripted::new(1);
    let (mut host_side, backend_side) = tokio::io::duplex(1024);
    let (backend_out, host_in) = tokio::io::duplex(1024);
    drop(host_in);
    let serving = tokio::spawn(serve(backend, backend_side, backend_out));
    let init = json!({"jsonrpc":"2.0","id":0,"method":"ping"});
    tokio::io::AsyncWriteExt::write_all(&mut host_side, format!("{init}\n").as_bytes())
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("serving did not stop")
        .unwrap();
    assert!(matches!(outcome, Err(ServeError::Write(_))), "{outcome:?}");
}
