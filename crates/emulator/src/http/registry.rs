//! `POST /registry/register`, `POST /registry/heartbeat`, and the peer lookups
//! `GET /registry/<id>/peers` and `GET /registry/discover/<id>`.

use super::auth::{Caller, access_denied, can_communicate, registry_gate, workspace_auth};
use super::error::{ApiError, ok, parse_object, read_body};
use super::middleware::bearer;
use crate::app::App;
use crate::model::{DeliveryMode, HeartbeatInfo, Status, TokenKind, Workspace};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::SystemTime;
use uuid::Uuid;

const BAD_BODY: &str = "invalid request body";

/// A register body, validated as the platform's binding does.
struct RegisterPayload {
    id: Uuid,
    agent_card: Value,
    mode: Option<DeliveryMode>,
    url: Option<String>,
}

fn parse_register(raw: &[u8]) -> Result<RegisterPayload, ApiError> {
    let obj = parse_object(raw, BAD_BODY)?;
    let (Some(Value::String(id)), Some(card)) = (obj.get("id"), obj.get("agent_card")) else {
        return Err(ApiError::bad_request(BAD_BODY));
    };
    let mode = match obj.get("delivery_mode") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "push" => Some(DeliveryMode::Push),
        Some(Value::String(s)) if s == "poll" => Some(DeliveryMode::Poll),
        Some(_) => {
            return Err(ApiError::bad_request(
                "delivery_mode must be 'push' or 'poll'",
            ));
        }
    };
    // A non-UUID id fails the database cast on the platform.
    let id = Uuid::parse_str(id)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "registration failed"))?;
    let url = obj
        .get("url")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok(RegisterPayload {
        id,
        agent_card: card.clone(),
        mode,
        url,
    })
}

/// Push mode needs a URL. The platform also SSRF-checks it; the emulator accepts loopback
/// addresses, since that is where local agents listen.
fn check_push_url(url: Option<&str>) -> Result<(), ApiError> {
    match url {
        None => Err(ApiError::bad_request(
            "url is required for push-mode workspaces",
        )),
        Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
            Err(ApiError::bad_request("invalid agent URL: must be http(s)"))
        }
        Some(_) => Ok(()),
    }
}

/// `POST /registry/register`
pub async fn register(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let raw = read_body(body, app.config.limits.json_body).await?;
    let p = parse_register(&raw)?;
    let mut store = app.store();
    registry_gate(&app, &store, &headers, p.id)?;
    let existing = store.workspaces.get(&p.id).cloned();
    let mode = p
        .mode
        .or(existing.as_ref().map(|w| w.delivery_mode))
        .unwrap_or_default();
    if mode == DeliveryMode::Push {
        check_push_url(p.url.as_deref())?;
    }
    let now = SystemTime::now();
    let mut ws = existing.unwrap_or_else(|| Workspace::new(p.id, p.id.to_string(), now));
    let secret = ws.inbound_secret.clone();
    // A removed workspace is never updated, yet the call answers 200.
    if ws.status != Status::Removed {
        ws.status = Status::Online;
        ws.last_heartbeat_at = Some(now);
        ws.registered_at = Some(now);
        ws.agent_card = Some(p.agent_card);
        ws.delivery_mode = mode;
        if mode == DeliveryMode::Push {
            ws.url = p.url;
        }
        store.save_workspace(ws)?;
    }
    let kind = app.config.compat.is_new().then_some(TokenKind::Instance);
    let minted = if store.has_live_token(p.id, kind) {
        None
    } else {
        Some(store.mint_token(p.id, TokenKind::Instance)?)
    };
    drop(store);
    app.chat.touch();
    let mut resp = json!({"status": "registered", "delivery_mode": mode.as_str()});
    if let Some(t) = minted {
        resp["auth_token"] = json!(t);
    }
    resp["platform_inbound_secret"] = json!(secret);
    Ok(ok(resp))
}

