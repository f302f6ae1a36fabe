//! The backend's calls to the host (SPEC §14), answered by the scripted host: only listed
//! methods, well-formed params, every error class the host may answer handled, and (advisory)
//! each call tied to its request with the same `messageId`s when a message is delivered again.
//! The calls come from `--host-call-message`, or from an ordinary message without it.

use std::fmt::Write as _;

use molecule_protocol::methods::{CancelReason, name};
use molecule_protocol::{RequestId, RpcError, code};
use serde_json::Value;
use tokio::time::Instant;

use super::{cancel_failure, still_works};
use crate::check::host::{Script, ScriptedHost, error_classes, validate};
use crate::check::outcome::{Problem, Verdict, fail, pass, problem, skip};
use crate::check::plan::Plan;
use crate::check::probe;
use crate::check::record::{Call, Record};
use crate::check::runner::Ctx;
use crate::check::session::Session;

/// Puts the scripted host back to answering with results, however the check ends.
struct Succeed<'a>(&'a ScriptedHost);

impl Drop for Succeed<'_> {
    fn drop(&mut self) {
        self.0.set(Script::Succeed);
    }
}

/// The message that makes the backend call the host.
fn message(plan: &Plan) -> Value {
    probe::text(
        plan,
        plan.host_call_message.as_deref().unwrap_or(probe::HELLO),
    )
}

/// The check's verdict when the backend made no call.
fn no_calls(plan: &Plan) -> Verdict {
    skip(match plan.host_call_message {
        Some(_) => "made no calls to the host while answering the --host-call-message",
        None => {
            "made no calls to the host while answering a message; give --host-call-message: a \
             message that makes the backend call the host"
        }
    })
}

/// `host-calls.listed`.
pub async fn listed(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    let listed = &plan.init.capabilities.host_methods;
    let session = ctx.start().await?;
    let _ = session.call(name::HANDLE_A2A, Some(message(plan))).await?;
    still_works(session, "after a handle_a2a").await?;
    ctx.finish().await;
    let record = ctx.record();
    let calls = record.host_calls(0);
    if let Some(call) = calls.iter().find(|c| !listed.iter().any(|l| l == c.method)) {
        return fail(
            format!(
                "called the host method {:?} (stdout line {}), which the host does not list in \
                 capabilities.hostMethods (it lists {})",
                call.method,
                call.entry.line,
                listed.join(", ")
            ),
            "call only the methods listed in initialize's capabilities.hostMethods; the host \
             answers any other with -32601",
        );
    }
    match calls.len() {
        0 => pass("made no calls to the host"),
        n => pass(format!("made {n} calls to the host, all to listed methods")),
    }
}

/// `host-calls.params`: every call well-formed, and any `_meta.requestId` naming a request in
/// flight; calls on the socket too.
pub async fn params(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    plan.host.set(Script::Succeed);
    let on_socket = plan.host.socket_calls().len();
    let session = ctx.start().await?;
    let id = session
        .request(name::HANDLE_A2A, Some(message(plan)))
        .await?;
    let answer = session.answer(&id).await;
    ctx.finish().await;
    let hint = "give each call the params SPEC §14.2 lists: workspace ids as UUIDs, peers/send \
                with exactly one of parts and text, user/notify with text and http(s) \
                attachments; the host answers invalid params with -32602 and does nothing";
    let record = ctx.record();
    let calls = record.host_calls(0);
    for call in &calls {
        let line = call.entry.line;
        if let Err(why) = validate::check(call.method, call.params) {
            return fail(
                format!(
                    "called {} (stdout line {line}) with invalid params: {why}",
                    call.method
                ),
                hint,
            );
        }
        if let Some(rid) = call
            .request_id()
            .filter(|r| !record.running_at(call.index, r))
        {
            return fail(
                format!(
                    "called {} (stdout line {line}) with _meta.requestId {rid}, which names no \
                     handle_a2a in flight",
                    call.method
                ),
                "set _meta.requestId to the id of the handle_a2a the call is made for, exactly \
                 as the host sent it, or leave it out for a call made outside any request",
            );
        }
    }
    let socket = plan.host.socket_calls().split_off(on_socket);
    if let Some((call, why)) = socket.iter().find_map(|c| Some((c, c.problem.as_ref()?))) {
        return fail(
            format!(
                "called {} on the host socket with invalid params: {why}",
                call.method
            ),
            hint,
        );
    }
    // Any answer will do: this check is about the calls.
    let _ = answer?;
    if calls.is_empty() && socket.is_empty() {
        return no_calls(plan);
    }
    let mut methods: Vec<&str> = calls.iter().map(|c| c.method).collect();
    methods.extend(socket.iter().map(|c| c.method.as_str()));
    methods.dedup();
    let on_socket = match socket.len() {
        0 => String::new(),
        n => format!("; {n} on the socket"),
    };
    pass(format!(
        "made {} to the host ({}{on_socket}), each with well-formed params",
        count(calls.len() + socket.len(), "call"),
        methods.join(", "),
    ))
}

