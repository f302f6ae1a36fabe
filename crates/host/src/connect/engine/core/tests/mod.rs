//! Tests of the core, without tasks, processes or clocks. [`Sim`] plays everything around it:
//! the platform's feed and the poller (rows after the poll position, as much as the window
//! takes), the backend (the test answers each delivery), the platform's replies, the retry
//! timers and the state file (the last snapshot the core submitted). A host crash is a new
//! core built from that snapshot, as `molecule connect` builds it after a `kill -9`.

mod deliveries;
mod loops;
mod props;
mod restarts;
mod settling;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use molecule_protocol::HandleA2aResult;
use molecule_protocol::a2a::Part;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::platform::{ActivityRow, Posted, ReplyBody};

use super::super::super::feed::Fetched;
use super::super::super::health::Failure;
use super::super::super::inbound::Upload;
use super::super::super::settings::DeliverySettings;
use super::super::super::state::{Ledger, RowKey, StateFile};
use super::super::outcome::Outcome;
use super::{Backend, Command, Core, Delivery, Input, Lane, Load, Rules};

pub const OWN: &str = "11111111-2222-4333-8444-555555555555";
pub const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const PEER2: &str = "aaaaaaaa-0000-4000-8000-000000000002";

/// The rules the tests start from: 4 at once, 3 attempts, hop limit 4.
pub fn rules() -> Rules {
    Rules {
        own: Uuid::parse_str(OWN).expect("uuid"),
        delivery: DeliverySettings {
            concurrency: 4,
            max_attempts: 3,
            hop_limit: 4,
            foreign_limit: 0,
            foreign_cooldown: Duration::from_secs(600),
        },
        window: 100,
        reply_concurrency: 2,
        retry_base: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
        drain: Duration::from_secs(5),
    }
}

/// The id of row number `n`.
pub fn id(n: u32) -> String {
    format!("r{n:03}")
}

/// Row `n` of the feed, from `fields` over an inbound message's defaults.
fn row(n: u32, fields: Value) -> ActivityRow {
    let mut base = json!({"id": id(n), "activity_type": "a2a_receive", "method": "message/send",
        "created_at": format!("2026-05-06T06:42:{:02}.{:06}Z", n / 1000, n % 1000), "seq": n});
    if let (Some(b), Some(f)) = (base.as_object_mut(), fields.as_object()) {
        b.extend(f.clone());
    }
    ActivityRow::from_value(base).expect("row")
}

fn message(text: &str, context: &str, metadata: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "message/send", "params": {"message": {
        "role": "user", "messageId": format!("m-{text}"), "contextId": context,
        "parts": [{"kind": "text", "text": text}], "metadata": metadata}}})
}

/// A message from agent `peer` in conversation `context`.
pub fn agent(n: u32, peer: &str, context: &str, text: &str) -> ActivityRow {
    row(
        n,
        json!({"source_id": peer, "request_body": message(text, context, json!({}))}),
    )
}

/// An automatic reply `hops` deep from agent `peer`.
pub fn agent_reply(n: u32, peer: &str, hops: u32) -> ActivityRow {
    let meta = json!({"molecule": {"inReplyTo": "theirs", "hops": hops}});
    row(
        n,
        json!({"source_id": peer, "request_body": message("auto", "c", meta)}),
    )
}

/// A message typed in the canvas, in conversation `context`.
pub fn canvas(n: u32, context: &str, text: &str) -> ActivityRow {
    row(
        n,
        json!({"request_body": message(text, context, json!({}))}),
    )
}

/// The backend's answer: one text part.
pub fn text(t: &str) -> Outcome {
    Outcome::Answered(HandleA2aResult::new(vec![Part::text(t)]))
}

/// A failure worth another delivery; `crashed` when the backend died with the row.
pub fn retry(crashed: bool) -> Outcome {
    Outcome::Retry {
        after: None,
        failure: Failure::new("the backend failed", "the backend failed: test"),
        crashed,
        user_message: None,
    }
}

/// A failure another delivery cannot fix.
pub fn failed(user_message: Option<&str>) -> Outcome {
    Outcome::Failed {
        user_message: user_message.map(str::to_owned),
        failure: Failure::new("the backend refused", "the backend refused: test"),
    }
}

