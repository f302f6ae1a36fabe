//! Backend → host calls: the [`HostHandle`] and the table of calls awaiting an answer.
//!
//! The host lists the methods it serves in `initialize`'s `capabilities.hostMethods`; the
//! backend may call those, and only those. Each call gets an id unique on the connection
//! (`"backend-1"`, `"backend-2"`, …); the reader routes the host's response back to the caller.
//! A call made while handling a `handle_a2a` carries that request's id in `params._meta.requestId`
//! so the host can tie the call to the message being answered.

use crate::outbox::Outbox;
use molecule_protocol::encode;
use molecule_protocol::methods::Method;
use molecule_protocol::{RequestId, RpcError};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::oneshot;

/// Why a call to the host got no result.
#[derive(Debug, thiserror::Error)]
pub enum HostCallError {
    /// The host did not list the method in `capabilities.hostMethods`.
    #[error("the host does not offer {method:?} (it offers: {offered})")]
    NotOffered {
        /// The method called.
        method: String,
        /// The methods the host does offer, comma-separated.
        offered: String,
    },
    /// The host answered with an error.
    #[error("the host answered {method:?} with an error: {error}")]
    Rpc {
        /// The method called.
        method: String,
        /// The host's error.
        error: Box<RpcError>,
    },
    /// The connection closed (stdin reached EOF or stdout failed) before the host answered.
    #[error("the connection to the host closed before it answered {method:?}")]
    ConnectionClosed {
        /// The method called.
        method: String,
    },
    /// The host's answer was longer than the line cap and was discarded.
    #[error("the host's answer to {method:?} was {len} bytes, over the line cap")]
    ResponseTooLarge {
        /// The method called.
        method: String,
        /// The discarded line's length.
        len: usize,
    },
    /// The params or the result did not have the method's shape.
    #[error("{method:?}: {reason}")]
    Shape {
        /// The method called.
        method: String,
        /// What did not fit.
        reason: String,
    },
}

/// The host's answer to a call, as routed by the reader.
pub(crate) enum Answer {
    Result(Result<Value, RpcError>),
    TooLarge(usize),
}

#[derive(Default)]
struct Pending {
    closed: bool,
    calls: HashMap<RequestId, oneshot::Sender<Answer>>,
}

/// The state shared by every handle on one connection.
pub(crate) struct HostLink {
    outbox: Outbox,
    next_id: AtomicU64,
    offered: OnceLock<Vec<String>>,
    pending: Mutex<Pending>,
}

impl HostLink {
    pub(crate) fn new(outbox: Outbox) -> Arc<HostLink> {
        Arc::new(HostLink {
            outbox,
            next_id: AtomicU64::new(1),
            offered: OnceLock::new(),
            pending: Mutex::new(Pending::default()),
        })
    }

    /// Records the methods the host offers (from `initialize`).
    pub(crate) fn set_offered(&self, methods: Vec<String>) {
        let _ = self.offered.set(methods);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the table inconsistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Delivers the host's answer to the call `id`; false when no call is waiting for it.
    pub(crate) fn deliver(&self, id: &RequestId, answer: Answer) -> bool {
        match self.pending().calls.remove(id) {
            Some(tx) => {
                let _ = tx.send(answer);
                true
            }
            None => false,
        }
    }

    /// Whether `id` is a call of ours that awaits an answer.
    pub(crate) fn is_pending(&self, id: &RequestId) -> bool {
        self.pending().calls.contains_key(id)
    }

    /// Fails every waiting call, and every later one: the host can no longer answer.
    pub(crate) fn close(&self) {
        let mut pending = self.pending();
        pending.closed = true;
        pending.calls.clear();
    }
}

/// Removes a call's entry when the caller stops waiting (a dropped handler, say).
struct PendingGuard<'a> {
    link: &'a HostLink,
    id: RequestId,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.link.pending().calls.remove(&self.id);
    }
}

/// Calls methods the host serves. Get one from [`crate::RequestContext::host`] inside a
/// handler (calls then carry that request's id), or keep one made by [`HostHandle::detached`].
#[derive(Clone)]
pub struct HostHandle {
    link: Arc<HostLink>,
    origin: Option<RequestId>,
    /// The workspace its calls are for, named in `_meta.workspaceId` on calls tied to no
    /// request (a backend that serves several workspaces, SPEC §17).
    workspace: Option<String>,
}

