//! The platform's bodies, written exactly and read tolerantly.

use super::*;
use serde_json::json;

#[test]
fn register_always_sends_poll_and_an_empty_url() {
    let req = RegisterRequest {
        id: "11111111-2222-3333-4444-555555555555".into(),
        url: String::new(),
        agent_card: AgentCard {
            name: "echo".into(),
            description: None,
            version: Some("0.1.0".into()),
            skills: None,
        },
        delivery_mode: DeliveryMode::Poll,
    };
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"id":"11111111-2222-3333-4444-555555555555","url":"",
               "agent_card":{"name":"echo","version":"0.1.0"},"delivery_mode":"poll"})
    );
}

#[test]
fn register_responses_are_read_tolerantly_and_never_show_the_token() {
    let r: RegisterResponse = serde_json::from_value(json!({
        "status": "registered", "delivery_mode": "poll", "auth_token": "minted-abc",
        "platform_inbound_secret": "s", "generation": 3
    }))
    .unwrap();
    assert_eq!(r.auth_token.as_ref().unwrap().expose(), "minted-abc");
    assert!(!format!("{r:?}").contains("minted-abc"));
    let odd: RegisterResponse =
        serde_json::from_value(json!({"status": 1, "auth_token": null})).unwrap();
    assert_eq!(odd, RegisterResponse::default());
}

#[test]
fn activity_queries_clamp_and_name_their_parameters() {
    let q = ActivityQuery {
        activity_type: Some("a2a_receive".into()),
        since_id: Some("row-1".into()),
        since_secs: Some(0),
        before_ts: Some("2026-05-01T00:00:00Z".into()),
        limit: Some(9000),
        include_peer_info: true,
        known: Vec::new(),
    };
    let pairs: Vec<String> = q
        .pairs()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(
        pairs,
        [
            "type=a2a_receive",
            "since_id=row-1",
            "since_secs=1",
            "before_ts=2026-05-01T00:00:00Z",
            "limit=500",
            "include=peer_info"
        ]
    );
    assert!(ActivityQuery::default().pairs().is_empty());
}

#[test]
fn rows_need_only_an_id() {
    let row = ActivityRow::from_value(json!({
        "id": "r1", "activity_type": "a2a_receive", "source_id": null, "method": "message/send",
        "request_body": {"params": {}}, "response_body": null, "created_at": "2026-05-06T06:42:13.123456Z",
        "seq": 184467, "peer_name": "Alice", "new_field": [1], "summary": 5
    }))
    .unwrap();
    assert_eq!(row.id, "r1");
    assert_eq!(row.source_id, None);
    assert_eq!(row.summary, None);
    assert_eq!(row.seq, Some(184467));
    assert!(row.request_body.is_some() && row.response_body.is_none());
    assert_eq!(row.raw["new_field"], json!([1]));
    assert!(ActivityRow::from_value(json!({"id": 7})).is_err());
    assert!(ActivityRow::from_value(json!("r1")).is_err());
}

#[test]
fn a2a_answers_are_told_apart() {
    let queued = json!({"status":"queued","delivery_mode":"poll","method":"message/send"});
    assert_eq!(A2aAnswer::from_value(200, queued), A2aAnswer::Queued);
    let async_ = json!({"status":"queued","delivery_mode":"push-async"});
    assert_eq!(A2aAnswer::from_value(200, async_), A2aAnswer::PushAsync);
    let busy = json!({"queued":true,"queue_id":"q1","queue_depth":2});
    assert_eq!(
        A2aAnswer::from_value(202, busy),
        A2aAnswer::BusyQueued {
            queue_id: Some("q1".into()),
            queue_depth: Some(2)
        }
    );
    let msg = json!({"jsonrpc":"2.0","id":1,"result":{"kind":"message","role":"agent","parts":[]}});
    assert!(matches!(
        A2aAnswer::from_value(200, msg),
        A2aAnswer::Message(_)
    ));
    let task = json!({"jsonrpc":"2.0","id":1,"result":{"kind":"task","id":"t","status":{}}});
    assert!(matches!(
        A2aAnswer::from_value(200, task),
        A2aAnswer::Task(_)
    ));
    let err = json!({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"boom"}});
    assert_eq!(
        A2aAnswer::from_value(200, err),
        A2aAnswer::RpcError {
            code: Some(-32603),
            message: "boom".into(),
            data: None
        }
    );
    assert!(matches!(
        A2aAnswer::from_value(200, json!([1])),
        A2aAnswer::Other(_)
    ));
}

#[test]
fn peer_records_take_either_spelling() {
    let p = PeerRecord::from_value(json!({"workspace_id":"w","agent_card":{"name":"Bob"}}));
    assert_eq!(
        (p.id.as_deref(), p.name.as_deref()),
        (Some("w"), Some("Bob"))
    );
    let odd = PeerRecord::from_value(json!("w"));
    assert_eq!(odd.id, None);
    let notify = NotifyRequest {
        message: "hi",
        attachments: &[NotifyAttachment {
            uri: "https://x/a.pdf".into(),
            name: "a.pdf".into(),
            mime_type: Some("application/pdf".into()),
            size: None,
        }],
    };
    assert_eq!(
        serde_json::to_value(&notify).unwrap(),
        json!({"message":"hi","attachments":[{"uri":"https://x/a.pdf","name":"a.pdf","mimeType":"application/pdf"}]})
    );
}
