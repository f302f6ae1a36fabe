//! Single requests: ids echoed exactly, unknown methods and notifications, invalid params, and
//! `handle_a2a` with ordinary, large and multi-byte messages.

use molecule_protocol::methods::name;
use molecule_protocol::{RequestId, RpcError, code};
use serde_json::{Value, json};

use super::{judge_a2a, still_works};
use crate::check::language::Language;
use crate::check::outcome::{Problem, Verdict, fail, pass, problem};
use crate::check::probe;
use crate::check::record::{Kind, Side};
use crate::check::runner::Ctx;
use crate::check::session::SessionError;

/// The largest integer every JSON implementation reads exactly (2^53 − 1).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A method no backend knows.
const UNKNOWN_METHOD: &str = "backend-check/no-such-method";

/// The size of the large message (less when the advertised line cap is small).
const LARGE_BYTES: usize = 1024 * 1024;

/// `ids.echo`: one request at a time, so that an answer under a near-miss id (the same value
/// with another type, a number rounded through a float, `null`) is attributable. Answers to
/// other ids are left to `answers.once`.
pub async fn ids_echo(ctx: &mut Ctx<'_>) -> Verdict {
    let hint = "echo each id exactly as received: an integer stays the same integer, a string \
                the same string";
    let a2a = probe::text(ctx.plan, probe::HELLO);
    let cases = [
        (
            RequestId::Number(MAX_SAFE_INTEGER),
            name::PING,
            probe::empty(),
        ),
        (RequestId::from("7"), name::PING, probe::empty()),
        (
            RequestId::from("backend-check ☃ id"),
            name::PING,
            probe::empty(),
        ),
        (RequestId::from("backend-check-a2a"), name::HANDLE_A2A, a2a),
    ];
    let session = ctx.start().await?;
    for (id, method, params) in cases {
        session
            .send_request(id.clone(), method, Some(params))
            .await?;
        let waiting = format!("{method} (id {id})");
        loop {
            let index = session.next_answer(&waiting).await?;
            let record = session.record();
            let entry = &record.entries[index];
            match near_miss(&entry.kind, &id) {
                Relation::Exact => break,
                Relation::Unrelated => continue,
                Relation::Miss(got) => {
                    return fail(
                        format!(
                            "answered {method} with id {} with id {got} (stdout line {})",
                            typed(&id),
                            entry.line
                        ),
                        hint,
                    );
                }
            }
        }
    }
    pass(format!(
        "echoed the integer id {MAX_SAFE_INTEGER} and the string ids \"7\", \"backend-check ☃ id\" \
         and \"backend-check-a2a\" exactly"
    ))
}

/// How an answer relates to the request awaited.
enum Relation {
    /// It answers it.
    Exact,
    /// It answers it under a wrong id (described).
    Miss(String),
    /// It answers something else.
    Unrelated,
}

fn near_miss(kind: &Kind, sent: &RequestId) -> Relation {
    let raw = match kind {
        Kind::Response { id: Some(got), .. } if got == sent => return Relation::Exact,
        Kind::Oversize { id: Some(got), .. } if got == sent => return Relation::Exact,
        Kind::Response { id: Some(got), .. } => serde_json::to_value(got).unwrap_or(Value::Null),
        Kind::Response { id: None, result } => {
            let error = result
                .as_ref()
                .err()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            return Relation::Miss(format!("null{error}"));
        }
        Kind::Invalid {
            raw_id: Some(raw), ..
        } => raw.clone(),
        _ => return Relation::Unrelated,
    };
    let same = match (sent, &raw) {
        (RequestId::Number(n), Value::String(s)) => *s == n.to_string(),
        (RequestId::String(s), Value::Number(n)) => *s == n.to_string(),
        (RequestId::Number(n), Value::Number(m)) => m.as_f64() == Some(*n as f64),
        _ => false,
    };
    if !same {
        return Relation::Unrelated;
    }
    Relation::Miss(match &raw {
        Value::String(s) => format!("{s:?} (a string)"),
        Value::Number(m) if m.is_i64() => format!("{m} (an integer)"),
        other => format!("{other} (not an integer: rounded through a float?)"),
    })
}

