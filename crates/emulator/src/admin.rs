//! What a real platform does through its canvas and operators, done directly: create
//! workspaces and hand out tokens, inspect a feed and a workspace's state, send a message as
//! the canvas or as a workspace, and the one-shot faults (revocation, removal, a lost cursor).
//! Both the Rust API ([`super::Emulator`]) and the `/_dev` HTTP API call these.

use super::app::App;
use super::http::a2a::deliver;
use super::http::auth::Caller;
use super::http::error::ApiError;
use super::model::{DeliveryMode, Status, TokenKind, Workspace};
use super::store::StoreError;
use axum::http::StatusCode;
use molecule_protocol::time::format_rfc3339_nanos;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::SystemTime;
use uuid::Uuid;

/// A workspace to create.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct WorkspaceSpec {
    /// Its id; a fresh one when absent.
    pub id: Option<Uuid>,
    /// Display name; defaults to the id.
    pub name: Option<String>,
    /// Role shown to peers.
    pub role: Option<String>,
    /// Parent workspace. On the newer platform two workspaces may talk only if one is the
    /// other's ancestor or they share a parent, so `molecule dev` makes its peer a child of the
    /// main workspace.
    pub parent_id: Option<Uuid>,
    /// Initial delivery mode (the platform's column default is push; a bridge registers poll).
    pub delivery_mode: Option<DeliveryMode>,
}

/// A created workspace and its first (api) token.
#[derive(Clone, Debug, Serialize)]
pub struct CreatedWorkspace {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// A bearer token for it, shown once.
    pub token: String,
}

/// Who a dev message is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendAs {
    /// A person in the canvas.
    Canvas,
    /// Another workspace.
    Workspace(Uuid),
}

/// A message the dev API sends.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DevMessage {
    /// The text.
    pub text: String,
    /// `messageId`; fresh when absent.
    pub message_id: Option<String>,
    /// `contextId`; for canvas messages on the newer platform a per-workspace default.
    pub context_id: Option<String>,
    /// Extra parts (for example file parts pointing at staged uploads).
    pub parts: Vec<Value>,
}

/// Creates a workspace (status `awaiting_agent`) and mints an api token for it.
pub fn create_workspace(app: &App, spec: WorkspaceSpec) -> Result<CreatedWorkspace, StoreError> {
    let id = spec.id.unwrap_or_else(Uuid::new_v4);
    let mut store = app.store();
    if store.workspaces.contains_key(&id) {
        return Err(StoreError::Exists);
    }
    if let Some(p) = spec.parent_id
        && !store.workspaces.contains_key(&p)
    {
        return Err(StoreError::NoSuchWorkspace);
    }
    let name = spec.name.unwrap_or_else(|| id.to_string());
    let mut ws = Workspace::new(id, name.clone(), SystemTime::now());
    ws.role = spec.role;
    ws.parent_id = spec.parent_id;
    ws.delivery_mode = spec.delivery_mode.unwrap_or_default();
    store.save_workspace(ws)?;
    if app.config.armed.gone_once {
        store.gone_once.insert(id);
    }
    let token = store.mint_token(id, TokenKind::Api)?;
    drop(store);
    app.chat.touch();
    Ok(CreatedWorkspace { id, name, token })
}

/// Mints another api token for a workspace.
pub fn mint_token(app: &App, id: Uuid) -> Result<String, StoreError> {
    let mut store = app.store();
    if store
        .workspaces
        .get(&id)
        .is_none_or(|w| w.status == Status::Removed)
    {
        return Err(StoreError::NoSuchWorkspace);
    }
    store.mint_token(id, TokenKind::Api)
}

/// Closes every open event stream of `id` now; returns how many there were.
pub fn cut_streams(app: &App, id: Uuid) -> usize {
    let n = app.events.cut(id);
    app.stats.streams_cut(n);
    n
}

