use super::*;
use serde_json::json;

const OWN: &str = "11111111-2222-3333-4444-555555555555";
const PEER: &str = "AAAAAAAA-0000-0000-0000-000000000001";

fn own() -> Uuid {
    Uuid::parse_str(OWN).unwrap()
}

fn row(v: Value) -> ActivityRow {
    let mut base = json!({"id":"row-1","activity_type":"a2a_receive","method":"message/send",
                          "created_at":"2026-05-06T06:42:13Z"});
    base.as_object_mut()
        .unwrap()
        .extend(v.as_object().unwrap().clone());
    ActivityRow::from_value(base).unwrap()
}

fn msg(meta: Value) -> Value {
    json!({"jsonrpc":"2.0","method":"message/send","params":{"message":{
        "role":"user","messageId":"m1","contextId":"c1","parts":[{"kind":"text","text":"hi"}],
        "metadata": meta}}})
}

#[test]
fn own_rows_are_skipped() {
    assert_eq!(
        classify(&row(json!({"method":"notify"})), own(), 4),
        Class::Skip("own canvas reply")
    );
    let mine = row(json!({"source_id": OWN.to_uppercase(), "request_body": msg(json!({}))}));
    assert_eq!(classify(&mine, own(), 4), Class::Skip("own row"));
}

#[test]
fn agents_and_canvas_senders_are_told_apart() {
    let r = row(
        json!({"source_id": PEER, "peer_name":"Rev", "peer_role":"reviewer", "request_body": msg(json!({}))}),
    );
    let Class::Message(m) = classify(&r, own(), 4) else {
        panic!()
    };
    assert_eq!(m.sender.kind, SenderKind::Agent);
    assert_eq!(m.sender.name.as_deref(), Some("Rev"));
    assert_eq!(
        m.conversation,
        "agent:aaaaaaaa-0000-0000-0000-000000000001#c1"
    );
    assert_eq!(m.reply_to, ReplyTo::Agent(Uuid::parse_str(PEER).unwrap()));

    let mut canvas = msg(json!({}));
    canvas["params"]["metadata"] = json!({"source":"canvas_user"});
    let Class::Message(m) = classify(&row(json!({"request_body": canvas})), own(), 4) else {
        panic!()
    };
    assert_eq!(
        (m.sender.kind, m.reply_to),
        (SenderKind::Canvas, ReplyTo::Canvas)
    );

    let mut hook = msg(json!({}));
    hook["params"]["metadata"] = json!({"source":"webhook"});
    let Class::Message(m) = classify(&row(json!({"request_body": hook})), own(), 4) else {
        panic!()
    };
    assert_eq!(
        (m.sender.kind, m.reply_to),
        (SenderKind::Other, ReplyTo::Canvas)
    );
}

#[test]
fn hops_below_at_and_past_the_limit() {
    let at = |hops: Value| {
        let r = row(
            json!({"source_id": PEER, "request_body": msg(json!({"molecule":{"inReplyTo":"x","hops":hops}}))}),
        );
        classify(&r, own(), 2)
    };
    let Class::Message(m) = at(json!(1)) else {
        panic!()
    };
    assert_eq!(
        (m.hops, m.suppressed, m.in_reply_to.as_deref()),
        (1, false, Some("x"))
    );
    let Class::Message(m) = at(json!("2")) else {
        panic!()
    };
    assert!(m.suppressed);
    assert_eq!(
        at(json!(3)),
        Class::Skip("automatic reply past the hop limit")
    );
}

#[test]
fn unreadable_rows_never_borrow_the_summary() {
    let r = row(json!({"source_id": PEER, "summary":"message/send → main",
                       "request_body": {"params":{"message":{"parts":[{"kind":"text"}]}}}}));
    let Class::Invalid {
        reason, reply_to, ..
    } = classify(&r, own(), 4)
    else {
        panic!()
    };
    assert!(reason.contains("no usable parts"), "{reason}");
    assert!(matches!(reply_to, ReplyTo::Agent(_)));
    let bare = row(json!({"summary":"hello"}));
    assert!(matches!(classify(&bare, own(), 4), Class::Invalid { .. }));
}

#[test]
fn uploads_and_missing_message_ids() {
    let up = row(json!({"method":"chat_upload_receive","request_body":{
        "file_id":"f1","uri":"platform-pending:w/f1","name":"a.png"}}));
    assert_eq!(
        classify(&up, own(), 4),
        Class::Upload(Upload {
            file_id: "f1".into(),
            uri: "platform-pending:w/f1".into(),
            name: Some("a.png".into())
        })
    );
    let body = json!({"params":{"message":{"parts":[{"type":"text","text":"x"}]}}});
    let Class::Message(a) = classify(&row(json!({"request_body": body.clone()})), own(), 4) else {
        panic!()
    };
    let Class::Message(b) = classify(&row(json!({"request_body": body})), own(), 4) else {
        panic!()
    };
    assert_eq!(
        a.message.message_id, b.message.message_id,
        "derived from the row, stable"
    );
}

#[test]
fn a_delegation_result_from_our_own_id_reaches_the_backend_unanswered() {
    let r = row(json!({"source_id": OWN, "method": "delegate_result",
        "request_body": {"delegation_id": "d-7"},
        "response_body": {"text": "the report is done", "delegation_id": "d-7"}}));
    let Class::Message(m) = classify(&r, own(), 4) else {
        panic!("not dispatched")
    };
    assert_eq!(m.reply_to, ReplyTo::Nobody, "a result is not a new task");
    assert_eq!(m.sender.kind, SenderKind::Other);
    assert_eq!(m.message.parts, [Part::text("the report is done")]);
    assert_eq!(
        m.message.metadata.unwrap()["molecule"]["delegationId"],
        json!("d-7")
    );
    let empty = row(json!({"source_id": OWN, "method": "delegate_result", "response_body": {}}));
    assert!(matches!(
        classify(&empty, own(), 4),
        Class::Invalid {
            reply_to: ReplyTo::Nobody,
            ..
        }
    ));
}