/// `9007199254740991 (an integer)`, `"7" (a string)`.
fn typed(id: &RequestId) -> String {
    match id {
        RequestId::Number(n) => format!("{n} (an integer)"),
        RequestId::String(s) => format!("{s:?} (a string)"),
    }
}

/// `method.unknown`.
pub async fn method_unknown(ctx: &mut Ctx<'_>) -> Verdict {
    let session = ctx.start().await?;
    let answer = session.call(UNKNOWN_METHOD, Some(probe::empty())).await?;
    expect_code(
        answer,
        code::METHOD_NOT_FOUND,
        &format!("the unknown method {UNKNOWN_METHOD:?}"),
    )
    .map_err(|p| {
        hinted(
            p,
            "answer a request for a method you do not know with error -32601",
        )
    })?;
    still_works(session, "after the unknown method").await?;
    pass(format!(
        "answered {UNKNOWN_METHOD:?} with -32601, then answered ping"
    ))
}

/// `params.invalid`.
pub async fn params_invalid(ctx: &mut Ctx<'_>) -> Verdict {
    let params = probe::without_message(ctx.plan);
    let session = ctx.start().await?;
    let answer = session.call(name::HANDLE_A2A, Some(params)).await?;
    expect_code(answer, code::INVALID_PARAMS, "handle_a2a without a message").map_err(|p| {
        hinted(
            p,
            "validate params and answer error -32602 (invalid params) when they do not fit",
        )
    })?;
    still_works(session, "after the invalid params").await?;
    pass("answered handle_a2a without a message with -32602, then answered ping")
}

/// An answer that must be the error `want`.
fn expect_code(answer: Result<Value, RpcError>, want: i64, what: &str) -> Result<(), Problem> {
    match answer {
        Err(e) if e.code == want => Ok(()),
        Err(e) => Err(problem(format!("answered {what} with {e}, not {want}"), "")),
        Ok(v) => Err(problem(
            format!(
                "answered {what} with a result ({}), not error {want}",
                shorten(&v)
            ),
            "",
        )),
    }
}

fn hinted(mut p: Problem, hint: &str) -> Problem {
    p.hint = hint.to_owned();
    p
}

fn shorten(v: &Value) -> String {
    crate::check::record::preview(v.to_string().as_bytes())
}

/// `notification.unknown`: an answer to a notification can only carry `"id": null`.
pub async fn notification_unknown(ctx: &mut Ctx<'_>) -> Verdict {
    let session = ctx.start().await?;
    session
        .notify(
            "backend-check/unknown-notification",
            json!({"note": "ignore me"}),
        )
        .await?;
    session
        .notify("$/backend-check.unknown", json!({"note": "ignore me too"}))
        .await?;
    still_works(session, "after two unknown notifications").await?;
    ctx.finish().await;
    let record = ctx.record();
    let answered = record.entries.iter().find(|e| {
        matches!(
            (&e.side, &e.kind),
            (Side::Backend, Kind::Response { id: None, .. })
        )
    });
    if let Some(entry) = answered {
        return fail(
            format!(
                "answered a notification it does not know (stdout line {}: {})",
                entry.line, entry.preview
            ),
            "never answer a notification (a message without an id); ignore the ones you do not \
             know",
        );
    }
    pass("ignored two unknown notifications and answered the ping after them")
}

/// `a2a.result`.
pub async fn a2a_result(ctx: &mut Ctx<'_>) -> Verdict {
    let params = probe::text(ctx.plan, probe::HELLO);
    let session = ctx.start().await?;
    let id = session.request(name::HANDLE_A2A, Some(params)).await?;
    let answer = session.answer(&id).await?;
    let summary = judge_a2a(answer, "a text message")?;
    pass(format!("answered a text message with {summary}"))
}

