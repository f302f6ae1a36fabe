//! `$/progress` on every stream event, and on a timer while `claude` is silent.

use crate::support::{Rig, from_agent, reply_text};

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

#[test]
fn progress_arrives_for_each_event_while_claude_streams() {
    let rig = Rig::new();
    let mut cmd = rig.command(&[]);
    cmd.env("FAKE_CLAUDE_EVENTS", "4")
        .env("FAKE_CLAUDE_DELAY_MS", "20");
    let mut b = crate::support::Backend::spawn(&mut cmd);
    b.initialize();
    let id = b.send_a2a(from_agent("[fake:slow] go", PEER));
    let answer = b.answer(id);
    assert_eq!(reply_text(&answer), "claude heard: [fake:slow] go");
    let progress = b.progress(id);
    let tools = progress
        .iter()
        .filter(|p| p["params"]["message"] == "claude: tool_progress")
        .count();
    assert_eq!(tools, 4, "{progress:?}");
    assert!(
        progress
            .iter()
            .any(|p| p["params"]["message"] == "claude started")
    );
}

#[test]
fn progress_arrives_on_the_timer_while_claude_is_silent() {
    let rig = Rig::new();
    let mut cmd = rig.command(&["--progress-interval", "50ms"]);
    cmd.env("FAKE_CLAUDE_SILENCE_MS", "5000");
    let mut b = crate::support::Backend::spawn(&mut cmd);
    b.initialize();
    let id = b.send_a2a(from_agent("[fake:silent] think", PEER));
    for n in 1..=3 {
        b.wait_line(&format!("timer progress #{n}"), |v| {
            v["method"] == "$/progress"
                && v["params"]["id"] == id
                && v["params"]["message"] == "claude is working"
        });
    }
    b.cancel(id);
    assert_eq!(b.answer(id)["error"]["code"], -32800);
}
