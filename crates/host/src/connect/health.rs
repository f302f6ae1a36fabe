//! How the host is doing, as the heartbeat and the summary line report it: rows handled and
//! failed, the failed share over a window, the latest error, the load. The engine records;
//! the heartbeat and the summary read.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::backend::{State, Status};
use crate::platform::Heartbeat;

/// The longest `sample_error` sent.
const SAMPLE_MAX: usize = 200;

/// Buckets the error window is split into.
const BUCKETS: u32 = 20;

/// The shared record.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    window: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    buckets: VecDeque<Bucket>,
    last_error: Option<String>,
    handled: u64,
    errors: u64,
    active: usize,
    backlog: usize,
}

#[derive(Debug)]
struct Bucket {
    start: Instant,
    ok: u64,
    failed: u64,
}

/// Why a row failed: the detail for the log, and a summary that is safe to show on the
/// canvas's degraded card (`sample_error`): never the backend's own text, which may quote the
/// message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// For the operator's log.
    pub detail: String,
    /// For the heartbeat.
    pub summary: String,
    /// Whether the backend failed (only those count in the heartbeat's error rate: an
    /// unreadable message or a refused reply says nothing about the agent's health).
    pub backend: bool,
}

impl Failure {
    /// A failure of the backend.
    pub fn new(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Failure {
            detail: detail.into(),
            summary: summary.into(),
            backend: true,
        }
    }

    /// A failure that is not the backend's.
    pub fn elsewhere(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Failure {
            backend: false,
            ..Failure::new(summary, detail)
        }
    }
}

/// Totals for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Rows settled since start (skipped rows excluded).
    pub handled: u64,
    /// Of those, rows answered with an error or not answered.
    pub errors: u64,
    /// Rows with the backend now.
    pub active: usize,
    /// Rows fetched and not settled.
    pub backlog: usize,
}

impl Health {
    /// A record whose error rate covers `window`.
    pub fn new(window: Duration) -> Self {
        Health {
            started: Instant::now(),
            window: window.max(Duration::from_millis(1)),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records a handled row, and why it failed if it did.
    pub fn record(&self, error: Option<&Failure>) {
        let now = Instant::now();
        let width = self.window / BUCKETS;
        let mut inner = self.lock();
        inner.handled += 1;
        let fresh = inner
            .buckets
            .back()
            .is_none_or(|b| now.duration_since(b.start) >= width);
        if fresh {
            inner.buckets.push_back(Bucket {
                start: now,
                ok: 0,
                failed: 0,
            });
        }
        let failed = error.is_some_and(|f| f.backend);
        if let Some(bucket) = inner.buckets.back_mut() {
            if failed {
                bucket.failed += 1;
            } else {
                bucket.ok += 1;
            }
        }
        if let Some(f) = error {
            inner.errors += 1;
            if f.backend {
                inner.last_error = Some(f.summary.chars().take(SAMPLE_MAX).collect());
            }
        }
        self.expire(&mut inner, now);
    }

    /// Sets the load: rows with the backend, rows fetched and unsettled.
    pub fn set_load(&self, active: usize, backlog: usize) {
        let mut inner = self.lock();
        inner.active = active;
        inner.backlog = backlog;
    }

    /// The totals.
    pub fn totals(&self) -> Totals {
        let inner = self.lock();
        Totals {
            handled: inner.handled,
            errors: inner.errors,
            active: inner.active,
            backlog: inner.backlog,
        }
    }

    /// The latest backend failure's summary (safe to show: never the backend's own text).
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// The heartbeat to send now, given the backend's status.
    pub fn beat(&self, status: &Status) -> Heartbeat {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        let (ok, failed) = inner
            .buckets
            .iter()
            .fold((0, 0), |(o, f), b| (o + b.ok, f + b.failed));
        let mut error_rate = if ok + failed == 0 {
            0.0
        } else {
            failed as f64 / (ok + failed) as f64
        };
        let mut sample_error = if failed > 0 {
            inner.last_error.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let current_task = match status.state {
            State::Ready => "",
            State::Restarting => "backend restarting",
            State::BreakerOpen { .. } => {
                error_rate = 1.0;
                sample_error = format!(
                    "the backend keeps crashing ({} crashes); messages wait on the platform",
                    status.crashes
                );
                "backend unavailable: crash loop"
            }
            State::ShuttingDown | State::Stopped => "shutting down",
        };
        Heartbeat {
            uptime_seconds: self.started.elapsed().as_secs(),
            active_tasks: u32::try_from(inner.active).unwrap_or(u32::MAX),
            current_task: current_task.to_owned(),
            error_rate,
            sample_error,
        }
    }

    fn expire(&self, inner: &mut Inner, now: Instant) {
        while inner
            .buckets
            .front()
            .is_some_and(|b| now.duration_since(b.start) > self.window)
        {
            inner.buckets.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: State) -> Status {
        Status {
            state,
            pid: None,
            crashes: 6,
            last_error: Some("stderr secret".into()),
        }
    }

    #[test]
    fn the_error_rate_covers_the_window_and_the_breaker_forces_it() {
        let h = Health::new(Duration::from_secs(60));
        h.record(None);
        h.record(Some(&Failure::new(
            "the backend crashed",
            "exit status 42; stderr: secret",
        )));
        h.record(Some(&Failure::elsewhere(
            "an unreadable message",
            "no parts",
        )));
        h.record(None);
        h.set_load(2, 7);
        let beat = h.beat(&status(State::Ready));
        assert_eq!((beat.error_rate, beat.active_tasks), (0.25, 2));
        assert_eq!(beat.sample_error, "the backend crashed");
        assert_eq!(beat.current_task, "");
        let open = h.beat(&status(State::BreakerOpen {
            until: Instant::now(),
        }));
        assert_eq!(open.error_rate, 1.0);
        assert!(open.sample_error.contains("6 crashes") && !open.sample_error.contains("secret"));
        assert_eq!(
            h.totals(),
            Totals {
                handled: 4,
                errors: 2,
                active: 2,
                backlog: 7
            }
        );
    }
}
