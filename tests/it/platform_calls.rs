//! Every typed call of the platform client against a real HTTP server (wiremock): the exact
//! requests it sends, with the headers hosted tenants require, and how it reads the answers.

#![allow(clippy::unwrap_used, reason = "test helpers panic on broken fixtures")]

use crate::platform_support::{TOKEN, WS, client, client_with};
use molecule_host::platform::*;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PEER: &str = "99999999-8888-7777-6666-555555555555";

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn mount_everything(server: &MockServer, prefix: &str) {
    let ws = format!("{prefix}/workspaces/{WS}");
    let mocks = [
        (
            "GET",
            format!("{prefix}/buildinfo"),
            ok(json!({"git_sha":"abc123"})),
        ),
        (
            "GET",
            ws.clone(),
            ok(json!({"id":WS,"name":"Mine","status":"online","delivery_mode":"poll"})),
        ),
        (
            "POST",
            format!("{prefix}/registry/register"),
            ok(json!({"status":"registered","delivery_mode":"poll"})),
        ),
        (
            "POST",
            format!("{prefix}/registry/heartbeat"),
            ok(json!({"status":"ok"})),
        ),
        ("GET", format!("{ws}/activity"), ok(json!([]))),
        (
            "POST",
            format!("{ws}/activity/ack"),
            ok(json!({"last_acked_seq":7})),
        ),
        (
            "POST",
            format!("{prefix}/workspaces/{PEER}/a2a"),
            ok(json!({"status":"queued","delivery_mode":"poll"})),
        ),
        ("POST", format!("{ws}/notify"), ok(json!({"status":"sent"}))),
        (
            "GET",
            format!("{ws}/pending-uploads/f1/content"),
            ResponseTemplate::new(200).set_body_raw(b"PNG".to_vec(), "image/png"),
        ),
        (
            "POST",
            format!("{ws}/pending-uploads/f1/ack"),
            ok(json!({})),
        ),
        (
            "GET",
            format!("{prefix}/registry/{WS}/peers"),
            ok(json!([{"id":PEER,"name":"Peer"}])),
        ),
        (
            "GET",
            format!("{prefix}/registry/discover/{PEER}"),
            ok(json!({"id":PEER,"url":"http://x"})),
        ),
    ];
    for (m, p, response) in mocks {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(response)
            .mount(server)
            .await;
    }
}

async fn call_everything(c: &PlatformClient) {
    let ws = Uuid::parse_str(WS).unwrap();
    let peer = Uuid::parse_str(PEER).unwrap();
    assert_eq!(
        c.buildinfo().await.unwrap().git_sha.as_deref(),
        Some("abc123")
    );
    assert_eq!(
        c.get_workspace(ws).await.unwrap().name.as_deref(),
        Some("Mine")
    );
    let card = AgentCard {
        name: "echo".into(),
        description: Some("repeats".into()),
        version: Some("1.0".into()),
        skills: None,
    };
    assert_eq!(
        c.register(card).await.unwrap().delivery_mode.as_deref(),
        Some("poll")
    );
    c.heartbeat(&Heartbeat {
        uptime_seconds: 12,
        active_tasks: 1,
        current_task: "handling 1 message".into(),
        ..Heartbeat::default()
    })
    .await
    .unwrap();
    let q = ActivityQuery {
        activity_type: Some("a2a_receive".into()),
        since_id: Some("row-9".into()),
        limit: Some(100),
        include_peer_info: true,
        ..ActivityQuery::default()
    };
    assert_eq!(c.activity(&q).await.unwrap().len, 0);
    assert_eq!(c.ack_activity(7).await.unwrap(), AckOutcome::Acked(Some(7)));
    let a2a = c.post_a2a(peer, &json!({"jsonrpc":"2.0"})).await.unwrap();
    assert_eq!(a2a.answer, A2aAnswer::Queued);
    c.notify("hello", &[]).await.unwrap();
    let up = c.pending_upload_content("f1").await.unwrap();
    assert_eq!(
        (up.bytes.as_slice(), up.content_type.as_deref()),
        (&b"PNG"[..], Some("image/png"))
    );
    c.ack_upload("f1").await.unwrap();
    assert_eq!(
        c.list_peers().await.unwrap()[0].name.as_deref(),
        Some("Peer")
    );
    assert!(c.discover(peer).await.unwrap().is_some());
}

