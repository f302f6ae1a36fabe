//! The emulator's guards and side doors: TenantGuard in both generations, the rate limiter,
//! canvas uploads, the chat page and its long-poll, and the `/_dev` API.

use crate::emulator_support::{env, env_with};
use molecule_emulator::{Compat, EmulatorConfig, TenantGuard};
use reqwest::Method;
use serde_json::{Value, json};

fn guarded(compat: Compat) -> EmulatorConfig {
    let mut c = EmulatorConfig::for_compat(compat);
    c.tenant = Some(TenantGuard {
        org_id: "org-1".into(),
        allowed_origins: vec![],
    });
    c
}

#[tokio::test]
async fn tenant_guard_needs_origin_or_org_header_except_on_registry_calls() {
    for compat in [Compat::New, Compat::Old] {
        let e = env_with(guarded(compat)).await;
        let url = e.url(&format!("/workspaces/{}/activity", e.main.id));
        let get = |h: Option<(&'static str, String)>| {
            let mut req = e.http.get(&url).bearer_auth(&e.main.token);
            if let Some((k, v)) = h {
                req = req.header(k, v);
            }
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let (s, body) = get(None).await;
        if compat == Compat::New {
            assert_eq!(s, 400);
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["error"], "missing tenant routing header");
            assert_eq!(v["code"], "TENANT_ORG_HEADER_REQUIRED");
            assert_eq!(v["required_header"], "X-Molecule-Org-Id");
        } else {
            assert_eq!((s, body.as_str()), (404, ""));
        }
        assert_eq!(
            get(Some(("origin", e.emu.base_url().to_owned()))).await.0,
            200
        );
        assert_eq!(
            get(Some(("x-molecule-org-id", "org-1".into()))).await.0,
            200
        );
        assert_ne!(
            get(Some(("x-molecule-org-id", "org-2".into()))).await.0,
            200
        );
        assert_ne!(
            get(Some(("origin", "https://evil.example".into()))).await.0,
            200
        );
        // Register, heartbeat and buildinfo are exempt.
        let hb = json!({"workspace_id": e.main.id});
        let (s, _, _) = e
            .call(
                Method::POST,
                "/registry/heartbeat",
                Some(&e.main.token),
                Some(&hb),
            )
            .await;
        assert_eq!(s, 200, "{compat:?}");
        let reg = json!({"id": e.main.id, "agent_card": {"name": "m"}, "delivery_mode": "poll"});
        let (s, _, _) = e
            .call(
                Method::POST,
                "/registry/register",
                Some(&e.main.token),
                Some(&reg),
            )
            .await;
        assert_eq!(s, 200, "{compat:?}");
        assert_eq!(e.call(Method::GET, "/buildinfo", None, None).await.0, 200);
    }
}

