//! At least once across a crash of the host at every step: the state file is the only thing
//! that survives, and a row it does not say is settled comes back; one it says is settled does
//! not.

use crate::platform::Posted;

use super::*;

/// What the backend does with a delivery: a retry on the first attempt of `retried`, a crash
/// on the first attempt of `crasher`, an answer otherwise.
struct Script {
    retried: String,
    crasher: String,
}

/// Makes the next move of an ordinary run; `false` when nothing is left to do.
fn act(sim: &mut Sim, script: &Script) -> bool {
    let unfetched = sim.feed.last().map(|(k, _)| k) != sim.fetch_pos.as_ref();
    if unfetched && sim.load.intake.room > 0 {
        sim.poll();
        return true;
    }
    if let Some(d) = sim.deliveries.first() {
        let (id, attempt) = (d.id.clone(), d.params.context.attempt);
        match (attempt, id.as_str()) {
            (1, r) if r == script.crasher => sim.crash(r),
            (1, r) if r == script.retried => sim.answer(r, retry(false)),
            _ => sim.answer(&id, text("ok")),
        }
        return true;
    }
    if let Some(id) = sim.posts.first().map(|p| p.0.clone()) {
        sim.posted(&id, Posted::Delivered);
        return true;
    }
    if let Some(id) = sim.retries.first().map(|r| r.0.clone()) {
        sim.retry_due(&id);
        return true;
    }
    false
}

/// Moves until nothing is left (a bounded number of moves), flushing every `every` moves.
fn run(sim: &mut Sim, script: &Script, moves: usize, every: usize) -> usize {
    let mut n = 0;
    while n < moves && act(sim, script) {
        n += 1;
        if n % every == 0 {
            sim.flush();
        }
    }
    n
}

fn feed(sim: &mut Sim) -> Script {
    sim.add(agent(1, PEER, "a", "one"));
    sim.add(agent(2, PEER, "a", "two"));
    let retried = sim.add(canvas(3, "b", "retried"));
    sim.add(canvas(4, "c", "four"));
    let crasher = sim.add(agent(5, PEER2, "d", "crashes once"));
    Script { retried, crasher }
}

#[test]
fn a_crash_of_the_host_at_any_step_loses_no_row_and_repeats_no_saved_one() {
    let window = Rules {
        window: 3,
        ..rules()
    };
    let mut first = Sim::new(window.clone());
    let script = feed(&mut first);
    let total = run(&mut first, &script, 500, 2);
    assert_eq!(
        first.cursor(),
        Some(id(5)),
        "a run without a crash settles all"
    );
    for every in [1, 2, 3] {
        for k in 0..=total {
            let mut sim = Sim::new(window.clone());
            feed(&mut sim);
            run(&mut sim, &script, k, every);
            let mut next = sim.restart();
            run(&mut next, &script, 500, 1);
            let ids: Vec<String> = (1..=5).map(id).collect();
            for row in &ids {
                let started_again = next.started.iter().any(|s| s.0 == *row);
                let saved = sim.saved_settled(row);
                assert_eq!(
                    started_again, !saved,
                    "crash after {k} moves (flush every {every}): {row} saved settled {saved}"
                );
                let handled = sim.outcome_of(row).or(next.outcome_of(row));
                assert!(
                    handled.is_some(),
                    "{row} is never handled (crash after {k})"
                );
            }
            assert_eq!(next.cursor(), Some(id(5)), "crash after {k}");
        }
    }
}

#[test]
fn attempt_counts_survive_restarts_and_the_last_attempt_gets_the_error_reply() {
    let mut sim = Sim::new(rules());
    let r = sim.add(agent(1, PEER, "c", "always fails"));
    for attempt in 1..=2 {
        sim.poll();
        assert_eq!(sim.started, [(r.clone(), attempt)]);
        sim.answer(&r, retry(false));
        sim.flush();
        sim = sim.restart();
    }
    sim.poll();
    assert_eq!(sim.started, [(r.clone(), 3)]);
    sim.answer(&r, retry(false));
    assert_eq!(
        sim.reply_text(&r),
        super::super::super::reply_body::GENERIC_ERROR
    );
    sim.posted(&r, Posted::Delivered);
    assert_eq!(sim.outcome_of(&r), Some("error_reply_after_retries"));
    assert_eq!(sim.cursor(), Some(r));
    assert!(
        sim.saved.iter().all(|s| s.attempts.is_empty()),
        "settled rows drop their count"
    );
}

#[test]
fn a_crash_while_one_conversation_holds_the_prefix_repeats_no_row_after_it() {
    let mut sim = Sim::new(rules());
    let slow = sim.add(agent(1, PEER, "slow", "takes long"));
    let quick: Vec<String> = (2..=4)
        .map(|n| sim.add(canvas(n, &format!("q{n}"), "x")))
        .collect();
    sim.poll();
    for q in &quick {
        sim.answer(q, text("x"));
        sim.posted(q, Posted::Delivered);
    }
    sim.flush();
    let mut next = sim.restart();
    next.poll();
    assert_eq!(
        next.in_flight(),
        [slow],
        "only the unsettled row comes back"
    );
}
