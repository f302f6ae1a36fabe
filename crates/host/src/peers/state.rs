//! [`Peers`]: what the host methods of one backend share, and how they plug into connect.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use molecule_protocol::RpcError;
use uuid::Uuid;

use crate::backend::{HostHandlers, RequestScope};
use crate::connect::Hooks;
use crate::platform::{CallClass, PlatformClient, RetryPolicy};

use super::budget::Budget;
use super::enrich::{Enricher, SenderCache};
use super::methods;
use super::settings::PeerSettings;
use super::waiters::{Interceptor, Waiters};

/// The state the host methods share, for one backend.
pub struct Peers {
    pub(super) settings: PeerSettings,
    pub(super) budget: Budget,
    pub(super) waiters: Arc<Waiters>,
    pub(super) cache: SenderCache,
    pub(super) client: OnceLock<PlatformClient>,
    handlers: OnceLock<HostHandlers>,
}

impl Peers {
    /// The shared state; no platform client yet.
    pub fn new(settings: PeerSettings) -> Arc<Self> {
        let budget = Budget::new(settings.calls_per_minute, settings.budget_window);
        Arc::new(Peers {
            settings,
            budget,
            waiters: Arc::new(Waiters::default()),
            cache: SenderCache::default(),
            client: OnceLock::new(),
            handlers: OnceLock::new(),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &PeerSettings {
        &self.settings
    }

    /// The calls waiting for an answer.
    pub fn waiters(&self) -> &Arc<Waiters> {
        &self.waiters
    }

    /// The hooks that make `molecule connect` serve the methods, claim the rows that answer
    /// waiting calls, enrich senders, and give the backend `socket` as `MOLECULE_HOST_SOCKET`.
    pub fn hooks(self: &Arc<Self>, socket: Option<PathBuf>) -> Hooks {
        let peers = self.clone();
        Hooks {
            host_handlers: Some(Arc::new(move |client: &PlatformClient| {
                peers.attach(client.clone());
                peers.handlers()
            })),
            interceptor: Some(Arc::new(Interceptor(self.waiters.clone()))),
            enricher: Some(Arc::new(Enricher(self.clone()))),
            host_socket: socket,
            ..Hooks::default()
        }
    }

    /// Gives the calls their platform client (the first one given stays).
    pub fn attach(&self, client: PlatformClient) {
        let _ = self.client.set(client);
    }

    /// The handlers of the five methods (built once).
    pub fn handlers(self: &Arc<Self>) -> HostHandlers {
        self.handlers
            .get_or_init(|| methods::registry(self.clone()))
            .clone()
    }

    /// The handlers, once built: the socket serves nothing before the backend could.
    pub(crate) fn ready_handlers(&self) -> Option<&HostHandlers> {
        self.handlers.get()
    }

    pub(super) fn client(&self) -> Result<&PlatformClient, RpcError> {
        self.client.get().ok_or_else(|| {
            RpcError::new(
                molecule_protocol::code::INTERNAL_ERROR,
                "the host is not connected to the platform yet",
            )
        })
    }

    /// The retry schedule of a message (`peers/send`, `user/notify`): only failures after which
    /// the platform surely did not act, within the attempts, the total budget and the calling
    /// request's deadline.
    pub(super) fn policy(&self, scope: Option<&RequestScope>) -> RetryPolicy {
        let s = &self.settings;
        RetryPolicy {
            base: s.retry_base,
            cap: s.retry_max,
            max_attempts: Some(s.send_attempts),
            budget: Some(s.send_budget),
            deadline: scope.map(|r| tokio::time::Instant::from_std(r.deadline)),
            ..RetryPolicy::peer_send()
        }
    }

    /// The client whose calls count as peer calls in the rate limiter.
    pub(super) fn peer_client(&self) -> Result<PlatformClient, RpcError> {
        Ok(self.client()?.with_class(CallClass::Peer))
    }
}

/// A workspace id from a backend: a UUID, or `-32602` (it is never put raw into a URL).
pub(super) fn parse_id(method: &str, id: &str) -> Result<Uuid, RpcError> {
    Uuid::try_parse(id.trim()).map_err(|_| {
        RpcError::invalid_params(format!("{method}: id must be a workspace UUID, not {id:?}"))
    })
}
