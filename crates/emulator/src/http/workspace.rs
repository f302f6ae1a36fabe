//! `GET /workspaces/<id>` (with the removed-workspace 410), `GET /workspaces/<id>/state`,
//! `GET /buildinfo` and `POST /workspaces/<id>/notify`.

use super::auth::workspace_auth;
use super::error::{ApiError, json_response, ok, parse_object, read_body};
use crate::app::App;
use crate::model::{NewRow, Status};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use molecule_protocol::time::format_rfc3339_nanos;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;
use uuid::Uuid;

/// `GET /workspaces/<id>`: an open route.
pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::workspace_not_found())?;
    let store = app.store();
    let ws = store
        .workspaces
        .get(&id)
        .ok_or_else(ApiError::workspace_not_found)?;
    let include_removed = params.get("include_removed").is_some_and(|v| v == "true");
    if ws.status == Status::Removed && !include_removed {
        return Err(ApiError::new(StatusCode::GONE, "workspace removed")
            .with("id", id.to_string())
            .with(
                "hint",
                "Regenerate workspace + token from the canvas → Tokens tab",
            )
            .with(
                "removed_at",
                ws.removed_at
                    .map(format_rfc3339_nanos)
                    .map_or(Value::Null, Value::from),
            ));
    }
    Ok(ok(
        ws.to_json(SystemTime::now(), app.config.timers.stale_after)
    ))
}

/// `GET /workspaces/<id>/state`: the short status a remote agent polls, behind the workspace
/// gate (so a removed workspace's own, revoked, token gets `401`). What passes the gate (an admin
/// token) gets `404` with `"deleted": true` for an unknown or removed workspace: clients take
/// that 404 as "shut down" (docs/platform-api.md §3.5).
pub async fn state(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ws = Uuid::parse_str(&id).ok();
    let store = app.store();
    workspace_auth(&app, &store, &headers, ws)?;
    let found = ws.and_then(|ws| store.workspaces.get(&ws));
    let Some(found) = found else {
        let body = json!({"workspace_id": id, "deleted": true});
        return Ok(json_response(StatusCode::NOT_FOUND, &body));
    };
    if found.status == Status::Removed {
        let body = json!({"workspace_id": id, "status": "removed", "deleted": true});
        return Ok(json_response(StatusCode::NOT_FOUND, &body));
    }
    let status = found
        .effective_status(SystemTime::now(), app.config.timers.stale_after)
        .as_str();
    Ok(ok(json!({
        "workspace_id": id,
        "status": status,
        "paused": status == "paused",
        "deleted": false,
    })))
}

/// `GET /buildinfo`
pub async fn buildinfo(State(app): State<Arc<App>>) -> Response {
    let sha = match app.config.compat {
        crate::config::Compat::New => "molecule-emulator-new",
        crate::config::Compat::Old => "molecule-emulator-old",
    };
    ok(json!({ "git_sha": sha, "emulator": true }))
}

/// `POST /workspaces/<id>/notify`: the agent's message to the person in the canvas. Writes the
/// `method: "notify"` row into the workspace's own feed; never deduplicated.
pub async fn notify(
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
    let obj = parse_object(&raw, "message is required")?;
    let message = obj
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or(ApiError::bad_request("message is required"))?
        .to_owned();
    let files = attachments(obj.get("attachments"))?;
    let mut response_body = json!({ "result": message });
    if !files.is_empty() {
        response_body["parts"] = Value::Array(files.clone());
    }
    let summary: String = message.chars().take(80).collect();
    {
        let mut store = app.store();
        if store
            .workspaces
            .get(&ws)
            .is_none_or(|w| w.status == Status::Removed)
        {
            return Err(ApiError::workspace_not_found());
        }
        store.insert_row(NewRow {
            workspace_id: ws,
            activity_type: "a2a_receive".into(),
            method: Some("notify".into()),
            summary: Some(format!("Agent message: {summary}")),
            response_body: Some(response_body),
            status: "ok".into(),
            ..NewRow::default()
        })?;
    }
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.pointer("/file/name").and_then(Value::as_str))
        .map(|n| format!("\n[file: {n}]"))
        .collect();
    app.chat.push(
        Some(ws),
        None,
        "notify",
        format!("{message}{}", names.concat()),
    );
    Ok(ok(json!({ "status": "sent" })))
}

fn attachments(v: Option<&Value>) -> Result<Vec<Value>, ApiError> {
    let Some(Value::Array(items)) = v else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, a) in items.iter().enumerate() {
        let s = |k: &str| a.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let (Some(uri), Some(name)) = (s("uri"), s("name")) else {
            return Err(ApiError::bad_request(format!(
                "attachment[{i}]: uri and name are required"
            )));
        };
        let mut file = json!({ "uri": uri, "name": name });
        if let Some(m) = s("mimeType") {
            file["mimeType"] = json!(m);
        }
        if let Some(size) = a.get("size").and_then(Value::as_u64) {
            file["size"] = json!(size);
        }
        out.push(json!({ "kind": "file", "file": file }));
    }
    Ok(out)
}
