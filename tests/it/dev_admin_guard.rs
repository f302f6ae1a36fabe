//! `molecule dev`'s admin path (`/_dev`) and chat page against what a web page the developer
//! visits could send them: a DNS-rebinding page's foreign `Host`, a cross-origin `text/plain`
//! POST (which a browser sends without a preflight), and a local user without the run's key.
//! The legitimate clients (`molecule send`, the chat page in `chat_page`) keep working.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use serde_json::Value;

use super::dev_support::{Dev, molecule, stderr, stdout};

/// One raw HTTP/1.1 exchange, so that `Host` and every header are exactly as given. Returns the
/// status and the body.
fn raw(dev: &Dev, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let addr = dev.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebinding_page_is_refused_by_its_host_name() {
    let mut dev = Dev::start(&[]).await;
    let port = dev.url.rsplit(':').next().expect("port").to_owned();
    let key = dev.key.clone();
    let evil = format!("rebound.example:{port}");
    let ours = format!("localhost:{port}");
    let with = |host: &str| [("Host", host.to_owned()), ("X-Molecule-Dev", key.clone())];
    let call = |host: &str, path: &str| {
        let h = with(host);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        raw(&dev, "GET", path, &h, "")
    };
    let (status, body) = call(&evil, "/_dev/workspaces");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("loopback"), "{body}");
    assert_eq!(call(&evil, "/").0, 403, "the chat page too");
    assert_eq!(
        call("127.0.0.1:1", "/_dev/workspaces").0,
        403,
        "another port"
    );
    assert_eq!(call(&ours, "/_dev/workspaces").0, 200);
    assert_eq!(call(&ours, "/").0, 200);
    assert_eq!(dev.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_text_plain_post_is_refused_and_changes_nothing() {
    let mut dev = Dev::start(&[]).await;
    let host = dev.url.trim_start_matches("http://").to_owned();
    // What a form or `fetch(..., {mode: "no-cors"})` on another site sends: no custom header.
    let headers = [
        ("Host", host.as_str()),
        ("Origin", "http://attacker.example"),
        ("Content-Type", "text/plain"),
    ];
    let send = format!("/_dev/workspaces/{}/send", dev.agent);
    let (status, body) = raw(&dev, "POST", &send, &headers, r#"{"text":"pwned"}"#);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("X-Molecule-Dev"), "{body}");
    let mint = format!("/_dev/workspaces/{}/tokens", dev.agent);
    assert_eq!(raw(&dev, "POST", &mint, &headers, "").0, 403);
    assert_eq!(raw(&dev, "POST", "/_dev/admin-token", &headers, "").0, 403);
    let feed = dev.feed(&dev.agent).await;
    assert!(
        !serde_json::to_string(&feed)
            .expect("json")
            .contains("pwned"),
        "{feed:?}"
    );
    assert_eq!(dev.stop().await, Some(0));
}

/// Where `molecule dev` keeps its key file, as it picks it (the first usable directory).
fn key_dir() -> std::path::PathBuf {
    let uid = nix::unistd::getuid();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => std::path::Path::new(&d).join("molecule"),
        None => std::env::temp_dir().join(format!("molecule-{uid}")),
    };
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_this_runs_key_opens_the_admin_path_and_send_finds_it() {
    // A key file left by a run that was killed: nothing listens on its port any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let stale = key_dir().join(format!("dev-{closed_port}.key"));
    std::fs::write(&stale, "an old key").expect("write");
    let mut dev = Dev::start(&[]).await;
    assert!(!stale.exists(), "the killed run's key file is removed");
    let host = dev.url.trim_start_matches("http://").to_owned();
    let get = |key: Option<&str>| {
        let mut h = vec![("Host", host.as_str())];
        h.extend(key.map(|k| ("X-Molecule-Dev", k)));
        raw(&dev, "GET", "/_dev/workspaces", &h, "").0
    };
    assert_eq!(get(None), 403);
    assert_eq!(get(Some("1")), 403, "a guess");
    assert_eq!(get(Some(&dev.key)), 200);

    // The key file molecule send reads: this user's only.
    let port = dev.url.rsplit(':').next().expect("port");
    let file = key_dir().join(format!("dev-{port}.key"));
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().expect("dir")), 0o700);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), dev.key);

    let o = dev.send("hello", &["--wait", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "echo: hello");
    if nix::unistd::geteuid().is_root() {
        // Another local user has no key: a clear refusal, nothing sent.
        let mut cmd = molecule();
        cmd.args(["send", &dev.agent, "from nobody", "--api-url", &dev.url])
            .env("TMPDIR", "/tmp")
            .env_remove("XDG_RUNTIME_DIR")
            .uid(65534)
            .gid(65534);
        let o = cmd.output().expect("run send");
        assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("only the user who started molecule dev"),
            "{}",
            stderr(&o)
        );
        let feed: Vec<Value> = dev.feed(&dev.agent).await;
        assert!(!format!("{feed:?}").contains("from nobody"), "{feed:?}");
    }
    assert_eq!(dev.stop().await, Some(0));
    assert!(!file.exists(), "the key file is removed at exit");
}
