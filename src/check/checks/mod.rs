//! The checks themselves, grouped by subject, and the helpers they share. Each check starts
//! its own backend process through [`Ctx`]; the runner tears it down afterwards.

mod cancel;
mod concurrency;
mod handshake;
mod host_calls;
mod lifecycle;
mod progress;
mod requests;
mod stream;
mod workspaces;

use std::time::Duration;

use molecule_protocol::methods::{CancelReason, name};
use molecule_protocol::{RequestId, RpcError, code};
use serde_json::Value;

use super::catalog::CheckId;
use super::outcome::{Problem, Verdict, problem};
use super::plan::Plan;
use super::probe;
use super::runner::Ctx;
use super::session::{Session, SessionError, human};

/// Runs one check.
pub async fn run(id: CheckId, ctx: &mut Ctx<'_>) -> Verdict {
    use CheckId::*;
    match id {
        Handshake => handshake::handshake(ctx).await,
        VersionNegotiation => handshake::version_negotiation(ctx).await,
        InitFirst => handshake::init_first(ctx).await,
        IdsEcho => requests::ids_echo(ctx).await,
        MethodUnknown => requests::method_unknown(ctx).await,
        ParamsInvalid => requests::params_invalid(ctx).await,
        NotificationUnknown => requests::notification_unknown(ctx).await,
        A2aResult => requests::a2a_result(ctx).await,
        A2aLarge => requests::a2a_large(ctx).await,
        A2aUtf8 => requests::a2a_utf8(ctx).await,
        AnswersOnce => stream::answers_once(ctx).await,
        StdoutClean => stream::stdout_clean(ctx).await,
        HostCallsListed => host_calls::listed(ctx).await,
        HostCallsParams => host_calls::params(ctx).await,
        HostCallsErrors => host_calls::errors(ctx).await,
        HostCallsScoped => host_calls::scoped(ctx).await,
        CancelAfterAnswer => cancel::after_answer(ctx).await,
        CancelUnknownId => cancel::unknown_id(ctx).await,
        ShutdownEof => lifecycle::shutdown_eof(ctx).await,
        ShutdownDescendants => lifecycle::shutdown_descendants(ctx).await,
        ConcurrencyParallel => concurrency::parallel(ctx).await,
        ConcurrencyPing => concurrency::ping(ctx).await,
        CancelInFlight => cancel::in_flight(ctx).await,
        ProgressInFlight => progress::progress_in_flight(ctx).await,
        WorkspacesMany => workspaces::many(ctx).await,
        InitTwice => handshake::init_twice(ctx).await,
        ShutdownSigterm => lifecycle::shutdown_sigterm(ctx).await,
        RunByHand => lifecycle::run_by_hand(ctx).await,
        StderrVolume => lifecycle::stderr_volume(ctx).await,
        StartupTime => handshake::startup_time(ctx).await,
    }
}

/// Checks that the backend still answers `ping` with a result; `after` says what came before,
/// for the message.
async fn still_works(session: &mut Session, after: &str) -> Result<(), Problem> {
    let hint = "keep serving after any request, whatever its outcome";
    match session.call(name::PING, Some(probe::empty())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(problem(format!("{after}, it answered ping with {e}"), hint)),
        Err(e) => Err(Problem::from(e).context(after)),
    }
}

/// Sends an ordinary `handle_a2a` and judges its answer.
async fn ordinary_request(session: &mut Session, plan: &Plan, after: &str) -> Result<(), Problem> {
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
fn judge_a2a(answer: Result<Value, RpcError>, what: &str) -> Result<String, Problem> {
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
fn cancel_failure(e: SessionError, id: &RequestId, grace: Duration) -> Problem {
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
async fn cancel_and_wait(
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
