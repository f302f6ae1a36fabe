//! Waiting for the reply to a sent message, by reading a feed from a cursor taken before the
//! message was sent. Between reads the wait rests on the feed's event stream: it reads again as
//! soon as a row is written to that feed, and at the poll interval when the stream is down
//! (every few seconds besides while it is live, since an event can be lost).
//!
//! - A workspace sender: its own feed, for the message whose `metadata.molecule.inReplyTo` is
//!   the sent `messageId` (SPEC §11.1).
//! - The canvas: the target's feed, for the first `notify` row after the row of the sent
//!   message (SPEC §11.2; the platform keeps no link between the two).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use molecule_host::backoff::Backoff;
use molecule_host::platform::{
    ActivityQuery, ActivityRow, PlatformClient, PlatformError, PlatformEvent,
};
use molecule_host::wake::{StreamSettings, Wake, follow};

use super::auth::Sender;

/// Rows read per page.
const PAGE: u32 = 500;

/// What is being waited for.
#[derive(Debug)]
enum Looking {
    /// An agent's reply to `message_id`.
    InReplyTo(String),
    /// The target's first chat message after the row of `message_id`.
    NotifyAfter { message_id: String, seen_ours: bool },
}

/// Reads a feed for the reply.
#[derive(Debug)]
pub struct Waiter {
    client: PlatformClient,
    cursor: Option<String>,
    looking: Looking,
    wake: Wake,
    /// Ends the stream follower with the wait.
    _stream: DropGuard,
}

impl Waiter {
    /// Takes the cursor (the newest row of the feed `client` reads) before `message_id` is sent,
    /// and starts following the feed's event stream (`stream`).
    pub async fn before_sending(
        client: PlatformClient,
        sender: Sender,
        message_id: &str,
        stream: StreamSettings,
    ) -> Result<Waiter, PlatformError> {
        let query = ActivityQuery {
            activity_type: Some("a2a_receive".into()),
            limit: Some(1),
            ..ActivityQuery::default()
        };
        let cursor = client
            .activity(&query)
            .await?
            .rows
            .first()
            .map(|r| r.id.clone());
        let looking = match sender {
            Sender::Workspace(_) => Looking::InReplyTo(message_id.to_owned()),
            Sender::Canvas => Looking::NotifyAfter {
                message_id: message_id.to_owned(),
                seen_ours: false,
            },
        };
        let cancel = CancellationToken::new();
        let rows: molecule_host::wake::Filter = Arc::new(|e: &PlatformEvent| {
            e.kind == PlatformEvent::ACTIVITY_LOGGED
                && e.field("activity_type").is_none_or(|t| t == "a2a_receive")
        });
        let (wake, _) = follow(client.clone(), stream, rows, cancel.clone());
        Ok(Waiter {
            client,
            cursor,
            looking,
            wake,
            _stream: cancel.drop_guard(),
        })
    }

    /// Reads the feed when the stream says a row was written, or every `interval` (while the
    /// stream is not live), until the reply is there (`Some`, the A2A message) or `deadline`
    /// passes (`None`). A read that fails for a while (5xx, a dropped connection, 429) is tried
    /// again on `retry`'s schedule: the event that set it off is spent, and resting on the
    /// stream would wait for the next safety read. Other errors end the wait.
    pub async fn wait(
        mut self,
        deadline: Instant,
        interval: Duration,
        mut retry: Backoff,
    ) -> Result<Option<Value>, PlatformError> {
        loop {
            let read = Instant::now();
            let again = match self.read_once().await {
                Ok(Some(reply)) => return Ok(Some(reply)),
                Ok(None) => None,
                Err(PlatformError::CursorGone { .. }) => {
                    self.cursor = None;
                    Some(Duration::ZERO)
                }
                Err(e @ (PlatformError::Transient { .. } | PlatformError::RateLimited { .. })) => {
                    tracing::debug!("reading the feed for the reply: {e}");
                    Some(retry.next_delay().max(e.retry_after().unwrap_or_default()))
                }
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                return Ok(None);
            }
            match again {
                Some(delay) => {
                    tokio::time::sleep_until((Instant::now() + delay).min(deadline)).await
                }
                None => {
                    retry.reset();
                    let _ = tokio::time::timeout_at(deadline, self.wake.rest(read, interval)).await;
                }
            }
        }
    }

    /// Reads every row after the cursor once.
    async fn read_once(&mut self) -> Result<Option<Value>, PlatformError> {
        loop {
            let query = ActivityQuery {
                activity_type: Some("a2a_receive".into()),
                since_id: self.cursor.clone(),
                limit: Some(PAGE),
                ..ActivityQuery::default()
            };
            let page = self.client.activity(&query).await?;
            let mut rows = page.rows;
            if self.cursor.is_none() {
                // Without a cursor the platform answers newest first.
                rows.reverse();
            }
            for row in &rows {
                // A stand-in for an id that was not a UUID cannot be a cursor.
                if row.unreadable.as_ref().is_none_or(|u| !u.id_replaced) {
                    self.cursor = Some(row.id.clone());
                }
                if let Some(reply) = self.check(row) {
                    return Ok(Some(reply));
                }
            }
            if page.len < PAGE as usize && !page.more {
                return Ok(None);
            }
        }
    }

    fn check(&mut self, row: &ActivityRow) -> Option<Value> {
        let message = row
            .request_body
            .as_ref()
            .and_then(|b| b.pointer("/params/message"));
        match &mut self.looking {
            Looking::InReplyTo(id) => {
                let m = message?;
                (m.pointer("/metadata/molecule/inReplyTo")?.as_str()? == id).then(|| m.clone())
            }
            Looking::NotifyAfter {
                message_id,
                seen_ours,
            } => {
                if !*seen_ours {
                    let mid = message
                        .and_then(|m| m.get("messageId"))
                        .and_then(Value::as_str);
                    *seen_ours = mid == Some(message_id.as_str());
                    return None;
                }
                (row.method.as_deref() == Some("notify")).then(|| notify_message(row))
            }
        }
    }
}

/// A chat message (`notify` row) as an A2A message: its text, then its attachments.
fn notify_message(row: &ActivityRow) -> Value {
    let body = row.response_body.clone().unwrap_or(Value::Null);
    let mut parts = Vec::new();
    if let Some(text) = body.get("result").and_then(Value::as_str) {
        parts.push(json!({"kind": "text", "text": text}));
    }
    if let Some(files) = body.get("parts").and_then(Value::as_array) {
        parts.extend(files.iter().cloned());
    }
    json!({"kind": "message", "role": "agent", "parts": parts,
           "metadata": {"molecule": {"activityId": row.id, "via": "notify"}}})
}

/// The readable text of a message: text parts, files named with their URI, data as JSON.
pub fn text_of(message: &Value) -> String {
    let parts = message
        .get("parts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = Vec::new();
    for p in parts {
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            out.push(t.to_owned());
        } else if let Some(f) = p.get("file") {
            let name = f.get("name").and_then(Value::as_str).unwrap_or("file");
            let uri = f.get("uri").and_then(Value::as_str).unwrap_or("");
            out.push(format!("[file: {name}] {uri}").trim_end().to_owned());
        } else if let Some(d) = p.get("data") {
            out.push(d.to_string());
        }
    }
    out.join("\n")
}
