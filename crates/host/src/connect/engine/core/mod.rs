//! The engine's core: every decision about a row, as a state machine. It owns the ledger and
//! every queue; it takes [`Input`]s (fetched rows, the outcome of a delivery, a reply posted, a
//! retry due, the backend's state, the start of a drain…) with the time passed in as a value,
//! and answers with [`Command`]s (deliver these params, post this reply, save this state,
//! retry at this instant…) for the shell to carry out. No task, no clock, no I/O: a test
//! drives it step by step and rebuilds it from any saved state.
//!
//! Its rules, one module each: [`intake`] (admission by the ledger, classification, settling),
//! [`deliveries`] (one delivery per conversation, the concurrency limit, retries, crash
//! suspects, the breaker), [`replies`] (the two reply lanes and the uploads), [`loops`]
//! (reply loops with agents that carry no molecule metadata).

mod deliveries;
mod intake;
mod loops;
mod replies;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use molecule_protocol::HandleA2aParams;
use uuid::Uuid;

use crate::platform::{Posted, ReplyBody};

use super::super::feed::Intake;
use super::super::health::Failure;
use super::super::inbound::Upload;
use super::super::settings::{DeliverySettings, Settings};
use super::super::state::{Ledger, StateFile, UploadRecord};
use super::outcome::Outcome;
use super::queues::ConvQueues;
use intake::Row;
use loops::LoopGuard;

/// The limits the core decides by.
#[derive(Clone, Debug)]
pub struct Rules {
    /// This workspace.
    pub own: Uuid,
    /// Concurrency, attempts, the hop limit.
    pub delivery: DeliverySettings,
    /// Most rows fetched and not yet settled.
    pub window: usize,
    /// Canvas replies posted at once.
    pub reply_concurrency: usize,
    /// First delay of a retry.
    pub retry_base: Duration,
    /// Longest delay of a retry.
    pub retry_max: Duration,
    /// How long a drain lets deliveries and replies in flight finish.
    pub drain: Duration,
}

impl Rules {
    /// The rules of `molecule connect` for workspace `own`.
    pub fn new(own: Uuid, settings: &Settings, drain: Duration) -> Self {
        Rules {
            own,
            delivery: settings.delivery.clone(),
            window: settings.poll.window,
            reply_concurrency: settings.timers.reply_concurrency,
            retry_base: settings.timers.retry_base,
            retry_max: settings.timers.retry_max,
            drain,
        }
    }
}

/// The backend, as the core sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Its crash-loop breaker is open: nothing is delivered and no row is taken in.
    pub breaker_open: bool,
    /// Its `maxConcurrency`.
    pub concurrency: u32,
}

/// The reply lane a reply is posted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Replies in the canvas: a bounded number at once.
    Canvas,
    /// Replies to agents: no cap of their own (one may last the agent's whole turn).
    Agents,
}

/// Something that happened, for the core to decide on.
#[derive(Debug)]
pub enum Input {
    /// A delivery to the backend ended.
    Delivered {
        /// The row.
        id: String,
        /// What it came to.
        outcome: Outcome,
    },
    /// A retry's backoff is over.
    RetryDue {
        /// The row.
        id: String,
    },
    /// A download ended.
    Uploaded {
        /// The row.
        id: String,
        /// The saved copy, or why there is none.
        result: Result<UploadRecord, String>,
    },
    /// A reply POST ended.
    Posted {
        /// The row.
        id: String,
        /// Its lane.
        lane: Lane,
        /// How it ended.
        result: Posted,
    },
    /// The backend's state changed.
    Backend(Backend),
    /// Time to save the state, if it changed.
    Flush,
    /// Forget uploads saved before `cutoff` (seconds since the epoch).
    ExpireUploads {
        /// The cut-off.
        cutoff: u64,
    },
    /// The host is stopping: nothing new is delivered; what is in flight may finish.
    Drain,
    /// Abandon replies and downloads (a second signal, or the drain timed out).
    StopReplies,
}

/// One delivery to carry out.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The row.
    pub id: String,
    /// What the backend gets (its deadline is the supervisor's to write).
    pub params: HandleA2aParams,
    /// Local copies of the message's `platform-pending:` files, by URI, to point the message
    /// at when the file is still there.
    pub local_copies: Vec<(String, PathBuf)>,
}

/// What the shell is to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Hand a row to the backend; answer with [`Input::Delivered`].
    Deliver(Box<Delivery>),
    /// Answer with [`Input::RetryDue`] at `at`.
    RetryAt {
        /// The row.
        id: String,
        /// When.
        at: Instant,
    },
    /// Post a reply; answer with [`Input::Posted`].
    Post {
        /// The row.
        id: String,
        /// Its lane.
        lane: Lane,
        /// The reply.
        body: ReplyBody,
    },
    /// Download a canvas upload; answer with [`Input::Uploaded`].
    Download {
        /// The row.
        id: String,
        /// The file.
        upload: Upload,
    },
    /// Save this state (the newest replaces one not written yet).
    Save(StateFile),
    /// Delete upload files past the retention period (`forgotten` were dropped from the state).
    SweepUploads {
        /// Uploads the state no longer lists.
        forgotten: usize,
    },
    /// A row was handled (settled, skipped rows aside): count it in the health record.
    Handled {
        /// The row.
        id: String,
        /// How, as its log line says.
        outcome: &'static str,
        /// Why it failed, if it did.
        error: Option<Failure>,
        /// From its fetch to now.
        latency: std::time::Duration,
    },
    /// Abandon the replies and downloads in flight.
    StopReplies,
    /// Send [`Input::StopReplies`] at `at` unless everything is done before.
    DrainUntil(Instant),
    /// The load changed: tell the heartbeat and the poller.
    Publish(Load),
    /// Tell the person in the canvas (no row waits for it).
    Notify {
        /// The text.
        message: String,
    },
}

