//! `molecule connect` with a peer on another runtime: like the platform's own Python SDK, it
//! answers every message with a fresh messageId and no contextId or metadata, so the hop limit
//! never counts its turns, and against an echo the two once answered each other without end.
//! Now the peer gets `--foreign-reply-limit` answers with no message from the person in
//! between, then its messages are delivered but not answered, the canvas is told, and a
//! message from the person resumes the exchange.

use molecule_emulator::{DevMessage, SendAs};

use super::connect_emu::Emu;
use super::connect_host::{Site, echo};
use super::support::wait::until_some;

const LIMIT: usize = 3;

/// How many of main's answers the peer has received.
fn answers(emu: &Emu) -> usize {
    emu.texts(emu.peer.id)
        .iter()
        .filter(|t| t.starts_with("echo: "))
        .count()
}

#[tokio::test]
async fn a_peer_that_answers_everything_without_metadata_is_paused_after_its_budget() {
    let emu = Emu::start().await;
    let site = Site::new();
    let host = emu.serve(&site, &echo(), &["--foreign-reply-limit", "3"]);
    host.wait_log("serving", |_| true).await;
    emu.peer_posts("hello").await;
    // The peer's runtime answers every message it receives.
    for n in 1..=LIMIT {
        until_some(&format!("answer {n} at the peer"), async || {
            (answers(&emu) >= n).then_some(())
        })
        .await;
        emu.peer_posts(&format!("reply {n}")).await;
    }
    let paused = host
        .wait_log("row handled", |e| {
            e["outcome"] == "reply_suppressed_reply_loop"
        })
        .await;
    assert!(paused["row"].is_string());
    let stopped = host.wait_log("stopped answering agent", |_| true).await;
    assert_eq!(stopped["level"], "WARN");
    let notice = until_some("the notice in the canvas", async || {
        emu.notices()
            .into_iter()
            .find(|n| n.contains("I stopped answering the agent"))
    })
    .await;
    assert!(notice.contains(&emu.peer.id.to_string()), "{notice}");
    assert_eq!(answers(&emu), LIMIT, "the loop ended");
    // The person writes: the peer is answered again.
    let hi = DevMessage {
        text: "what was that?".into(),
        ..DevMessage::default()
    };
    emu.emu
        .send(emu.main.id, SendAs::Canvas, hi)
        .await
        .expect("sent");
    emu.peer_posts("after the person").await;
    emu.peer_got("echo: after the person").await;
    assert_eq!(answers(&emu), LIMIT + 1);
    host.stop().await;
}
