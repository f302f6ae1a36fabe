//! The lifecycle task behind a [`Supervisor`](super::Supervisor): it watches the running
//! backend, restarts it with backoff after a crash, opens the crash-loop breaker, and carries
//! out the shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::breaker::Breaker;
use super::instance::{ExitReport, Instance};
use super::process::Ladder;
use super::stats::Counter;
use super::supervisor::{ShutdownReport, State, Supervision, lock};
use crate::backoff::Backoff;

/// Which backend, if any, takes requests now.
#[derive(Clone)]
pub(crate) enum Current {
    Ready(Arc<Instance>),
    Restarting,
    BreakerOpen(Instant),
    ShuttingDown,
    Stopped,
}

/// A call to `shutdown`.
pub(crate) struct StopRequest {
    pub(crate) drain: bool,
    pub(crate) reply: oneshot::Sender<ShutdownReport>,
}

/// Why the lifecycle ends.
enum End {
    Stop(Option<StopRequest>),
    Abandon,
}

const KILL: Ladder = Ladder {
    eof_wait: Duration::ZERO,
    term_wait: Duration::ZERO,
};

/// Runs until shutdown (or until every handle is dropped).
pub(crate) async fn manage(
    shared: Arc<Supervision>,
    mut instance: Arc<Instance>,
    mut stop: mpsc::UnboundedReceiver<StopRequest>,
    abandon: CancellationToken,
) {
    let policy = shared.config.restart;
    let mut backoff = Backoff::new(policy.backoff_base, policy.backoff_max);
    let mut breaker = Breaker::new(
        policy.breaker_crashes,
        policy.breaker_window,
        policy.breaker_cooldown,
    );
    loop {
        let report = tokio::select! {
            _ = instance.ended.cancelled() => {
                // Callers wait for the next backend from now on, not after the cleanup.
                publish(&shared, Current::Restarting);
                instance.slots.close();
                instance.exited().await
            }
            request = stop.recv() => {
                let drain = request.as_ref().is_some_and(|r| r.drain);
                let report = shut_down(&shared, &instance, drain).await;
                return finish(&shared, End::Stop(request), report);
            }
            _ = abandon.cancelled() => {
                instance.stop(KILL);
                instance.exited().await;
                return finish(&shared, End::Abandon, ShutdownReport::default());
            }
        };
        on_crash(&shared, &instance, report);
        if instance.started.elapsed() >= policy.healthy_after {
            backoff.reset();
        }
        breaker.record_crash(Instant::now());
        match restart(&shared, &mut backoff, &mut breaker, &mut stop, &abandon).await {
            Ok(next) => instance = next,
            Err(end) => return finish(&shared, end, ShutdownReport::default()),
        }
    }
}

fn on_crash(shared: &Supervision, instance: &Instance, report: Option<Arc<ExitReport>>) {
    let line = report
        .as_ref()
        .map_or_else(|| "the backend ended".to_owned(), |r| r.crash.to_string());
    shared.counters.bump(Counter::crashes);
    shared.status.send_modify(|s| {
        s.crashes += 1;
        s.last_error = Some(line.clone());
    });
    let tail = report
        .map(|r| r.crash.stderr_tail.clone())
        .unwrap_or_default();
    tracing::error!(
        pid = instance.pid,
        "backend crash: {line}\nlast stderr:\n{tail}"
    );
}

