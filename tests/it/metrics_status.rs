//! `molecule connect --metrics-addr` and `molecule status`, through the real binary against
//! the emulator with the real test backend: the scrape parses with Prometheus's own
//! `promtool`, its counters and latency histogram move with the messages answered, `/readyz`
//! turns 503 when the backend's crash-loop breaker opens, and `molecule status` reads the
//! same from the status file (and says "not running", exit 3, once the host is gone).

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::check_support::interpreter;
use super::connect_emu::Emu;
use super::connect_host::{Host, Site, TEST_BACKEND, run, run_out};
use super::support::wait::until_some;

/// One GET over a fresh connection: (status code, head, body).
pub fn get(addr: &str, path: &str, accept: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head.to_owned(), body.to_owned())
}

/// The value of the series whose line starts with `series` (name and labels up to the value).
pub fn value(text: &str, series: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(series))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// Starts the host with metrics on a free port; returns it and the bound address.
async fn start(emu: &Emu, site: &Site, extra: &[&str]) -> (Host, String) {
    let mut args = vec!["--metrics-addr", "127.0.0.1:0"];
    args.extend(extra);
    let host = emu.serve(site, TEST_BACKEND, &args);
    let line = host.wait_log("serving /metrics", |_| true).await;
    let addr = line["addr"].as_str().expect("the bound address").to_owned();
    (host, addr)
}

/// `molecule status --state-dir DIR --json`: its exit code and JSON.
fn status(dir: &Path) -> (Option<i32>, Value) {
    let args = [
        "status",
        "--json",
        "--state-dir",
        &dir.display().to_string(),
    ];
    let (code, out, err) = run_out(&args.map(String::from));
    let json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, json)
}

