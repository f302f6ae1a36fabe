//! Reading the activity feed: the poll loop ([`Poller`]), first-start and lost-cursor
//! read-backs, the re-reads that catch rows the platform made visible late, and which events
//! of the event stream make it poll at once ([`wakes_the_poller`]).

mod late;
mod page;
mod poller;
mod readback;

pub use poller::{Batch, Fetched, Intake, Link, Poller};

use std::sync::Arc;

use uuid::Uuid;

use crate::platform::{PlatformClient, PlatformError, PlatformEvent};
use crate::wake::Filter;

use super::error::ConnectError;

/// The fatal error for a 401 that stood after the token was re-read: "workspace removed" when
/// `GET /workspaces/<id>` says 410 (the only explicit removal signal), else the 401 itself (the
/// token was revoked or rotated).
pub async fn auth_failure(client: &PlatformClient, unauthorized: PlatformError) -> ConnectError {
    let own: Uuid = client.config().workspace_id();
    match client.get_workspace(own).await {
        Err(e @ PlatformError::Removed { .. }) => ConnectError::Platform(e),
        _ => ConnectError::Platform(unauthorized),
    }
}

/// The events after which the feed holds a row the poller hands on: an activity row written
/// to our feed that is not one of our own (our canvas messages, rows we caused). Anything
/// else is read at the next safety poll anyway.
pub fn wakes_the_poller(own: Uuid) -> Filter {
    Arc::new(move |e: &PlatformEvent| {
        e.kind == PlatformEvent::ACTIVITY_LOGGED
            && e.field("activity_type").is_none_or(|t| t == "a2a_receive")
            && e.field("method") != Some("notify")
            && e.field("source_id").and_then(|s| Uuid::try_parse(s).ok()) != Some(own)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_from_others_wake_the_poller_our_own_rows_do_not() {
        let own = Uuid::new_v4();
        let wakes = wakes_the_poller(own);
        let ev = |data: serde_json::Value| {
            PlatformEvent::from_json(
                &json!({"type": "ACTIVITY_LOGGED", "timestamp": 1, "data": data}).to_string(),
            )
            .expect("event")
        };
        let peer = Uuid::new_v4().to_string();
        assert!(wakes(&ev(
            json!({"activity_type": "a2a_receive", "method": "message/send", "source_id": peer})
        )));
        assert!(wakes(&ev(
            json!({"activity_type": "a2a_receive", "source_id": null})
        )));
        assert!(wakes(&ev(json!({"method": "chat_upload_receive"}))));
        assert!(!wakes(&ev(
            json!({"activity_type": "a2a_receive", "method": "notify"})
        )));
        assert!(!wakes(&ev(
            json!({"activity_type": "a2a_send", "method": "message/send"})
        )));
        let mine = own.to_string().to_uppercase();
        assert!(!wakes(&ev(
            json!({"activity_type": "a2a_receive", "source_id": mine})
        )));
        let other =
            PlatformEvent::from_json(r#"{"type":"AGENT_MESSAGE","data":{}}"#).expect("event");
        assert!(!wakes(&other));
    }
}
