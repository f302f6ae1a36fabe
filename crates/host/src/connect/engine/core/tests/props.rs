//! Properties over random orders of events: rows in a few conversations, each with its own
//! run of failures (retries, crashes, refusals); the backend, the platform and the timers
//! answering in any order; the breaker opening and closing; the host killed and restarted
//! from its state file at any moment. Whatever the order: no row is settled twice in a run,
//! no row is lost, the cursor never passes an unsettled row, a row the state file says is
//! settled is never delivered again, and a conversation has one delivery at a time, in order.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::platform::Posted;

use super::super::Backend;
use super::*;

/// What the backend does on one attempt.
#[derive(Clone, Copy, Debug)]
enum Attempt {
    Answer,
    NoReply,
    Retry,
    Crash,
    Refuse,
}

/// One row: its conversation, its sender, and what its attempts come to (then an answer).
#[derive(Clone, Debug)]
struct Plan {
    conversation: u8,
    canvas: bool,
    attempts: Vec<Attempt>,
}

/// One event, its index taken modulo what is pending.
#[derive(Clone, Copy, Debug)]
enum Move {
    Poll,
    Answer(usize),
    Post(usize, bool),
    RetryDue(usize),
    Flush,
    KillHost,
    Breaker(bool),
}

fn attempt() -> impl Strategy<Value = Attempt> {
    prop_oneof![
        4 => Just(Attempt::Answer),
        1 => Just(Attempt::NoReply),
        2 => Just(Attempt::Retry),
        1 => Just(Attempt::Crash),
        1 => Just(Attempt::Refuse),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        0u8..3,
        any::<bool>(),
        prop::collection::vec(attempt(), 0..4),
    )
        .prop_map(|(conversation, canvas, attempts)| Plan {
            conversation,
            canvas,
            attempts,
        })
}

fn a_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        3 => Just(Move::Poll),
        6 => any::<usize>().prop_map(Move::Answer),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(i, ok)| Move::Post(i, ok)),
        2 => any::<usize>().prop_map(Move::RetryDue),
        2 => Just(Move::Flush),
        1 => Just(Move::KillHost),
        1 => any::<bool>().prop_map(Move::Breaker),
    ]
}

/// Everything the properties remember across runs.
struct World {
    sim: Sim,
    plans: BTreeMap<String, Plan>,
    limit: usize,
    /// Rows handled in any run.
    ever_handled: BTreeSet<String>,
    /// Rows the state file said were settled when the host was last started.
    settled_at_start: BTreeSet<String>,
}

impl World {
    fn new(plans: Vec<Plan>, window: usize, concurrency: u32) -> World {
        let mut rules = rules();
        rules.window = window;
        rules.delivery.concurrency = concurrency;
        let mut sim = Sim::new(rules);
        let mut by_id = BTreeMap::new();
        for (n, plan) in plans.into_iter().enumerate() {
            let (n, context) = (n as u32 + 1, format!("c{}", plan.conversation));
            let row = if plan.canvas {
                canvas(n, &context, "x")
            } else {
                agent(n, PEER, &context, "x")
            };
            by_id.insert(sim.add(row), plan);
        }
        World {
            sim,
            plans: by_id,
            limit: concurrency.min(4) as usize,
            ever_handled: BTreeSet::new(),
            settled_at_start: BTreeSet::new(),
        }
    }