pub fn promtool_accepts(text: &str) {
    let Some(promtool) = interpreter("promtool") else {
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}

#[tokio::test]
async fn a_scrape_parses_and_counts_the_rows_answered_and_status_reads_the_same() {
    let emu = Emu::start().await;
    let site = Site::new();
    let (host, addr) = start(&emu, &site, &[]).await;
    assert_eq!(get(&addr, "/healthz", "*/*").0, 200);
    until_some("readyz to answer 200", async || {
        (get(&addr, "/readyz", "*/*").0 == 200).then_some(())
    })
    .await;
    for text in ["one", "two", "three"] {
        emu.peer_says(text).await;
    }
    host.wait_handled(3).await;
    let ws = emu.main.id;
    let (code, head, text) = get(&addr, "/metrics", "text/plain");
    assert_eq!(code, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    promtool_accepts(&text);
    let label = format!("{{workspace=\"{ws}\"}}");
    assert!(
        value(&text, &format!("molecule_rows_received_total{label}")).unwrap() >= 3.0,
        "{text}"
    );
    let answered = format!(
        "molecule_rows_handled_total{{workspace=\"{ws}\",outcome=\"replied\",result=\"answered\"}}"
    );
    assert_eq!(value(&text, &answered), Some(3.0), "{text}");
    assert_eq!(
        value(
            &text,
            &format!("molecule_reply_latency_seconds_count{label}")
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&text, &format!("molecule_backend_up{label}")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &format!("molecule_registered{label}")),
        Some(1.0)
    );
    assert_eq!(value(&text, &format!("molecule_ready{label}")), Some(1.0));
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            line.contains(&format!("workspace=\"{ws}\"")),
            "unlabelled: {line}"
        );
    }
    let (_, head, open) = get(
        &addr,
        "/metrics",
        "application/openmetrics-text; version=1.0.0",
    );
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(open.ends_with("# EOF\n"), "{open}");

    let file = site.state_dir().join("status.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The file is rewritten soon after each change, not at once.
    let s = until_some("the status file to show the rows", async || {
        let (code, s) = status(&site.state_dir());
        assert_eq!(code, Some(0), "{s}");
        (s["status"]["rows_answered"] == 3).then_some(s)
    })
    .await;
    assert_eq!(s["liveness"], "running");
    let st = &s["status"];
    assert_eq!(
        (st["pid"].as_u64(), st["registered"].as_bool()),
        (Some(host.pid() as u64), Some(true))
    );
    assert_eq!(st["rows_answered"], 3);
    assert_eq!(st["backend"]["state"], "ready");
    assert_eq!(st["metrics_addr"], addr.as_str());
    assert!(st["last_heartbeat_ms"].as_u64().is_some(), "{st}");
    let dir = site.state_dir().display().to_string();
    let (code, human, _) = run_out(&["status".into(), "--state-dir".into(), dir]);
    assert_eq!(code, Some(0));
    assert!(
        human.contains(&format!("workspace {ws}  running")) && human.contains("3 answered"),
        "{human}"
    );

    // Without an id: every workspace under the default root ($XDG_STATE_HOME/molecule).
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir(xdg.path().join("molecule")).unwrap();
    let listed = xdg.path().join("molecule").join(ws.to_string());
    std::os::unix::fs::symlink(site.state_dir(), &listed).unwrap();
    let out = Command::new(super::connect_host::MOLECULE)
        .arg("status")
        .env("XDG_STATE_HOME", xdg.path())
        .env_remove("MOLECULE_STATE_DIR")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{listing}");
    assert!(
        listing.contains(&format!("workspace {ws}  running")),
        "{listing}"
    );

    host.stop().await;
    let (code, s) = status(&site.state_dir());
    assert_eq!(
        (code, s["liveness"].as_str()),
        (Some(3), Some("not_running")),
        "{s}"
    );
}

#[tokio::test]
async fn readyz_turns_503_when_the_breaker_opens_and_status_says_why() {
    let emu = Emu::start().await;
    let site = Site::new();
    let breaker = [
        "--backend-breaker-crashes",
        "2",
        "--backend-breaker-cooldown",
        "1h",
    ];
    let (host, addr) = start(&emu, &site, &breaker).await;
    until_some("readyz to answer 200", async || {
        (get(&addr, "/readyz", "*/*").0 == 200).then_some(())
    })
    .await;
    emu.peer_says("crash").await;
    // "backend restarting" after the first crash, then the breaker.
    until_some("readyz to answer 503 for the breaker", async || {
        let (code, _, body) = get(&addr, "/readyz", "*/*");
        (code == 503 && body.contains("backend breaker open")).then_some(())
    })
    .await;
    let ws = emu.main.id;
    let (_, _, text) = get(&addr, "/metrics", "*/*");
    let label = format!("{{workspace=\"{ws}\"}}");
    assert_eq!(
        value(&text, &format!("molecule_backend_breaker_open{label}")),
        Some(1.0),
        "{text}"
    );
    assert!(value(&text, &format!("molecule_backend_restarts_total{label}")).unwrap() >= 2.0);
    assert_eq!(value(&text, &format!("molecule_ready{label}")), Some(0.0));
    let s = until_some("the status file to show the breaker", async || {
        let (_, s) = status(&site.state_dir());
        (s["status"]["backend"]["state"] == "breaker_open").then_some(s)
    })
    .await;
    assert!(
        s["status"]["not_ready"]
            .as_str()
            .unwrap()
            .contains("breaker open"),
        "{s}"
    );
    host.stop().await;
}

#[test]
fn status_without_a_running_connect_exits_3_and_a_bad_id_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().display().to_string();
    let (code, out, _) = run_out(&["status".into(), "--state-dir".into(), empty]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("not running") && out.contains("no status file"),
        "{out}"
    );
    let (code, _, err) = run_out(&["status".into(), "not-a-uuid".into()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("invalid workspace id"), "{err}");
}

#[test]
fn a_metrics_address_in_use_is_a_configuration_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let site = Site::new();
    let mut args = site.args("http://127.0.0.1:9", TEST_BACKEND);
    args.extend(["--metrics-addr".into(), addr.clone()]);
    let (code, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot listen on --metrics-addr {addr}")),
        "{err}"
    );
}
