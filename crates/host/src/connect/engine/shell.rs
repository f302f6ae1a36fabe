//! The engine's shell: one task that feeds the [`Core`] and carries out its commands. Work that
//! waits (a backend call, a reply POST, a download, a retry's backoff) runs on a task of its
//! own and comes back as an [`Input`]; the state writer, the health record and the poller's
//! intake are told what the core decided. The hooks are applied here: the interceptor's claim
//! is the decision the core is handed for each new row, and the sender enricher runs before a
//! delivery goes to the backend.
//!
//! A panic never leaves the engine waiting for an answer that cannot come: a task of its own
//! that panics answers as abandoned (the row stays unsettled and is delivered again after a
//! restart), and a panic in the core itself ends the loop, after which the state is still
//! saved (every change the ledger holds was true when it was made). Either way the panic hook
//! has stopped the host ([`crate::panics`]).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::backend::{CallOptions, State, Status, Supervisor};
use crate::platform::{PlatformClient, Posted, ReplyBody, RetryPolicy, post};

use super::super::feed::{Batch, Intake};
use super::super::health::{Health, Totals};
use super::super::hooks::Hooks;
use super::super::settings::Timers;
use super::super::state::StateWriter;
use super::super::uploads;
use super::core::{Backend, Command, Core, Delivery, Input};
use super::outcome::{self, Outcome};

/// What the engine is wired to: everything outside the core.
pub struct Wiring {
    /// Where the state is saved.
    pub writer: StateWriter,
    /// What the heartbeat reports.
    pub health: Arc<Health>,
    /// The backend.
    pub sup: Supervisor,
    /// The platform.
    pub client: PlatformClient,
    /// Extension points.
    pub hooks: Hooks,
    /// The record `molecule status` and the metrics read.
    pub vitals: Arc<crate::observe::Vitals>,
    /// The window of unsettled rows (the cursor lag is what of it is used).
    pub window: usize,
    /// Timers and limits.
    pub timers: Timers,
    /// Where uploads are saved.
    pub uploads_dir: PathBuf,
}

/// The engine: the core, and what carries out its commands.
pub struct Engine {
    core: Core,
    w: Wiring,
    retry: RetryPolicy,
    inputs: mpsc::UnboundedSender<Input>,
    intake: watch::Sender<Intake>,
    status: watch::Receiver<Status>,
    stop_replies: CancellationToken,
    drain_over: Option<Instant>,
    last_summary: Totals,
}

/// The backend as the core sees it, from the supervisor's status.
pub fn backend_of(sup: &Supervisor, status: &Status) -> Backend {
    Backend {
        breaker_open: matches!(status.state, State::BreakerOpen { .. }),
        concurrency: sup.backend_info().capabilities.concurrency(),
    }
}

impl Engine {
    /// An engine around `core`, and what the poller reads of it.
    pub fn new(core: Core, w: Wiring) -> (Engine, watch::Receiver<Intake>, Inputs) {
        let retry = RetryPolicy::forever(w.timers.retry_base, w.timers.retry_max);
        let (inputs, inputs_rx) = mpsc::unbounded_channel();
        let (intake, intake_rx) = watch::channel(core.load().intake);
        let status = w.sup.status();
        let engine = Engine {
            core,
            w,
            retry,
            inputs,
            intake,
            status,
            stop_replies: CancellationToken::new(),
            drain_over: None,
            last_summary: Totals::default(),
        };
        (engine, intake_rx, Inputs(inputs_rx))
    }