/// Starts a new backend after the backoff (or the breaker's cool-down), until one starts.
async fn restart(
    shared: &Supervision,
    backoff: &mut Backoff,
    breaker: &mut Breaker,
    stop: &mut mpsc::UnboundedReceiver<StopRequest>,
    abandon: &CancellationToken,
) -> Result<Arc<Instance>, End> {
    loop {
        let until = match breaker.open_until() {
            Some(until) => {
                tracing::warn!(
                    "the backend keeps crashing: breaker open, next start in {:?}",
                    until.saturating_duration_since(Instant::now())
                );
                publish(shared, Current::BreakerOpen(until));
                until
            }
            None => {
                let delay = backoff.next_delay();
                tracing::info!("restarting the backend in {delay:?}");
                Instant::now() + delay
            }
        };
        tokio::select! {
            _ = sleep_until(until.into()) => {}
            request = stop.recv() => return Err(End::Stop(request)),
            _ = abandon.cancelled() => return Err(End::Abandon),
        }
        publish(shared, Current::Restarting);
        let start_abort = CancellationToken::new();
        let start = super::membership::restart_all(shared, &start_abort);
        tokio::pin!(start);
        let end = tokio::select! {
            result = &mut start => match result {
                Ok(next) => {
                    // Published as ready by `restart_all`, once its workspaces are open.
                    breaker.record_start();
                    return Ok(next);
                }
                Err(e) => {
                    on_start_failed(shared, breaker, &e);
                    continue;
                }
            },
            request = stop.recv() => End::Stop(request),
            _ = abandon.cancelled() => End::Abandon,
        };
        // Shutdown during a start: let the start clean up after itself.
        start_abort.cancel();
        if let Ok(started) = start.await {
            started.stop(KILL);
            started.exited().await;
        }
        return Err(end);
    }
}

fn on_start_failed(shared: &Supervision, breaker: &mut Breaker, error: &super::error::StartError) {
    shared.counters.bump(Counter::crashes);
    let line = error.to_string();
    tracing::error!("the backend failed to restart: {line}");
    shared.status.send_modify(|s| {
        s.crashes += 1;
        s.last_error = Some(line.clone());
    });
    breaker.record_crash(Instant::now());
}

/// A new process runs: it takes requests from now on.
pub(crate) fn on_started(shared: &Supervision, instance: &Arc<Instance>) {
    shared.counters.bump(Counter::starts);
    *lock(&shared.info) = instance.info.clone();
    *lock(&shared.tail) = instance.tail.clone();
    tracing::info!(pid = instance.pid, backend = %instance.info.backend.name, "backend restarted");
    publish(shared, Current::Ready(instance.clone()));
}

/// Drains, cancels what is left, and stops the backend.
async fn shut_down(shared: &Supervision, instance: &Instance, drain: bool) -> ShutdownReport {
    publish(shared, Current::ShuttingDown);
    instance.slots.close();
    let timeouts = &shared.config.timeouts;
    let mut inflight = instance.inflight.subscribe();
    let at_start = *inflight.borrow_and_update();
    if drain && at_start > 0 {
        tokio::select! {
            _ = timeout(timeouts.drain, inflight.wait_for(|n| *n == 0)) => {}
            _ = shared.skip_drain.cancelled() => {}
        }
    }
    let left = *inflight.borrow();
    if left > 0 {
        instance.shutdown.cancel();
        // Each request waits the cancel grace at most; the margin covers scheduling.
        let limit = timeouts.cancel_grace + Duration::from_secs(1);
        let _ = timeout(limit, inflight.wait_for(|n| *n == 0)).await;
    }
    instance.stop(timeouts.ladder());
    let exit = instance.exited().await;
    ShutdownReport {
        finished: at_start.saturating_sub(left),
        cancelled: left,
        stop: exit.map(|e| e.stop.clone()),
    }
}

fn finish(shared: &Supervision, end: End, report: ShutdownReport) {
    *lock(&shared.final_report) = Some(report.clone());
    publish(shared, Current::Stopped);
    if let End::Stop(Some(request)) = end {
        let _ = request.reply.send(report);
    }
}

/// Makes `current` the state callers see, and mirrors it in the status.
fn publish(shared: &Supervision, current: Current) {
    let (state, pid) = match &current {
        Current::Ready(i) => (State::Ready, Some(i.pid)),
        Current::Restarting => (State::Restarting, None),
        Current::BreakerOpen(until) => (State::BreakerOpen { until: *until }, None),
        Current::ShuttingDown => (State::ShuttingDown, shared.status.borrow().pid),
        Current::Stopped => (State::Stopped, None),
    };
    shared.current.send_replace(current);
    shared.status.send_modify(|s| {
        s.state = state;
        s.pid = pid;
    });
}