impl HostHandle {
    pub(crate) fn new(link: Arc<HostLink>, origin: Option<RequestId>) -> HostHandle {
        HostHandle {
            link,
            origin,
            workspace: None,
        }
    }

    /// The same handle, its calls for `workspace`.
    pub(crate) fn for_workspace(mut self, workspace: Option<String>) -> HostHandle {
        self.workspace = workspace;
        self
    }

    /// A handle whose calls are not tied to any request (they stay tied to the request's
    /// workspace, when the backend serves several).
    pub fn detached(&self) -> HostHandle {
        HostHandle::new(self.link.clone(), None).for_workspace(self.workspace.clone())
    }

    /// The peer calls through this handle. Their message ids are not derived: use
    /// [`crate::RequestContext::peers`] inside a handler.
    pub fn peers(&self) -> crate::peers::Peers<'_> {
        crate::peers::Peers::new(self, None)
    }

    /// The methods the host offers (`capabilities.hostMethods`).
    pub fn offered(&self) -> &[String] {
        self.link.offered.get().map_or(&[], Vec::as_slice)
    }

    /// Whether the host offers `method`.
    pub fn offers(&self, method: &str) -> bool {
        self.offered().iter().any(|m| m == method)
    }

    /// Calls `method` with `params` (an object, or `null` for none) and waits for the answer.
    /// Wrap it in `tokio::time::timeout` to bound the wait.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, HostCallError> {
        if !self.offers(method) {
            return Err(HostCallError::NotOffered {
                method: method.to_owned(),
                offered: self.offered().join(", "),
            });
        }
        let closed = || HostCallError::ConnectionClosed {
            method: method.to_owned(),
        };
        let params = self.with_meta(method, params)?;
        let n = self.link.next_id.fetch_add(1, Ordering::Relaxed);
        let id = RequestId::String(format!("backend-{n}"));
        let line =
            encode::request_by_name(&id, method, &params).map_err(|e| HostCallError::Shape {
                method: method.to_owned(),
                reason: e.to_string(),
            })?;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.link.pending();
            if pending.closed {
                return Err(closed());
            }
            pending.calls.insert(id.clone(), tx);
        }
        let _guard = PendingGuard {
            link: &self.link,
            id,
        };
        self.link.outbox.send(line).await.map_err(|_| closed())?;
        match rx.await.map_err(|_| closed())? {
            Answer::Result(Ok(value)) => Ok(value),
            Answer::Result(Err(error)) => Err(HostCallError::Rpc {
                method: method.to_owned(),
                error: Box::new(error),
            }),
            Answer::TooLarge(len) => Err(HostCallError::ResponseTooLarge {
                method: method.to_owned(),
                len,
            }),
        }
    }

    /// Calls a method described by the protocol's [`Method`] trait, with typed params and result.
    pub async fn call_method<M: Method>(
        &self,
        params: &M::Params,
    ) -> Result<M::Result, HostCallError> {
        let shape = |e: serde_json::Error| HostCallError::Shape {
            method: M::NAME.to_owned(),
            reason: e.to_string(),
        };
        let params = serde_json::to_value(params).map_err(shape)?;
        let result = self.call(M::NAME, params).await?;
        serde_json::from_value(result).map_err(shape)
    }

    /// Adds `_meta.requestId` (the request being handled) to the params, or, on a call tied
    /// to no request, `_meta.workspaceId` when the handle names its workspace.
    fn with_meta(&self, method: &str, params: Value) -> Result<Value, HostCallError> {
        let mut obj = match params {
            Value::Object(obj) => obj,
            Value::Null => Map::new(),
            other => {
                return Err(HostCallError::Shape {
                    method: method.to_owned(),
                    reason: format!("params must be an object, not {other}"),
                });
            }
        };
        let entry = match (&self.origin, &self.workspace) {
            (Some(origin), _) => (
                "requestId",
                serde_json::to_value(origin).unwrap_or_default(),
            ),
            (None, Some(ws)) => ("workspaceId", Value::String(ws.clone())),
            (None, None) => return Ok(Value::Object(obj)),
        };
        let meta = obj
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.insert(entry.0.to_owned(), entry.1);
        }
        Ok(Value::Object(obj))
    }
}
