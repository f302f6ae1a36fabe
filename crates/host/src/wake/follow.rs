//! The task that keeps the event stream open for as long as its reader runs.
//!
//! - Opened: the stream is live; the reader is woken at once (events may have been missed
//!   before it opened), then on every event the filter accepts, and on every event too large
//!   or too odd to read (something happened: a read costs little).
//! - Closed, broken, or silent for the idle timeout: the stream is down; it is reopened after
//!   a capped, jittered backoff (reset once a stream has lasted the longest delay).
//! - 404/405, or a 2xx that is not an event stream: the platform has no event stream. Said
//!   once at INFO; asked again every `unsupported_retry`.
//! - 401 (after the client re-read the token file): the reader is woken, so that its next
//!   read of the feed meets the same 401 and takes the reader's own token path (for
//!   `connect`: the fatal "token rejected" exit); the stream backs off meanwhile.
//!
//! One INFO line per change of state, never one per event. The token never appears: platform
//! errors carry none.

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::platform::{EventStream, PlatformClient, PlatformError, PlatformEvent, StreamItem};

use super::StreamSettings;
use super::signal::{StreamState, Wake, Waker};

/// Which events wake the reader.
pub type Filter = Arc<dyn Fn(&PlatformEvent) -> bool + Send + Sync>;

/// Follows the event stream of `client`'s workspace until `cancel` fires; the returned
/// [`Wake`] rests on it. With the stream turned off there is no task and the wake never fires.
pub fn follow(
    client: PlatformClient,
    settings: StreamSettings,
    filter: Filter,
    cancel: CancellationToken,
) -> (Wake, Option<JoinHandle<()>>) {
    if !settings.enabled {
        tracing::info!(
            "event stream off (--no-event-stream): reading the feed at the poll interval"
        );
        return (Wake::off(), None);
    }
    let (wake, waker) = Wake::pair(settings.safety_interval);
    let backoff = Backoff::new(settings.reconnect_base, settings.reconnect_max);
    let follower = Follower {
        client,
        settings,
        filter,
        waker,
        cancel,
        backoff,
        said_unsupported: false,
    };
    (wake, Some(tokio::spawn(follower.run().in_current_span())))
}

struct Follower {
    client: PlatformClient,
    settings: StreamSettings,
    filter: Filter,
    waker: Waker,
    cancel: CancellationToken,
    backoff: Backoff,
    said_unsupported: bool,
}

impl Follower {
    async fn run(mut self) {
        loop {
            let opened = tokio::select! {
                () = self.cancel.cancelled() => return,
                r = self.client.event_stream() => r,
            };
            let pause = match opened {
                Ok(stream) => self.read(stream).await,
                Err(e) => self.refused(e),
            };
            let Some(pause) = pause else { return };
            tokio::select! {
                () = self.cancel.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Reads an open stream until it ends; the delay before reopening (`None`: cancelled).
    async fn read(&mut self, mut stream: EventStream) -> Option<Duration> {
        self.enter(StreamState::Live, "");
        self.waker.wake();
        let opened = Instant::now();
        let idle = self.settings.idle_timeout;
        let reason = loop {
            let item = tokio::select! {
                () = self.cancel.cancelled() => return None,
                r = tokio::time::timeout(idle, stream.next()) => r,
            };
            match item {
                Ok(Ok(Some(StreamItem::Event(e)))) => {
                    if (self.filter)(&e) {
                        self.waker.wake();
                    }
                }
                Ok(Ok(Some(StreamItem::Unreadable))) => self.waker.wake(),
                Ok(Ok(None)) => break "closed by the platform".to_owned(),
                Ok(Err(e)) => break e.to_string(),
                Err(_) => break format!("silent for {} ms", idle.as_millis()),
            }
        };
        if opened.elapsed() >= self.settings.reconnect_max {
            self.backoff.reset();
        }
        let delay = self.backoff.next_delay();
        self.enter(StreamState::Down, &reason);
        tracing::debug!(
            delay_ms = delay.as_millis() as u64,
            "reopening the event stream"
        );
        Some(delay)
    }

    /// What to do after the stream could not be opened: the delay before trying again.
    fn refused(&mut self, e: PlatformError) -> Option<Duration> {
        match &e {
            PlatformError::Cancelled { .. } => None,
            PlatformError::Permanent {
                status: 404 | 405, ..
            }
            | PlatformError::Decode { .. } => {
                self.enter(StreamState::Unsupported, &e.to_string());
                Some(self.settings.unsupported_retry)
            }
            PlatformError::NoSuchWorkspace { .. } => {
                self.enter(StreamState::Down, &e.to_string());
                Some(self.settings.unsupported_retry)
            }
            PlatformError::Unauthorized { .. } | PlatformError::Token(_) => {
                // The reader's next read meets the same refusal and decides what it means.
                self.waker.wake();
                self.enter(StreamState::Down, &e.to_string());
                Some(self.backoff.next_delay())
            }
            _ => {
                self.enter(StreamState::Down, &e.to_string());
                let after = e.retry_after().filter(|d| !d.is_zero());
                Some(after.unwrap_or_else(|| self.backoff.next_delay()))
            }
        }
    }

    /// Moves to `state`, saying so at INFO when it is news.
    fn enter(&mut self, state: StreamState, reason: &str) {
        let was = self.waker.set(state);
        let safety = self.settings.safety_interval.as_millis() as u64;
        match (was, state) {
            (StreamState::Live, StreamState::Live) => {}
            (StreamState::Connecting, StreamState::Live) => tracing::info!(
                stream = "live",
                safety_poll_ms = safety,
                "event stream live: messages are fetched as they arrive, and the feed is read \
                 every {safety} ms besides"
            ),
            (_, StreamState::Live) => tracing::info!(
                stream = "live",
                safety_poll_ms = safety,
                "event stream live again: messages are fetched as they arrive"
            ),
            (StreamState::Live, StreamState::Down) => tracing::info!(
                stream = "down",
                "event stream lost ({reason}): reading the feed at the poll interval until it \
                 reconnects"
            ),
            (StreamState::Connecting, StreamState::Down) => tracing::info!(
                stream = "down",
                "event stream unavailable ({reason}): reading the feed at the poll interval \
                 and reconnecting in the background"
            ),
            (_, StreamState::Unsupported) if !self.said_unsupported => {
                self.said_unsupported = true;
                let retry = self.settings.unsupported_retry.as_secs();
                tracing::info!(
                    stream = "unsupported",
                    "the platform has no event stream ({reason}): reading the feed at the poll \
                     interval; asking again every {retry} s"
                );
            }
            _ => tracing::debug!(
                stream = state.as_str(),
                "event stream still unavailable: {reason}"
            ),
        }
    }
}
