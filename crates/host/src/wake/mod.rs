//! Waking feed readers on the platform's event stream, with polling as the source of truth.
//!
//! A reader of the activity feed (the `connect` poller, `molecule send --wait`) rests between
//! reads on a [`Wake`]: the rest ends when an event says a row it cares about was written, or
//! after an interval that depends on the stream — the long safety interval while the stream is
//! live, the reader's own short interval while it is not. [`follow`] keeps the stream open
//! (reconnecting with capped, jittered backoff) and wakes the reader on each such event and
//! after every (re)connect, since events may have been missed in between.
//!
//! Wake-ups coalesce: however many events arrive while the reader is reading, at most one
//! more read follows (a [`tokio::sync::Notify`] permit), so a burst never becomes a storm of
//! polls, and every read still goes through the client-side rate limiter. An event that is
//! lost, late, duplicated or reordered can therefore only delay a row, by at most the safety
//! interval: the feed, read from the cursor, decides what is there.
//!
//! - `signal`: [`Wake`] and [`StreamState`];
//! - `follow`: the task that keeps the stream open ([`follow()`]).

mod follow;
mod signal;

pub use follow::{Filter, follow};
pub use signal::{Nudge, StreamState, Wake};

use std::time::Duration;

/// How the event stream is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSettings {
    /// Use the stream at all (`--no-event-stream` turns it off).
    pub enabled: bool,
    /// How often the feed is read while the stream is live (30 s).
    pub safety_interval: Duration,
    /// First delay before reconnecting a lost stream (1 s).
    pub reconnect_base: Duration,
    /// Longest such delay (60 s).
    pub reconnect_max: Duration,
    /// How often a platform without the route is asked again (10 min).
    pub unsupported_retry: Duration,
    /// A stream silent for this long is reopened (5 min): the platform sends no keep-alive,
    /// so silence is normal, but a connection a proxy stopped forwarding looks the same.
    pub idle_timeout: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            enabled: true,
            safety_interval: Duration::from_secs(30),
            reconnect_base: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            unsupported_retry: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(300),
        }
    }
}
