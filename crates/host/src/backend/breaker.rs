//! The crash-loop breaker: too many crashes in a window open it; after a cool-down it lets one
//! trial start through, whose success closes it again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The breaker's state machine (pure: the caller passes the time).
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: usize,
    window: Duration,
    cooldown: Duration,
    crashes: VecDeque<Instant>,
    open_until: Option<Instant>,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, window: Duration, cooldown: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1) as usize,
            window,
            cooldown,
            crashes: VecDeque::new(),
            open_until: None,
        }
    }

    /// Records a crash (or a failed start). Returns when the next start may happen if the
    /// breaker is now open. A failed trial start reopens it for another cool-down.
    pub(crate) fn record_crash(&mut self, now: Instant) -> Option<Instant> {
        self.crashes.push_back(now);
        while self
            .crashes
            .front()
            .is_some_and(|&t| now.duration_since(t) > self.window)
        {
            self.crashes.pop_front();
        }
        if self.open_until.is_some() || self.crashes.len() >= self.threshold {
            let until = now + self.cooldown;
            self.open_until = Some(until);
            return Some(until);
        }
        None
    }

    /// A start succeeded: a half-open breaker closes and forgets the crashes that opened it.
    pub(crate) fn record_start(&mut self) {
        if self.open_until.take().is_some() {
            self.crashes.clear();
        }
    }

    /// Until when the breaker is open, if it is (the next start is then a trial).
    pub(crate) fn open_until(&self) -> Option<Instant> {
        self.open_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_within_the_window_and_closes_on_a_good_trial() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = Breaker::new(3, s(60), s(10));
        assert_eq!(b.record_crash(t0), None);
        assert_eq!(
            b.record_crash(t0 + s(70)),
            None,
            "the first crash left the window"
        );
        assert_eq!(b.record_crash(t0 + s(80)), None);
        assert_eq!(b.record_crash(t0 + s(90)), Some(t0 + s(100)));
        assert_eq!(b.open_until(), Some(t0 + s(100)));
        // The trial start fails: open again for a full cool-down.
        assert_eq!(b.record_crash(t0 + s(101)), Some(t0 + s(111)));
        b.record_start();
        assert_eq!(b.open_until(), None);
        assert_eq!(
            b.record_crash(t0 + s(120)),
            None,
            "closing forgot the old crashes"
        );
    }
}