/// Everything around one core.
pub struct Sim {
    pub core: Core,
    pub rules: Rules,
    pub now: Instant,
    /// The platform's feed, in order.
    pub feed: Vec<(RowKey, ActivityRow)>,
    /// Where the poll goes on from.
    fetch_pos: Option<RowKey>,
    /// Deliveries with the backend, oldest first.
    pub deliveries: Vec<Delivery>,
    /// Reply POSTs running.
    pub posts: Vec<(String, Lane, ReplyBody)>,
    /// Retry timers set.
    pub retries: Vec<(String, Instant)>,
    /// Downloads running.
    pub downloads: Vec<(String, Upload)>,
    /// The state file: the last snapshot submitted.
    pub saved: Option<StateFile>,
    /// Rows handled in this run, with how.
    pub handled: Vec<(String, &'static str, Option<Failure>)>,
    /// Every delivery started in this run: the row and its attempt number.
    pub started: Vec<(String, u32)>,
    /// The load last published.
    pub load: Load,
    /// Whether the core abandoned the replies, and until when the drain runs.
    pub stopped_replies: bool,
    pub drain_until: Option<Instant>,
    /// What the core would claim.
    pub claims: BTreeSet<String>,
    /// What the core told the person in the canvas.
    pub notices: Vec<String>,
}

impl Sim {
    /// A first start.
    pub fn new(rules: Rules) -> Sim {
        Sim::start(rules, None, Vec::new(), Instant::now())
    }

    /// A core over `saved` (a restart), with the platform holding `feed`.
    fn start(
        rules: Rules,
        saved: Option<StateFile>,
        feed: Vec<(RowKey, ActivityRow)>,
        now: Instant,
    ) -> Sim {
        let own = rules.own;
        let ledger = match saved.clone() {
            Some(state) => Ledger::from_state(state, own),
            None => Ledger::new(own),
        };
        let fetch_pos = ledger.cursor().cloned();
        let backend = Backend {
            breaker_open: false,
            concurrency: 4,
        };
        let core = Core::new(rules.clone(), ledger, backend, now);
        let load = core.load();
        Sim {
            core,
            rules,
            now,
            feed,
            fetch_pos,
            deliveries: Vec::new(),
            posts: Vec::new(),
            retries: Vec::new(),
            downloads: Vec::new(),
            saved,
            handled: Vec::new(),
            started: Vec::new(),
            load,
            stopped_replies: false,
            drain_until: None,
            claims: BTreeSet::new(),
            notices: Vec::new(),
        }
    }

    /// The host is killed and started again: a new core from the state file; everything in
    /// flight is lost.
    pub fn restart(&self) -> Sim {
        let later = self.now + Duration::from_secs(1);
        Sim::start(
            self.rules.clone(),
            self.saved.clone(),
            self.feed.clone(),
            later,
        )
    }

    /// Puts `row` on the platform's feed; returns its id.
    pub fn add(&mut self, row: ActivityRow) -> String {
        let key = RowKey::of(&row).expect("key");
        self.feed.push((key, row));
        self.feed.sort_by(|a, b| a.0.cmp(&b.0));
        self.feed
            .last()
            .map(|(k, _)| k.id.clone())
            .unwrap_or_default()
    }

    /// One poll, as the poller makes it when the engine takes rows: the rows after the poll
    /// position, as many as the window takes. `false` when the poller would not poll.
    pub fn poll(&mut self) -> bool {
        let intake = self.load.intake;
        if intake.breaker_open || intake.room == 0 {
            return false;
        }
        let rows: Vec<_> = self
            .feed
            .iter()
            .filter(|(k, _)| self.fetch_pos.as_ref().is_none_or(|p| k > p))
            .take(intake.room.min(100))
            .cloned()
            .collect();
        let head = rows.last().map(|(k, _)| k.clone());
        if head.is_none() {
            return true;
        }
        self.fetch_pos.clone_from(&head);
        let fetched = Fetched {
            rows,
            head,
            late: false,
            missing: Vec::new(),
        };
        let claims = self.claims.clone();
        let mut claim = |row: &ActivityRow| claims.contains(&row.id);
        let commands = self.core.take(fetched, self.now, &mut claim);
        self.absorb(commands);
        true
    }

    /// Feeds `input`.
    pub fn step(&mut self, input: Input) {
        let commands = self.core.step(input, self.now);
        self.absorb(commands);
    }

