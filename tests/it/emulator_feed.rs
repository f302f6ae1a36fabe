//! The emulator's activity feed: orderings, paging, cursors and their 410s, limits, the 400s,
//! filters, peer info, seq and retention.

use crate::emulator_support::{env, env_with, message, texts};
use molecule_emulator::{Compat, EmulatorConfig};
use molecule_protocol::time::parse_rfc3339;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

const GONE: &str = "since_id cursor not found (row may have been pruned or belongs to a different workspace); omit since_id to reset";

#[tokio::test]
async fn newest_first_without_a_cursor_and_oldest_first_after_one() {
    let e = env().await;
    for t in ["a", "b", "c", "d"] {
        e.peer_says(t).await;
    }
    let desc = e.rows("type=a2a_receive").await;
    assert_eq!(texts(&desc), ["d", "c", "b", "a"]);
    let cursor = desc[3]["id"].as_str().unwrap(); // "a"
    let asc = e.rows(&format!("type=a2a_receive&since_id={cursor}")).await;
    assert_eq!(texts(&asc), ["b", "c", "d"]);
    let seqs: Vec<i64> = asc.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let newest = desc[0]["id"].as_str().unwrap();
    assert!(e.rows(&format!("since_id={newest}")).await.is_empty());
    // created_at is RFC 3339 with nanoseconds, strictly increasing.
    let ts: Vec<&str> = asc
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(
        ts.iter().all(|t| t.len() == 30 && t.ends_with('Z')),
        "{ts:?}"
    );
    let parsed: Vec<_> = ts.iter().map(|t| parse_rfc3339(t).unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn a_row_has_the_platform_shape() {
    let e = env().await;
    let mid = e.peer_says("hello").await;
    let row = &e.rows("").await[0];
    for key in [
        "id",
        "workspace_id",
        "activity_type",
        "source_id",
        "target_id",
        "method",
        "summary",
        "request_body",
        "duration_ms",
        "status",
        "error_detail",
        "created_at",
        "seq",
    ] {
        assert!(row.get(key).is_some(), "missing {key} in {row}");
    }
    assert!(
        row.get("response_body").is_none(),
        "absent when null: {row}"
    );
    assert_eq!(row["workspace_id"], e.main.id.to_string());
    assert_eq!(row["source_id"], e.peer.id.to_string());
    assert_eq!(row["target_id"], e.main.id.to_string());
    assert_eq!(row["method"], "message/send");
    assert_eq!(row["summary"], "message/send → main (queued for poll)");
    assert_eq!(row["request_body"]["params"]["message"]["messageId"], mid);
}

#[tokio::test]
async fn pages_back_with_before_ts() {
    let e = env().await;
    for i in 0..7 {
        e.peer_says(&format!("m{i}")).await;
    }
    let mut seen = Vec::new();
    let mut page = e.rows("limit=3").await;
    loop {
        seen.extend(texts(&page));
        if page.len() < 3 {
            break;
        }
        let oldest = page.last().unwrap()["created_at"]
            .as_str()
            .unwrap()
            .to_owned();
        page = e.rows(&format!("limit=3&before_ts={oldest}")).await;
    }
    assert_eq!(seen, ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
}

#[tokio::test]
async fn limit_defaults_to_100_clamps_at_500_and_ignores_garbage() {
    let e = env().await;
    for i in 0..505 {
        e.emu
            .send(
                e.main.id,
                molecule_emulator::SendAs::Canvas,
                molecule_emulator::DevMessage {
                    text: format!("n{i}"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(e.rows("").await.len(), 100);
    assert_eq!(e.rows("limit=7").await.len(), 7);
    assert_eq!(e.rows("limit=100000").await.len(), 500);
    for garbage in ["0", "-5", "lots", ""] {
        assert_eq!(
            e.rows(&format!("limit={garbage}")).await.len(),
            100,
            "{garbage}"
        );
    }
}

#[tokio::test]
async fn unknown_foreign_and_malformed_cursors() {
    let e = env().await;
    e.peer_says("x").await;
    let (s, v) = e
        .activity("since_id=00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!((s.as_u16(), v["error"].as_str().unwrap()), (410, GONE));
    // A row id of another workspace's feed: same 410, nothing leaks.
    let mid = uuid::Uuid::new_v4().to_string();
    let (s, _) = e
        .a2a(e.peer.id, &e.main.token, &message("to peer", &mid))
        .await;
    assert_eq!(s, 200);
    let foreign = e.emu.feed(e.peer.id).unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = e.activity(&format!("since_id={foreign}")).await;
    assert_eq!((s.as_u16(), v["error"].as_str().unwrap()), (410, GONE));
    // A non-UUID cursor fails the platform's database cast: 500, not 410.
    let (s, v) = e.activity("since_id=42").await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str().unwrap()),
        (500, "cursor lookup failed")
    );
}

#[tokio::test]
async fn a_pruned_cursor_answers_410_and_one_shot_410_fires_once() {
    let mut config = EmulatorConfig::default();
    config.timers.hard_retention = Duration::ZERO;
    let e = env_with(config).await;
    e.peer_says("old").await;
    let cursor = e.rows("").await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(e.activity(&format!("since_id={cursor}")).await.0, 200);
    assert_eq!(e.emu.prune_now().unwrap(), 1);
    let (s, v) = e.activity(&format!("since_id={cursor}")).await;
    assert_eq!((s.as_u16(), v["error"].as_str().unwrap()), (410, GONE));

    let e = env().await;
    e.peer_says("kept").await;
    let cursor = e.rows("").await[0]["id"].as_str().unwrap().to_owned();
    e.emu.gone_once(e.main.id);
    assert_eq!(e.activity(&format!("since_id={cursor}")).await.0, 410);
    assert_eq!(e.activity(&format!("since_id={cursor}")).await.0, 200);
}

#[tokio::test]
async fn newer_platform_keeps_unacked_rows_past_soft_retention() {
    let mut config = EmulatorConfig::default();
    config.timers.retention = Duration::ZERO;
    let e = env_with(config).await;
    e.peer_says("one").await;
    e.peer_says("two").await;
    let rows = e.rows("").await;
    assert_eq!(e.emu.prune_now().unwrap(), 0, "nothing acked yet");
    let first_seq = rows[1]["seq"].as_i64().unwrap();
    let path = format!("/workspaces/{}/activity/ack", e.main.id);
    let ack = serde_json::json!({"acked_seq": first_seq});
    let (s, _, v) = e
        .call(Method::POST, &path, Some(&e.main.token), Some(&ack))
        .await;
    assert_eq!(
        (s.as_u16(), v["last_acked_seq"].as_i64()),
        (200, Some(first_seq))
    );
    // Monotonic: a lower ack keeps the stored value.
    let low = serde_json::json!({"acked_seq": 0});
    let (_, _, v) = e
        .call(Method::POST, &path, Some(&e.main.token), Some(&low))
        .await;
    assert_eq!(v["last_acked_seq"].as_i64(), Some(first_seq));
    assert_eq!(e.emu.prune_now().unwrap(), 1);
    assert_eq!(texts(&e.rows("").await), ["two"]);
    for (body, msg) in [
        (serde_json::json!({}), "acked_seq is required"),
        (
            serde_json::json!({"acked_seq": -1}),
            "acked_seq must be >= 0",
        ),
    ] {
        let (s, _, v) = e
            .call(Method::POST, &path, Some(&e.main.token), Some(&body))
            .await;
        assert_eq!((s.as_u16(), v["error"].as_str().unwrap()), (400, msg));
    }
}

#[tokio::test]
async fn the_400s_have_the_platform_messages() {
    let e = env().await;
    for (q, msg) in [
        ("since_secs=0", "since_secs must be a positive integer"),
        ("since_secs=-4", "since_secs must be a positive integer"),
        ("since_secs=soon", "since_secs must be a positive integer"),
        ("source=robot", "source must be 'canvas' or 'agent'"),
        ("peer_id=bob", "peer_id must be a UUID"),
        (
            "before_ts=tuesday",
            "before_ts must be an RFC3339 timestamp (e.g. 2026-05-01T00:00:00Z)",
        ),
    ] {
        let (s, v) = e.activity(q).await;
        assert_eq!(
            (s.as_u16(), v["error"].as_str().unwrap()),
            (400, msg),
            "{q}"
        );
    }
}

#[tokio::test]
async fn filters_by_type_source_peer_and_window() {
    let e = env().await;
    e.peer_says("from peer").await;
    e.emu
        .send(
            e.main.id,
            molecule_emulator::SendAs::Canvas,
            molecule_emulator::DevMessage {
                text: "from canvas".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let notify = serde_json::json!({"message": "reply"});
    let path = format!("/workspaces/{}/notify", e.main.id);
    assert_eq!(
        e.call(Method::POST, &path, Some(&e.main.token), Some(&notify))
            .await
            .0,
        200
    );
    assert_eq!(e.rows("type=a2a_receive").await.len(), 3);
    assert!(e.rows("type=task_update").await.is_empty());
    assert_eq!(texts(&e.rows("source=agent").await), ["from peer"]);
    let canvas = e.rows("source=canvas").await;
    assert_eq!(canvas.len(), 2);
    assert_eq!(canvas[0]["method"], "notify");
    assert_eq!(
        texts(&e.rows(&format!("peer_id={}", e.peer.id)).await),
        ["from peer"]
    );
    assert_eq!(e.rows("since_secs=3600").await.len(), 3);
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(e.rows(&format!("before_ts={future}")).await.len(), 3);
    assert!(e.rows("before_ts=2000-01-01T00:00:00Z").await.is_empty());
}

#[tokio::test]
async fn include_peer_info_adds_sender_name_role_and_attachments() {
    let e = env().await;
    let body = serde_json::json!({"jsonrpc":"2.0","id":"1","method":"message/send","params":{"message":{
        "role":"user","messageId":"m-file","parts":[{"kind":"text","text":"see"},
        {"kind":"file","file":{"name":"a.png","mimeType":"image/png","uri":"https://x/a.png"}}]}}});
    assert_eq!(e.a2a(e.main.id, &e.peer.token, &body).await.0, 200);
    let row = &e.rows("include=peer_info").await[0];
    assert_eq!(row["peer_name"], "peer");
    assert_eq!(row["peer_role"], "reviewer");
    let card = format!("{}/registry/discover/{}", e.emu.base_url(), e.peer.id);
    assert_eq!(row["agent_card_url"], card.as_str());
    assert_eq!(row["attachments"][0]["kind"], "image");
    assert_eq!(row["attachments"][0]["uri"], "https://x/a.png");
    assert!(e.rows("").await[0].get("peer_name").is_none());
}

#[tokio::test]
async fn older_platform_has_no_seq_no_peer_info_and_no_ack() {
    let e = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    e.peer_says("x").await;
    let row = &e.rows("include=peer_info").await[0];
    assert!(row.get("seq").is_none(), "{row}");
    assert!(row.get("peer_name").is_none(), "{row}");
    let path = format!("/workspaces/{}/activity/ack", e.main.id);
    let body = serde_json::json!({"acked_seq": 1});
    let (s, _, v) = e
        .call(Method::POST, &path, Some(&e.main.token), Some(&body))
        .await;
    assert_eq!(s, 404);
    assert_eq!(v, Value::String("404 page not found".into()));
}
