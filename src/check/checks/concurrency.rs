//! Concurrency, for backends that advertise `maxConcurrency` above 1: that many requests at
//! once, answered under their own ids (overtaking a busy one when `--busy-message` is given),
//! and `ping` answered while a request runs.

use molecule_protocol::RequestId;
use molecule_protocol::methods::{CancelReason, name};

use super::{cancel_and_wait, judge_a2a};
use crate::check::outcome::{Problem, Verdict, fail, pass, problem, skip, unchecked};
use crate::check::plan::Plan;
use crate::check::probe;
use crate::check::record::Record;
use crate::check::runner::Ctx;
use crate::check::session::{Session, SessionError, human};

/// At most this many requests are sent at once, whatever the backend advertises.
const MAX_PARALLEL: u32 = 64;

/// `concurrency.parallel`.
pub async fn parallel(ctx: &mut Ctx<'_>) -> Verdict {
    let n = ctx.caps().concurrency();
    if n <= 1 {
        return skip("maxConcurrency is 1 (or absent): the host sends one request at a time");
    }
    let n = n.min(MAX_PARALLEL);
    let plan = ctx.plan;
    let cancel = ctx.caps().cancel;
    let session = ctx.start().await?;
    let (busy, quick) = send_burst(session, plan, n).await?;
    for id in &quick {
        let answer = session
            .answer(id)
            .await
            .map_err(|e| while_busy(e, &busy, n))?;
        judge_a2a(answer, &format!("request {id}"))?;
    }
    let overtook = match &busy {
        Some(id) => {
            let overtook = session.record().answers_to(id).is_empty();
            finish_busy(session, id, cancel).await?;
            overtook
        }
        None => false,
    };
    ctx.finish().await;
    let record = ctx.record();
    if let Some((id, times)) = quick
        .iter()
        .chain(busy.iter())
        .map(|id| (id, record.answers_to(id).len()))
        .find(|(_, times)| *times > 1)
    {
        return fail(
            format!("answered request {id} {times} times"),
            "answer each request exactly once",
        );
    }
    let order = order_note(&record, &quick, busy.is_some(), overtook);
    pass(format!(
        "answered {n} requests sent at once, each once under its own id{order}"
    ))
}

/// Sends `n` requests at once: the busy message first when there is one, then ordinary ones
/// under integer and string ids. Returns the busy id and the others.
async fn send_burst(
    session: &mut Session,
    plan: &Plan,
    n: u32,
) -> Result<(Option<RequestId>, Vec<RequestId>), Problem> {
    let busy = match &plan.busy_message {
        Some(_) => {
            let id = RequestId::from("backend-check-busy");
            session
                .send_request(id.clone(), name::HANDLE_A2A, Some(probe::busy(plan)))
                .await?;
            Some(id)
        }
        None => None,
    };
    let quick: Vec<RequestId> = (0..n - u32::from(busy.is_some()))
        .map(|i| match i % 2 {
            0 => RequestId::Number(1000 + i64::from(i)),
            _ => RequestId::String(format!("backend-check-parallel-{i}")),
        })
        .collect();
    for id in &quick {
        let params = Some(probe::text(plan, probe::HELLO));
        session
            .send_request(id.clone(), name::HANDLE_A2A, params)
            .await?;
    }
    Ok((busy, quick))
}

/// The error for a quick request that was not answered while the busy one ran.
fn while_busy(e: SessionError, busy: &Option<RequestId>, n: u32) -> Problem {
    match (e, busy) {
        (SessionError::Timeout { waiting, after, .. }, Some(busy)) => problem(
            format!(
                "no answer to {waiting} within {} while the busy request {busy} ran; the \
                 backend advertises maxConcurrency {n}",
                human(after)
            ),
            "handle requests concurrently up to maxConcurrency (or advertise a lower one), and \
             keep reading stdin while handlers run",
        ),
        (e, _) => e.into(),
    }
}

/// Ends the busy request: cancelled when the backend supports it, else awaited.
async fn finish_busy(session: &mut Session, id: &RequestId, cancel: bool) -> Result<(), Problem> {
    if !session.record().answers_to(id).is_empty() {
        return Ok(());
    }
    if cancel {
        cancel_and_wait(session, id, CancelReason::Superseded).await?;
    } else {
        let _ = session.answer(id).await?;
    }
    Ok(())
}

/// ", answering out of order" and the like.
fn order_note(record: &Record, quick: &[RequestId], busy: bool, overtook: bool) -> String {
    if busy {
        return if overtook {
            ", all while the busy request still ran".into()
        } else {
            " (the busy request finished first: a slower --busy-message shows them overtaking it)"
                .into()
        };
    }
    let answered: Vec<&RequestId> = record
        .entries
        .iter()
        .filter_map(|e| e.answers())
        .filter(|id| quick.contains(id))
        .collect();
    let in_order = answered.iter().zip(quick).all(|(a, q)| *a == q);
    if in_order {
        " (in the order sent; the host accepts any order)".into()
    } else {
        ", out of order".into()
    }
}

/// `concurrency.ping`.
pub async fn ping(ctx: &mut Ctx<'_>) -> Verdict {
    let n = ctx.caps().concurrency();
    if n <= 1 {
        return skip("maxConcurrency is 1 (or absent): ping may wait for the running request");
    }
    let plan = ctx.plan;
    if plan.busy_message.is_none() {
        return unchecked(format!(
            "maxConcurrency {n} is advertised but needs --busy-message to be checked: a message \
             the backend works on for a few seconds, so that a request is running when the ping \
             arrives"
        ));
    }
    let cancel = ctx.caps().cancel;
    let session = ctx.start().await?;
    let busy = session
        .request(name::HANDLE_A2A, Some(probe::busy(plan)))
        .await?;
    let ping = session.request(name::PING, Some(probe::empty())).await?;
    let hint = "keep reading stdin while handlers run, and answer ping at once";
    let _ = session.answer(&ping).await.map_err(|e| match e {
        SessionError::Timeout { after, .. } => problem(
            format!(
                "no answer to ping (id {ping}) within {} while request {busy} ran",
                human(after)
            ),
            hint,
        ),
        e => e.into(),
    })?;
    let busy_first = {
        let record = session.record();
        let first = |id: &RequestId| record.entries.iter().position(|e| e.answers() == Some(id));
        matches!((first(&busy), first(&ping)), (Some(b), Some(p)) if b < p)
    };
    if busy_first {
        return fail(
            format!(
                "answered ping (id {ping}) only after the busy request {busy}: it does not \
                 read stdin while it handles a request (or --busy-message is answered too \
                 quickly to show it)"
            ),
            hint,
        );
    }
    finish_busy(session, &busy, cancel).await?;
    pass("answered ping while a request ran")
}
