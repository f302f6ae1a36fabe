//! [`Vitals`]: the live record of one workspace's connect. The tasks that know a fact write it
//! here as it happens (the engine its rows and load, the heartbeat its successes, the poller
//! its reads); the parts that keep their own record (the backend supervisor, the platform
//! client, the event stream) are attached once they exist and read when a [`Snapshot`] is
//! taken. Writes that change what `molecule status` shows wake the status file's writer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::snapshot::{BackendSnapshot, FORMAT, LastError, RateLimit, Snapshot};
use crate::backend::{State, Supervisor};
use crate::platform::PlatformClient;
use crate::wake::StreamState;

/// The upper bounds, in seconds, of the reply latency histogram's buckets: from a local echo
/// (milliseconds) to an agent that works for minutes.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// What one workspace's connect is doing; shared by its tasks, the status file and metrics.
pub struct Vitals {
    workspace: Uuid,
    platform_url: String,
    started: SystemTime,
    /// A successful poll older than this makes the workspace not ready.
    poll_stale_after: Duration,
    /// How often the status file is rewritten.
    pub(super) status_every: Duration,
    latency: Histogram,
    inner: Mutex<Inner>,
    client: OnceLock<PlatformClient>,
    backend: OnceLock<Supervisor>,
    stream: OnceLock<watch::Receiver<StreamState>>,
    metrics_addr: OnceLock<String>,
    pub(super) changed: Notify,
}

