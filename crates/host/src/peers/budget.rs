//! The per-backend budget of peer calls and `user/notify`: at most N started in any window (a
//! minute), so a backend in a loop can neither spend the platform's rate limit, which polling
//! and heartbeats share, nor flood its peers or the person's chat.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sliding-window counter of calls started.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    window: Duration,
    started: Mutex<VecDeque<Instant>>,
}

impl Budget {
    /// At most `limit` calls per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Budget {
            limit: limit.max(1) as usize,
            window,
            started: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts a call started at `now`, or says how long until one may start.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        while started
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            started.pop_front();
        }
        if started.len() < self.limit {
            started.push_back(now);
            return Ok(());
        }
        let oldest = started.front().copied().unwrap_or(now);
        Err((oldest + self.window).saturating_duration_since(now))
    }

    /// The most calls per window.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides() {
        let b = Budget::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(
            b.take(t0 + Duration::from_secs(20)),
            Err(Duration::from_secs(40))
        );
        assert!(b.take(t0 + Duration::from_secs(60)).is_ok());
    }
}
