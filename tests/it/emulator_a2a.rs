//! The emulator's `/a2a` proxy and `/notify`: normalisation, caller rules, dedup, size caps,
//! hierarchy, push forwarding, and notify rows.

use crate::emulator_support::{env, env_with, message};
use molecule_emulator::{Compat, DeliveryMode, EmulatorConfig, WorkspaceSpec};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn a_poll_target_queues_the_normalised_body() {
    let e = env().await;
    let body = json!({"method":"message/send","params":{"message":{
        "parts":[{"type":"text","text":"hi"}]}}});
    let (s, v) = e.a2a(e.main.id, &e.peer.token, &body).await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"status":"queued","delivery_mode":"poll","method":"message/send"})
    );
    let row = &e.rows("").await[0];
    let stored = &row["request_body"];
    assert_eq!(stored["jsonrpc"], "2.0");
    assert!(
        stored["id"].is_string(),
        "wrapped with a fresh id: {stored}"
    );
    let m = &stored["params"]["message"];
    assert_eq!(m["role"], "user");
    assert_eq!(m["parts"], json!([{"kind":"text","text":"hi"}]));
    assert!(Uuid::parse_str(m["messageId"].as_str().unwrap()).is_ok());
    let (s, v) = e
        .a2a(
            e.main.id,
            &e.peer.token,
            &json!({"jsonrpc":"2.0","method":"message/send",
        "params":{"message":{"messageId":"x"}}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = e
        .a2a(e.main.id, &e.peer.token, &json!("just a string"))
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str()),
        (400, Some("invalid JSON"))
    );
}

#[tokio::test]
async fn newer_platform_dedups_on_message_id_older_does_not() {
    let e = env().await;
    let body = message("once", "same-id");
    assert_eq!(e.a2a(e.main.id, &e.peer.token, &body).await.0, 200);
    let first = e.rows("").await;
    assert_eq!(e.a2a(e.main.id, &e.peer.token, &body).await.0, 200);
    let again = e.rows("").await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["id"], first[0]["id"]);
    assert_eq!(again[0]["seq"], first[0]["seq"]);
    assert_eq!(again[0]["created_at"], first[0]["created_at"]);
    // Dedup is per target feed: the same id to another workspace is a new row.
    assert_eq!(e.a2a(e.peer.id, &e.main.token, &body).await.0, 200);
    assert_eq!(e.emu.feed(e.peer.id).unwrap().len(), 1);

    let old = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    for _ in 0..2 {
        assert_eq!(old.a2a(old.main.id, &old.peer.token, &body).await.0, 200);
    }
    assert_eq!(old.rows("").await.len(), 2);
    let kept = &old.rows("").await[0]["request_body"]["params"]["message"];
    assert!(kept.get("role").is_some(), "explicit role kept");
}

#[tokio::test]
async fn caller_identity_rules_of_the_newer_platform() {
    let e = env().await;
    let post = |headers: Vec<(&'static str, String)>| {
        // A fresh messageId each time, or the newer platform's dedup would merge the rows.
        let body = message("x", &Uuid::new_v4().to_string());
        let mut req = e
            .http
            .post(e.url(&format!("/workspaces/{}/a2a", e.main.id)))
            .json(&body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    let (s, v) = post(vec![]).await;
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (401, "missing caller auth token")
    );
    let (s, v) = post(vec![bearer("not-a-token")]).await;
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (401, "invalid caller auth token")
    );
    let (s, v) = post(vec![
        bearer(&e.peer.token),
        ("x-workspace-id", e.main.id.to_string()),
    ])
    .await;
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (401, "caller ID does not match workspace auth token")
    );
    let (s, _) = post(vec![
        bearer(&e.peer.token),
        ("x-workspace-id", e.peer.id.to_string()),
    ])
    .await;
    assert_eq!(s, 200);
    // An admin (org) credential is canvas-class: source_id null.
    let (s, _) = post(vec![bearer(e.emu.admin_token())]).await;
    assert_eq!(s, 200);
    let rows = e.rows("").await;
    assert_eq!(rows[0]["source_id"], Value::Null);
    assert_eq!(rows[1]["source_id"], e.peer.id.to_string());
}

