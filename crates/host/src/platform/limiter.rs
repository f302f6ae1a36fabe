//! The client-side rate limiter: spends the platform's request budget so heartbeats are never
//! starved and nobody runs into a wall of 429s.
//!
//! The platform counts requests in fixed one-minute windows (600 by default; per client address
//! on older platforms, per org or token on newer ones) and reports `X-RateLimit-Limit`,
//! `-Remaining` and `-Reset` (seconds until the window restarts) on every response. This limiter
//! reads those headers and lets calls through by class: heartbeats always go (a starved
//! heartbeat makes the workspace look dead), replies stop at a reserve kept for heartbeats,
//! peer calls and polls a little earlier, so in-flight work finishes before new work is fetched.
//! After a 429 every class but heartbeats waits for `Retry-After`. A platform that sends no
//! headers (a local one, or a dev platform saying `unlimited`) is never paced: its 429s hold
//! calls for their `Retry-After` (or a second) and no longer.
//!
//! Every wait the platform names (`Retry-After`, `X-RateLimit-Reset`) is read saturating and cut
//! to [`RateLimitConfig::max_wait`]: a value of `18446744073709551615` is an hour's wait at
//! most, never an overflow, and an hour's `Retry-After` holds calls for a minute, not an hour.

use crate::backoff::later;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// What a call is for; decides its place in the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallClass {
    /// Heartbeats and registration: they keep the workspace alive and are never paced.
    Heartbeat,
    /// Replies and notifications that settle rows already fetched.
    Reply,
    /// Calls a backend makes to its peers.
    Peer,
    /// Polling the activity feed: the cheapest to delay (rows stay queued on the platform).
    Poll,
}

