//! Delivering rows to the backend: one per conversation, `min(--concurrency, maxConcurrency)`
//! in all; retries with backoff up to the attempt limit (the count is saved in the ledger, so
//! it survives a restart); and crash isolation: after a crash, every row that was in flight
//! with it is a suspect, and suspects are delivered one at a time, alone, until the one that
//! kills the backend has used up its attempts (it then gets an error reply) and the others have
//! gone through.
//!
//! While the backend's crash-loop breaker is open nothing is delivered; a delivery the backend
//! could not take because the breaker opened under it is parked, with no attempt spent, and
//! goes out again once the breaker closes.

use std::path::PathBuf;
use std::time::Duration;

use molecule_protocol::a2a::{Message, Part};
use molecule_protocol::keys::idempotency_key;
use molecule_protocol::{DispatchContext, HandleA2aParams, HandleA2aResult};
use uuid::Uuid;

use crate::backoff::Backoff;

use super::super::super::health::Failure;
use super::super::super::inbound::{Inbound, ReplyTo};
use super::super::super::state::Ledger;
use super::super::outcome::Outcome;
use super::intake::Job;
use super::{Command, Core, Delivery};

impl Core {
    /// Starts what may start: deliveries (not while draining, nor while the breaker is open)
    /// and replies.
    pub(super) fn schedule(&mut self) {
        if !self.draining && !self.backend.breaker_open {
            self.schedule_deliveries();
        }
        self.schedule_replies();
    }

    fn schedule_deliveries(&mut self) {
        // Parked rows had their turn (and a slot) when the breaker opened under them.
        for id in std::mem::take(&mut self.parked) {
            self.start(id);
        }
        if !self.suspects.is_empty() {
            if self.running.is_empty() {
                let ready = self
                    .suspects
                    .iter()
                    .find(|s| self.retry_ready.contains(s))
                    .cloned();
                if let Some(id) = ready {
                    self.retry_ready.retain(|r| *r != id);
                    self.start(id);
                }
            }
            return;
        }
        let limit = self
            .rules
            .delivery
            .concurrency
            .min(self.backend.concurrency)
            .max(1) as usize;
        while self.running.len() < limit {
            let id = match self.retry_ready.pop_front() {
                Some(id) => id,
                None => match self.queue.take() {
                    Some((_, id)) => id,
                    None => break,
                },
            };
            self.start(id);
        }
    }

    fn start(&mut self, id: String) {
        let Some(row) = self.rows.get(&id) else {
            return;
        };
        let Job::Deliver(inbound) = &row.job else {
            return;
        };
        let attempt = self.ledger.attempts(&id) + 1;
        let params = handle_a2a_params(self.rules.own, &id, attempt, inbound);
        let local_copies = local_copies(&params.message, &self.ledger);
        self.running.insert(id.clone());
        self.out.push(Command::Deliver(Box::new(Delivery {
            id,
            params,
            local_copies,
        })));
    }

    pub(super) fn on_delivered(&mut self, id: String, outcome: Outcome) {
        self.running.remove(&id);
        let Some(conversation) = self.rows.get(&id).map(|r| r.conversation.clone()) else {
            return;
        };
        match outcome {
            Outcome::Retry {
                after,
                failure,
                crashed,
                user_message,
            } => return self.retry(id, after, failure, crashed, user_message),
            Outcome::BreakerOpen if !self.draining => return self.parked.push(id),
            // The backend went away under the call while the host is not stopping (its reply
            // channel closed as it crashed or restarted). Dropping the row here would leave it
            // unsettled with nothing to deliver it again: the cursor could never pass it and
            // every later message would wait until a restart.
            Outcome::Abandoned if !self.draining => {
                let failure = Failure::new(
                    "the backend stopped before it answered",
                    "the backend stopped before it answered the request",
                );
                return self.retry(id, None, failure, true, None);
            }
            _ => {}
        }
        self.queue.release(&conversation);
        self.suspects.retain(|s| *s != id);
        match outcome {
            Outcome::Answered(result) => self.answered(&id, result),
            Outcome::Failed {
                user_message,
                failure,
            } => {
                if let Some(inbound) = self.take_inbound(&id) {
                    let user_message = user_message.as_deref();
                    self.answer_error(&id, &inbound, user_message, "error_reply", Some(failure));
                }
            }
            Outcome::Abandoned | Outcome::BreakerOpen | Outcome::Retry { .. } => {
                // Shutting down: the row stays unsettled and comes back after a restart.
                self.rows.remove(&id);
            }
        }
    }

