//! The delivery rules, one test each: order within a conversation, the concurrency limit,
//! retries and attempts, crash suspects, the breaker, the hop limit.

use std::time::Duration;

use molecule_protocol::keys::idempotency_key;

use crate::platform::{Posted, ReplyBody};

use super::super::super::reply_body::GENERIC_ERROR;
use super::super::{Backend, Input, Lane};
use super::*;

#[test]
fn a_message_is_delivered_answered_posted_and_settled() {
    let mut sim = Sim::new(rules());
    let r = sim.add(agent(1, PEER, "ctx", "hello"));
    sim.poll();
    let d = &sim.deliveries[0];
    assert_eq!((d.id.as_str(), d.params.context.attempt), (r.as_str(), 1));
    assert_eq!(
        d.params.context.conversation_key,
        format!("agent:{PEER}#ctx")
    );
    assert_eq!(
        d.params.context.idempotency_key,
        idempotency_key(&sim.rules.own, &r)
    );
    assert_eq!(d.params.context.deadline, "", "the supervisor writes it");
    sim.answer(&r, text("hi back"));
    assert!(
        matches!(&sim.posts[0], (id, Lane::Agents, ReplyBody::Agent { target, .. })
            if *id == r && target.to_string() == PEER)
    );
    assert_eq!(sim.reply_text(&r), "hi back");
    assert_eq!(sim.cursor(), None, "not settled until the reply is posted");
    sim.posted(&r, Posted::Delivered);
    assert_eq!(sim.outcome_of(&r), Some("replied"));
    assert_eq!(sim.cursor(), Some(r));
    assert_eq!(sim.load.backlog, 0);
}

#[test]
fn one_delivery_per_conversation_in_order_and_conversations_side_by_side() {
    let mut sim = Sim::new(rules());
    let a1 = sim.add(agent(1, PEER, "a", "a1"));
    let a2 = sim.add(agent(2, PEER, "a", "a2"));
    let b1 = sim.add(agent(3, PEER2, "b", "b1"));
    let c1 = sim.add(canvas(4, "c", "c1"));
    sim.poll();
    assert_eq!(sim.in_flight(), [a1.as_str(), &b1, &c1], "a2 waits for a1");
    sim.answer(&b1, text("b"));
    assert_eq!(sim.in_flight(), [a1.as_str(), &c1]);
    sim.answer(&a1, text("a"));
    assert_eq!(sim.in_flight(), [c1.as_str(), &a2], "a's turn comes back");
    // Replies keep the conversation's order too: a2's waits for a1's POST.
    sim.answer(&a2, text("a again"));
    let posting: Vec<&str> = sim.posts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(posting, [&b1, &a1]);
    sim.posted(&a1, Posted::Delivered);
    assert_eq!(sim.posts.last().map(|p| p.0.clone()), Some(a2));
}

#[test]
fn the_concurrency_is_the_smaller_of_the_setting_and_the_backends() {
    let mut sim = Sim::new(rules());
    sim.step(Input::Backend(Backend {
        breaker_open: false,
        concurrency: 2,
    }));
    for n in 1..=5 {
        sim.add(canvas(n, &format!("c{n}"), "x"));
    }
    sim.poll();
    assert_eq!(sim.in_flight(), [id(1), id(2)]);
    sim.step(Input::Backend(Backend {
        breaker_open: false,
        concurrency: 8,
    }));
    assert_eq!(sim.in_flight().len(), 4, "--concurrency 4 caps it now");
}

#[test]
fn a_retry_waits_the_backoff_or_the_backends_retry_after_and_counts_an_attempt() {
    let mut sim = Sim::new(rules());
    let r = sim.add(canvas(1, "c", "x"));
    let later = sim.add(canvas(2, "c", "same conversation"));
    sim.poll();
    let t0 = sim.now;
    sim.answer(&r, retry(false));
    assert_eq!(sim.retries, [(r.clone(), t0 + Duration::from_secs(1))]);
    assert!(sim.in_flight().is_empty(), "{later} waits behind the retry");
    sim.flush();
    assert_eq!(sim.saved.as_ref().map(|s| s.attempts[&r]), Some(1));
    sim.retry_due(&r);
    assert_eq!(sim.started.last(), Some(&(r.clone(), 2)));
    let busy = Outcome::Retry {
        after: Some(Duration::from_secs(30)),
        failure: Failure::new("busy", "busy"),
        crashed: false,
        user_message: None,
    };
    let t1 = sim.now;
    sim.answer(&r, busy);
    assert_eq!(
        sim.retries,
        [(r.clone(), t1 + Duration::from_secs(30))],
        "retryAfterMs is longer than the 2 s backoff"
    );
    let mut sim = Sim::new(rules());
    let r = sim.add(canvas(1, "c", "x"));
    sim.poll();
    let forever = Outcome::Retry {
        after: Some(Duration::from_millis(u64::MAX)),
        failure: Failure::new("busy", "busy"),
        crashed: false,
        user_message: None,
    };
    sim.answer(&r, forever);
    let (_, at) = sim.retries.last().expect("a retry");
    assert!(
        *at > sim.now + Duration::from_secs(86_400 * 365),
        "a retryAfterMs of 2^64 ms saturates instead of overflowing"
    );
}

