//! Matching what the backend wrote to what the checker waits for: the answer, or a line that
//! shows at once that no answer will come (an answer under an id never sent, or broken).

use molecule_protocol::{RequestId, RpcError};
use serde_json::Value;

use super::error::{BadCause, SessionError};
use crate::check::record::{Entry, Kind, Record, Side};

/// What `entry` says about the awaited request `id`: its answer, or a reason to stop waiting at
/// once (an answer too long, broken or not UTF-8, or an answer to an id never sent, which is
/// most likely this request's answer under a wrong id); `None` when it says nothing about it.
pub(super) fn answers(
    record: &Record,
    entry: &Entry,
    id: &RequestId,
    max: usize,
) -> Option<Result<Result<Value, RpcError>, SessionError>> {
    if entry.side != Side::Backend {
        return None;
    }
    let bad = |reason: &String, cause| {
        Some(Err(SessionError::BadAnswer {
            waiting: describe(record, id),
            line: entry.line,
            reason: reason.clone(),
            cause,
            preview: entry.preview.clone(),
        }))
    };
    match &entry.kind {
        Kind::Response {
            id: Some(got),
            result,
        } if got == id => Some(Ok(result.clone())),
        Kind::Response { id: Some(got), .. } if !record.was_sent(got) => {
            Some(Err(SessionError::Stray {
                got: got.clone(),
                line: entry.line,
                preview: entry.preview.clone(),
                waiting: describe(record, id),
                answered_cancel: record.was_cancelled(got),
                same_value: same_value(got, id),
            }))
        }
        Kind::Oversize { len, id: Some(got) } if got == id => Some(Err(SessionError::TooLarge {
            waiting: describe(record, id),
            line: entry.line,
            len: *len,
            max,
        })),
        Kind::Junk {
            reason,
            id: Some(got),
        } if got == id => bad(reason, BadCause::Broken),
        Kind::Invalid {
            reason,
            raw_id: Some(raw),
        } if serde_json::to_value(id).is_ok_and(|v| v == *raw) => {
            let cause = if reason.starts_with("not valid UTF-8") {
                BadCause::NotUtf8
            } else {
                BadCause::Invalid
            };
            bad(reason, cause)
        }
        _ => None,
    }
}

/// Whether two ids are the same value written with different types (`"1"` and `1`).
fn same_value(a: &RequestId, b: &RequestId) -> bool {
    match (a, b) {
        (RequestId::Number(n), RequestId::String(s))
        | (RequestId::String(s), RequestId::Number(n)) => *s == n.to_string(),
        _ => false,
    }
}

/// "ping (id 3)", from the request the checker sent.
pub(super) fn describe(record: &Record, id: &RequestId) -> String {
    let method = record
        .entries
        .iter()
        .find_map(|e| match (&e.side, &e.kind) {
            (
                Side::Host,
                Kind::Request {
                    id: sent, method, ..
                },
            ) if sent == id => Some(method.as_str()),
            _ => None,
        });
    format!("{} (id {id})", method.unwrap_or("request"))
}
