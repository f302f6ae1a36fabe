//! Delivering rows to the backend: one per conversation, `min(--concurrency, maxConcurrency)`
//! in all; retries with backoff up to the attempt limit (the count is saved); and crash
//! isolation: after a crash, every row that was in flight with it is a suspect, and suspects
//! are delivered one at a time, alone, until the one that kills the backend has used up its
//! attempts (it then gets an error reply) and the others have gone through.

use std::time::Duration;

use molecule_protocol::keys::idempotency_key;
use molecule_protocol::{DispatchContext, HandleA2aParams, HandleA2aResult};

use crate::backoff::Backoff;

use super::super::health::Failure;
use super::super::uploads::rewrite;
use super::Engine;
use super::Event;
use super::outcome::{Outcome, deliver};
use super::rows::{Delivery, Job};

impl Engine {
    /// Starts what may start: deliveries (not while draining) and replies.
    pub(super) fn schedule(&mut self) {
        if self.draining.is_none() {
            self.schedule_deliveries();
        }
        self.schedule_replies();
    }

    fn schedule_deliveries(&mut self) {
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
        let backend = self.p.sup.backend_info().capabilities.concurrency() as usize;
        let limit = (self.p.settings.delivery.concurrency as usize)
            .min(backend)
            .max(1);
        while self.running.len() < limit {
            let id = match self.retry_ready.pop_front() {
                Some(id) => id,
                None => match self.dispatch.take() {
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
        let Job::Deliver(d) = &row.job else { return };
        let mut message = d.message.clone();
        let ledger = &self.p.ledger;
        rewrite(&mut message, |uri| {
            ledger.upload(uri).map(|r| r.path.clone())
        });
        let params = HandleA2aParams {
            message,
            sender: d.sender.clone(),
            context: DispatchContext {
                activity_id: id.clone(),
                attempt: ledger.attempts(&id) + 1,
                // The supervisor writes the real deadline from its request timeout.
                deadline: String::new(),
                idempotency_key: idempotency_key(&self.p.own, &id),
                conversation_key: row.conversation.clone(),
                in_reply_to: d.in_reply_to.clone(),
                hops: d.hops,
                reply_suppressed: d.suppressed,
            },
        };
        self.running.insert(id.clone());
        let sup = self.p.sup.clone();
        let events = self.events.clone();
        let enricher = self.p.hooks.enricher.clone();
        tokio::spawn(async move {
            let mut params = params;
            if let Some(e) = enricher {
                e.enrich(&mut params.sender).await;
            }
            let outcome = deliver(&sup, params).await;
            let _ = events.send(Event::Delivered { id, outcome });
        });
    }

    pub(super) fn on_delivered(&mut self, id: String, outcome: Outcome) {
        self.running.remove(&id);
        let Some(conversation) = self.rows.get(&id).map(|r| r.conversation.clone()) else {
            return;
        };
        if let Outcome::Retry {
            after,
            failure,
            crashed,
            user_message,
        } = outcome
        {
            return self.retry(id, after, failure, crashed, user_message);
        }
        self.dispatch.release(&conversation);
        self.suspects.retain(|s| *s != id);
        match outcome {
            Outcome::Answered(result) => self.answered(&id, result),
            Outcome::Failed {
                user_message,
                failure,
            } => {
                if let Some(d) = self.take_delivery(&id) {
                    self.answer_error(
                        &id,
                        &d,
                        user_message.as_deref(),
                        "error_reply",
                        Some(failure),
                    );
                }
            }
            Outcome::Abandoned | Outcome::Retry { .. } => {
                // Shutting down: the row stays unsettled and comes back after a restart.
                self.rows.remove(&id);
            }
        }
    }

    fn answered(&mut self, id: &str, result: HandleA2aResult) {
        let Some(d) = self.take_delivery(id) else {
            return;
        };
        if d.suppressed {
            self.settle(id, "reply_suppressed_at_hop_limit", None);
        } else if result.parts.is_empty() {
            self.settle(id, "no_reply", None);
        } else if d.reply_to == super::super::inbound::ReplyTo::Nobody {
            self.settle(id, "sender_cannot_be_answered", None);
        } else {
            let body = self.reply_body(id, &d, result.parts, result.metadata, false);
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
        let attempts = self.p.ledger.attempts(&id) + 1;
        self.p.ledger.set_attempts(&id, attempts);
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
        let max = self.p.settings.delivery.max_attempts;
        if attempts >= max {
            self.suspects.retain(|s| *s != id);
            if let Some(conversation) = self.rows.get(&id).map(|r| r.conversation.clone()) {
                self.dispatch.release(&conversation);
            }
            if let Some(d) = self.take_delivery(&id) {
                let detail = format!("{attempts} deliveries failed; the last: {}", failure.detail);
                let error = Failure::new(failure.summary.clone(), detail);
                self.answer_error(
                    &id,
                    &d,
                    user_message.as_deref(),
                    "error_reply_after_retries",
                    Some(error),
                );
            }
            return;
        }
        tracing::warn!(row = %id, attempt = attempts, max_attempts = max, "delivery failed ({}); it will be delivered again", failure.detail);
        if crashed {
            self.retry_ready.push_back(id);
            return;
        }
        let t = &self.p.settings.timers;
        let delay = Backoff::new(t.retry_base, t.retry_max)
            .nominal(attempts - 1)
            .max(after.unwrap_or_default());
        let events = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = events.send(Event::RetryDue { id });
        });
    }

    pub(super) fn on_retry_due(&mut self, id: String) {
        if self.draining.is_none() && self.rows.contains_key(&id) {
            self.retry_ready.push_back(id);
        }
    }

    /// Takes the delivery out of a row that is about to be answered or settled.
    pub(super) fn take_delivery(&mut self, id: &str) -> Option<Box<Delivery>> {
        let row = self.rows.get_mut(id)?;
        match std::mem::replace(&mut row.job, Job::Settling) {
            Job::Deliver(d) => Some(d),
            other => {
                row.job = other;
                None
            }
        }
    }
}
