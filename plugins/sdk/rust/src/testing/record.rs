//! What the test host saw: every line the backend wrote, sorted into answers, progress and
//! calls to the host, with a way to wait for the next one.

use molecule_protocol::methods::{ProgressParams, name};
use molecule_protocol::{Message, RequestId, RpcError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// A call the backend made to the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostCall {
    /// The id the backend gave the call.
    pub id: RequestId,
    /// The method.
    pub method: String,
    /// The params, as sent (with `_meta.requestId` when made from a handler).
    pub params: Option<Value>,
}

#[derive(Default)]
pub(crate) struct Record {
    pub(crate) answers: HashMap<RequestId, Vec<Result<Value, RpcError>>>,
    pub(crate) progress: Vec<ProgressParams>,
    pub(crate) host_calls: Vec<HostCall>,
    /// Every line the backend wrote, in order; lines that are not JSON are kept as strings.
    pub(crate) transcript: Vec<Value>,
    /// The backend's output ended.
    pub(crate) closed: bool,
}

/// The record plus a signal for each change.
#[derive(Default)]
pub(crate) struct Recorder {
    record: Mutex<Record>,
    changed: Notify,
}

impl Recorder {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Files one line the backend wrote; returns the message when it is a host call.
    pub(crate) fn file_line(&self, line: &[u8]) -> Option<HostCall> {
        let mut call = None;
        {
            let mut rec = self.lock();
            let parsed: Option<Value> = serde_json::from_slice(line).ok();
            rec.transcript.push(
                parsed
                    .clone()
                    .unwrap_or_else(|| Value::String(String::from_utf8_lossy(line).into_owned())),
            );
            match parsed.map(Message::from_value) {
                Some(Ok(Message::Response(r))) => {
                    if let Some(id) = r.id {
                        rec.answers.entry(id).or_default().push(r.result);
                    }
                }
                Some(Ok(Message::Notification(n))) if n.method == name::PROGRESS => {
                    if let Some(p) = n.params.and_then(|p| serde_json::from_value(p).ok()) {
                        rec.progress.push(p);
                    }
                }
                Some(Ok(Message::Request(r))) => {
                    let c = HostCall {
                        id: r.id,
                        method: r.method,
                        params: r.params,
                    };
                    rec.host_calls.push(c.clone());
                    call = Some(c);
                }
                _ => {}
            }
        }
        self.changed.notify_waiters();
        call
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_waiters();
    }

    /// Waits until `check` finds something in the record, or the output ended.
    pub(crate) async fn wait_for<T>(
        &self,
        mut check: impl FnMut(&Record) -> Option<T>,
    ) -> Option<T> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let rec = self.lock();
                if let Some(found) = check(&rec) {
                    return Some(found);
                }
                if rec.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}
