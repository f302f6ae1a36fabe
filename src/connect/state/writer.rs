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

async fn run(path: PathBuf, slot: Arc<Slot>, mut ack: Option<PlatformClient>) {
    let mut acked: Option<i64> = None;
    let mut last_ack: Option<Instant> = None;
    loop {
        let next = slot.next.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(state) = next else {
            if slot.closed.load(Ordering::SeqCst) {
                return;
            }
            slot.wake.notified().await;
            continue;
        };
        let seq = state.cursor.as_ref().and_then(|c| c.seq);
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || save(&target, &state)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!("{e}; answered rows may be answered again after a restart");
                continue;
            }
            Err(e) => {
                tracing::error!("the state writer failed: {e}");
                continue;
            }
        }
        let closing = slot.closed.load(Ordering::SeqCst);
        let due = last_ack.is_none_or(|t| t.elapsed() >= ACK_SPACING) || closing;
        if let (Some(client), Some(seq)) = (&ack, seq)
            && due
            && acked != Some(seq)
        {
            last_ack = Some(Instant::now());
            match client.ack_activity(seq).await {
                Ok(AckOutcome::Acked(_)) => acked = Some(seq),
                Ok(AckOutcome::Unsupported) => {
                    tracing::info!(
                        "this platform has no /activity/ack (older version); --ack is ignored"
                    );
                    ack = None;
                }
                Err(e) => tracing::warn!("acknowledging rows failed (retried later): {e}"),
            }
        }
    }
}
