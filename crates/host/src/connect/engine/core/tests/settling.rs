//! How rows are taken in, answered and settled, one test each: the reply lanes, the settled
//! prefix, the drain, uploads, claimed and unreadable rows, the window.

use crate::platform::Posted;

use super::super::Input;
use super::*;

#[test]
fn lanes_canvas_replies_never_wait_behind_slow_agent_replies() {
    let mut sim = Sim::new(rules());
    for n in 1..=4 {
        sim.add(agent(n, PEER, &format!("slow{n}"), "x"));
    }
    let c1 = sim.add(canvas(5, "c1", "x"));
    let c2 = sim.add(canvas(6, "c2", "x"));
    let c3 = sim.add(canvas(7, "c3", "x"));
    sim.poll();
    for n in 1..=4 {
        sim.answer(&id(n), text("to a slow agent"));
    }
    assert_eq!(sim.posts.len(), 4, "replies to agents have no cap");
    for c in [&c1, &c2, &c3] {
        sim.answer(c, text("to the canvas"));
    }
    let canvas: Vec<&str> = sim.posts[4..].iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        canvas,
        [&c1, &c2],
        "two canvas POSTs at once, agents' aside"
    );
    sim.posted(&c1, Posted::Delivered);
    assert_eq!(sim.posts.last().map(|p| p.0.clone()), Some(c3));
    assert_eq!(sim.outcome_of(&c1), Some("replied"));
    sim.posted(
        &id(1),
        Posted::Unconfirmed {
            reason: "timeout".into(),
        },
    );
    assert_eq!(sim.outcome_of(&id(1)), Some("reply_unconfirmed"));
}

#[test]
fn the_cursor_moves_only_over_a_settled_prefix() {
    let mut sim = Sim::new(rules());
    for n in 1..=3 {
        sim.add(canvas(n, &format!("c{n}"), "x"));
    }
    sim.poll();
    for n in [3, 2] {
        sim.answer(&id(n), text("x"));
        sim.posted(&id(n), Posted::Delivered);
    }
    assert_eq!(sim.cursor(), None, "row 1 holds the prefix");
    let above: Vec<String> = sim
        .saved
        .iter()
        .flat_map(|s| &s.settled_above)
        .map(|k| k.id.clone())
        .collect();
    assert_eq!(above, [id(2), id(3)]);
    sim.answer(&id(1), text("x"));
    sim.posted(
        &id(1),
        Posted::Refused {
            status: Some(400),
            reason: "bad".into(),
        },
    );
    assert_eq!(sim.outcome_of(&id(1)), Some("reply_refused"));
    assert_eq!(sim.cursor(), Some(id(3)));
}

#[test]
fn a_drain_starts_nothing_new_lets_the_in_flight_finish_and_leaves_the_rest_unsettled() {
    let mut sim = Sim::new(rules());
    let a1 = sim.add(agent(1, PEER, "a", "in flight"));
    let a2 = sim.add(agent(2, PEER, "a", "queued"));
    let b = sim.add(canvas(3, "b", "retrying"));
    sim.poll();
    sim.answer(&b, retry(false));
    sim.step(Input::Drain);
    assert_eq!(sim.drain_until, Some(sim.now + sim.rules.drain));
    let backlog = sim.load.backlog;
    sim.add(canvas(4, "d", "after the drain began"));
    sim.poll();
    assert_eq!(sim.load.backlog, backlog, "no row is taken in");
    sim.retry_due(&b);
    assert_eq!(sim.in_flight(), [a1.as_str()], "nothing new starts");
    assert!(!sim.core.finished());
    sim.answer(&a1, text("done"));
    assert!(!sim.core.finished(), "its reply is posted first");
    sim.posted(&a1, Posted::Delivered);
    assert!(sim.core.finished());
    assert_eq!(sim.handled_ids(), [a1.as_str()]);
    sim.flush();
    for unsettled in [&a2, &b, &id(4)] {
        assert!(!sim.saved_settled(unsettled), "{unsettled}");
    }
    let mut next = sim.restart();
    next.poll();
    assert_eq!(
        next.in_flight(),
        [a2, b, id(4)],
        "they come back after a restart"
    );
}

