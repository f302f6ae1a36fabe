//! The limiter driven by a fake clock: every decision is checked at exact instants.

use super::*;
use crate::platform::Call;
use reqwest::header::{HeaderMap, HeaderValue};

/// A clock that moves only when told to.
#[derive(Debug)]
struct FakeClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl FakeClock {
    fn new() -> Arc<Self> {
        Arc::new(FakeClock {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        })
    }

    fn advance(&self, d: Duration) {
        *self.offset.lock().unwrap() += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
}

fn headers(limit: &str, remaining: Option<u32>, reset: Option<u64>) -> RateLimitHeaders {
    let mut map = HeaderMap::new();
    map.insert("x-ratelimit-limit", HeaderValue::from_str(limit).unwrap());
    if let Some(r) = remaining {
        map.insert("x-ratelimit-remaining", r.into());
    }
    if let Some(r) = reset {
        map.insert("x-ratelimit-reset", r.into());
    }
    RateLimitHeaders::parse(&map, SystemTime::now())
}

fn limiter() -> (RateLimiter, Arc<FakeClock>) {
    let clock = FakeClock::new();
    (
        RateLimiter::with_clock(RateLimitConfig::default(), clock.clone()),
        clock,
    )
}

#[test]
fn headers_are_parsed() {
    let h = headers("600", Some(598), Some(42));
    assert_eq!(h.limit, Some(600));
    assert_eq!(h.remaining, Some(598));
    assert_eq!(h.reset, Some(Duration::from_secs(42)));
    assert!(!h.unlimited);
    assert!(headers("unlimited", None, None).unlimited);
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30;
    let h = headers("100", Some(1), Some(epoch));
    let reset = h.reset.unwrap();
    assert!(
        reset <= Duration::from_secs(30) && reset >= Duration::from_secs(28),
        "{reset:?}"
    );
}

#[test]
fn no_headers_means_no_pacing() {
    let (l, _) = limiter();
    for _ in 0..10_000 {
        assert_eq!(l.check(CallClass::Poll), Decision::Go);
    }
    l.observe(&RateLimitHeaders::default(), Call::Activity);
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
    l.observe(&headers("unlimited", None, None), Call::Activity);
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
}

#[test]
fn classes_stop_at_their_thresholds_and_heartbeats_never_do() {
    let (l, clock) = limiter();
    // Reserve 5, step 5: replies need more than 5 left, peers more than 10, polls more than 15.
    l.observe(&headers("600", Some(16), Some(30)), Call::Activity);
    assert_eq!(l.check(CallClass::Poll), Decision::Go); // 16 > 15; now 15 left
    let window_end = clock.now() + Duration::from_secs(30);
    assert_eq!(l.check(CallClass::Poll), Decision::WaitUntil(window_end));
    for _ in 0..5 {
        assert_eq!(l.check(CallClass::Peer), Decision::Go);
    }
    assert_eq!(l.check(CallClass::Peer), Decision::WaitUntil(window_end));
    for _ in 0..5 {
        assert_eq!(l.check(CallClass::Reply), Decision::Go);
    }
    assert_eq!(l.check(CallClass::Reply), Decision::WaitUntil(window_end));
    assert_eq!(l.budget().available(), 5);
    // The reserve is the heartbeats': they go, even past it.
    for _ in 0..7 {
        assert_eq!(l.check(CallClass::Heartbeat), Decision::Go);
    }
    assert_eq!(l.budget().available(), 0);
    // The window restarts: the budget is assumed full again.
    clock.advance(Duration::from_secs(30));
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
    assert_eq!(l.budget().available(), 599);
}

#[test]
fn a_fresh_report_replaces_the_estimate() {
    let (l, _) = limiter();
    l.observe(&headers("600", Some(3), Some(10)), Call::Activity);
    assert!(matches!(l.check(CallClass::Reply), Decision::WaitUntil(_)));
    // Another response (the window restarted on the server) raises the budget at once.
    l.observe(&headers("600", Some(599), Some(60)), Call::Activity);
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
}

#[test]
fn a_429_blocks_every_class_but_heartbeats_for_retry_after() {
    let (l, clock) = limiter();
    l.observe_429(
        &RateLimitHeaders::default(),
        Some(Duration::from_secs(7)),
        Call::Activity,
    );
    let until = clock.now() + Duration::from_secs(7);
    for class in [CallClass::Reply, CallClass::Peer, CallClass::Poll] {
        assert_eq!(l.check(class), Decision::WaitUntil(until), "{class:?}");
    }
    // Heartbeats keep the workspace alive through the block.
    assert_eq!(l.check(CallClass::Heartbeat), Decision::Go);
    assert_eq!(l.check(CallClass::Poll), Decision::WaitUntil(until));
    clock.advance(Duration::from_secs(7));
    // A 429 that names no budget said only "wait": once it ran out, nothing is paced.
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
    assert_eq!(l.budget().limit(), None);
    for _ in 0..1000 {
        assert_eq!(l.check(CallClass::Poll), Decision::Go);
    }
}

#[test]
fn a_429_from_a_platform_that_reported_its_budget_spends_the_window() {
    let (l, clock) = limiter();
    l.observe(&headers("600", Some(300), Some(60)), Call::Activity);
    l.observe_429(
        &RateLimitHeaders::default(),
        Some(Duration::from_secs(7)),
        Call::Activity,
    );
    clock.advance(Duration::from_secs(7));
    // The window restarted when Retry-After ran out: the full reported limit, paced again.
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
    assert_eq!(l.budget().available(), 599);
}

#[test]
fn waits_the_platform_names_are_saturated_and_cut() {
    let (l, clock) = limiter();
    let huge = u64::MAX;
    let h = headers("600", Some(0), Some(huge));
    assert_eq!(
        h.reset,
        Some(Duration::MAX),
        "an epoch past the end of time saturates"
    );
    let asked = l.cap_wait(Duration::from_secs(huge), "Retry-After", Call::Activity);
    assert_eq!(asked, Duration::from_secs(60));
    l.observe_429(&h, Some(asked), Call::Activity);
    let until = clock.now() + Duration::from_secs(60);
    assert_eq!(l.check(CallClass::Poll), Decision::WaitUntil(until));
    // A report with the same reset holds the window for the longest wait, not for ever.
    l.observe(&headers("600", Some(0), Some(huge)), Call::Activity);
    assert_eq!(l.check(CallClass::Reply), Decision::WaitUntil(until));
    clock.advance(Duration::from_secs(60));
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
    // The pure budget saturates too, whatever it is handed.
    let mut b = Budget::new(RateLimitConfig::default(), clock.now());
    let raw = RateLimitHeaders {
        reset: Some(Duration::MAX),
        ..h
    };
    b.observe_429(&raw, Some(Duration::MAX), clock.now());
    assert!(matches!(
        b.decide(CallClass::Poll, clock.now()),
        Decision::WaitUntil(_)
    ));
}

#[test]
fn a_429_without_retry_after_waits_for_the_reset() {
    let (l, clock) = limiter();
    l.observe_429(&headers("600", Some(0), Some(12)), None, Call::Activity);
    let until = clock.now() + Duration::from_secs(12);
    assert_eq!(l.check(CallClass::Reply), Decision::WaitUntil(until));
}

#[test]
fn tiny_limits_keep_half_usable_and_disabled_never_paces() {
    let (l, _) = limiter();
    l.observe(&headers("10", Some(6), Some(60)), Call::Activity);
    assert_eq!(l.budget().threshold(CallClass::Poll), 5);
    assert_eq!(l.check(CallClass::Poll), Decision::Go);
    assert!(matches!(l.check(CallClass::Poll), Decision::WaitUntil(_)));
    let off = RateLimiter::new(RateLimitConfig {
        enabled: false,
        ..RateLimitConfig::default()
    });
    off.observe(&headers("600", Some(0), Some(60)), Call::Activity);
    assert_eq!(off.check(CallClass::Poll), Decision::Go);
}

#[tokio::test]
async fn a_held_call_is_released_by_a_fresh_report() {
    let (l, _) = limiter();
    l.observe(&headers("600", Some(2), Some(3600)), Call::Activity);
    let mut poll = std::pin::pin!(l.acquire(CallClass::Poll, Call::Activity));
    assert!(futures_util::poll!(poll.as_mut()).is_pending());
    // Heartbeats are not held while the poll waits.
    l.acquire(CallClass::Heartbeat, Call::Heartbeat).await;
    assert!(futures_util::poll!(poll.as_mut()).is_pending());
    l.observe(&headers("600", Some(600), Some(60)), Call::Activity);
    poll.await;
    assert_eq!(l.budget().available(), 599);
}
