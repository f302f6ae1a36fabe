//! The poll loop: fetches pages of the activity feed and hands them to the engine, for as long
//! as the host runs. No single error stops it: transient ones are retried with backoff (and
//! `Retry-After`), a lost cursor is recovered by reading back, others are logged and retried
//! later. Only a token the platform rejects for good ends it (and the host).
//!
//! It pauses while the engine takes no rows: while the backend's crash-loop breaker is open
//! (the engine decides; rows stay queued on the platform) and while the window of unsettled
//! rows is full. A full page is followed by the next poll at once, so a backlog drains at
//! backend speed. Between polls it rests on the event stream's [`Wake`]: until an event says
//! a message arrived, or for the safety interval while the stream is live, the poll interval
//! while it is not.

use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::platform::{PlatformClient, PlatformError, is_row_id};
use crate::wake::Wake;

use super::super::error::ConnectError;
use super::super::settings::{MAX_LOOKBACK, PollSettings};
use super::super::state::RowKey;
use super::page::{Keyed, fetch, full, keyed, newest_cursor, query, time_of};
use super::{late, readback};

/// Consecutive HTTP 500s on a cursor poll that are taken as a failed cursor lookup.
const CURSOR_500_LIMIT: u32 = 3;

/// Rows fetched for the engine.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The rows, in feed order.
    pub rows: Vec<Keyed>,
    /// Every row up to this one has now been fetched (normal batches).
    pub head: Option<RowKey>,
    /// Rows from an overlap re-read or a saved late row, not from the normal poll.
    pub late: bool,
    /// Saved late rows the platform no longer has.
    pub missing: Vec<RowKey>,
}

/// Fetched rows on their way to the engine.
#[derive(Debug)]
pub struct Batch {
    /// The rows.
    pub fetched: Fetched,
    /// Answered once the engine has taken the rows in.
    pub done: oneshot::Sender<()>,
}

/// What the engine takes now, as the poller reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Intake {
    /// How many more rows the window of unsettled rows takes.
    pub room: usize,
    /// The backend's crash-loop breaker is open: no rows are taken at all.
    pub breaker_open: bool,
}

/// What the poller shares with the engine.
pub struct Link {
    /// Where batches go.
    pub batches: mpsc::Sender<Batch>,
    /// What the engine takes.
    pub intake: watch::Receiver<Intake>,
    /// Told of every successful read and every failed one.
    pub vitals: std::sync::Arc<crate::observe::Vitals>,
}

enum Mode {
    Cursor(RowKey),
    ReadBack {
        from: SystemTime,
        floor: Option<RowKey>,
    },
}

/// The poll loop's state.
pub struct Poller {
    pub(super) client: PlatformClient,
    pub(super) settings: PollSettings,
    pub(super) backoff: Backoff,
    pub(super) cancel: CancellationToken,
    pub(super) link: Link,
    mode: Mode,
    wake: Wake,
    /// When the cursor last moved, and whether an overlap re-read has run long enough after
    /// that to have seen every late row below it (then no other one is needed until it moves).
    head_moved: Instant,
    overlap_done: bool,
}

impl Poller {
    /// A poller starting at the saved `cursor`, or from the `--since` window without one,
    /// resting between polls on `wake`.
    pub fn new(
        client: PlatformClient,
        settings: PollSettings,
        backoff: Backoff,
        cancel: CancellationToken,
        link: Link,
        cursor: Option<RowKey>,
        wake: Wake,
    ) -> Self {
        let mode = match cursor {
            Some(c) if is_row_id(&c.id) => Mode::Cursor(c),
            Some(c) => {
                // Saved by a version that took any id for a cursor: never sent back, read
                // back from its time instead.
                tracing::warn!(
                    cursor = %crate::logsafe::quote(&c.id),
                    "the saved cursor is not a row id the platform could have written: reading \
                     back from its time"
                );
                let from = time_of(&c)
                    .checked_sub(settings.cursor_skew)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Mode::ReadBack {
                    from,
                    floor: Some(c),
                }
            }
            None => Mode::ReadBack {
                from: SystemTime::now()
                    .checked_sub(settings.since)
                    .unwrap_or(SystemTime::UNIX_EPOCH),
                floor: None,
            },
        };
        Poller {
            client,
            settings,
            backoff,
            cancel,
            link,
            mode,
            wake,
            head_moved: Instant::now(),
            overlap_done: false,
        }
    }

