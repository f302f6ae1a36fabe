//! The transcript checker's rules for backend → host calls (SPEC §14) and for opening and
//! closing workspaces (§17): params and results through the types, `_meta`, and which
//! workspaces are open.

use super::{Checker, Pending, Side};
use molecule_protocol::RequestId;
use molecule_protocol::host_methods::{
    PeersDiscover, PeersList, PeersSend, SendParams, UserNotify, WorkspaceInfo,
};
use molecule_protocol::methods::{Method, WorkspaceClose, WorkspaceOpen};
use serde_json::Value;
use uuid::Uuid;

impl Checker<'_> {
    /// A backend → host call of a method the protocol defines.
    pub(super) fn host_call(&mut self, method: &str, params: &Value) {
        self.check_meta(params);
        let what = format!("{method} params");
        match method {
            PeersList::NAME => {
                self.round_trip::<<PeersList as Method>::Params>(Side::Backend, &what, params)
            }
            PeersDiscover::NAME => {
                self.round_trip::<<PeersDiscover as Method>::Params>(Side::Backend, &what, params)
            }
            PeersSend::NAME => {
                self.round_trip::<<PeersSend as Method>::Params>(Side::Backend, &what, params);
                let p: Option<SendParams> = serde_json::from_value(params.clone()).ok();
                self.require(
                    p.is_some_and(|p| p.parts.is_some() != p.text.is_some()),
                    "peers/send takes exactly one of parts and text",
                );
            }
            WorkspaceInfo::NAME => {
                self.round_trip::<<WorkspaceInfo as Method>::Params>(Side::Backend, &what, params)
            }
            UserNotify::NAME => {
                self.round_trip::<<UserNotify as Method>::Params>(Side::Backend, &what, params)
            }
            other => self.problem(format!("no types for host method {other}")),
        }
        self.report.features.insert("host method");
    }

    /// `_meta.requestId`, when present, names a request the backend is handling, and
    /// `_meta.workspaceId` the workspace the call is for.
    pub(super) fn check_meta(&mut self, params: &Value) {
        let request = params.pointer("/_meta/requestId").map(|r| {
            serde_json::from_value::<RequestId>(r.clone())
                .ok()
                .and_then(|r| self.pending.get(&(Side::Host, r)))
        });
        let known = request.is_none_or(|r| r.is_some());
        let of_request = request.map(|r| r.and_then(|r| r.workspace));
        self.require(
            known,
            "_meta.requestId must name a request the backend is handling",
        );
        let mut problems = Vec::new();
        self.workspaces.of_call(params, of_request, &mut problems);
        self.problems(problems);
    }

    /// `workspace/open` or `workspace/close`; the workspace it names.
    pub(super) fn workspace_request(
        &mut self,
        side: Side,
        method: &str,
        params: &Value,
    ) -> Option<Uuid> {
        let mut problems = Vec::new();
        let ws = if method == WorkspaceOpen::NAME {
            self.round_trip::<<WorkspaceOpen as Method>::Params>(
                side,
                "workspace/open params",
                params,
            );
            self.workspaces.open_request(params, &mut problems)
        } else {
            self.round_trip::<<WorkspaceClose as Method>::Params>(
                side,
                "workspace/close params",
                params,
            );
            self.workspaces.close_request(params, &mut problems)
        };
        self.problems(problems);
        ws
    }

    /// The result of `workspace/open` or `workspace/close`: the workspace is open, or closed.
    pub(super) fn workspace_result(&mut self, request: &Pending, value: &Value) {
        let Some(ws) = request.workspace else { return };
        if request.method == WorkspaceOpen::NAME {
            self.round_trip::<<WorkspaceOpen as Method>::Result>(
                Side::Backend,
                "workspace/open result",
                value,
            );
            self.workspaces.open.insert(ws);
            self.report.features.insert("workspace opened");
        } else {
            self.round_trip::<<WorkspaceClose as Method>::Result>(
                Side::Backend,
                "workspace/close result",
                value,
            );
            self.workspaces.open.remove(&ws);
            self.report.features.insert("workspace closed");
        }
    }

    /// The result of a backend → host call.
    pub(super) fn host_result(&mut self, method: &str, value: &Value) {
        let what = format!("{method} result");
        match method {
            PeersList::NAME => {
                self.round_trip::<<PeersList as Method>::Result>(Side::Host, &what, value)
            }
            PeersDiscover::NAME => {
                self.round_trip::<<PeersDiscover as Method>::Result>(Side::Host, &what, value)
            }
            PeersSend::NAME => {
                self.round_trip::<<PeersSend as Method>::Result>(Side::Host, &what, value)
            }
            WorkspaceInfo::NAME => {
                self.round_trip::<<WorkspaceInfo as Method>::Result>(Side::Host, &what, value)
            }
            UserNotify::NAME => {
                self.round_trip::<<UserNotify as Method>::Result>(Side::Host, &what, value)
            }
            other => self.problem(format!("{other} is answered with a result")),
        }
    }
}
