//! Taking rows in: admission by the ledger (a row already settled or being handled is dropped),
//! the claim decision the shell passes in, classification, and routing to the upload, delivery
//! or reply path; and settling a row, with its one log line.

use std::time::Instant;

use molecule_protocol::a2a::Message as A2aMessage;
use molecule_protocol::{Sender, SenderKind};

use crate::platform::{ActivityRow, ReplyBody};

use super::super::super::feed::Fetched;
use super::super::super::health::Failure;
use super::super::super::inbound::{Class, Inbound, ReplyTo, Upload, classify};
use super::super::super::state::{Admit, RowKey};
use super::super::reply_body::error_parts;
use super::{Command, Core};

/// A row being handled.
pub(super) struct Row {
    pub key: RowKey,
    pub fetched: Instant,
    /// How the sender is named in logs.
    pub sender: String,
    pub conversation: String,
    pub job: Job,
}

/// Where a row is.
pub(super) enum Job {
    /// Waiting for, or with, the backend.
    Deliver(Box<Inbound>),
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

impl Core {
    /// Takes in rows from the poller at `now`. `claim` is asked once about each new row: `true`
    /// means someone else (a waiting peer call) takes it, and it is settled as it is.
    pub fn take(
        &mut self,
        fetched: Fetched,
        now: Instant,
        claim: &mut dyn FnMut(&ActivityRow) -> bool,
    ) -> Vec<Command> {
        self.now = now;
        if self.draining {
            // Nothing new starts; the rows stay on the platform for the next start.
            return self.end_step();
        }
        for key in &fetched.missing {
            self.ledger.drop_late(key);
        }
        for (key, row) in fetched.rows {
            let admit = if fetched.late {
                self.ledger.admit_late(&key)
            } else {
                self.ledger.admit(&key)
            };
            if admit == Admit::Known {
                continue;
            }
            if fetched.late {
                tracing::info!(row = %key.id, "found a row the platform made visible after the cursor had passed it");
            }
            if claim(&row) {
                tracing::debug!(row = %key.id, "row claimed by a waiting call");
                self.ledger.settle(&key);
                continue;
            }
            self.route(key, &row);
        }
        if let Some(head) = &fetched.head {
            self.ledger.fetched_through(head);
        }
        self.end_step()
    }

    fn route(&mut self, key: RowKey, row: &ActivityRow) {
        match classify(row, self.rules.own, self.rules.delivery.hop_limit) {
            Class::Skip(why) => {
                tracing::debug!(row = %key.id, "not for the backend: {why}");
                self.ledger.settle(&key);
            }
            Class::Upload(upload) => self.route_upload(key, upload),
            Class::Invalid {
                reason,
                reply_text,
                sender,
                conversation,
                reply_to,
            } => {
                tracing::warn!(row = %key.id, "cannot read this message: {reason}");
                let inbound = Inbound {
                    message: placeholder(&row.id),
                    sender,
                    conversation,
                    reply_to,
                    in_reply_to: None,
                    hops: 0,
                    foreign: false,
                    suppressed: false,
                    paused: false,
                };
                let id = key.id.clone();
                self.add_row(key, inbound.clone());
                let detail = format!("unreadable message: {reason}");
                let error = Some(Failure::elsewhere("an unreadable message", detail));
                self.answer_error(&id, &inbound, Some(reply_text), "unreadable", error);
            }
            Class::Message(mut inbound) => {
                self.guard_loops(&key.id, &mut inbound);
                let (id, conversation) = (key.id.clone(), inbound.conversation.clone());
                self.add_row(key, *inbound);
                // Uploads are saved before any later message goes out, so its file parts can
                // point at the local copies.
                if self.uploads_running > 0 {
                    self.held.push_back(id);
                } else {
                    self.queue.push(&conversation, id);
                }
            }
        }
    }

    fn route_upload(&mut self, key: RowKey, upload: Upload) {
        if self.ledger.upload(&upload.uri).is_some() {
            self.ledger.settle(&key);
            return;
        }
        let id = key.id.clone();
        let row = Row {
            key,
            fetched: self.now,
            sender: "canvas".into(),
            conversation: String::new(),
            job: Job::Upload(upload.clone()),
        };
        self.rows.insert(id.clone(), row);
        self.uploads_running += 1;
        self.out.push(Command::Download { id, upload });
    }

    fn add_row(&mut self, key: RowKey, inbound: Inbound) {
        let row = Row {
            fetched: self.now,
            sender: label(&inbound.sender),
            conversation: inbound.conversation.clone(),
            job: Job::Deliver(Box::new(inbound)),
            key,
        };
        self.rows.insert(row.key.id.clone(), row);
    }

    /// Queues the error reply of a row (nothing is posted for a suppressed one).
    pub(super) fn answer_error(
        &mut self,
        id: &str,
        inbound: &Inbound,
        user_message: Option<&str>,
        outcome: &'static str,
        error: Option<Failure>,
    ) {
        if inbound.suppressed || inbound.reply_to == ReplyTo::Nobody {
            self.settle(id, "error_not_posted", error);
            return;
        }
        let body = self.reply_body(id, inbound, error_parts(user_message), None, true);
        self.queue_reply(id, body, outcome, error);
    }

    /// Settles row `id`: the ledger moves on, and the row's line is logged.
    pub(super) fn settle(&mut self, id: &str, outcome: &'static str, error: Option<Failure>) {
        let Some(row) = self.rows.remove(id) else {
            return;
        };
        let attempts = self.ledger.attempts(id);
        self.ledger.settle(&row.key);
        let latency = self.now.saturating_duration_since(row.fetched);
        let latency_ms = latency.as_millis() as u64;
        match &error {
            None => {
                tracing::info!(row = %id, sender = %row.sender, latency_ms, outcome, "row handled")
            }
            Some(e) => {
                tracing::warn!(row = %id, sender = %row.sender, latency_ms, outcome, attempts, error = %e.detail, "row handled with an error")
            }
        }
        self.out.push(Command::Handled {
            id: id.to_owned(),
            outcome,
            error,
            latency,
        });
    }
}

/// How a sender is named in logs: its kind, and an agent's workspace id (never content).
fn label(sender: &Sender) -> String {
    match (sender.kind, &sender.workspace_id) {
        (SenderKind::Agent, Some(id)) => format!("agent:{}", crate::logsafe::clean(id, 64)),
        (SenderKind::Agent, None) => "agent".into(),
        (SenderKind::Canvas, _) => "canvas".into(),
        (SenderKind::Other, _) => "other".into(),
    }
}

/// The message an unreadable row stands for: nothing to deliver, an id to answer.
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
