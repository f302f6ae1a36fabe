//! The platform client's event stream and the wake-up follower, against the emulator: events
//! read through the client, wake-ups on events and on every (re)connect, the platform without
//! the route (said once, asked again rarely), and a 401 that wakes the reader and recovers
//! once the token file holds a good token.
#![expect(clippy::unwrap_used, reason = "tests fail on the first surprise")]

use std::sync::Arc;
use std::time::Duration;

use molecule_emulator::{Compat, DevMessage, EmulatorConfig, Endpoint, SendAs};
use molecule_host::platform::{
    PlatformClient, PlatformConfig, PlatformError, PlatformEvent, StreamItem, TokenSource,
};
use molecule_host::wake::{Filter, StreamSettings, StreamState, Wake, follow};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::emulator_support::{Env, env, env_with};
use crate::platform_support::{Logs, write_token};
use crate::support::wait::{until, within};

const HOUR: Duration = Duration::from_secs(3600);

/// A client of `ws` on the emulator reading its token from a file.
fn client(e: &Env, ws: Uuid, token: &str) -> (PlatformClient, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    write_token(&file, token);
    let cfg = PlatformConfig::new(e.emu.base_url(), &ws.to_string()).unwrap();
    let c = PlatformClient::new(cfg, TokenSource::from_file(&file).unwrap()).unwrap();
    (c, dir)
}

fn fast() -> StreamSettings {
    StreamSettings {
        safety_interval: HOUR,
        reconnect_base: Duration::from_millis(5),
        reconnect_max: Duration::from_millis(50),
        unsupported_retry: Duration::from_millis(20),
        ..StreamSettings::default()
    }
}

fn messages_only() -> Filter {
    Arc::new(|e: &PlatformEvent| e.field("method") == Some("message/send"))
}

async fn say(e: &Env, text: &str) {
    let msg = DevMessage {
        text: text.into(),
        ..DevMessage::default()
    };
    e.emu
        .send(e.main.id, SendAs::Workspace(e.peer.id), msg)
        .await
        .unwrap();
}

/// Rests an hour at most: only a wake-up ends it in time.
async fn woken(wake: &mut Wake, what: &str) {
    assert!(within(what, wake.rest(Instant::now(), HOUR)).await);
}

#[tokio::test]
async fn the_client_reads_envelopes_and_tells_refusals_apart() {
    let e = env().await;
    let (c, _dir) = client(&e, e.main.id, &e.main.token);
    let mut stream = c.event_stream().await.unwrap();
    say(&e, "hi").await;
    let Some(StreamItem::Event(ev)) = within("an event", stream.next()).await.unwrap() else {
        panic!("not an event");
    };
    assert_eq!(ev.kind, PlatformEvent::ACTIVITY_LOGGED);
    assert_eq!(ev.field("activity_type"), Some("a2a_receive"));
    let (stranger, _d) = client(&e, Uuid::new_v4(), e.emu.admin_token());
    let err = stranger.event_stream().await.unwrap_err();
    assert!(
        matches!(err, PlatformError::NoSuchWorkspace { .. }),
        "{err}"
    );
    let (bad, _d) = client(&e, e.main.id, &e.peer.token);
    let err = bad.event_stream().await.unwrap_err();
    assert!(matches!(err, PlatformError::Unauthorized { .. }), "{err}");
    let old = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    let (c, _d) = client(&old, old.main.id, &old.main.token);
    let err = c.event_stream().await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    assert!(!matches!(err, PlatformError::NoSuchWorkspace { .. }));
}

#[tokio::test]
async fn the_reader_is_woken_on_connect_on_events_and_after_a_reconnect() {
    let (logs, _guard) = Logs::capture();
    let e = env().await;
    let (c, _dir) = client(&e, e.main.id, &e.main.token);
    let cancel = CancellationToken::new();
    let (mut wake, task) = follow(c, fast(), messages_only(), cancel.clone());
    woken(&mut wake, "the wake-up of the first connect").await;
    assert_eq!(wake.state(), StreamState::Live);
    logs.wait_for("event stream live:").await;
    say(&e, "one").await;
    woken(&mut wake, "the wake-up of a message").await;
    assert_eq!(e.emu.cut_streams(e.main.id), 1);
    logs.wait_for("event stream lost (closed by the platform)")
        .await;
    woken(&mut wake, "the wake-up of the reconnect").await;
    logs.wait_for("event stream live again").await;
    until("the stream to be open again", || {
        e.emu.workspace_state(e.main.id).unwrap()["event_streams"] == 1
    })
    .await;
    say(&e, "two").await;
    woken(&mut wake, "the wake-up of a message on the new stream").await;
    cancel.cancel();
    within("the follower to stop", task.unwrap()).await.unwrap();
    assert!(
        !logs.text().contains(&e.main.token),
        "the token is never logged"
    );
}

#[tokio::test]
async fn a_platform_without_the_route_is_said_once_and_asked_again_rarely() {
    let (logs, _guard) = Logs::capture();
    let e = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    let (c, _dir) = client(&e, e.main.id, &e.main.token);
    let cancel = CancellationToken::new();
    let (wake, _task) = follow(c, fast(), messages_only(), cancel.clone());
    until("three attempts", || {
        e.emu.stats().requests_to(Endpoint::Events) >= 3
    })
    .await;
    assert_eq!(wake.state(), StreamState::Unsupported);
    let said = logs.lines_with(&["the platform has no event stream"]);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("HTTP 404") && said[0].contains("INFO"),
        "{said:?}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn a_401_wakes_the_reader_and_a_rotated_token_file_reopens_the_stream() {
    let (logs, _guard) = Logs::capture();
    let e = env().await;
    let (c, dir) = client(&e, e.main.id, &e.main.token);
    let revoked = e.emu.revoke_tokens(e.main.id).unwrap();
    assert_eq!(revoked, 1);
    let cancel = CancellationToken::new();
    let (mut wake, _task) = follow(c, fast(), messages_only(), cancel.clone());
    woken(&mut wake, "the wake-up of the 401").await;
    assert_eq!(wake.state(), StreamState::Down);
    logs.wait_for("HTTP 401").await;
    write_token(
        &dir.path().join("token"),
        &e.emu.mint_token(e.main.id).unwrap(),
    );
    logs.wait_for("event stream live again").await;
    assert_eq!(wake.state(), StreamState::Live);
    logs.wait_for("the token changed after a 401").await;
    assert!(
        !logs.text().contains(&e.main.token),
        "the token is never logged"
    );
    cancel.cancel();
}
