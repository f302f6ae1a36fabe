//! Conversations over the real CLI: a first turn and a resumed one, the per-message preamble on
//! every turn, cancel, two conversations at once, an empty message, and when a session is (and
//! is not) given up for a fresh one.

use super::support::{RealCli, RealRig, each_cli, key_of};
use crate::messages_api::{MessagesApi, Reply};
use crate::support::{from_agent, reply_text, wait_all_gone, wait_for};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const OTHER: &str = "bbbbbbbb-0000-4000-8000-000000000002";

/// Answers `heard: <prompt>`; a prompt containing `hang` is left hanging the first time.
fn heard_api() -> MessagesApi {
    let hung = AtomicUsize::new(0);
    MessagesApi::start(move |r| {
        let prompt = r.prompt();
        if prompt.contains("hang") && hung.fetch_add(1, Ordering::SeqCst) == 0 {
            return Reply::Hang;
        }
        Reply::text(format!("heard: {}", prompt.trim()))
    })
}

/// The live processes running `cli`'s executable that descend from `backend` (other tests run
/// the same executable at the same time).
fn cli_processes(cli: &RealCli, backend: i32) -> Vec<i32> {
    let exe = cli.bin.canonicalize().expect("the CLI's executable");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe))
        .filter(|pid| !crate::support::is_gone(*pid) && descends_from(*pid, backend))
        .collect()
}

fn descends_from(mut pid: i32, ancestor: i32) -> bool {
    while pid > 1 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
        else {
            return false;
        };
        if ppid == ancestor {
            return true;
        }
        pid = ppid;
    }
    false
}

/// The text of every message the model saw in `call`, as one string.
fn history(call: &crate::messages_api::Request) -> String {
    call.body["messages"].to_string()
}

#[test]
fn a_first_turn_then_a_resumed_one_that_sees_the_history() {
    each_cli(|cli| {
        let api = heard_api();
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        let first = b.a2a(from_agent("remember ultramarine", PEER));
        assert_eq!(reply_text(&first), "heard: remember ultramarine");
        let session = rig.session_of(&key_of(PEER)).expect("a session");
        let second = b.a2a(from_agent("which word?", PEER));
        assert_eq!(reply_text(&second), "heard: which word?");
        if rig.session_of(&key_of(PEER)) != Some(session.clone()) {
            b.close_stdin();
            b.wait_exit();
            panic!("the session changed: {}", b.stderr());
        }
        let calls = api.calls();
        assert_eq!(calls.len(), 2, "one model call per turn");
        let last = &calls[1];
        assert!(
            history(last).contains("heard: remember ultramarine"),
            "{last:?}"
        );
        assert_eq!(
            last.header("x-claude-code-session-id"),
            Some(session.as_str())
        );
        assert_eq!(first["result"]["metadata"]["usage"]["outputTokens"], 7);
    });
}

#[test]
fn the_preamble_reaches_the_model_on_every_turn() {
    each_cli(|cli| {
        let api = heard_api();
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        b.a2a(from_agent("hello", PEER));
        let mut reply = from_agent("thanks, done", PEER);
        reply["sender"]["name"] = json!("critic-7");
        reply["context"]["inReplyTo"] = json!("m-1");
        b.a2a(reply);
        let calls = api.calls();
        let (first, second) = (calls[0].system_text(), calls[1].system_text());
        assert!(
            first.contains("\"planner\"") && !first.contains("NO_REPLY"),
            "{first}"
        );
        assert!(
            second.contains("\"critic-7\"") && second.contains("NO_REPLY"),
            "the second turn's preamble did not reach the model:\n{second}"
        );
    });
}

#[test]
fn cancel_stops_the_cli_and_the_conversation_goes_on() {
    each_cli(|cli| {
        let api = heard_api();
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        b.a2a(from_agent("hello", PEER));
        let id = b.send_a2a(from_agent("hang on", PEER));
        wait_for("the model call of the hanging turn", || {
            (api.calls().len() == 2).then_some(())
        });
        let running = cli_processes(cli, b.pid());
        assert!(!running.is_empty(), "claude runs");
        b.cancel(id);
        assert_eq!(b.answer(id)["error"]["code"], -32800);
        wait_all_gone(&running);
        let after = b.a2a(from_agent("after", PEER));
        assert_eq!(reply_text(&after), "heard: after");
        assert!(history(api.calls().last().unwrap()).contains("heard: hello"));
    });
}

