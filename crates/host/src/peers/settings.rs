//! The peer-call settings of `molecule connect`: the per-backend budget, the `peers/send`
//! retry schedule, the sender-enrichment cache and the host socket's limits. Every timer is a
//! (hidden) flag of the `molecule` binary, so tests run it in milliseconds.

use std::time::Duration;

/// The validated settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerSettings {
    /// Peer calls started per minute, per backend.
    pub calls_per_minute: u32,
    /// The window the budget counts over (one minute).
    pub budget_window: Duration,
    /// `peers/send` attempts, the first included (5).
    pub send_attempts: u32,
    /// The first backoff delay of `peers/send` (1 s).
    pub retry_base: Duration,
    /// The largest backoff delay (16 s).
    pub retry_max: Duration,
    /// The whole `peers/send`, retries included (600 s).
    pub send_budget: Duration,
    /// How long enrichment lookups, failures included, are cached (5 min).
    pub cache_ttl: Duration,
    /// How long dispatch waits for one lookup (2 s).
    pub lookup_timeout: Duration,
    /// Serve the methods on a Unix socket.
    pub socket: bool,
    /// Clients connected to the socket at once (16).
    pub socket_clients: usize,
    /// Calls in flight on the socket at once (32).
    pub socket_calls: usize,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            calls_per_minute: 60,
            budget_window: Duration::from_secs(60),
            send_attempts: 5,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(16),
            send_budget: Duration::from_secs(600),
            cache_ttl: Duration::from_secs(300),
            lookup_timeout: Duration::from_secs(2),
            socket: true,
            socket_clients: 16,
            socket_calls: 32,
        }
    }
}