/// `a2a.large`.
pub async fn a2a_large(ctx: &mut Ctx<'_>) -> Verdict {
    let bytes = LARGE_BYTES.min(ctx.plan.max_message_bytes / 2);
    let text = probe::large_text("backend-check-large", bytes);
    let params = probe::text(ctx.plan, &text);
    let language = ctx.plan.language;
    let session = ctx.start().await?;
    let what = format!("a {}-byte message", text.len());
    let hint = match language {
        Some(Language::Python) => {
            "read lines of any length up to limits.maxMessageBytes (asyncio's \
             StreamReader.readline stops at 64 KiB unless the stream is opened with a larger \
             limit=)"
        }
        _ => {
            "read lines of any length up to limits.maxMessageBytes (some line readers stop at \
             64 KiB unless given a larger limit)"
        }
    };
    let failed = |e: SessionError| hinted(Problem::from(e).context(&format!("after {what}")), hint);
    let id = session
        .request(name::HANDLE_A2A, Some(params))
        .await
        .map_err(failed)?;
    let answer = session.answer(&id).await.map_err(failed)?;
    let summary = judge_a2a(answer, &what)?;
    pass(format!("answered {what} with {summary}"))
}

/// `a2a.utf8`: when the reply quotes the message, the quote must be intact.
pub async fn a2a_utf8(ctx: &mut Ctx<'_>) -> Verdict {
    let marker = "backend-check-utf8";
    let text = format!("{marker} {}", probe::UTF8_SAMPLE);
    let params = probe::text(ctx.plan, &text);
    let session = ctx.start().await?;
    let id = session.request(name::HANDLE_A2A, Some(params)).await?;
    let answer = session.answer(&id).await?;
    let value = answer.clone().unwrap_or(Value::Null);
    let summary = judge_a2a(answer, "a message of multi-byte UTF-8 text")?;
    let result = probe::validate_result(&value).ok();
    let quoted = result.as_ref().map(probe::texts).unwrap_or_default();
    for t in quoted.iter().filter(|t| t.contains(marker)) {
        if !t.contains(probe::UTF8_SAMPLE) {
            let start = t.find(marker).unwrap_or(0) + marker.len();
            let got: String = t[start..].trim_start().chars().take(80).collect();
            return fail(
                format!(
                    "the reply quotes the message but its multi-byte text changed: sent {:?}, \
                     got {got:?}",
                    probe::UTF8_SAMPLE
                ),
                "read and write stdin and stdout as UTF-8 bytes, whatever the locale",
            );
        }
    }
    let note = if quoted.iter().any(|t| t.contains(marker)) {
        ", quoting it intact"
    } else {
        ""
    };
    pass(format!(
        "answered a message of multi-byte UTF-8 text with {summary}{note}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_protocol::RpcError;

    fn response(id: Value) -> Kind {
        Kind::Response {
            id: serde_json::from_value(id).ok(),
            result: Err(RpcError::new(-32600, "bad id")),
        }
    }

    fn miss(kind: &Kind, sent: RequestId) -> String {
        match near_miss(kind, &sent) {
            Relation::Miss(text) => text,
            Relation::Exact => "exact".into(),
            Relation::Unrelated => "unrelated".into(),
        }
    }

    #[test]
    fn tells_near_misses_from_other_answers() {
        let big = RequestId::Number(MAX_SAFE_INTEGER);
        assert_eq!(
            miss(&response(json!(MAX_SAFE_INTEGER)), big.clone()),
            "exact"
        );
        assert_eq!(
            miss(&response(json!("9007199254740991")), big.clone()),
            "\"9007199254740991\" (a string)"
        );
        let float = Kind::Invalid {
            reason: "\"id\" must be an integer or a string".into(),
            raw_id: Some(json!(9007199254740991.0)),
        };
        assert_eq!(
            miss(&float, big.clone()),
            "9007199254740991.0 (not an integer: rounded through a float?)"
        );
        assert_eq!(
            miss(&response(Value::Null), RequestId::from("a")),
            "null (bad id (code -32600))"
        );
        assert_eq!(miss(&response(json!(12)), big), "unrelated");
        assert_eq!(
            miss(&response(json!(7)), RequestId::from("7")),
            "7 (an integer)"
        );
    }
}
