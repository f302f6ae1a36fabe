//! What the backend writes over a whole session: only protocol lines, each request answered
//! once, and calls only to listed host methods.

use molecule_protocol::a2a::{Object, Part};
use molecule_protocol::methods::name;
use serde_json::json;

use crate::check::outcome::{Problem, Verdict, fail, pass, problem};
use crate::check::probe;
use crate::check::record::{Entry, Kind, Record, Side};
use crate::check::runner::Ctx;
use crate::check::session::SessionError;

/// `answers.once`: sequential requests and a burst within the advertised concurrency.
pub async fn answers_once(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    let burst = ctx.caps().concurrency().min(3);
    let session = ctx.start().await?;
    // Any answers will do: the check counts them.
    let _ = session.call(name::PING, Some(probe::empty())).await?;
    for _ in 0..2 {
        let _ = session
            .call(name::HANDLE_A2A, Some(probe::text(plan, probe::HELLO)))
            .await?;
    }
    let mut ids = Vec::new();
    for _ in 0..burst {
        ids.push(
            session
                .request(name::HANDLE_A2A, Some(probe::text(plan, probe::HELLO)))
                .await?,
        );
    }
    for id in &ids {
        let _ = session.answer(id).await?;
    }
    ctx.finish().await;
    let record = ctx.record();
    if let Some(problem) = once_problem(&record) {
        return Err(problem);
    }
    let n = record.sent_ids().len();
    pass(format!(
        "answered each of {n} requests exactly once, and nothing else"
    ))
}

/// A request answered twice, or an answer to an id never sent.
fn once_problem(record: &Record) -> Option<Problem> {
    if let Some((id, lines)) = record.duplicates().first() {
        let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
        return Some(problem(
            format!(
                "answered request {id} {} times (stdout lines {})",
                lines.len(),
                lines.join(", ")
            ),
            "answer each request exactly once",
        ));
    }
    let stray = record.strays().into_iter().next()?;
    let (message, hint) = match stray.answers() {
        Some(id) => (
            format!("answered id {id}, which the host never sent"),
            "answer only the requests you received, each with its id exactly",
        ),
        None => (
            "sent a response with \"id\": null".to_owned(),
            "never answer a line you cannot read: log it to stderr instead",
        ),
    };
    Some(problem(
        format!("{message} (stdout line {}: {})", stray.line, stray.preview),
        hint,
    ))
}

/// `stdout.clean`: a representative session, then every stdout line is looked at.
pub async fn stdout_clean(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    let data: Object = [("backendCheck".to_owned(), json!({"n": 1, "ok": true}))]
        .into_iter()
        .collect();
    let requests = [
        (name::PING, probe::empty()),
        (name::HANDLE_A2A, probe::text(plan, probe::HELLO)),
        (
            name::HANDLE_A2A,
            probe::params(plan, vec![Part::text("data:"), Part::data(data)]),
        ),
    ];
    let session = ctx.start().await?;
    let mut failed: Option<SessionError> = None;
    for (method, params) in requests {
        if let Err(e) = session.call(method, Some(params)).await {
            failed = Some(e);
            break;
        }
    }
    ctx.finish().await;
    let record = ctx.record();
    let bad: Vec<_> = record.bad_lines().collect();
    let Some(first) = bad.first() else {
        return match failed {
            Some(e) => Err(Problem::from(e)),
            None => pass(format!(
                "all {} stdout lines were JSON-RPC messages within the line cap",
                record
                    .entries
                    .iter()
                    .filter(|e| e.side == Side::Backend)
                    .count()
            )),
        };
    };
    bad_line(first, bad.len() - 1, plan.max_message_bytes)
}

/// The failure for the first line that is not a protocol line; `more` bad lines follow it.
fn bad_line(first: &Entry, more: usize, cap: usize) -> Verdict {
    let more = match more {
        0 => String::new(),
        n => format!(" ({n} more after it)"),
    };
    let line = first.line;
    match &first.kind {
        Kind::Oversize { len, .. } => fail(
            format!(
                "stdout line {line} is {len} bytes, over the {cap}-byte line cap the host \
                 advertised (limits.maxMessageBytes){more}"
            ),
            "answer with error 1007 (reply too large) instead of writing an over-long line",
        ),
        Kind::Invalid { reason, .. } => fail(
            format!(
                "stdout line {line} is not a valid JSON-RPC message ({reason}): {}{more}",
                first.preview
            ),
            "write only JSON-RPC 2.0 objects ({\"jsonrpc\": \"2.0\", \"id\": …, \"result\": …})",
        ),
        _ => fail(
            format!(
                "stdout line {line} is not JSON-RPC: {:?}{more}",
                first.preview
            ),
            "write logs to stderr: stdout carries protocol lines only",
        ),
    }
}
