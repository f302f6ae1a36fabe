//! The derivations of SPEC.md §12 against the published test vectors
//! (`examples/key-vectors.json`, computed independently with Python's `uuid.uuid5`).

#[allow(dead_code)]
mod common;

use common::{examples_dir, read_json};
use molecule_protocol::keys;
use molecule_protocol::methods::{Sender, SenderKind};
use serde_json::Value;

fn vectors(kind: &str) -> Vec<Value> {
    let all = read_json(&examples_dir().join("key-vectors.json"));
    let list = all[kind]
        .as_array()
        .unwrap_or_else(|| panic!("no {kind} vectors"));
    assert!(!list.is_empty(), "no {kind} vectors");
    list.clone()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn workspace(v: &Value) -> uuid::Uuid {
    keys::parse_workspace_id(text(v, "workspaceId")).expect("a workspace UUID")
}

#[test]
fn reply_message_ids_match_the_vectors() {
    for v in vectors("replyMessageId") {
        let got = keys::reply_message_id(&workspace(&v), text(&v, "activityId"));
        assert_eq!(got, text(&v, "expected"), "{v}");
    }
}

#[test]
fn idempotency_keys_match_the_vectors() {
    for v in vectors("idempotencyKey") {
        let got = keys::idempotency_key(&workspace(&v), text(&v, "activityId"));
        assert_eq!(got, text(&v, "expected"), "{v}");
    }
}

#[test]
fn peer_call_message_ids_match_the_vectors() {
    let all = read_json(&examples_dir().join("key-vectors.json"));
    assert_eq!(
        all["namespaces"]["peerCalls"],
        keys::MOLECULE_NAMESPACE.to_string()
    );
    for v in vectors("callMessageId") {
        let index = v["index"].as_u64().expect("index") as u32;
        let got = keys::call_message_id(text(&v, "idempotencyKey"), index);
        assert_eq!(got, text(&v, "expected"), "{v}");
    }
}

#[test]
fn conversation_keys_match_the_vectors() {
    for v in vectors("conversationKey") {
        let sender: Sender = serde_json::from_value(v["sender"].clone()).expect("a sender");
        let got = keys::conversation_key(&sender, v["contextId"].as_str());
        assert_eq!(got, text(&v, "expected"), "{v}");
    }
    let kinds: Vec<SenderKind> = vectors("conversationKey")
        .iter()
        .map(|v| serde_json::from_value(v["sender"]["kind"].clone()).expect("a kind"))
        .collect();
    for kind in [SenderKind::Agent, SenderKind::Canvas, SenderKind::Other] {
        assert!(kinds.contains(&kind), "no vector for {kind:?}");
    }
}

#[test]
fn the_spec_lists_every_vector() {
    let spec = std::fs::read_to_string(common::crate_dir().join("SPEC.md")).expect("SPEC.md");
    for kind in [
        "replyMessageId",
        "idempotencyKey",
        "callMessageId",
        "conversationKey",
    ] {
        for v in vectors(kind) {
            let expected = text(&v, "expected");
            assert!(
                spec.contains(expected),
                "SPEC.md §12.5 lacks {expected} ({kind})"
            );
        }
    }
}
