//! The handlers of the five host methods and what every call goes through: the params read
//! strictly enough to refuse bad ids, the budget for peer calls and `user/notify`, and the calling request's
//! scope (its deadline bounds the call, its end cancels it with `-32800`).

use std::sync::Arc;
use std::time::Instant;

use molecule_protocol::RpcError;
use molecule_protocol::code::{self, class};
use molecule_protocol::host_methods::{
    DiscoverParams, DiscoverResult, NotifyParams, NotifyResult, Peer, PeersListResult, SendParams,
    WorkspaceInfoResult,
};
use molecule_protocol::methods::name;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Peers;
use super::error::{Failure, from_platform};
use crate::backend::{HostCall, HostHandlers, RequestScope};
use crate::platform::{NotifyAttachment, PeerRecord};
use crate::platform::{Posted, ReplyBody, post};

/// The registry `molecule connect` advertises in `hostMethods`.
pub(super) fn registry(peers: Arc<Peers>) -> HostHandlers {
    let mut handlers = HostHandlers::new();
    for method in name::HOST_METHODS {
        let peers = peers.clone();
        handlers.register(*method, move |call: HostCall| {
            let peers = peers.clone();
            async move { peers.serve(call).await }
        });
    }
    handlers
}

impl Peers {
    /// Serves one call within its request's scope.
    pub(super) async fn serve(self: Arc<Self>, call: HostCall) -> Result<Value, RpcError> {
        let started = Instant::now();
        let scope = call.request.clone();
        let cancel = scope
            .as_ref()
            .map_or_else(CancellationToken::new, |s| s.cancel.clone());
        let deadline = scope
            .as_ref()
            .map(|s| tokio::time::Instant::from_std(s.deadline));
        let method = call.method.clone();
        let work = self.dispatch(call, scope.as_ref());
        let mut result = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(ended(&method, "ended")),
            () = sleep_until(deadline) => Err(ended(&method, "reached its deadline")),
            r = work => r,
        };
        // A call's own timers are capped at the request's deadline, so they can fire in the
        // same instant as it: a failure at or past the deadline is the request ending.
        let past = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        if result.is_err() && (past || cancel.is_cancelled()) {
            result = Err(ended(&method, "reached its deadline"));
        }
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("error {}", e.code),
        };
        tracing::debug!(method = %method, elapsed_ms = started.elapsed().as_millis() as u64, outcome, "host call");
        result
    }

    async fn dispatch(
        &self,
        call: HostCall,
        scope: Option<&RequestScope>,
    ) -> Result<Value, RpcError> {
        let params = call
            .params
            .unwrap_or_else(|| Value::Object(Default::default()));
        // Everything that writes to another party is budgeted: a looping backend could
        // otherwise flood its peers or the person's chat. `workspace/info` only reads.
        if call.method.starts_with("peers/") || call.method == name::USER_NOTIFY {
            self.spend(&call.method)?;
        }
        match call.method.as_str() {
            name::PEERS_LIST => self.list().await,
            name::PEERS_DISCOVER => self.discover(read(&call.method, params)?).await,
            name::PEERS_SEND => {
                let p: SendParams = read(&call.method, params)?;
                self.send(p, scope).await
            }
            name::WORKSPACE_INFO => self.info().await,
            name::USER_NOTIFY => self.notify(read(&call.method, params)?, scope).await,
            other => Err(RpcError::method_not_found(other)),
        }
    }

    /// Counts a peer call against the budget, or refuses it with 1016.
    fn spend(&self, method: &str) -> Result<(), RpcError> {
        self.budget.take(Instant::now()).map_err(|wait| {
            let limit = self.budget.limit();
            Failure {
                class: class::BUDGET,
                what: method.to_owned(),
                target: None,
                detail: format!("the host-call budget of {limit} calls a minute is spent"),
                status: None,
                retry_after_ms: Some(wait.as_millis().max(1) as u64),
                message_id: None,
            }
            .into_rpc()
        })
    }

    async fn list(&self) -> Result<Value, RpcError> {
        let client = self.peer_client()?;
        let records = client.list_peers().await.map_err(|e| {
            from_platform(
                "peers/list".into(),
                Some("GET /registry/<id>/peers".into()),
                &e,
                1,
            )
        })?;
        let peers = records.into_iter().filter_map(peer).collect();
        to_value(PeersListResult::new(peers))
    }

    async fn discover(&self, p: DiscoverParams) -> Result<Value, RpcError> {
        let id = super::parse_id("peers/discover", &p.id)?;
        let client = self.peer_client()?;
        let record = client.discover(id).await.map_err(|e| {
            from_platform(format!("peers/discover {id}"), Some(id.to_string()), &e, 1)
        })?;
        to_value(DiscoverResult::new(record.and_then(peer)))
    }

    async fn info(&self) -> Result<Value, RpcError> {
        let client = self.peer_client()?;
        let id = client.config().workspace_id();
        let info = client
            .get_workspace(id)
            .await
            .map_err(|e| from_platform("workspace/info".into(), Some(id.to_string()), &e, 1))?;
        let workspace = match info.raw {
            Value::Object(o) => o,
            _ => Default::default(),
        };
        to_value(WorkspaceInfoResult::new(workspace))
    }

    /// `user/notify`, posted like a canvas reply but bounded like a peer call.
    async fn notify(
        &self,
        p: NotifyParams,
        scope: Option<&RequestScope>,
    ) -> Result<Value, RpcError> {
        let client = self.client()?.clone();
        if p.text.trim().is_empty() {
            return Err(RpcError::invalid_params("user/notify: text is empty"));
        }
        let mut attachments = Vec::new();
        for (i, a) in p.attachments.into_iter().enumerate() {
            attachments.push(attachment(i, a.uri, a.name, a.mime_type)?);
        }
        let body = ReplyBody::Canvas {
            message: p.text,
            attachments,
        };
        let policy = self.policy(scope);
        // The reply path holds 401s until cancelled: bound it by the budget and the request.
        let cancel = scope.map_or_else(CancellationToken::new, |r| r.cancel.child_token());
        let timer = tokio::spawn({
            let (cancel, budget) = (cancel.clone(), self.settings.send_budget);
            async move {
                tokio::time::sleep(budget).await;
                cancel.cancel();
            }
        });
        let posted = post(&client, &body, &policy, &cancel).await;
        timer.abort();
        match posted {
            Posted::Delivered => to_value(NotifyResult::delivered()),
            Posted::Abandoned => Err(ended("user/notify", "gave up")),
            Posted::Refused { status, reason } => Err(refused(status, reason)),
            // Only replies to agents end this way; a canvas message never does, but say what
            // happened if that changes.
            Posted::Unconfirmed { reason } => Err(refused(None, reason)),
        }
    }
}

