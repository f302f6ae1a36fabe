//! Pure helpers every side must compute identically: the conversation key, the deterministic
//! reply `messageId`, the idempotency key of a delivery and the ids of peer calls.
//!
//! These derivations are pinned by tests and by SPEC.md: changing one would make an upgraded host
//! send replies that platforms no longer recognise as duplicates of the ones sent before.

use crate::methods::{Sender, SenderKind};
use uuid::Uuid;

/// The namespace of ids that are not tied to one workspace (peer-call message ids).
pub const MOLECULE_NAMESPACE: Uuid = Uuid::from_u128(0x6f0c5e2a_6d7b_4c1e_9a43_2f1d5b8e7c90);

/// The key that orders a conversation: messages with equal keys are handled one at a time.
///
/// It is `agent:<workspace id>`, `canvas` or `other`, followed by `#<contextId>` when the message
/// has a non-empty context id. The part before the first `#` never contains one.
pub fn conversation_key(sender: &Sender, context_id: Option<&str>) -> String {
    let mut key = match (sender.kind, sender.workspace_id.as_deref()) {
        (SenderKind::Agent, Some(id)) => format!("agent:{}", id.to_ascii_lowercase()),
        (SenderKind::Agent, None) => "agent:unknown".to_owned(),
        (SenderKind::Canvas, _) => "canvas".to_owned(),
        (SenderKind::Other, _) => "other".to_owned(),
    };
    if let Some(ctx) = context_id.filter(|c| !c.is_empty()) {
        key.push('#');
        key.push_str(ctx);
    }
    key
}

/// The `messageId` of the automatic reply to activity row `activity_id`: UUIDv5 with the
/// replying workspace's id as namespace and `"reply:" + activity_id` as name.
pub fn reply_message_id(workspace_id: &Uuid, activity_id: &str) -> String {
    Uuid::new_v5(workspace_id, format!("reply:{activity_id}").as_bytes()).to_string()
}

/// The idempotency key of a delivery of row `activity_id`: stable across redeliveries.
pub fn idempotency_key(workspace_id: &Uuid, activity_id: &str) -> String {
    Uuid::new_v5(workspace_id, format!("handle:{activity_id}").as_bytes()).to_string()
}

/// The `messageId` of the `index`-th peer call (counting from 0) made while handling the
/// delivery with `idempotency_key`, so a redelivered message does not delegate the same work
/// twice.
pub fn call_message_id(idempotency_key: &str, index: u32) -> String {
    Uuid::new_v5(
        &MOLECULE_NAMESPACE,
        format!("peer-send:{idempotency_key}:{index}").as_bytes(),
    )
    .to_string()
}

/// Parses a workspace id: a UUID in its hyphenated form (any case, surrounding spaces allowed).
/// Returns the lowercase canonical form.
pub fn parse_workspace_id(s: &str) -> Option<Uuid> {
    let s = s.trim();
    // `Uuid::parse_str` also accepts braced, URN and simple forms; only the hyphenated form can
    // appear in a platform URL.
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str) -> Sender {
        Sender {
            kind: SenderKind::Agent,
            workspace_id: Some(id.into()),
            name: None,
            role: None,
        }
    }

    #[test]
    fn conversation_keys() {
        let a = agent("AAAAAAAA-0000-0000-0000-000000000001");
        assert_eq!(
            conversation_key(&a, None),
            "agent:aaaaaaaa-0000-0000-0000-000000000001"
        );
        assert_eq!(
            conversation_key(&a, Some("")),
            "agent:aaaaaaaa-0000-0000-0000-000000000001"
        );
        assert_eq!(
            conversation_key(&a, Some("c#1")),
            "agent:aaaaaaaa-0000-0000-0000-000000000001#c#1"
        );
        let canvas = Sender {
            kind: SenderKind::Canvas,
            workspace_id: None,
            name: None,
            role: None,
        };
        assert_eq!(conversation_key(&canvas, Some("s1")), "canvas#s1");
    }

    #[test]
    fn derivations_are_pinned() {
        let ws = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();
        // These values are part of the protocol (cross-checked with Python's uuid.uuid5): a change
        // breaks reply dedup across upgrades.
        assert_eq!(
            reply_message_id(&ws, "row-1"),
            "255430a5-d164-55b2-b203-6446af47bf9c"
        );
        assert_eq!(
            idempotency_key(&ws, "row-1"),
            "3c089f08-dfd3-53d3-9106-ac4255318e26"
        );
        assert_eq!(
            call_message_id("k", 0),
            "21bc9149-7d1c-5a2b-b4bd-0891a090d07b"
        );
        assert_ne!(call_message_id("k", 0), call_message_id("k", 1));
    }

    #[test]
    fn workspace_ids_must_be_hyphenated_uuids() {
        assert!(parse_workspace_id(" 11111111-2222-3333-4444-555555555555 ").is_some());
        assert!(parse_workspace_id("11111111222233334444555555555555").is_none());
        assert!(parse_workspace_id("../../etc/passwd").is_none());
        assert!(parse_workspace_id("").is_none());
    }
}
