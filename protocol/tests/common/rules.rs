//! The SPEC's rules for one `handle_a2a` request, checked on its own: derived keys, sender,
//! automatic-reply fields and deadline.

use molecule_protocol::methods::HandleA2aParams;
use molecule_protocol::{SenderKind, keys, time};
use serde_json::Value;
use uuid::Uuid;

/// The problems of `p`, sent to the backend of `workspace`.
pub fn handle_a2a(workspace: Option<&Uuid>, p: &HandleA2aParams) -> Vec<String> {
    let ctx = &p.context;
    let mut out = Vec::new();
    let mut require = |ok: bool, what: String| {
        if !ok {
            out.push(what);
        }
    };
    if let Some(ws) = workspace {
        let key = keys::idempotency_key(ws, &ctx.activity_id);
        require(
            ctx.idempotency_key == key,
            format!("idempotencyKey should be {key}"),
        );
    }
    let conv = keys::conversation_key(&p.sender, p.message.context_id.as_deref());
    require(
        ctx.conversation_key == conv,
        format!("conversationKey should be {conv}"),
    );
    require(
        (p.sender.kind == SenderKind::Agent) == p.sender.workspace_id.is_some(),
        "sender.workspaceId must be set for agents and null otherwise".into(),
    );
    let molecule = p.message.metadata.as_ref().and_then(|m| m.get("molecule"));
    let field = |name: &str| molecule.and_then(|m| m.get(name));
    let hops = field("hops").and_then(Value::as_u64).unwrap_or(0);
    require(
        u64::from(ctx.hops) == hops,
        "context.hops must copy metadata.molecule.hops".into(),
    );
    require(
        ctx.in_reply_to.as_deref() == field("inReplyTo").and_then(Value::as_str),
        "context.inReplyTo must copy metadata.molecule.inReplyTo".into(),
    );
    require(
        ctx.deadline.ends_with('Z') && time::parse_rfc3339(&ctx.deadline).is_some(),
        "deadline must be RFC 3339 in UTC".into(),
    );
    require(
        !p.message.parts.is_empty(),
        "a handle_a2a message always has parts".into(),
    );
    out
}