    fn answered(&mut self, id: &str, result: HandleA2aResult) {
        let Some(inbound) = self.take_inbound(id) else {
            return;
        };
        if inbound.paused {
            self.settle(id, "reply_suppressed_reply_loop", None);
        } else if inbound.suppressed {
            self.settle(id, "reply_suppressed_at_hop_limit", None);
        } else if result.parts.is_empty() {
            self.settle(id, "no_reply", None);
        } else if inbound.reply_to == ReplyTo::Nobody {
            self.settle(id, "sender_cannot_be_answered", None);
        } else {
            let body = self.reply_body(id, &inbound, result.parts, result.metadata, false);
            self.queue_reply(id, body, "replied", None);
        }
    }

    fn retry(
        &mut self,
        id: String,
        after: Option<Duration>,
        failure: Failure,
        crashed: bool,
        user_message: Option<String>,
    ) {
        let attempts = self.ledger.attempts(&id) + 1;
        self.ledger.set_attempts(&id, attempts);
        if crashed {
            let others: Vec<String> = self
                .running
                .iter()
                .filter(|r| !self.suspects.contains(r))
                .cloned()
                .collect();
            self.suspects.extend(others);
            self.suspects.retain(|s| *s != id);
            self.suspects.push_back(id.clone());
        }
        let max = self.rules.delivery.max_attempts;
        if attempts >= max {
            return self.give_up(&id, attempts, &failure, user_message);
        }
        tracing::warn!(row = %id, attempt = attempts, max_attempts = max, "delivery failed ({}); it will be delivered again", failure.detail);
        if crashed {
            self.retry_ready.push_back(id);
            return;
        }
        let delay = Backoff::new(self.rules.retry_base, self.rules.retry_max)
            .nominal(attempts - 1)
            .max(after.unwrap_or_default());
        // The backend's retryAfterMs may be anything up to 2^64 ms.
        let at = crate::backoff::later(self.now, delay);
        self.out.push(Command::RetryAt { id, at });
    }

    /// The attempts ran out: an error reply, and the conversation moves on.
    fn give_up(
        &mut self,
        id: &str,
        attempts: u32,
        failure: &Failure,
        user_message: Option<String>,
    ) {
        self.suspects.retain(|s| s != id);
        if let Some(conversation) = self.rows.get(id).map(|r| r.conversation.clone()) {
            self.queue.release(&conversation);
        }
        if let Some(inbound) = self.take_inbound(id) {
            let detail = format!("{attempts} deliveries failed; the last: {}", failure.detail);
            let error = Failure::new(failure.summary.clone(), detail);
            let outcome = "error_reply_after_retries";
            self.answer_error(id, &inbound, user_message.as_deref(), outcome, Some(error));
        }
    }

    pub(super) fn on_retry_due(&mut self, id: String) {
        if !self.draining && self.rows.contains_key(&id) {
            self.retry_ready.push_back(id);
        }
    }

    /// Takes the message out of a row that is about to be answered or settled.
    fn take_inbound(&mut self, id: &str) -> Option<Box<Inbound>> {
        let row = self.rows.get_mut(id)?;
        match std::mem::replace(&mut row.job, Job::Settling) {
            Job::Deliver(inbound) => Some(inbound),
            other => {
                row.job = other;
                None
            }
        }
    }
}

/// The params of one delivery of row `id`: the one place the engine builds them. The deadline
/// is left for the supervisor, which alone writes it (it owns the request timeout and knows
/// when the request is sent).
fn handle_a2a_params(own: Uuid, id: &str, attempt: u32, inbound: &Inbound) -> HandleA2aParams {
    let mut context = DispatchContext::new(
        id,
        attempt,
        String::new(),
        idempotency_key(&own, id),
        inbound.conversation.clone(),
    )
    .with_hops(inbound.hops)
    .with_reply_suppressed(inbound.suppressed);
    context.in_reply_to = inbound.in_reply_to.clone();
    HandleA2aParams::new(inbound.message.clone(), inbound.sender.clone(), context)
}

/// The saved copies of the `platform-pending:` files `message` refers to.
fn local_copies(message: &Message, ledger: &Ledger) -> Vec<(String, PathBuf)> {
    message
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::File { file, .. } => file.uri.as_deref(),
            _ => None,
        })
        .filter(|uri| uri.starts_with("platform-pending:"))
        .filter_map(|uri| Some((uri.to_owned(), ledger.upload(uri)?.path.clone())))
        .collect()
}