impl std::fmt::Debug for Vitals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vitals")
            .field("workspace", &self.workspace)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Inner {
    registered: bool,
    stopping: bool,
    received: u64,
    answered: u64,
    failed: u64,
    /// Settled rows by (outcome, failed).
    outcomes: BTreeMap<(&'static str, bool), u64>,
    backlog: usize,
    in_flight: usize,
    cursor_lag: usize,
    last_heartbeat: Option<SystemTime>,
    last_poll: Option<(SystemTime, Instant)>,
    last_error: Option<(SystemTime, String)>,
}

impl Vitals {
    /// A record for `workspace` on `platform_url`; a poll older than `poll_stale_after` makes
    /// it not ready, and its status file is rewritten every `status_every`.
    pub fn new(
        workspace: Uuid,
        platform_url: String,
        poll_stale_after: Duration,
        status_every: Duration,
    ) -> Arc<Vitals> {
        Arc::new(Vitals {
            workspace,
            platform_url,
            started: SystemTime::now(),
            poll_stale_after,
            status_every,
            latency: Histogram::new(LATENCY_BUCKETS),
            inner: Mutex::new(Inner::default()),
            client: OnceLock::new(),
            backend: OnceLock::new(),
            stream: OnceLock::new(),
            metrics_addr: OnceLock::new(),
            changed: Notify::new(),
        })
    }

    /// The workspace.
    pub fn workspace(&self) -> Uuid {
        self.workspace
    }

    /// Reads the platform client's failure tally and rate limit from now on.
    pub fn attach_client(&self, client: &PlatformClient) {
        let _ = self.client.set(client.clone());
    }

    /// Reads the backend's state and counters from now on.
    pub fn attach_backend(&self, sup: &Supervisor) {
        let _ = self.backend.set(sup.clone());
        self.changed.notify_one();
    }

    /// Reads the event stream's state from now on.
    pub fn attach_stream(&self, states: watch::Receiver<StreamState>) {
        let _ = self.stream.set(states);
    }

    /// Says where the metrics are served.
    pub fn set_metrics_addr(&self, addr: String) {
        let _ = self.metrics_addr.set(addr);
    }

    /// The workspace is registered.
    pub fn registered(&self) {
        self.update(|i| i.registered = true);
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        self.update(|i| i.stopping = true);
    }

    /// `n` new rows came in from the feed.
    pub fn received(&self, n: u64) {
        if n > 0 {
            self.update(|i| i.received += n);
        }
    }

    /// A row was settled with `outcome`, `latency` after it was fetched; `error` is the
    /// failure's one-line summary when it failed.
    pub fn handled(&self, outcome: &'static str, error: Option<&str>, latency: Duration) {
        self.latency.observe(latency.as_secs_f64());
        self.update(|i| {
            let failed = error.is_some();
            *i.outcomes.entry((outcome, failed)).or_default() += 1;
            match error {
                Some(text) => {
                    i.failed += 1;
                    i.last_error = Some((SystemTime::now(), text.to_owned()));
                }
                None => i.answered += 1,
            }
        });
    }

    /// The engine's load changed.
    pub fn load(&self, backlog: usize, in_flight: usize, cursor_lag: usize) {
        self.update(|i| (i.backlog, i.in_flight, i.cursor_lag) = (backlog, in_flight, cursor_lag));
    }

    /// The platform accepted a heartbeat.
    pub fn heartbeat_ok(&self) {
        self.lock().last_heartbeat = Some(SystemTime::now());
    }

    /// A read of the activity feed succeeded.
    pub fn poll_ok(&self) {
        let first = self.lock().last_poll.is_none();
        let now = (SystemTime::now(), Instant::now());
        match first {
            true => self.update(|i| i.last_poll = Some(now)),
            false => self.lock().last_poll = Some(now),
        }
    }

    /// Something failed that the operator should see in `molecule status`.
    pub fn error(&self, text: impl Into<String>) {
        let text = text.into();
        self.update(|i| i.last_error = Some((SystemTime::now(), text)));
    }

    /// The reply latency histogram.
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }

    /// Settled rows by outcome and whether they failed.
    pub fn outcomes(&self) -> Vec<(&'static str, bool, u64)> {
        let inner = self.lock();
        inner
            .outcomes
            .iter()
            .map(|(&(o, f), &n)| (o, f, n))
            .collect()
    }

    /// `Ok` when the workspace is registered, its backend up and its last poll recent; else
    /// why not, in a few words.
    pub fn readiness(&self) -> Result<(), String> {
        let (registered, stopping, last_poll) = {
            let i = self.lock();
            (i.registered, i.stopping, i.last_poll)
        };
        if stopping {
            return Err("shutting down".into());
        }
        if !registered {
            return Err("not registered yet".into());
        }
        let backend = self.backend_snapshot();
        if backend.state != "ready" {
            return Err(format!("backend {}", backend.state.replace('_', " ")));
        }
        match last_poll {
            None => Err("no successful poll yet".into()),
            Some((_, at)) if at.elapsed() > self.poll_stale_after => Err(format!(
                "no successful poll for {} s",
                at.elapsed().as_secs()
            )),
            Some(_) => Ok(()),
        }
    }

    /// The record now.
    pub fn snapshot(&self) -> Snapshot {
        let not_ready = self.readiness().err();
        let backend = self.backend_snapshot();
        let client = self.client.get();
        let rate_limit = client.and_then(|c| {
            let budget = c.limiter().budget();
            budget.limit().map(|limit| RateLimit {
                limit,
                remaining: budget.available(),
            })
        });
        let platform_errors = client
            .map(|c| {
                c.failures()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
            })
            .unwrap_or_default();
        let stream = self.stream.get().map_or(StreamState::Off, |s| *s.borrow());
        let i = self.lock();
        let state = match (i.stopping, i.registered) {
            (true, _) => "stopping",
            (false, true) => "serving",
            (false, false) => "starting",
        };
        Snapshot {
            format: FORMAT,
            workspace: self.workspace,
            pid: std::process::id(),
            state: state.into(),
            platform_url: self.platform_url.clone(),
            started_ms: unix_ms(self.started),
            written_ms: unix_ms(SystemTime::now()),
            interval_ms: self.status_every.as_millis() as u64,
            registered: i.registered,
            last_heartbeat_ms: i.last_heartbeat.map(unix_ms),
            last_poll_ms: i.last_poll.map(|(t, _)| unix_ms(t)),
            rows_received: i.received,
            rows_answered: i.answered,
            rows_failed: i.failed,
            backlog: i.backlog,
            in_flight: i.in_flight,
            cursor_lag_rows: i.cursor_lag,
            last_error: i.last_error.as_ref().map(|(at, text)| LastError {
                at_ms: unix_ms(*at),
                text: text.clone(),
            }),
            backend,
            stream: stream.as_str().into(),
            rate_limit,
            platform_errors,
            metrics_addr: self.metrics_addr.get().cloned(),
            not_ready,
        }
    }

    fn backend_snapshot(&self) -> BackendSnapshot {
        let Some(sup) = self.backend.get() else {
            return BackendSnapshot {
                state: "not_started".into(),
                pid: None,
                starts: 0,
                restarts: 0,
            };
        };
        let status = sup.status().borrow().clone();
        let state = match status.state {
            State::Ready => "ready",
            State::Restarting => "restarting",
            State::BreakerOpen { .. } => "breaker_open",
            State::ShuttingDown => "shutting_down",
            State::Stopped => "stopped",
        };
        BackendSnapshot {
            state: state.into(),
            pid: status.pid,
            starts: sup.stats().starts,
            restarts: status.crashes,
        }
    }

    fn update(&self, change: impl FnOnce(&mut Inner)) {
        change(&mut self.lock());
        self.changed.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