/// A workspace's state as the chat page shows it (`event_streams`: the streams open for it);
/// `None` when unknown.
pub fn workspace_state(app: &App, id: Uuid) -> Option<Value> {
    let store = app.store();
    let ws = store.workspaces.get(&id)?;
    let now = SystemTime::now();
    let stale_after = app.config.timers.stale_after;
    let feed = store.feeds.get(&id);
    let inbound = |r: &&super::model::Row| {
        r.activity_type == "a2a_receive" && r.method.as_deref() != Some("notify")
    };
    let after = ws
        .last_cursor
        .and_then(|c| store.row_index.get(&c))
        .filter(|(w, _)| *w == id)
        .map(|(_, seq)| *seq);
    let backlog = feed.map_or(0, |f| {
        f.rows
            .iter()
            .filter(inbound)
            .filter(|r| after.is_none_or(|s| r.seq > s))
            .count()
    });
    let ts = |t: Option<SystemTime>| t.map(format_rfc3339_nanos);
    let hb = &ws.heartbeat;
    Some(json!({
        "id": ws.id,
        "name": ws.name,
        "role": ws.role,
        "parent_id": ws.parent_id,
        "status": ws.effective_status(now, stale_after).as_str(),
        "registered": ws.registered_at.is_some(),
        "registered_at": ts(ws.registered_at),
        "delivery_mode": ws.delivery_mode.as_str(),
        "last_heartbeat_at": ts(ws.last_heartbeat_at),
        "stale": ws.status != Status::Removed && ws.is_stale(now, stale_after),
        "uptime_seconds": hb.uptime_seconds,
        "active_tasks": hb.active_tasks,
        "current_task": hb.current_task,
        "error_rate": hb.error_rate,
        "last_error": (!hb.sample_error.is_empty()).then_some(&hb.sample_error),
        "backlog": backlog,
        "event_streams": app.events.open(id),
        "last_cursor": ws.last_cursor,
        "last_polled_at": ts(ws.last_polled_at),
        "last_acked_seq": ws.last_acked_seq,
        "rows": feed.map_or(0, |f| f.rows.len()),
    }))
}

/// Every workspace's state, oldest first.
pub fn list_workspaces(app: &App) -> Vec<Value> {
    let mut ids: Vec<(SystemTime, Uuid)> = app
        .store()
        .workspaces
        .values()
        .map(|w| (w.created_at, w.id))
        .collect();
    ids.sort();
    ids.into_iter()
        .filter_map(|(_, id)| workspace_state(app, id))
        .collect()
}

/// A workspace's whole feed, oldest first, rows as the activity endpoint writes them.
pub fn feed(app: &App, id: Uuid) -> Option<Vec<Value>> {
    let store = app.store();
    store.workspaces.get(&id)?;
    let new = store.compat.is_new();
    Some(store.feeds.get(&id).map_or_else(Vec::new, |f| {
        f.rows
            .iter()
            .filter_map(|r| {
                let seq = if new {
                    format!(",\"seq\":{}", r.seq)
                } else {
                    String::new()
                };
                serde_json::from_str(&format!("{}{seq}}}", r.json_head)).ok()
            })
            .collect()
    }))
}

/// Sends `msg` to `target` as the canvas or as another workspace, through the same proxy
/// logic as `POST /workspaces/<target>/a2a`.
pub async fn send(
    app: &App,
    target: Uuid,
    from: SendAs,
    msg: DevMessage,
) -> Result<(StatusCode, Value), ApiError> {
    let mut parts = Vec::new();
    if !msg.text.is_empty() {
        parts.push(json!({"kind": "text", "text": msg.text}));
    }
    parts.extend(msg.parts);
    if parts.is_empty() {
        return Err(ApiError::bad_request("text or parts is required"));
    }
    let mut message = json!({
        "role": "user",
        "messageId": msg.message_id.unwrap_or_else(|| Uuid::new_v4().to_string()),
        "parts": parts,
    });
    let mut params = json!({});
    let caller = match from {
        SendAs::Canvas => {
            if app.config.compat.is_new() {
                // What the newer platform injects for a canvas session.
                let ctx = msg
                    .context_id
                    .clone()
                    .unwrap_or_else(|| Uuid::new_v5(&target, b"canvas-session").to_string());
                message["contextId"] = json!(ctx);
                params["metadata"] = json!({
                    "source": "canvas_user", "user_identity_status": "UNAUTHENTICATED",
                    "username": "dev",
                });
            }
            Caller::Canvas
        }
        SendAs::Workspace(w) => Caller::Workspace(w),
    };
    if let SendAs::Workspace(_) = from {
        if let Some(ctx) = &msg.context_id {
            message["contextId"] = json!(ctx);
        }
        // Sent as a molecule host's peer would send it (`molecule send`, `peers/send`): a new
        // message at hop 0. Without the mark, a receiving host's loop guard counts each one as
        // a foreign agent's and stops answering after `--foreign-reply-limit` of them.
        message["metadata"] = json!({"molecule": {"hops": 0}});
    }
    params["message"] = message;
    let body =
        json!({"jsonrpc": "2.0", "id": Uuid::new_v4(), "method": "message/send", "params": params});
    if let Caller::Workspace(w) = caller
        && app
            .store()
            .workspaces
            .get(&w)
            .is_none_or(|x| x.status == Status::Removed)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "sender workspace not found",
        ));
    }
    deliver(app, target, caller, body.to_string().as_bytes()).await
}

/// Runs the retention job now; returns how many rows were pruned.
pub fn prune_now(app: &App) -> Result<usize, StoreError> {
    let t = &app.config.timers;
    let n = app
        .store()
        .prune(SystemTime::now(), t.retention, t.hard_retention)?;
    if n > 0 {
        tracing::info!("emulator: pruned {n} activity rows past retention");
    }
    Ok(n)
}
