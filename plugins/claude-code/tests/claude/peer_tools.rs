//! The peer tools: with the host's socket set, every `claude` run gets `molecule mcp` as its
//! MCP server and exactly its four tools allowed; without the socket, or with
//! `--no-peer-tools`, neither flag is passed. The server's env carries the turn's idempotency
//! key, so its sends' message ids are the same when the message is delivered again.

use crate::support::{Backend, Rig, flag, from_agent};
use serde_json::{Value, json};

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const KEY: &str = "1953d870-2d57-5871-a2f1-905bbe2ffece";
const HOST_EXE: &str = "/opt/molecule/bin/molecule";
const PEER_TOOLS: &str = "mcp__molecule__list_peers,mcp__molecule__send_message_to_peer,\
                          mcp__molecule__workspace_info,mcp__molecule__send_message_to_user";

fn run_once(rig: &Rig, args: &[&str], socket: Option<&str>) -> Value {
    run_with(rig, args, socket, from_agent("hi", PEER))
}

fn run_with(rig: &Rig, args: &[&str], socket: Option<&str>, params: Value) -> Value {
    let mut cmd = rig.command(args);
    if let Some(socket) = socket {
        cmd.env("MOLECULE_HOST_SOCKET", socket)
            .env("MOLECULE_HOST_EXE", HOST_EXE);
    }
    let mut backend = Backend::spawn(&mut cmd);
    backend.initialize();
    backend.a2a(params);
    rig.runs().pop().expect("claude ran")
}

#[test]
fn with_the_host_socket_claude_gets_the_mcp_server_and_only_its_tools() {
    let rig = Rig::new();
    let socket = rig.dir.path().join("host.sock");
    let mut params = from_agent("hi", PEER);
    params["context"]["idempotencyKey"] = json!(KEY);
    let run = run_with(&rig, &[], Some(socket.to_str().unwrap()), params);
    let config: Value = serde_json::from_str(&flag(&run, "mcp-config").expect("--mcp-config="))
        .expect("inline JSON");
    assert_eq!(
        config,
        json!({"mcpServers": {"molecule": {"type": "stdio", "command": HOST_EXE, "args": ["mcp"],
               "env": {"MOLECULE_HOST_SOCKET": socket.to_str().unwrap(),
                       "MOLECULE_IDEMPOTENCY_KEY": KEY}}}})
    );
    assert_eq!(flag(&run, "allowedTools").as_deref(), Some(PEER_TOOLS));
}

#[test]
fn the_operators_own_tools_are_allowed_alongside() {
    let rig = Rig::new();
    let run = run_once(&rig, &["--allowed-tools", "Read"], Some("/tmp/h.sock"));
    assert_eq!(
        flag(&run, "allowedTools"),
        Some(format!("Read,{PEER_TOOLS}"))
    );
    let allowed_flags = run["argv"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.as_str().unwrap().starts_with("--allowedTools"))
        .count();
    assert_eq!(allowed_flags, 1, "one --allowedTools flag");
}

#[test]
fn without_the_socket_or_with_no_peer_tools_nothing_is_added() {
    let rig = Rig::new();
    let run = run_once(&rig, &[], None);
    assert_eq!(flag(&run, "mcp-config"), None);
    assert_eq!(flag(&run, "allowedTools"), None);

    let rig = Rig::new();
    let run = run_once(&rig, &["--no-peer-tools"], Some("/tmp/h.sock"));
    assert_eq!(flag(&run, "mcp-config"), None);
    assert_eq!(flag(&run, "allowedTools"), None);
    assert!(!run["argv"].to_string().contains("mcp__molecule"));
}
