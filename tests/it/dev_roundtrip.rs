//! `molecule dev` with a backend and `molecule send --wait`, all real binaries: the embedded
//! echo, the Python and the Node echoes; a person in the canvas and the peer workspace; the
//! clean stop; `molecule status` from the banner; a port in use; the backend's environment (`--backend-env`, and the inherited
//! `MOLECULE_*` variables it does not get).

use serde_json::Value;

use super::connect_host::TEST_BACKEND;
use super::dev_support::{Dev, have, molecule, stderr, stdout};
use super::support::wait::{until, until_some};

/// Sends as the canvas and as the peer and checks both replies.
async fn round_trip(dev: &Dev) {
    let o = dev.send("hello from the canvas", &["--wait", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "echo: hello from the canvas");

    let o = dev.send("hello from the peer", &["--as", &dev.peer, "--wait", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "echo: hello from the peer");
    // The peer's reply is an A2A message in the peer's own feed, from the agent.
    let rows = dev.feed(&dev.peer).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["source_id"], dev.agent.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_and_send_wait_get_their_messages_through_the_event_streams() {
    // Every poll ten minutes apart, in the host and in `molecule send`: within the deadline
    // only the event streams can have fetched the messages and the replies.
    let slow = ["--poll-interval-ms", "600000"];
    let mut dev = Dev::start(&[&slow[..], &["--safety-poll-interval-ms", "600000"]].concat()).await;
    until("the host's event stream", || {
        dev.events().iter().any(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("event stream live"))
        })
    })
    .await;
    let wait = [&slow[..], &["--safety-poll-ms", "600000", "--wait", "20"]].concat();
    let o = dev.send("streamed from the canvas", &wait);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "echo: streamed from the canvas");
    let as_peer = [&["--as", dev.peer.as_str()][..], &wait].concat();
    let o = dev.send("streamed from the peer", &as_peer);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "echo: streamed from the peer");
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_echo_answers_the_canvas_and_the_peer_and_stops_cleanly() {
    let mut dev = Dev::start(&[]).await;
    let banner = dev.stdout().join("\n");
    assert!(
        banner.contains(&format!("Chat page:    {}/?ws={}", dev.url, dev.agent)),
        "{banner}"
    );
    assert!(banner.contains("built-in echo"), "{banner}");
    round_trip(&dev).await;

    let o = dev.send("as json", &["--wait", "20", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reply: Value = serde_json::from_str(&stdout(&o)).expect("one JSON message");
    assert_eq!(reply["role"], "agent");
    assert_eq!(reply["parts"][0]["text"], "echo: as json");

    let o = dev.send("no wait", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("sent: message "), "{}", stdout(&o));

    // The banner's status line works as pasted, and sees the rows just answered.
    let line = banner
        .lines()
        .find_map(|l| l.strip_prefix("Status:"))
        .expect("a Status: line");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[1..3], ["status", "--state-dir"], "{line}");
    // The status file is rewritten shortly after a change: wait for the answered rows.
    let status = until_some("molecule status to count the answered rows", async || {
        let o = molecule()
            .args(["status", "--json", "--state-dir", words[3]])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let status: Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
        (status["status"]["rows_answered"].as_u64() >= Some(3)).then_some(status)
    })
    .await;
    assert_eq!(status["liveness"], "running", "{status}");
    assert_eq!(
        status["status"]["workspace"],
        dev.agent.as_str(),
        "{status}"
    );

    // The state directory is temporary: gone once molecule dev has stopped.
    let serving = dev
        .events()
        .into_iter()
        .find(|e| e["message"] == "serving")
        .expect("the serving line");
    let state_dir = std::path::PathBuf::from(serving["state_dir"].as_str().expect("a path"));
    assert!(state_dir.exists());
    assert_eq!(dev.stop().await, Some(0), "{}", dev.stderr().join("\n"));
    assert!(
        !state_dir.exists(),
        "{} was left behind",
        state_dir.display()
    );
    assert!(
        !state_dir.parent().expect("the temp dir").exists(),
        "the temporary directory was left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_echo_backend_round_trips() {
    if !have("python3", "python3") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins/echo/python/echo.py");
    let cmd = format!("python3 {script}");
    let mut dev = Dev::start(&["--backend-cmd", &cmd]).await;
    assert!(dev.stdout().join("\n").contains("echo.py"));
    round_trip(&dev).await;
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_echo_backend_round_trips() {
    if !have("node", "nodejs") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins/echo/node/echo.js");
    let cmd = format!("node {script}");
    let mut dev = Dev::start(&["--backend-cmd", &cmd]).await;
    round_trip(&dev).await;
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test]
async fn a_port_in_use_is_one_line_naming_port_and_the_hint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let o = molecule()
        .args(["dev", "--port", &port])
        .output()
        .expect("ran");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.starts_with("molecule: error:"))
        .expect("an error line");
    assert!(line.contains(&format!("port {port}")), "{line}");
    assert!(line.contains("--port 0"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_cannot_start_ends_molecule_dev_with_its_exit_code() {
    let mut dev = Dev::spawn(&["--backend-cmd", "/nonexistent/backend"]);
    until("molecule dev to exit", || dev.exited()).await;
    let code = dev.child.wait().expect("status").code();
    assert!(
        matches!(code, Some(2 | 3)),
        "{code:?}: {}",
        dev.stderr().join("\n")
    );
    assert!(
        dev.stdout().is_empty(),
        "no ready message: {:?}",
        dev.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_platform_generation_round_trips_too() {
    let mut dev = Dev::start(&["--compat", "old"]).await;
    assert!(dev.stdout().join("\n").contains("(older generation)"));
    round_trip(&dev).await;
    // No seq on the older platform's rows.
    let rows = dev.feed(&dev.agent).await;
    assert!(rows.iter().all(|r| r.get("seq").is_none()), "{rows:?}");
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_env_reaches_the_backend_and_inherited_molecule_variables_stay_with_the_host() {
    let mut dev = Dev::spawn_with(
        &[
            "--backend-cmd",
            TEST_BACKEND,
            "--backend-env",
            "GREETING=hello there",
            "--backend-env",
            "MOLECULE_AGENT_MODE=passed on",
        ],
        &[
            ("MOLECULE_AGENT_MODE", "inherited"),
            ("MOLECULE_OTHER", "x"),
        ],
    );
    dev.ready().await;
    let o = dev.send("env", &["--wait", "20", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reply: Value = serde_json::from_str(&stdout(&o)).expect("one JSON message");
    // The canvas gets the data part as a fenced JSON block.
    let text = reply["parts"][0]["text"].as_str().expect("a text part");
    let block = text.trim_start_matches("```json").trim_end_matches("```");
    let env: Value = serde_json::from_str(block).expect("the environment as JSON");
    assert_eq!(env["GREETING"], "hello there", "{env}");
    assert_eq!(
        env["MOLECULE_AGENT_MODE"], "passed on",
        "--backend-env wins"
    );
    assert!(env.get("MOLECULE_OTHER").is_none(), "{env}");
    let said = dev.events().into_iter().find(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("not passed to the backend"))
    });
    let said = said.expect("the variables kept from the backend are named");
    let message = said["message"].as_str().unwrap_or_default();
    assert!(message.contains("MOLECULE_OTHER"), "{message}");
    assert!(!message.contains("MOLECULE_AGENT_MODE"), "{message}");
    assert!(
        !message.contains("inherited") && !message.contains("x,"),
        "names only"
    );
    assert_eq!(dev.stop().await, Some(0));
}
