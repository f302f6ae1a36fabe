//! How the platform client classifies what goes wrong, each case provoked by a real server
//! answer (or a real refused connection).

#![allow(clippy::unwrap_used, reason = "test helpers panic on broken fixtures")]

use crate::platform_support::{WS, client, client_with};
use molecule_host::exit::{self, HasExitCode};
use molecule_host::platform::*;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ws() -> Uuid {
    Uuid::parse_str(WS).unwrap()
}

async fn answer(server: &MockServer, verb: &str, p: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path_regex(p))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn unknown_and_removed_workspaces_have_their_own_errors_and_exit_codes() {
    let server = MockServer::start().await;
    let s = client(&server);
    answer(
        &server,
        "GET",
        &format!("^/workspaces/{WS}$"),
        ResponseTemplate::new(404),
    )
    .await;
    let err = s.client.get_workspace(ws()).await.unwrap_err();
    assert!(
        matches!(err, PlatformError::NoSuchWorkspace { id } if id == ws()),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), exit::NO_SUCH_WORKSPACE);
    assert!(err.to_string().contains(WS));

    server.reset().await;
    let gone = json!({"error":"workspace removed","id":WS,"removed_at":"2026-05-01T00:00:00Z",
        "hint":"Regenerate workspace + token from the canvas → Tokens tab"});
    answer(
        &server,
        "GET",
        &format!("^/workspaces/{WS}$"),
        ResponseTemplate::new(410).set_body_json(gone),
    )
    .await;
    let err = s.client.get_workspace(ws()).await.unwrap_err();
    assert_eq!(err.exit_code(), exit::WORKSPACE_REMOVED);
    assert_eq!(
        err.to_string(),
        format!(
            "workspace {WS} was removed on the platform at 2026-05-01T00:00:00Z: \
             Regenerate workspace + token from the canvas → Tokens tab"
        )
    );
}

#[tokio::test]
async fn a_410_on_the_feed_is_cursor_gone() {
    let server = MockServer::start().await;
    let body = json!({"error":"since_id cursor not found (row may have been pruned or belongs to a different workspace); omit since_id to reset"});
    answer(
        &server,
        "GET",
        "/activity$",
        ResponseTemplate::new(410).set_body_json(body),
    )
    .await;
    let s = client(&server);
    let q = ActivityQuery {
        since_id: Some("gone-row".into()),
        ..ActivityQuery::default()
    };
    let err = s.client.activity(&q).await.unwrap_err();
    assert!(matches!(err, PlatformError::CursorGone { .. }), "{err:?}");
    assert!(err.to_string().contains("410") && err.to_string().contains("omit since_id"));
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_are_decode_errors() {
    let server = MockServer::start().await;
    answer(
        &server,
        "GET",
        "/activity$",
        ResponseTemplate::new(200).set_body_json(json!({"rows":[]})),
    )
    .await;
    answer(
        &server,
        "GET",
        "/peers$",
        ResponseTemplate::new(200).set_body_string("<html>login</html>"),
    )
    .await;
    let s = client(&server);
    let err = s
        .client
        .activity(&ActivityQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PlatformError::Decode { status: 200, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("expected a JSON list of activity rows"),
        "{err}"
    );
    let err = s.client.list_peers().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("GET /registry/<id>/peers: HTTP 200"),
        "{err}"
    );
    assert!(err.to_string().contains("<html>login</html>"), "{err}");
}

#[tokio::test]
async fn client_errors_are_permanent_and_name_call_status_and_body() {
    let server = MockServer::start().await;
    let body = json!({"error":"delivery_mode must be 'push' or 'poll'"});
    answer(
        &server,
        "POST",
        "/registry/register$",
        ResponseTemplate::new(400).set_body_json(body),
    )
    .await;
    let forbidden = json!({"error":"talk_to_user_disabled","hint":"enable it"});
    answer(
        &server,
        "POST",
        "/notify$",
        ResponseTemplate::new(403).set_body_json(forbidden),
    )
    .await;
    let s = client(&server);
    let card = AgentCard {
        name: "x".into(),
        description: None,
        version: None,
        skills: None,
    };
    let err = s.client.register(card).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "POST /registry/register: HTTP 400: {\"error\":\"delivery_mode must be 'push' or 'poll'\"}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    let err = s.client.notify("hi", &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("talk_to_user_disabled"));
}

#[tokio::test]
async fn soft_answers_are_not_errors() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/activity/ack$",
        ResponseTemplate::new(404),
    )
    .await;
    answer(
        &server,
        "GET",
        "/registry/discover/",
        ResponseTemplate::new(404),
    )
    .await;
    let s = client(&server);
    assert_eq!(
        s.client.ack_activity(3).await.unwrap(),
        AckOutcome::Unsupported
    );
    assert_eq!(s.client.discover(ws()).await.unwrap(), None);
}

