//! `molecule connect` whose replies are answered 200 with an HTML page (a captive portal, a
//! proxy, a mistyped `--api-url`) instead of the platform's JSON: such a reply once counted as
//! delivered and was lost. Now it is posted again, with the same messageId, until the platform
//! answers, and given up as unconfirmed (logged, counted) if it never does.

use molecule_emulator::{DevMessage, Endpoint, HostileRule, SendAs};

use super::connect_emu::{Emu, rule};
use super::connect_host::{Site, echo};
use super::support::wait::until_some;

fn portal(endpoint: Endpoint, times: Option<u32>) -> HostileRule {
    HostileRule {
        times,
        status: Some(200),
        content_type: Some("text/html; charset=utf-8".into()),
        body: "<!DOCTYPE html><html><body>Sign in to continue</body></html>".into(),
        ..rule(endpoint, 0)
    }
}

async fn canvas_says(emu: &Emu, text: &str) {
    let msg = DevMessage {
        text: text.into(),
        ..DevMessage::default()
    };
    emu.emu
        .send(emu.main.id, SendAs::Canvas, msg)
        .await
        .expect("sent");
}

#[tokio::test]
async fn replies_answered_with_a_page_of_html_are_posted_again_until_the_platform_takes_them() {
    let emu = Emu::start().await;
    let site = Site::new();
    let host = emu.serve(&site, &echo(), &[]);
    host.wait_log("serving", |_| true).await;
    emu.hostile(vec![
        portal(Endpoint::Notify, Some(2)),
        portal(Endpoint::A2a, Some(2)),
    ]);
    canvas_says(&emu, "to the canvas").await;
    emu.peer_says("to the peer").await;
    emu.peer_got("echo: to the peer").await;
    until_some("the canvas reply", async || {
        emu.notices()
            .contains(&"echo: to the canvas".to_owned())
            .then_some(())
    })
    .await;
    assert_eq!(emu.emu.stats().hostile, 4);
    let warned = host.wait_log("not the platform's answer", |_| true).await;
    assert!(
        warned["message"]
            .as_str()
            .is_some_and(|m| m.contains("Sign in to continue")),
        "{warned}"
    );
    let handled = host.wait_handled(2).await;
    assert!(
        handled.iter().all(|e| e["outcome"] == "replied"),
        "{handled:?}"
    );
    // Each reply is in its feed once.
    assert_eq!(emu.notices(), ["echo: to the canvas"]);
    assert_eq!(emu.texts(emu.peer.id), ["echo: to the peer"]);
    host.stop().await;
}

#[tokio::test]
async fn a_reply_never_answered_by_the_platform_is_given_up_as_unconfirmed() {
    let emu = Emu::start().await;
    let site = Site::new();
    let host = emu.serve(&site, &echo(), &[]);
    host.wait_log("serving", |_| true).await;
    emu.hostile(vec![portal(Endpoint::Notify, None)]);
    canvas_says(&emu, "into the void").await;
    let handled = host.wait_handled(1).await;
    assert_eq!(handled[0]["outcome"], "reply_unconfirmed", "{handled:?}");
    assert_eq!(
        emu.emu.stats().hostile,
        6,
        "posted once and again five times"
    );
    assert!(emu.notices().is_empty());
    host.stop().await;
}
