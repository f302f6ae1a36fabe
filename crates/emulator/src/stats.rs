//! Counters that tests and benchmarks read to report what the emulator did behind the client's
//! back: the requests each endpoint served, injected faults (and which of them dropped a
//! connection or added latency), `/a2a` posts recognised as duplicates of an earlier messageId,
//! hostile answers served, and what happened to the events of the event streams.

use super::faults::{Endpoint, Fault};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Event counts since the emulator started (not kept in the data file).
#[derive(Debug, Default)]
pub struct Stats {
    requests: Mutex<BTreeMap<Endpoint, u64>>,
    a2a_deduplicated: AtomicU64,
    faults_before: AtomicU64,
    faults_after: AtomicU64,
    connections_dropped: AtomicU64,
    delayed: AtomicU64,
    hostile: AtomicU64,
    streams_opened: AtomicU64,
    events_queued: AtomicU64,
    events_dropped_full: AtomicU64,
    events_dropped_fault: AtomicU64,
    events_sent: AtomicU64,
    streams_cut: AtomicU64,
    corrupted_rows: Mutex<Vec<String>>,
}

/// A copy of the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Requests that reached each platform endpoint (after the rate limiter and the tenant
    /// guard, before fault injection).
    pub requests: BTreeMap<Endpoint, u64>,
    /// `/a2a` posts to a poll-mode target whose messageId was already in its feed: answered
    /// as queued, nothing written (newer platform only).
    pub a2a_deduplicated: u64,
    /// Faults injected before processing (the request had no effect).
    pub faults_before: u64,
    /// Faults injected after processing (the request took effect, its answer was lost).
    pub faults_after: u64,
    /// Of those faults, the ones that dropped the connection (before or after processing).
    pub connections_dropped: u64,
    /// Requests held back by injected latency.
    pub delayed: u64,
    /// Requests answered by a hostile rule.
    pub hostile: u64,
    /// Event streams answered with 200.
    pub streams_opened: u64,
    /// Events put in a subscriber's buffer.
    pub events_queued: u64,
    /// Events dropped because a subscriber's buffer was full (the platform's behaviour).
    pub events_dropped_full: u64,
    /// Events dropped by fault injection.
    pub events_dropped_fault: u64,
    /// Events written to a stream.
    pub events_sent: u64,
    /// Streams closed by fault injection (after N events) or by the admin API.
    pub streams_cut: u64,
    /// The ids of the rows served corrupted ([`crate::hostile_rows`]), in order.
    pub corrupted_rows: Vec<String>,
}

impl StatsSnapshot {
    /// The requests `endpoint` served.
    pub fn requests_to(&self, endpoint: Endpoint) -> u64 {
        self.requests.get(&endpoint).copied().unwrap_or(0)
    }

    /// Every request served, all endpoints together.
    pub fn requests_total(&self) -> u64 {
        self.requests.values().sum()
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    /// Counts one request to `endpoint`.
    pub fn request(&self, endpoint: Endpoint) {
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *r.entry(endpoint).or_default() += 1;
    }

    /// Counts an event stream opened.
    pub fn stream_opened(&self) {
        bump(&self.streams_opened);
    }

    /// Counts an event put in a subscriber's buffer.
    pub fn event_queued(&self) {
        bump(&self.events_queued);
    }

    /// Counts an event dropped on a full buffer.
    pub fn event_dropped_full(&self) {
        bump(&self.events_dropped_full);
    }

    /// Counts an event dropped by fault injection.
    pub fn event_dropped_fault(&self) {
        bump(&self.events_dropped_fault);
    }

    /// Counts an event written.
    pub fn event_sent(&self) {
        bump(&self.events_sent);
    }

    /// Counts streams cut.
    pub fn streams_cut(&self, n: usize) {
        self.streams_cut.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts one deduplicated `/a2a` post.
    pub fn deduplicated(&self) {
        self.a2a_deduplicated.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one injected fault.
    pub fn fault(&self, fault: Fault) {
        let c = if fault.after_processing() {
            &self.faults_after
        } else {
            &self.faults_before
        };
        c.fetch_add(1, Ordering::Relaxed);
        if matches!(fault, Fault::DropBefore | Fault::DropAfter) {
            self.connections_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one request delayed by injected latency.
    pub fn delayed(&self) {
        self.delayed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one hostile answer.
    pub fn hostile(&self) {
        self.hostile.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a row served corrupted.
    pub fn corrupted_row(&self, id: String) {
        self.corrupted_rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id);
    }

    /// The counts now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: self
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            streams_opened: load(&self.streams_opened),
            events_queued: load(&self.events_queued),
            events_dropped_full: load(&self.events_dropped_full),
            events_dropped_fault: load(&self.events_dropped_fault),
            events_sent: load(&self.events_sent),
            streams_cut: load(&self.streams_cut),
            a2a_deduplicated: self.a2a_deduplicated.load(Ordering::Relaxed),
            faults_before: self.faults_before.load(Ordering::Relaxed),
            faults_after: self.faults_after.load(Ordering::Relaxed),
            connections_dropped: self.connections_dropped.load(Ordering::Relaxed),
            delayed: self.delayed.load(Ordering::Relaxed),
            hostile: self.hostile.load(Ordering::Relaxed),
            corrupted_rows: self
                .corrupted_rows
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
