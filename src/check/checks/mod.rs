//! The checks themselves, grouped by subject, and the helpers they share. Each check starts
//! its own backend process through [`Ctx`]; the runner tears it down afterwards.

mod cancel;
mod common;
mod concurrency;
mod handshake;
mod host_calls;
mod lifecycle;
mod progress;
mod requests;
mod stream;
mod workspaces;

use super::catalog::CheckId;
use super::outcome::Verdict;
use super::runner::Ctx;

use common::{cancel_and_wait, cancel_failure, judge_a2a, ordinary_request, still_works};

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
