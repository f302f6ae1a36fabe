//! The handshake: `initialize` in time and well formed, version negotiation, `-32002` before
//! `initialize`, a second `initialize`, and how long start-up takes.

use std::time::Duration;

use molecule_protocol::methods::name;
use molecule_protocol::version::check_backend_version;
use molecule_protocol::{InitializeResult, PROTOCOL_VERSION, RpcError, code};
use serde_json::Value;

use crate::check::outcome::{Problem, Verdict, fail, pass, problem, skip};
use crate::check::probe;
use crate::check::report::backend_line;
use crate::check::runner::Ctx;
use crate::check::session::human;

/// The version offered to test negotiation: newer than any the backend can speak.
pub const FUTURE_VERSION: u32 = 999;

/// A median start-up slower than this is reported (advisory).
const SLOW_STARTUP: Duration = Duration::from_secs(2);

/// `handshake`.
pub async fn handshake(ctx: &mut Ctx<'_>) -> Verdict {
    let session = ctx.spawn().await?;
    let answer = session.initialize(PROTOCOL_VERSION).await?;
    let took = session.startup.unwrap_or_default();
    let value = answer.map_err(|e| {
        problem(
            format!("answered initialize with an error: {e}"),
            "answer initialize with a result {protocolVersion, backend: {name, version}, \
             capabilities}; refuse only when the backend cannot run, and then say why",
        )
    })?;
    let info = parse_initialize(&value)?;
    if info.protocol_version != PROTOCOL_VERSION {
        let backend = format!("{} {}", info.backend.name, info.backend.version);
        let why = check_backend_version(&backend, info.protocol_version, env!("CARGO_PKG_VERSION"))
            .err()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return fail(
            format!(
                "offered protocol {PROTOCOL_VERSION}, it answered protocol {}{why}",
                info.protocol_version
            ),
            "a backend that speaks the offered version must answer with it",
        );
    }
    ctx.startups.push(took);
    ctx.plan
        .set_many_workspaces(info.capabilities.workspaces() > 1);
    let line = backend_line(&info);
    ctx.backend = Some(info);
    pass(format!("answered initialize in {}: {line}", human(took)))
}

/// Reads an `initialize` result, saying precisely what is wrong with it.
fn parse_initialize(value: &Value) -> Result<InitializeResult, Problem> {
    let shape = "answer {\"protocolVersion\": 1, \"backend\": {\"name\": …, \"version\": …}, \
                 \"capabilities\": {…}}";
    let bad = |what: String| Err(problem(format!("the initialize result {what}"), shape));
    let Some(obj) = value.as_object() else {
        return bad(format!("is not an object: {value}"));
    };
    match obj.get("protocolVersion") {
        None => return bad("has no protocolVersion".into()),
        Some(v) if !v.is_u64() => {
            return Err(problem(
                format!(
                    "the initialize result has protocolVersion {v}, which is not a \
                     non-negative JSON integer"
                ),
                "write protocolVersion as a JSON integer (1, not 1.0 or \"1\")",
            ));
        }
        Some(_) => {}
    }
    let backend = obj.get("backend").and_then(Value::as_object);
    for field in ["name", "version"] {
        let ok = backend
            .and_then(|b| b.get(field))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !ok {
            return bad(format!("has no backend.{field} (a non-empty string)"));
        }
    }
    if let Some(n) = obj
        .get("capabilities")
        .and_then(|c| c.get("maxConcurrency"))
        && !n.is_u64()
    {
        return Err(problem(
            format!(
                "the initialize result has capabilities.maxConcurrency {n}, which is not a \
                 non-negative integer"
            ),
            "write maxConcurrency as a JSON integer, or leave it out (meaning 1)",
        ));
    }
    serde_json::from_value(value.clone())
        .or_else(|e| bad(format!("does not match the protocol's shape: {e}")))
}

/// `version.negotiation`.
pub async fn version_negotiation(ctx: &mut Ctx<'_>) -> Verdict {
    let offered = format!("offered protocol {FUTURE_VERSION}");
    let hint = "answer with the newest version you speak (or an error listing them); never exit";
    let session = ctx.spawn().await?;
    let answer = session
        .initialize(FUTURE_VERSION)
        .await
        .map_err(|e| with_hint(Problem::from(e).context(&offered), hint))?;
    let said = match answer {
        Err(e) => format!("answered with an error ({e})"),
        Ok(v) => match v.get("protocolVersion").and_then(Value::as_u64) {
            None => {
                return fail(
                    format!("{offered}, the result has no integer protocolVersion: {v}"),
                    hint,
                );
            }
            Some(n) if n == u64::from(FUTURE_VERSION) => {
                return fail(
                    format!("{offered}, which no backend speaks yet, it answered {n}"),
                    "answer with a version the backend speaks, not the one offered",
                );
            }
            Some(n) => format!("answered protocol {n}"),
        },
    };
    // Any answer, even an error, shows it kept running.
    let _ = session
        .call(name::PING, Some(probe::empty()))
        .await
        .map_err(|e| {
            with_hint(
                Problem::from(e).context(&format!("{offered}, {said}")),
                hint,
            )
        })?;
    pass(format!("{offered}, {said} and kept running"))
}

