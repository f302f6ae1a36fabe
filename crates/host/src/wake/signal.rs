//! The wake-up signal between the stream follower and a feed reader, and the stream's state.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Where the event stream stands, as readers and logs see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Not used (`--no-event-stream`).
    Off,
    /// Being opened for the first time.
    Connecting,
    /// Open: events wake the reader; the feed is read at the safety interval otherwise.
    Live,
    /// Lost, or refused; reconnecting with backoff. The reader polls at its own interval.
    Down,
    /// The platform has no event stream (404/405); asked again rarely.
    Unsupported,
}

impl StreamState {
    /// A word for logs and status lines.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamState::Off => "off",
            StreamState::Connecting => "connecting",
            StreamState::Live => "live",
            StreamState::Down => "down",
            StreamState::Unsupported => "unsupported",
        }
    }
}

/// A reader's end: rests between reads of the feed until woken or until its interval ends.
#[derive(Clone, Debug)]
pub struct Wake {
    notify: Arc<Notify>,
    state: watch::Receiver<StreamState>,
    /// The state can still change (the follower runs).
    open: bool,
    safety: Duration,
}

/// The follower's end.
#[derive(Debug)]
pub(super) struct Waker {
    notify: Arc<Notify>,
    state: watch::Sender<StreamState>,
}

impl Waker {
    /// Asks for one read; wake-ups coalesce into at most one pending.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Moves to `state`; returns the previous one.
    pub fn set(&self, state: StreamState) -> StreamState {
        self.state.send_replace(state)
    }
}

/// Asks the reader for one read now, from outside the stream (a refused heartbeat: the feed
/// decides whether the token is gone, and should not wait for the next safety read).
#[derive(Clone, Debug)]
pub struct Nudge(Arc<Notify>);

impl Nudge {
    /// One read as soon as the reader rests; nudges coalesce like wake-ups.
    pub fn read_now(&self) {
        self.0.notify_one();
    }
}

impl Wake {
    /// A handle that wakes this reader.
    pub fn nudge(&self) -> Nudge {
        Nudge(self.notify.clone())
    }

    /// No stream: every rest lasts the reader's own interval.
    pub fn off() -> Wake {
        let (_, state) = watch::channel(StreamState::Off);
        Wake {
            notify: Arc::new(Notify::new()),
            state,
            open: false,
            safety: Duration::ZERO,
        }
    }

    /// A connected pair, resting `safety` while the stream is live.
    pub(super) fn pair(safety: Duration) -> (Wake, Waker) {
        let (tx, state) = watch::channel(StreamState::Connecting);
        let notify = Arc::new(Notify::new());
        let wake = Wake {
            notify: notify.clone(),
            state,
            open: true,
            safety,
        };
        (wake, Waker { notify, state: tx })
    }

    /// The stream's state now.
    pub fn state(&self) -> StreamState {
        *self.state.borrow()
    }

    /// The stream's state as it changes (for the status and the metrics).
    pub fn states(&self) -> watch::Receiver<StreamState> {
        self.state.clone()
    }

    /// Rests until woken (`true`), or until the interval after `since` ends (`false`): the
    /// safety interval while the stream is live, else `interval`. A stream that goes down
    /// during the rest shortens it at once.
    pub async fn rest(&mut self, since: Instant, interval: Duration) -> bool {
        loop {
            let live = *self.state.borrow_and_update() == StreamState::Live;
            let until = since + if live { self.safety } else { interval };
            tokio::select! {
                () = self.notify.notified() => return true,
                () = tokio::time::sleep_until(until) => return false,
                changed = self.state.changed(), if self.open => {
                    if changed.is_err() {
                        self.open = false;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn wake_ups_coalesce_into_one_pending_read() {
        let (mut wake, waker) = Wake::pair(MIN);
        for _ in 0..1000 {
            waker.wake();
        }
        let t = Instant::now();
        assert!(
            wake.rest(t, MIN).await,
            "the stored wake-up ends the rest at once"
        );
        assert_eq!(Instant::now(), t);
        assert!(
            !wake.rest(t, MIN).await,
            "a thousand wake-ups left one read, not more"
        );
        assert_eq!(Instant::now(), t + MIN);
    }

    #[tokio::test(start_paused = true)]
    async fn the_interval_follows_the_stream_state() {
        let (mut wake, waker) = Wake::pair(30 * MIN);
        let t = Instant::now();
        assert!(
            !wake.rest(t, MIN).await,
            "connecting: the reader's interval"
        );
        assert_eq!(Instant::now(), t + MIN);
        waker.set(StreamState::Live);
        let t = Instant::now();
        assert!(!wake.rest(t, MIN).await);
        assert_eq!(Instant::now(), t + 30 * MIN, "live: the safety interval");
        let t = Instant::now();
        let down = async {
            tokio::time::sleep(2 * MIN).await;
            waker.set(StreamState::Down);
        };
        let (woken, ()) = tokio::join!(wake.rest(t, MIN), down);
        assert!(!woken);
        assert_eq!(Instant::now(), t + 2 * MIN, "lost mid-rest: ends at once");
        drop(waker);
        let t = Instant::now();
        assert!(
            !wake.rest(t, MIN).await,
            "a follower gone leaves the interval"
        );
        assert_eq!(Instant::now(), t + MIN);
        let mut off = Wake::off();
        assert_eq!(off.state(), StreamState::Off);
        assert!(!off.rest(t, MIN).await);
    }
}