    /// Polls until cancelled; an error is fatal for the host.
    pub async fn run(mut self, pending_late: Vec<RowKey>) -> Result<(), ConnectError> {
        self.recover_late(pending_late).await?;
        let mut cursor_500s = 0;
        let mut next_overlap = Instant::now() + self.settings.overlap_interval;
        while self.ready().await {
            if Instant::now() >= next_overlap && !self.overlap_done {
                next_overlap = Instant::now() + self.settings.overlap_interval;
                self.overlap().await;
            }
            let polled = Instant::now();
            let limit = self
                .link
                .intake
                .borrow()
                .room
                .clamp(1, self.settings.batch_size as usize) as u32;
            let step = match &self.mode {
                Mode::Cursor(c) => self.poll_cursor(c.clone(), limit).await,
                Mode::ReadBack { from, floor } => self.read_back(*from, floor.clone(), limit).await,
            };
            match step {
                Ok(again) => {
                    self.link.vitals.poll_ok();
                    self.backoff.reset();
                    cursor_500s = 0;
                    if !again {
                        self.rest(polled).await;
                    }
                }
                Err(e) => {
                    if !matches!(e, PlatformError::Cancelled { .. }) {
                        self.link
                            .vitals
                            .error(format!("reading the activity feed: {e}"));
                    }
                    self.on_error(e, &mut cursor_500s).await?
                }
            }
        }
        Ok(())
    }

    /// A handle that makes the poller read the feed now.
    pub fn nudge(&self) -> crate::wake::Nudge {
        self.wake.nudge()
    }

    /// The event stream's state as it changes.
    pub fn stream_states(&self) -> watch::Receiver<crate::wake::StreamState> {
        self.wake.states()
    }

    async fn poll_cursor(&mut self, cursor: RowKey, limit: u32) -> Result<bool, PlatformError> {
        let mut q = query(limit);
        q.since_id = Some(cursor.id.clone());
        let page = fetch(&self.client, &q).await?;
        crate::panics::inject("poller");
        let full = full(&page, limit);
        let rows = keyed(page.rows, Some(&cursor));
        // Rows whose id stands in for one that was not a UUID are taken but never carry the
        // cursor; the next poll returns them again (known by then) until a real row follows.
        let head = newest_cursor(&rows);
        let newest = rows.iter().map(|(k, _)| k).max().cloned();
        match (&head, newest) {
            (Some(h), _) => self.move_head(h.clone()),
            (None, Some(newest)) if full => {
                tracing::warn!(
                    "a whole page of rows without a usable id: reading on by time from the newest"
                );
                self.lose_cursor(newest);
            }
            _ => {}
        }
        self.send(rows, head, false, Vec::new()).await;
        Ok(full)
    }

    async fn read_back(
        &mut self,
        from: SystemTime,
        floor: Option<RowKey>,
        page: u32,
    ) -> Result<bool, PlatformError> {
        let max = self.settings.since_max_rows;
        let rb = readback::read_back(&self.client, page, from, floor.as_ref(), max).await?;
        if let Some((n, more)) = rb.skipped.filter(|(n, _)| *n > 0) {
            tracing::warn!(
                skipped = n,
                "the --since window holds more than {max} rows: starting from the newest {max} \
                 and skipping {n}{} older ones",
                if more { " or more" } else { "" }
            );
        }
        let found = rb.rows.len();
        let seed = rb.seed.clone();
        self.send(rb.rows, rb.seed, false, Vec::new()).await;
        let Some(seed) = seed else { return Ok(false) };
        if floor.is_some() {
            tracing::info!(rows = found, cursor = %seed.id, "read back after the lost cursor; continuing from a new cursor");
        } else {
            tracing::info!(rows = found, cursor = %seed.id, "first start: read the --since window");
        }
        self.move_head(seed);
        Ok(true)
    }

    async fn on_error(
        &mut self,
        e: PlatformError,
        cursor_500s: &mut u32,
    ) -> Result<(), ConnectError> {
        let cursor = match &self.mode {
            Mode::Cursor(c) => Some(c.clone()),
            Mode::ReadBack { .. } => None,
        };
        let status = e.status();
        match (e, cursor) {
            (PlatformError::Cancelled { .. }, _) => Ok(()),
            (e @ PlatformError::Unauthorized { .. }, _) => {
                Err(super::auth_failure(&self.client, e).await)
            }
            (e @ PlatformError::Token(_), _) => Err(ConnectError::Platform(e)),
            (PlatformError::CursorGone { .. }, Some(c)) => {
                tracing::info!(cursor = %c.id, created_at = %c.created_at,
                    "the cursor row is gone from the platform (410): reading back from its time");
                self.lose_cursor(c);
                Ok(())
            }
            (e, Some(c)) if status == Some(500) && *cursor_500s + 1 >= CURSOR_500_LIMIT => {
                tracing::info!(cursor = %c.id, "the platform keeps failing on the cursor ({e}): reading back from its time");
                *cursor_500s = 0;
                self.lose_cursor(c);
                Ok(())
            }
            (e, _) => {
                if status == Some(500) {
                    *cursor_500s += 1;
                }
                let delay = match e.retry_after() {
                    Some(d) if !d.is_zero() => d,
                    _ => self.backoff.next_delay(),
                };
                let ms = delay.as_millis() as u64;
                match e {
                    PlatformError::Transient { .. } | PlatformError::RateLimited { .. } => {
                        tracing::warn!(call = "GET /workspaces/<id>/activity", delay_ms = ms, reason = %e,
                            "platform call failed; retrying in {ms} ms");
                    }
                    _ => tracing::error!(
                        delay_ms = ms,
                        "polling the activity feed failed: {e}; trying again in {ms} ms"
                    ),
                }
                self.pause(delay).await;
                Ok(())
            }
        }
    }

