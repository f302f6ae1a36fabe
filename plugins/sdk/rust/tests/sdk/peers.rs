//! Typed peer calls: the wire shapes of each method, the derived message ids (SPEC §12.4),
//! the same ids on a redelivery, and typed errors with code and class.

use molecule_plugin::peers::{NotifyFile, PeerErrorClass, PeerMessage, code};
use molecule_plugin::protocol::keys::call_message_id;
use molecule_plugin::protocol::methods::BackendInfo;
use molecule_plugin::protocol::{HandleA2aParams, HandleA2aResult, RpcError};
use molecule_plugin::testing::{TestHost, text_params};
use molecule_plugin::{Backend, RequestContext, reply};
use serde_json::{Value, json};
use std::time::Duration;

const PEER: &str = "5b2c3d4e-0000-4000-8000-00000000000b";

/// Runs the peer call the message names and answers with what came back, as text.
struct Caller;

impl Backend for Caller {
    fn info(&self) -> BackendInfo {
        molecule_plugin::package_info!()
    }

    async fn handle_a2a(
        &self,
        params: HandleA2aParams,
        cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        let peers = cx.peers();
        let text = match params.message.text().as_str() {
            "list" => match peers.list_peers().await {
                Ok(list) => list
                    .iter()
                    .map(|p| format!("{}={}", p.id, p.display_name()))
                    .collect::<Vec<_>>()
                    .join(","),
                Err(e) => format!("error {e}"),
            },
            "discover" => format!(
                "{:?}",
                peers.discover(PEER).await.map_err(|e| e.to_string())
            ),
            "two sends" => {
                let a = peers.send_to_peer(PEER, "first").await;
                let b = peers
                    .send_to_peer(
                        PEER,
                        PeerMessage::text("second")
                            .context_id("ctx-1")
                            .wait(Duration::from_millis(1500)),
                    )
                    .await;
                match (a, b) {
                    (Ok(a), Ok(b)) => format!("{} queued={} | {}", a.text(), a.queued, b.text()),
                    (Err(e), _) | (_, Err(e)) => format!("error {e}"),
                }
            }
            "send" => match peers.send_to_peer(PEER, "hello").await {
                Ok(r) => r.text(),
                Err(e) => format!(
                    "code={:?} class={:?} retryable={} after={:?} messageId={:?} status={:?}: {e}",
                    e.code(),
                    e.class(),
                    e.retryable(),
                    e.retry_after(),
                    e.message_id(),
                    e.status()
                ),
            },
            "empty" => match peers.send_to_peer(PEER, " ").await {
                Ok(_) => "sent".into(),
                Err(e) => format!("{:?}: {e}", e.class()),
            },
            "info and notify" => {
                let info = peers.workspace_info().await.map_err(|e| e.to_string());
                let notified = peers.notify_user("working on it").await.is_ok();
                format!("{} notified={notified}", info.unwrap_or_default())
            }
            "notify a file" => {
                let file = NotifyFile::new("https://files.example/report.pdf")
                    .with_mime_type("application/pdf");
                let sent = peers.notify_user_with_files("the report", vec![file]).await;
                format!("notified={}", sent.is_ok())
            }
            other => format!("unknown {other}"),
        };
        Ok(reply::text(text))
    }
}

fn text_of(r: &HandleA2aResult) -> &str {
    r.parts[0].as_text().unwrap_or("")
}

fn all_methods(
    send: impl Fn(Value) -> Result<Value, RpcError> + Send + Sync + 'static,
) -> molecule_plugin::testing::TestHostBuilder {
    TestHost::builder()
        .host_method("peers/list", |_| {
            Ok(json!({"peers": [{"id": PEER, "name": "researcher", "extra": 1}, {"id": "x"}]}))
        })
        .host_method("peers/discover", |p| {
            Ok(json!({"peer": if p["id"] == PEER { json!({"id": PEER, "role": "r"}) } else { Value::Null }}))
        })
        .host_method("peers/send", send)
        .host_method("workspace/info", |_| Ok(json!({"workspace": {"name": "me"}})))
        .host_method("user/notify", |_| Ok(json!({"delivered": true})))
}

fn echo_send(p: Value) -> Result<Value, RpcError> {
    Ok(
        json!({"messageId": p["messageId"], "contextId": "c", "queued": false,
              "parts": [{"kind": "text", "text": format!("got {}", p["text"])}]}),
    )
}

