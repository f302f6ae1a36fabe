//! The backend's life around the requests: exit at end of input, no process left behind,
//! SIGTERM, being run by hand on a terminal, and how much it logs.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use super::still_works;
use crate::check::outcome::{Problem, Verdict, fail, pass, problem, skip};
use crate::check::plan::Plan;
use crate::check::probe;
use crate::check::runner::Ctx;
use crate::check::session::{Finished, exit_text, human};
use molecule_host::backend::{BackendProcess, StopStep};
use molecule_protocol::methods::name;

/// More stderr lines than this in a short session is reported (advisory): the host logs at
/// most 1,000 lines per 10 s.
const STDERR_BUDGET: u64 = 1000;

/// How much of the run-by-hand message is kept.
const HAND_MESSAGE_BYTES: usize = 4096;

/// Starts a backend, exchanges a ping and a message, and closes its stdin.
async fn ordinary_session(ctx: &mut Ctx<'_>) -> Result<Finished, Problem> {
    let plan = ctx.plan;
    let session = ctx.start().await?;
    still_works(session, "after initialize").await?;
    // Any answer will do: this session is about what happens afterwards.
    let _ = session
        .call(name::HANDLE_A2A, Some(probe::text(plan, probe::HELLO)))
        .await?;
    ctx.finish()
        .await
        .ok_or_else(|| problem("the session ended early", "report this as a molecule bug"))
}

/// `shutdown.eof`.
pub async fn shutdown_eof(ctx: &mut Ctx<'_>) -> Verdict {
    let eof = ctx.plan.timers.eof;
    let finished = ordinary_session(ctx).await?;
    let hint_exit = "when stdin reaches end of file, finish or abandon the work in flight, \
                     flush, and exit with status 0 within 5 seconds";
    match (finished.exit_after_eof, finished.status) {
        (Some(took), Some(status)) if status.success() => pass(format!(
            "exited with status 0 {} after stdin closed",
            human(took)
        )),
        (Some(took), Some(status)) => fail(
            format!("{} {} after stdin closed", exit_text(status), human(took)),
            hint_exit,
        ),
        (None, status) if finished.step == StopStep::AlreadyExited => fail(
            format!(
                "{} before its stdin was closed",
                status.map_or_else(|| "ended".to_owned(), exit_text)
            ),
            "keep running until stdin closes: the host treats any other exit as a crash",
        ),
        _ => {
            let then = match finished.step {
                StopStep::ExitedAfterSigterm => "it exited after SIGTERM",
                _ => "it ignored SIGTERM too and was killed with SIGKILL",
            };
            fail(
                format!(
                    "did not exit within {} of stdin closing; {then}",
                    human(eof)
                ),
                hint_exit,
            )
        }
    }
}

/// `shutdown.descendants`.
pub async fn shutdown_descendants(ctx: &mut Ctx<'_>) -> Verdict {
    let finished = ordinary_session(ctx).await?;
    if finished.survivors.is_empty() {
        return pass("left no process running after it exited");
    }
    let n = finished.survivors.len();
    let names: Vec<String> = finished
        .survivors
        .iter()
        .map(|p| format!("pid {} ({})", p.pid, p.name))
        .collect();
    fail(
        format!(
            "left {n} process{} running after it exited: {} (killed by the checker)",
            if n == 1 { "" } else { "es" },
            names.join(", ")
        ),
        "end every process you start when stdin closes, and never daemonise (no setsid, double \
         fork or nohup … &)",
    )
}

/// `shutdown.sigterm`.
pub async fn shutdown_sigterm(ctx: &mut Ctx<'_>) -> Verdict {
    let term = ctx.plan.timers.term;
    let session = ctx.start().await?;
    still_works(session, "after initialize").await?;
    let (step, took) = session.terminate(term).await;
    match step {
        StopStep::Killed => fail(
            format!(
                "was still running {} after SIGTERM (stdin open), and was killed",
                human(term)
            ),
            "exit promptly on SIGTERM: the host sends it when the backend does not exit after \
             stdin closes",
        ),
        _ => pass(format!("exited {} after SIGTERM", human(took))),
    }
}

/// `stderr.volume`.
pub async fn stderr_volume(ctx: &mut Ctx<'_>) -> Verdict {
    ordinary_session(ctx).await?;
    let lines = ctx.record().stderr_lines;
    if lines > STDERR_BUDGET {
        return fail(
            format!(
                "wrote {lines} lines to stderr in a short session (initialize, ping, one message)"
            ),
            "log less at the default level: the host logs at most 1,000 stderr lines per 10 s \
             and only counts the rest, so a flood costs you evidence",
        );
    }
    pass(format!(
        "wrote {lines} lines to stderr in a short session (initialize, ping, one message)"
    ))
}

/// `run-by-hand`: started on a terminal without `MOLECULE_BACKEND`, as a person would.
pub async fn run_by_hand(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    let terminal = match nix::pty::openpty(None, None) {
        Ok(t) => t,
        Err(e) => return skip(format!("cannot open a pseudo-terminal: {e}")),
    };
    let spawned = BackendProcess::spawn_with_stdin(
        &plan.command,
        by_hand_env(plan),
        Stdio::from(terminal.slave),
    )
    .await;
    let (mut process, mut stdout, mut stderr) = spawned.map_err(|e| {
        problem(
            format!("cannot start {}: {e}", plan.command.display),
            "check the command",
        )
    })?;
    // Nothing reads stdout here; drain it so that the backend cannot block on it.
    let drain =
        tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
    let waited = timeout(plan.timers.eof, process.wait()).await;
    let status = match waited {
        Ok(Ok(status)) => Some(status),
        _ => None,
    };
    process.kill().await;
    drain.abort();
    let mut said = Vec::new();
    let mut limited = (&mut stderr).take(HAND_MESSAGE_BYTES as u64);
    let _ = timeout(plan.timers.exit_grace, limited.read_to_end(&mut said)).await;
    drop(terminal.master);
    judge_by_hand(status, &said, plan.timers.eof)
}

fn judge_by_hand(
    status: Option<std::process::ExitStatus>,
    said: &[u8],
    waited: Duration,
) -> Verdict {
    let hint = "when MOLECULE_BACKEND is not 1 and stdin is a terminal, print to stderr that \
                this is a Molecule backend and how to run it (molecule dev --backend-cmd …), \
                then exit with status 2";
    let first_line = String::from_utf8_lossy(said)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned);
    match (status, first_line) {
        (None, _) => fail(
            format!(
                "was still running {} after being started on a terminal without MOLECULE_BACKEND",
                human(waited)
            ),
            hint,
        ),
        (Some(s), _) if s.success() => fail(
            "exited with status 0 when started on a terminal without MOLECULE_BACKEND",
            hint,
        ),
        (Some(s), None) => fail(
            format!("{} but printed nothing on stderr", exit_text(s)),
            hint,
        ),
        (Some(s), Some(line)) => pass(format!("{} and said: {line:?}", exit_text(s))),
    }
}

/// The checker's own environment minus the host's `MOLECULE_` variables, plus the user's
/// `--env` (but never `MOLECULE_BACKEND`).
fn by_hand_env(plan: &Plan) -> Vec<(OsString, OsString)> {
    let not_host = |k: &OsString| !k.as_bytes().starts_with(b"MOLECULE_");
    std::env::vars_os()
        .filter(|(k, _)| not_host(k))
        .chain(
            plan.extra_env
                .iter()
                .filter(|(k, _)| k != "MOLECULE_BACKEND")
                .cloned(),
        )
        .collect()
}