    fn lose_cursor(&mut self, c: RowKey) {
        let back = self.settings.cursor_skew;
        let from = time_of(&c)
            .checked_sub(back)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let oldest = SystemTime::now()
            .checked_sub(MAX_LOOKBACK)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.mode = Mode::ReadBack {
            from: from.max(oldest),
            floor: Some(c),
        };
    }

    fn move_head(&mut self, head: RowKey) {
        self.mode = Mode::Cursor(head);
        self.head_moved = Instant::now();
        self.overlap_done = false;
    }

    async fn overlap(&mut self) {
        let Mode::Cursor(head) = &self.mode else {
            return;
        };
        // A row stamped before the head becomes visible within the overlap window of being
        // stamped, so by then of the head's arrival: a read begun after that sees them all.
        let last = Instant::now() >= self.head_moved + self.settings.overlap_window;
        match late::overlap(&self.client, head, self.settings.overlap_window).await {
            Ok(rows) => {
                self.overlap_done = last;
                self.send(rows, None, true, Vec::new()).await;
            }
            Err(e) => tracing::debug!("the overlap re-read failed (tried again later): {e}"),
        }
    }

    async fn recover_late(&mut self, pending: Vec<RowKey>) -> Result<(), ConnectError> {
        for key in pending {
            match late::find(&self.client, &key, self.settings.cursor_skew).await {
                Ok(Some(row)) => self.send(vec![row], None, true, Vec::new()).await,
                Ok(None) => {
                    tracing::warn!(row = %key.id, "a row saved as unanswered is gone from the platform");
                    self.send(Vec::new(), None, true, vec![key]).await;
                }
                Err(e @ PlatformError::Unauthorized { .. }) => {
                    return Err(super::auth_failure(&self.client, e).await);
                }
                Err(e) => {
                    tracing::warn!(row = %key.id, "cannot look up a row saved as unanswered (tried again at the next start): {e}")
                }
            }
        }
        Ok(())
    }

    async fn send(&self, rows: Vec<Keyed>, head: Option<RowKey>, late: bool, missing: Vec<RowKey>) {
        if rows.is_empty() && head.is_none() && missing.is_empty() {
            return;
        }
        let (done, taken) = oneshot::channel();
        let fetched = Fetched {
            rows,
            head,
            late,
            missing,
        };
        let batch = Batch { fetched, done };
        if self.link.batches.send(batch).await.is_ok() {
            let _ = taken.await;
        }
    }

    /// Waits until polling may go on: not cancelled, and the engine takes rows (the breaker
    /// closed, room in the window).
    async fn ready(&mut self) -> bool {
        let mut paused = false;
        loop {
            if self.cancel.is_cancelled() {
                return false;
            }
            let intake = *self.link.intake.borrow_and_update();
            if intake.breaker_open && !paused {
                tracing::warn!(
                    "polling paused: the backend keeps crashing (breaker open); messages stay queued on the platform"
                );
                paused = true;
            } else if !intake.breaker_open && paused {
                tracing::info!("polling resumed: the backend is back");
                paused = false;
            }
            if !intake.breaker_open && intake.room > 0 {
                return true;
            }
            tokio::select! {
                changed = self.link.intake.changed() => if changed.is_err() { return false },
                () = self.cancel.cancelled() => return false,
            }
        }
    }

    /// Rests after a poll that began at `polled` and found nothing more.
    async fn rest(&mut self, polled: Instant) {
        let interval = self.settings.interval;
        tokio::select! {
            _ = self.wake.rest(polled, interval) => {}
            () = self.cancel.cancelled() => {}
        }
    }

    async fn pause(&self, d: std::time::Duration) {
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = self.cancel.cancelled() => {}
        }
    }
}
