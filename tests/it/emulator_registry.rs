//! The emulator's registry: register and heartbeat semantics, the token bootstrap, liveness,
//! the removal chain, workspace records, peers and discovery.

use crate::emulator_support::{env, env_with};
use molecule_emulator::{Compat, EmulatorConfig, WorkspaceSpec};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn register_validates_and_bootstraps_a_token_once() {
    let e = env().await;
    for (body, status, msg) in [
        (json!({"agent_card": {}}), 400, "invalid request body"),
        (json!({"id": Uuid::new_v4()}), 400, "invalid request body"),
        (
            json!({"id": "nope", "agent_card": {}}),
            500,
            "registration failed",
        ),
        (
            json!({"id": Uuid::new_v4(), "agent_card": {}, "delivery_mode": "pull"}),
            400,
            "delivery_mode must be 'push' or 'poll'",
        ),
        (
            json!({"id": Uuid::new_v4(), "agent_card": {}}),
            400,
            "url is required for push-mode workspaces",
        ),
    ] {
        let (s, _, v) = e
            .call(Method::POST, "/registry/register", None, Some(&body))
            .await;
        assert_eq!(
            (s.as_u16(), v["error"].as_str().unwrap()),
            (status, msg),
            "{body}"
        );
    }
    // An unknown id is created by a bootstrap register, which mints the first token.
    let id = Uuid::new_v4();
    let body =
        json!({"id": id, "url": "", "agent_card": {"name": "bridge"}, "delivery_mode": "poll"});
    let (s, _, v) = e
        .call(Method::POST, "/registry/register", None, Some(&body))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "registered");
    assert_eq!(v["delivery_mode"], "poll");
    assert!(v["platform_inbound_secret"].is_string());
    let token = v["auth_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    // From now on a bearer is needed, and no token is minted again.
    let (s, _, v) = e
        .call(Method::POST, "/registry/register", None, Some(&body))
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (401, "missing workspace auth token")
    );
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/register",
            Some("bogus"),
            Some(&body),
        )
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (401, "invalid workspace auth token")
    );
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/register",
            Some(&token),
            Some(&body),
        )
        .await;
    assert_eq!(s, 200);
    assert!(v.get("auth_token").is_none(), "{v}");
    // delivery_mode is sticky when omitted.
    let again = json!({"id": id, "agent_card": {"name": "bridge"}});
    let (_, _, v) = e
        .call(
            Method::POST,
            "/registry/register",
            Some(&token),
            Some(&again),
        )
        .await;
    assert_eq!(v["delivery_mode"], "poll");
    let state = e.emu.workspace_state(id).unwrap();
    assert_eq!(
        (state["status"].as_str(), state["registered"].as_bool()),
        (Some("online"), Some(true))
    );
}