/// The engine's load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// Rows with the backend (or waiting for its breaker to close).
    pub in_flight: usize,
    /// Rows fetched and not settled.
    pub backlog: usize,
    /// What the poller may fetch.
    pub intake: Intake,
}

/// Replies of one lane: queued in conversation order, and posting.
#[derive(Default)]
struct LaneQueue {
    queue: ConvQueues<String>,
    posting: usize,
}

/// The core's state.
pub struct Core {
    rules: Rules,
    ledger: Ledger,
    backend: Backend,
    rows: HashMap<String, Row>,
    /// The delivery queue: rows waiting for their conversation's turn.
    queue: ConvQueues<String>,
    canvas: LaneQueue,
    agents: LaneQueue,
    /// Messages held while an upload before them downloads.
    held: VecDeque<String>,
    uploads_running: usize,
    /// Rows handed to the backend.
    running: HashSet<String>,
    /// Rows the backend could not take (breaker open), redelivered once it closes.
    parked: Vec<String>,
    retry_ready: VecDeque<String>,
    /// Rows in flight at a crash: delivered one at a time until cleared.
    suspects: VecDeque<String>,
    /// Every peer's budget of messages without molecule metadata.
    loops: LoopGuard,
    draining: bool,
    replies_stopped: bool,
    now: Instant,
    out: Vec<Command>,
    published: Load,
}

impl Core {
    /// A core over `ledger` (loaded from the saved state, or new), at time `now`.
    pub fn new(rules: Rules, ledger: Ledger, backend: Backend, now: Instant) -> Self {
        let loops = LoopGuard::new(
            rules.delivery.foreign_limit,
            rules.delivery.foreign_cooldown,
        );
        let mut core = Core {
            loops,
            rules,
            ledger,
            backend,
            rows: HashMap::new(),
            queue: ConvQueues::default(),
            canvas: LaneQueue::default(),
            agents: LaneQueue::default(),
            held: VecDeque::new(),
            uploads_running: 0,
            running: HashSet::new(),
            parked: Vec::new(),
            retry_ready: VecDeque::new(),
            suspects: VecDeque::new(),
            draining: false,
            replies_stopped: false,
            now,
            out: Vec::new(),
            published: Load::default(),
        };
        core.published = core.load();
        core
    }

    /// Decides on `input`, at `now`.
    pub fn step(&mut self, input: Input, now: Instant) -> Vec<Command> {
        self.now = now;
        match input {
            Input::Delivered { id, outcome } => self.on_delivered(id, outcome),
            Input::RetryDue { id } => self.on_retry_due(id),
            Input::Uploaded { id, result } => self.on_uploaded(id, result),
            Input::Posted { id, lane, result } => self.on_posted(id, lane, result),
            Input::Backend(backend) => self.backend = backend,
            Input::Flush => self.flush(),
            Input::ExpireUploads { cutoff } => {
                let forgotten = self.ledger.expire_uploads(cutoff).len();
                self.out.push(Command::SweepUploads { forgotten });
            }
            Input::Drain => self.start_drain(),
            Input::StopReplies => self.stop_replies(),
        }
        self.end_step()
    }

    /// The load now.
    pub fn load(&self) -> Load {
        Load {
            in_flight: self.running.len() + self.parked.len(),
            backlog: self.rows.len(),
            intake: Intake {
                room: self.rules.window.saturating_sub(self.ledger.span()),
                breaker_open: self.backend.breaker_open,
            },
        }
    }

    /// Whether a drain has begun and nothing is left to wait for.
    pub fn finished(&self) -> bool {
        let replies_done = self.canvas.posting + self.agents.posting == 0
            && (self.replies_stopped
                || (self.canvas.queue.is_empty() && self.agents.queue.is_empty()));
        self.draining && self.running.is_empty() && self.uploads_running == 0 && replies_done
    }

    /// Starts what may start, publishes the load, and hands the commands over.
    fn end_step(&mut self) -> Vec<Command> {
        self.schedule();
        let load = self.load();
        if load != self.published {
            self.published = load;
            self.out.push(Command::Publish(load));
        }
        std::mem::take(&mut self.out)
    }

    fn flush(&mut self) {
        if let Some(state) = self.ledger.snapshot() {
            self.out.push(Command::Save(state));
        }
    }

    fn start_drain(&mut self) {
        if self.draining {
            return;
        }
        self.draining = true;
        self.out
            .push(Command::DrainUntil(self.now + self.rules.drain));
        // Parked rows are not with the backend: like queued ones, they wait for the next start.
        let parked = std::mem::take(&mut self.parked);
        for id in &parked {
            self.rows.remove(id);
        }
        let queued = parked.len()
            + self.queue.drain().len()
            + self.held.drain(..).count()
            + self.retry_ready.drain(..).count();
        tracing::info!(
            in_flight = self.running.len(),
            replies = self.replies_len(),
            left_queued = queued,
            "stopping: no new deliveries; rows not handled yet stay on the platform for the next start"
        );
    }

    fn stop_replies(&mut self) {
        if !std::mem::replace(&mut self.replies_stopped, true) {
            self.out.push(Command::StopReplies);
        }
    }

    fn lane_mut(&mut self, lane: Lane) -> &mut LaneQueue {
        match lane {
            Lane::Canvas => &mut self.canvas,
            Lane::Agents => &mut self.agents,
        }
    }

    /// Replies queued or being posted.
    fn replies_len(&self) -> usize {
        [&self.canvas, &self.agents]
            .iter()
            .map(|l| l.queue.len() + l.posting)
            .sum()
    }
}
