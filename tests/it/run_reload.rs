//! Reloading `molecule run`'s file, through the real binary on the emulator: `--reload` (the
//! pid file, then SIGHUP) starts the added workspace, drains and stops the removed one,
//! restarts the changed one, and leaves the unchanged one alone: a message in flight there (a
//! slow backend) is answered normally after the reload. An invalid file is refused with its
//! error and the running set stays.

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use nix::sys::signal::Signal;

use super::connect_host::run_out;
use super::metrics_status::{get, value};
use super::run_support::{Fleet, handled, logged, of};
use super::support::wait::{until, until_some};

fn count(host: &super::connect_host::Host, f: &Fleet, i: usize, text: &str) -> usize {
    of(host, f.id(i))
        .iter()
        .filter(|e| e["message"].as_str().is_some_and(|m| m.contains(text)))
        .count()
}

#[tokio::test]
async fn a_reload_adds_removes_and_restarts_around_a_message_in_flight() {
    let f = Fleet::start(4).await;
    let (code, _, err) = run_out(&f.args(&["--reload"]));
    assert_eq!(code, Some(3), "nothing runs yet: {err}");
    f.write("", &[f.entry(0, ""), f.entry(1, ""), f.entry(3, "")]);
    let host = f.run(&["--metrics-addr", "127.0.0.1:0"]);
    let line = host.wait_log("serving /metrics", |_| true).await;
    let addr = line["addr"].as_str().unwrap().to_owned();
    for i in [0, 1, 3] {
        logged(&host, f.id(i), "serving").await;
    }
    f.say(0, "sleep:3000 slow").await;
    let in_flight = format!("molecule_in_flight_rows{{workspace=\"{}\"}}", f.id(0));
    until_some("the slow message in flight", async || {
        let (_, _, text) = get(&addr, "/metrics", "text/plain");
        (value(&text, &in_flight) == Some(1.0)).then_some(())
    })
    .await;

    f.write(
        "",
        &[
            f.entry(0, ""),
            f.entry(2, ""),
            f.entry(3, "concurrency = 2"),
        ],
    );
    let (code, out, err) = run_out(&f.args(&["--reload"]));
    assert_eq!(code, Some(0), "{out}{err}");
    let reloaded = host.wait_log("reloaded", |_| true).await;
    let counts = ["added", "removed", "changed", "unchanged"].map(|k| reloaded[k].as_u64());
    assert_eq!(counts, [1, 1, 1, 1].map(Some), "{reloaded}");
    logged(&host, f.id(1), "the workspace stopped").await;
    // Restarted on a task of its own: its line may follow "reloaded".
    until("workspace 3 to start again", || {
        count(&host, &f, 3, "starting the workspace") >= 2
    })
    .await;
    assert_eq!(count(&host, &f, 3, "starting the workspace"), 2);
    for i in [2, 3] {
        f.say(i, "after the reload").await;
        handled(&host, f.id(i), 1).await;
    }
    // The slow message was answered by the backend that had it, after the reload.
    let rows = handled(&host, f.id(0), 1).await;
    assert_eq!(rows[0]["outcome"], "replied", "{rows:?}");
    let events = host.events();
    let at = |pred: &dyn Fn(&serde_json::Value) -> bool| events.iter().position(pred).unwrap();
    let reload_at = at(&|e| e["message"] == "reloaded");
    let id0 = f.id(0).to_string();
    let answered_at =
        at(&|e| e["message"] == "row handled" && e["span"]["workspace"] == id0.as_str());
    assert!(
        reload_at < answered_at,
        "the message was not in flight across the reload"
    );
    assert_eq!(count(&host, &f, 0, "starting the workspace"), 1);
    assert_eq!(count(&host, &f, 0, "stopping"), 0);

    // An invalid file changes nothing.
    let broken = format!("api_url = 5\n{}", f.entry(0, ""));
    std::fs::write(f.config(), broken).unwrap();
    host.signal(Signal::SIGHUP);
    let refused = host.wait_log("reload refused", |_| true).await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("molecule.toml:1:11: key api_url: expected a string"),
        "{refused}"
    );
    f.say(0, "still here").await;
    handled(&host, f.id(0), 2).await;
    host.stop().await;
}