/// The limiter's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Off: never pace (429s are still honoured by the retry helper).
    pub enabled: bool,
    /// Requests kept for heartbeats in each window.
    pub heartbeat_reserve: u32,
    /// Extra headroom each lower class leaves to the one above it.
    pub class_step: u32,
    /// The limit assumed before the platform's first report (which always names its own).
    pub default_limit: u32,
    /// The window assumed when the platform sends no `X-RateLimit-Reset`.
    pub default_window: Duration,
    /// The longest wait the platform can impose (`Retry-After`, `X-RateLimit-Reset`, a
    /// `retry_after` body field): longer ones are cut to it. The platform's own windows are a
    /// minute at most, so a longer wait is a broken or hostile answer.
    pub max_wait: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            heartbeat_reserve: 5,
            class_step: 5,
            default_limit: 600,
            default_window: Duration::from_secs(60),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// What the platform said about the budget in one response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit`; `None` when absent or `unlimited`.
    pub limit: Option<u32>,
    /// Whether the platform said `X-RateLimit-Limit: unlimited`.
    pub unlimited: bool,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-RateLimit-Reset`, as a delay from now.
    pub reset: Option<Duration>,
}

impl RateLimitHeaders {
    /// Reads the three headers (the reset may be seconds from now or a Unix timestamp).
    pub fn parse(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let limit_raw = get("x-ratelimit-limit");
        let reset = get("x-ratelimit-reset")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|secs| {
                // A value this large is an epoch timestamp, not a delay; one past the end of
                // time is as far as it goes (the caller cuts it to its longest wait).
                if secs > 1_000_000_000 {
                    UNIX_EPOCH
                        .checked_add(Duration::from_secs(secs))
                        .map_or(Duration::MAX, |at| {
                            at.duration_since(now).unwrap_or_default()
                        })
                } else {
                    Duration::from_secs(secs)
                }
            });
        RateLimitHeaders {
            limit: limit_raw.and_then(|v| v.parse().ok()),
            unlimited: limit_raw.is_some_and(|v| v.eq_ignore_ascii_case("unlimited")),
            remaining: get("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
            reset,
        }
    }
}

/// The decision for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it now.
    Go,
    /// Hold it until then (or until the budget changes).
    WaitUntil(Instant),
}

/// The budget as last reported, and what was spent since. Pure: every method takes `now`.
#[derive(Clone, Debug)]
pub struct Budget {
    cfg: RateLimitConfig,
    /// Pacing starts once headers or a 429 show the platform has a limit.
    limited: bool,
    limit: u32,
    remaining: u32,
    window_ends: Instant,
    granted_since: u32,
    blocked_until: Option<Instant>,
}

impl Budget {
    /// A budget with no information yet: nothing is paced.
    pub fn new(cfg: RateLimitConfig, now: Instant) -> Self {
        Budget {
            limit: cfg.default_limit,
            remaining: cfg.default_limit,
            window_ends: now,
            cfg,
            limited: false,
            granted_since: 0,
            blocked_until: None,
        }
    }

    /// Whether a call of `class` may go at `now`; a `Go` counts it against the budget.
    /// Heartbeats go even while a 429 holds every other call: they are what the reserve is
    /// for, a few a minute, and a workspace without them looks dead.
    pub fn decide(&mut self, class: CallClass, now: Instant) -> Decision {
        if let Some(until) = self.blocked_until {
            if now < until && class != CallClass::Heartbeat {
                return Decision::WaitUntil(until);
            }
            if now >= until {
                self.blocked_until = None;
            }
        }
        if !self.cfg.enabled || !self.limited {
            return Decision::Go;
        }
        if now >= self.window_ends {
            // A new window: assume it is full until a response says otherwise.
            self.remaining = self.limit;
            self.granted_since = 0;
            self.window_ends = later(now, self.cfg.default_window);
        }
        let available = self.available();
        if class == CallClass::Heartbeat || available > self.threshold(class) {
            self.granted_since = self.granted_since.saturating_add(1);
            return Decision::Go;
        }
        Decision::WaitUntil(self.window_ends)
    }

    /// The platform's limit per window, when its answers have shown it has one.
    pub fn limit(&self) -> Option<u32> {
        self.limited.then_some(self.limit)
    }

    /// Requests left in this window, by the last report minus what was sent since.
    pub fn available(&self) -> u32 {
        self.remaining.saturating_sub(self.granted_since)
    }

    /// How much budget must be left for `class` to go.
    pub fn threshold(&self, class: CallClass) -> u32 {
        let tier = match class {
            CallClass::Heartbeat => return 0,
            CallClass::Reply => 0,
            CallClass::Peer => 1,
            CallClass::Poll => 2,
        };
        let wanted = self.cfg.heartbeat_reserve + tier * self.cfg.class_step;
        // With a tiny limit, keep at least half of it usable.
        wanted.min(self.limit / 2)
    }

    /// Takes in a response's headers.
    pub fn observe(&mut self, h: &RateLimitHeaders, now: Instant) {
        if h.unlimited {
            self.limited = false;
            return;
        }
        let (Some(limit), Some(remaining)) = (h.limit, h.remaining) else {
            return;
        };
        self.limited = true;
        self.limit = limit;
        self.remaining = remaining;
        self.granted_since = 0;
        let reset = h.reset.unwrap_or(self.cfg.default_window);
        self.window_ends = later(now, reset.min(self.cfg.max_wait));
    }

    /// Takes in a 429: everyone waits `retry_after` (or until the window ends).
    pub fn observe_429(
        &mut self,
        h: &RateLimitHeaders,
        retry_after: Option<Duration>,
        now: Instant,
    ) {
        self.observe(h, now);
        let max = self.cfg.max_wait;
        let wait = retry_after
            .or(h.reset)
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(1), max.max(Duration::from_millis(1)));
        // A platform that reports its budget has spent it. One that reports none (a proxy, a
        // dev platform, a hostile answer) said only "wait": assuming a budget of our own then
        // paced the host for good, to a limit nobody named, on the strength of one answer.
        if self.limited {
            self.remaining = 0;
            self.granted_since = 0;
            // Without a reset header, the platform's window restarts when Retry-After runs out.
            self.window_ends = later(now, h.reset.map_or(wait, |r| r.min(max)));
        }
        self.blocked_until = Some(later(now, wait));
    }
}

/// A source of the current time, so tests can drive the limiter with a fake clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The limiter shared by every call of one client.
#[derive(Debug)]
pub struct RateLimiter {
    budget: Mutex<Budget>,
    clock: Arc<dyn Clock>,
    changed: Notify,
    max_wait: Duration,
    /// Whether a cut wait was logged at warn already (later ones are logged at debug).
    cut_logged: AtomicBool,
}

impl RateLimiter {
    /// A limiter on the real clock.
    pub fn new(cfg: RateLimitConfig) -> Self {
        RateLimiter::with_clock(cfg, Arc::new(SystemClock))
    }

    /// A limiter on `clock`.
    pub fn with_clock(cfg: RateLimitConfig, clock: Arc<dyn Clock>) -> Self {
        RateLimiter {
            max_wait: cfg.max_wait,
            budget: Mutex::new(Budget::new(cfg, clock.now())),
            clock,
            changed: Notify::new(),
            cut_logged: AtomicBool::new(false),
        }
    }

    /// `asked` (a wait the platform named in `what`), cut to the longest wait; the first cut
    /// is logged at warn, later ones at debug.
    pub fn cap_wait(&self, asked: Duration, what: &str, call: super::Call) -> Duration {
        if asked <= self.max_wait {
            return asked;
        }
        let (asked_s, max_ms) = (asked.as_secs(), self.max_wait.as_millis() as u64);
        if self.cut_logged.swap(true, Ordering::Relaxed) {
            tracing::debug!(call = %call, asked_s, max_wait_ms = max_ms, "the platform asked for a long wait ({what}); cut");
        } else {
            tracing::warn!(
                call = %call,
                asked_s,
                max_wait_ms = max_ms,
                "the platform asked to wait {asked_s} s ({what}); waiting {max_ms} ms at most \
                 (logged once; later cuts are logged at debug)"
            );
        }
        self.max_wait
    }

    /// The decision for a call of `class` now, without waiting.
    pub fn check(&self, class: CallClass) -> Decision {
        let now = self.clock.now();
        self.lock().decide(class, now)
    }

    /// Waits until a call of `class` may go. Cancel-safe: dropping it spends nothing.
    pub async fn acquire(&self, class: CallClass, call: super::Call) {
        let mut logged = false;
        loop {
            let notified = self.changed.notified();
            let until = match self.check(class) {
                Decision::Go => return,
                Decision::WaitUntil(until) => until,
            };
            if !logged {
                let wait = until.saturating_duration_since(self.clock.now());
                let available = self.lock().available();
                tracing::debug!(
                    call = %call,
                    class = ?class,
                    wait_ms = wait.as_millis() as u64,
                    available,
                    "rate limiter: holding a call until the budget allows it"
                );
                logged = true;
            }
            tokio::select! {
                () = tokio::time::sleep_until(until.into()) => {}
                () = notified => {}
            }
        }
    }

    /// Takes in a response (any status but 429) to `call`.
    pub fn observe(&self, headers: &RateLimitHeaders, call: super::Call) {
        let headers = self.capped(headers, call);
        let now = self.clock.now();
        self.lock().observe(&headers, now);
        self.changed.notify_waiters();
    }

    /// Takes in a 429 to `call` and its `Retry-After` (already cut by [`Self::cap_wait`]).
    pub fn observe_429(
        &self,
        headers: &RateLimitHeaders,
        retry_after: Option<Duration>,
        call: super::Call,
    ) {
        let headers = self.capped(headers, call);
        let now = self.clock.now();
        self.lock().observe_429(&headers, retry_after, now);
        self.changed.notify_waiters();
    }

    fn capped(&self, h: &RateLimitHeaders, call: super::Call) -> RateLimitHeaders {
        RateLimitHeaders {
            reset: h.reset.map(|r| self.cap_wait(r, "X-RateLimit-Reset", call)),
            ..h.clone()
        }
    }

    /// A snapshot of the budget, for logs and tests.
    pub fn budget(&self) -> Budget {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.budget.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
