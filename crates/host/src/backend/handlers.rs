//! The backend → host methods the host serves: a registry filled before start, whose names are
//! advertised in `initialize` as `capabilities.hostMethods`.
//!
//! Each call runs as its own task, so a backend that calls the host while the host waits on it
//! never stalls the connection. A request for a method that is not registered is answered
//! `-32601`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use molecule_protocol::RpcError;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// One backend → host request, as a handler sees it.
#[derive(Clone, Debug)]
pub struct HostCall {
    /// The method name.
    pub method: String,
    /// The params, as sent.
    pub params: Option<Value>,
    /// The `handle_a2a` this call was made for, when `params._meta.requestId` names one that
    /// is in flight.
    pub request: Option<RequestScope>,
}

/// The in-flight `handle_a2a` a backend → host call belongs to.
#[derive(Clone, Debug)]
pub struct RequestScope {
    /// The JSON-RPC id of that `handle_a2a`.
    pub id: i64,
    /// When the host stops waiting for it.
    pub deadline: Instant,
    /// Cancelled when that request ends, whatever the outcome: work done on its behalf stops.
    pub cancel: CancellationToken,
    /// The workspace that request is for.
    pub workspace: String,
}

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, RpcError>> + Send>>;

/// Serves one backend → host method. Implemented for every suitable async closure.
pub trait HostHandler: Send + Sync {
    /// Answers one call: a result, or an error sent back to the backend as is.
    fn call(&self, call: HostCall) -> HandlerFuture;
}

impl<F, Fut> HostHandler for F
where
    F: Fn(HostCall) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, RpcError>> + Send + 'static,
{
    fn call(&self, call: HostCall) -> HandlerFuture {
        Box::pin(self(call))
    }
}

/// The registry of backend → host methods.
#[derive(Clone, Default)]
pub struct HostHandlers {
    map: BTreeMap<String, Arc<dyn HostHandler>>,
}

impl HostHandlers {
    /// An empty registry: every backend → host request gets `-32601`.
    pub fn new() -> Self {
        HostHandlers::default()
    }

    /// Serves `method` with `handler` (replacing any earlier one).
    pub fn register(
        &mut self,
        method: impl Into<String>,
        handler: impl HostHandler + 'static,
    ) -> &mut Self {
        self.map.insert(method.into(), Arc::new(handler));
        self
    }

    /// The registered method names, sorted: what `hostMethods` advertises.
    pub fn methods(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    /// The handler of `method`.
    pub(crate) fn get(&self, method: &str) -> Option<Arc<dyn HostHandler>> {
        self.map.get(method).cloned()
    }
}

impl std::fmt::Debug for HostHandlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}
