//! Who is calling: the WorkspaceAuth gate, the register/heartbeat bootstrap gate, the `/a2a`
//! caller rules of each platform generation, and the hierarchy rule of who may talk to whom.

use super::error::ApiError;
use super::middleware::bearer;
use crate::app::App;
use crate::config::Compat;
use crate::model::{Status, TokenKind};
use crate::store::Store;
use axum::http::{HeaderMap, StatusCode};
use uuid::Uuid;

/// The caller of an `/a2a` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A workspace (its row gets `source_id` = this id).
    Workspace(Uuid),
    /// A person in the canvas, an admin or org token: `source_id` null.
    Canvas,
}

impl Caller {
    /// The `source_id` of the row this caller's message becomes.
    pub fn source_id(self) -> Option<Uuid> {
        match self {
            Caller::Workspace(id) => Some(id),
            Caller::Canvas => None,
        }
    }
}

/// WorkspaceAuth: the bearer must be a live token of `workspace` (or the admin token).
pub fn workspace_auth(
    app: &App,
    store: &Store,
    headers: &HeaderMap,
    workspace: Option<Uuid>,
) -> Result<(), ApiError> {
    let token = bearer(headers).ok_or(ApiError::unauthorized("missing workspace auth token"))?;
    if token == app.admin_token {
        return Ok(());
    }
    match (workspace, store.token_owner(token)) {
        (Some(ws), Some(owner)) if ws == owner => Ok(()),
        _ => Err(ApiError::unauthorized("invalid workspace auth token")),
    }
}

/// The register/heartbeat gate: a bearer is needed only once the workspace holds a live token
/// (the newer platform counts instance tokens only); before that the call bootstraps.
pub fn registry_gate(
    app: &App,
    store: &Store,
    headers: &HeaderMap,
    workspace: Uuid,
) -> Result<(), ApiError> {
    let kind = app.config.compat.is_new().then_some(TokenKind::Instance);
    if !store.has_live_token(workspace, kind) {
        return Ok(());
    }
    let token = bearer(headers).ok_or(ApiError::unauthorized("missing workspace auth token"))?;
    if store.token_owner(token) == Some(workspace) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("invalid workspace auth token"))
    }
}

/// Resolves the caller of `POST /workspaces/<target>/a2a`.
pub fn a2a_caller(
    app: &App,
    store: &Store,
    headers: &HeaderMap,
    target: Uuid,
) -> Result<Caller, ApiError> {
    let token = bearer(headers);
    let claimed = headers
        .get("x-workspace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if app.config.compat == Compat::New {
        let token = token.ok_or(ApiError::unauthorized("missing caller auth token"))?;
        if token == app.admin_token {
            return Ok(Caller::Canvas);
        }
        let owner = store
            .token_owner(token)
            .ok_or(ApiError::unauthorized("invalid caller auth token"))?;
        if claimed.is_some_and(|c| Uuid::parse_str(c).ok() != Some(owner)) {
            return Err(ApiError::unauthorized(
                "caller ID does not match workspace auth token",
            ));
        }
        return Ok(Caller::Workspace(owner));
    }
    // The older platform trusts X-Workspace-ID, then the bearer's owner, else canvas-class.
    let caller = match claimed {
        Some(c) => {
            let id = Uuid::parse_str(c)
                .map_err(|_| ApiError::new(StatusCode::FORBIDDEN, "invalid caller ID"))?;
            Caller::Workspace(id)
        }
        None => match token.and_then(|t| store.token_owner(t)) {
            Some(owner) => Caller::Workspace(owner),
            None => Caller::Canvas,
        },
    };
    if let Caller::Workspace(c) = caller
        && c != target
        && store.has_live_token(c, None)
    {
        let token = token.ok_or(ApiError::unauthorized("missing caller auth token"))?;
        if store.token_owner(token) != Some(c) {
            return Err(ApiError::unauthorized("invalid caller auth token"));
        }
    }
    Ok(caller)
}

/// `registry.CanCommunicate`: self, siblings, and ancestor/descendant pairs. Root-level
/// workspaces count as siblings only on the older platform.
pub fn can_communicate(store: &Store, a: Uuid, b: Uuid) -> bool {
    if a == b {
        return true;
    }
    let live = |id: &Uuid| {
        store
            .workspaces
            .get(id)
            .filter(|w| w.status != Status::Removed)
    };
    let (Some(wa), Some(wb)) = (live(&a), live(&b)) else {
        return false;
    };
    if wa.parent_id == wb.parent_id && (wa.parent_id.is_some() || !store.compat.is_new()) {
        return true;
    }
    is_ancestor(store, a, b) || is_ancestor(store, b, a)
}

fn is_ancestor(store: &Store, ancestor: Uuid, of: Uuid) -> bool {
    let mut cur = store.workspaces.get(&of).and_then(|w| w.parent_id);
    for _ in 0..64 {
        match cur {
            Some(p) if p == ancestor => return true,
            Some(p) => cur = store.workspaces.get(&p).and_then(|w| w.parent_id),
            None => return false,
        }
    }
    false
}

/// The hierarchy refusal.
pub fn access_denied() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "access denied: workspaces cannot communicate per hierarchy rules",
    )
}
