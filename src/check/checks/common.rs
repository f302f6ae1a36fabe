//! What the checks share: the backend still answers after a check, an ordinary request, the
//! judgement of a `handle_a2a` answer, and cancelling a request and waiting for its answer.

use std::time::Duration;

use molecule_protocol::methods::{CancelReason, name};
use molecule_protocol::{RequestId, RpcError, code};
use serde_json::Value;

use super::super::outcome::{Problem, problem};
use super::super::plan::Plan;
use super::super::probe;
use super::super::session::{Session, SessionError, human};

/// Checks that the backend still answers `ping` with a result; `after` says what came before,
/// for the message.
pub(super) async fn still_works(session: &mut Session, after: &str) -> Result<(), Problem> {
    let hint = "keep serving after any request, whatever its outcome";
    match session.call(name::PING, Some(probe::empty())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(problem(format!("{after}, it answered ping with {e}"), hint)),
        Err(e) => Err(Problem::from(e).context(after)),
    }
}

/// Sends an ordinary `handle_a2a` and judges its answer.
pub(super) async fn ordinary_request(
    session: &mut Session,
    plan: &Plan,
    after: &str,
) -> Result<(), Problem> {
    let params = probe::text(plan, probe::HELLO);
    let id = session
        .request(name::HANDLE_A2A, Some(params))
        .await
        .map_err(|e| Problem::from(e).context(after))?;
    let answer = session
        .answer(&id)
        .await
        .map_err(|e| Problem::from(e).context(after))?;
    judge_a2a(answer, &format!("{after}, the next handle_a2a")).map(|_| ())
}

/// Judges a `handle_a2a` answer: a valid result, or an application error (1000–1099), which
/// is a legitimate way to decline. Returns a summary for the pass message.
pub(super) fn judge_a2a(answer: Result<Value, RpcError>, what: &str) -> Result<String, Problem> {
    match answer {
        Ok(value) => probe::validate_result(&value)
            .map(|r| probe::summary(&r))
            .map_err(|why| {
                problem(
                    format!("{what} was answered with an invalid result: {why}"),
                    "answer {\"parts\": [{\"kind\": \"text\", \"text\": …}]}; every part needs \
                     \"kind\" (text, file or data), see SPEC §7.4",
                )
            }),
        Err(e) if (1000..1100).contains(&e.code) => Ok(format!(
            "error {} ({}), an application error code",
            e.code, e.message
        )),
        Err(e) if e.code == code::REQUEST_CANCELLED => Err(problem(
            format!("{what} was answered with {e}, but it was never cancelled"),
            "answer -32800 only to a request the host cancelled with $/cancelRequest (SPEC §8); \
             the host treats any other -32800 as a failed delivery",
        )),
        Err(e) if e.code == code::INVALID_PARAMS => Err(problem(
            format!("{what} was answered with {e}, but its params were valid"),
            "accept every member SPEC §7 describes and ignore members you do not know",
        )),
        Err(e) => Err(problem(
            format!("{what} was answered with error {e}"),
            "answer with a result, or with an application error (1001–1007) that says what \
             went wrong",
        )),
    }
}

/// The problem when the answer to a cancelled request did not come: a timeout is the cancel
/// grace running out.
pub(super) fn cancel_failure(e: SessionError, id: &RequestId, grace: Duration) -> Problem {
    match e {
        SessionError::Timeout { .. } => problem(
            format!(
                "no answer to the cancelled request {id} within the {} cancel grace",
                human(grace)
            ),
            "answer a cancelled request exactly once, promptly: error -32800, or its result if \
             it had finished",
        ),
        other => Problem::from(other).context("after $/cancelRequest"),
    }
}

/// Cancels `id` and waits the cancel grace for its answer.
pub(super) async fn cancel_and_wait(
    session: &mut Session,
    id: &RequestId,
    reason: CancelReason,
) -> Result<(), Problem> {
    session
        .notify(name::CANCEL_REQUEST, probe::cancel(id, reason))
        .await?;
    let grace = session.timers().cancel_grace;
    match session.answer_within(id, grace).await {
        Ok(_) => Ok(()),
        Err(e) => Err(cancel_failure(e, id, grace)),
    }
}
