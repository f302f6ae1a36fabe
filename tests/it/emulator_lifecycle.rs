//! What a client written elsewhere sees of a workspace's life on the emulator, as on the
//! platform (docs/platform-api.md §3.3–§3.5): `GET /workspaces/<id>/state`, which other clients
//! poll and whose 404 they take as "removed, shut down"; and register and heartbeat for an id
//! the platform never saw.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::emulator_support::env;

#[tokio::test]
async fn state_answers_a_live_workspace_and_404s_only_a_removed_or_unknown_one() {
    let e = env().await;
    let state = |id: Uuid| format!("/workspaces/{id}/state");
    let (s, _, v) = e
        .call(Method::GET, &state(e.main.id), Some(&e.main.token), None)
        .await;
    assert_eq!(s, 200, "{v}");
    let expected = json!({"workspace_id": e.main.id, "status": "awaiting_agent",
                          "paused": false, "deleted": false});
    assert_eq!(v, expected);

    let reg = json!({"id": e.main.id, "agent_card": {"name": "m"}, "delivery_mode": "poll"});
    let (s, _, _) = e
        .call(
            Method::POST,
            "/registry/register",
            Some(&e.main.token),
            Some(&reg),
        )
        .await;
    assert_eq!(s, 200);
    let (_, _, v) = e
        .call(Method::GET, &state(e.main.id), Some(&e.main.token), None)
        .await;
    assert_eq!(v["status"], "online");

    // Behind the workspace gate, like every /workspaces/<id>/… route but /a2a.
    let (s, _, v) = e.call(Method::GET, &state(e.main.id), None, None).await;
    assert_eq!(
        (s.as_u16(), &v["error"]),
        (401, &json!("missing workspace auth token"))
    );
    let (s, _, v) = e
        .call(Method::GET, &state(e.main.id), Some(&e.peer.token), None)
        .await;
    assert_eq!(
        (s.as_u16(), &v["error"]),
        (401, &json!("invalid workspace auth token"))
    );

    // Removed: the workspace's own token is revoked (401); what passes the gate gets the 404.
    e.emu.remove_workspace(e.main.id).expect("remove");
    let (s, _, _) = e
        .call(Method::GET, &state(e.main.id), Some(&e.main.token), None)
        .await;
    assert_eq!(s, 401);
    let admin = Some(e.emu.admin_token());
    let (s, _, v) = e.call(Method::GET, &state(e.main.id), admin, None).await;
    assert_eq!(s, 404);
    let removed = json!({"workspace_id": e.main.id, "status": "removed", "deleted": true});
    assert_eq!(v, removed);
    let unknown = Uuid::new_v4();
    let (s, _, v) = e.call(Method::GET, &state(unknown), admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(v, json!({"workspace_id": unknown, "deleted": true}));
}

#[tokio::test]
async fn a_heartbeat_for_an_unknown_id_is_a_no_op_and_a_register_creates_it() {
    let e = env().await;
    let id = Uuid::new_v4();
    let record = format!("/workspaces/{id}");
    let (s, _, v) = e
        .call(
            Method::POST,
            "/registry/heartbeat",
            None,
            Some(&json!({"workspace_id": id})),
        )
        .await;
    assert_eq!((s.as_u16(), &v), (200, &json!({"status": "ok"})));
    assert_eq!(e.call(Method::GET, &record, None, None).await.0, 404);

    let reg = json!({"id": id, "agent_card": {"name": "x"}, "delivery_mode": "poll"});
    let (s, _, v) = e
        .call(Method::POST, "/registry/register", None, Some(&reg))
        .await;
    assert_eq!(s, 200);
    let token = v["auth_token"]
        .as_str()
        .expect("the first token")
        .to_owned();
    let (s, _, v) = e.call(Method::GET, &record, None, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], id.to_string(), "named after its id");
    let (_, _, v) = e
        .call(Method::GET, &format!("{record}/state"), Some(&token), None)
        .await;
    assert_eq!(v["status"], Value::from("online"));
}