#[tokio::test]
async fn newer_platform_hands_an_api_token_holder_an_instance_token() {
    let e = env().await;
    let body = json!({"id": e.main.id, "agent_card": {"name": "m"}, "delivery_mode": "poll"});
    let (_, _, v) = e
        .call(
            Method::POST,
            "/registry/register",
            Some(&e.main.token),
            Some(&body),
        )
        .await;
    let instance = v["auth_token"]
        .as_str()
        .expect("an instance token is minted")
        .to_owned();
    // Both tokens work.
    let path = format!("/workspaces/{}/activity", e.main.id);
    for t in [&instance, &e.main.token] {
        assert_eq!(e.call(Method::GET, &path, Some(t), None).await.0, 200);
    }
    // The older platform counts any live token: no extra token.
    let old = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    let body = json!({"id": old.main.id, "agent_card": {"name": "m"}, "delivery_mode": "poll"});
    let (s, _, v) = old
        .call(
            Method::POST,
            "/registry/register",
            Some(&old.main.token),
            Some(&body),
        )
        .await;
    assert_eq!(s, 200);
    assert!(v.get("auth_token").is_none(), "{v}");
    let (s, _, _) = old
        .call(Method::POST, "/registry/register", None, Some(&body))
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn heartbeat_records_fields_and_liveness_goes_stale() {
    let mut config = EmulatorConfig::default();
    config.timers.stale_after = Duration::ZERO;
    let e = env_with(config).await;
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/heartbeat",
            Some(&e.main.token),
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (400, "invalid request body")
    );
    let hb = json!({"workspace_id": e.main.id, "uptime_seconds": 42, "active_tasks": 2,
        "current_task": "thinking", "error_rate": 0.6, "sample_error": "backend crashed"});
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/heartbeat",
            Some(&e.main.token),
            Some(&hb),
        )
        .await;
    assert_eq!((s.as_u16(), v["status"].as_str()), (200, Some("ok")));
    assert!(v["generation"].is_i64());
    let st = e.emu.workspace_state(e.main.id).unwrap();
    assert_eq!(st["uptime_seconds"], 42);
    assert_eq!(st["active_tasks"], 2);
    assert_eq!(st["current_task"], "thinking");
    assert_eq!(st["last_error"], "backend crashed");
    // With a zero window, the workspace is stale as soon as time moves on.
    assert_eq!(st["stale"], true);
    let (_, _, rec) = e
        .call(
            Method::GET,
            &format!("/workspaces/{}", e.main.id),
            None,
            None,
        )
        .await;
    assert_eq!(rec["status"], "awaiting_agent");
    assert_eq!(rec["current_task"], "thinking");

    let mut config = EmulatorConfig::default();
    config.timers.stale_after = Duration::from_secs(3600);
    let e = env_with(config).await;
    let hb = json!({"workspace_id": e.main.id, "error_rate": 0.6, "sample_error": "boom"});
    let (s, _, _) = e
        .call(
            Method::POST,
            "/registry/heartbeat",
            Some(&e.main.token),
            Some(&hb),
        )
        .await;
    assert_eq!(s, 200);
    let (_, _, rec) = e
        .call(
            Method::GET,
            &format!("/workspaces/{}", e.main.id),
            None,
            None,
        )
        .await;
    assert_eq!(rec["status"], "degraded", "error_rate >= 0.5 degrades");
    let ok = json!({"workspace_id": e.main.id, "error_rate": 0.0});
    e.call(
        Method::POST,
        "/registry/heartbeat",
        Some(&e.main.token),
        Some(&ok),
    )
    .await;
    let (_, _, rec) = e
        .call(
            Method::GET,
            &format!("/workspaces/{}", e.main.id),
            None,
            None,
        )
        .await;
    assert_eq!(rec["status"], "online");
    assert_eq!(e.emu.workspace_state(e.main.id).unwrap()["stale"], false);
}

#[tokio::test]
async fn removal_chain_401_then_410_while_registry_calls_are_no_ops() {
    let e = env().await;
    let ws = format!("/workspaces/{}", e.main.id);
    let (s, _, _) = e.call(Method::GET, &ws, None, None).await;
    assert_eq!(s, 200);
    e.emu.remove_workspace(e.main.id).unwrap();
    let (s, _, v) = e
        .call(
            Method::GET,
            &format!("{ws}/activity"),
            Some(&e.main.token),
            None,
        )
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (401, "invalid workspace auth token")
    );
    let (s, _, v) = e.call(Method::GET, &ws, None, None).await;
    assert_eq!(s, 410);
    assert_eq!(v["error"], "workspace removed");
    assert_eq!(v["id"], e.main.id.to_string());
    assert_eq!(
        v["hint"],
        "Regenerate workspace + token from the canvas → Tokens tab"
    );
    assert!(v["removed_at"].is_string());
    let (s, _, _) = e
        .call(
            Method::GET,
            &format!("{ws}?include_removed=true"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let hb = json!({"workspace_id": e.main.id});
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/heartbeat",
            Some(&e.main.token),
            Some(&hb),
        )
        .await;
    assert_eq!((s.as_u16(), v["status"].as_str()), (200, Some("ok")));
    let reg = json!({"id": e.main.id, "agent_card": {"name": "m"}, "delivery_mode": "poll"});
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/register",
            Some(&e.main.token),
            Some(&reg),
        )
        .await;
    assert_eq!(s, 200);
    // The token it mints cannot be used: the workspace stays removed.
    let minted = v["auth_token"].as_str().unwrap();
    let (s, _, _) = e
        .call(Method::GET, &format!("{ws}/activity"), Some(minted), None)
        .await;
    assert_eq!(s, 401);
    assert_eq!(e.call(Method::GET, &ws, None, None).await.0, 410);
    // Unknown ids: 404.
    let (s, _, v) = e
        .call(
            Method::GET,
            &format!("/workspaces/{}", Uuid::new_v4()),
            None,
            None,
        )
        .await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (404, "workspace not found")
    );
}

