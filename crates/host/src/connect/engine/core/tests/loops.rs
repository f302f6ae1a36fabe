//! The loop guard in the core: agents whose messages carry no molecule metadata get a budget
//! of answers; past it the peer is paused (delivered, not answered), the person told once, and
//! a message from the person lifts the pause.

use std::time::Duration;

use super::*;

fn guarded() -> Rules {
    let mut r = rules();
    r.delivery.foreign_limit = 3;
    r
}

/// Answers every delivery with an echo until none is left; returns whether each was told its
/// answer would not be sent, by row.
fn answer_all(sim: &mut Sim) -> std::collections::BTreeMap<String, bool> {
    let mut told = std::collections::BTreeMap::new();
    while let Some(d) = sim.deliveries.first().cloned() {
        told.insert(d.id.clone(), d.params.context.reply_suppressed);
        sim.answer(&d.id, text("echo"));
    }
    told
}

#[test]
fn a_foreign_peer_past_its_budget_is_delivered_to_but_not_answered_and_the_person_told_once() {
    let mut sim = Sim::new(guarded());
    let ids: Vec<String> = (1..=5)
        .map(|n| sim.add(agent(n, PEER, &format!("c{n}"), "again")))
        .collect();
    let other = sim.add(agent(6, PEER2, "x", "hello"));
    let molecule = sim.add(agent_reply(7, PEER, 1));
    sim.poll();
    let told = answer_all(&mut sim);
    assert_eq!(told.len(), 7, "every message reaches the backend");
    let paused: Vec<&String> = told.iter().filter(|(_, s)| **s).map(|(id, _)| id).collect();
    assert_eq!(paused, [&ids[3], &ids[4]]);
    let outcomes: Vec<_> = ids.iter().map(|id| sim.outcome_of(id)).collect();
    assert_eq!(
        outcomes[3..],
        [
            Some("reply_suppressed_reply_loop"),
            Some("reply_suppressed_reply_loop")
        ]
    );
    let posted: Vec<&str> = sim.posts.iter().map(|(id, _, _)| id.as_str()).collect();
    for id in ids.iter().take(3).chain([&other, &molecule]) {
        assert!(posted.contains(&id.as_str()), "{id} answered: {posted:?}");
    }
    assert_eq!(posted.len(), 5);
    assert_eq!(sim.notices.len(), 1, "{:?}", sim.notices);
    assert!(sim.notices[0].contains(PEER) && sim.notices[0].contains("3 messages"));
}

#[test]
fn the_backend_is_told_the_answer_will_not_be_sent() {
    let mut sim = Sim::new(guarded());
    for n in 1..=4 {
        sim.add(agent(n, PEER, "c", "again"));
    }
    // One conversation: delivered one after another.
    sim.poll();
    let told = answer_all(&mut sim);
    assert_eq!(told.values().filter(|s| **s).count(), 1);
    assert!(told[&id(4)]);
    assert_eq!(sim.outcome_of(&id(4)), Some("reply_suppressed_reply_loop"));
}

#[test]
fn a_message_from_the_person_lifts_the_pause() {
    let mut sim = Sim::new(guarded());
    for n in 1..=4 {
        sim.add(agent(n, PEER, &format!("c{n}"), "again"));
    }
    sim.poll();
    answer_all(&mut sim);
    assert_eq!(sim.outcome_of(&id(4)), Some("reply_suppressed_reply_loop"));
    sim.add(canvas(5, "s", "stop that"));
    let after = sim.add(agent(6, PEER, "c6", "and again"));
    sim.now += Duration::from_secs(1);
    sim.poll();
    answer_all(&mut sim);
    assert_eq!(
        sim.outcome_of(&after),
        None,
        "not settled before its reply is posted"
    );
    assert!(
        sim.posts.iter().any(|(id, _, _)| *id == after),
        "answered again"
    );
}