#[tokio::test]
async fn older_platform_trusts_the_header_but_checks_a_tokened_caller() {
    let e = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    let body = message("x", "m1");
    let url = e.url(&format!("/workspaces/{}/a2a", e.main.id));
    // No credential at all: canvas-class, accepted.
    let r = e.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Claiming to be the peer (which holds a token) without its token is refused.
    let r = e
        .http
        .post(&url)
        .header("X-Workspace-ID", e.peer.id.to_string())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "missing caller auth token"
    );
    let r = e
        .http
        .post(&url)
        .header("X-Workspace-ID", "system:cron")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn unknown_targets_hierarchy_and_size_caps() {
    let mut config = EmulatorConfig::default();
    config.limits.a2a_body = 2048;
    let e = env_with(config).await;
    let (s, v) = e
        .a2a(Uuid::new_v4(), &e.peer.token, &message("x", "m"))
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (404, "workspace not found")
    );
    // Two unrelated root workspaces may not talk on the newer platform.
    let stranger = e.emu.create_workspace(WorkspaceSpec::default()).unwrap();
    let (s, v) = e.a2a(e.main.id, &stranger.token, &message("x", "m")).await;
    assert_eq!(s, 403, "{v}");
    let big = message(&"x".repeat(4096), "big");
    let (s, v) = e.a2a(e.main.id, &e.peer.token, &big).await;
    assert_eq!(s, 413);
    assert_eq!(v["truncated"], true);
    assert_eq!(v["max_bytes"], 2048);
    assert!(e.rows("").await.is_empty());

    // The older platform truncates instead, which surfaces as invalid JSON.
    let mut config = EmulatorConfig::for_compat(Compat::Old);
    config.limits.a2a_body = 2048;
    let old = env_with(config).await;
    let (s, v) = old.a2a(old.main.id, &old.peer.token, &big).await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (400, "invalid JSON")
    );
    // ...and lets two root workspaces talk.
    let stranger = old.emu.create_workspace(WorkspaceSpec {
        delivery_mode: Some(DeliveryMode::Poll),
        ..WorkspaceSpec::default()
    });
    let (s, _) = old
        .a2a(old.main.id, &stranger.unwrap().token, &message("x", "m"))
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_push_target_gets_the_request_forwarded() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let agent = MockServer::start().await;
    let answer = json!({"jsonrpc":"2.0","id":"1","result":{"kind":"message","role":"agent",
        "messageId":"r1","parts":[{"kind":"text","text":"pong"}]}});
    Mock::given(method("POST"))
        .and(path("/agent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&answer))
        .mount(&agent)
        .await;
    let e = env().await;
    let reg = json!({"id": e.peer.id, "url": format!("{}/agent", agent.uri()),
        "agent_card": {"name": "peer"}, "delivery_mode": "push"});
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/register",
            Some(&e.peer.token),
            Some(&reg),
        )
        .await;
    assert_eq!(
        (s.as_u16(), v["delivery_mode"].as_str()),
        (200, Some("push"))
    );
    let (s, v) = e
        .a2a(e.peer.id, &e.main.token, &message("ping", "p1"))
        .await;
    assert_eq!((s.as_u16(), &v), (200, &answer));
    let seen = agent.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1);
    let forwarded: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(forwarded["params"]["message"]["messageId"], "p1");
    assert_eq!(
        seen[0].headers["x-workspace-id"],
        e.main.id.to_string().as_str()
    );
    let row = &e.emu.feed(e.peer.id).unwrap()[0];
    assert_eq!(row["response_body"], answer);

    // An agent that cannot be reached: 502 as on the platform.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let reg = json!({"id": e.peer.id, "url": format!("http://{closed}/agent"),
        "agent_card": {"name": "peer"}});
    let (s, _, _) = e
        .call(
            Method::POST,
            "/registry/register",
            Some(&e.peer.token),
            Some(&reg),
        )
        .await;
    assert_eq!(s, 200, "push mode is sticky when omitted");
    let (s, v) = e
        .a2a(e.peer.id, &e.main.token, &message("ping", "p2"))
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (502, "failed to reach workspace agent")
    );
}

#[tokio::test]
async fn notify_writes_the_platform_row_and_is_never_deduplicated() {
    let e = env().await;
    let path = format!("/workspaces/{}/notify", e.main.id);
    let body = json!({"message": "done", "attachments": [
        {"uri": "https://x/r.pdf", "name": "r.pdf", "mimeType": "application/pdf", "size": 3}]});
    for _ in 0..2 {
        let (s, _, v) = e
            .call(Method::POST, &path, Some(&e.main.token), Some(&body))
            .await;
        assert_eq!((s.as_u16(), v), (200, json!({"status": "sent"})));
    }
    let rows = e.rows("type=a2a_receive").await;
    assert_eq!(rows.len(), 2, "never deduplicated");
    let r = &rows[0];
    assert_eq!(r["method"], "notify");
    assert_eq!(r["source_id"], Value::Null);
    assert_eq!(r["summary"], "Agent message: done");
    assert_eq!(r["response_body"]["result"], "done");
    assert_eq!(r["response_body"]["parts"][0]["file"]["name"], "r.pdf");
    assert!(r.get("request_body").is_none());
    for (bad, msg) in [
        (json!({}), "message is required"),
        (json!({"message": ""}), "message is required"),
        (
            json!({"message": "x", "attachments": [{"uri": "u"}]}),
            "attachment[0]: uri and name are required",
        ),
    ] {
        let (s, _, v) = e
            .call(Method::POST, &path, Some(&e.main.token), Some(&bad))
            .await;
        assert_eq!((s.as_u16(), v["error"].as_str().unwrap()), (400, msg));
    }
    let (s, _, v) = e
        .call(Method::POST, &path, Some(&e.peer.token), Some(&body))
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (401, "invalid workspace auth token")
    );
}
