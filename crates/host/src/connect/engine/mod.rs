//! The engine: one task that owns the ledger and every queue, and moves each row from fetched
//! to settled. Work that waits (a backend call, a reply POST, a download, a retry backoff) runs
//! on its own task and reports back with an [`Event`], so the engine itself never blocks.
//!
//! A row's life: admitted by the ledger (duplicates dropped) → classified (skipped rows settle
//! at once; uploads are downloaded before any later message is dispatched) → queued on its
//! conversation → delivered to the backend, at most one per conversation and
//! `min(--concurrency, maxConcurrency)` in all (`deliver.rs`) → its reply queued on the reply
//! stage, which keeps each conversation's order, posts a bounded number of canvas replies at
//! once and every reply to an agent (`replies.rs`) → settled, which moves the ledger's prefix; the state writer saves it within
//! the flush interval, off the row's path.

mod deliver;
pub mod outcome;
pub mod queues;
mod replies;
pub mod reply_body;
mod rows;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::backend::Supervisor;
use crate::platform::{PlatformClient, RetryPolicy};

use super::feed::Batch;
use super::health::{Health, Totals};
use super::hooks::Hooks;
use super::settings::Settings;
use super::state::{Ledger, StateWriter, UploadRecord};
use crate::platform::Posted;
use outcome::Outcome;
use queues::ConvQueues;
use rows::Row;

/// What a task reports back.
#[derive(Debug)]
pub(crate) enum Event {
    /// A delivery to the backend ended.
    Delivered { id: String, outcome: Outcome },
    /// A retry's backoff is over.
    RetryDue { id: String },
    /// A download ended.
    Uploaded {
        id: String,
        result: Result<UploadRecord, String>,
    },
    /// A reply POST ended.
    Posted {
        id: String,
        /// Which lane it ran in.
        to_agent: bool,
        result: Posted,
    },
}

/// One lane of the reply stage: its queue, kept in conversation order, and its POSTs running.
#[derive(Default)]
struct Lane {
    queue: ConvQueues<String>,
    posting: usize,
}

/// The reply stage's two lanes (see `replies.rs`).
#[derive(Default)]
struct ReplyLanes {
    canvas: Lane,
    agents: Lane,
}

impl ReplyLanes {
    fn lane_mut(&mut self, to_agent: bool) -> &mut Lane {
        if to_agent {
            &mut self.agents
        } else {
            &mut self.canvas
        }
    }

    /// Replies queued or being posted.
    fn len(&self) -> usize {
        [&self.canvas, &self.agents]
            .iter()
            .map(|l| l.queue.len() + l.posting)
            .sum()
    }

    fn posting(&self) -> usize {
        self.canvas.posting + self.agents.posting
    }

    fn queued(&self) -> bool {
        !self.canvas.queue.is_empty() || !self.agents.queue.is_empty()
    }
}

/// What the engine is built from.
pub struct Parts {
    /// This workspace.
    pub own: Uuid,
    /// The settled state, loaded.
    pub ledger: Ledger,
    /// Where it is saved.
    pub writer: StateWriter,
    /// What the heartbeat reports.
    pub health: Arc<Health>,
    /// The backend.
    pub sup: Supervisor,
    /// The platform.
    pub client: PlatformClient,
    /// Extension points.
    pub hooks: Hooks,
    /// Limits and timers.
    pub settings: Settings,
    /// Where uploads are saved.
    pub uploads_dir: PathBuf,
    /// How long a shutdown waits for deliveries and replies in flight.
    pub drain: std::time::Duration,
}

/// The engine's state.
pub struct Engine {
    p: Parts,
    retry: RetryPolicy,
    rows: HashMap<String, Row>,
    dispatch: ConvQueues<String>,
    replies: ReplyLanes,
    held: VecDeque<String>,
    uploads_running: usize,
    running: HashSet<String>,
    retry_ready: VecDeque<String>,
    suspects: VecDeque<String>,
    events: mpsc::UnboundedSender<Event>,
    free: watch::Sender<usize>,
    draining: Option<Instant>,
    stop_replies: CancellationToken,
    last_summary: Totals,
}

