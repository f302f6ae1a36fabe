//! The host the checker plays for the backend's own calls (SPEC §14). It lists every host
//! method in `hostMethods`, checks each call's params as the host does ([`validate`]), and
//! answers from a [`Script`]: canned results, one error class for every call (to see the backend
//! handle it), or nothing yet (held, so that a check can cancel the request first). The same
//! script serves the Unix socket named in `MOLECULE_HOST_SOCKET` ([`socket`]).

pub mod socket;
pub mod validate;

use std::sync::{Mutex, MutexGuard};

use molecule_protocol::code;
use molecule_protocol::host_methods::{
    DiscoverParams, DiscoverResult, NotifyResult, Peer, PeersListResult, SendParams, SendResult,
    WorkspaceInfoResult,
};
use molecule_protocol::methods::name;
use molecule_protocol::{ErrorData, RpcError};
use serde_json::{Value, json};
use uuid::Uuid;

use super::plan::WORKSPACE_ID;

/// The one peer the scripted host knows.
pub const PEER_ID: &str = "6c1f2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

/// What the scripted host does with a call whose params are valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// Answer with a plausible result.
    Succeed,
    /// Answer with this host-call error.
    Fail {
        /// The code (1010–1016).
        code: i64,
        /// Its `data.class`.
        class: &'static str,
    },
    /// Do not answer yet (the socket answers as `Succeed`).
    Hold,
}

/// A call that arrived on the socket, and what was wrong with it.
#[derive(Clone, Debug)]
pub struct SocketCall {
    /// The method.
    pub method: String,
    /// Why its params were refused, when they were.
    pub problem: Option<String>,
}

/// The scripted host, shared by the sessions of a run and the socket.
#[derive(Debug)]
pub struct ScriptedHost {
    script: Mutex<Script>,
    socket_calls: Mutex<Vec<SocketCall>>,
}

impl Default for ScriptedHost {
    fn default() -> Self {
        ScriptedHost {
            script: Mutex::new(Script::Succeed),
            socket_calls: Mutex::default(),
        }
    }
}

impl ScriptedHost {
    /// Sets what happens to the next calls.
    pub fn set(&self, script: Script) {
        *lock(&self.script) = script;
    }

    /// The answer to a call of `method` with `params`; `None` while calls are held.
    pub fn answer(&self, method: &str, params: Option<&Value>) -> Option<Result<Value, RpcError>> {
        if method == name::PING {
            return Some(Ok(json!({})));
        }
        if !name::HOST_METHODS.contains(&method) {
            return Some(Err(RpcError::method_not_found(method)));
        }
        if let Err(why) = validate::check(method, params) {
            return Some(Err(RpcError::invalid_params(format!("{method}: {why}"))));
        }
        match *lock(&self.script) {
            Script::Succeed => Some(Ok(result(method, params))),
            Script::Fail { code, class } => Some(Err(failure(method, params, code, class))),
            Script::Hold => None,
        }
    }

    /// Answers a call on the socket (held calls are answered as successes there) and records it.
    pub fn answer_socket(&self, method: &str, params: Option<&Value>) -> Result<Value, RpcError> {
        let answer = self
            .answer(method, params)
            .unwrap_or_else(|| Ok(result(method, params)));
        let listed = name::HOST_METHODS.contains(&method);
        let problem = listed
            .then(|| validate::check(method, params).err())
            .flatten()
            .map(|why| format!("{method}: {why}"));
        lock(&self.socket_calls).push(SocketCall {
            method: method.to_owned(),
            problem,
        });
        answer
    }

    /// The calls made on the socket so far.
    pub fn socket_calls(&self) -> Vec<SocketCall> {
        lock(&self.socket_calls).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The error classes a host may answer a valid call with, one per code (1010–1016).
pub fn error_classes() -> Vec<(i64, &'static str)> {
    code::ALL
        .iter()
        .filter(|c| c.host_calls_only)
        .filter_map(|c| Some((c.code, *c.classes.first()?)))
        .collect()
}

fn peer() -> Peer {
    let mut peer = Peer::new(PEER_ID);
    peer.name = Some("backend-check-peer".into());
    peer.role = Some("Answers every message the conformance checker sends it".into());
    peer
}

/// A plausible result of `method` (its params were checked already).
fn result(method: &str, params: Option<&Value>) -> Value {
    let read = |p: Option<&Value>| p.cloned().unwrap_or(Value::Null);
    let value = match method {
        name::PEERS_LIST => serde_json::to_value(PeersListResult::new(vec![peer()])),
        name::PEERS_DISCOVER => {
            let p: Option<DiscoverParams> = serde_json::from_value(read(params)).ok();
            let known = p.is_some_and(|p| p.id.eq_ignore_ascii_case(PEER_ID));
            serde_json::to_value(DiscoverResult::new(known.then(peer)))
        }
        name::PEERS_SEND => {
            let p: SendParams = serde_json::from_value(read(params)).unwrap_or_default();
            let minted = || Uuid::new_v4().to_string();
            let mut r = SendResult::new(
                p.message_id.unwrap_or_else(minted),
                p.context_id.unwrap_or_else(minted),
                false,
            );
            r.parts = Some(vec![molecule_protocol::a2a::Part::text(
                "backend-check-peer received your message",
            )]);
            serde_json::to_value(r)
        }
        name::WORKSPACE_INFO => {
            let record = json!({"id": WORKSPACE_ID, "name": "backend-check"});
            let object = record.as_object().cloned().unwrap_or_default();
            serde_json::to_value(WorkspaceInfoResult::new(object))
        }
        _ => serde_json::to_value(NotifyResult::delivered()),
    };
    value.unwrap_or(Value::Null)
}

/// The host-call error of `class` for a call of `method`.
fn failure(method: &str, params: Option<&Value>, code: i64, class: &'static str) -> RpcError {
    let mut data = ErrorData::default()
        .with_retryable(code::retryable_by_default(code))
        .with_class(class);
    if code == code::BUDGET_EXHAUSTED {
        data.retry_after_ms = Some(1_000);
    }
    if code == code::WAIT_TIMED_OUT {
        data.message_id = params
            .and_then(|p| p.get("messageId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let message = format!("{method}: {class} (scripted by backend-check)");
    RpcError::with_data(code, message, data)
}
