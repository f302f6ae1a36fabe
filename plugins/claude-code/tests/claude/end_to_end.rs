//! End to end: the local platform (`molecule emulator`), `molecule connect`, this backend and
//! the fake CLI. A peer workspace sends a message; Claude's reply lands in the peer's feed.
//!
//! Needs the `molecule` binary with `connect` (see `support::molecule_with`); skipped with a
//! message until then.

use crate::support::{Rig, molecule_with, wait_for};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, Command, Stdio};

#[test]
fn a_message_from_a_peer_gets_claudes_reply() {
    let Some(host) = molecule_with("connect") else {
        return;
    };
    let rig = Rig::new();
    let mut emulator = Killed(
        Command::new(&host)
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the emulator"),
    );
    let mut first = String::new();
    let stdout = emulator.0.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("the emulator's URL line");
    let base: Value = serde_json::from_str(&first).expect("JSON URL line");
    let base = base["base_url"]
        .as_str()
        .expect("base_url")
        .trim_end_matches('/')
        .to_owned();
    let agent = http(
        &base,
        "POST",
        "/_dev/workspaces",
        Some(json!({"name": "claude"})),
    );
    let peer = http(
        &base,
        "POST",
        "/_dev/workspaces",
        Some(json!({"name": "peer", "parent_id": agent["id"], "delivery_mode": "poll"})),
    );
    let token_file = rig.dir.path().join("token");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&token_file)
        .expect("token file");
    f.write_all(agent["token"].as_str().expect("token").as_bytes())
        .expect("write token");
    let backend = rig.command(&[]);
    let backend_cmd = std::iter::once(backend.get_program())
        .chain(backend.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut connect = Command::new(&host);
    connect
        .arg("connect")
        .arg(agent["id"].as_str().expect("id"))
        .args([
            "--api-url",
            &base,
            "--backend-cmd",
            &backend_cmd,
            "--poll-interval",
            "200ms",
        ])
        .arg("--token-file")
        .arg(&token_file)
        .arg("--state-dir")
        .arg(rig.dir.path().join("connect-state"));
    for (k, v) in backend.get_envs() {
        if let Some(v) = v {
            connect.env(k, v);
        }
    }
    connect
        .env_remove("MOLECULE_STATE_DIR")
        .env_remove("MOLECULE_WORKSPACE_TOKEN");
    let _connect = Killed(connect.stdin(Stdio::null()).spawn().expect("start connect"));
    let path = format!("/_dev/workspaces/{}/send", agent["id"].as_str().unwrap());
    // The platform takes messages for the workspace once connect has registered it.
    let message = json!({"text": "hello from the peer", "as": peer["id"]});
    wait_for("the workspace to accept messages", || {
        try_http(&base, "POST", &path, Some(message.clone())).ok()
    });
    let feed = format!("/_dev/workspaces/{}/feed", peer["id"].as_str().unwrap());
    wait_for("Claude's reply in the peer's feed", || {
        let rows = http(&base, "GET", &feed, None);
        rows.to_string()
            .contains("claude heard: hello from the peer")
            .then_some(())
    });
}

/// A child killed (and reaped) when the test ends, however it ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with a JSON body, answered 2xx with JSON (enough for the dev API).
pub fn http(base: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    try_http(base, method, path, body).unwrap_or_else(|head| panic!("{method} {path}: {head}"))
}

/// Like [`http`], but a status other than 2xx is returned as the response head.
pub fn try_http(
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Molecule-Dev: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, rest) = response.split_once("\r\n\r\n").expect("an HTTP response");
    if !head.starts_with("HTTP/1.1 2") {
        return Err(head.to_owned());
    }
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n.min(tail.len())]);
        rest = tail.get(n + 2..).unwrap_or("");
    }
    out
}
