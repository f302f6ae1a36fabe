//! The state writer: a task that saves the latest submitted state off the row path, so a row's
//! slot is freed when its reply is accepted, not when the file is written. Submissions made
//! while a write runs are coalesced into the next one.
//!
//! With `--ack` it also tells the platform, after a write, how far the settled prefix reaches
//! (`POST /activity/ack`, at most once a second); an older platform's 404 turns acking off.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::platform::{AckOutcome, PlatformClient};

use super::file::{StateFile, save};

/// The least time between two acks.
const ACK_SPACING: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Slot {
    next: Mutex<Option<StateFile>>,
    wake: Notify,
    closed: AtomicBool,
}

/// The handle of the writer task.
pub struct StateWriter {
    slot: Arc<Slot>,
    task: JoinHandle<()>,
}

impl StateWriter {
    /// Starts the task writing to `path`; `ack` is the client to acknowledge with, if any.
    pub fn spawn(path: PathBuf, ack: Option<PlatformClient>) -> StateWriter {
        let slot = Arc::new(Slot::default());
        let task = tokio::spawn(run(path, slot.clone(), ack));
        StateWriter { slot, task }
    }

    /// Queues `state` to be written; replaces a queued one that was not written yet.
    pub fn submit(&self, state: StateFile) {
        *self.slot.next.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
        self.slot.wake.notify_one();
    }

    /// Writes what is queued and stops.
    pub async fn close(self) {
        self.slot.closed.store(true, Ordering::SeqCst);
        self.slot.wake.notify_one();
        let _ = self.task.await;
    }
}

async fn run(path: PathBuf, slot: Arc<Slot>, ack: Option<PlatformClient>) {
    let mut acker = ack.map(Acker::new);
    loop {
        let next = slot.next.lock().unwrap_or_else(|e| e.into_inner()).take();
        let closing = slot.closed.load(Ordering::SeqCst);
        if let Some(state) = next {
            let seq = state.cursor.as_ref().and_then(|c| c.seq);
            if write(&path, state).await
                && let (Some(a), Some(seq)) = (&mut acker, seq)
            {
                a.pending = Some(seq);
            }
            continue;
        }
        if let Some(a) = &mut acker
            && (a.due() || closing)
            && !a.ack().await
        {
            acker = None;
        }
        if closing {
            return;
        }
        let wake = acker.as_ref().and_then(Acker::next_due);
        match wake {
            Some(at) => {
                let _ = tokio::time::timeout_at(at, slot.wake.notified()).await;
            }
            None => slot.wake.notified().await,
        }
    }
}

async fn write(path: &std::path::Path, state: StateFile) -> bool {
    let target = path.to_owned();
    match tokio::task::spawn_blocking(move || save(&target, &state)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!("{e}; answered rows may be answered again after a restart");
            false
        }
        Err(e) => {
            tracing::error!("the state writer failed: {e}");
            false
        }
    }
}

/// Acknowledges the saved prefix, at most once per [`ACK_SPACING`].
struct Acker {
    client: PlatformClient,
    pending: Option<i64>,
    acked: Option<i64>,
    last: Option<Instant>,
}

impl Acker {
    fn new(client: PlatformClient) -> Self {
        Acker {
            client,
            pending: None,
            acked: None,
            last: None,
        }
    }

    fn wanted(&self) -> bool {
        self.pending.is_some() && self.pending != self.acked
    }

    fn due(&self) -> bool {
        self.wanted() && self.last.is_none_or(|t| t.elapsed() >= ACK_SPACING)
    }

    fn next_due(&self) -> Option<Instant> {
        self.wanted()
            .then(|| self.last.map_or_else(Instant::now, |t| t + ACK_SPACING))
    }

    /// Sends the ack; `false` when the platform has no ack endpoint (acking stops).
    async fn ack(&mut self) -> bool {
        let Some(seq) = self.pending.filter(|_| self.wanted()) else {
            return true;
        };
        self.last = Some(Instant::now());
        match self.client.ack_activity(seq).await {
            Ok(AckOutcome::Acked(_)) => self.acked = Some(seq),
            Ok(AckOutcome::Unsupported) => {
                tracing::info!(
                    "this platform has no /activity/ack (older version); --ack is ignored"
                );
                return false;
            }
            Err(e) => tracing::warn!("acknowledging rows failed (retried later): {e}"),
        }
        true
    }
}
