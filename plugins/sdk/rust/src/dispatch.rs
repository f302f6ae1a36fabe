//! The dispatcher: the handshake, `ping`, cancellation, and `handle_a2a` as one task per
//! request that answers its id exactly once.

use crate::backend::Backend;
use crate::context::RequestContext;
use crate::env::HostEnv;
use crate::host::HostHandle;
use crate::log;
use crate::outbox::response_line;
use crate::serve::Connection;
use crate::workspace::Workspace;
use futures_util::FutureExt;
use molecule_protocol::methods::{
    CancelParams, Empty, InitializeParams, InitializeResult, WorkspaceCloseParams,
    WorkspaceOpenParams, WorkspaceOpenResult, name,
};
use molecule_protocol::time::parse_rfc3339;
use molecule_protocol::{
    HandleA2aParams, HandleA2aResult, Notification, Request, RequestId, RpcError, code,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl<B: Backend> Connection<B> {
    pub(crate) async fn on_request(&mut self, req: Request) {
        let Request { id, method, params } = req;
        match (self.ready, method.as_str()) {
            (false, name::INITIALIZE) => self.initialize(id, params).await,
            (false, _) => {
                self.answer::<()>(&id, Err(RpcError::not_initialized()))
                    .await
            }
            (true, name::INITIALIZE) => {
                let error = RpcError::new(code::INVALID_REQUEST, "already initialized");
                self.answer::<()>(&id, Err(error)).await;
            }
            (true, name::PING) => self.answer(&id, Ok(&Empty::default())).await,
            (true, name::WORKSPACE_OPEN) if self.many_workspaces => {
                self.open_workspace(id, params).await
            }
            (true, name::WORKSPACE_CLOSE) if self.many_workspaces => {
                self.close_workspace(id, params).await
            }
            (true, name::HANDLE_A2A) => match parse_params::<HandleA2aParams>(params) {
                Ok(params) => self.start_handler(id, params).await,
                Err(e) => self.answer::<()>(&id, Err(e)).await,
            },
            (true, other) => {
                let error = RpcError::method_not_found(other);
                self.answer::<()>(&id, Err(error)).await;
            }
        }
    }

    pub(crate) fn on_notification(&mut self, n: Notification) {
        if !self.ready || n.method != name::CANCEL_REQUEST {
            // Unknown notifications are ignored, as JSON-RPC asks.
            return;
        }
        match parse_params::<CancelParams>(n.params) {
            // An unknown id was answered already (or never existed): nothing to do.
            Ok(p) => {
                if let Some(token) = self.inflight.get(&p.id) {
                    token.cancel();
                }
            }
            Err(e) => log::warn(format_args!("ignored a malformed $/cancelRequest: {e}")),
        }
    }

    async fn answer<T: Serialize>(&self, id: &RequestId, outcome: Result<&T, RpcError>) {
        let line = match &outcome {
            Ok(value) => response_line(id, Ok(*value), self.max_line),
            Err(error) => response_line::<T>(id, Err(error), self.max_line),
        };
        self.send(line).await;
    }

    async fn initialize(&mut self, id: RequestId, params: Option<Value>) {
        let params = match parse_params::<InitializeParams>(params) {
            Ok(p) => p,
            Err(e) => return self.answer::<()>(&id, Err(e)).await,
        };
        if let Err(e) = self.backend.initialize(&params).await {
            return self.answer::<()>(&id, Err(e)).await;
        }
        self.link
            .set_offered(params.capabilities.host_methods.clone());
        let capabilities = self.backend.capabilities();
        self.many_workspaces = capabilities.workspaces() > 1;
        self.workspaces
            .start(Workspace::first(&params.workspace, &HostEnv::from_env()));
        let limit = params.limits.max_message_bytes;
        if limit > 0 {
            self.max_line = usize::try_from(limit).unwrap_or(usize::MAX);
        }
        let mut result = InitializeResult::new(self.backend.info()).with_capabilities(capabilities);
        result.agent_card = self.backend.agent_card();
        self.ready = true;
        self.answer(&id, Ok(&result)).await;
    }

    async fn start_handler(&mut self, id: RequestId, params: HandleA2aParams) {
        if self.inflight.contains_key(&id) {
            let error = RpcError::new(
                code::INVALID_REQUEST,
                format!("request id {id} is already in flight"),
            );
            return self.answer::<()>(&id, Err(error)).await;
        }
        let Some(workspace) = self.workspaces.of_request(params.workspace.as_ref()) else {
            let named = params.workspace.as_ref().map_or("", |w| w.id.as_str());
            let error = RpcError::invalid_params(format!(
                "workspace {named} is not open in this process (it was never opened, or closed)"
            ));
            return self.answer::<()>(&id, Err(error)).await;
        };
        let token = CancellationToken::new();
        self.inflight.insert(id.clone(), token.clone());
        let deadline = parse_rfc3339(&params.context.deadline);
        let named = self.many_workspaces.then(|| workspace.id.clone());
        let host = HostHandle::new(self.link.clone(), Some(id.clone())).for_workspace(named);
        let cx = RequestContext::new(
            id.clone(),
            workspace,
            token.clone(),
            deadline,
            self.outbox.clone(),
            host,
            params.context.idempotency_key.clone(),
        );
        let backend = self.backend.clone();
        let outbox = self.outbox.clone();
        let (max_line, grace) = (self.max_line, self.cancel_grace);
        self.tasks.spawn(async move {
            let outcome = run_handler(&*backend, params, cx, &token, grace).await;
            // From here on the request is over: progress is dropped and helpers stop.
            token.cancel();
            let _ = outbox
                .send(response_line(&id, outcome.as_ref(), max_line))
                .await;
            id
        });
    }
}

impl<B: Backend> Connection<B> {
    /// `workspace/open` (SPEC §17): the backend prepares it, then it is served.
    async fn open_workspace(&mut self, id: RequestId, params: Option<Value>) {
        let params = match parse_params::<WorkspaceOpenParams>(params) {
            Ok(p) => p,
            Err(e) => return self.answer::<()>(&id, Err(e)).await,
        };
        let workspace = Workspace::opened(&params);
        let card = match self.backend.open_workspace(&workspace).await {
            Ok(card) => card,
            Err(e) => return self.answer::<()>(&id, Err(e)).await,
        };
        if !self.workspaces.open(workspace) {
            let error = RpcError::new(
                code::INVALID_REQUEST,
                format!("workspace {} is open already", params.workspace.id),
            );
            return self.answer::<()>(&id, Err(error)).await;
        }
        let mut result = WorkspaceOpenResult::default();
        result.agent_card = card;
        self.answer(&id, Ok(&result)).await;
    }

    /// `workspace/close`: no request names it any more; the backend releases it.
    async fn close_workspace(&mut self, id: RequestId, params: Option<Value>) {
        let params = match parse_params::<WorkspaceCloseParams>(params) {
            Ok(p) => p,
            Err(e) => return self.answer::<()>(&id, Err(e)).await,
        };
        match self.workspaces.close(&params.workspace.id) {
            Some(workspace) => {
                self.backend.close_workspace(&workspace).await;
                self.answer(&id, Ok(&Empty::default())).await;
            }
            None => {
                let error = RpcError::invalid_params(format!(
                    "workspace {} is not open in this process",
                    params.workspace.id
                ));
                self.answer::<()>(&id, Err(error)).await;
            }
        }
    }
}

/// Runs one handler to its outcome: its result, `-32800` when cancelled (after the backend's
/// cancel grace), or `-32603` when it panicked.
async fn run_handler<B: Backend>(
    backend: &B,
    params: HandleA2aParams,
    cx: RequestContext,
    token: &CancellationToken,
    grace: Duration,
) -> Result<HandleA2aResult, RpcError> {
    let work = AssertUnwindSafe(backend.handle_a2a(params, cx)).catch_unwind();
    tokio::pin!(work);
    let outcome = tokio::select! {
        biased;
        outcome = &mut work => outcome,
        () = token.cancelled() => {
            if grace.is_zero() {
                return Err(RpcError::cancelled());
            }
            match tokio::time::timeout(grace, &mut work).await {
                Ok(outcome) => outcome,
                Err(_) => return Err(RpcError::cancelled()),
            }
        }
    };
    outcome.unwrap_or_else(|panic| {
        Err(RpcError::new(
            code::INTERNAL_ERROR,
            format!("the handler panicked: {}", panic_text(&*panic)),
        ))
    })
}

fn panic_text(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

fn parse_params<T: DeserializeOwned>(params: Option<Value>) -> Result<T, RpcError> {
    serde_json::from_value(params.unwrap_or(Value::Null)).map_err(RpcError::invalid_params)
}
