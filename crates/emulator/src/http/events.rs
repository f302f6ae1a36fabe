//! `GET /workspaces/<id>/events/stream`: the workspace's Server-Sent Events stream, as the
//! newer platform serves it (docs/platform-api.md §9): `: ping` when it opens, then one
//! `data: <json>` line and a blank line per event, no keep-alive. The older platform has no
//! such route (its router's 404).
//!
//! The stream faults ([`crate::faults::StreamFaults`]) are applied here, per event, as the
//! events leave: a delay, a drop, and closing the stream after N events.

use super::auth::workspace_auth;
use super::error::{ApiError, route_not_found};
use crate::app::App;
use crate::events::Subscription;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The opening comment, which also flushes the response head.
const PING: &[u8] = b": ping\n\n";

/// `GET /workspaces/<id>/events/stream`
pub async fn stream(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !app.config.compat.is_new() {
        return Ok(route_not_found());
    }
    let ws = Uuid::parse_str(&id).ok();
    let sub = {
        let store = app.store();
        workspace_auth(&app, &store, &headers, ws)?;
        let ws = ws
            .filter(|w| store.workspaces.contains_key(w))
            .ok_or_else(ApiError::workspace_not_found)?;
        // Subscribed under the store's lock: every row written after this answer is announced.
        Open::new(app.clone(), ws)
    };
    app.stats.stream_opened();
    app.chat.touch();
    let body = futures_util::stream::unfold(Some(sub), |open| async move {
        let mut open = open?;
        let next = open.next().await?;
        Some((Ok::<Bytes, Infallible>(next), Some(open)))
    });
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(r)
}

/// One open stream: its subscription, and what it has written. Dropping it (the stream ended
/// or the client went away) unsubscribes.
struct Open {
    app: Arc<App>,
    sub: Subscription,
    pinged: bool,
    sent: u64,
}

impl Open {
    fn new(app: Arc<App>, ws: Uuid) -> Self {
        let sub = app.events.subscribe(ws);
        Open {
            app,
            sub,
            pinged: false,
            sent: 0,
        }
    }

    /// The next bytes to write; `None` ends the stream.
    async fn next(&mut self) -> Option<Bytes> {
        if !std::mem::replace(&mut self.pinged, true) {
            return Some(Bytes::from_static(PING));
        }
        let faults = &self.app.faults;
        if faults.stream().cut_after.is_some_and(|n| self.sent >= n) {
            self.app.stats.streams_cut(1);
            return None;
        }
        loop {
            let event = self.sub.rx.recv().await?;
            let delay = faults.stream().delay_ms;
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if faults.drop_event() {
                self.app.stats.event_dropped_fault();
                continue;
            }
            self.sent += 1;
            self.app.stats.event_sent();
            return Some(event);
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.app.events.unsubscribe(self.sub.key);
        self.app.chat.touch();
    }
}
