//! `peers/send` calls waiting for their answer in our own activity feed (`waitMs`), and the
//! [`RowInterceptor`] that hands a matching row to its call instead of the backend.
//!
//! A row answers a waiting call when its message carries `metadata.molecule.inReplyTo` equal to
//! the call's `messageId` (what this host's replies carry), or else when it comes from the
//! called peer with the call's `contextId`. A call registers before it sends, so an answer that
//! arrives at once is not missed; dropping the registration withdraws it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::normalize::parse_request_body;
use molecule_protocol::Part;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::connect::RowInterceptor;
use crate::platform::ActivityRow;

/// The answer a waiting call receives.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The answering row.
    pub row_id: String,
    /// The answer's parts.
    pub parts: Vec<Part>,
}

struct Entry {
    key: u64,
    message_id: String,
    context_id: String,
    peer: String,
    tx: Option<oneshot::Sender<Answer>>,
}

/// The calls waiting for an answer.
#[derive(Default)]
pub struct Waiters {
    entries: Mutex<Vec<Entry>>,
    next: AtomicU64,
}

/// A waiting call; dropping it withdraws the wait.
pub struct Registration {
    waiters: Arc<Waiters>,
    key: u64,
    /// Receives the answer.
    pub rx: oneshot::Receiver<Answer>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.waiters.lock().retain(|e| e.key != self.key);
    }
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the answer to `message_id` (context `context_id`) sent to `peer`.
    pub fn register(
        self: &Arc<Self>,
        message_id: &str,
        context_id: &str,
        peer: &str,
    ) -> Registration {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().push(Entry {
            key,
            message_id: message_id.to_owned(),
            context_id: context_id.to_owned(),
            peer: peer.to_ascii_lowercase(),
            tx: Some(tx),
        });
        Registration {
            waiters: self.clone(),
            key,
            rx,
        }
    }

    /// How many calls are waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no call is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands `row` to the call it answers; `false` when it answers none.
    pub fn offer(&self, row: &ActivityRow) -> bool {
        if row
            .activity_type
            .as_deref()
            .is_some_and(|t| t != "a2a_receive")
        {
            return false;
        }
        let Some(source) = row.source_id.as_deref().map(str::to_ascii_lowercase) else {
            return false;
        };
        let mut entries = self.lock();
        if entries.is_empty() {
            return false;
        }
        let Some(call) = row
            .request_body
            .as_ref()
            .and_then(|b| parse_request_body(b, String::new).ok())
        else {
            return false;
        };
        let message = call.message;
        let in_reply_to = message
            .metadata
            .as_ref()
            .and_then(|m| m.get("molecule"))
            .and_then(|m| m.get("inReplyTo"))
            .and_then(Value::as_str);
        let by_reply = |e: &Entry| in_reply_to == Some(e.message_id.as_str());
        let by_context = |e: &Entry| {
            e.peer == source && message.context_id.as_deref() == Some(e.context_id.as_str())
        };
        let index = entries
            .iter()
            .position(|e| e.tx.is_some() && by_reply(e))
            .or_else(|| entries.iter().position(|e| e.tx.is_some() && by_context(e)));
        let Some(tx) = index.and_then(|i| entries[i].tx.take()) else {
            return false;
        };
        let answer = Answer {
            row_id: row.id.clone(),
            parts: message.parts,
        };
        // A call that gave up in the meantime leaves the row to the backend.
        tx.send(answer).is_ok()
    }
}

/// The interceptor `molecule connect` runs every new row through.
pub struct Interceptor(pub Arc<Waiters>);

impl RowInterceptor for Interceptor {
    fn claim(&self, row: &ActivityRow) -> bool {
        let claimed = self.0.offer(row);
        if claimed {
            tracing::info!(row = %row.id, "row answers a waiting peers/send call");
        }
        claimed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, source: &str, message: Value) -> ActivityRow {
        ActivityRow::from_value(json!({
            "id": id, "activity_type": "a2a_receive", "source_id": source, "method": "message/send",
            "request_body": {"jsonrpc": "2.0", "method": "message/send", "params": {"message": message}}
        }))
        .expect("row")
    }

    #[test]
    fn rows_are_matched_by_in_reply_to_then_by_context() {
        let w = Arc::new(Waiters::default());
        let mut a = w.register("m-1", "ctx-a", "PEER");
        let mut b = w.register("m-2", "ctx-b", "peer");
        let other = row(
            "r0",
            "peer",
            json!({"role": "agent", "messageId": "x", "contextId": "ctx-z", "parts": [{"kind": "text", "text": "no"}]}),
        );
        assert!(!w.offer(&other));
        let by_context = row(
            "r1",
            "peer",
            json!({"role": "agent", "messageId": "y", "contextId": "ctx-b", "parts": [{"kind": "text", "text": "b"}]}),
        );
        assert!(w.offer(&by_context));
        assert_eq!(b.rx.try_recv().expect("b").row_id, "r1");
        let by_reply = row(
            "r2",
            "elsewhere",
            json!({"role": "agent", "messageId": "z", "parts": [{"kind": "text", "text": "a"}],
            "metadata": {"molecule": {"inReplyTo": "m-1", "hops": 1}}}),
        );
        assert!(w.offer(&by_reply));
        assert_eq!(a.rx.try_recv().expect("a").parts, vec![Part::text("a")]);
        assert!(!w.offer(&by_reply), "an answered call takes no second row");
        drop((a, b));
        assert!(w.is_empty());
    }
}
