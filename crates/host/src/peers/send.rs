//! `peers/send`: a strict A2A `message/send` to another workspace through the platform, retried
//! only when the platform surely did not act on it, with one `messageId` on every attempt; the
//! answer taken from a Message or a Task, or waited for in our own feed (`waitMs`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::normalize::normalize_part;
use molecule_protocol::a2a::{Message, MessageKind, Role};
use molecule_protocol::code::class;
use molecule_protocol::host_methods::{SendParams, SendResult};
use molecule_protocol::{Part, RpcError};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Peers;
use super::error::{Failure, from_platform};
use super::waiters::Registration;
use crate::backend::RequestScope;
use crate::platform::{A2aAnswer, Call, retry};

/// A validated `peers/send`.
struct Outgoing {
    target: Uuid,
    message_id: String,
    context_id: String,
    parts: Vec<Part>,
    wait: Option<Duration>,
}

/// Reads the params: the target must be a UUID, and exactly one of non-empty `parts` and
/// non-empty `text` is given.
fn validate(p: SendParams) -> Result<Outgoing, RpcError> {
    let target = super::parse_id("peers/send", &p.id)?;
    let parts = match (p.parts, p.text) {
        (Some(parts), None) if !parts.is_empty() => parts,
        (None, Some(text)) if !text.trim().is_empty() => vec![Part::text(text)],
        (Some(_), None) => return Err(RpcError::invalid_params("peers/send: parts is empty")),
        (None, Some(_)) => return Err(RpcError::invalid_params("peers/send: text is empty")),
        _ => {
            return Err(RpcError::invalid_params(
                "peers/send: give exactly one of parts and text",
            ));
        }
    };
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    Ok(Outgoing {
        target,
        message_id: nonempty(p.message_id).unwrap_or_else(|| Uuid::new_v4().to_string()),
        context_id: nonempty(p.context_id).unwrap_or_else(|| Uuid::new_v4().to_string()),
        parts,
        wait: p.wait_ms.filter(|ms| *ms > 0).map(Duration::from_millis),
    })
}

