//! No Claude process outlives its turn or the backend: cancel, timeout, stdin EOF, SIGTERM,
//! SIGKILL of the backend, and a CLI that lingers after its result.

use crate::support::{Rig, flag, from_agent, is_gone, reply_text, wait_all_gone};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

#[test]
fn cancel_ends_every_descendant_answers_32800_and_keeps_the_session() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let id = b.send_a2a(from_agent("[fake:hang] work", PEER));
    let (fake, kids) = rig.wait_children();
    b.cancel(id);
    let answer = b.answer(id);
    assert_eq!(answer["error"]["code"], -32800, "{answer}");
    // The fake, its child in the group and its grandchild in a group of its own.
    wait_all_gone(&[fake, kids[0], kids[1]]);
    let next = b.a2a(from_agent("next", PEER));
    assert_eq!(reply_text(&next), "claude heard: next");
    let runs = rig.runs();
    assert_eq!(flag(&runs[1], "resume"), flag(&runs[0], "session-id"));
}

#[test]
fn the_turn_timeout_stops_claude_and_answers_1005_with_a_user_message() {
    let rig = Rig::new();
    let mut b = rig.start(&["--turn-timeout", "300ms"]);
    let answer = b.a2a(from_agent("[fake:hang] forever", PEER));
    assert_eq!(answer["error"]["code"], 1005, "{answer}");
    assert!(
        answer["error"]["data"]["userMessage"]
            .as_str()
            .unwrap()
            .contains("too long")
    );
    let (fake, kids) = rig.wait_children();
    wait_all_gone(&[fake, kids[0], kids[1]]);
}

#[test]
fn stdin_eof_ends_running_turns_before_the_backend_exits() {
    let rig = Rig::new();
    let mut b = rig.command(&[]);
    b.env("MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS", "100");
    let mut b = crate::support::Backend::spawn(&mut b);
    b.initialize();
    b.send_a2a(from_agent("[fake:hang] work", PEER));
    let (fake, kids) = rig.wait_children();
    b.close_stdin();
    assert!(b.wait_exit().success());
    wait_all_gone(&[fake, kids[0], kids[1]]);
}

#[test]
fn sigterm_ends_running_turns_before_the_backend_exits() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.send_a2a(from_agent("[fake:hang] work", PEER));
    let (fake, kids) = rig.wait_children();
    kill(Pid::from_raw(b.pid()), Signal::SIGTERM).unwrap();
    b.wait_exit();
    wait_all_gone(&[fake, kids[0]]);
    // The grandchild left the turn's group; the backend still found it through /proc.
    wait_all_gone(&[kids[1]]);
}

#[test]
fn sigkill_of_the_backend_takes_its_claude_processes_down_too() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.send_a2a(from_agent("[fake:hang] work", PEER));
    let (fake, kids) = rig.wait_children();
    kill(Pid::from_raw(b.pid()), Signal::SIGKILL).unwrap();
    b.wait_exit();
    // PDEATHSIG kills the fake; the watchdog kills the rest of the turn's group.
    wait_all_gone(&[fake, kids[0]]);
    // The grandchild that left the group is out of reach once the backend is dead; clean up.
    if !is_gone(kids[1]) {
        let _ = kill(Pid::from_raw(kids[1]), Signal::SIGKILL);
    }
}

#[test]
fn a_claude_that_lingers_after_its_result_is_stopped_and_the_reply_still_sent() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:linger] hi", PEER));
    assert_eq!(reply_text(&answer), "claude heard: [fake:linger] hi");
    let pid = rig.runs()[0]["pid"].as_i64().unwrap() as i32;
    wait_all_gone(&[pid]);
}
