//! One Claude session per conversation: minted, resumed, adopted, recovered, persisted, capped.

use crate::support::{Rig, flag, from_agent, reply_text};

const PEER_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const PEER_B: &str = "bbbbbbbb-0000-4000-8000-000000000002";

#[test]
fn the_first_turn_mints_a_session_and_the_second_resumes_it() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let first = b.a2a(from_agent("hello", PEER_A));
    assert_eq!(reply_text(&first), "claude heard: hello");
    let second = b.a2a(from_agent("again", PEER_A));
    assert_eq!(reply_text(&second), "claude heard: again");
    let runs = rig.runs();
    assert_eq!(runs.len(), 2);
    let minted = flag(&runs[0], "session-id").expect("--session-id= on the first turn");
    assert!(uuid::Uuid::parse_str(&minted).is_ok(), "{minted}");
    assert_eq!(flag(&runs[0], "resume"), None);
    assert_eq!(flag(&runs[1], "resume").as_deref(), Some(minted.as_str()));
    assert_eq!(flag(&runs[1], "session-id"), None);
}

#[test]
fn two_conversations_get_two_sessions() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.a2a(from_agent("one", PEER_A));
    b.a2a(from_agent("two", PEER_B));
    b.a2a(from_agent("three", PEER_A));
    let runs = rig.runs();
    let a = flag(&runs[0], "session-id").unwrap();
    let bb = flag(&runs[1], "session-id").unwrap();
    assert_ne!(a, bb);
    assert_eq!(flag(&runs[2], "resume"), Some(a));
}

#[test]
fn a_restarted_backend_resumes_from_the_stored_map() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.a2a(from_agent("before", PEER_A));
    b.close_stdin();
    assert!(b.wait_exit().success());
    let mut again = rig.start(&[]);
    let answer = again.a2a(from_agent("after", PEER_A));
    assert_eq!(reply_text(&answer), "claude heard: after");
    let runs = rig.runs();
    assert_eq!(flag(&runs[1], "resume"), flag(&runs[0], "session-id"));
}

#[test]
fn a_changed_session_id_in_the_result_is_adopted() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.a2a(from_agent("[fake:new-id] switch", PEER_A));
    b.a2a(from_agent("next", PEER_A));
    let runs = rig.runs();
    let first = flag(&runs[0], "session-id").unwrap();
    let next = flag(&runs[1], "resume").expect("a resume");
    assert_ne!(next, first, "the result's id, not the minted one");
    let map = rig.session_map();
    assert_eq!(
        map["sessions"][format!("agent:{PEER_A}")]["sessionId"],
        next
    );
}

#[test]
fn no_conversation_found_starts_a_fresh_session_and_still_answers() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.a2a(from_agent("first", PEER_A));
    let answer = b.a2a(from_agent("[fake:forget] second", PEER_A));
    assert_eq!(reply_text(&answer), "claude heard: [fake:forget] second");
    let runs = rig.runs();
    assert_eq!(runs.len(), 3, "the failed resume, then a fresh session");
    let old = flag(&runs[0], "session-id").unwrap();
    assert_eq!(flag(&runs[1], "resume"), Some(old.clone()));
    let fresh = flag(&runs[2], "session-id").expect("a fresh --session-id=");
    assert_ne!(fresh, old);
    // The conversation goes on in the fresh session.
    b.a2a(from_agent("third", PEER_A));
    assert_eq!(flag(&rig.runs()[3], "resume"), Some(fresh));
}

#[test]
fn the_session_map_cap_evicts_the_least_recently_used() {
    let rig = Rig::new();
    let mut b = rig.start(&["--max-sessions", "2"]);
    for peer in [PEER_A, PEER_B] {
        b.a2a(from_agent("hi", peer));
    }
    b.a2a(from_agent("hi again", PEER_A));
    let peer_c = "cccccccc-0000-4000-8000-000000000003";
    b.a2a(from_agent("hi", peer_c));
    let map = rig.session_map();
    let keys: Vec<&String> = map["sessions"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "{map}");
    assert!(
        map["sessions"].get(format!("agent:{PEER_B}")).is_none(),
        "B was the least recently used: {map}"
    );
    assert_eq!(map["version"], 1);
    // B starts a fresh session; A still resumes.
    b.a2a(from_agent("back", PEER_B));
    let last = rig.runs().pop().unwrap();
    assert!(
        flag(&last, "session-id").is_some(),
        "B lost its session: {last}"
    );
}

#[test]
fn a_fresh_session_id_already_in_use_starts_another_fresh_session() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:in-use] hello", PEER_A));
    assert_eq!(reply_text(&answer), "claude heard: [fake:in-use] hello");
    let runs = rig.runs();
    assert_eq!(runs.len(), 2, "the refused id, then another fresh one");
    let refused = flag(&runs[0], "session-id").expect("a fresh --session-id=");
    let fresh = flag(&runs[1], "session-id").expect("another fresh --session-id=");
    assert_ne!(fresh, refused);
    assert_eq!(
        rig.session_map()["sessions"][format!("agent:{PEER_A}")]["sessionId"],
        fresh.as_str()
    );
    b.a2a(from_agent("next", PEER_A));
    assert_eq!(flag(&rig.runs()[2], "resume"), Some(fresh));
}

#[test]
fn an_exit_without_a_result_keeps_the_session_for_the_next_message() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.a2a(from_agent("first", PEER_A));
    let old = flag(&rig.runs()[0], "session-id").unwrap();
    // The resumed turn dies without a result and without saying the session is unusable: an
    // error for this message, and the conversation keeps its session (and history).
    let failed = b.a2a(from_agent("[fake:die-on-resume] second", PEER_A));
    let e = &failed["error"];
    assert_eq!(e["code"], -32603, "{failed}");
    assert!(e["data"]["userMessage"].is_string(), "{failed}");
    assert_eq!(rig.runs().len(), 2, "no fresh session was tried");
    assert_eq!(
        rig.session_map()["sessions"][format!("agent:{PEER_A}")]["sessionId"],
        old.as_str()
    );
    b.a2a(from_agent("third", PEER_A));
    assert_eq!(flag(&rig.runs()[2], "resume"), Some(old));
}

#[test]
fn an_empty_message_is_refused_before_claude_runs() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.a2a(from_agent("first", PEER_A));
    for empty in ["", "  \n "] {
        let answer = b.a2a(from_agent(empty, PEER_A));
        assert_eq!(answer["error"]["code"], 1004, "{answer}");
        assert!(
            answer["error"]["data"]["userMessage"]
                .as_str()
                .unwrap()
                .contains("empty")
        );
    }
    assert_eq!(rig.runs().len(), 1, "claude never saw the empty messages");
    b.a2a(from_agent("again", PEER_A));
    assert_eq!(
        flag(&rig.runs()[1], "resume"),
        flag(&rig.runs()[0], "session-id")
    );
}
