//! The host socket through the real binary: where it is and its modes, the path in the
//! backend's environment, NDJSON calls spoken directly, a stale socket replaced, the sockets of
//! other killed hosts removed at start, the client cap,
//! a path too long for `sun_path`, removal on exit, and a client that disconnects during a
//! `waitMs` wait (its late answer is dispatched as a new message).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::connect_host::Site;
use super::connect_platform::{PEER, Platform, WS, message};
use super::peers_support::{mount_registry, reply_texts, report, script, start_with};
use super::support::wait::until;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

/// One NDJSON exchange on `stream`.
fn call(stream: &UnixStream, request: &Value) -> Value {
    let mut w = stream;
    writeln!(w, "{request}").expect("write");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("read");
    serde_json::from_str(&line).expect("a JSON line")
}

#[tokio::test]
async fn the_socket_is_private_serves_calls_and_goes_away_on_exit() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    let runtime = tempfile::tempdir().expect("dir");
    let xdg = runtime.path().display().to_string();
    let expected = runtime.path().join("molecule").join(format!("{WS}.sock"));
    // A socket left by a killed host: the file exists, nobody listens.
    std::fs::create_dir_all(expected.parent().expect("dir")).expect("mkdir");
    drop(UnixListener::bind(&expected).expect("stale socket"));
    let site = Site::new();
    let host = start_with(&platform, &site, &[], &[("XDG_RUNTIME_DIR", &xdg)]);
    host.wait_log("replacing a stale host socket", |_| true)
        .await;
    let ready = host.wait_log("host socket ready", |_| true).await;
    assert_eq!(ready["path"], expected.display().to_string());
    assert!(
        std::fs::metadata(&expected)
            .expect("socket")
            .file_type()
            .is_socket()
    );
    assert_eq!(mode(&expected), 0o600);
    assert_eq!(mode(expected.parent().expect("dir")), 0o700);

    platform.canvas_says(&script(json!([])));
    let r = report(&platform).await;
    assert_eq!(
        r["socket"],
        expected.display().to_string(),
        "MOLECULE_HOST_SOCKET"
    );

    let stream = UnixStream::connect(&expected).expect("connect");
    let list = call(
        &stream,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "peers/list"}),
    );
    assert_eq!(list["id"], 1);
    assert_eq!(list["result"]["peers"][0]["id"], PEER, "{list}");
    let bad = call(
        &stream,
        &json!({"jsonrpc": "2.0", "id": "b", "method": "peers/discover", "params": {"id": "nope"}}),
    );
    assert_eq!(bad["error"]["code"], -32602);
    let unknown = call(
        &stream,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "peers/nothing"}),
    );
    assert_eq!(unknown["error"]["code"], -32601);
    let junk = call(&stream, &json!("not a request"));
    assert_eq!(junk["error"]["code"], -32700);
    drop(stream);
    host.stop().await;
    assert!(!expected.exists(), "the socket is removed on exit");
}

/// Leaves a socket at `path` that nobody listens on (as a killed host does), `old` enough not
/// to be a host that is starting.
fn leave_socket(path: &Path, old: bool) {
    drop(UnixListener::bind(path).expect("bind"));
    if old {
        let long_ago = nix::sys::time::TimeVal::new(1_000_000_000, 0);
        nix::sys::stat::lutimes(path, &long_ago, &long_ago).expect("lutimes");
    }
}

#[tokio::test]
async fn sockets_of_killed_hosts_are_removed_at_start_and_no_other() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    let runtime = tempfile::tempdir().expect("dir");
    let dir = runtime.path().join("molecule");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let (other, live, starting) = (
        "7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24",
        "0b7e2c1d-4a5f-4c3e-9d8b-1a2b3c4d5e6f",
        "5e6f7a8b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
    );
    // No process has this pid: the host that named its socket with it is gone.
    let dead = i32::MAX;
    let stale = [
        format!("{other}.sock"),
        format!("{other}-{dead}.sock"),
        format!("7d3a5f2e-{dead}.sock"),
    ];
    for name in &stale {
        leave_socket(&dir.join(name), true);
    }
    let _listening = UnixListener::bind(dir.join(format!("{live}.sock"))).expect("bind");
    leave_socket(&dir.join(format!("{starting}.sock")), false);
    leave_socket(&dir.join("not-a-host.sock"), true);
    let kept = [
        format!("{live}.sock"),
        format!("{starting}.sock"),
        "not-a-host.sock".to_owned(),
    ];

    let site = Site::new();
    let xdg = runtime.path().display().to_string();
    let host = start_with(&platform, &site, &[], &[("XDG_RUNTIME_DIR", &xdg)]);
    host.wait_log("host socket ready", |_| true).await;
    for name in &stale {
        assert!(!dir.join(name).exists(), "{name} was left");
    }
    for name in &kept {
        assert!(dir.join(name).exists(), "{name} was removed");
    }
    host.stop().await;
}