#[test]
fn two_conversations_run_at_once() {
    each_cli(|cli| {
        // Each call waits (up to 10 s) until both conversations' calls have arrived.
        let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
        let api = MessagesApi::start(move |r| {
            let (count, cv) = &*arrived;
            let mut n = count.lock().unwrap();
            *n += 1;
            cv.notify_all();
            let (n, _) = cv
                .wait_timeout_while(n, Duration::from_secs(10), |n| *n < 2)
                .unwrap();
            let together = if *n >= 2 { "together" } else { "alone" };
            Reply::text(format!("heard: {} ({together})", r.prompt().trim()))
        });
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        let one = b.send_a2a(from_agent("one", PEER));
        let two = b.send_a2a(from_agent("two", OTHER));
        assert_eq!(reply_text(&b.answer(one)), "heard: one (together)");
        assert_eq!(reply_text(&b.answer(two)), "heard: two (together)");
        assert_ne!(
            rig.session_of(&key_of(PEER)),
            rig.session_of(&key_of(OTHER))
        );
    });
}

#[test]
fn an_empty_message_is_refused_and_the_history_kept() {
    each_cli(|cli| {
        let api = heard_api();
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        b.a2a(from_agent("hello", PEER));
        let session = rig.session_of(&key_of(PEER));
        for empty in ["", " \n\t "] {
            let answer = b.a2a(from_agent(empty, PEER));
            let e = &answer["error"];
            assert_eq!(e["code"], 1004, "{answer}");
            let msg = e["data"]["userMessage"].as_str().expect("a userMessage");
            assert!(msg.contains("empty"), "{msg}");
        }
        assert_eq!(
            api.calls().len(),
            1,
            "claude was not run for an empty message"
        );
        assert_eq!(rig.session_of(&key_of(PEER)), session);
        b.a2a(from_agent("again", PEER));
        assert!(history(api.calls().last().unwrap()).contains("heard: hello"));
    });
}

#[test]
fn a_resumed_turn_killed_midway_keeps_its_session() {
    each_cli(|cli| {
        let api = heard_api();
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        b.a2a(from_agent("hello", PEER));
        let session = rig.session_of(&key_of(PEER));
        let id = b.send_a2a(from_agent("hang on", PEER));
        wait_for("the model call of the hanging turn", || {
            (api.calls().len() == 2).then_some(())
        });
        // As if the kernel's OOM killer took it: no result, nothing from the CLI about the session.
        let running = cli_processes(cli, b.pid());
        assert!(!running.is_empty(), "claude runs");
        for pid in running {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let answer = b.answer(id);
        assert!(
            answer.get("error").is_some(),
            "an error, not a fresh session's answer: {answer}"
        );
        assert_eq!(
            rig.session_of(&key_of(PEER)),
            session,
            "the session is kept"
        );
        b.a2a(from_agent("after", PEER));
        assert!(history(api.calls().last().unwrap()).contains("heard: hello"));
    });
}

#[test]
fn a_session_whose_transcript_is_gone_is_replaced_by_a_fresh_one() {
    each_cli(|cli| {
        let api = heard_api();
        let rig = RealRig::new(cli, &api);
        let mut b = rig.start(&[]);
        b.a2a(from_agent("hello", PEER));
        let old = rig.session_of(&key_of(PEER)).expect("a session");
        let projects = rig.home().join(".claude/projects");
        let mut removed = 0;
        for project in std::fs::read_dir(&projects).expect("projects").flatten() {
            let transcript = project.path().join(format!("{old}.jsonl"));
            if std::fs::remove_file(transcript).is_ok() {
                removed += 1;
            }
        }
        assert_eq!(removed, 1, "the transcript was under {projects:?}");
        let answer = b.a2a(from_agent("again", PEER));
        assert_eq!(reply_text(&answer), "heard: again");
        let fresh = rig.session_of(&key_of(PEER)).expect("a session");
        assert_ne!(fresh, old);
    });
}
