//! `molecule connect` when the backend misbehaves: it hangs, crashes mid-row, always crashes
//! on one row, answers errors, or crashes in a loop (the breaker). The scripted backend is a
//! few lines of Python on the SDK; the first word of a message picks what it does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use molecule_protocol::keys::{idempotency_key, reply_message_id};
use serde_json::{Value, json};
use uuid::Uuid;

use super::connect_host::{Host, Site, TEST_BACKEND};
use super::connect_platform::{PEER, PEER2, Platform, WS};

const SCRIPT: &str = r#"
import os, sys, threading, time
sys.path.insert(0, os.environ["SDK_DIR"])
import molecule_plugin as mp

LOCK = threading.Lock()
IN_FLIGHT = [0]

MARKS = os.environ["MARK_DIR"]
if os.path.exists(os.path.join(MARKS, "refuse-start")):
    sys.exit(9)

def seen(key, name):
    path = os.path.join(MARKS, key + "." + name)
    n = int(open(path).read()) if os.path.exists(path) else 0
    open(path, "w").write(str(n + 1))
    return n

class Scripted(mp.Backend):
    name, version, max_concurrency = "scripted", "1.0", 4

    def handle_a2a(self, params, ctx):
        with LOCK:
            IN_FLIGHT[0] += 1
        try:
            return self.handle(params, ctx)
        finally:
            with LOCK:
                IN_FLIGHT[0] -= 1

    def handle(self, params, ctx):
        text = mp.message_text(params)
        word = text.split()[0]
        key = params["context"]["idempotencyKey"]
        attempt = params["context"]["attempt"]
        if word == "crash-once" and seen(key, "crash") == 0:
            os._exit(3)
        if word == "always-crash":
            os._exit(4)
        if word == "refuse":
            raise mp.BackendError.refused("policy says no", user_message="I cannot help with that.")
        if word == "boom":
            raise RuntimeError("secret internals: stack and state")
        if word in ("innocent", "poison") and attempt == 1:
            # The first delivery of each waits until all three are in flight together, and
            # the poison row then kills the backend under all of them.
            while IN_FLIGHT[0] < 3:
                time.sleep(0.005)
            if word == "innocent":
                time.sleep(3600)
        if word == "poison":
            os._exit(5)
        if word == "innocent":
            time.sleep(0.2)  # some work: run beside the poison row, it would die with it again
            return "innocent: %d in flight (attempt %d)" % (IN_FLIGHT[0], attempt)
        if word == "busy-twice" and seen(key, "busy") < 2:
            raise mp.BackendError.busy("queue full", retry_after_ms=20)
        return "ok: %s (attempt %d, key %s)" % (text, attempt, key)

mp.run(Scripted())
"#;

/// The scripted backend, its marks directory, and the command to run it.
pub struct Scripted {
    pub site: Site,
    pub marks: PathBuf,
}

impl Scripted {
    pub fn new() -> Scripted {
        let site = Site::new();
        let marks = site.dir.path().join("marks");
        std::fs::create_dir_all(&marks).expect("marks");
        std::fs::write(site.dir.path().join("scripted.py"), SCRIPT).expect("script");
        Scripted { site, marks }
    }

    pub fn args(&self, url: &str) -> Vec<String> {
        let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins/sdk/python");
        let script = self.site.dir.path().join("scripted.py");
        let mut a = self
            .site
            .args(url, &format!("python3 {}", script.display()));
        a.extend(["--backend-env".into(), format!("SDK_DIR={sdk}")]);
        a.extend([
            "--backend-env".into(),
            format!("MARK_DIR={}", self.marks.display()),
        ]);
        a.extend(["--backend-breaker-crashes", "100"].map(String::from));
        a
    }
}

pub fn own() -> Uuid {
    Uuid::parse_str(WS).expect("a uuid")
}

/// The replies posted to agents, by the row they answer (their derived messageId).
pub async fn replies_by_row(platform: &Platform, rows: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in platform.replies().await {
        let m = &r["params"]["message"];
        let id = m["messageId"].as_str().expect("messageId");
        let row = rows
            .iter()
            .find(|row| reply_message_id(&own(), row) == id)
            .map_or("?", |r| r);
        map.entry(row.to_owned())
            .or_default()
            .push(m["parts"][0]["text"].as_str().unwrap_or("").to_owned());
    }
    map
}

