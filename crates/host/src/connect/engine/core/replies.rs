//! The reply lanes and the uploads. Replies are posted apart from deliveries: a row's backend
//! slot is free as soon as the backend answers, and each conversation's replies go out in
//! order. Two lanes: canvas replies, at most `reply_concurrency` POSTs at once; and replies to
//! agents, with no cap of their own (the window of unsettled rows bounds them), because a POST
//! to a push-mode agent lasts that agent's whole turn, and a few of those must not hold back
//! every other reply. A row settles when its reply is accepted, refused for good, or may have
//! reached a push-mode agent (never posted twice). Uploads hold back every later message until
//! they are saved.

use molecule_protocol::a2a::{Object, Part};

use crate::platform::{Posted, ReplyBody};

use super::super::super::health::Failure;
use super::super::super::inbound::{Inbound, ReplyTo};
use super::super::super::state::UploadRecord;
use super::super::reply_body::{Answering, agent_envelope, canvas_message};
use super::intake::Job;
use super::{Command, Core, Lane};

impl Core {
    /// The body answering `inbound` (row `id`) with `parts`.
    pub(super) fn reply_body(
        &self,
        id: &str,
        inbound: &Inbound,
        parts: Vec<Part>,
        metadata: Option<Object>,
        error: bool,
    ) -> ReplyBody {
        match inbound.reply_to {
            ReplyTo::Agent(target) => {
                let answering = Answering {
                    row_id: id.to_owned(),
                    message_id: inbound.message.message_id.clone(),
                    context_id: inbound.message.context_id.clone(),
                    hops: inbound.hops,
                };
                let envelope = agent_envelope(self.rules.own, &answering, parts, metadata, error);
                ReplyBody::Agent { target, envelope }
            }
            ReplyTo::Canvas | ReplyTo::Nobody => {
                let (message, attachments) = canvas_message(&parts);
                ReplyBody::Canvas {
                    message,
                    attachments,
                }
            }
        }
    }

    /// Queues a reply behind the earlier replies of its conversation, in its lane.
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
        let lane = match body {
            ReplyBody::Agent { .. } => Lane::Agents,
            ReplyBody::Canvas { .. } => Lane::Canvas,
        };
        row.job = Job::Reply {
            body,
            outcome,
            error,
        };
        let conversation = row.conversation.clone();
        self.lane_mut(lane).queue.push(&conversation, id.to_owned());
    }

    /// Starts replies while there is room: canvas replies up to `reply_concurrency`, replies
    /// to agents all.
    pub(super) fn schedule_replies(&mut self) {
        let canvas_cap = self.rules.reply_concurrency;
        for lane in [Lane::Canvas, Lane::Agents] {
            while !self.replies_stopped
                && (lane == Lane::Agents || self.canvas.posting < canvas_cap)
            {
                let Some((conversation, id)) = self.lane_mut(lane).queue.take() else {
                    break;
                };
                let Some(Job::Reply { body, .. }) = self.rows.get(&id).map(|r| &r.job) else {
                    self.lane_mut(lane).queue.release(&conversation);
                    continue;
                };
                let body = body.clone();
                self.lane_mut(lane).posting += 1;
                self.out.push(Command::Post { id, lane, body });
            }
        }
    }

    pub(super) fn on_posted(&mut self, id: String, lane: Lane, result: Posted) {
        let queue = self.lane_mut(lane);
        queue.posting -= 1;
        let Some(row) = self.rows.get(&id) else {
            return;
        };
        let conversation = row.conversation.clone();
        let (outcome, error) = match &row.job {
            Job::Reply { outcome, error, .. } => (*outcome, error.clone()),
            _ => ("replied", None),
        };
        self.lane_mut(lane).queue.release(&conversation);
        match result {
            Posted::Delivered => self.settle(&id, outcome, error),
            Posted::Refused { status, reason } => {
                tracing::error!(row = %id, status = status.unwrap_or(0), "the platform refused the reply for good: {reason}");
                let summary = format!("a reply was refused (HTTP {})", status.unwrap_or(0));
                let error = Failure::elsewhere(summary, reason);
                self.settle(&id, "reply_refused", Some(error));
            }
            Posted::Unconfirmed { reason } => {
                tracing::warn!(row = %id, "a reply to an agent may have reached it, so it is not posted again (a push-mode agent would get it twice): {reason}");
                let summary = "a reply to an agent was not confirmed";
                let error = Failure::elsewhere(summary, reason);
                self.settle(&id, "reply_unconfirmed", Some(error));
            }
            Posted::Abandoned => {
                // Shutting down: the row stays unsettled and is answered after a restart.
                self.rows.remove(&id);
            }
        }
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
                self.ledger.record_upload(uri, record);
            }
            Err(e) => {
                tracing::warn!(row = %id, "a canvas upload could not be downloaded; the message keeps its platform-pending URI: {e}")
            }
        }
        self.settle(&id, "upload", None);
        if self.uploads_running == 0 {
            for held in std::mem::take(&mut self.held) {
                if let Some(conversation) = self.rows.get(&held).map(|r| r.conversation.clone()) {
                    self.queue.push(&conversation, held);
                }
            }
        }
    }
}
