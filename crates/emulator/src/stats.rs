//! Counters that tests and benchmarks read to report what the emulator did behind the client's
//! back: injected faults (and which of them dropped a connection or added latency), and
//! `/a2a` posts recognised as duplicates of an earlier messageId, and hostile answers served.

use super::faults::Fault;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Event counts since the emulator started (not kept in the data file).
#[derive(Debug, Default)]
pub struct Stats {
    a2a_deduplicated: AtomicU64,
    faults_before: AtomicU64,
    faults_after: AtomicU64,
    connections_dropped: AtomicU64,
    delayed: AtomicU64,
    hostile: AtomicU64,
}

/// A copy of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
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
}

impl Stats {
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

    /// The counts now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            a2a_deduplicated: self.a2a_deduplicated.load(Ordering::Relaxed),
            faults_before: self.faults_before.load(Ordering::Relaxed),
            faults_after: self.faults_after.load(Ordering::Relaxed),
            connections_dropped: self.connections_dropped.load(Ordering::Relaxed),
            delayed: self.delayed.load(Ordering::Relaxed),
            hostile: self.hostile.load(Ordering::Relaxed),
        }
    }
}