#[test]
fn a_second_signal_abandons_the_replies_and_their_rows_stay_unsettled() {
    let mut sim = Sim::new(rules());
    let r = sim.add(canvas(1, "c", "x"));
    sim.poll();
    sim.answer(&r, text("x"));
    sim.step(Input::Drain);
    sim.step(Input::StopReplies);
    assert!(sim.stopped_replies);
    sim.posted(&r, Posted::Abandoned);
    assert!(sim.core.finished());
    assert_eq!(sim.cursor(), None);
}

#[test]
fn an_upload_holds_later_messages_which_then_point_at_the_copy() {
    let mut sim = Sim::new(rules());
    let up = sim.add(row(
        1,
        json!({"method": "chat_upload_receive",
               "request_body": {"file_id": "f1", "uri": "platform-pending:w/f1", "name": "a.png"}}),
    ));
    let mut m = canvas(2, "c", "see the file");
    if let Some(parts) = m
        .request_body
        .as_mut()
        .and_then(|b| b.pointer_mut("/params/message/parts"))
    {
        *parts = json!([{"kind": "file", "file": {"uri": "platform-pending:w/f1"}}]);
    }
    let msg = sim.add(m);
    sim.poll();
    assert_eq!(sim.downloads.len(), 1);
    assert!(sim.in_flight().is_empty(), "{msg} waits for the download");
    let record = crate::connect::state::UploadRecord {
        path: "/state/uploads/f1-a.png".into(),
        saved_at: 1,
    };
    sim.step(Input::Uploaded {
        id: up.clone(),
        result: Ok(record),
    });
    assert_eq!(sim.outcome_of(&up), Some("upload"));
    let copies = &sim.deliveries[0].local_copies;
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].0, "platform-pending:w/f1");
}

#[test]
fn claimed_skipped_and_known_rows_never_reach_the_backend() {
    let mut sim = Sim::new(rules());
    let claimed = sim.add(agent(1, PEER, "c", "an answer a peer call waits for"));
    sim.claims.insert(claimed.clone());
    let own = sim.add(row(2, json!({"method": "notify"})));
    let r = sim.add(canvas(3, "c", "x"));
    sim.poll();
    assert_eq!(sim.in_flight(), [r.as_str()]);
    // The same rows again (an overlapping read): nothing is delivered twice.
    sim.fetch_pos = None;
    sim.poll();
    assert_eq!(sim.started.len(), 1);
    sim.answer(&r, text("x"));
    sim.posted(&r, Posted::Delivered);
    assert_eq!(
        sim.handled_ids(),
        [r.as_str()],
        "{claimed} and {own} are not counted"
    );
    assert_eq!(sim.cursor(), Some(r));
}

#[test]
fn an_unreadable_row_gets_a_short_error_reply() {
    let mut sim = Sim::new(rules());
    let r = sim.add(row(1, json!({"source_id": PEER, "request_body": {"x": 1}})));
    sim.poll();
    assert!(sim.in_flight().is_empty());
    assert!(
        sim.reply_text(&r)
            .starts_with("Sorry, I could not read your message")
    );
    sim.posted(&r, Posted::Delivered);
    assert_eq!(sim.outcome_of(&r), Some("unreadable"));
}

#[test]
fn the_window_bounds_what_the_poller_fetches() {
    let mut sim = Sim::new(Rules {
        window: 2,
        ..rules()
    });
    for n in 1..=3 {
        sim.add(canvas(n, &format!("c{n}"), "x"));
    }
    sim.poll();
    assert_eq!(sim.load.intake.room, 0);
    assert!(!sim.poll());
    assert_eq!(sim.in_flight().len(), 2);
    sim.answer(&id(1), text("x"));
    sim.posted(&id(1), Posted::Delivered);
    assert_eq!(sim.load.intake.room, 1);
    sim.poll();
    assert_eq!(sim.in_flight(), [id(2), id(3)]);
}