/// `POST /registry/heartbeat`
pub async fn heartbeat(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let raw = read_body(body, app.config.limits.json_body).await?;
    let obj = parse_object(&raw, BAD_BODY)?;
    let Some(Value::String(id)) = obj.get("workspace_id") else {
        return Err(ApiError::bad_request(BAD_BODY));
    };
    let id = Uuid::parse_str(id)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "failed to update"))?;
    let info = heartbeat_info(&obj);
    let mut store = app.store();
    registry_gate(&app, &store, &headers, id)?;
    let now = SystemTime::now();
    let stale_after = app.config.timers.stale_after;
    let updated = store.update_workspace(id, |ws| {
        if ws.status == Status::Removed {
            return None; // the platform's UPDATE skips removed rows
        }
        ws.status = next_status(ws.effective_status(now, stale_after), &info);
        ws.last_heartbeat_at = Some(now);
        ws.heartbeat = info;
        ws.generation += 1;
        Some((ws.inbound_secret.clone(), ws.generation))
    })?;
    drop(store);
    app.chat.touch();
    let mut resp = json!({"status": "ok"});
    if let Some(Some((secret, generation))) = updated {
        resp["platform_inbound_secret"] = json!(secret);
        if app.config.compat.is_new() {
            resp["generation"] = json!(generation);
        }
    }
    Ok(ok(resp))
}

fn heartbeat_info(obj: &Map<String, Value>) -> HeartbeatInfo {
    let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let i = |k: &str| obj.get(k).and_then(Value::as_i64).unwrap_or(0);
    HeartbeatInfo {
        uptime_seconds: i("uptime_seconds"),
        active_tasks: i("active_tasks"),
        current_task: s("current_task"),
        error_rate: obj.get("error_rate").and_then(Value::as_f64).unwrap_or(0.0),
        sample_error: s("sample_error"),
        runtime_state: s("runtime_state"),
    }
}

/// The platform's `evaluateStatus`.
fn next_status(current: Status, hb: &HeartbeatInfo) -> Status {
    let current = match current {
        Status::AwaitingAgent => Status::Online,
        s => s,
    };
    let unhealthy = hb.runtime_state == "wedged" || hb.error_rate >= 0.5;
    match current {
        Status::Online if unhealthy => Status::Degraded,
        Status::Degraded if hb.error_rate < 0.1 && hb.runtime_state.is_empty() => Status::Online,
        s => s,
    }
}

/// `GET /registry/<id>/peers`: every live workspace `<id>` may talk to.
pub async fn peers(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).ok();
    let store = app.store();
    workspace_auth(&app, &store, &headers, id)?;
    let id = id.ok_or_else(ApiError::workspace_not_found)?;
    if store
        .workspaces
        .get(&id)
        .is_none_or(|w| w.status == Status::Removed)
    {
        return Err(ApiError::workspace_not_found());
    }
    let now = SystemTime::now();
    let mut list: Vec<&Workspace> = store
        .workspaces
        .values()
        .filter(|w| w.id != id && w.status != Status::Removed && can_communicate(&store, id, w.id))
        .collect();
    list.sort_by_key(|w| w.created_at);
    let stale = app.config.timers.stale_after;
    let out: Vec<Value> = list
        .into_iter()
        .map(|w| w.peer_json(now, stale, &app.base_url))
        .collect();
    Ok(ok(Value::Array(out)))
}

/// `GET /registry/discover/<id>`: one workspace's `{id, name, role, status, url}`.
pub async fn discover(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let store = app.store();
    let token = bearer(&headers).ok_or(ApiError::unauthorized("missing workspace auth token"))?;
    let caller = if token == app.admin_token {
        Caller::Canvas
    } else {
        Caller::Workspace(
            store
                .token_owner(token)
                .ok_or(ApiError::unauthorized("invalid workspace auth token"))?,
        )
    };
    let target = Uuid::parse_str(&id).map_err(|_| ApiError::workspace_not_found())?;
    let ws = store
        .workspaces
        .get(&target)
        .filter(|w| w.status != Status::Removed)
        .ok_or_else(ApiError::workspace_not_found)?;
    if let Caller::Workspace(c) = caller
        && !can_communicate(&store, c, target)
    {
        return Err(access_denied());
    }
    let stale = app.config.timers.stale_after;
    Ok(ok(ws.peer_json(SystemTime::now(), stale, &app.base_url)))
}
