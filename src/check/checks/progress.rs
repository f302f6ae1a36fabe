//! `progress.in-flight`, for backends that advertise `progress`: while a request runs the
//! backend sends `$/progress` for it at least once per the idle timeout the checker advertised
//! (`limits.idleTimeoutMs`, `--idle-timeout`), and never for a request that is not running.

use std::time::Duration;

use molecule_protocol::RequestId;
use molecule_protocol::methods::{CancelReason, name};
use tokio::time::Instant;

use super::{cancel_and_wait, still_works};
use crate::check::outcome::{Problem, Verdict, fail, pass, problem, skip, unchecked};
use crate::check::probe;
use crate::check::record::{Kind, Record, Side};
use crate::check::runner::Ctx;
use crate::check::session::{Session, human};

/// How the watched request ended.
enum End {
    /// It was answered.
    Answered,
    /// Nothing for the whole idle timeout.
    Silent,
    /// Still running, with progress, when the answer timeout passed.
    Running,
}

/// What the watch saw: how it ended, how much progress came and the longest gap in it.
struct Watch {
    end: End,
    sent: usize,
    longest: Duration,
    took: Duration,
}

/// `progress.in-flight`.
pub async fn progress_in_flight(ctx: &mut Ctx<'_>) -> Verdict {
    if !ctx.caps().progress {
        return skip("the backend does not advertise progress");
    }
    let plan = ctx.plan;
    let cancel = ctx.caps().cancel;
    let idle = plan.timers.idle;
    let session = ctx.start().await?;
    let id = session
        .request(name::HANDLE_A2A, Some(probe::busy(plan)))
        .await?;
    let watch = watch(session, &id, idle, plan.timers.answer).await?;
    match watch.end {
        End::Silent => return silent(&id, idle, watch.sent),
        End::Running if cancel => cancel_and_wait(session, &id, CancelReason::Deadline).await?,
        End::Running | End::Answered => {}
    }
    still_works(session, "after the request").await?;
    ctx.finish().await;
    if let Some(problem) = stray(&ctx.record()) {
        return Err(problem);
    }
    if watch.sent == 0 {
        let how = match plan.busy_message {
            Some(_) => "give a --busy-message that runs longer than --idle-timeout",
            None => "give --busy-message: a message that runs longer than --idle-timeout",
        };
        return unchecked(format!(
            "progress is advertised, but request {id} was answered in {}, within the {} idle \
             timeout, without $/progress: {how}",
            human(watch.took),
            human(idle)
        ));
    }
    pass(format!(
        "sent {} $/progress notifications while its request ran, never more than {} apart (idle \
         timeout {})",
        watch.sent,
        human(watch.longest),
        human(idle)
    ))
}

/// Follows request `id` until it is answered, falls silent for `idle`, or outlives `limit`.
async fn watch(
    session: &mut Session,
    id: &RequestId,
    idle: Duration,
    limit: Duration,
) -> Result<Watch, Problem> {
    let (mut scanned, started) = sent_at(&session.record(), id).ok_or_else(|| {
        problem(
            "the request was not recorded",
            "report this as a molecule bug",
        )
    })?;
    let mut watch = Watch {
        end: End::Running,
        sent: 0,
        longest: Duration::ZERO,
        took: Duration::ZERO,
    };
    let mut last = started;
    let overall = Instant::now() + limit;
    let waiting = format!("handle_a2a (id {id})");
    loop {
        {
            let record = session.record();
            for e in record.entries[scanned..]
                .iter()
                .filter(|e| e.side == Side::Backend)
            {
                let progress = matches!(&e.kind, Kind::Notification { method, about }
                    if method == name::PROGRESS && about.as_ref() == Some(id));
                let answer = matches!(&e.kind, Kind::Response { id: Some(got), .. } if got == id);
                if progress || answer {
                    watch.longest = watch.longest.max(e.at - last);
                    last = e.at;
                }
                watch.sent += usize::from(progress);
                if answer {
                    watch.end = End::Answered;
                    watch.took = e.at - started;
                    return Ok(watch);
                }
            }
            scanned = record.entries.len();
        }
        let deadline = overall.min(last + idle);
        if session.next_line_by(deadline, &waiting).await?.is_none() {
            watch.end = if Instant::now() >= overall {
                End::Running
            } else {
                End::Silent
            };
            return Ok(watch);
        }
    }
}

/// The index just past the request `id` in the record, and when it was written.
fn sent_at(record: &Record, id: &RequestId) -> Option<(usize, Instant)> {
    record
        .entries
        .iter()
        .enumerate()
        .find_map(|(i, e)| match &e.kind {
            Kind::Request { id: sent, .. } if e.side == Side::Host && sent == id => {
                Some((i + 1, e.at))
            }
            _ => None,
        })
}

fn silent(id: &RequestId, idle: Duration, sent: usize) -> Verdict {
    let before = match sent {
        0 => String::new(),
        n => format!(" (after {n} earlier ones)"),
    };
    fail(
        format!(
            "sent no $/progress for request {id} within the {} idle timeout{before}; the host \
             cancels such a request with reason idle_timeout",
            human(idle)
        ),
        "while a request runs, send $/progress for it at least once per limits.idleTimeoutMs (a \
         timer beside the work does it), or do not advertise progress",
    )
}

/// `$/progress` about a request that was not running.
fn stray(record: &Record) -> Option<Problem> {
    let (entry, why) = record.stray_progress().into_iter().next()?;
    let about = match &entry.kind {
        Kind::Notification {
            about: Some(id), ..
        } => format!(" for request {id}"),
        _ => String::new(),
    };
    Some(problem(
        format!(
            "sent $/progress{about} that {why} (stdout line {})",
            entry.line
        ),
        "send $/progress only while a request runs: after receiving it, before answering it",
    ))
}