#[tokio::test]
async fn every_call_sends_auth_origin_workspace_and_org_headers() {
    let server = MockServer::start().await;
    mount_everything(&server, "").await;
    let s = client_with(&server, |c| c.with_org_id("org-42").unwrap());
    call_everything(&s.client).await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 12);
    for r in &requests {
        let h = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        let what = format!("{} {}", r.method, r.url.path());
        assert_eq!(
            h("authorization"),
            Some(format!("Bearer {TOKEN}")),
            "{what}"
        );
        assert_eq!(h("origin"), Some(server.uri()), "{what}");
        assert_eq!(h("x-workspace-id").as_deref(), Some(WS), "{what}");
        assert_eq!(h("x-molecule-org-id").as_deref(), Some("org-42"), "{what}");
        let ua = h("user-agent").unwrap();
        assert_eq!(
            ua,
            format!("molecule/{}", env!("CARGO_PKG_VERSION")),
            "{what}"
        );
        if !r.body.is_empty() {
            assert_eq!(
                h("content-type").as_deref(),
                Some("application/json"),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn the_default_origin_is_the_api_urls_origin_even_under_a_path() {
    let server = MockServer::start().await;
    mount_everything(&server, "/api").await;
    let s = client_with(&server, |_| {
        PlatformConfig::new(&format!("{}/api/", server.uri()), WS).unwrap()
    });
    assert_eq!(s.client.config().origin(), server.uri());
    call_everything(&s.client).await;
    for r in server.received_requests().await.unwrap() {
        assert!(r.url.path().starts_with("/api/"), "{}", r.url);
        assert_eq!(r.headers["origin"].to_str().unwrap(), server.uri());
        assert!(r.headers.get("x-molecule-org-id").is_none());
    }
}

#[tokio::test]
async fn request_bodies_are_exact() {
    let server = MockServer::start().await;
    mount_everything(&server, "").await;
    let s = client(&server);
    call_everything(&s.client).await;
    let requests = server.received_requests().await.unwrap();
    let body = |p: &str| -> Value {
        let r = requests.iter().find(|r| r.url.path() == p).unwrap();
        serde_json::from_slice(&r.body).unwrap()
    };
    assert_eq!(
        body("/registry/register"),
        json!({"id":WS,"url":"","agent_card":{"name":"echo","description":"repeats","version":"1.0"},
               "delivery_mode":"poll"})
    );
    assert_eq!(
        body("/registry/heartbeat"),
        json!({"workspace_id":WS,"uptime_seconds":12,"active_tasks":1,
               "current_task":"handling 1 message","error_rate":0.0,"sample_error":""})
    );
    assert_eq!(
        body(&format!("/workspaces/{WS}/activity/ack")),
        json!({"acked_seq":7})
    );
    assert_eq!(
        body(&format!("/workspaces/{WS}/notify")),
        json!({"message":"hello"})
    );
    let activity = requests
        .iter()
        .find(|r| r.url.path().ends_with("/activity"))
        .unwrap();
    assert_eq!(
        activity.url.query(),
        Some("type=a2a_receive&since_id=row-9&limit=100&include=peer_info")
    );
}

const R3: &str = "0b6c2f4e-8a1d-4c3b-9e5f-7a2d4c6e8f13";
const R1: &str = "0b6c2f4e-8a1d-4c3b-9e5f-7a2d4c6e8f11";

#[tokio::test]
async fn activity_pages_keep_order_and_report_unreadable_rows() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("/activity$"))
        .and(query_param("since_secs", "600"))
        .respond_with(ok(json!([
            {"id":R3,"created_at":"2026-05-06T06:42:13.3Z","seq":3,"source_id":null,"method":"message/send",
             "request_body":{"params":{"message":{"parts":[{"kind":"text","text":"hi"}]}}},"peer_name":"Alice"},
            {"no_id": true, "source_id": PEER},
            {"id":R1,"created_at":"2026-05-06T06:42:13.1Z","source_id":PEER,"future_key":{"x":1}},
            {"id":"r0","created_at":"2026-05-06T06:42:13.0Z"}
        ])))
        .mount(&server)
        .await;
    let s = client(&server);
    let q = ActivityQuery {
        since_secs: Some(600),
        ..ActivityQuery::default()
    };
    let page = s.client.activity(&q).await.unwrap();
    assert_eq!((page.len, page.more), (4, false));
    let ids: Vec<&str> = page.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[0], R3);
    assert_eq!(ids[2], R1);
    assert_eq!(page.rows[0].peer_name.as_deref(), Some("Alice"));
    assert_eq!(page.rows[2].source_id.as_deref(), Some(PEER));
    let unreadable: Vec<usize> = (0..4)
        .filter(|&i| page.rows[i].unreadable.is_some())
        .collect();
    assert_eq!(unreadable, [1, 3], "no id, and an id that is not a UUID");
    // What is known of an unreadable row is kept, and it gets a stand-in UUID.
    assert_eq!(page.rows[1].source_id.as_deref(), Some(PEER));
    assert_eq!(
        page.rows[3].created_at.as_deref(),
        Some("2026-05-06T06:42:13.0Z")
    );
    assert!(uuid::Uuid::try_parse(&page.rows[3].id).is_ok());
}

#[tokio::test]
async fn a2a_answers_come_back_parsed_and_the_a2a_timeout_is_separate() {
    let server = MockServer::start().await;
    let task = json!({"jsonrpc":"2.0","id":"1","result":{"kind":"task","id":"t1",
        "status":{"state":"completed"},"artifacts":[{"parts":[{"kind":"text","text":"done"}]}]}});
    Mock::given(method("POST"))
        .and(path(format!("/workspaces/{PEER}/a2a")))
        // Slower than the ordinary request timeout below, well within the a2a one.
        .respond_with(ok(task).set_delay(std::time::Duration::from_millis(300)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/workspaces/{WS}")))
        .respond_with(ok(json!({})).set_delay(std::time::Duration::from_millis(300)))
        .mount(&server)
        .await;
    let s = client_with(&server, |mut c| {
        c.timeouts.request = std::time::Duration::from_millis(50);
        c.timeouts.a2a = std::time::Duration::from_secs(30);
        c
    });
    let reply = s
        .client
        .post_a2a(Uuid::parse_str(PEER).unwrap(), &json!({}))
        .await
        .unwrap();
    let A2aAnswer::Task(t) = reply.answer else {
        panic!("not a task: {:?}", reply.answer)
    };
    assert_eq!(t["artifacts"][0]["parts"][0]["text"], "done");
    let err = s
        .client
        .get_workspace(Uuid::parse_str(WS).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PlatformError::Transient {
                cause: Transport::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Transient);
}