#[tokio::test]
async fn revoked_tokens_get_401_and_missing_ones_say_so() {
    let e = env().await;
    let path = format!("/workspaces/{}/activity", e.main.id);
    let (s, _, v) = e.call(Method::GET, &path, None, None).await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (401, "missing workspace auth token")
    );
    // Another workspace's token is not valid here.
    assert_eq!(
        e.call(Method::GET, &path, Some(&e.peer.token), None)
            .await
            .0,
        401
    );
    assert_eq!(e.emu.revoke_tokens(e.main.id).unwrap(), 1);
    let (s, _, v) = e.call(Method::GET, &path, Some(&e.main.token), None).await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (401, "invalid workspace auth token")
    );
    let fresh = e.emu.mint_token(e.main.id).unwrap();
    assert_eq!(e.call(Method::GET, &path, Some(&fresh), None).await.0, 200);
}

#[tokio::test]
async fn peers_and_discover_follow_the_hierarchy() {
    let e = env().await;
    let (s, _, v) = e
        .call(
            Method::GET,
            &format!("/registry/{}/peers", e.main.id),
            Some(&e.main.token),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let peers = v.as_array().unwrap();
    assert_eq!(peers.len(), 1);
    let p = &peers[0];
    assert_eq!(p["id"], e.peer.id.to_string());
    assert_eq!(
        (p["name"].as_str(), p["role"].as_str()),
        (Some("peer"), Some("reviewer"))
    );
    assert!(p["status"].is_string() && p["url"].is_string(), "{p}");
    let (_, _, v) = e
        .call(
            Method::GET,
            &format!("/registry/{}/peers", e.peer.id),
            Some(&e.peer.token),
            None,
        )
        .await;
    assert_eq!(v[0]["id"], e.main.id.to_string());
    let (s, _, _) = e
        .call(
            Method::GET,
            &format!("/registry/{}/peers", e.main.id),
            Some(&e.peer.token),
            None,
        )
        .await;
    assert_eq!(s, 401);

    let (s, _, v) = e
        .call(
            Method::GET,
            &format!("/registry/discover/{}", e.peer.id),
            Some(&e.main.token),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], "peer");
    let (s, _, _) = e
        .call(
            Method::GET,
            &format!("/registry/discover/{}", Uuid::new_v4()),
            Some(&e.main.token),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let stranger = e.emu.create_workspace(WorkspaceSpec::default()).unwrap();
    let (s, _, _) = e
        .call(
            Method::GET,
            &format!("/registry/discover/{}", e.peer.id),
            Some(&stranger.token),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (_, _, v) = e
        .call(
            Method::GET,
            &format!("/registry/{}/peers", stranger.id),
            Some(&stranger.token),
            None,
        )
        .await;
    assert_eq!(v, json!([]));
}

#[tokio::test]
async fn buildinfo_names_the_generation() {
    let e = env().await;
    let (s, _, v) = e.call(Method::GET, "/buildinfo", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["git_sha"], "molecule-emulator-new");
    let (s, _, v) = e.call(Method::GET, "/no/such/route", None, None).await;
    assert_eq!(
        (s.as_u16(), v),
        (404, Value::String("404 page not found".into()))
    );
}