    /// Runs until the host stops: after `graceful`, nothing new is delivered, deliveries in
    /// flight finish (the supervisor drains them) and queued replies are posted until the drain
    /// timeout; `immediate` abandons the replies at once. The state is saved last.
    pub async fn run(
        mut self,
        mut batches: mpsc::Receiver<Batch>,
        Inputs(mut inputs): Inputs,
        graceful: CancellationToken,
        immediate: CancellationToken,
    ) {
        let t = self.w.timers.clone();
        let mut flush = interval(t.flush);
        let mut summary = interval(t.summary);
        let mut sweep = interval(
            t.upload_retention
                .clamp(Duration::from_secs(1), Duration::from_secs(3600)),
        );
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let mut draining = false;
        loop {
            let stopped = self.stop_replies.is_cancelled();
            let input = tokio::select! {
                Ok(()) = self.status.changed() => Some(self.backend()),
                Some(batch) = batches.recv(), if !draining => {
                    if !self.take(batch) {
                        break;
                    }
                    None
                }
                Some(input) = inputs.recv() => Some(self.sync(input)),
                _ = flush.tick() => Some(Input::Flush),
                _ = summary.tick() => {
                    self.summary();
                    None
                }
                _ = sweep.tick() => {
                    let cutoff = uploads::now_secs().saturating_sub(t.upload_retention.as_secs());
                    Some(Input::ExpireUploads { cutoff })
                }
                () = graceful.cancelled(), if !draining => {
                    draining = true;
                    Some(Input::Drain)
                }
                () = immediate.cancelled(), if !stopped => Some(Input::StopReplies),
                () = tokio::time::sleep_until(self.drain_over.unwrap_or(far)),
                    if self.drain_over.is_some() && !stopped => Some(Input::StopReplies),
            };
            if let Some(input) = input
                && !self.step(input)
            {
                break;
            }
            if self.core.finished() {
                break;
            }
        }
        self.step(Input::Flush);
        self.w.writer.close().await;
    }

    /// Hands the core `input` and carries out its commands; `false` when the core panicked.
    fn step(&mut self, input: Input) -> bool {
        let now = Instant::now().into_std();
        let core = &mut self.core;
        match catch_unwind(AssertUnwindSafe(|| core.step(input, now))) {
            Ok(commands) => {
                for command in commands {
                    self.execute(command);
                }
                true
            }
            Err(_) => {
                tracing::error!(
                    "the engine failed (a bug): stopping; rows not answered yet are delivered \
                     again after a restart"
                );
                false
            }
        }
    }

    /// The backend's state, read now.
    fn backend(&mut self) -> Input {
        let status = self.status.borrow_and_update().clone();
        Input::Backend(backend_of(&self.w.sup, &status))
    }

    /// A delivery's outcome is decided on the backend's latest state: one the backend could
    /// not take because its breaker opened is then held, not sent again at once.
    fn sync(&mut self, input: Input) -> Input {
        if matches!(input, Input::Delivered { .. }) && self.status.has_changed().unwrap_or(false) {
            let backend = self.backend();
            self.step(backend);
        }
        input
    }

    /// Hands the core a batch, with the interceptor's decision on each new row; the poller is
    /// told it was taken once the load it reads is published.
    fn take(&mut self, batch: Batch) -> bool {
        let interceptor = self.w.hooks.interceptor.clone();
        let mut received = 0;
        let mut claim = |row: &_| {
            received += 1;
            interceptor.as_ref().is_some_and(|h| h.claim(row))
        };
        let now = Instant::now().into_std();
        let core = &mut self.core;
        let taken = catch_unwind(AssertUnwindSafe(|| {
            crate::panics::inject("engine");
            core.take(batch.fetched, now, &mut claim)
        }));
        self.w.vitals.received(received);
        let Ok(commands) = taken else {
            tracing::error!("the engine failed on fetched rows (a bug): stopping");
            return false;
        };
        for command in commands {
            self.execute(command);
        }
        let _ = batch.done.send(());
        true
    }

