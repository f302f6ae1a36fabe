//! `GET /workspaces/<own id>/events/stream`: the platform's per-workspace Server-Sent Events
//! stream (docs/platform-api.md §9), opened through the same pipeline as every call (headers,
//! the rate limiter as a poll, the token re-read after a 401) and read event by event.
//!
//! The stream is a hint, never a source of truth: events can be lost, late, duplicated or
//! reordered, and carry no row id. Its readers only use them to read the feed sooner.

use std::collections::VecDeque;

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::client::{Answer, PlatformClient};
use super::error::{Call, PlatformError};
use super::sse::{SseItem, SseParser};
use super::transport::transport_error;

/// One event of the stream: the envelope `{"type", "timestamp", "data"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformEvent {
    /// `type`, such as `ACTIVITY_LOGGED`.
    pub kind: String,
    /// `timestamp`, Unix milliseconds, when given.
    pub timestamp: Option<i64>,
    /// `data` (an empty object when absent).
    pub data: Value,
}

impl PlatformEvent {
    /// The event written after the platform commits an activity row.
    pub const ACTIVITY_LOGGED: &'static str = "ACTIVITY_LOGGED";

    /// Reads an envelope; `None` when it is not a JSON object with a string `type`.
    pub fn from_json(text: &str) -> Option<Self> {
        let Value::Object(mut obj) = serde_json::from_str(text).ok()? else {
            return None;
        };
        let kind = obj.get("type")?.as_str()?.to_owned();
        let timestamp = obj.get("timestamp").and_then(Value::as_i64);
        let data = obj
            .remove("data")
            .unwrap_or_else(|| Value::Object(Default::default()));
        Some(PlatformEvent {
            kind,
            timestamp,
            data,
        })
    }

    /// A string member of `data`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }
}

/// What the stream yields.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem {
    /// A readable event.
    Event(PlatformEvent),
    /// An event too large to keep, or whose data is not an envelope: something happened.
    Unreadable,
}

/// An open event stream.
#[derive(Debug)]
pub struct EventStream {
    resp: reqwest::Response,
    parser: SseParser,
    ready: VecDeque<StreamItem>,
}

impl EventStream {
    /// The next item; `Ok(None)` when the platform closed the stream. A broken connection is a
    /// transient error. Cancel-safe between chunks: dropping the future loses no parsed event.
    pub async fn next(&mut self) -> Result<Option<StreamItem>, PlatformError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            let chunk = self
                .resp
                .chunk()
                .await
                .map_err(|e| transport_error(Call::EventStream, &e))?;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            let mut out = Vec::new();
            self.parser.feed(&chunk, &mut out);
            self.ready.extend(out.into_iter().map(|item| {
                match item {
                    SseItem::Event(e) => PlatformEvent::from_json(&e.data)
                        .map_or(StreamItem::Unreadable, StreamItem::Event),
                    SseItem::Oversized => StreamItem::Unreadable,
                }
            }));
        }
    }
}

impl PlatformClient {
    /// Opens `GET /workspaces/<own id>/events/stream`. A platform without the route answers
    /// 404 (the router's, not `workspace not found`) or 405: a [`PlatformError::Permanent`]
    /// with that status. `workspace not found` is [`PlatformError::NoSuchWorkspace`]; a 2xx
    /// that is not `text/event-stream` (a proxy's page) is a decode error.
    pub async fn event_stream(&self) -> Result<EventStream, PlatformError> {
        let own = self.config().workspace_id();
        let url = self
            .config()
            .endpoint(&["workspaces", &own.to_string(), "events", "stream"]);
        let mut req = self.request(Call::EventStream, Method::GET, url);
        req.stream = true;
        let reply = match self.exchange(&req).await? {
            Answer::Stream(resp) => return self.accept(resp),
            Answer::Read(reply) => reply,
        };
        let missing = reply.status == 404
            && serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                .is_some_and(|e| e == "workspace not found");
        Err(match reply.status {
            404 if missing => PlatformError::NoSuchWorkspace { id: own },
            404 | 405 => PlatformError::Permanent {
                call: Call::EventStream,
                status: reply.status,
                excerpt: self.excerpt(&reply.body),
            },
            _ => self.classify(&reply),
        })
    }

    fn accept(&self, resp: reqwest::Response) -> Result<EventStream, PlatformError> {
        let kind = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let essence = kind.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("text/event-stream") {
            return Err(PlatformError::Decode {
                call: Call::EventStream,
                status: resp.status().as_u16(),
                reason: format!("expected text/event-stream, got {kind:?}"),
                excerpt: String::new(),
            });
        }
        let max = self.config().limits.max_event_bytes;
        Ok(EventStream {
            resp,
            parser: SseParser::new(max, max),
            ready: VecDeque::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelopes_are_read_tolerantly() {
        let e = PlatformEvent::from_json(
            r#"{"type":"ACTIVITY_LOGGED","timestamp":1765000000000,"data":{"activity_type":"a2a_receive","extra":1}}"#,
        )
        .expect("event");
        assert_eq!(e.kind, PlatformEvent::ACTIVITY_LOGGED);
        assert_eq!(e.timestamp, Some(1_765_000_000_000));
        assert_eq!(e.field("activity_type"), Some("a2a_receive"));
        assert_eq!(e.field("extra"), None);
        let bare = PlatformEvent::from_json(r#"{"type":"X"}"#).expect("event");
        assert_eq!((bare.timestamp, bare.data), (None, json!({})));
        for bad in ["", "[]", "{}", r#"{"type":3}"#, "not json"] {
            assert_eq!(PlatformEvent::from_json(bad), None, "{bad}");
        }
    }
}
