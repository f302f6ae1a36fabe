//! Ready-made protocol values for tests: messages, `handle_a2a` params, `initialize` params.

use molecule_protocol::a2a::{MessageKind, Part, Role};
use molecule_protocol::methods::{
    HostCapabilities, HostInfo, InitializeParams, Limits, WorkspaceRef,
};
use molecule_protocol::time::format_rfc3339_millis;
use molecule_protocol::{A2aMessage, DispatchContext, HandleA2aParams, Sender, SenderKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The workspace id the test host announces.
pub const TEST_WORKSPACE_ID: &str = "00000000-0000-4000-8000-00000000000a";

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A user message with these parts and a fresh `messageId`.
pub fn message(parts: Vec<Part>) -> A2aMessage {
    A2aMessage {
        kind: MessageKind::Message,
        role: Role::User,
        message_id: format!("test-message-{}", next()),
        context_id: Some("test-context".to_owned()),
        task_id: None,
        reference_task_ids: None,
        parts,
        metadata: None,
        extensions: None,
    }
}

/// A delivery context with a fresh activity id, first attempt, a deadline ten minutes out.
pub fn context() -> DispatchContext {
    let n = next();
    DispatchContext {
        activity_id: format!("test-activity-{n}"),
        attempt: 1,
        deadline: format_rfc3339_millis(SystemTime::now() + Duration::from_secs(600)),
        idempotency_key: format!("test-idempotency-{n}"),
        conversation_key: "canvas#test-context".to_owned(),
        in_reply_to: None,
        hops: 0,
        reply_suppressed: false,
    }
}

/// `handle_a2a` params for a message with these parts, from a person in the canvas.
pub fn params(parts: Vec<Part>) -> HandleA2aParams {
    HandleA2aParams {
        message: message(parts),
        sender: Sender {
            kind: SenderKind::Canvas,
            workspace_id: None,
            name: None,
            role: None,
        },
        context: context(),
    }
}

/// `handle_a2a` params for a one-text-part message from a person in the canvas.
pub fn text_params(text: &str) -> HandleA2aParams {
    params(vec![Part::text(text)])
}

/// `handle_a2a` params for a message from another workspace's agent.
pub fn agent_params(text: &str, workspace_id: &str) -> HandleA2aParams {
    let mut p = text_params(text);
    p.sender = Sender {
        kind: SenderKind::Agent,
        workspace_id: Some(workspace_id.to_owned()),
        name: None,
        role: None,
    };
    p.context.conversation_key = format!("agent:{workspace_id}#test-context");
    p
}

/// The `initialize` params a host sends, offering `host_methods`.
pub fn initialize_params(host_methods: Vec<String>, max_message_bytes: u64) -> InitializeParams {
    InitializeParams {
        protocol_version: molecule_protocol::PROTOCOL_VERSION,
        host: HostInfo {
            name: "molecule-test-host".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
        },
        workspace: WorkspaceRef {
            id: TEST_WORKSPACE_ID.to_owned(),
            name: Some("test".to_owned()),
        },
        limits: Limits {
            max_message_bytes,
            request_timeout_ms: 600_000,
            idle_timeout_ms: None,
            cancel_grace_ms: None,
        },
        capabilities: HostCapabilities {
            cancel: true,
            progress: true,
            host_methods,
        },
    }
}
