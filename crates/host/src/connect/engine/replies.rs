//! The reply stage and the uploads. Replies are posted apart from dispatch: a row's backend
//! slot is free as soon as the backend answers, and each conversation's replies go out in
//! order. Two lanes: canvas replies, at most `reply_concurrency` POSTs at once; and replies to
//! agents, with no cap of their own (the window of unsettled rows bounds them), because a POST
//! to a push-mode agent lasts that agent's whole turn, and a few of those must not hold back
//! every other reply. A row settles when its reply is accepted, refused for good, or may have
//! reached a push-mode agent (never posted twice). Uploads hold back every later message until
//! they are saved.

use molecule_protocol::a2a::{Object, Part};

use super::super::health::Failure;
use super::super::inbound::ReplyTo;
use super::super::state::UploadRecord;
use super::super::uploads;
use super::reply_body::{agent_envelope, canvas_message};
use super::rows::{Delivery, Job};
use super::{Engine, Event, Posted};
use crate::platform::{ReplyBody, post};

impl Engine {
    /// The body answering `delivery` with `parts`.
    pub(super) fn reply_body(
        &self,
        id: &str,
        delivery: &Delivery,
        parts: Vec<Part>,
        metadata: Option<Object>,
        error: bool,
    ) -> ReplyBody {
        match delivery.reply_to {
            ReplyTo::Agent(target) => ReplyBody::Agent {
                target,
                envelope: agent_envelope(
                    self.p.own,
                    &delivery.answering(id),
                    parts,
                    metadata,
                    error,
                ),
            },
            ReplyTo::Canvas | ReplyTo::Nobody => {
                let (message, attachments) = canvas_message(&parts);
                ReplyBody::Canvas {
                    message,
                    attachments,
                }
            }
        }
    }

    /// Queues a reply behind the earlier replies of its conversation.
    pub(super) fn queue_reply(
        &mut self,
        id: &str,
        body: ReplyBody,
        outcome: &'static str,
        error: Option<Failure>,
    ) {
        let Some(row) = self.rows.get_mut(id) else {
            return;
        };
        row.job = Job::Reply {
            body,
            outcome,
            error,
        };
        let conversation = row.conversation.clone();
        let to_agent = matches!(
            row.job,
            Job::Reply {
                body: ReplyBody::Agent { .. },
                ..
            }
        );
        self.replies
            .lane_mut(to_agent)
            .queue
            .push(&conversation, id.to_owned());
    }

    /// Starts replies while there is room: canvas replies up to `reply_concurrency`, replies
    /// to agents all.
    pub(super) fn schedule_replies(&mut self) {
        let canvas_cap = self.p.settings.timers.reply_concurrency;
        for to_agent in [false, true] {
            while !self.stop_replies.is_cancelled()
                && (to_agent || self.replies.canvas.posting < canvas_cap)
            {
                let lane = self.replies.lane_mut(to_agent);
                let Some((conversation, id)) = lane.queue.take() else {
                    break;
                };
                let Some(Job::Reply { body, .. }) = self.rows.get(&id).map(|r| &r.job) else {
                    lane.queue.release(&conversation);
                    continue;
                };
                lane.posting += 1;
                let (client, body, policy) =
                    (self.p.client.clone(), body.clone(), self.retry.clone());
                let (cancel, events) = (self.stop_replies.clone(), self.events.clone());
                tokio::spawn(async move {
                    let result = post(&client, &body, &policy, &cancel).await;
                    let _ = events.send(Event::Posted {
                        id,
                        to_agent,
                        result,
                    });
                });
            }
        }
    }

    pub(super) fn on_posted(&mut self, id: String, to_agent: bool, result: Posted) {
        let lane = self.replies.lane_mut(to_agent);
        lane.posting -= 1;
        let Some(row) = self.rows.get(&id) else {
            return;
        };
        lane.queue.release(&row.conversation);
        let (outcome, error) = match &row.job {
            Job::Reply { outcome, error, .. } => (*outcome, error.clone()),
            _ => ("replied", None),
        };
        match result {
            Posted::Delivered => self.settle(&id, outcome, error),
            Posted::Refused { status, reason } => {
                tracing::error!(row = %id, status = status.unwrap_or(0), "the platform refused the reply for good: {reason}");
                let summary = format!("a reply was refused (HTTP {})", status.unwrap_or(0));
                self.settle(
                    &id,
                    "reply_refused",
                    Some(Failure::elsewhere(summary, reason)),
                );
            }
            Posted::Unconfirmed { reason } => {
                tracing::warn!(row = %id, "a reply to an agent may have reached it, so it is not posted again (a push-mode agent would get it twice): {reason}");
                let summary = "a reply to an agent was not confirmed";
                self.settle(
                    &id,
                    "reply_unconfirmed",
                    Some(Failure::elsewhere(summary, reason)),
                );
            }
            Posted::Abandoned => {
                // Shutting down: the row stays unsettled and is answered after a restart.
                self.rows.remove(&id);
            }
        }
    }

    /// Starts downloading the upload of row `id`.
    pub(super) fn start_upload(&mut self, id: &str) {
        let Some(Job::Upload(upload)) = self.rows.get(id).map(|r| &r.job) else {
            return;
        };
        self.uploads_running += 1;
        let (client, upload, policy) = (self.p.client.clone(), upload.clone(), self.retry.clone());
        let (dir, cancel, events) = (
            self.p.uploads_dir.clone(),
            self.stop_replies.clone(),
            self.events.clone(),
        );
        let id = id.to_owned();
        tokio::spawn(async move {
            let result = uploads::fetch(&client, &dir, &upload, &policy, &cancel).await;
            let _ = events.send(Event::Uploaded { id, result });
        });
    }

    pub(super) fn on_uploaded(&mut self, id: String, result: Result<UploadRecord, String>) {
        self.uploads_running -= 1;
        let uri = match self.rows.get(&id).map(|r| &r.job) {
            Some(Job::Upload(u)) => u.uri.clone(),
            _ => String::new(),
        };
        match result {
            Ok(record) => {
                tracing::debug!(row = %id, path = %record.path.display(), "canvas upload saved");
                self.p.ledger.record_upload(uri, record);
            }
            Err(e) => {
                tracing::warn!(row = %id, "a canvas upload could not be downloaded; the message keeps its platform-pending URI: {e}")
            }
        }
        self.settle(&id, "upload", None);
        if self.uploads_running == 0 {
            for held in std::mem::take(&mut self.held) {
                if let Some(conversation) = self.rows.get(&held).map(|r| r.conversation.clone()) {
                    self.dispatch.push(&conversation, held);
                }
            }
        }
    }

    /// Forgets uploads past the retention period and deletes their files.
    pub(super) fn expire_uploads(&mut self) {
        let retention = self.p.settings.timers.upload_retention;
        let cutoff = uploads::now_secs().saturating_sub(retention.as_secs());
        let expired = self.p.ledger.expire_uploads(cutoff).len();
        let dir = self.p.uploads_dir.clone();
        tokio::task::spawn_blocking(move || {
            let deleted = uploads::sweep(&dir, retention);
            if deleted + expired > 0 {
                tracing::info!(deleted, "deleted canvas uploads past the retention period");
            }
        });
    }
}
