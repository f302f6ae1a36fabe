//! The emulator's event stream on the wire: the opening comment, one `ACTIVITY_LOGGED` per row
//! with the platform's envelope and members, the refusals, the 64-event buffer, and the stream
//! faults (drop all, drop a fraction, cut after N, delay) and the admin cut.
#![expect(clippy::unwrap_used, reason = "tests fail on the first surprise")]

use crate::emulator_support::{Env, env, env_with};
use crate::support::wait::{until, within};
use molecule_emulator::{
    Compat, DevMessage, EmulatorConfig, FaultConfig, SendAs, StatsSnapshot, StreamFaults,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// An open stream read frame by frame (a frame ends with a blank line).
struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(e: &Env, ws: Uuid, token: &str) -> Sse {
        let resp = e
            .http
            .get(e.url(&format!("/workspaces/{ws}/events/stream")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        Sse {
            resp,
            buf: String::new(),
        }
    }

    /// The next frame without its blank line; `None` when the stream ended.
    async fn frame(&mut self) -> Option<String> {
        within("a frame of the event stream", async {
            loop {
                if let Some(i) = self.buf.find("\n\n") {
                    let frame = self.buf[..i].to_owned();
                    self.buf.drain(..i + 2);
                    return Some(frame);
                }
                match self.resp.chunk().await.unwrap() {
                    Some(c) => self.buf.push_str(std::str::from_utf8(&c).unwrap()),
                    None => return None,
                }
            }
        })
        .await
    }

    /// The next frame as an event envelope.
    async fn event(&mut self) -> Value {
        let frame = self.frame().await.expect("an event, not the end");
        serde_json::from_str(frame.strip_prefix("data: ").expect("a data line")).unwrap()
    }
}

async fn say(e: &Env, text: &str) -> String {
    let mid = Uuid::new_v4().to_string();
    let msg = DevMessage {
        text: text.into(),
        message_id: Some(mid.clone()),
        ..DevMessage::default()
    };
    e.emu
        .send(e.main.id, SendAs::Workspace(e.peer.id), msg)
        .await
        .unwrap();
    mid
}

async fn say_many(e: &Env, prefix: &str, n: usize) {
    for i in 0..n {
        say(e, &format!("{prefix} {i}")).await;
    }
}

/// Stream faults from a drop rate, a cut and a delay.
fn faults(drop: f64, cut_after: Option<u64>, delay_ms: u64) -> StreamFaults {
    StreamFaults {
        drop,
        cut_after,
        delay_ms,
    }
}

fn stream_faults(e: &Env, stream: StreamFaults) {
    e.emu.set_faults(FaultConfig {
        seed: 11,
        stream,
        ..FaultConfig::default()
    });
}

async fn stats_until(e: &Env, what: &str, cond: impl Fn(&StatsSnapshot) -> bool) {
    until(what, || cond(&e.emu.stats())).await;
}

#[tokio::test]
async fn the_stream_opens_with_a_ping_and_announces_every_row() {
    let e = env().await;
    let resp = e
        .http
        .get(e.url(&format!("/workspaces/{}/events/stream", e.main.id)))
        .bearer_auth(&e.main.token)
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    let mut s = Sse {
        resp,
        buf: String::new(),
    };
    assert_eq!(s.frame().await.as_deref(), Some(": ping"));
    assert_eq!(
        e.emu.workspace_state(e.main.id).unwrap()["event_streams"],
        1
    );
    let mid = say(&e, "hello").await;
    let ev = s.event().await;
    assert_eq!(ev["type"], "ACTIVITY_LOGGED");
    assert!(ev["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    let d = &ev["data"];
    assert_eq!(d["activity_type"], "a2a_receive");
    assert_eq!(d["method"], "message/send");
    assert_eq!(d["source_id"], e.peer.id.to_string());
    assert_eq!(d["target_id"], e.main.id.to_string());
    assert_eq!(d["status"], "ok");
    assert_eq!(d["message_id"], mid);
    assert_eq!(d["request_body"]["params"]["message"]["messageId"], mid);
    assert!(d["summary"].is_string());
    assert!(d.get("id").is_none(), "no row id: {d}");
    // The workspace's own canvas message is a row of its feed too.
    let notify = json!({"message": "done"});
    let path = format!("/workspaces/{}/notify", e.main.id);
    let (st, _, _) = e
        .call(Method::POST, &path, Some(&e.main.token), Some(&notify))
        .await;
    assert_eq!(st, 200);
    let ev = s.event().await;
    assert_eq!(ev["data"]["method"], "notify");
    assert_eq!(ev["data"]["response_body"]["result"], "done");
    // The peer's stream saw none of main's rows.
    let mut p = Sse::open(&e, e.peer.id, &e.peer.token).await;
    assert_eq!(p.frame().await.as_deref(), Some(": ping"));
    let stats = e.emu.stats();
    assert_eq!((stats.events_sent, stats.streams_opened), (2, 2));
    assert_eq!(stats.requests_to(molecule_emulator::Endpoint::Events), 2);
}

#[tokio::test]
async fn refusals_unknown_workspace_bad_token_and_the_older_platform() {
    let e = env().await;
    let path = |id: Uuid| format!("/workspaces/{id}/events/stream");
    let (s, _, v) = e
        .call(
            Method::GET,
            &path(Uuid::new_v4()),
            Some(e.emu.admin_token()),
            None,
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "workspace not found"})
        )
    );
    let (s, _, _) = e
        .call(Method::GET, &path(e.main.id), Some(&e.peer.token), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = e.call(Method::GET, &path(e.main.id), None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let old = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    let (s, _, v) = old
        .call(Method::GET, &path(old.main.id), Some(&old.main.token), None)
        .await;
    assert_eq!((s, v), (StatusCode::NOT_FOUND, json!("404 page not found")));
}

#[tokio::test]
async fn a_slow_subscriber_loses_what_does_not_fit_its_64_event_buffer() {
    let e = env().await;
    let mut s = Sse::open(&e, e.main.id, &e.main.token).await;
    s.frame().await;
    // Each event is held 20 ms on its way out, so a burst backs up into the buffer.
    stream_faults(&e, faults(0.0, None, 20));
    say_many(&e, "burst", 100).await;
    stats_until(&e, "every event sent or dropped", |st| {
        st.events_sent + st.events_dropped_full == 100
    })
    .await;
    let st = e.emu.stats();
    assert!(st.events_dropped_full >= 1, "{st:?}");
    assert!(st.events_queued <= 100 && st.events_queued == st.events_sent);
    for _ in 0..st.events_sent {
        assert_eq!(s.event().await["type"], "ACTIVITY_LOGGED");
    }
}

#[tokio::test]
async fn stream_faults_drop_cut_and_delay_events() {
    let e = env().await;
    let mut s = Sse::open(&e, e.main.id, &e.main.token).await;
    s.frame().await;
    // Every event dropped: the first one written is the one sent after the fault is lifted.
    stream_faults(&e, faults(1.0, None, 0));
    say_many(&e, "lost", 3).await;
    stats_until(&e, "three events dropped", |st| {
        st.events_dropped_fault == 3
    })
    .await;
    stream_faults(&e, StreamFaults::default());
    let kept = say(&e, "kept").await;
    assert_eq!(s.event().await["data"]["message_id"], kept);
    // A fraction dropped.
    stream_faults(&e, faults(0.5, None, 0));
    say_many(&e, "half", 40).await;
    stats_until(&e, "forty more events sent or dropped", |st| {
        st.events_sent + st.events_dropped_fault == 44
    })
    .await;
    let st = e.emu.stats();
    assert!(
        st.events_sent > 5 && st.events_dropped_fault > 3 + 5,
        "{st:?}"
    );
    for _ in 1..st.events_sent {
        s.event().await;
    }
    // Delayed: the event is written no sooner than the delay.
    stream_faults(&e, faults(0.0, None, 150));
    let started = Instant::now();
    say(&e, "late").await;
    s.event().await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    // Cut after two events: the third never comes, the stream ends.
    drop(s);
    stream_faults(&e, faults(0.0, Some(2), 0));
    let mut c = Sse::open(&e, e.main.id, &e.main.token).await;
    c.frame().await;
    say_many(&e, "cut", 3).await;
    c.event().await;
    c.event().await;
    assert_eq!(c.frame().await, None);
    assert!(e.emu.stats().streams_cut >= 1);
}

#[tokio::test]
async fn the_admin_api_cuts_a_workspace_s_streams() {
    let e = env().await;
    let mut s = Sse::open(&e, e.main.id, &e.main.token).await;
    s.frame().await;
    let path = format!("/_dev/workspaces/{}/cut-streams", e.main.id);
    let (st, _, v) = e.call(Method::POST, &path, None, None).await;
    assert_eq!((st, v), (StatusCode::OK, json!({"cut": 1})));
    assert_eq!(s.frame().await, None);
    until("the stream to be forgotten", || {
        e.emu.workspace_state(e.main.id).unwrap()["event_streams"] == 0
    })
    .await;
    assert_eq!(e.emu.cut_streams(e.main.id), 0);
}