/// `host-calls.errors`: the host-call message once per error class the host may answer, every
/// call answered with it; then a call the host ends with `-32800` because its request was
/// cancelled.
pub async fn errors(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    let _reset = Succeed(&plan.host);
    let session = ctx.start().await?;
    let mut summary = String::new();
    for (code, class) in error_classes() {
        plan.host.set(Script::Fail { code, class });
        let during = format!("when the host answered its calls with {code} ({class})");
        let from = session.record().entries.len();
        let id = session
            .request(name::HANDLE_A2A, Some(message(plan)))
            .await?;
        let answer = session
            .answer(&id)
            .await
            .map_err(|e| Problem::from(e).context(&during))?;
        if session.record().host_calls(from).is_empty() {
            return no_calls(plan);
        }
        let how = judge(answer, &during)?;
        let _ = write!(
            summary,
            "{}{code} → {how}",
            if summary.is_empty() { "" } else { ", " }
        );
        still_works(session, &during).await?;
    }
    let how = request_ended(session, plan).await?;
    still_works(session, "after a call ended with its request").await?;
    pass(format!(
        "answered its request once and kept working, whatever the host answered: {summary}, \
         -32800 after a cancel → {how}"
    ))
}

/// How the backend answered its request while the host failed its calls: a result, or an error
/// of its own or passed on; never a reserved JSON-RPC code.
fn judge(answer: Result<Value, RpcError>, during: &str) -> Result<String, Problem> {
    match answer {
        Ok(value) => probe::validate_result(&value)
            .map(|_| "a result".to_owned())
            .map_err(|why| {
                problem(
                    format!("{during}, it answered its request with an invalid result: {why}"),
                    "answer {\"parts\": [...]} with valid A2A parts (SPEC §7.4)",
                )
            }),
        Err(e) if (-32768..=-32000).contains(&e.code) => Err(problem(
            format!("{during}, it answered its request with {e}"),
            "catch the host's error: answer with a result that tells the sender what happened, \
             or an error of your own (1000–1099); pass a retryable one on (1013, 1016) to have \
             the message delivered again. A reserved JSON-RPC code (-32603 for an uncaught \
             exception) tells the sender nothing and is never retried",
        )),
        Err(e) => Ok(format!("error {}", e.code)),
    }
}