impl Engine {
    /// An engine, and the receiver of how many rows the window still takes.
    pub fn new(
        p: Parts,
    ) -> (
        Engine,
        watch::Receiver<usize>,
        mpsc::UnboundedReceiver<Event>,
    ) {
        let t = &p.settings.timers;
        let retry = RetryPolicy::forever(t.retry_base, t.retry_max);
        let (events, events_rx) = mpsc::unbounded_channel();
        let free = p.settings.poll.window.saturating_sub(p.ledger.span());
        let (free, free_rx) = watch::channel(free);
        let engine = Engine {
            p,
            retry,
            rows: HashMap::new(),
            dispatch: ConvQueues::default(),
            replies: ReplyLanes::default(),
            held: VecDeque::new(),
            uploads_running: 0,
            running: HashSet::new(),
            retry_ready: VecDeque::new(),
            suspects: VecDeque::new(),
            events,
            free,
            draining: None,
            stop_replies: CancellationToken::new(),
            last_summary: Totals::default(),
        };
        (engine, free_rx, events_rx)
    }

    /// Runs until the host stops: after `graceful`, nothing new is delivered, deliveries in
    /// flight finish (the supervisor drains them) and queued replies are posted until the drain
    /// timeout; `immediate` abandons the replies at once. The state is saved last.
    pub async fn run(
        mut self,
        mut batches: mpsc::Receiver<Batch>,
        mut events: mpsc::UnboundedReceiver<Event>,
        graceful: CancellationToken,
        immediate: CancellationToken,
    ) {
        let timers = self.p.settings.timers.clone();
        let mut flush = tokio::time::interval(timers.flush);
        let mut summary = tokio::time::interval(timers.summary);
        let sweep_every = timers
            .upload_retention
            .clamp(Duration::from_secs(1), Duration::from_secs(3600));
        let mut sweep = tokio::time::interval(sweep_every);
        flush.set_missed_tick_behavior(MissedTickBehavior::Delay);
        summary.set_missed_tick_behavior(MissedTickBehavior::Delay);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            let deadline = self.draining.unwrap_or(far);
            tokio::select! {
                Some(batch) = batches.recv(), if self.draining.is_none() => self.take(batch),
                Some(event) = events.recv() => self.on_event(event),
                _ = flush.tick() => self.flush(),
                _ = summary.tick() => self.summary(),
                _ = sweep.tick() => self.expire_uploads(),
                () = graceful.cancelled(), if self.draining.is_none() => self.start_drain(),
                () = immediate.cancelled(), if !self.stop_replies.is_cancelled() => self.stop_replies.cancel(),
                () = tokio::time::sleep_until(deadline), if self.draining.is_some() => self.stop_replies.cancel(),
            }
            self.schedule();
            self.publish_load();
            if self.draining.is_some() && self.idle() {
                break;
            }
        }
        self.flush();
        let Parts { writer, .. } = self.p;
        writer.close().await;
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Delivered { id, outcome } => self.on_delivered(id, outcome),
            Event::RetryDue { id } => self.on_retry_due(id),
            Event::Uploaded { id, result } => self.on_uploaded(id, result),
            Event::Posted {
                id,
                to_agent,
                result,
            } => self.on_posted(id, to_agent, result),
        }
    }

    fn start_drain(&mut self) {
        self.draining = Some(Instant::now() + self.p.drain);
        let queued = self.dispatch.drain().len()
            + self.held.drain(..).count()
            + self.retry_ready.drain(..).count();
        tracing::info!(
            in_flight = self.running.len(),
            replies = self.replies.len(),
            left_queued = queued,
            "stopping: no new deliveries; rows not handled yet stay on the platform for the next start"
        );
    }

    fn idle(&self) -> bool {
        let replies_done = self.replies.posting() == 0
            && (!self.replies.queued() || self.stop_replies.is_cancelled());
        self.running.is_empty() && self.uploads_running == 0 && replies_done
    }

    fn flush(&mut self) {
        if let Some(state) = self.p.ledger.snapshot() {
            self.p.writer.submit(state);
        }
    }

    fn summary(&mut self) {
        let totals = self.p.health.totals();
        if totals == self.last_summary {
            return;
        }
        let handled = totals.handled - self.last_summary.handled;
        let errors = totals.errors - self.last_summary.errors;
        self.last_summary = totals;
        tracing::info!(
            handled,
            errors,
            backlog = totals.backlog,
            in_flight = totals.active,
            total_handled = totals.handled,
            "summary: {handled} rows handled ({errors} errors) since the last summary; {} waiting",
            totals.backlog
        );
    }

    pub(super) fn publish_load(&mut self) {
        self.p.health.set_load(self.running.len(), self.rows.len());
        let free = self
            .p
            .settings
            .poll
            .window
            .saturating_sub(self.p.ledger.span());
        self.free
            .send_if_modified(|f| std::mem::replace(f, free) != free);
    }
}
