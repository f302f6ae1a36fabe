//! `molecule dev --data FILE`: a restart keeps the workspaces, the agent's token, the rows and
//! the host's cursor, and answers nothing twice.

use std::os::unix::fs::PermissionsExt;

use super::dev_support::{Dev, stderr, stdout};
use super::support::wait::until;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_same_data_file_keeps_workspaces_tokens_rows_and_the_cursor() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("dev.db");
    let data_arg = data.display().to_string();
    let state = dir.path().join("dev.db.state");

    let mut first = Dev::start(&["--data", &data_arg]).await;
    for text in ["one", "two"] {
        let o = first.send(text, &["--wait", "20"]);
        assert_eq!(stdout(&o), format!("echo: {text}"), "{}", stderr(&o));
    }
    let o = first.send("from the peer", &["--as", &first.peer, "--wait", "20"]);
    assert_eq!(stdout(&o), "echo: from the peer", "{}", stderr(&o));
    until("three rows handled", || first.handled() == 3).await;
    let token = std::fs::read_to_string(state.join("agent.token")).expect("token");
    let cursor = std::fs::read_to_string(state.join("connect/state.json")).expect("state");
    assert_eq!(first.stop().await, Some(0), "{}", first.stderr().join("\n"));
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("agent.token")), 0o600);
    assert!(cursor.contains("cursor"), "{cursor}");

    let mut second = Dev::start(&["--data", &data_arg]).await;
    assert_eq!(
        (&second.agent, &second.peer),
        (&first.agent, &first.peer),
        "the same workspaces"
    );
    assert!(
        second
            .stdout()
            .join("\n")
            .contains(&format!("kept in {data_arg}")),
        "{:?}",
        second.stdout()
    );
    let o = second.send("three", &["--wait", "20"]);
    assert_eq!(stdout(&o), "echo: three", "{}", stderr(&o));
    until("the new row handled", || second.handled() == 1).await;
    assert_eq!(
        second.notifies().await,
        ["echo: one", "echo: two", "echo: three"],
        "the rows are kept and no earlier message was answered again"
    );
    assert_eq!(second.peer_replies().await, ["echo: from the peer"]);
    assert_eq!(
        std::fs::read_to_string(state.join("agent.token")).expect("token"),
        token,
        "the agent's token is reused"
    );
    let logs = second.stderr().join("\n");
    assert!(
        !logs.contains("first start") && !logs.contains("read back"),
        "the host resumed from its saved cursor:\n{logs}"
    );
    // Read the fields, not the line: timestamps ("…26.401965Z") and ports (":40179") hold
    // "401" too.
    let refused = second.stderr().iter().any(|line| {
        let e: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).unwrap_or_default();
        e.iter()
            .filter(|(k, _)| k.as_str() != "timestamp")
            .any(|(_, v)| v == 401 || v.as_str().is_some_and(says_401))
    });
    assert!(!refused, "the saved token was accepted:\n{logs}");
    assert_eq!(second.stop().await, Some(0));
    assert!(state.exists(), "the state directory is kept");
}

/// Whether `text` holds 401 as a word of its own (not inside "40179", nor inside a UUID's hex
/// such as "…7a401e").
fn says_401(text: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices("401")
        .any(|(i, _)| !word(text[..i].chars().next_back()) && !word(text[i + 3..].chars().next()))
}

#[test]
fn a_401_inside_a_number_or_an_id_is_not_a_401() {
    assert!(says_401("HTTP 401: the platform rejected the token"));
    assert!(!says_401("127.0.0.1:40179"));
    assert!(!says_401("a6bdd8d4-96a1-4996-9898-49c7777a401e"));
}