    fn apply(&mut self, m: Move) {
        let sim = &mut self.sim;
        match m {
            Move::Poll => {
                sim.poll();
            }
            Move::Answer(i) if !sim.deliveries.is_empty() => {
                let d = &sim.deliveries[i % sim.deliveries.len()];
                let (id, attempt) = (d.id.clone(), d.params.context.attempt as usize);
                let plan = &self.plans[&id];
                let what = plan.attempts.get(attempt - 1).copied();
                match what.unwrap_or(Attempt::Answer) {
                    _ if sim.load.intake.breaker_open => sim.answer(&id, Outcome::BreakerOpen),
                    Attempt::Answer => sim.answer(&id, text("ok")),
                    Attempt::NoReply => sim.answer(&id, Outcome::Answered(Default::default())),
                    Attempt::Retry => sim.answer(&id, retry(false)),
                    Attempt::Crash => sim.crash(&id),
                    Attempt::Refuse => sim.answer(&id, failed(None)),
                }
            }
            Move::Post(i, ok) if !sim.posts.is_empty() => {
                let id = sim.posts[i % sim.posts.len()].0.clone();
                let result = if ok {
                    Posted::Delivered
                } else {
                    let reason = "refused".to_owned();
                    Posted::Refused {
                        status: Some(400),
                        reason,
                    }
                };
                sim.posted(&id, result);
            }
            Move::RetryDue(i) if !sim.retries.is_empty() => {
                let id = sim.retries[i % sim.retries.len()].0.clone();
                sim.retry_due(&id);
            }
            Move::Flush => sim.flush(),
            Move::KillHost => self.kill(),
            Move::Breaker(open) => sim.step(Input::Backend(Backend {
                breaker_open: open,
                concurrency: 4,
            })),
            _ => {}
        }
        self.check();
    }

    /// The host is killed: a new core from the state file.
    fn kill(&mut self) {
        self.sim = self.sim.restart();
        let ids: Vec<String> = self.plans.keys().cloned().collect();
        self.settled_at_start = ids
            .into_iter()
            .filter(|id| self.sim.saved_settled(id))
            .collect();
    }

    fn check(&mut self) {
        let sim = &self.sim;
        let handled = sim.handled_ids();
        let unique: BTreeSet<&String> = handled.iter().collect();
        assert_eq!(
            unique.len(),
            handled.len(),
            "a row settled twice: {handled:?}"
        );
        self.ever_handled.extend(handled);
        for (row, _) in &sim.started {
            assert!(
                !self.settled_at_start.contains(row),
                "{row} was saved as settled and is delivered again"
            );
        }
        for row in self.plans.keys() {
            assert!(
                !sim.saved_settled(row) || self.ever_handled.contains(row),
                "the state file has {row} settled, and it was never handled"
            );
        }
        let mut conversations = BTreeSet::new();
        for d in &sim.deliveries {
            let c = &d.params.context.conversation_key;
            assert!(conversations.insert(c), "two deliveries at once in {c}");
        }
        assert!(sim.deliveries.len() <= self.limit, "over the concurrency");
        self.check_order();
    }

    /// Within a run, a conversation's rows are first delivered in feed order.
    fn check_order(&self) {
        let mut last: BTreeMap<(bool, u8), &String> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for (row, _) in &self.sim.started {
            if !seen.insert(row) {
                continue;
            }
            let plan = &self.plans[row];
            if let Some(prev) = last.insert((plan.canvas, plan.conversation), row) {
                assert!(prev < row, "{row} went before {prev} in its conversation");
            }
        }
    }

    /// Lets everything finish: the breaker closed, every event answered in order.
    fn finish(&mut self) {
        self.sim.step(Input::Backend(Backend {
            breaker_open: false,
            concurrency: 4,
        }));
        for _ in 0..2_000 {
            let sim = &self.sim;
            let m = if !sim.deliveries.is_empty() {
                Move::Answer(0)
            } else if !sim.posts.is_empty() {
                Move::Post(0, true)
            } else if !sim.retries.is_empty() {
                Move::RetryDue(0)
            } else if sim.feed.last().map(|(k, _)| k) != sim.fetch_pos.as_ref() {
                Move::Poll
            } else {
                return;
            };
            self.apply(m);
        }
        panic!("the run never ends");
    }
}

proptest! {
    #[test]
    fn no_row_is_settled_twice_or_lost_and_the_cursor_never_passes_an_unsettled_one(
        plans in prop::collection::vec(plan(), 1..8),
        moves in prop::collection::vec(a_move(), 0..120),
        window in 1usize..6,
        concurrency in 1u32..5,
    ) {
        let mut world = World::new(plans, window, concurrency);
        for m in moves {
            world.apply(m);
        }
        world.finish();
        let last = world.plans.keys().last().cloned();
        prop_assert_eq!(world.sim.cursor(), last, "every row settled in the end");
        for row in world.plans.keys() {
            prop_assert!(world.ever_handled.contains(row), "{} was lost", row);
        }
    }
}
