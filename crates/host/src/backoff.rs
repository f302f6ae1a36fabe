//! Capped exponential backoff with jitter, for every retry loop in the host, and [`later`],
//! the one way the host adds a delay it did not choose (one the network or a backend named) to
//! an instant.

use std::time::{Duration, Instant};

/// `now + d`, saturating: a delay too long to add (a `Retry-After` of 2^64 seconds, say) gives
/// an instant thirty years away instead of a panic.
pub fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365 * 30)))
        .unwrap_or(now)
}

/// An exponential backoff: `base * 2^attempt`, capped at `max`, with ±`jitter` (a fraction).
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: f64,
    attempt: u32,
}

impl Backoff {
    /// A backoff from `base` to `max` with ±25% jitter.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            jitter: 0.25,
            attempt: 0,
        }
    }

    /// Sets the jitter fraction (0 disables it; 1 is "full jitter" around the nominal value).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// The nominal (unjittered) delay before retry number `attempt` (counting from 0).
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next retry; each call moves one step up.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.nominal(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let spread = 1.0 + self.jitter * (2.0 * fastrand::f64() - 1.0);
        nominal.mul_f64(spread.max(0.0))
    }

    /// How many delays have been handed out since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Back to the first step (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_within_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(16));
        let nominal: Vec<u64> = (0..7).map(|a| b.nominal(a).as_secs()).collect();
        assert_eq!(nominal, [1, 2, 4, 8, 16, 16, 16]);
        for step in 0..6 {
            let d = b.next_delay().as_secs_f64();
            let n = b.nominal(step).as_secs_f64();
            assert!(d >= n * 0.75 && d <= n * 1.25, "step {step}: {d} vs {n}");
        }
        b.reset();
        assert_eq!(b.attempt(), 0);
        let exact = Backoff::new(Duration::from_millis(10), Duration::from_secs(1))
            .with_jitter(0.0)
            .next_delay();
        assert_eq!(exact, Duration::from_millis(10));
    }
}
