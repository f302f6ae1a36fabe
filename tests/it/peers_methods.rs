//! The host methods through the real binary and a real backend against the wiremock platform:
//! `hostMethods`, `peers/list` and its diagnostics (401/403/404/5xx/non-list/unreachable),
//! `peers/discover` (UUID validation, not
//! found), `workspace/info` (404/410/transport), `user/notify`, and the per-minute budget.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::connect_host::Site;
use super::connect_platform::{PEER, PEER2, Platform, WS};
use super::peers_support::{class, code, mount_registry, report, run, script, start};

#[tokio::test]
async fn peers_list_returns_peers_and_names_every_failure() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    let peers = format!("/registry/{WS}/peers$");
    let faults = [
        ResponseTemplate::new(401).set_body_string("bad token"),
        ResponseTemplate::new(404),
        ResponseTemplate::new(500),
        ResponseTemplate::new(200).set_body_json(json!({"peers": "not a list"})),
    ];
    for fault in faults {
        platform.fault("GET", &peers, fault, 1).await;
    }
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let list = json!({"method": "peers/list"});
    platform.canvas_says(&script(json!([list, list, list, list, list])));
    let report = report(&platform).await;
    assert_eq!(
        report["hostMethods"],
        json!([
            "peers/discover",
            "peers/list",
            "peers/send",
            "user/notify",
            "workspace/info"
        ])
    );
    let out = report["outcomes"].as_array().cloned().unwrap_or_default();
    let expected = [
        (1010, "unauthorized"),
        (1011, "not_found"),
        (1013, "server_error"),
        (1014, "bad_response"),
    ];
    for (o, (c, k)) in out.iter().zip(expected) {
        assert_eq!((code(o), class(o)), (Some(c), k), "{o}");
        let message = o["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with("peers/list: ") && message.len() > 20,
            "{message}"
        );
    }
    assert_eq!(out[2]["error"]["data"]["retryable"], true);
    assert_eq!(out[0]["error"]["data"]["retryable"], false);
    let peers = &out[4]["result"]["peers"];
    assert_eq!(
        peers,
        &json!([{"id": PEER, "name": "Peer", "role": "reviewer", "status": "online"},
                {"id": PEER2, "name": "Other", "agentCard": {"name": "Other", "skills": []}}])
    );
    host.stop().await;
}

#[tokio::test]
async fn peers_list_names_a_403_and_an_unreachable_platform_with_their_target() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    let site = Site::new();
    let host = start(&platform, &site, &["--http-timeout", "300ms"]);
    host.wait_log("serving", |_| true).await;
    let peers = format!("/registry/{WS}/peers$");
    let forbidden = ResponseTemplate::new(403).set_body_string("token rotated");
    // No answer within --http-timeout: the platform cannot be reached.
    let silent = ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30));
    for fault in [forbidden, silent] {
        platform.fault("GET", &peers, fault, 1).await;
    }
    let list = json!({"method": "peers/list"});
    let out = run(&platform, json!([list, list, list])).await;
    let expected = [
        (
            1010,
            "unauthorized",
            "unauthorized (the token is invalid or was rotated)",
        ),
        (1013, "unreachable", "platform unavailable"),
    ];
    for (o, (c, k, label)) in out.iter().zip(expected) {
        assert_eq!((code(o), class(o)), (Some(c), k), "{o}");
        let data = &o["error"]["data"];
        assert_eq!(data["target"], "GET /registry/<id>/peers", "{o}");
        let message = o["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(&format!("peers/list: {label}")),
            "the message names the class: {message}"
        );
        assert!(
            message.contains(": GET /registry/<id>/peers: "),
            "and the target: {message}"
        );
    }
    assert_eq!(out[0]["error"]["data"]["status"], 403);
    let unreachable = out[1]["error"]["message"].as_str().unwrap_or("");
    assert!(unreachable.contains("timed out"), "{unreachable}");
    assert_eq!(out[0]["error"]["data"]["retryable"], false);
    assert_eq!(out[1]["error"]["data"]["retryable"], true);
    assert_eq!(out[2]["result"]["peers"][0]["id"], PEER, "{}", out[2]);
    host.stop().await;
}

#[tokio::test]
async fn discover_validates_the_id_first_and_reads_not_found_as_null() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    platform
        .fault(
            "GET",
            &format!("/registry/discover/{PEER2}$"),
            ResponseTemplate::new(404),
            1,
        )
        .await;
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let out = run(
        &platform,
        json!([
            {"method": "peers/discover", "params": {"id": "../../workspaces/x"}},
            {"method": "peers/discover", "params": {}},
            {"method": "peers/discover", "params": {"id": PEER2}},
            {"method": "peers/discover", "params": {"id": PEER.to_uppercase()}},
        ]),
    )
    .await;
    assert_eq!(code(&out[0]), Some(-32602), "{}", out[0]);
    assert_eq!(code(&out[1]), Some(-32602), "{}", out[1]);
    assert_eq!(out[2]["result"], json!({"peer": null}));
    assert_eq!(out[3]["result"]["peer"]["name"], "Peer");
    let lookups = platform.calls("GET", "/registry/discover/").await;
    assert_eq!(lookups.len(), 2, "an invalid id never reaches the platform");
    assert!(lookups.iter().all(|r| !r.url.path().contains("..")));
    host.stop().await;
}

