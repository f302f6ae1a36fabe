//! The backend's calls to the host during a session, answered as the scripted host says; calls
//! it holds wait until a check releases them.

use molecule_protocol::{Message, RequestId, Response, RpcError};
use serde_json::Value;

use super::Session;
use crate::check::record::{Kind, Side};

impl Session {
    /// Answers the backend's calls to the host as the scripted host says; calls it holds wait
    /// for [`Session::release`].
    pub(super) async fn answer_host_calls(&mut self) {
        loop {
            let calls: Vec<(RequestId, Option<Result<Value, RpcError>>)> = {
                let record = self.record();
                let new = &record.entries[self.seen.min(record.entries.len())..];
                new.iter()
                    .filter_map(|e| match (&e.side, &e.kind) {
                        (Side::Backend, Kind::Request { id, method, params }) => {
                            Some((id.clone(), self.host.answer(method, params.as_ref())))
                        }
                        _ => None,
                    })
                    .collect()
            };
            let seen = self.record().entries.len();
            self.seen = seen;
            if calls.is_empty() || self.stdin.is_none() {
                return;
            }
            for (id, answer) in calls {
                match answer {
                    Some(result) => self.answer_call(id, result).await,
                    None => self.held.push(id),
                }
            }
        }
    }

    async fn answer_call(&mut self, id: RequestId, result: Result<Value, RpcError>) {
        let response = Response {
            id: Some(id),
            result,
        };
        let _ = self.write(&Message::Response(response)).await;
    }

    /// Answers the calls the scripted host held with `error`; returns how many there were.
    pub async fn release(&mut self, error: RpcError) -> usize {
        let held = std::mem::take(&mut self.held);
        for id in &held {
            self.answer_call(id.clone(), Err(error.clone())).await;
        }
        held.len()
    }

    /// Whether a call is held.
    pub fn holds_calls(&self) -> bool {
        !self.held.is_empty()
    }
}
