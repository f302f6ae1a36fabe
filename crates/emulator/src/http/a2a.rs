//! `POST /workspaces/<id>/a2a`, the A2A proxy: authenticate the caller, check the hierarchy,
//! normalise the body, then queue it for a poll-mode target or forward it to a push-mode one.
//!
//! Push-mode targets get a simple synchronous forward of the normalised body to their URL; the
//! answer passes through (502 when the agent cannot be reached, 503 when it has no URL), and an
//! `a2a_receive` row logs the exchange as on the platform.

use super::auth::{Caller, a2a_caller, access_denied, can_communicate};
use super::error::{ApiError, json_response, read_body};
use super::normalize::{Normalized, normalize};
use crate::app::App;
use crate::chat::text_of;
use crate::model::{DeliveryMode, NewRow, Status};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// The route handler.
pub async fn proxy(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limits = &app.config.limits;
    let raw = if app.config.compat.is_new() {
        read_body(body, limits.a2a_body).await?
    } else {
        // The older platform reads through a LimitReader: a longer body is cut, which then
        // fails to parse.
        let mut b = read_body(body, limits.json_body.max(limits.a2a_body)).await?;
        b.truncate(limits.a2a_body);
        b
    };
    let target = Uuid::parse_str(&id).map_err(|_| ApiError::workspace_not_found())?;
    let caller = {
        let store = app.store();
        a2a_caller(&app, &store, &headers, target)?
    };
    let (status, body) = deliver(&app, target, caller, &raw).await?;
    Ok(json_response(status, &body))
}

/// Delivers a message from `caller` to `target` (the proxy's work after authentication; the
/// dev chat calls it directly).
pub async fn deliver(
    app: &App,
    target: Uuid,
    caller: Caller,
    raw: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    // Parsed outside the lock; its errors are reported after access control, as on the
    // platform.
    let norm = normalize(raw, app.config.compat);
    let (norm, mode, url, target_name) = {
        let mut store = app.store();
        let ws = store
            .workspaces
            .get(&target)
            .filter(|w| w.status != Status::Removed)
            .ok_or_else(ApiError::workspace_not_found)?;
        let (mode, url, name) = (ws.delivery_mode, ws.url.clone(), ws.name.clone());
        if let Caller::Workspace(c) = caller
            && !can_communicate(&store, c, target)
        {
            return Err(access_denied());
        }
        let norm = norm?;
        if mode == DeliveryMode::Poll {
            let text = text_of(&norm.body);
            let summary = format!("{} → {name} (queued for poll)", norm.method);
            let method = norm.method.clone();
            let inserted = store.insert_row(receive_row(norm, caller, target, summary))?;
            drop(store);
            if inserted.deduplicated {
                app.stats.deduplicated();
            } else {
                app.chat
                    .push(caller.source_id(), Some(target), "message", text);
            }
            let body = json!({"status": "queued", "delivery_mode": "poll", "method": method});
            return Ok((StatusCode::OK, body));
        }
        (norm, mode, url, name)
    };
    debug_assert_eq!(mode, DeliveryMode::Push);
    forward(app, target, caller, norm, url, &target_name).await
}

fn receive_row(norm: Normalized, caller: Caller, target: Uuid, summary: String) -> NewRow {
    NewRow {
        workspace_id: target,
        activity_type: "a2a_receive".into(),
        source_id: caller.source_id(),
        target_id: Some(target),
        method: Some(norm.method),
        summary: Some(summary),
        request_body: Some(norm.body),
        status: "ok".into(),
        message_id: norm.message_id,
        ..NewRow::default()
    }
}

async fn forward(
    app: &App,
    target: Uuid,
    caller: Caller,
    norm: Normalized,
    url: Option<String>,
    name: &str,
) -> Result<(StatusCode, Value), ApiError> {
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        return Err(
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "workspace has no URL")
                .with("status", "awaiting_agent"),
        );
    };
    app.chat.push(
        caller.source_id(),
        Some(target),
        "message",
        text_of(&norm.body),
    );
    let started = Instant::now();
    let mut req = app
        .http
        .post(&url)
        .timeout(app.config.timers.push_timeout)
        .json(&norm.body);
    if let Caller::Workspace(c) = caller {
        req = req.header("X-Workspace-ID", c.to_string());
    }
    let sent = match req.send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let bytes = resp.bytes().await.unwrap_or_default();
            let body = serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}));
            Ok((status, body))
        }
        Err(e) => {
            tracing::debug!("emulator: push forward to {url} failed: {e}");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "failed to reach workspace agent",
            ))
        }
    };
    let summary = format!("{} → {name}", norm.method);
    let mut row = receive_row(norm, caller, target, summary);
    row.duration_ms = Some(started.elapsed().as_millis() as i64);
    match &sent {
        Ok((_, body)) => row.response_body = Some(body.clone()),
        Err(_) => {
            row.status = "error".into();
            row.error_detail = Some("failed to reach workspace agent".into());
        }
    }
    app.store().insert_row(row)?;
    sent
}