    /// The backend answers the delivery of `id` with `outcome`.
    pub fn answer(&mut self, id: &str, outcome: Outcome) {
        let at = self.deliveries.iter().position(|d| d.id == id);
        let at = at.unwrap_or_else(|| panic!("{id} is not with the backend"));
        self.deliveries.remove(at);
        self.step(Input::Delivered {
            id: id.to_owned(),
            outcome,
        });
    }

    /// The backend crashes: every delivery in flight fails with it, `killer` first.
    pub fn crash(&mut self, killer: &str) {
        let mut ids: Vec<String> = self.deliveries.iter().map(|d| d.id.clone()).collect();
        ids.sort_by_key(|i| i != killer);
        for id in ids {
            self.answer(&id, retry(true));
        }
    }

    /// The reply POST of `id` ends with `result`.
    pub fn posted(&mut self, id: &str, result: Posted) {
        let at = self.posts.iter().position(|p| p.0 == id);
        let at = at.unwrap_or_else(|| panic!("no reply of {id} is posting"));
        let (id, lane, _) = self.posts.remove(at);
        self.step(Input::Posted { id, lane, result });
    }

    /// The retry timer of `id` fires (time moves to it).
    pub fn retry_due(&mut self, id: &str) {
        let at = self.retries.iter().position(|r| r.0 == id);
        let at = at.unwrap_or_else(|| panic!("no retry of {id} is set"));
        let (id, when) = self.retries.remove(at);
        self.now = self.now.max(when);
        self.step(Input::RetryDue { id });
    }

    /// Saves the state, if it changed.
    pub fn flush(&mut self) {
        self.step(Input::Flush);
    }

    /// The cursor of the state file, after a flush.
    pub fn cursor(&mut self) -> Option<String> {
        self.flush();
        self.saved.as_ref()?.cursor.as_ref().map(|k| k.id.clone())
    }

    /// The rows being delivered now.
    pub fn in_flight(&self) -> Vec<String> {
        self.deliveries.iter().map(|d| d.id.clone()).collect()
    }

    /// The rows handled in this run, in order.
    pub fn handled_ids(&self) -> Vec<String> {
        self.handled.iter().map(|h| h.0.clone()).collect()
    }

    /// How row `id` was handled in this run.
    pub fn outcome_of(&self, id: &str) -> Option<&'static str> {
        self.handled.iter().find(|h| h.0 == id).map(|h| h.1)
    }

    /// The text of the reply posting for `id`.
    pub fn reply_text(&self, id: &str) -> String {
        match self.posts.iter().find(|p| p.0 == id).map(|p| &p.2) {
            Some(ReplyBody::Agent { envelope, .. }) => {
                envelope["params"]["message"]["parts"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
            Some(ReplyBody::Canvas { message, .. }) => message.clone(),
            None => panic!("no reply of {id} is posting"),
        }
    }

    /// Whether the state file says `id` is settled.
    pub fn saved_settled(&self, id: &str) -> bool {
        let Some(state) = &self.saved else {
            return false;
        };
        let Some(key) = self.feed.iter().find(|(k, _)| k.id == id).map(|(k, _)| k) else {
            return false;
        };
        let below = state
            .cursor
            .as_ref()
            .and_then(|c| c.key())
            .is_some_and(|c| *key <= c);
        below || state.settled_above.iter().any(|k| k.id == id)
    }

    fn absorb(&mut self, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::Deliver(d) => {
                    self.started.push((d.id.clone(), d.params.context.attempt));
                    self.deliveries.push(*d);
                }
                Command::RetryAt { id, at } => self.retries.push((id, at)),
                Command::Post { id, lane, body } => self.posts.push((id, lane, body)),
                Command::Download { id, upload } => self.downloads.push((id, upload)),
                Command::Save(state) => self.saved = Some(state),
                Command::SweepUploads { .. } => {}
                Command::Handled {
                    id, outcome, error, ..
                } => {
                    self.handled.push((id, outcome, error));
                }
                Command::StopReplies => self.stopped_replies = true,
                Command::DrainUntil(at) => self.drain_until = Some(at),
                Command::Publish(load) => self.load = load,
                Command::Notify { message } => self.notices.push(message),
            }
        }
    }
}
