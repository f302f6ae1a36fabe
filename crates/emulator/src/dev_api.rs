//! The `/_dev` HTTP API (a path no real platform has) and the chat page at `/`.
//!
//! It needs no token: the emulator listens on loopback for one developer, and `molecule send`
//! against `molecule dev` gets its tokens here so none goes on a command line. It is never
//! rate limited, guarded or faulted.

use super::admin::{self, DevMessage, SendAs, WorkspaceSpec};
use super::app::App;
use super::faults::FaultConfig;
use super::http::error::{ApiError, json_response, ok, parse_object, read_body};
use super::http::uploads::{read_files, stage};
use axum::Router;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const PAGE: &str = include_str!("page.html");

/// The `/_dev` routes and the page.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(page))
        .route("/_dev/workspaces", get(list).post(create))
        .route("/_dev/workspaces/{id}", get(state).delete(remove))
        .route("/_dev/workspaces/{id}/tokens", post(token))
        .route("/_dev/workspaces/{id}/revoke-tokens", post(revoke))
        .route("/_dev/workspaces/{id}/gone-once", post(gone_once))
        .route("/_dev/workspaces/{id}/cut-streams", post(cut_streams))
        .route("/_dev/workspaces/{id}/feed", get(feed))
        .route("/_dev/workspaces/{id}/send", post(send))
        .route("/_dev/workspaces/{id}/uploads", post(upload))
        .route("/_dev/chat/{id}", get(chat))
        .route("/_dev/prune", post(prune))
        .route("/_dev/faults", get(faults).put(set_faults))
        .route("/_dev/admin-token", post(admin_token))
        .route("/_dev/stats", get(stats))
}

fn ws_id(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::workspace_not_found())
}

async fn page() -> Response {
    let mut r = Response::new(Body::from(PAGE));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

async fn list(State(app): State<Arc<App>>) -> Response {
    ok(Value::Array(admin::list_workspaces(&app)))
}

async fn create(State(app): State<Arc<App>>, body: Body) -> Result<Response, ApiError> {
    let raw = read_body(body, 1 << 20).await?;
    let spec: WorkspaceSpec = if raw.iter().all(u8::is_ascii_whitespace) {
        WorkspaceSpec::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let created = admin::create_workspace(&app, spec)?;
    Ok(json_response(StatusCode::CREATED, &json!(created)))
}

async fn state(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    admin::workspace_state(&app, ws_id(&id)?)
        .map(ok)
        .ok_or_else(ApiError::workspace_not_found)
}

async fn remove(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.store().remove_workspace(ws_id(&id)?)?;
    app.chat.touch();
    Ok(ok(json!({"status": "removed"})))
}

async fn token(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = ws_id(&id)?;
    let t = admin::mint_token(&app, id)?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"auth_token": t, "workspace_id": id}),
    ))
}

async fn revoke(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let n = app.store().revoke_tokens(ws_id(&id)?)?;
    Ok(ok(json!({"revoked": n})))
}

async fn gone_once(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.store().gone_once.insert(ws_id(&id)?);
    Ok(ok(json!({"status": "armed"})))
}

async fn cut_streams(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let n = admin::cut_streams(&app, ws_id(&id)?);
    Ok(ok(json!({"cut": n})))
}

async fn feed(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    admin::feed(&app, ws_id(&id)?)
        .map(|rows| ok(Value::Array(rows)))
        .ok_or_else(ApiError::workspace_not_found)
}

/// `{"text", "as": "canvas" | "<workspace id>", "message_id"?, "context_id"?, "parts"?}`
async fn send(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let target = ws_id(&id)?;
    let raw = read_body(body, app.config.limits.json_body).await?;
    let obj = parse_object(&raw, "invalid request body")?;
    let from = match obj.get("as").and_then(Value::as_str) {
        None | Some("canvas") => SendAs::Canvas,
        Some(s) => SendAs::Workspace(
            Uuid::parse_str(s)
                .map_err(|_| ApiError::bad_request("as must be 'canvas' or a workspace id"))?,
        ),
    };
    let msg: DevMessage = serde_json::from_value(Value::Object(obj))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (status, body) = admin::send(&app, target, from, msg).await?;
    Ok(json_response(status, &body))
}

async fn upload(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, ApiError> {
    let ws = ws_id(&id)?;
    let files = read_files(&app, multipart).await?;
    Ok(ok(stage(&app, ws, files)?))
}

/// Long-poll: `?after=<n>&v=<version>&wait_ms=<ms>` answers at once when there is a bubble
/// after `n` or the version moved, otherwise when something happens or the wait ends.
async fn chat(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = ws_id(&id)?;
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    let after = num("after").unwrap_or(0);
    let wait = num("wait_ms")
        .map(Duration::from_millis)
        .unwrap_or(app.config.timers.chat_wait)
        .min(app.config.timers.chat_wait);
    let mut v = app.chat.version();
    if let Some(seen) = num("v")
        && seen == v
        && app.chat.since(id, after).is_empty()
    {
        v = app.chat.wait(seen, wait).await;
    }
    let state = admin::workspace_state(&app, id).ok_or_else(ApiError::workspace_not_found)?;
    let items = app.chat.since(id, after);
    let names: HashMap<String, String> = app
        .store()
        .workspaces
        .values()
        .map(|w| (w.id.to_string(), w.name.clone()))
        .collect();
    Ok(ok(
        json!({"v": v, "items": items, "state": state, "names": names}),
    ))
}

async fn prune(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    Ok(ok(json!({"pruned": admin::prune_now(&app)?})))
}

async fn faults(State(app): State<Arc<App>>) -> Response {
    ok(json!(app.faults.get()))
}

async fn set_faults(State(app): State<Arc<App>>, body: Body) -> Result<Response, ApiError> {
    let raw = read_body(body, 1 << 20).await?;
    let cfg: FaultConfig =
        serde_json::from_slice(&raw).map_err(|e| ApiError::bad_request(e.to_string()))?;
    app.faults.set(cfg.clone());
    Ok(ok(json!(cfg)))
}

/// The canvas-class bearer, for `molecule send --canvas` against `molecule dev` (so that no
/// token has to be copied onto a command line).
async fn admin_token(State(app): State<Arc<App>>) -> Response {
    ok(json!({"admin_token": app.admin_token}))
}

async fn stats(State(app): State<Arc<App>>) -> Response {
    ok(json!(app.stats.snapshot()))
}