#[tokio::test]
async fn clients_over_the_cap_are_disconnected() {
    let platform = Platform::start().await;
    mount_registry(&platform).await;
    let runtime = tempfile::tempdir().expect("dir");
    let xdg = runtime.path().display().to_string();
    let site = Site::new();
    let host = start_with(&platform, &site, &[], &[("XDG_RUNTIME_DIR", &xdg)]);
    let ready = host.wait_log("host socket ready", |_| true).await;
    let path = PathBuf::from(ready["path"].as_str().expect("path"));
    // The default cap is 16 connected clients.
    let held: Vec<UnixStream> = (0..16)
        .map(|_| UnixStream::connect(&path).expect("connect"))
        .collect();
    let ping = json!({"jsonrpc": "2.0", "id": 7, "method": "peers/list"});
    assert_eq!(call(&held[15], &ping)["id"], 7);
    let extra = UnixStream::connect(&path).expect("connect");
    let mut line = String::new();
    let mut w = &extra;
    let _ = writeln!(w, "{ping}");
    let n = BufReader::new(&extra).read_line(&mut line).unwrap_or(0);
    assert_eq!(n, 0, "the 17th client is disconnected: {line}");
    host.wait_log("too many clients", |_| true).await;
    drop(held);
    host.stop().await;
}

#[tokio::test]
async fn a_runtime_dir_too_deep_for_sun_path_falls_back_to_a_short_path() {
    let platform = Platform::start().await;
    let runtime = tempfile::tempdir().expect("dir");
    let deep = runtime.path().join("d".repeat(90));
    std::fs::create_dir_all(&deep).expect("mkdir");
    let site = Site::new();
    let xdg = deep.display().to_string();
    let host = start_with(&platform, &site, &[], &[("XDG_RUNTIME_DIR", &xdg)]);
    let ready = host.wait_log("host socket ready", |_| true).await;
    let path = ready["path"].as_str().expect("path").to_owned();
    assert!(path.len() <= 107 && !path.starts_with(&xdg), "{path}");
    until("the socket file", || Path::new(&path).exists()).await;
    assert_eq!(mode(Path::new(&path)), 0o600);
    host.stop().await;
    assert!(!Path::new(&path).exists());
}

#[tokio::test]
async fn no_host_socket_leaves_the_backend_without_one() {
    let platform = Platform::start().await;
    let runtime = tempfile::tempdir().expect("dir");
    let xdg = runtime.path().display().to_string();
    let site = Site::new();
    let host = start_with(
        &platform,
        &site,
        &["--no-host-socket"],
        &[("XDG_RUNTIME_DIR", &xdg)],
    );
    platform.canvas_says(&script(json!([{"method": "workspace/info"}])));
    let r = report(&platform).await;
    assert_eq!(r["socket"], Value::Null);
    assert!(
        r["outcomes"][0]["result"]["workspace"].is_object(),
        "stdio still serves: {r}"
    );
    assert!(
        !runtime
            .path()
            .join("molecule")
            .join(format!("{WS}.sock"))
            .exists()
    );
    host.stop().await;
}

#[tokio::test]
async fn a_client_gone_mid_wait_leaves_the_late_answer_to_the_backend() {
    let platform = Platform::start().await;
    let runtime = tempfile::tempdir().expect("dir");
    let xdg = runtime.path().display().to_string();
    let site = Site::new();
    let host = start_with(&platform, &site, &[], &[("XDG_RUNTIME_DIR", &xdg)]);
    let ready = host.wait_log("host socket ready", |_| true).await;
    let path = PathBuf::from(ready["path"].as_str().expect("path"));
    // The backend has answered a message: the host serves calls.
    platform.canvas_says(&script(json!([])));
    report(&platform).await;

    // What `molecule mcp` does for Claude: a send that waits for the (poll-mode) peer's answer.
    let stream = UnixStream::connect(&path).expect("connect");
    let send = json!({"jsonrpc": "2.0", "id": 1, "method": "peers/send",
                      "params": {"id": PEER, "text": "figures?", "waitMs": 60000}});
    let mut w = &stream;
    writeln!(w, "{send}").expect("write");
    let a2a = format!("/workspaces/{PEER}/a2a");
    let message_id = platform
        .wait_for("the peers/send", |reqs| {
            reqs.iter()
                .filter(|r| r.url.path() == a2a)
                .filter_map(|r| r.body_json::<Value>().ok())
                .find(|b| b["params"]["message"]["role"] == "user")
                .map(|b| b["params"]["message"]["messageId"].clone())
        })
        .await;
    // Claude's turn ended: the mcp process, and its connection, are gone.
    drop(stream);
    let abandoned = host.wait_log("its call was abandoned", |_| true).await;
    assert_eq!(abandoned["method"], "peers/send", "{abandoned}");

    let meta = json!({"inReplyTo": message_id, "hops": 1});
    platform.push(json!({"source_id": PEER, "peer_name": "Peer",
                         "request_body": message("answered late", None, Some(meta))}));
    host.wait_handled(2).await;
    let texts: Vec<String> = reply_texts(&platform).await;
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("peer-backend got: answered late")),
        "the late answer reaches the backend as a new handle_a2a: {texts:?}"
    );
    assert!(
        host.events()
            .iter()
            .all(|e| e["message"] != "row answers a waiting peers/send call"),
        "no abandoned call claimed the row"
    );
    host.stop().await;
}