#[tokio::test]
async fn busy_and_failing_a2a_targets_are_transient_but_only_busy_is_unprocessed() {
    let server = MockServer::start().await;
    let busy = json!({"error":"workspace agent busy — retry after a short backoff","busy":true,"retry_after":30});
    answer(
        &server,
        "POST",
        "/workspaces/a+.*/a2a$",
        ResponseTemplate::new(503)
            .insert_header("retry-after", "30")
            .set_body_json(busy),
    )
    .await;
    answer(
        &server,
        "POST",
        "/workspaces/b+.*/a2a$",
        ResponseTemplate::new(502)
            .set_body_json(json!({"error":"failed to reach workspace agent"})),
    )
    .await;
    answer(
        &server,
        "POST",
        "/workspaces/c+.*/a2a$",
        ResponseTemplate::new(202)
            .set_body_json(json!({"queued":true,"queue_id":"q","queue_depth":1})),
    )
    .await;
    let s = client(&server);
    let target = |c: char| {
        Uuid::parse_str(&format!(
            "{0}{0}{0}{0}{0}{0}{0}{0}-0000-0000-0000-000000000000",
            c
        ))
        .unwrap()
    };
    let err = s
        .client
        .post_a2a(target('a'), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(err.not_processed(), "{err}");
    let err = s
        .client
        .post_a2a(target('b'), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    assert!(!err.not_processed(), "{err}");
    let reply = s.client.post_a2a(target('c'), &json!({})).await.unwrap();
    assert_eq!(reply.status, 202);
    assert!(matches!(
        reply.answer,
        A2aAnswer::BusyQueued {
            queue_depth: Some(1),
            ..
        }
    ));
}

#[tokio::test]
async fn a_redirect_points_at_the_api_url() {
    let server = MockServer::start().await;
    let redirect =
        ResponseTemplate::new(301).insert_header("location", "https://acme.example/buildinfo");
    answer(&server, "GET", "/buildinfo$", redirect).await;
    let err = client(&server).client.buildinfo().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /buildinfo: HTTP 301: redirected to https://acme.example/buildinfo; use the final \
         URL as --api-url"
    );
    assert_eq!(err.exit_code(), 2, "the flag's fault, not the platform's");
}

#[tokio::test]
async fn oversized_uploads_are_refused_and_bad_arguments_never_leave() {
    let server = MockServer::start().await;
    answer(
        &server,
        "GET",
        "/content$",
        ResponseTemplate::new(200).set_body_bytes(vec![7u8; 2048]),
    )
    .await;
    let s = client_with(&server, |mut c| {
        c.limits.max_upload_bytes = 1024;
        c
    });
    let err = s.client.pending_upload_content("f1").await.unwrap_err();
    assert!(
        matches!(err, PlatformError::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    for bad in ["", "..", "a/b", "x?y"] {
        let err = s.client.pending_upload_content(bad).await.unwrap_err();
        assert!(
            matches!(err, PlatformError::InvalidArgument { .. }),
            "{bad}: {err:?}"
        );
    }
    assert!(s.client.notify("  ", &[]).await.is_err());
    let nameless = NotifyAttachment {
        uri: "https://x/y".into(),
        name: String::new(),
        mime_type: None,
        size: None,
    };
    let err = s.client.notify("hi", &[nameless]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("attachment 0 needs a uri and a name"),
        "{err}"
    );
    // Only the oversized download reached the server.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let cfg = PlatformConfig::new(&url, WS).unwrap();
    let c = PlatformClient::new(cfg, TokenSource::from_value("t", "--token").unwrap()).unwrap();
    let err = c.heartbeat(&Heartbeat::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            PlatformError::Transient {
                cause: Transport::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.not_processed());
    assert!(
        err.to_string()
            .starts_with("POST /registry/heartbeat: connection failed"),
        "{err}"
    );
}

#[tokio::test]
async fn server_errors_are_transient() {
    let server = MockServer::start().await;
    let body = json!({"error":"platform datastore unavailable — retry shortly","code":"platform_unavailable"});
    answer(
        &server,
        "POST",
        "/registry/heartbeat$",
        ResponseTemplate::new(503).set_body_json(body),
    )
    .await;
    let err = client(&server)
        .client
        .heartbeat(&Heartbeat::default())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(err.status(), Some(503));
    assert!(err.to_string().contains("platform_unavailable"));
}