    fn execute(&mut self, command: Command) {
        let events = self.inputs.clone();
        match command {
            Command::Deliver(delivery) => self.deliver(*delivery),
            Command::RetryAt { id, at } => {
                tokio::spawn(async move {
                    tokio::time::sleep_until(at.into()).await;
                    let _ = events.send(Input::RetryDue { id });
                });
            }
            Command::Post { id, lane, body } => {
                let (client, policy) = (self.w.client.clone(), self.retry.clone());
                let cancel = self.stop_replies.clone();
                let abandoned = Input::Posted {
                    id: id.clone(),
                    lane,
                    result: Posted::Abandoned,
                };
                spawn_answering(events, abandoned, async move {
                    crate::panics::inject("post");
                    let result = post(&client, &body, &policy, &cancel).await;
                    Input::Posted { id, lane, result }
                });
            }
            Command::Download { id, upload } => {
                let (client, policy) = (self.w.client.clone(), self.retry.clone());
                let (dir, cancel) = (self.w.uploads_dir.clone(), self.stop_replies.clone());
                let failed = Input::Uploaded {
                    id: id.clone(),
                    result: Err("the download task failed (a bug)".into()),
                };
                spawn_answering(events, failed, async move {
                    let result = uploads::fetch(&client, &dir, &upload, &policy, &cancel).await;
                    Input::Uploaded { id, result }
                });
            }
            Command::Save(state) => self.w.writer.submit(state),
            Command::SweepUploads { forgotten } => {
                let (dir, retention) = (self.w.uploads_dir.clone(), self.w.timers.upload_retention);
                tokio::task::spawn_blocking(move || {
                    let deleted = uploads::sweep(&dir, retention);
                    if deleted + forgotten > 0 {
                        tracing::info!(deleted, "deleted canvas uploads past the retention period");
                    }
                });
            }
            Command::Handled {
                outcome,
                error,
                latency,
                ..
            } => {
                let summary = error.as_ref().map(|e| e.summary.as_str());
                self.w.vitals.handled(outcome, summary, latency);
                self.w.health.record(error.as_ref());
            }
            Command::StopReplies => self.stop_replies.cancel(),
            Command::DrainUntil(at) => self.drain_over = Some(at.into()),
            Command::Notify { message } => {
                let (client, policy) = (self.w.client.clone(), self.retry.clone());
                let cancel = self.stop_replies.clone();
                let body = ReplyBody::Canvas {
                    message,
                    attachments: Vec::new(),
                };
                tokio::spawn(async move {
                    let posted = post(&client, &body, &policy, &cancel).await;
                    if !matches!(posted, Posted::Delivered | Posted::Abandoned) {
                        tracing::warn!("a notice to the canvas was not posted: {posted:?}");
                    }
                });
            }
            Command::Publish(load) => {
                self.w.health.set_load(load.in_flight, load.backlog);
                let lag = self.w.window.saturating_sub(load.intake.room);
                self.w.vitals.load(load.backlog, load.in_flight, lag);
                self.intake
                    .send_if_modified(|i| std::mem::replace(i, load.intake) != load.intake);
            }
        }
    }

    /// Calls the backend on a task of its own: the sender completed, the message pointed at
    /// the local copies of its uploads.
    fn deliver(&self, delivery: Delivery) {
        let Delivery {
            id,
            mut params,
            local_copies,
        } = delivery;
        let (sup, events) = (self.w.sup.clone(), self.inputs.clone());
        let enricher = self.w.hooks.enricher.clone();
        let abandoned = Input::Delivered {
            id: id.clone(),
            outcome: Outcome::Abandoned,
        };
        spawn_answering(events, abandoned, async move {
            crate::panics::inject("deliver");
            if let Some(e) = enricher {
                e.enrich(&mut params.sender).await;
            }
            uploads::rewrite(&mut params.message, |uri| {
                let copy = local_copies.iter().find(|(u, _)| u == uri);
                copy.map(|(_, path)| path.clone())
            });
            let answer = sup.handle_a2a(params, CallOptions::default()).await;
            Input::Delivered {
                id,
                outcome: outcome::of(answer),
            }
        });
    }

    fn summary(&mut self) {
        let totals = self.w.health.totals();
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
}

/// Runs `work` on a task of its own and sends what it comes to; if it panics, sends
/// `on_panic` instead, so the core is never left waiting for it.
fn spawn_answering(
    events: mpsc::UnboundedSender<Input>,
    on_panic: Input,
    work: impl Future<Output = Input> + Send + 'static,
) {
    let task = tokio::spawn(work);
    tokio::spawn(async move {
        match task.await {
            Ok(input) => {
                let _ = events.send(input);
            }
            Err(e) if e.is_panic() => {
                let _ = events.send(on_panic);
            }
            Err(_) => {}
        }
    });
}

/// Where the engine's tasks report back; taken by [`Engine::run`].
pub struct Inputs(mpsc::UnboundedReceiver<Input>);

fn interval(every: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval(every);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}
