//! The state every request handler shares: settings, the store, faults, the rate limiter, the
//! event streams' hub and the chat log.

use super::chat::ChatLog;
use super::config::EmulatorConfig;
use super::events::Hub;
use super::faults::Injector;
use super::limiter::RateLimiter;
use super::model::Workspace;
use super::stats::Stats;
use super::store::Store;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use uuid::Uuid;

/// Shared by all connections.
#[derive(Debug)]
pub struct App {
    /// The settings the emulator was started with.
    pub config: EmulatorConfig,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    /// The port it listens on (the `/_dev` guard checks `Host` against it).
    pub port: u16,
    /// The canvas-class bearer (the platform's admin/org tokens).
    pub admin_token: String,
    /// All state.
    pub store: Mutex<Store>,
    /// Fault decisions.
    pub faults: Injector,
    /// The rate limiter, when on.
    pub limiter: Option<RateLimiter>,
    /// What the chat page shows.
    pub chat: ChatLog,
    /// Client for forwarding to push-mode workspaces.
    pub http: reqwest::Client,
    /// Counters for tests and benchmarks.
    pub stats: Arc<Stats>,
    /// The subscribers of the event streams.
    pub events: Arc<Hub>,
}

impl App {
    /// Locks the store. A handler that panicked while holding the lock leaves consistent
    /// in-memory data (every change is a single insert or replace), so poisoning is ignored.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a workspace is stale now.
    pub fn status_of(&self, ws: &Workspace) -> &'static str {
        ws.effective_status(SystemTime::now(), self.config.timers.stale_after)
            .as_str()
    }

    /// A workspace's display name (its id when unknown).
    pub fn name_of(&self, store: &Store, id: Uuid) -> String {
        store
            .workspaces
            .get(&id)
            .map_or_else(|| id.to_string(), |w| w.name.clone())
    }
}
