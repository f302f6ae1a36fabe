//! `$/cancelRequest`: a cancel that crosses the answer, a cancel for an unknown id, and (for
//! backends that advertise `cancel`) a cancel of a request still running.

use molecule_protocol::methods::{CancelReason, name};
use molecule_protocol::{RequestId, code};
use tokio::time::Instant;

use super::{cancel_failure, ordinary_request, still_works};
use crate::check::outcome::{Verdict, fail, pass, problem, skip, unchecked};
use crate::check::probe;
use crate::check::record::{Kind, Record, Side};
use crate::check::runner::Ctx;
use crate::check::session::human;

/// `cancel.after-answer`: the answer was written before the cancel was read.
pub async fn after_answer(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    let after = "after a cancel that crossed its answer";
    let session = ctx.start().await?;
    let id = session
        .request(name::HANDLE_A2A, Some(probe::text(plan, probe::HELLO)))
        .await?;
    // Any answer will do: what matters is what follows the cancel.
    let _ = session.answer(&id).await?;
    session
        .notify(
            name::CANCEL_REQUEST,
            probe::cancel(&id, CancelReason::Deadline),
        )
        .await?;
    still_works(session, after).await?;
    ordinary_request(session, plan, after).await?;
    ctx.finish().await;
    answered_once(&ctx.record(), &id).map_err(|lines| {
        problem(
            format!(
                "answered request {id} again after a $/cancelRequest that came after its \
                 answer (stdout lines {lines})"
            ),
            "once a request is answered, ignore a $/cancelRequest for it: the cancel and the \
             answer crossed",
        )
    })?;
    pass("ignored a cancel that came after its answer, and kept working")
}

/// Ok when `id` was answered at most once; else the stdout lines of its answers.
fn answered_once(record: &Record, id: &RequestId) -> Result<(), String> {
    let lines: Vec<String> = record
        .answers_to(id)
        .iter()
        .map(|e| e.line.to_string())
        .collect();
    if lines.len() > 1 {
        return Err(lines.join(", "));
    }
    Ok(())
}

/// `cancel.unknown-id`.
pub async fn unknown_id(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    let unknown = [
        RequestId::Number(4242),
        RequestId::from("backend-check-unknown"),
    ];
    let session = ctx.start().await?;
    session
        .notify(
            name::CANCEL_REQUEST,
            probe::cancel(&unknown[0], CancelReason::Superseded),
        )
        .await?;
    // An unknown reason too: receivers must accept any string.
    session
        .notify(
            name::CANCEL_REQUEST,
            probe::cancel_for_an_unknown_reason(&unknown[1]),
        )
        .await?;
    let after = "after cancels for ids it never got";
    still_works(session, after).await?;
    ordinary_request(session, plan, after).await?;
    ctx.finish().await;
    let record = ctx.record();
    let answered = record.entries.iter().find(|e| match (&e.side, &e.kind) {
        (Side::Backend, Kind::Response { id, .. }) => {
            id.as_ref().is_none_or(|id| unknown.contains(id))
        }
        _ => false,
    });
    if let Some(entry) = answered {
        return fail(
            format!(
                "answered a $/cancelRequest for an id it never got (stdout line {}: {})",
                entry.line, entry.preview
            ),
            "ignore a $/cancelRequest for an id you do not know; never answer a notification",
        );
    }
    pass("ignored cancels for two unknown ids (one with an unknown reason), and kept working")
}

/// `cancel.in-flight`: needs a request that is still running when the cancel arrives.
pub async fn in_flight(ctx: &mut Ctx<'_>) -> Verdict {
    if !ctx.caps().cancel {
        return skip("the backend does not advertise cancel");
    }
    let plan = ctx.plan;
    if plan.busy_message.is_none() {
        return unchecked(
            "cancel is advertised but needs --busy-message to be checked: a message the backend \
             works on for a few seconds, so that a request is still running when the cancel \
             arrives",
        );
    }
    let grace = plan.timers.cancel_grace;
    let session = ctx.start().await?;
    let id = session
        .request(name::HANDLE_A2A, Some(probe::busy(plan)))
        .await?;
    session
        .notify(
            name::CANCEL_REQUEST,
            probe::cancel(&id, CancelReason::Deadline),
        )
        .await?;
    let sent = Instant::now();
    let answer = session
        .answer_within(&id, grace)
        .await
        .map_err(|e| cancel_failure(e, &id, grace))?;
    let took = human(sent.elapsed());
    let how = match answer {
        Err(e) if e.code == code::REQUEST_CANCELLED => "-32800",
        Ok(_) => "its result (it had finished)",
        Err(e) => {
            return fail(
                format!("answered the cancelled request {id} with {e}"),
                "answer a cancelled request with error -32800 (or its result, if it finished)",
            );
        }
    };
    ordinary_request(session, plan, "after the cancel").await?;
    ctx.finish().await;
    answered_once(&ctx.record(), &id).map_err(|lines| {
        problem(
            format!("answered the cancelled request {id} more than once (stdout lines {lines})"),
            "answer a cancelled request exactly once",
        )
    })?;
    pass(format!(
        "answered the cancelled request once, with {how}, {took} after the cancel, and kept working"
    ))
}
