//! `GET /workspaces/<id>/activity` (the inbox) and `POST /workspaces/<id>/activity/ack`.

use super::auth::workspace_auth;
use super::error::{ApiError, ok, parse_object, raw_json, read_body};
use crate::app::App;
use crate::query::{ActivityQuery, QueryError, read_feed};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;
use uuid::Uuid;

/// `GET /workspaces/<id>/activity`
pub async fn list(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ws = Uuid::parse_str(&id).ok();
    let mut store = app.store();
    workspace_auth(&app, &store, &headers, ws)?;
    let Some(ws) = ws else {
        return Err(ApiError::workspace_not_found());
    };
    let q = ActivityQuery::parse(&params, app.config.compat).map_err(query_error)?;
    let body =
        read_feed(&mut store, ws, &q, SystemTime::now(), &app.base_url).map_err(query_error)?;
    drop(store);
    let (body, corrupted) = app.faults.corrupt_page(body);
    if let Some(row) = corrupted {
        tracing::debug!(%row, "emulator: a hostile row");
        app.stats.corrupted_row(row);
    }
    Ok(raw_json(StatusCode::OK, body))
}

fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::BadRequest(m) => ApiError::bad_request(m),
        QueryError::Gone => ApiError::new(StatusCode::GONE, e.to_string()),
        QueryError::CursorLookup => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cursor lookup failed")
        }
    }
}

/// `POST /workspaces/<id>/activity/ack` (newer platform): raises the retention watermark.
pub async fn ack(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ws = Uuid::parse_str(&id).ok();
    {
        let store = app.store();
        workspace_auth(&app, &store, &headers, ws)?;
    }
    let ws = ws.ok_or_else(ApiError::workspace_not_found)?;
    let raw = read_body(body, app.config.limits.json_body).await?;
    let obj = parse_object(&raw, "invalid request body")?;
    let seq = match obj.get("acked_seq") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("acked_seq is required")),
        Some(v) => v
            .as_i64()
            .ok_or(ApiError::bad_request("acked_seq is required"))?,
    };
    if seq < 0 {
        return Err(ApiError::bad_request("acked_seq must be >= 0"));
    }
    let stored = app
        .store()
        .update_workspace(ws, |w| {
            w.last_acked_seq = w.last_acked_seq.max(seq);
            w.last_acked_seq
        })?
        .ok_or_else(ApiError::workspace_not_found)?;
    Ok(ok(json!({ "last_acked_seq": stored })))
}