#[test]
fn attempts_that_run_out_get_an_error_reply_and_the_conversation_moves_on() {
    let mut sim = Sim::new(rules());
    let r = sim.add(agent(1, PEER, "c", "x"));
    let next = sim.add(agent(2, PEER, "c", "y"));
    sim.poll();
    for _ in 0..2 {
        sim.answer(&r, retry(false));
        sim.retry_due(&r);
    }
    assert_eq!(sim.started.last(), Some(&(r.clone(), 3)));
    sim.answer(&r, retry(false));
    assert_eq!(sim.reply_text(&r), GENERIC_ERROR);
    assert_eq!(sim.in_flight(), [next], "the conversation moves on");
    sim.posted(&r, Posted::Delivered);
    let (_, outcome, error) = &sim.handled[0];
    assert_eq!(*outcome, "error_reply_after_retries");
    let error = error.as_ref().map(|e| e.detail.clone()).unwrap_or_default();
    assert!(error.starts_with("3 deliveries failed"), "{error}");
}

#[test]
fn a_failure_that_another_delivery_cannot_fix_is_answered_at_once() {
    let mut sim = Sim::new(rules());
    let r = sim.add(canvas(1, "c", "x"));
    sim.poll();
    sim.answer(&r, failed(Some("Not allowed.")));
    assert_eq!(sim.reply_text(&r), "Not allowed.");
    sim.posted(&r, Posted::Delivered);
    assert_eq!(sim.outcome_of(&r), Some("error_reply"));
    assert!(sim.retries.is_empty() && sim.started.len() == 1);
}

#[test]
fn after_a_crash_the_suspects_run_alone_until_the_killer_has_used_up_its_attempts() {
    let mut sim = Sim::new(rules());
    let one = sim.add(agent(1, PEER, "a", "innocent one"));
    let poison = sim.add(agent(2, PEER2, "b", "poison"));
    let two = sim.add(canvas(3, "c", "innocent two"));
    sim.poll();
    assert_eq!(sim.in_flight().len(), 3);
    sim.crash(&poison);
    let fresh = sim.add(canvas(4, "d", "arrives later"));
    sim.poll();
    // One suspect at a time, alone; the new row waits until they are cleared.
    let mut order = Vec::new();
    loop {
        let in_flight = sim.in_flight();
        assert_eq!(in_flight.len(), 1, "{in_flight:?}");
        let only = in_flight[0].clone();
        if only == fresh {
            break;
        }
        if only == poison {
            sim.crash(&poison);
        } else {
            sim.answer(&only, text("ok"));
        }
        order.push(only);
    }
    assert_eq!(order.len(), 4, "{order:?}");
    assert_eq!(sim.reply_text(&poison), GENERIC_ERROR);
    let attempts = |row: &str| -> Vec<u32> {
        let of_row = sim.started.iter().filter(|s| s.0 == row);
        of_row.map(|s| s.1).collect()
    };
    assert_eq!(
        attempts(&one),
        [1, 2],
        "charged for the one crash it was in"
    );
    assert_eq!(attempts(&two), [1, 2]);
    assert_eq!(attempts(&poison), [1, 2, 3]);
}

#[test]
fn at_the_hop_limit_a_reply_is_delivered_not_answered_and_past_it_dropped() {
    let mut sim = Sim::new(rules());
    let at = sim.add(agent_reply(1, PEER, 4));
    let past = sim.add(agent_reply(2, PEER2, 5));
    sim.poll();
    assert_eq!(
        sim.in_flight(),
        [at.as_str()],
        "{past} never reaches the backend"
    );
    assert!(sim.deliveries[0].params.context.reply_suppressed);
    assert_eq!(sim.deliveries[0].params.context.hops, 4);
    sim.answer(&at, text("would loop"));
    assert!(sim.posts.is_empty());
    assert_eq!(sim.outcome_of(&at), Some("reply_suppressed_at_hop_limit"));
    assert_eq!(sim.cursor(), Some(past));
}

#[test]
fn while_the_breaker_is_open_nothing_is_delivered_and_the_intake_is_closed() {
    let mut sim = Sim::new(rules());
    let r = sim.add(canvas(1, "c", "x"));
    sim.poll();
    let open = Backend {
        breaker_open: true,
        concurrency: 4,
    };
    // The breaker opened under the delivery: not an attempt, held until it closes.
    sim.step(Input::Backend(open));
    sim.answer(&r, Outcome::BreakerOpen);
    assert!(sim.load.intake.breaker_open && sim.load.in_flight == 1);
    assert!(!sim.poll(), "the poller pauses");
    assert!(sim.in_flight().is_empty());
    sim.step(Input::Backend(Backend {
        breaker_open: false,
        ..open
    }));
    assert_eq!(
        sim.started,
        [(r.clone(), 1), (r.clone(), 1)],
        "no attempt spent"
    );
    assert!(!sim.load.intake.breaker_open);
}

#[test]
fn a_call_abandoned_while_the_host_runs_is_delivered_again_and_later_rows_flow() {
    // The backend's reply channel closing under a call (it crashed or restarted) is reported
    // as abandoned. Outside a shutdown that must not strand the row: the cursor could never
    // pass it and every later message would wait until the host restarts.
    let mut sim = Sim::new(rules());
    let r1 = sim.add(canvas(1, "c", "first"));
    let r2 = sim.add(canvas(2, "d", "second"));
    sim.poll();
    sim.answer(&r2, text("two"));
    sim.posted(&r2, Posted::Delivered);
    sim.answer(&r1, Outcome::Abandoned);
    assert_eq!(sim.in_flight(), [r1.as_str()], "delivered again at once");
    assert_eq!(
        sim.deliveries.last().map(|d| d.params.context.attempt),
        Some(2)
    );
    sim.answer(&r1, text("one"));
    sim.posted(&r1, Posted::Delivered);
    assert_eq!(sim.outcome_of(&r1), Some("replied"));
    assert_eq!(sim.cursor(), Some(r2), "the cursor passes both rows");
}
