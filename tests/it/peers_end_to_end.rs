//! Peer calls end to end, every part real: two `molecule connect` processes on the emulator,
//! the Python and Node delegate examples relaying an echo's answer through the host methods,
//! and `molecule mcp` reaching a host through the socket that host really serves.

use molecule_emulator::{Compat, CreatedWorkspace, DevMessage, Emulator, SendAs};
use serde_json::{Value, json};

use super::connect_host::{FAST, Host, Site, echo, write_private};
use super::mcp_support::{McpClient, result_text};
use super::peers_emulator::pair;
use super::support::wait::until;

/// `molecule connect` serving `ws` with `backend`; `env` adds variables (the runtime dir).
fn serve(
    emu: &Emulator,
    ws: &CreatedWorkspace,
    site: &Site,
    backend: &str,
    env: &[(&str, &str)],
) -> Host {
    write_private(&site.token_file(), &ws.token);
    let mut args: Vec<String> = vec![
        "--log-format".into(),
        "json".into(),
        "connect".into(),
        ws.id.to_string(),
        "--api-url".into(),
        emu.base_url().into(),
        "--backend-cmd".into(),
        backend.into(),
        "--token-file".into(),
        site.token_file().display().to_string(),
        "--state-dir".into(),
        site.state_dir().display().to_string(),
    ];
    args.extend(FAST.iter().map(|s| s.to_string()));
    Host::start_with(&args, env)
}

/// The texts of the messages `ws` posted to its canvas.
fn canvas_texts(emu: &Emulator, ws: &CreatedWorkspace) -> Vec<String> {
    emu.feed(ws.id)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["method"] == "notify")
        .filter_map(|r| Some(r.pointer("/response_body/result")?.as_str()?.to_owned()))
        .collect()
}

/// A person asks alpha (running `delegate`); alpha asks beta (the echo) and relays its answer.
async fn delegate_relays_the_answer(delegate: &str) {
    let (emu, a, b) = pair(Compat::New).await;
    let (site_a, site_b) = (Site::new(), Site::new());
    let host_a = serve(&emu, &a, &site_a, delegate, &[]);
    let host_b = serve(&emu, &b, &site_b, &echo(), &[]);
    host_a.wait_log("serving", |_| true).await;
    host_b.wait_log("serving", |_| true).await;
    let msg = DevMessage {
        text: "what is the weather?".into(),
        ..DevMessage::default()
    };
    emu.send(a.id, SendAs::Canvas, msg).await.expect("to alpha");
    let want = "beta says: echo: what is the weather?";
    until("alpha relays beta's answer to the canvas", || {
        canvas_texts(&emu, &a).iter().any(|t| t.contains(want))
    })
    .await;
    // The answer completed alpha's waiting call: it never became a message for alpha.
    host_a
        .wait_log("row answers a waiting peers/send call", |_| true)
        .await;
    assert_eq!(
        canvas_texts(&emu, &a).len(),
        1,
        "{:?}",
        canvas_texts(&emu, &a)
    );
    host_a.stop().await;
    host_b.stop().await;
}

#[tokio::test]
async fn the_python_delegate_relays_a_peers_answer() {
    delegate_relays_the_answer("python3 plugins/delegate/python/delegate.py").await;
}

#[tokio::test]
async fn the_node_delegate_relays_a_peers_answer() {
    delegate_relays_the_answer("node plugins/delegate/node/delegate.js").await;
}

#[tokio::test]
async fn molecule_mcp_calls_peers_through_the_hosts_real_socket() {
    let (emu, a, b) = pair(Compat::New).await;
    let (site_a, site_b) = (Site::new(), Site::new());
    let runtime = tempfile::tempdir().expect("runtime dir");
    let xdg = runtime.path().display().to_string();
    let host_a = serve(&emu, &a, &site_a, &echo(), &[("XDG_RUNTIME_DIR", &xdg)]);
    let host_b = serve(&emu, &b, &site_b, &echo(), &[]);
    let ready = host_a.wait_log("host socket ready", |_| true).await;
    // The socket exists before the backend does; its calls are served once the host is.
    host_a.wait_log("serving", |_| true).await;
    host_b.wait_log("serving", |_| true).await;
    let socket = std::path::PathBuf::from(ready["path"].as_str().expect("a socket path"));

    let mut mcp = McpClient::start(Some(&socket));
    mcp.initialize().await;
    let peers = mcp.call_tool("list_peers", json!({})).await;
    assert_ne!(peers["isError"], json!(true), "{peers}");
    assert!(result_text(&peers).contains(&b.id.to_string()), "{peers}");

    let args = json!({"id": b.id.to_string(), "text": "ping", "wait_seconds": 20});
    let sent = mcp.call_tool("send_message_to_peer", args).await;
    assert_ne!(sent["isError"], json!(true), "{sent}");
    assert!(result_text(&sent).contains("echo: ping"), "{sent}");

    let info = mcp.call_tool("workspace_info", json!({})).await;
    assert!(result_text(&info).contains(&a.id.to_string()), "{info}");
    let told: Value = mcp
        .call_tool("send_message_to_user", json!({"text": "done"}))
        .await;
    assert_ne!(told["isError"], json!(true), "{told}");
    until("the note reaches alpha's canvas", || {
        canvas_texts(&emu, &a).iter().any(|t| t == "done")
    })
    .await;
    mcp.close().await;
    host_a.stop().await;
    host_b.stop().await;
}
