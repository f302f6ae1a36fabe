//! The HTTP side of the platform client: the connection pool and rate limiter that clients
//! may share ([`SharedTransport`]), and what reqwest hands back in the client's terms: a failed
//! exchange as a transient [`PlatformError`] (connect, timeout or I/O, with the OS error
//! named), and a body read with a cap.

use std::sync::Arc;
use std::time::Duration;

use super::config::PlatformConfig;
use super::error::{Call, PlatformError, Transport};
use super::limiter::RateLimiter;

/// What the clients of one platform can share: one connection pool and one rate limiter (the
/// platform's budget is per client address on older platforms, so every workspace served
/// from one process spends the same one). Cheap to clone; clones share both.
#[derive(Clone, Debug)]
pub struct SharedTransport {
    pub(super) http: reqwest::Client,
    pub(super) limiter: Arc<RateLimiter>,
}

impl SharedTransport {
    /// A pool and a limiter for `cfg`'s platform (its user agent, connect timeout and rate
    /// limit settings).
    pub fn new(cfg: &PlatformConfig) -> Result<Self, PlatformError> {
        let http = reqwest::Client::builder()
            .user_agent(cfg.user_agent())
            .connect_timeout(cfg.timeouts.connect)
            // The event stream is silent while nothing happens: keepalive probes find a peer
            // that vanished without closing (and keep NAT entries alive) within about 90 s.
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_keepalive_interval(Duration::from_secs(15))
            .tcp_keepalive_retries(4u32)
            // A redirect usually means a mistyped --api-url (http for https); say so rather
            // than replay a POST elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // reqwest's own text is "builder error"; the cause (no CA certificate could be
            // loaded, say) is in the chain.
            .map_err(|e| PlatformError::Client {
                reason: with_causes(&e),
            })?;
        Ok(SharedTransport {
            http,
            limiter: Arc::new(RateLimiter::new(cfg.rate_limit.clone())),
        })
    }

    /// The shared rate limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }
}

/// The error for an exchange that failed below HTTP.
pub(super) fn transport_error(call: Call, e: &reqwest::Error) -> PlatformError {
    // A connect timeout is a connection failure: nothing was sent (callers that must not
    // repeat a request that may have been processed rely on the difference).
    let cause = if e.is_connect() {
        Transport::Connect
    } else if e.is_timeout() {
        Transport::Timeout
    } else {
        Transport::Io
    };
    // The URL in reqwest's message carries no secret; the chain names the OS error.
    PlatformError::Transient {
        call,
        cause,
        retry_after: None,
        excerpt: with_causes(e),
    }
}

/// `e`'s message followed by those of its sources, `: `-separated.
pub(super) fn with_causes(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::logsafe::clean(&text, 300)
}

/// Reads the whole body, refusing one over `max` bytes.
pub(super) async fn read_capped(
    call: Call,
    mut resp: reqwest::Response,
    max: u64,
) -> Result<Vec<u8>, PlatformError> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(PlatformError::TooLarge { call, limit: max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(call, &e))? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(PlatformError::TooLarge { call, limit: max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
