//! The SPEC's rules for a backend that serves several workspaces (§17), as a transcript shows
//! them: which workspaces are open, that `workspace/open` stays within `maxWorkspaces`, that
//! every `handle_a2a` names an open workspace, and that a call names the workspace it is for.

use molecule_protocol::keys;
use molecule_protocol::methods::{HandleA2aParams, WorkspaceCloseParams, WorkspaceOpenParams};
use serde_json::Value;
use std::collections::HashSet;
use uuid::Uuid;

/// The workspaces of one backend process.
#[derive(Debug, Default)]
pub struct Workspaces {
    /// The workspace of `initialize`.
    pub first: Option<Uuid>,
    /// `maxWorkspaces`, once the backend answered `initialize`.
    pub max: u32,
    /// The workspaces open now.
    pub open: HashSet<Uuid>,
}

impl Workspaces {
    /// The backend answered `initialize`, advertising `max`.
    pub fn initialized(&mut self, max: u32) {
        self.max = max;
        self.open.extend(self.first);
    }

    /// Problems with a `workspace/open`; the workspace it opens (on its result).
    pub fn open_request(&self, params: &Value, out: &mut Vec<String>) -> Option<Uuid> {
        let p: WorkspaceOpenParams = serde_json::from_value(params.clone()).ok()?;
        let id = keys::parse_workspace_id(&p.workspace.id);
        check(
            out,
            self.max > 1,
            "workspace/open goes only to a backend with maxWorkspaces above 1",
        );
        check(
            out,
            self.open.len() < self.max as usize,
            "workspace/open past maxWorkspaces",
        );
        check(
            out,
            id.is_some_and(|id| !self.open.contains(&id)),
            "workspace/open of a workspace open already",
        );
        check(
            out,
            !p.state_dir.is_empty(),
            "workspace/open without a stateDir",
        );
        id
    }

    /// Problems with a `workspace/close`; the workspace it closes (on its result).
    pub fn close_request(&self, params: &Value, out: &mut Vec<String>) -> Option<Uuid> {
        let p: WorkspaceCloseParams = serde_json::from_value(params.clone()).ok()?;
        let id = keys::parse_workspace_id(&p.workspace.id);
        check(
            out,
            id.is_some_and(|id| self.open.contains(&id)),
            "workspace/close of a workspace that is not open",
        );
        id
    }

    /// The workspace a `handle_a2a` is for, with the problems of how it names it.
    pub fn of_request(&self, p: &HandleA2aParams, out: &mut Vec<String>) -> Option<Uuid> {
        let named = p
            .workspace
            .as_ref()
            .and_then(|w| keys::parse_workspace_id(&w.id));
        check(
            out,
            self.max <= 1 || p.workspace.is_some(),
            "handle_a2a to a backend with maxWorkspaces above 1 names its workspace",
        );
        check(
            out,
            p.workspace.is_none() || named.is_some(),
            "handle_a2a's workspace.id is not a UUID",
        );
        let ws = named.or(self.first);
        check(
            out,
            ws.is_some_and(|ws| self.open.contains(&ws)),
            "handle_a2a for a workspace that is not open",
        );
        ws
    }

    /// Problems with a call's `_meta.workspaceId`, given the workspace of the request it names.
    pub fn of_call(&self, params: &Value, request: Option<Option<Uuid>>, out: &mut Vec<String>) {
        let named = params.pointer("/_meta/workspaceId");
        let id = named
            .and_then(Value::as_str)
            .and_then(keys::parse_workspace_id);
        check(
            out,
            named.is_none() || id.is_some_and(|id| self.open.contains(&id)),
            "_meta.workspaceId must name an open workspace",
        );
        match request {
            Some(ws) => check(
                out,
                id.is_none() || id == ws,
                "_meta.workspaceId must be the workspace of _meta.requestId",
            ),
            None => check(
                out,
                self.max <= 1 || id.is_some(),
                "a call outside a request names its workspace in _meta.workspaceId",
            ),
        }
    }
}

fn check(out: &mut Vec<String>, ok: bool, what: &str) {
    if !ok {
        out.push(what.to_owned());
    }
}
