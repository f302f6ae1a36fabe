//! Taking rows in: admission by the ledger, the interceptor hook, classification, and routing
//! to the upload, dispatch or reply path; and settling them, with the one log line per row.

use molecule_protocol::a2a::Message as A2aMessage;
use molecule_protocol::{Sender, SenderKind};
use tokio::time::Instant;

use crate::platform::ActivityRow;

use super::super::feed::Batch;
use super::super::health::Failure;
use super::super::inbound::{Class, Inbound, ReplyTo, Upload, classify};
use super::super::state::{Admit, RowKey};
use super::Engine;
use super::reply_body::{Answering, UNREADABLE, error_parts};
use crate::platform::ReplyBody;

/// A row being handled.
pub(super) struct Row {
    pub key: RowKey,
    pub fetched: Instant,
    pub sender: String,
    pub conversation: String,
    pub job: Job,
}

/// Where a row is.
pub(super) enum Job {
    /// Waiting for, or with, the backend.
    Deliver(Box<Delivery>),
    /// Being downloaded.
    Upload(Upload),
    /// Its reply waits for, or is in, a POST; `outcome` is logged when it settles.
    Reply {
        body: ReplyBody,
        outcome: &'static str,
        error: Option<Failure>,
    },
    /// Answered; its reply is being built.
    Settling,
}

/// A message for the backend.
#[derive(Clone)]
pub(super) struct Delivery {
    pub message: A2aMessage,
    pub sender: Sender,
    pub reply_to: ReplyTo,
    pub in_reply_to: Option<String>,
    pub hops: u32,
    pub suppressed: bool,
}

impl Delivery {
    pub fn answering(&self, row_id: &str) -> Answering {
        Answering {
            row_id: row_id.to_owned(),
            message_id: self.message.message_id.clone(),
            context_id: self.message.context_id.clone(),
            hops: self.hops,
        }
    }
}

impl Engine {
    /// Takes in a batch from the poller.
    pub(super) fn take(&mut self, batch: Batch) {
        for key in &batch.missing {
            self.p.ledger.drop_late(key);
        }
        for (key, row) in batch.rows {
            let admit = if batch.late {
                self.p.ledger.admit_late(&key)
            } else {
                self.p.ledger.admit(&key)
            };
            if admit == Admit::Known {
                continue;
            }
            if batch.late {
                tracing::info!(row = %key.id, "found a row the platform made visible after the cursor had passed it");
            }
            self.route(key, row);
        }
        if let Some(head) = &batch.head {
            self.p.ledger.fetched_through(head);
        }
        // The poller reads the room left as soon as it hears back: publish it first.
        self.publish_load();
        let _ = batch.done.send(());
    }

    fn route(&mut self, key: RowKey, row: ActivityRow) {
        if self
            .p
            .hooks
            .interceptor
            .as_ref()
            .is_some_and(|h| h.claim(&row))
        {
            tracing::debug!(row = %key.id, "row claimed by a waiting call");
            self.p.ledger.settle(&key);
            return;
        }
        match classify(&row, self.p.own, self.p.settings.delivery.hop_limit) {
            Class::Skip(why) => {
                tracing::debug!(row = %key.id, "not for the backend: {why}");
                self.p.ledger.settle(&key);
            }
            Class::Upload(upload) => self.route_upload(key, upload),
            Class::Invalid {
                reason,
                sender,
                conversation,
                reply_to,
            } => {
                tracing::warn!(row = %key.id, "cannot read this message: {reason}");
                let delivery = Delivery {
                    message: placeholder(&row.id),
                    sender,
                    reply_to,
                    in_reply_to: None,
                    hops: 0,
                    suppressed: false,
                };
                let id = key.id.clone();
                let r = self.new_row(key, conversation, delivery.clone());
                self.rows.insert(id.clone(), r);
                let detail = format!("unreadable message: {reason}");
                let error = Some(Failure::elsewhere("an unreadable message", detail));
                self.answer_error(&id, &delivery, Some(UNREADABLE), "unreadable", error);
            }
            Class::Message(inbound) => self.route_message(key, *inbound),
        }
    }

    fn route_upload(&mut self, key: RowKey, upload: Upload) {
        if self.p.ledger.upload(&upload.uri).is_some() {
            self.p.ledger.settle(&key);
            return;
        }
        let id = key.id.clone();
        let row = Row {
            key,
            fetched: Instant::now(),
            sender: "canvas".into(),
            conversation: String::new(),
            job: Job::Upload(upload),
        };
        self.rows.insert(id.clone(), row);
        self.start_upload(&id);
    }

    fn route_message(&mut self, key: RowKey, inbound: Inbound) {
        let Inbound {
            message,
            sender,
            conversation,
            reply_to,
            in_reply_to,
            hops,
            suppressed,
        } = inbound;
        let delivery = Delivery {
            message,
            sender,
            reply_to,
            in_reply_to,
            hops,
            suppressed,
        };
        let id = key.id.clone();
        let r = self.new_row(key, conversation.clone(), delivery);
        self.rows.insert(id.clone(), r);
        // Uploads are saved before any later message goes out, so its file parts can point
        // at the local copies.
        if self.uploads_running > 0 {
            self.held.push_back(id);
        } else {
            self.dispatch.push(&conversation, id);
        }
    }

    fn new_row(&self, key: RowKey, conversation: String, delivery: Delivery) -> Row {
        Row {
            key,
            fetched: Instant::now(),
            sender: label(&delivery.sender),
            conversation,
            job: Job::Deliver(Box::new(delivery)),
        }
    }

    /// Queues the error reply of a delivery (nothing is posted for a suppressed one).
    pub(super) fn answer_error(
        &mut self,
        id: &str,
        delivery: &Delivery,
        user_message: Option<&str>,
        outcome: &'static str,
        error: Option<Failure>,
    ) {
        if delivery.suppressed || delivery.reply_to == ReplyTo::Nobody {
            self.settle(id, "error_not_posted", error);
            return;
        }
        let body = self.reply_body(id, delivery, error_parts(user_message), None, true);
        self.queue_reply(id, body, outcome, error);
    }

    /// Settles row `id`: the ledger moves on, and the row's line is logged.
    pub(super) fn settle(&mut self, id: &str, outcome: &'static str, error: Option<Failure>) {
        let Some(row) = self.rows.remove(id) else {
            return;
        };
        let attempts = self.p.ledger.attempts(id);
        self.p.ledger.settle(&row.key);
        let latency_ms = row.fetched.elapsed().as_millis() as u64;
        match &error {
            None => {
                tracing::info!(row = %id, sender = %row.sender, latency_ms, outcome, "row handled")
            }
            Some(e) => {
                tracing::warn!(row = %id, sender = %row.sender, latency_ms, outcome, attempts, error = %e.detail, "row handled with an error")
            }
        }
        self.p.health.record(error.as_ref());
    }
}

/// How a sender is named in logs: its kind, and an agent's workspace id (never content).
fn label(sender: &Sender) -> String {
    match (sender.kind, &sender.workspace_id) {
        (SenderKind::Agent, Some(id)) => format!("agent:{id}"),
        (SenderKind::Agent, None) => "agent".into(),
        (SenderKind::Canvas, _) => "canvas".into(),
        (SenderKind::Other, _) => "other".into(),
    }
}

fn placeholder(row_id: &str) -> A2aMessage {
    A2aMessage {
        kind: Default::default(),
        role: molecule_protocol::Role::User,
        message_id: format!("unreadable:{row_id}"),
        context_id: None,
        task_id: None,
        reference_task_ids: None,
        parts: Vec::new(),
        metadata: None,
        extensions: None,
    }
}