#[tokio::test]
async fn rate_limit_sends_headers_and_429_with_retry_after() {
    let config = EmulatorConfig {
        rate_limit_per_minute: Some(3),
        ..EmulatorConfig::default()
    };
    let e = env_with(config).await;
    let path = format!("/workspaces/{}/activity", e.main.id);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let (s, h, _) = e.call(Method::GET, &path, Some(&e.main.token), None).await;
        assert_eq!(s, 200);
        assert_eq!(h["x-ratelimit-limit"], "3");
        assert!(
            h["x-ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 1_700_000_000
        );
        remaining.push(h["x-ratelimit-remaining"].to_str().unwrap().to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let (s, h, v) = e.call(Method::GET, &path, Some(&e.main.token), None).await;
    assert_eq!(s, 429);
    assert_eq!(v["error"], "rate limit exceeded");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(v["retry_after"], retry);
    assert_eq!(h["x-ratelimit-remaining"], "0");
    // The newer platform keys on the token: another workspace has its own bucket.
    let peer_path = format!("/workspaces/{}/activity", e.peer.id);
    assert_eq!(
        e.call(Method::GET, &peer_path, Some(&e.peer.token), None)
            .await
            .0,
        200
    );
    // The dev API is never limited.
    assert_eq!(
        e.call(Method::GET, "/_dev/workspaces", None, None).await.0,
        200
    );
    // Off by default.
    let free = env().await;
    let (_, h, _) = free.call(Method::GET, "/buildinfo", None, None).await;
    assert!(h.get("x-ratelimit-limit").is_none());
}

fn multipart(files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "XyZ-emulator-test-boundary".to_owned();
    let mut body = Vec::new();
    for (name, mime, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn canvas_uploads_are_staged_fetched_and_acked() {
    let mut config = EmulatorConfig::default();
    config.limits.upload_file = 1000;
    let e = env_with(config).await;
    let (ctype, body) = multipart(&[
        ("a.txt", "text/plain", b"alpha"),
        ("b.bin", "application/octet-stream", b"\x00\x01"),
    ]);
    let r = e
        .http
        .post(e.url(&format!("/workspaces/{}/chat/uploads", e.main.id)))
        .bearer_auth(e.emu.admin_token())
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let files = r.json::<Value>().await.unwrap()["files"].clone();
    assert_eq!(files.as_array().unwrap().len(), 2);
    let uri = files[0]["uri"].as_str().unwrap();
    let prefix = format!("platform-pending:{}/", e.main.id);
    let file_id = uri.strip_prefix(&prefix).unwrap();
    // One chat_upload_receive row per file, oldest first.
    let rows = e.rows("type=a2a_receive").await;
    assert_eq!(rows.len(), 2);
    let row = &rows[1];
    assert_eq!(row["method"], "chat_upload_receive");
    assert_eq!(row["source_id"], Value::Null);
    assert_eq!(row["request_body"]["file_id"], file_id);
    assert_eq!(row["request_body"]["name"], "a.txt");
    assert_eq!(row["request_body"]["size"], 5);
    let content = format!(
        "/workspaces/{}/pending-uploads/{file_id}/content",
        e.main.id
    );
    let r = e
        .http
        .get(e.url(&content))
        .bearer_auth(&e.main.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"alpha");
    assert_eq!(
        e.call(Method::GET, &content, Some(&e.peer.token), None)
            .await
            .0,
        401
    );
    let ack = format!("/workspaces/{}/pending-uploads/{file_id}/ack", e.main.id);
    assert_eq!(
        e.call(Method::POST, &ack, Some(&e.main.token), None)
            .await
            .0,
        200
    );
    assert_eq!(
        e.call(Method::GET, &content, Some(&e.main.token), None)
            .await
            .0,
        404
    );
    assert_eq!(
        e.call(Method::POST, &ack, Some(&e.main.token), None)
            .await
            .0,
        404
    );
    // A file over the per-file cap: 413, nothing staged.
    let (ctype, body) = multipart(&[("big.bin", "application/octet-stream", &[7u8; 2000])]);
    let r = e
        .http
        .post(e.url(&format!("/_dev/workspaces/{}/uploads", e.main.id)))
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(e.rows("").await.len(), 2);
}

#[tokio::test]
async fn the_chat_page_and_its_long_poll_show_messages_replies_and_state() {
    let e = env().await;
    let r = e.http.get(e.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    for id in [
        "message-box",
        "send-button",
        "reply-list",
        "state-panel",
        "speaker-select",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    let chat = format!("/_dev/chat/{}", e.main.id);
    let (_, _, first) = e
        .call(Method::GET, &format!("{chat}?after=0"), None, None)
        .await;
    let v = first["v"].as_u64().unwrap();
    assert_eq!(first["state"]["backlog"], 0);
    // A long-poll parked on the current version wakes when the canvas speaks.
    let waiter = {
        let http = e.http.clone();
        let url = e.url(&format!("{chat}?after=0&v={v}&wait_ms=20000"));
        tokio::spawn(async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let send = json!({"text": "hello agent", "as": "canvas"});
    let (s, _, v2) = e
        .call(
            Method::POST,
            &format!("/_dev/workspaces/{}/send", e.main.id),
            None,
            Some(&send),
        )
        .await;
    assert_eq!((s.as_u16(), v2["status"].as_str()), (200, Some("queued")));
    let woke = waiter.await.unwrap();
    assert_eq!(woke["items"][0]["text"], "hello agent");
    assert_eq!(woke["items"][0]["from"], Value::Null);
    assert_eq!(woke["state"]["backlog"], 1);
    let row = &e.rows("").await[0];
    assert_eq!(row["source_id"], Value::Null);
    assert_eq!(
        row["request_body"]["params"]["metadata"]["source"],
        "canvas_user"
    );
    // The agent's notify and its message to the peer both show up as replies.
    let path = format!("/workspaces/{}/notify", e.main.id);
    e.call(
        Method::POST,
        &path,
        Some(&e.main.token),
        Some(&json!({"message": "hi person"})),
    )
    .await;
    let mid = uuid::Uuid::new_v4().to_string();
    e.a2a(
        e.peer.id,
        &e.main.token,
        &crate::emulator_support::message("hi peer", &mid),
    )
    .await;
    let send = json!({"text": "peer here", "as": e.peer.id});
    let (s, _, _) = e
        .call(
            Method::POST,
            &format!("/_dev/workspaces/{}/send", e.main.id),
            None,
            Some(&send),
        )
        .await;
    assert_eq!(s, 200);
    let (_, _, all) = e
        .call(Method::GET, &format!("{chat}?after=1"), None, None)
        .await;
    let items = all["items"].as_array().unwrap();
    let got: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("notify", "hi person"),
            ("message", "hi peer"),
            ("message", "peer here")
        ]
    );
    assert_eq!(items[1]["to"], e.peer.id.to_string());
    assert_eq!(items[2]["from"], e.peer.id.to_string());
    assert_eq!(all["names"][e.peer.id.to_string()], "peer");
}

#[tokio::test]
async fn the_dev_api_creates_workspaces_hands_out_tokens_and_injects_one_shots() {
    let e = env().await;
    let (s, _, created) = e
        .call(
            Method::POST,
            "/_dev/workspaces",
            None,
            Some(&json!({"name": "extra", "parent_id": e.main.id})),
        )
        .await;
    assert_eq!(s, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    let (s, _, tok) = e
        .call(
            Method::POST,
            &format!("/_dev/workspaces/{id}/tokens"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 201);
    let token = tok["auth_token"].as_str().unwrap();
    let act = format!("/workspaces/{id}/activity");
    assert_eq!(e.call(Method::GET, &act, Some(token), None).await.0, 200);
    let (_, _, list) = e.call(Method::GET, "/_dev/workspaces", None, None).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
    let (s, _, v) = e
        .call(
            Method::POST,
            &format!("/_dev/workspaces/{id}/revoke-tokens"),
            None,
            None,
        )
        .await;
    assert_eq!((s.as_u16(), v["revoked"].as_u64()), (200, Some(2)));
    assert_eq!(e.call(Method::GET, &act, Some(token), None).await.0, 401);
    let (s, _, _) = e
        .call(
            Method::DELETE,
            &format!("/_dev/workspaces/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        e.call(Method::GET, &format!("/workspaces/{id}"), None, None)
            .await
            .0,
        410
    );
    // Faults can be read and replaced over HTTP.
    let faults = json!({"seed": 9, "rules": [{"endpoint": "buildinfo", "error_before": 1.0}]});
    let (s, _, _) = e
        .call(Method::PUT, "/_dev/faults", None, Some(&faults))
        .await;
    assert_eq!(s, 200);
    let (_, _, got) = e.call(Method::GET, "/_dev/faults", None, None).await;
    assert_eq!(got["seed"], 9);
    assert_eq!(e.call(Method::GET, "/buildinfo", None, None).await.0, 503);
    assert_eq!(
        e.call(
            Method::GET,
            &format!("/workspaces/{}", e.main.id),
            None,
            None
        )
        .await
        .0,
        200
    );
    let (s, _, v) = e
        .call(
            Method::POST,
            "/_dev/workspaces",
            None,
            Some(&json!({"parent_id": uuid::Uuid::new_v4()})),
        )
        .await;
    assert_eq!(s, 404, "{v}");
}
