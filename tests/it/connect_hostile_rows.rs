//! `molecule connect` against rows no healthy platform serves, through the real binary and a
//! wiremock feed that serves raw bytes: a row nested deeper than serde_json's recursion limit,
//! one with invalid UTF-8 inside, one with a malformed member (each once failed its whole
//! page, forever); two rows that together overflow the page cap, and one that alone does
//! (every poll failed); a 100 KB row id (it became the cursor, and every later poll failed
//! building its URL, across restarts); a page of every row when a few were asked for; a
//! `source_id` that writes a fake line and a colour into a text log.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::connect_host::{Host, Site, echo};
use super::connect_platform::{PEER, PEER2, Platform, reply_text};

const ROW_ERROR: &str = "Sorry, I could not read your message: the platform delivered it";

/// The replies posted so far, as (target path, text).
async fn replies(platform: &Platform) -> Vec<(String, String)> {
    platform
        .requests()
        .await
        .iter()
        .filter_map(|r| Some((r.url.path().to_owned(), reply_text(r)?)))
        .collect()
}

fn to(peer: &str) -> String {
    format!("/workspaces/{peer}/a2a")
}

/// A raw row from `source` around `body` (which must be the row's request_body, as bytes).
fn raw_row(source: &str, body: &[u8]) -> impl FnOnce(&str, &str, i64) -> Vec<u8> {
    let body = body.to_vec();
    let source = source.to_owned();
    move |id, at, seq| {
        let mut b = format!(
            r#"{{"id":"{id}","activity_type":"a2a_receive","source_id":"{source}","method":"message/send","request_body":"#
        )
        .into_bytes();
        b.extend(body);
        b.extend(format!(r#","created_at":"{at}","seq":{seq}}}"#).as_bytes());
        b
    }
}

#[tokio::test]
async fn a_row_that_does_not_parse_costs_only_itself() {
    let platform = Platform::start().await;
    let site = Site::new();
    platform.agent_says(PEER, "before", None);
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let deep = platform.push_raw(raw_row(PEER, deep.as_bytes()));
    let mut utf8 = br#"{"params":{"message":{"parts":[{"kind":"text","text":"bad "#.to_vec();
    utf8.extend([0xff, 0xfe]);
    utf8.extend(br#""}]}}}"#);
    let utf8 = platform.push_raw(raw_row(PEER2, &utf8));
    platform.push(json!({"source_id": PEER, "request_body": "not a JSON-RPC body", "seq": "zz"}));
    let after = platform.agent_says(PEER, "after", None);
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(5).await;
    let mut got = replies(&platform).await;
    got.sort();
    let row_error = |p: &(String, String), peer| p.0 == to(peer) && p.1.starts_with(ROW_ERROR);
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got.contains(&(to(PEER), "echo: before".into())), "{got:?}");
    assert!(got.contains(&(to(PEER), "echo: after".into())), "{got:?}");
    assert!(got.iter().any(|p| row_error(p, PEER)), "{got:?}");
    assert!(got.iter().any(|p| row_error(p, PEER2)), "{got:?}");
    let message_error = "Sorry, I could not read your message: it has no text";
    assert!(
        got.iter().any(|p| p.1.starts_with(message_error)),
        "{got:?}"
    );
    for (row, why) in [(&deep, "recursion limit"), (&utf8, "not valid JSON")] {
        let line = host
            .wait_log("cannot read this message", |e| e["row"] == row.as_str())
            .await;
        assert!(
            line["message"].as_str().is_some_and(|m| m.contains(why)),
            "{line}"
        );
    }
    host.wait_handled(5).await;
    host.stop().await;
    assert_eq!(
        site.state()["cursor"]["id"],
        after.as_str(),
        "the cursor passed them"
    );
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.more_polls(3).await;
    assert_eq!(replies(&platform).await.len(), 5, "nothing answered twice");
    host.stop().await;
}

#[tokio::test]
async fn a_page_over_the_cap_shrinks_and_a_row_over_it_alone_is_answered_and_passed() {
    let platform = Platform::start().await;
    let site = Site::new();
    let big = |c: &str| c.repeat(60_000);
    platform.agent_says(PEER, &big("a"), None);
    platform.agent_says(PEER, &big("b"), None);
    platform.agent_says(PEER2, &"c".repeat(150_000), None);
    let after = platform.agent_says(PEER, "after", None);
    let mut args = site.args(&platform.url(), &echo());
    args.extend(["--max-response-bytes".into(), "100000".into()]);
    let host = Host::start(&args);
    platform.wait_replies(4).await;
    let got = replies(&platform).await;
    assert_eq!(got.len(), 4);
    assert!(got.contains(&(to(PEER), format!("echo: {}", big("a")))));
    assert!(got.contains(&(to(PEER), format!("echo: {}", big("b")))));
    assert!(got.contains(&(to(PEER), "echo: after".into())));
    assert!(
        got.iter()
            .any(|p| p.0 == to(PEER2) && p.1.starts_with(ROW_ERROR))
    );
    let line = host.wait_log("cannot read this message", |_| true).await;
    assert!(
        line["message"]
            .as_str()
            .is_some_and(|m| m.contains("over the 100000-byte limit")),
        "{line}"
    );
    host.wait_handled(4).await;
    host.stop().await;
    assert_eq!(site.state()["cursor"]["id"], after.as_str());
}

#[tokio::test]
async fn a_row_id_that_is_not_a_uuid_never_becomes_the_cursor() {
    let platform = Platform::start().await;
    let site = Site::new();
    let long_id = "x".repeat(100_000);
    let bad = platform.agent_says(PEER, "long id", None);
    {
        let mut feed = platform.feed.lock().expect("feed");
        let row = feed.rows.iter_mut().find(|r| r["id"] == bad.as_str());
        row.expect("the row")["id"] = json!(long_id);
    }
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(1).await;
    host.wait_handled(1).await;
    // A later message still arrives: the bad id was never sent back as a cursor.
    let after = platform.agent_says(PEER, "after", None);
    platform.wait_replies(2).await;
    let got = replies(&platform).await;
    assert!(got[0].1.starts_with(ROW_ERROR), "{:?}", got[0].1);
    assert_eq!(got[1], (to(PEER), "echo: after".into()));
    host.wait_handled(2).await;
    let longest = host.lines().iter().map(String::len).max().unwrap_or(0);
    assert!(longest < 4000, "a log line quotes {longest} bytes");
    host.stop().await;
    assert_eq!(site.state()["cursor"]["id"], after.as_str());
    let polls: Vec<String> = platform
        .polls()
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect();
    assert!(
        polls.iter().all(|q| q.len() < 1000),
        "no poll carried the long id"
    );
}

#[tokio::test]
async fn a_saved_cursor_that_is_not_a_uuid_is_read_back_from_its_time() {
    let platform = Platform::start().await;
    let site = Site::new();
    let old = platform.agent_says(PEER, "answered before", None);
    let row = platform.feed.lock().expect("feed").rows[0].clone();
    // What an earlier version saved after taking the 100 KB id of the row after it for its
    // cursor.
    std::fs::create_dir_all(site.state_dir()).expect("state dir");
    let state = json!({"version": 1, "workspace_id": super::connect_platform::WS,
        "cursor": {"id": "x".repeat(100_000), "created_at": row["created_at"],
                   "seq": row["seq"].as_i64().expect("seq") + 1}});
    super::connect_host::write_private(&site.state_file(), &state.to_string());
    let new = platform.agent_says(PEER, "after the upgrade", None);
    let host = Host::start(&site.args(&platform.url(), &echo()));
    platform.wait_replies(1).await;
    host.wait_log("the saved cursor is not a row id", |_| true)
        .await;
    host.wait_handled(1).await;
    platform.more_polls(2).await;
    assert_eq!(
        replies(&platform).await,
        [(to(PEER), "echo: after the upgrade".to_owned())]
    );
    host.stop().await;
    assert_eq!(
        site.state()["cursor"]["id"],
        new.as_str(),
        "{old} stays answered"
    );
}

#[tokio::test]
async fn a_page_longer_than_asked_for_is_taken_up_to_the_limit() {
    let platform = Platform::start().await;
    let site = Site::new();
    platform.feed.lock().expect("feed").ignore_limit = true;
    let texts: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    for t in &texts {
        platform.agent_says(PEER, t, Some(t));
    }
    let mut args = site.args(&platform.url(), &echo());
    // Thirty messages from one agent without molecule metadata: no loop guard here.
    args.extend(
        [
            "--batch-size",
            "5",
            "--window",
            "10",
            "--foreign-reply-limit",
            "0",
        ]
        .map(String::from),
    );
    let host = Host::start(&args);
    platform.wait_replies(30).await;
    let warned = host
        .wait_log("more activity rows than the 5 asked for", |_| true)
        .await;
    assert_eq!(warned["level"], "WARN");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, t) in replies(&platform).await {
        *counts.entry(t).or_default() += 1;
    }
    assert_eq!(counts.len(), 30);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let taken: Vec<Value> = host
        .events()
        .into_iter()
        .filter(|e| {
            e["message"]
                == "more activity rows than the 5 asked for; the first 5 are taken (logged once)"
        })
        .collect();
    assert!(taken.len() <= 1, "logged once");
    host.stop().await;
}

#[tokio::test]
async fn a_source_id_cannot_forge_or_colour_a_text_log_line() {
    let platform = Platform::start().await;
    let site = Site::new();
    let evil = "evil\nerror forged line\u{1b}[31m";
    platform.agent_says(evil, "hi", None);
    let mut args = site.args(&platform.url(), &echo());
    args[1] = "text".into();
    let host = Host::start(&args);
    let handled = super::support::wait::until_some("the row handled", async || {
        host.lines().into_iter().find(|l| l.contains("row handled"))
    })
    .await;
    assert!(
        handled.contains("evil\\u{a}error forged line\\u{1b}[31m"),
        "{handled}"
    );
    let lines = host.lines();
    assert!(
        !lines.iter().any(|l| l.starts_with("error forged line")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains('\u{1b}')), "{lines:#?}");
}