#[tokio::test]
async fn heartbeats_keep_beating_while_the_backend_hangs() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    args.extend(["--drain-timeout", "100ms"].map(String::from));
    let host = Host::start(&args);
    platform.agent_says(PEER, "hang", None);
    let busy = |r: &wiremock::Request| {
        r.url.path() == "/registry/heartbeat"
            && r.body_json::<Value>().is_ok_and(|b| b["active_tasks"] == 1)
    };
    platform
        .wait_for("a heartbeat while the backend works", |reqs| {
            reqs.iter().any(busy).then_some(())
        })
        .await;
    platform
        .wait_for("four more of them", |reqs| {
            (reqs.iter().filter(|r| busy(r)).count() >= 5).then_some(())
        })
        .await;
    platform
        .wait_for("a real uptime (the seed always sent 0)", |reqs| {
            reqs.iter()
                .filter(|r| r.url.path() == "/registry/heartbeat")
                .find_map(|r| {
                    (r.body_json::<Value>().ok()?["uptime_seconds"].as_u64()? >= 1).then_some(())
                })
        })
        .await;
    assert!(platform.replies().await.is_empty());
    host.stop().await;
}

#[tokio::test]
async fn a_crash_mid_row_redelivers_it_and_it_is_answered_once_with_its_message_id() {
    let platform = Platform::start().await;
    let s = Scripted::new();
    let host = Host::start(&s.args(&platform.url()));
    let row = platform.agent_says(PEER, "crash-once please", None);
    let other = platform.agent_says(PEER2, "plain", None);
    platform.wait_replies(2).await;
    platform.more_polls(3).await;
    let replies = replies_by_row(&platform, &[&row, &other]).await;
    let key = idempotency_key(&own(), &row);
    assert_eq!(
        replies[&row],
        [format!("ok: crash-once please (attempt 2, key {key})")]
    );
    assert_eq!(replies[&other].len(), 1);
    host.wait_log("delivery failed", |e| e["row"] == row.as_str())
        .await;
    host.stop().await;
}

#[tokio::test]
async fn a_row_that_always_crashes_gets_an_error_reply_after_n_attempts_and_the_queue_moves_on() {
    let platform = Platform::start().await;
    let s = Scripted::new();
    let mut args = s.args(&platform.url());
    args.extend(["--max-attempts", "3"].map(String::from));
    let poison = platform.agent_says(PEER, "always-crash", Some("p"));
    let fine: Vec<String> = (0..4)
        .map(|i| platform.agent_says(PEER2, &format!("fine {i}"), Some(&format!("c{i}"))))
        .collect();
    let host = Host::start(&args);
    platform.wait_replies(5).await;
    let after = platform.agent_says(PEER, "after", Some("p"));
    platform.wait_replies(6).await;
    platform.more_polls(3).await;
    let mut rows: Vec<&str> = fine.iter().map(String::as_str).collect();
    rows.extend([poison.as_str(), after.as_str()]);
    let replies = replies_by_row(&platform, &rows).await;
    assert_eq!(
        replies[&poison],
        ["Sorry, something went wrong while handling your message."]
    );
    for row in fine.iter().chain([&after]) {
        assert_eq!(replies[row].len(), 1, "{replies:?}");
    }
    let failed = host
        .wait_log("row handled with an error", |e| e["row"] == poison.as_str())
        .await;
    assert_eq!(failed["attempts"], 3);
    host.stop().await;
}

#[tokio::test]
async fn error_answers_get_a_short_error_reply_and_retryable_ones_are_retried() {
    let platform = Platform::start().await;
    let s = Scripted::new();
    let host = Host::start(&s.args(&platform.url()));
    let refuse = platform.agent_says(PEER, "refuse this", Some("a"));
    let boom = platform.agent_says(PEER, "boom", Some("b"));
    let busy = platform.agent_says(PEER, "busy-twice then fine", Some("c"));
    platform.canvas_says("boom in the canvas");
    platform.wait_replies(4).await;
    let replies = replies_by_row(&platform, &[&refuse, &boom, &busy]).await;
    assert_eq!(replies[&refuse], ["I cannot help with that."]);
    assert_eq!(
        replies[&boom],
        ["Sorry, something went wrong while handling your message."]
    );
    assert!(
        replies[&busy][0].starts_with("ok: busy-twice then fine (attempt 3"),
        "{replies:?}"
    );
    let notify = platform.notifies().await;
    assert_eq!(
        notify,
        [json!({"message": "Sorry, something went wrong while handling your message."})]
    );
    for req in platform.requests().await {
        assert!(!String::from_utf8_lossy(&req.body).contains("secret internals"));
    }
    host.stop().await;
}

