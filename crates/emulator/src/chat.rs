//! The conversation the chat page shows: messages sent to a workspace (by the canvas or a peer)
//! and what it sends back (`/notify` calls and `/a2a` messages to others). Readers long-poll.

use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use uuid::Uuid;

/// How many items are kept (older ones fall off; the activity feeds keep everything).
const KEEP: usize = 2000;

/// One chat bubble.
#[derive(Clone, Debug, Serialize)]
pub struct ChatItem {
    /// Position in the log, increasing.
    pub n: u64,
    /// RFC 3339 time.
    pub at: String,
    /// Sender workspace; `None` for the canvas.
    pub from: Option<Uuid>,
    /// Receiving workspace; `None` for the canvas (a `/notify`).
    pub to: Option<Uuid>,
    /// `message` or `notify`.
    pub kind: &'static str,
    /// The text, with attached files named.
    pub text: String,
}

/// The log and its change signal.
#[derive(Debug)]
pub struct ChatLog {
    items: Mutex<(u64, VecDeque<ChatItem>)>,
    changed: watch::Sender<u64>,
}

impl Default for ChatLog {
    fn default() -> Self {
        ChatLog {
            items: Mutex::new((0, VecDeque::new())),
            changed: watch::channel(0).0,
        }
    }
}

impl ChatLog {
    /// Adds a bubble and wakes readers.
    pub fn push(&self, from: Option<Uuid>, to: Option<Uuid>, kind: &'static str, text: String) {
        {
            let mut g = self.items.lock().unwrap_or_else(|p| p.into_inner());
            g.0 += 1;
            let item = ChatItem {
                n: g.0,
                at: molecule_protocol::time::format_rfc3339_millis(SystemTime::now()),
                from,
                to,
                kind,
                text,
            };
            g.1.push_back(item);
            if g.1.len() > KEEP {
                g.1.pop_front();
            }
        }
        self.touch();
    }

    /// Wakes readers without a new bubble (a workspace's state changed).
    pub fn touch(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// Bubbles involving `workspace` after position `after`.
    pub fn since(&self, workspace: Uuid, after: u64) -> Vec<ChatItem> {
        let g = self.items.lock().unwrap_or_else(|p| p.into_inner());
        g.1.iter()
            .filter(|i| i.n > after && (i.from == Some(workspace) || i.to == Some(workspace)))
            .cloned()
            .collect()
    }

    /// Waits until something changes after `seen` or `max` passes; returns the new version.
    pub async fn wait(&self, seen: u64, max: Duration) -> u64 {
        let mut rx = self.changed.subscribe();
        if *rx.borrow() != seen {
            return *rx.borrow();
        }
        let _ = tokio::time::timeout(max, rx.changed()).await;
        *rx.borrow()
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        *self.changed.borrow()
    }
}

/// The readable text of a message body (`params.message.parts`): text parts joined, files named.
pub fn text_of(body: &Value) -> String {
    let Some(parts) = body
        .pointer("/params/message/parts")
        .and_then(Value::as_array)
    else {
        return String::new();
    };
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            out.push(t.to_owned());
        } else if let Some(f) = p.get("file") {
            let name = f.get("name").and_then(Value::as_str).unwrap_or("file");
            out.push(format!("[file: {name}]"));
        } else if let Some(d) = p.get("data") {
            out.push(d.to_string());
        }
    }
    out.join("\n")
}