impl Peers {
    /// Serves one `peers/send`.
    pub(super) async fn send(
        &self,
        params: SendParams,
        scope: Option<&RequestScope>,
    ) -> Result<Value, RpcError> {
        let out = validate(params)?;
        let what = format!("peers/send to {}", out.target);
        // Registered before sending: an answer may arrive before the platform's reply does.
        let waiting = out.wait.map(|_| {
            self.waiters
                .register(&out.message_id, &out.context_id, &out.target.to_string())
        });
        let answer = self.post(&out, scope).await.map_err(|e| {
            tracing::warn!(target = %out.target, message_id = %out.message_id, "{}", e.message);
            with_message_id(e, &out.message_id)
        })?;
        let mut result = SendResult::new(out.message_id.clone(), out.context_id.clone(), false);
        match answer {
            A2aAnswer::Message(m) => result.parts = Some(parts_of(&m)),
            A2aAnswer::Task(t) => {
                result.parts = Some(task_parts(&t));
                result.state = t
                    .pointer("/status/state")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            A2aAnswer::Queued | A2aAnswer::PushAsync | A2aAnswer::BusyQueued { .. } => {
                match (waiting, out.wait) {
                    (Some(reg), Some(wait)) => {
                        result.parts = Some(self.wait(reg, wait, scope, &what, &out).await?);
                    }
                    _ => result.queued = true,
                }
            }
            A2aAnswer::RpcError {
                code: c, message, ..
            } => {
                let detail = format!("rejected: the peer answered error {c:?}: {message}");
                return Err(self.failure(&what, &out, class::REJECTED, detail));
            }
            A2aAnswer::Other(body) => {
                let mut text = body.to_string();
                text.truncate(200);
                let detail = format!("bad response: neither a message, a task nor queued: {text}");
                return Err(self.failure(&what, &out, class::BAD_RESPONSE, detail));
            }
        }
        Ok(serde_json::to_value(result).unwrap_or_default())
    }

    /// Posts the message with the retry schedule; counts the attempts for the error message.
    async fn post(
        &self,
        out: &Outgoing,
        scope: Option<&RequestScope>,
    ) -> Result<A2aAnswer, RpcError> {
        let client = self.peer_client()?;
        let policy = self.policy(scope);
        let envelope = envelope(out);
        let attempts = AtomicU32::new(0);
        let cancel = scope.map_or_else(CancellationToken::new, |r| r.cancel.clone());
        let reply = retry(Call::PostA2a, &policy, &cancel, || {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::debug!(target = %out.target, message_id = %out.message_id, attempt = n, "peers/send attempt");
            client.post_a2a(out.target, &envelope)
        })
        .await;
        let what = format!("peers/send to {}", out.target);
        reply.map(|r| r.answer).map_err(|e| {
            from_platform(
                what,
                Some(out.target.to_string()),
                &e,
                attempts.load(Ordering::Relaxed),
            )
        })
    }

    /// Waits for the answer row, up to `wait` and never past the request's deadline.
    async fn wait(
        &self,
        mut reg: Registration,
        wait: Duration,
        scope: Option<&RequestScope>,
        what: &str,
        out: &Outgoing,
    ) -> Result<Vec<Part>, RpcError> {
        let mut until = Instant::now() + wait;
        if let Some(r) = scope {
            until = until.min(Instant::from_std(r.deadline));
        }
        match tokio::time::timeout_at(until, &mut reg.rx).await {
            Ok(Ok(answer)) => Ok(answer.parts),
            _ => {
                let detail = format!(
                    "no answer within {} ms (the message was sent)",
                    wait.as_millis()
                );
                Err(self.failure(what, out, class::WAIT_TIMEOUT, detail))
            }
        }
    }

    fn failure(&self, what: &str, out: &Outgoing, class: &'static str, detail: String) -> RpcError {
        tracing::warn!(target = %out.target, message_id = %out.message_id, "{what}: {detail}");
        Failure {
            class,
            what: what.to_owned(),
            target: Some(out.target.to_string()),
            detail,
            status: None,
            retry_after_ms: None,
            message_id: Some(out.message_id.clone()),
        }
        .into_rpc()
    }
}

/// The JSON-RPC body: A2A v0.3, `kind` on the message and every part.
fn envelope(out: &Outgoing) -> Value {
    let message = Message {
        kind: MessageKind::Message,
        role: Role::User,
        message_id: out.message_id.clone(),
        context_id: Some(out.context_id.clone()),
        task_id: None,
        reference_task_ids: None,
        parts: out.parts.clone(),
        metadata: None,
        extensions: None,
    };
    json!({"jsonrpc": "2.0", "id": out.message_id, "method": "message/send",
           "params": {"message": message}})
}

fn parts_of(message: &Value) -> Vec<Part> {
    message
        .get("parts")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().filter_map(normalize_part).collect())
        .unwrap_or_default()
}

/// A task's answer: the parts of its artifacts, then of its status message.
fn task_parts(task: &Value) -> Vec<Part> {
    let mut parts: Vec<Part> = task
        .get("artifacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(parts_of)
        .collect();
    if let Some(m) = task.pointer("/status/message") {
        parts.extend(parts_of(m));
    }
    parts
}

/// Puts `messageId` into an error's data: the caller may want to look for a late answer.
fn with_message_id(mut e: RpcError, message_id: &str) -> RpcError {
    if let Some(Value::Object(data)) = &mut e.data {
        data.insert("messageId".into(), Value::from(message_id));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_protocol::code;

    #[test]
    fn exactly_one_of_parts_and_text() {
        let id = "7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24".to_owned();
        let p = |parts: Option<Vec<Part>>, text: Option<&str>| {
            let mut p = SendParams::text(id.clone(), "");
            p.parts = parts;
            p.text = text.map(str::to_owned);
            p
        };
        assert!(validate(p(None, Some("hi"))).is_ok());
        for bad in [
            p(None, None),
            p(Some(vec![Part::text("a")]), Some("b")),
            p(None, Some("  ")),
            p(Some(vec![]), None),
        ] {
            assert_eq!(
                validate(bad).err().map(|e| e.code),
                Some(code::INVALID_PARAMS)
            );
        }
        let bad_id = SendParams::text("../../etc", "x");
        assert_eq!(
            validate(bad_id).err().map(|e| e.code),
            Some(code::INVALID_PARAMS)
        );
    }

    #[test]
    fn a_task_answers_with_artifacts_then_its_status_message() {
        let task = json!({"kind": "task", "status": {"state": "completed",
            "message": {"parts": [{"kind": "text", "text": "done"}]}},
            "artifacts": [{"parts": [{"kind": "text", "text": "a1"}]}]});
        assert_eq!(
            task_parts(&task),
            vec![Part::text("a1"), Part::text("done")]
        );
    }
}