#[tokio::test]
async fn while_the_breaker_is_open_polling_pauses_and_heartbeats_say_so() {
    let platform = Platform::start().await;
    let s = Scripted::new();
    let mut args = s.args(&platform.url());
    args.extend(
        [
            "--backend-breaker-crashes",
            "2",
            "--backend-breaker-cooldown",
            "2s",
        ]
        .map(String::from),
    );
    let host = Host::start(&args);
    host.wait_log("serving", |_| true).await;
    std::fs::write(s.marks.join("refuse-start"), "").expect("mark");
    let row = platform.agent_says(PEER, "crash-once", None);
    let open = |r: &wiremock::Request| {
        r.url.path() == "/registry/heartbeat"
            && r.body_json::<Value>().is_ok_and(|b| {
                b["current_task"] == "backend unavailable: crash loop" && b["error_rate"] == 1.0
            })
    };
    let polls = |reqs: &[wiremock::Request]| {
        reqs.iter()
            .filter(|r| r.url.path().ends_with("/activity"))
            .count()
    };
    let at_second = platform
        .wait_for("two heartbeats saying the breaker is open", |reqs| {
            (reqs.iter().filter(|r| open(r)).count() >= 2).then(|| polls(reqs))
        })
        .await;
    let at_fourth = platform
        .wait_for("two more", |reqs| {
            (reqs.iter().filter(|r| open(r)).count() >= 4).then(|| polls(reqs))
        })
        .await;
    assert_eq!(at_second, at_fourth, "no poll while the breaker is open");
    host.wait_log("polling paused", |_| true).await;
    std::fs::remove_file(s.marks.join("refuse-start")).expect("unmark");
    platform.wait_replies(1).await;
    host.wait_log("polling resumed", |_| true).await;
    let replies = replies_by_row(&platform, &[&row]).await;
    assert_eq!(replies[&row].len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn an_unprompted_cancelled_answer_is_a_failed_attempt_not_a_lost_message() {
    // -32800 is valid only after a $/cancelRequest (SPEC §8). Taken at its word, the row would
    // be settled with nothing posted and the sender would never hear back.
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    args.extend(["--max-attempts", "3"].map(String::from));
    let host = Host::start(&args);
    let row = platform.agent_says(PEER, "self-cancel", Some("a"));
    let fine = platform.agent_says(PEER2, "fine", None);
    platform.wait_replies(2).await;
    platform.more_polls(3).await;
    let replies = replies_by_row(&platform, &[&row, &fine]).await;
    assert_eq!(
        replies[&row],
        ["Sorry, something went wrong while handling your message."]
    );
    assert_eq!(replies[&fine], ["echo: fine"]);
    let failed = host
        .wait_log("row handled with an error", |e| e["row"] == row.as_str())
        .await;
    assert_eq!(failed["attempts"], 3);
    let protocol = host
        .events()
        .into_iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("protocol error: it answered -32800"))
        })
        .count();
    assert_eq!(protocol, 3, "one protocol error logged per attempt");
    host.stop().await;
}

#[tokio::test]
async fn after_a_crash_the_rows_in_flight_run_alone_until_the_one_that_kills_it_is_found() {
    let platform = Platform::start().await;
    let s = Scripted::new();
    let mut args = s.args(&platform.url());
    args.extend(["--max-attempts", "3", "--concurrency", "4"].map(String::from));
    let third = "cccccccc-0000-4000-8000-000000000003";
    let rows = [
        platform.agent_says(PEER, "innocent one", None),
        platform.agent_says(PEER2, "poison", None),
        platform.agent_says(third, "innocent two", None),
    ];
    let host = Host::start(&args);
    platform.wait_replies(3).await;
    let replies = replies_by_row(&platform, &[&rows[0], &rows[1], &rows[2]]).await;
    // Each innocent row ran alone after the crash, and was charged only for the one crash it
    // was in: not for the poison row's later crashes.
    assert_eq!(replies[&rows[0]], ["innocent: 1 in flight (attempt 2)"]);
    assert_eq!(replies[&rows[2]], ["innocent: 1 in flight (attempt 2)"]);
    assert_eq!(
        replies[&rows[1]],
        ["Sorry, something went wrong while handling your message."]
    );
    let failed = host
        .wait_log("row handled with an error", |e| {
            e["row"] == rows[1].as_str()
        })
        .await;
    assert_eq!(failed["attempts"], 3);
    let retried = |row: &str| {
        host.events()
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("delivery failed"))
            })
            .filter(|e| e["row"] == row)
            .map(|e| e["attempt"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    assert_eq!(retried(&rows[0]), [1]);
    assert_eq!(retried(&rows[2]), [1]);
    assert_eq!(retried(&rows[1]), [1, 2]);
    host.stop().await;
}