#[tokio::test]
async fn list_discover_info_and_notify_have_the_agreed_shapes() {
    let mut host = all_methods(echo_send).start(Caller).await.unwrap();
    let r = host.handle_a2a(text_params("list")).await.unwrap();
    assert_eq!(text_of(&r), format!("{PEER}=researcher,x=x"));
    let r = host.handle_a2a(text_params("discover")).await.unwrap();
    assert!(text_of(&r).contains("role: Some(\"r\")"), "{}", text_of(&r));
    assert_eq!(
        host.wait_host_call("peers/discover", 0)
            .await
            .unwrap()
            .params
            .unwrap()["id"],
        PEER
    );
    let r = host
        .handle_a2a(text_params("info and notify"))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "{\"name\":\"me\"} notified=true");
    let notify = host.wait_host_call("user/notify", 0).await.unwrap();
    assert_eq!(notify.params.unwrap()["text"], "working on it");
    let r = host.handle_a2a(text_params("notify a file")).await.unwrap();
    assert_eq!(text_of(&r), "notified=true");
    let notify = host.wait_host_call("user/notify", 1).await.unwrap();
    assert_eq!(
        notify.params.unwrap()["attachments"],
        json!([{"uri": "https://files.example/report.pdf", "mimeType": "application/pdf"}])
    );
    let list = host.wait_host_call("peers/list", 0).await.unwrap();
    assert!(list.params.unwrap()["_meta"]["requestId"].is_number());
    host.close().await.unwrap();
}

#[tokio::test]
async fn the_ith_send_gets_the_derived_message_id_and_a_redelivery_gets_the_same_ids() {
    let mut host = all_methods(echo_send).start(Caller).await.unwrap();
    let params = text_params("two sends");
    let key = params.context.idempotency_key.clone();
    let r = host.handle_a2a(params.clone()).await.unwrap();
    assert_eq!(text_of(&r), "got \"first\" queued=false | got \"second\"");
    let first = host
        .wait_host_call("peers/send", 0)
        .await
        .unwrap()
        .params
        .unwrap();
    let second = host
        .wait_host_call("peers/send", 1)
        .await
        .unwrap()
        .params
        .unwrap();
    assert_eq!(first["messageId"], call_message_id(&key, 0));
    assert_eq!(first["id"], PEER);
    assert_eq!(first["text"], "first");
    assert!(first.get("waitMs").is_none() && first.get("contextId").is_none());
    assert_eq!(second["messageId"], call_message_id(&key, 1));
    assert_eq!(second["waitMs"], 1500);
    assert_eq!(second["contextId"], "ctx-1");
    // The same delivery again (a redelivery): the same two ids, so no work is delegated twice.
    host.handle_a2a(params).await.unwrap();
    let again = host
        .wait_host_call("peers/send", 2)
        .await
        .unwrap()
        .params
        .unwrap();
    let again2 = host
        .wait_host_call("peers/send", 3)
        .await
        .unwrap()
        .params
        .unwrap();
    assert_eq!(again["messageId"], first["messageId"]);
    assert_eq!(again2["messageId"], second["messageId"]);
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_host_error_is_typed_with_code_class_and_its_data() {
    let mut host = all_methods(|_| {
        Err(RpcError {
            code: code::WAIT_TIMED_OUT,
            message: format!("peers/send to {PEER}: no reply within 1500 ms"),
            data: Some(
                json!({"class": "wait_timeout", "target": PEER, "retryable": false,
                              "messageId": "m-9"}),
            ),
        })
    })
    .start(Caller)
    .await
    .unwrap();
    let r = host.handle_a2a(text_params("send")).await.unwrap();
    assert_eq!(
        text_of(&r),
        format!(
            "code=Some(1015) class=WaitTimeout retryable=false after=None messageId=Some(\"m-9\") \
             status=None: peers/send to {PEER}: no reply within 1500 ms"
        )
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn budget_errors_are_retryable_after_the_given_time() {
    let mut host = all_methods(|_| {
        Err(RpcError {
            code: code::BUDGET_EXHAUSTED,
            message: "peers/send: budget of 30 calls per minute spent".into(),
            data: Some(json!({"class": "budget", "retryable": true, "retryAfterMs": 2500})),
        })
    })
    .start(Caller)
    .await
    .unwrap();
    let r = host.handle_a2a(text_params("send")).await.unwrap();
    assert!(
        text_of(&r).starts_with("code=Some(1016) class=Budget retryable=true after=Some(2.5s)"),
        "{}",
        text_of(&r)
    );
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_method_not_offered_and_an_empty_text_fail_without_a_call() {
    let mut host = TestHost::builder()
        .host_method("peers/list", |_| Ok(json!({"peers": []})))
        .start(Caller)
        .await
        .unwrap();
    let r = host.handle_a2a(text_params("send")).await.unwrap();
    assert!(text_of(&r).contains("class=NotOffered"), "{}", text_of(&r));
    assert!(
        text_of(&r).contains("does not offer \"peers/send\""),
        "{}",
        text_of(&r)
    );
    let r = host.handle_a2a(text_params("empty")).await.unwrap();
    assert_eq!(
        text_of(&r),
        format!(
            "{:?}: peers/send to {PEER}: the message text is empty",
            PeerErrorClass::InvalidParams
        )
    );
    assert!(host.host_calls().is_empty());
    host.close().await.unwrap();
}
