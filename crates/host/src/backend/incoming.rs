//! Everything the backend writes on stdout, sorted: answers go to the request waiting for
//! them, backend → host requests to their handler, `$/progress` to its request's idle timer,
//! and anything else is logged (rate-limited) and counted, never answered.

use std::sync::Arc;
use std::time::Instant;

use molecule_protocol::codec::{Frame, FrameReader, sniff_id};
use molecule_protocol::encode;
use molecule_protocol::jsonrpc::MessageError;
use molecule_protocol::methods::{Empty, ProgressParams, name};
use molecule_protocol::{Message, Notification, Request, RequestId, Response, RpcError};
use serde::Serialize;
use tokio::io::AsyncBufRead;
use tokio::sync::mpsc;

use super::error::{CallError, ProtocolViolation};
use super::handlers::HostCall;
use super::rpc::{ConnEvent, Endpoint};
use super::stats::Counter;
use super::stderr::Verdict;

/// How much of a junk line is quoted in logs.
const QUOTE_BYTES: usize = 256;

/// Reads frames until end of file, then reports that stdout closed.
pub(crate) async fn read_loop<R: AsyncBufRead + Unpin>(
    mut frames: FrameReader<R>,
    shared: Arc<Endpoint>,
    events: mpsc::UnboundedSender<ConnEvent>,
) {
    loop {
        match frames.next_frame().await {
            Ok(Some(Frame::Line(line))) => on_line(&shared, &line),
            Ok(Some(Frame::Oversize { len, id })) => on_oversize(&shared, len, id),
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(backend = %shared.source.name, "reading the backend's stdout failed: {e}");
                break;
            }
        }
    }
    let _ = events.send(ConnEvent::StdoutClosed);
}

fn on_line(shared: &Arc<Endpoint>, line: &[u8]) {
    match Message::parse(line) {
        Ok(Message::Response(r)) => on_response(shared, r),
        Ok(Message::Request(r)) => on_request(shared, r),
        Ok(Message::Notification(n)) => on_notification(shared, n),
        Err(e) => on_invalid(shared, line, e),
    }
}

fn on_response(shared: &Endpoint, r: Response) {
    let Some(id) = r.id else {
        let what = r.result.err().map(|e| e.to_string()).unwrap_or_default();
        shared.counters.bump(Counter::invalid_messages);
        warn_limited(
            shared,
            format_args!("the backend sent an error without an id: {what}"),
        );
        return;
    };
    let delivered = match id {
        RequestId::Number(n) => shared.deliver(n, r.result.map_err(CallError::Rpc)),
        RequestId::String(_) => false,
    };
    if delivered {
        return;
    }
    match id {
        RequestId::Number(n) if shared.was_issued(n) => {
            shared.counters.bump(Counter::duplicate_responses);
            warn_limited(
                shared,
                format_args!(
                    "the backend answered id {n}, which was already answered, cancelled or timed out; ignored"
                ),
            );
        }
        other => {
            shared.counters.bump(Counter::unknown_responses);
            warn_limited(
                shared,
                format_args!("the backend answered id {other}, which the host never sent; ignored"),
            );
        }
    }
}

fn on_request(shared: &Arc<Endpoint>, r: Request) {
    let writer = shared.writer.clone();
    let Some(handler) = shared.handlers.get(&r.method) else {
        let result = if r.method == name::PING {
            Ok(Empty::default())
        } else {
            tracing::debug!(backend = %shared.source.name, "the backend called unknown host method {:?}", r.method);
            Err(RpcError::method_not_found(&r.method))
        };
        // Never block the reader on the writer: a backend that is itself blocked writing to
        // stdout would deadlock with us.
        tokio::spawn(answer(writer, r.id, result));
        return;
    };
    let request = r
        .params
        .as_ref()
        .and_then(|p| p.get("_meta")?.get("requestId")?.as_i64())
        .and_then(|id| shared.scope(id));
    let call = HostCall {
        method: r.method,
        params: r.params,
        request,
    };
    tokio::spawn(async move {
        let result = handler.call(call).await;
        answer(writer, r.id, result).await;
    });
}

async fn answer<T: Serialize>(
    writer: mpsc::Sender<Vec<u8>>,
    id: RequestId,
    result: Result<T, RpcError>,
) {
    let line = match result.as_ref().map(|r| encode::result(&id, r)) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => encode::error(
            Some(&id),
            &RpcError::internal(format!("cannot encode the result: {e}")),
        ),
        Err(error) => encode::error(Some(&id), error),
    };
    let _ = writer.send(line).await;
}

fn on_notification(shared: &Endpoint, n: Notification) {
    if n.method != name::PROGRESS {
        tracing::debug!(backend = %shared.source.name, "ignoring notification {:?}", n.method);
        return;
    }
    let Some(p) = n
        .params
        .and_then(|p| serde_json::from_value::<ProgressParams>(p).ok())
    else {
        warn_limited(
            shared,
            format_args!("the backend sent $/progress without a usable id"),
        );
        return;
    };
    let live = matches!(p.id, RequestId::Number(id) if shared.progress(id));
    tracing::debug!(
        backend = %shared.source.name,
        id = %p.id,
        live,
        "progress: {}",
        p.message.as_deref().unwrap_or("")
    );
}

fn on_invalid(shared: &Endpoint, line: &[u8], error: MessageError) {
    let quoted = quote(line);
    if error.is_junk() {
        shared.counters.bump(Counter::junk_lines);
        shared.note_junk(&quoted);
        warn_limited(
            shared,
            format_args!(
                "the backend wrote non-protocol output to stdout (send logs to stderr): {quoted:?}"
            ),
        );
        return;
    }
    shared.counters.bump(Counter::invalid_messages);
    warn_limited(
        shared,
        format_args!("the backend sent an invalid message ({error}): {quoted:?}"),
    );
    // A malformed answer still names its request: fail it now rather than at its timeout.
    let looks_like_answer = !line.windows(9).any(|w| w == b"\"method\":");
    if let (true, Some(RequestId::Number(id))) = (looks_like_answer, sniff_id(line)) {
        let violation = ProtocolViolation::MalformedResponse(error.to_string());
        shared.deliver(id, Err(CallError::Protocol(violation)));
    }
}

fn on_oversize(shared: &Endpoint, len: usize, id: Option<RequestId>) {
    shared.counters.bump(Counter::oversize_lines);
    let max = shared.max;
    warn_limited(
        shared,
        format_args!("the backend wrote a {len}-byte line, over the {max}-byte limit; discarded"),
    );
    // The id read from the line's start may belong to a backend → host request rather than
    // an answer; such requests are small, so an over-long line is taken to be an answer.
    if let Some(RequestId::Number(id)) = id {
        shared.deliver(
            id,
            Err(CallError::Protocol(ProtocolViolation::ReplyTooLarge {
                len,
                max,
            })),
        );
    }
}

fn quote(line: &[u8]) -> String {
    let cut = &line[..line.len().min(QUOTE_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if line.len() > QUOTE_BYTES {
        text.push('…');
    }
    text
}

fn warn_limited(shared: &Endpoint, message: std::fmt::Arguments<'_>) {
    let verdict = shared
        .log_limit
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .check(Instant::now());
    match verdict {
        Verdict::Suppress => {}
        Verdict::Log => {
            tracing::warn!(backend = %shared.source.name, pid = shared.source.pid, "{message}")
        }
        Verdict::LogAfterSuppressed(n) => tracing::warn!(
            backend = %shared.source.name,
            pid = shared.source.pid,
            "{message} ({n} similar messages were not logged)"
        ),
    }
}