/// The error of a refused canvas message.
fn refused(status: Option<u16>, reason: String) -> RpcError {
    let class = match status {
        Some(401 | 403) => class::UNAUTHORIZED,
        Some(404) => class::NOT_FOUND,
        Some(410) => class::REMOVED,
        Some(502) => class::REJECTED,
        Some(s) if s >= 500 => class::SERVER_ERROR,
        None => class::UNREACHABLE,
        Some(_) => class::REJECTED,
    };
    Failure {
        class,
        what: "user/notify".into(),
        target: Some("POST /workspaces/<id>/notify".into()),
        detail: format!("{class}: {reason}"),
        status,
        retry_after_ms: None,
        message_id: None,
    }
    .into_rpc()
}

/// A canvas attachment: an http(s) URI, named after its last path segment when unnamed.
fn attachment(
    i: usize,
    uri: String,
    name: Option<String>,
    mime_type: Option<String>,
) -> Result<NotifyAttachment, RpcError> {
    let parsed = reqwest::Url::parse(&uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let Some(url) = parsed else {
        return Err(RpcError::invalid_params(format!(
            "user/notify: attachment {i} must have an http(s) uri, not {uri:?}"
        )));
    };
    let from_path = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let name = name
        .filter(|n| !n.trim().is_empty())
        .or(from_path)
        .unwrap_or_else(|| "file".into());
    Ok(NotifyAttachment {
        uri,
        name,
        mime_type,
        size: None,
    })
}

/// A registry record as a peer; records without an id are dropped.
fn peer(r: PeerRecord) -> Option<Peer> {
    let raw = r.raw.as_object();
    let url = raw
        .and_then(|o| o.get("url"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let agent_card = raw
        .and_then(|o| o.get("agent_card").or_else(|| o.get("agentCard")))
        .and_then(Value::as_object)
        .cloned();
    let mut peer = Peer::new(r.id?);
    peer.name = r.name;
    peer.role = r.role;
    peer.status = r.status;
    peer.url = url;
    peer.agent_card = agent_card;
    Some(peer)
}

fn read<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| RpcError::invalid_params(format!("{method}: {e}")))
}

fn to_value(v: impl serde::Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(v).map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))
}

/// `-32800`: the calling request ended, so its call does too.
fn ended(method: &str, how: &str) -> RpcError {
    RpcError::new(
        code::REQUEST_CANCELLED,
        format!("{method}: the calling request {how}; the call was abandoned"),
    )
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
