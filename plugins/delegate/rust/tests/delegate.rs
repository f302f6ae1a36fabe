//! The delegate backend through the SDK's in-process host, which answers its peer calls.

use molecule_delegate::Delegate;
use molecule_plugin::protocol::RpcError;
use molecule_plugin::testing::{TestHost, TestHostBuilder, text_params};
use serde_json::{Value, json};
use std::time::Duration;

const FIRST: &str = "5b2c3d4e-0000-4000-8000-000000000001";
const SECOND: &str = "5b2c3d4e-0000-4000-8000-000000000002";

fn host(
    send: impl Fn(Value) -> Result<Value, RpcError> + Send + Sync + 'static,
) -> TestHostBuilder {
    TestHost::builder()
        .host_method("peers/list", |_| {
            Ok(json!({"peers": [{"id": FIRST, "name": "researcher"}, {"id": SECOND, "name": "writer"}]}))
        })
        .host_method("peers/send", send)
}

fn reply_from(p: Value) -> Result<Value, RpcError> {
    let who = if p["id"] == FIRST { "r" } else { "w" };
    Ok(
        json!({"messageId": p["messageId"], "contextId": "c", "queued": false,
              "parts": [{"kind": "text", "text": format!("{who}: {}", p["text"].as_str().unwrap_or(""))}]}),
    )
}

async fn answer(host: &TestHost, text: &str) -> String {
    let r = host.handle_a2a(text_params(text)).await.expect("an answer");
    r.parts
        .first()
        .and_then(|p| p.as_text())
        .unwrap_or("")
        .to_owned()
}

fn delegate() -> Delegate {
    Delegate::new(Duration::from_millis(2500))
}

#[tokio::test]
async fn it_sends_to_the_first_peer_with_a_wait_and_relays_the_answer() {
    let mut host = host(reply_from).start(delegate()).await.unwrap();
    let params = text_params("what is 6 x 7?");
    let key = params.context.idempotency_key.clone();
    let r = host.handle_a2a(params).await.unwrap();
    assert_eq!(
        r.parts[0].as_text(),
        Some("researcher says: r: what is 6 x 7?")
    );
    let sent = host
        .wait_host_call("peers/send", 0)
        .await
        .unwrap()
        .params
        .unwrap();
    assert_eq!(sent["id"], FIRST);
    assert_eq!(sent["waitMs"], 2500);
    assert_eq!(
        sent["messageId"],
        molecule_plugin::protocol::keys::call_message_id(&key, 0)
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn an_at_id_picks_that_peer() {
    let mut host = host(reply_from).start(delegate()).await.unwrap();
    assert_eq!(
        answer(&host, &format!("@{SECOND} draft a haiku")).await,
        "writer says: w: draft a haiku"
    );
    assert_eq!(
        answer(&host, "@00000000-0000-4000-8000-0000000000ff hi").await,
        "00000000-0000-4000-8000-0000000000ff is not one of my peers."
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn queued_timeout_and_errors_become_clear_replies() {
    let mut host = host(|p| match p["text"].as_str() {
        Some("queue") => Ok(json!({"messageId": "m-1", "contextId": "c", "queued": true})),
        Some("slow") => Err(RpcError {
            code: 1015,
            message: "peers/send: no reply within 2500 ms".into(),
            data: Some(json!({"class": "wait_timeout", "retryable": false, "messageId": "m-2"})),
        }),
        _ => Err(RpcError {
            code: 1013,
            message: format!(
                "peers/send to {FIRST}: platform unavailable after 5 attempts: connection refused"
            ),
            data: Some(json!({"class": "unreachable", "retryable": true})),
        }),
    })
    .start(delegate())
    .await
    .unwrap();
    assert_eq!(
        answer(&host, "queue").await,
        "researcher has queued the message and will answer later (message m-1)."
    );
    assert!(
        answer(&host, "slow")
            .await
            .starts_with("researcher did not answer in time")
    );
    assert_eq!(
        answer(&host, "down").await,
        format!(
            "I could not reach researcher: peers/send to {FIRST}: platform unavailable after 5 attempts: connection refused"
        )
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn no_peers_or_a_failed_list_is_said_plainly() {
    let mut host = TestHost::builder()
        .host_method("peers/list", |_| Ok(json!({"peers": []})))
        .start(delegate())
        .await
        .unwrap();
    assert_eq!(
        answer(&host, "hello").await,
        "I have no peers to delegate to."
    );
    host.close().await.unwrap();

    let mut host = TestHost::builder()
        .host_method("peers/list", |_| {
            Err(RpcError {
                code: 1010,
                message: "peers/list: unauthorized: the token is invalid or was rotated".into(),
                data: Some(json!({"class": "unauthorized", "status": 401, "retryable": false})),
            })
        })
        .start(delegate())
        .await
        .unwrap();
    assert_eq!(
        answer(&host, "hello").await,
        "I could not list my peers: peers/list: unauthorized: the token is invalid or was rotated"
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn an_automatic_reply_is_not_delegated_again() {
    let mut host = host(reply_from).start(delegate()).await.unwrap();
    let mut params = text_params("researcher says: done");
    params.context.in_reply_to = Some("m-1".into());
    assert!(host.handle_a2a(params).await.unwrap().parts.is_empty());
    assert!(host.host_calls().is_empty());
    host.close().await.unwrap();
}
