//! The platform's global rate limiter: a token bucket of `N` requests per minute per key (the
//! older platform keys on the client address; the newer one on the org id, else the bearer's
//! hash, else the address).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The outcome for one request, with what the `X-RateLimit-*` headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// `X-RateLimit-Limit`
    pub limit: u32,
    /// `X-RateLimit-Remaining`
    pub remaining: u32,
    /// `X-RateLimit-Reset`: Unix time (seconds) at which the bucket is full again.
    pub reset_unix: u64,
    /// `Retry-After` seconds when refused.
    pub retry_after: u64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter of `per_minute` requests per minute per key (at least 1).
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`.
    pub fn check(&self, key: &str) -> Decision {
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0; // tokens per second
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(cap);
        b.at = now;
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        }
        let to_full = Duration::from_secs_f64((cap - b.tokens) / rate);
        let reset_unix = (SystemTime::now() + to_full)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let retry_after = if allowed {
            0
        } else {
            ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64
        };
        Decision {
            allowed,
            limit: self.per_minute,
            remaining: b.tokens.floor() as u32,
            reset_unix,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_keys_are_separate() {
        let l = RateLimiter::new(3);
        let d: Vec<Decision> = (0..4).map(|_| l.check("a")).collect();
        assert_eq!(
            d.iter().map(|d| d.remaining).collect::<Vec<_>>()[..3],
            [2, 1, 0]
        );
        assert!(d[..3].iter().all(|d| d.allowed));
        assert!(!d[3].allowed);
        assert!(d[3].retry_after >= 1 && d[3].retry_after <= 20);
        assert!(l.check("b").allowed);
    }
}