#[tokio::test]
async fn workspace_info_tells_removed_from_not_found_and_from_unreachable() {
    let platform = Platform::start().await;
    let site = Site::new();
    // The host's own start-up reads the workspace first: let it through, then fail.
    let host = start(&platform, &site, &[]);
    host.wait_log("serving", |_| true).await;
    let own = format!("/workspaces/{WS}$");
    let removed = json!({"error": "workspace removed", "removed_at": "2026-05-01T00:00:00Z",
                         "hint": "Regenerate workspace + token from the canvas"});
    for fault in [
        ResponseTemplate::new(410).set_body_json(removed),
        ResponseTemplate::new(404),
        ResponseTemplate::new(503),
    ] {
        platform.fault("GET", &own, fault, 1).await;
    }
    let info = json!({"method": "workspace/info"});
    let out = run(&platform, json!([info, info, info, info])).await;
    assert_eq!((code(&out[0]), class(&out[0])), (Some(1012), "removed"));
    let message = out[0]["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("Regenerate workspace"), "{message}");
    assert_eq!((code(&out[1]), class(&out[1])), (Some(1011), "not_found"));
    assert_eq!(
        (code(&out[2]), class(&out[2])),
        (Some(1013), "server_error")
    );
    assert_eq!(out[3]["result"]["workspace"]["name"], "main");
    host.stop().await;
}

#[tokio::test]
async fn workspace_info_reports_an_unreachable_platform() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = start(&platform, &site, &["--http-timeout", "300ms"]);
    host.wait_log("serving", |_| true).await;
    platform
        .fault(
            "GET",
            &format!("/workspaces/{WS}$"),
            ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30)),
            1,
        )
        .await;
    let out = run(&platform, json!([{"method": "workspace/info"}])).await;
    assert_eq!(
        (code(&out[0]), class(&out[0])),
        (Some(1013), "unreachable"),
        "{}",
        out[0]
    );
    host.stop().await;
}

#[tokio::test]
async fn user_notify_posts_to_the_canvas_and_refuses_bad_input() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = start(&platform, &site, &[]);
    let out = run(
        &platform,
        json!([
            {"method": "user/notify", "params": {"text": "  "}},
            {"method": "user/notify", "params": {"text": "x", "attachments": [{"uri": "file:///etc/passwd"}]}},
            {"method": "user/notify", "params": {"text": "Report ready",
                "attachments": [{"uri": "https://files.example/r/report.pdf", "mimeType": "application/pdf"}]}},
        ]),
    )
    .await;
    assert_eq!(code(&out[0]), Some(-32602));
    assert_eq!(code(&out[1]), Some(-32602));
    assert_eq!(out[2]["result"], json!({"delivered": true}));
    let notified: Vec<Value> = platform
        .notifies()
        .await
        .into_iter()
        .filter(|n| n["message"] == "Report ready")
        .collect();
    assert_eq!(
        notified,
        [
            json!({"message": "Report ready", "attachments": [{"uri": "https://files.example/r/report.pdf",
            "name": "report.pdf", "mimeType": "application/pdf"}]})
        ]
    );
    host.stop().await;
}

#[tokio::test]
async fn the_budget_caps_peer_calls_per_minute() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    let site = Site::new();
    let host = start(&platform, &site, &["--peer-calls-per-minute", "2"]);
    let list = json!({"method": "peers/list"});
    let out = run(
        &platform,
        json!([list, list, list, {"method": "workspace/info"}]),
    )
    .await;
    assert!(out[0]["result"].is_object() && out[1]["result"].is_object());
    assert_eq!((code(&out[2]), class(&out[2])), (Some(1016), "budget"));
    let data = &out[2]["error"]["data"];
    assert_eq!(data["retryable"], true);
    let after = data["retryAfterMs"].as_u64().unwrap_or(0);
    assert!(after > 0 && after <= 60_000, "{data}");
    assert!(
        out[3]["result"].is_object(),
        "workspace/info is not a peer call"
    );
    assert_eq!(platform.calls("GET", "/peers$").await.len(), 2);
    host.stop().await;
}

#[tokio::test]
async fn user_notify_counts_against_the_budget() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    let site = Site::new();
    let host = start(&platform, &site, &["--peer-calls-per-minute", "2"]);
    let notify = |text: &str| json!({"method": "user/notify", "params": {"text": text}});
    let out = run(
        &platform,
        json!([notify("one"), notify("two"), notify("three"), {"method": "peers/list"}]),
    )
    .await;
    assert_eq!(out[0]["result"], json!({"delivered": true}));
    assert_eq!(out[1]["result"], json!({"delivered": true}));
    for refused in &out[2..] {
        assert_eq!(
            (code(refused), class(refused)),
            (Some(1016), "budget"),
            "{refused}"
        );
    }
    let texts: Vec<Value> = platform
        .notifies()
        .await
        .into_iter()
        .map(|n| n["message"].clone())
        .filter(|m| ["one", "two", "three"].iter().any(|t| m == t))
        .collect();
    assert_eq!(texts, [json!("one"), json!("two")]);
    host.stop().await;
}
