//! `--max-workspaces`: one backend process serving several workspaces (SPEC §17). Each keeps
//! its own Claude sessions (the same conversation key in two workspaces is two sessions), its
//! session map in its own state directory, its own peer tools on its own socket, and Claude
//! runs for it with its own `MOLECULE_*` variables.

use serde_json::{Value, json};

use crate::support::{Rig, flag, reply_text, uuid};

const FIRST: &str = "00000000-0000-4000-8000-000000000001";
const SECOND: &str = "2d5e8c1a-7b3f-4e6d-9a0c-1f2e3d4c5b6a";

/// `text` from the canvas of `workspace` (conversation `canvas` in each).
fn from_canvas(text: &str, workspace: &str) -> Value {
    json!({
        "message": {"kind": "message", "role": "user", "messageId": uuid(), "parts": [{"kind": "text", "text": text}]},
        "sender": {"kind": "canvas", "workspaceId": null},
        "workspace": {"id": workspace},
        "context": {"activityId": uuid(), "attempt": 1, "deadline": "2099-01-01T00:00:00.000Z",
                    "idempotencyKey": uuid(), "conversationKey": "canvas", "hops": 0}
    })
}

#[test]
fn each_workspace_keeps_its_own_sessions_directory_tools_and_environment() {
    let rig = Rig::new();
    let mut b = rig.command(&["--max-workspaces", "4"]);
    let mut b = crate::support::Backend::spawn(&mut b);
    let init = b.initialize();
    assert_eq!(init["capabilities"]["maxWorkspaces"], 4, "{init}");

    let dir = rig.dir.path().join("second");
    let socket = rig.dir.path().join("second.sock");
    let open = b.request(
        "workspace/open",
        json!({"workspace": {"id": SECOND}, "stateDir": dir, "hostSocket": socket}),
    );
    assert_eq!(b.answer(open)["result"], json!({}));

    let one = b.a2a(from_canvas("hello", FIRST));
    assert_eq!(reply_text(&one), "claude heard: hello");
    let two = b.a2a(from_canvas("hello", SECOND));
    assert_eq!(reply_text(&two), "claude heard: hello");
    let again = b.a2a(from_canvas("again", SECOND));
    assert_eq!(reply_text(&again), "claude heard: again");

    let runs = rig.runs();
    let (first, second) = (&runs[0], &runs[1]);
    let minted = |run: &Value| flag(run, "session-id").expect("a fresh session");
    assert_ne!(
        minted(first),
        minted(second),
        "one conversation key, two workspaces, two sessions"
    );
    assert_eq!(
        flag(&runs[2], "resume"),
        Some(minted(second)),
        "the second workspace resumes its own"
    );

    let env = &second["env"];
    assert_eq!(env["MOLECULE_WORKSPACE_ID"], SECOND);
    assert_eq!(env["MOLECULE_STATE_DIR"], dir.to_str().unwrap());
    assert_eq!(env["MOLECULE_HOST_SOCKET"], socket.to_str().unwrap());
    assert_ne!(first["env"]["MOLECULE_WORKSPACE_ID"], SECOND);
    let tools = flag(second, "mcp-config").expect("the second workspace's peer tools");
    assert!(tools.contains(socket.to_str().unwrap()), "{tools}");
    assert_eq!(
        flag(first, "mcp-config"),
        None,
        "the first workspace has no socket"
    );

    let map = std::fs::read_to_string(dir.join("claude-sessions.json")).expect("its own map");
    assert!(map.contains(&minted(second)), "{map}");
    let first_map = std::fs::read_to_string(rig.state().join("claude-sessions.json")).expect("map");
    assert!(!first_map.contains(&minted(second)), "{first_map}");

    let close = b.request("workspace/close", json!({"workspace": {"id": SECOND}}));
    assert_eq!(b.answer(close)["result"], json!({}));
    let refused = b.a2a(from_canvas("after the close", SECOND));
    assert!(
        refused.get("error").is_some(),
        "a closed workspace is not served: {refused}"
    );
    b.close_stdin();
    assert!(b.wait_exit().success());
}

#[test]
fn by_default_one_workspace_per_process() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let mut again = crate::support::Backend::spawn(&mut rig.command(&[]));
    let init = again.initialize();
    assert!(
        init["capabilities"]
            .get("maxWorkspaces")
            .is_none_or(|n| n == 1),
        "{init}"
    );
    for backend in [&mut b, &mut again] {
        backend.close_stdin();
        assert!(backend.wait_exit().success());
    }
}
