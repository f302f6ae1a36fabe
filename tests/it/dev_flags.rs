//! The flags of `molecule dev` that arm the platform's one-shot faults and settings at start,
//! each provoking its effect on the host `molecule dev` runs: a lost cursor (410) it recovers
//! from, token revocation (auth exit), workspace removal (removed exit), retention pruning the
//! rows it read, and the tenant guard it passes by sending the org id.

use serde_json::Value;

use super::dev_support::{Dev, stderr, stdout};
use super::support::wait::{until, until_some};

/// Whether a JSON log event's message contains `text`.
fn logged(dev: &Dev, text: &str) -> bool {
    dev.events()
        .iter()
        .any(|e| e["message"].as_str().is_some_and(|m| m.contains(text)))
}

/// Waits for `dev` to exit and returns its code and stderr.
async fn exit_of(dev: &mut Dev) -> (Option<i32>, String) {
    let mut status = None;
    until("molecule dev to exit", || {
        status = dev.child.try_wait().unwrap_or(None);
        status.is_some()
    })
    .await;
    (status.and_then(|s| s.code()), dev.stderr().join("\n"))
}

fn reply(dev: &Dev, text: &str) -> String {
    let o = dev.send(text, &["--as", &dev.peer, "--wait", "25"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_once_makes_the_host_recover_its_cursor_and_keep_serving() {
    let mut dev = Dev::start(&["--fault-gone-once"]).await;
    assert_eq!(reply(&dev, "one"), "echo: one");
    // The first poll with a cursor (the row of "one") answers 410 once.
    until("the 410 recovery in the log", || {
        logged(&dev, "the cursor row is gone from the platform (410)")
    })
    .await;
    assert_eq!(reply(&dev, "two"), "echo: two");
    assert_eq!(
        dev.peer_replies().await,
        ["echo: one", "echo: two"],
        "one reply per message across the recovery"
    );
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_end_the_host_with_the_auth_exit_code() {
    // The revocation is noticed at the next poll; with the event stream live that is the
    // safety poll (a revoked token does not end an open stream).
    let mut dev = Dev::start(&[
        "--fault-revoke-after",
        "300ms",
        "--safety-poll-interval-ms",
        "100",
    ])
    .await;
    let (code, err) = exit_of(&mut dev).await;
    assert_eq!(code, Some(4), "the auth exit code:\n{err}");
    assert!(logged(&dev, "armed fault: tokens revoked"), "{err}");
    assert!(
        err.contains("molecule: error:")
            && err.contains("401")
            && err.contains("rejected the token"),
        "a clear message: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_workspace_ends_the_host_with_the_removed_exit_code() {
    let mut dev = Dev::start(&[
        "--fault-remove-after",
        "300ms",
        "--safety-poll-interval-ms",
        "100",
    ])
    .await;
    let (code, err) = exit_of(&mut dev).await;
    assert_eq!(code, Some(6), "the workspace-removed exit code:\n{err}");
    assert!(logged(&dev, "armed fault: workspace removed"), "{err}");
    assert!(
        err.contains(&format!(
            "molecule: error: workspace {} was removed",
            dev.agent
        )),
        "a clear message: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_rows_and_the_host_recovers_its_pruned_cursor() {
    // The older platform prunes by age alone (the newer one only rows acked, and `molecule
    // dev`'s host does not ack).
    let mut dev = Dev::start(&["--retention", "200ms", "--compat", "old"]).await;
    assert_eq!(reply(&dev, "old"), "echo: old");
    let has_old = |rows: &[Value]| {
        rows.iter().any(|r| {
            r.pointer("/request_body/params/message/parts/0/text") == Some(&Value::from("old"))
        })
    };
    // Polls the feed: no event announces a prune besides the log line, which any row fires.
    until_some("the row of \"old\" to be pruned", async || {
        (!has_old(&dev.feed(&dev.agent).await)).then_some(())
    })
    .await;
    // The line follows the prune's commit, so the feed can show the row gone before it.
    until("the prune's log line", || {
        logged(&dev, "activity rows past retention")
    })
    .await;
    until("the 410 recovery of the pruned cursor", || {
        logged(&dev, "the cursor row is gone from the platform (410)")
    })
    .await;
    assert_eq!(reply(&dev, "new"), "echo: new");
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_id_enforces_the_tenant_guard_and_the_host_passes_it() {
    let mut dev = Dev::start(&["--org-id", "org-dev-1"]).await;
    assert_eq!(reply(&dev, "hi"), "echo: hi");
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/workspaces/{}/activity", dev.url, dev.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no Origin, no org id");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "TENANT_ORG_HEADER_REQUIRED", "{body}");
    assert_eq!(dev.stop().await, Some(0));
}

#[test]
fn a_malformed_duration_names_the_flag() {
    let o = super::dev_support::molecule()
        .args(["dev", "--port", "0", "--fault-remove-after", "soon"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("--fault-remove-after") && err.contains("500ms"),
        "{err}"
    );
}
