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
    DispatchContext::new(
        format!("test-activity-{n}"),
        1,
        format_rfc3339_millis(SystemTime::now() + Duration::from_secs(600)),
        format!("test-idempotency-{n}"),
        "canvas#test-context",
    )
}

/// `handle_a2a` params for a message with these parts, from a person in the canvas.
pub fn params(parts: Vec<Part>) -> HandleA2aParams {
    HandleA2aParams::new(message(parts), Sender::new(SenderKind::Canvas), context())
}

/// `handle_a2a` params for a one-text-part message from a person in the canvas.
pub fn text_params(text: &str) -> HandleA2aParams {
    params(vec![Part::text(text)])
}

/// `handle_a2a` params for a message from another workspace's agent.
pub fn agent_params(text: &str, workspace_id: &str) -> HandleA2aParams {
    let mut p = text_params(text);
    p.sender = Sender::agent(workspace_id);
    p.context.conversation_key = format!("agent:{workspace_id}#test-context");
    p
}

/// The `initialize` params a host sends, offering `host_methods`.
pub fn initialize_params(host_methods: Vec<String>, max_message_bytes: u64) -> InitializeParams {
    InitializeParams::new(
        HostInfo::new(
            "molecule-test-host",
            env!("CARGO_PKG_VERSION"),
            std::process::id(),
        ),
        WorkspaceRef::new(TEST_WORKSPACE_ID).with_name("test"),
        Limits::new(max_message_bytes, 600_000),
        HostCapabilities::default()
            .with_cancel(true)
            .with_progress(true)
            .with_host_methods(host_methods),
    )
}
