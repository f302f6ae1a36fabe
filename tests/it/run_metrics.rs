//! `molecule run --metrics-addr` and `molecule status` over a run's workspaces, through the real
//! binary on the emulator: one endpoint for the process, every series labelled by its
//! workspace (the scrape parses with `promtool` when it is installed), `/readyz` once every
//! workspace is ready; `molecule status` lists the run's workspaces from their state
//! directories, by the root that holds them or by the run file.

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use serde_json::Value;

use super::connect_host::run_out;
use super::metrics_status::{get, promtool_accepts, value};
use super::run_support::{Fleet, handled};
use super::support::wait::until_some;

const N: usize = 3;

/// `molecule status --json` with `args`, once every listed workspace shows `pid` running.
async fn listed(args: &[String], pid: u32) -> Vec<Value> {
    until_some("molecule status to list the run's workspaces", async || {
        let (_, out, _) = run_out(args);
        let list: Vec<Value> = serde_json::from_str(&out).ok()?;
        let all = list.len() == N
            && list.iter().all(|r| {
                r["liveness"] == "running" && r["status"]["pid"].as_u64() == Some(u64::from(pid))
            });
        all.then_some(list)
    })
    .await
}

#[tokio::test]
async fn one_endpoint_labels_every_workspace_and_status_lists_them() {
    let f = Fleet::start(N).await;
    let entries: Vec<String> = (0..N).map(|i| f.entry(i, "")).collect();
    f.write("", &entries);
    let host = f.run(&["--metrics-addr", "127.0.0.1:0"]);
    let line = host.wait_log("serving /metrics", |_| true).await;
    let addr = line["addr"].as_str().unwrap().to_owned();
    until_some("readyz to answer 200", async || {
        (get(&addr, "/readyz", "*/*").0 == 200).then_some(())
    })
    .await;
    for i in 0..2 {
        f.say(i, "hello").await;
        handled(&host, f.id(i), 1).await;
    }
    let (code, _, text) = get(&addr, "/metrics", "text/plain");
    assert_eq!(code, 200);
    promtool_accepts(&text);
    for i in 0..N {
        let label = format!("{{workspace=\"{}\"}}", f.id(i));
        assert_eq!(
            value(&text, &format!("molecule_registered{label}")),
            Some(1.0)
        );
        assert_eq!(
            value(&text, &format!("molecule_backend_up{label}")),
            Some(1.0)
        );
    }
    let answered = |i: usize| {
        let id = f.id(i);
        format!(
            "molecule_rows_handled_total{{workspace=\"{id}\",outcome=\"replied\",result=\"answered\"}}"
        )
    };
    assert_eq!(value(&text, &answered(0)), Some(1.0), "{text}");
    assert_eq!(value(&text, &answered(1)), Some(1.0), "{text}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("workspace=\""), "unlabelled: {line}");
    }
    let endpoints = host
        .events()
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("serving /metrics"))
        })
        .count();
    assert_eq!(endpoints, 1);

    let root = f.dir.path().display().to_string();
    let by_root = ["status", "--json", "--state-dir", &root].map(String::from);
    let list = listed(&by_root, host.pid()).await;
    for r in &list {
        assert_eq!(r["status"]["metrics_addr"], addr.as_str(), "{r}");
    }
    let config = f.config().display().to_string();
    listed(
        &["status", "--json", "--config", &config].map(String::from),
        host.pid(),
    )
    .await;
    host.stop().await;
    let (code, _, _) = run_out(&by_root);
    assert_eq!(code, Some(3), "stopped workspaces are not running");
}
