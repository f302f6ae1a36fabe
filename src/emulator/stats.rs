//! Counters that tests and benchmarks read to report what the emulator did behind the client's
//! back: injected faults, and `/a2a` posts recognised as duplicates of an earlier messageId.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Event counts since the emulator started (not kept in the data file).
#[derive(Debug, Default)]
pub struct Stats {
    a2a_deduplicated: AtomicU64,
    faults_before: AtomicU64,
    faults_after: AtomicU64,
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
}

impl Stats {
    /// Counts one deduplicated `/a2a` post.
    pub fn deduplicated(&self) {
        self.a2a_deduplicated.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one injected fault.
    pub fn fault(&self, after_processing: bool) {
        let c = if after_processing {
            &self.faults_after
        } else {
            &self.faults_before
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            a2a_deduplicated: self.a2a_deduplicated.load(Ordering::Relaxed),
            faults_before: self.faults_before.load(Ordering::Relaxed),
            faults_after: self.faults_after.load(Ordering::Relaxed),
        }
    }
}