fn with_hint(mut p: Problem, hint: &str) -> Problem {
    p.hint = hint.to_owned();
    p
}

/// `init.first`.
pub async fn init_first(ctx: &mut Ctx<'_>) -> Verdict {
    let hint = "until initialize is answered, answer every other request with error -32002 (not \
                initialized)";
    let params = probe::text(ctx.plan, probe::HELLO);
    let session = ctx.spawn().await?;
    for (method, params) in [(name::PING, probe::empty()), (name::HANDLE_A2A, params)] {
        let answer = session
            .call(method, Some(params))
            .await
            .map_err(|e| Problem::from(e).context("before initialize"))?;
        match answer {
            Err(RpcError {
                code: code::NOT_INITIALIZED,
                ..
            }) => {}
            Err(e) => {
                return fail(
                    format!("answered {method} before initialize with {e}"),
                    hint,
                );
            }
            Ok(_) => {
                return fail(
                    format!("answered {method} before initialize with a result"),
                    hint,
                );
            }
        }
    }
    let hint_after =
        "answer -32002 before initialize without changing state, then initialize normally";
    match session.initialize(PROTOCOL_VERSION).await? {
        Ok(_) => {}
        Err(e) => {
            return fail(
                format!("after answering -32002, it answered initialize with an error: {e}"),
                hint_after,
            );
        }
    }
    if let Err(e) = session.call(name::PING, Some(probe::empty())).await? {
        return fail(
            format!("after -32002 and initialize, it answered ping with {e}"),
            hint_after,
        );
    }
    pass(
        "answered ping and handle_a2a before initialize with -32002, then initialized and answered ping",
    )
}

/// `init.twice`.
pub async fn init_twice(ctx: &mut Ctx<'_>) -> Verdict {
    let hint = "answer a second initialize in the same process with error -32600";
    let params = serde_json::to_value(&ctx.plan.init).unwrap_or(Value::Null);
    let session = ctx.start().await?;
    match session.call(name::INITIALIZE, Some(params)).await? {
        Err(RpcError {
            code: code::INVALID_REQUEST,
            ..
        }) => {}
        Err(e) => return fail(format!("answered a second initialize with {e}"), hint),
        Ok(_) => return fail("answered a second initialize with a result", hint),
    }
    session
        .call(name::PING, Some(probe::empty()))
        .await?
        .map_err(|e| {
            problem(
                format!("after a second initialize, it answered ping with {e}"),
                hint,
            )
        })?;
    pass("answered a second initialize with -32600 and kept working")
}

/// `startup.time`: from every handshake of the run.
pub async fn startup_time(ctx: &mut Ctx<'_>) -> Verdict {
    let mut times = ctx.startups.clone();
    if times.is_empty() {
        return skip("no handshake completed");
    }
    times.sort();
    let median = times[times.len() / 2];
    let (fastest, slowest) = (times[0], times[times.len() - 1]);
    let n = times.len();
    let figures = format!(
        "median {} over {n} start{} (fastest {}, slowest {})",
        human(median),
        if n == 1 { "" } else { "s" },
        human(fastest),
        human(slowest)
    );
    if median > SLOW_STARTUP {
        return fail(
            format!("answering initialize took {figures}"),
            "answer initialize first; load models and warm caches afterwards or in the \
             background (the host waits at most the start-up timeout, and every restart pays it)",
        );
    }
    pass(format!("answered initialize in {figures}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn why(value: Value) -> String {
        parse_initialize(&value).unwrap_err().message
    }

    #[test]
    fn says_what_is_wrong_with_an_initialize_result() {
        let backend = json!({"name": "b", "version": "1"});
        assert_eq!(
            why(json!({"protocolVersion": 1.0, "backend": backend})),
            "the initialize result has protocolVersion 1.0, which is not a non-negative JSON integer"
        );
        assert_eq!(
            why(json!({"protocolVersion": 1, "backend": {"name": "b", "version": " "}})),
            "the initialize result has no backend.version (a non-empty string)"
        );
        assert_eq!(
            why(json!({"protocolVersion": 1, "backend": backend,
                       "capabilities": {"maxConcurrency": "4"}})),
            "the initialize result has capabilities.maxConcurrency \"4\", which is not a \
             non-negative integer"
        );
        assert_eq!(
            why(json!({"backend": backend})),
            "the initialize result has no protocolVersion"
        );
        let ok = parse_initialize(&json!({"protocolVersion": 1, "backend": backend,
                                          "capabilities": {"future": true}}));
        assert_eq!(ok.unwrap().capabilities.concurrency(), 1);
    }
}