/// The host cancels the request while its call waits, and ends the call with `-32800`: the
/// request is answered once within the cancel grace.
async fn request_ended(session: &mut Session, plan: &Plan) -> Result<String, Problem> {
    plan.host.set(Script::Hold);
    let id = session
        .request(name::HANDLE_A2A, Some(message(plan)))
        .await?;
    let waiting = format!("handle_a2a (id {id})");
    let deadline = Instant::now() + plan.timers.answer;
    while !session.holds_calls() && !answered(&session.record(), &id) {
        if session.next_line_by(deadline, &waiting).await?.is_none() {
            return Err(problem(
                format!("it made no call to the host for {waiting} this time"),
                "make the same calls for the same message",
            ));
        }
    }
    plan.host.set(Script::Succeed);
    session
        .notify(
            name::CANCEL_REQUEST,
            probe::cancel(&id, CancelReason::Deadline),
        )
        .await?;
    let ended = RpcError::new(
        code::REQUEST_CANCELLED,
        "the calling request ended; the call was abandoned (scripted by backend-check)",
    );
    session.release(ended).await;
    let grace = session.timers().cancel_grace;
    match session.answer_within(&id, grace).await {
        Ok(Ok(_)) => Ok("a result".into()),
        Ok(Err(e)) if e.code == code::REQUEST_CANCELLED => Ok("-32800".into()),
        Ok(Err(e)) => judge(Err(e), "after its request was cancelled and its call ended"),
        Err(e) => Err(cancel_failure(e, &id, grace)),
    }
}

fn answered(record: &Record, id: &RequestId) -> bool {
    !record.answers_to(id).is_empty()
}

/// `host-calls.scoped` (advisory): each call names its request, and the message delivered
/// again (same activity and keys, attempt 2) sends the same `peers/send` message ids.
pub async fn scoped(ctx: &mut Ctx<'_>) -> Verdict {
    let plan = ctx.plan;
    plan.host.set(Script::Succeed);
    let first = message(plan);
    let again = probe::redelivery(plan, &first);
    let session = ctx.start().await?;
    let mut delivered = Vec::new();
    for params in [first, again] {
        let from = session.record().entries.len();
        let id = session.request(name::HANDLE_A2A, Some(params)).await?;
        let _ = session.answer(&id).await?;
        delivered.push((id, from, session.record().entries.len()));
    }
    ctx.finish().await;
    let record = ctx.record();
    let calls: Vec<Vec<Call<'_>>> = delivered
        .iter()
        .map(|(_, from, to)| {
            record
                .host_calls(*from)
                .into_iter()
                .filter(|c| c.index < *to)
                .collect()
        })
        .collect();
    if calls.iter().all(Vec::is_empty) {
        return no_calls(plan);
    }
    for ((id, _, _), made) in delivered.iter().zip(&calls) {
        if let Some(call) = made.iter().find(|c| c.request_id().as_ref() != Some(id)) {
            return fail(
                format!(
                    "called {} (stdout line {}) while handling request {id} without \
                     _meta.requestId {id}: the host cannot end the call with its request",
                    call.method, call.entry.line
                ),
                "put the id of the handle_a2a a call is made for in params._meta.requestId \
                 (SPEC §14.1; the SDKs do it for calls made through the request's context)",
            );
        }
    }
    let sends = |made: &[Call<'_>]| -> Vec<Option<String>> {
        made.iter()
            .filter(|c| c.method == name::PEERS_SEND)
            .map(|c| c.message_id().map(str::to_owned))
            .collect()
    };
    let (once, twice) = (sends(&calls[0]), sends(&calls[1]));
    if once != twice || once.iter().any(Option::is_none) {
        return fail(
            format!(
                "delivered the same message again (same idempotencyKey, attempt 2), it sent \
                 peers/send with messageIds {twice:?} after {once:?}: a peer gets the work twice"
            ),
            "give each peers/send a messageId derived from context.idempotencyKey and the call's \
             index (SPEC §12.4; the SDKs' send_to_peer does)",
        );
    }
    let repeated = match once.len() {
        0 => String::new(),
        n => format!(
            ", and its {} sent the same messageId{} when the message came again",
            count(n, "peers/send"),
            if n == 1 { "" } else { "s" }
        ),
    };
    pass(format!(
        "tied each of its {} to its request{repeated}",
        count(calls[0].len() + calls[1].len(), "call")
    ))
}

/// "1 call", "3 calls".
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
