//! The heartbeat task: `POST /registry/heartbeat` every interval, on its own task, so that a
//! slow backend, a slow poll or the rate limiter (heartbeats are never paced) cannot delay it.
//! A failed beat is logged (a refusal loudly) and the next one goes out on time: a heartbeat
//! error never stops the loop or the host (a refused token is the feed's to judge, and a refusal
//! wakes the poller to read it now).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::backend::Status;
use crate::platform::{ErrorClass, PlatformClient, PlatformError};
use crate::wake::Nudge;

use super::health::Health;

/// What the heartbeat reads and tells.
pub struct Beating {
    /// Sends the beats.
    pub client: PlatformClient,
    /// What the beat reports of the host's health.
    pub health: Arc<Health>,
    /// The backend's status, reported in each beat.
    pub status: watch::Receiver<Status>,
    /// Records each accepted beat (status file, metrics).
    pub vitals: Arc<crate::observe::Vitals>,
    /// Wakes the poller when a beat is refused: the feed's answer decides whether the token
    /// is gone, and the next safety read may be minutes away while the stream stays open.
    pub refused: Nudge,
}

/// Beats every `every` until `cancel` fires.
pub async fn run(b: Beating, every: Duration, cancel: CancellationToken) {
    let Beating {
        client,
        health,
        status,
        vitals,
        refused,
    } = b;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        crate::panics::inject("heartbeat");
        let beat = health.beat(&status.borrow());
        let outcome = tokio::time::timeout(every, client.heartbeat(&beat)).await;
        match outcome {
            Ok(Ok(())) => {
                vitals.heartbeat_ok();
                if std::mem::take(&mut failing) {
                    tracing::info!("heartbeats are accepted again");
                }
                tracing::debug!(
                    uptime_seconds = beat.uptime_seconds,
                    active_tasks = beat.active_tasks,
                    "heartbeat"
                );
            }
            // Whether a refused token ends the host is the feed's call (it asks whether the
            // workspace was removed first); promising here that heartbeats go on would be
            // contradicted a moment later by the exit.
            Ok(Err(e @ PlatformError::Unauthorized { .. })) => {
                failing = true;
                refused.read_now();
                tracing::warn!(
                    "the platform refused a heartbeat: {e}; the next read of the activity feed \
                     decides: if it is refused too, the host stops (exit 4)"
                );
            }
            Ok(Err(e)) if e.class() == ErrorClass::Permanent => {
                failing = true;
                tracing::error!(
                    "the platform refused a heartbeat: {e}; the workspace may show as offline \
                     (heartbeats continue)"
                );
            }
            Ok(Err(e)) => {
                failing = true;
                tracing::warn!("a heartbeat failed (the next one goes out on time): {e}");
            }
            Err(_) => {
                failing = true;
                tracing::warn!("a heartbeat took longer than the interval and was abandoned");
            }
        }
    }
}
