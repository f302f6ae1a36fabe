//! `molecule doctor`, the real binary, its platform checks each provoked for real: a closed
//! port, a `.invalid` host, a TLS front with its own CA, a server that is no platform, a
//! redirect, a wrong token, a missing and a removed workspace, the event stream's route, a run
//! past `--timeout`; and an all-ok run against the emulator (the local checks are in
//! `doctor_local`). Each line is the one `docs/troubleshooting.md` lists.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use uuid::Uuid;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::connect_diagnosis::closed_port;
use super::connect_host::{echo, write_private};
use super::dev_support::{molecule, stderr};
use super::emulator_support::{Env, env};
use super::net_support::{Proxy, TlsFront};

/// A doctor run's inputs: a token file and a state directory in a temporary directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(token: &str) -> Setup {
        let dir = tempfile::tempdir().expect("dir");
        write_private(&dir.path().join("token"), token);
        Setup { dir }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `molecule doctor <id> --api-url <url> …` with the echo backend.
    pub fn command(&self, id: &str, url: &str, extra: &[&str]) -> Command {
        let mut cmd = molecule();
        for var in ["SSL_CERT_FILE", "SSL_CERT_DIR", "NO_PROXY", "no_proxy"] {
            cmd.env_remove(var);
        }
        cmd.args(["doctor", id, "--api-url", url, "--backend-cmd", &echo()])
            .arg("--token-file")
            .arg(self.dir.path().join("token"))
            .arg("--state-dir")
            .arg(self.state())
            .args(extra);
        cmd
    }
}

/// Runs `cmd` off the runtime (the servers serve on it meanwhile).
pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("ran"))
        .await
        .expect("joined")
}

/// The lines of a run.
pub fn lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The line of `check` (`api`, `token`, …).
pub fn line(o: &Output, check: &str) -> String {
    let prefix = format!("{check}: ");
    lines(o)
        .into_iter()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(&prefix)))
        .unwrap_or_else(|| panic!("no {check} line in {:#?}", lines(o)))
}

/// A doctor against `url` for `env`'s main workspace.
pub async fn doctor(env: &Env, setup: &Setup, url: &str, extra: &[&str]) -> Output {
    output(setup.command(&env.main.id.to_string(), url, extra)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_ok_against_the_emulator_and_json_for_scripts() {
    let env = env().await;
    let setup = Setup::new(&env.main.token);
    let o = doctor(&env, &setup, env.emu.base_url(), &[]).await;
    assert_eq!(o.status.code(), Some(0), "{:#?}{}", lines(&o), stderr(&o));
    let all = lines(&o);
    let url = env.emu.base_url().trim_end_matches('/');
    assert_eq!(
        line(&o, "api"),
        format!("ok    api: {url} answers directly, plain HTTP (no TLS)")
    );
    assert!(line(&o, "platform").starts_with("ok    platform: build molecule-emulator"));
    assert!(line(&o, "platform").ends_with("(the local emulator)"));
    let ws = line(&o, "workspace");
    assert!(
        ws.starts_with(&format!("ok    workspace: {} (main): status ", env.main.id))
            && ws.ends_with(", delivery_mode poll"),
        "{ws}"
    );
    assert!(line(&o, "token").starts_with("ok    token: accepted ("));
    assert_eq!(
        line(&o, "state"),
        format!(
            "ok    state: {}: owner-only (0700) and writable",
            setup.state().display()
        )
    );
    assert!(line(&o, "lock").starts_with("ok    lock: free"));
    assert!(line(&o, "backend").starts_with("ok    backend: molecule-echo"));
    let events = line(&o, "events");
    assert!(
        [
            "ok    events: the event stream answers (text/event-stream)".to_owned(),
            "warn  events: no event stream on this platform (HTTP 404): messages are found by \
             reading the feed every 1s"
                .to_owned(),
        ]
        .contains(&events),
        "{events}"
    );
    assert_eq!(
        all.last().map(String::as_str),
        Some("molecule connect should work")
    );
    assert_eq!(all.len(), 9, "{all:#?}");

    let o = doctor(&env, &setup, env.emu.base_url(), &["--json"]).await;
    assert_eq!(o.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(
        (&report["ok"], &report["exitCode"]),
        (&Value::Bool(true), &Value::from(0))
    );
    let checks = report["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 8);
    assert!(
        checks
            .iter()
            .all(|c| c["status"] == "ok" || c["check"] == "events"),
        "{checks:#?}"
    );
    assert!(
        env.emu.feed(env.main.id).expect("feed").is_empty(),
        "nothing sent"
    );
}

/// `url` unreachable for the reason `says`: `fail  api: <says>`, the platform checks skipped,
/// the local ones still run, exit 9.
async fn unreachable(url: &str, says: &str) {
    let setup = Setup::new("token");
    let o = output(setup.command(&Uuid::new_v4().to_string(), url, &[])).await;
    assert_eq!(o.status.code(), Some(9), "{:#?}", lines(&o));
    assert_eq!(line(&o, "api"), format!("fail  api: {says}"));
    for check in ["platform", "workspace", "token", "events"] {
        assert_eq!(
            line(&o, check),
            format!("skip  {check}: the platform cannot be reached")
        );
    }
    assert!(line(&o, "backend").starts_with("ok    backend:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_unresolved_and_untrusted_are_named() {
    let port = closed_port();
    unreachable(
        &format!("http://127.0.0.1:{port}"),
        &format!("nothing listens at 127.0.0.1:{port}: check --api-url"),
    )
    .await;
    unreachable(
        "https://molecule-doctor-test.invalid",
        "cannot resolve host molecule-doctor-test.invalid: check --api-url and this machine's DNS",
    )
    .await;
    let env = env().await;
    let front = TlsFront::start(env.emu.local_addr()).await;
    let untrusted = format!(
        "the certificate of {} is not trusted (UnknownIssuer): set SSL_CERT_FILE to your CA \
         bundle",
        front.authority()
    );
    unreachable(&front.url(), &untrusted).await;

    // With the CA given, the same front is fine, and the line says how TLS was verified.
    let setup = Setup::new(&env.main.token);
    let ca = front.write_ca(setup.dir.path());
    let mut cmd = setup.command(&env.main.id.to_string(), &front.url(), &[]);
    cmd.env("SSL_CERT_FILE", &ca);
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{:#?}", lines(&o));
    assert_eq!(
        line(&o, "api"),
        format!(
            "ok    api: {} answers directly, TLS verified with SSL_CERT_FILE={}",
            front.url(),
            ca.display()
        )
    );

    // Through a proxy (HTTPS_PROXY), the line names it; credentials in its URL are not shown.
    let proxy = Proxy::start().await;
    let with_user = proxy.url().replace("http://", "http://user:secret@");
    let mut cmd = setup.command(&env.main.id.to_string(), &front.url(), &[]);
    cmd.env("SSL_CERT_FILE", &ca).env("HTTPS_PROXY", &with_user);
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{:#?}", lines(&o));
    assert_eq!(
        line(&o, "api"),
        format!(
            "ok    api: {} answers through the proxy {} (from HTTPS_PROXY, HTTP_PROXY or \
             ALL_PROXY), TLS verified with SSL_CERT_FILE={}",
            front.url(),
            proxy.url(),
            ca.display()
        )
    );
    let tunnel = format!("CONNECT {} HTTP/1.1", front.authority());
    assert!(proxy.requests().contains(&tunnel), "{:?}", proxy.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_no_platform_and_a_redirect() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let setup = Setup::new("token");
    let o = output(setup.command(&Uuid::new_v4().to_string(), &server.uri(), &[])).await;
    assert_eq!(o.status.code(), Some(9), "{:#?}", lines(&o));
    assert!(line(&o, "api").starts_with("ok    api:"));
    assert_eq!(
        line(&o, "platform"),
        format!(
            "fail  platform: {} answers but is not a Molecule platform (no /buildinfo, 404 on \
             workspace routes): check --api-url",
            server.uri()
        )
    );

    let redirect = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(308).insert_header("location", "https://acme.example/buildinfo"),
        )
        .mount(&redirect)
        .await;
    unreachable(
        &redirect.uri(),
        &format!(
            "{} redirected to https://acme.example: use the final URL as --api-url",
            redirect.uri()
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_a_missing_and_a_removed_workspace() {
    let env = env().await;
    let setup = Setup::new("not-the-token");
    let o = doctor(&env, &setup, env.emu.base_url(), &[]).await;
    assert_eq!(o.status.code(), Some(9), "{:#?}", lines(&o));
    let token = setup.dir.path().join("token");
    assert_eq!(
        line(&o, "token"),
        format!(
            "fail  token: the platform rejected the token (token file {}): give this \
             workspace's current token with --token-file or MOLECULE_WORKSPACE_TOKEN",
            token.display()
        )
    );

    let missing = Uuid::new_v4();
    let o = output(setup.command(&missing.to_string(), env.emu.base_url(), &[])).await;
    assert_eq!(o.status.code(), Some(9));
    assert_eq!(
        line(&o, "workspace"),
        format!(
            "fail  workspace: no such workspace {missing} on the platform (HTTP 404); check the \
             id in the canvas"
        )
    );
    assert_eq!(
        line(&o, "token"),
        "skip  token: the workspace cannot be read"
    );
    assert_eq!(
        line(&o, "events"),
        "skip  events: the workspace cannot be read"
    );

    env.emu.remove_workspace(env.main.id).expect("removed");
    let o = doctor(&env, &setup, env.emu.base_url(), &[]).await;
    assert_eq!(o.status.code(), Some(9));
    let removed = line(&o, "workspace");
    let prefix = format!(
        "fail  workspace: workspace {} was removed on the platform",
        env.main.id
    );
    assert!(removed.starts_with(&prefix), "{removed}");
}

/// The event stream's route, asked for its head: served as `text/event-stream` it is ok; a
/// platform without it, or a front that answers something else, is a warning (the feed is
/// polled then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_is_checked_by_its_route() {
    use super::connect_platform::{Platform, TOKEN, WS};
    let stream_path = format!("/workspaces/{WS}/events/stream");
    let cases = [
        (
            ResponseTemplate::new(200).set_body_raw(": open\n\n", "text/event-stream"),
            "ok    events: the event stream answers (text/event-stream)",
        ),
        (
            ResponseTemplate::new(200).set_body_raw("<html></html>", "text/html"),
            "warn  events: the event stream answers text/html, not text/event-stream: something \
             in front of the platform does not pass it through; messages are found by reading \
             the feed every 1s",
        ),
        (
            ResponseTemplate::new(405),
            "warn  events: no event stream on this platform (HTTP 405): messages are found by \
             reading the feed every 1s",
        ),
    ];
    for (answer, expected) in cases {
        let platform = Platform::start().await;
        Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path(stream_path.as_str()))
            .respond_with(answer)
            .with_priority(1)
            .mount(&platform.server)
            .await;
        let setup = Setup::new(TOKEN);
        let o = output(setup.command(WS, &platform.url(), &[])).await;
        assert_eq!(o.status.code(), Some(0), "{:#?}", lines(&o));
        assert_eq!(line(&o, "events"), expected);
    }
}

/// A server that accepts connections and never answers: the run ends at `--timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_is_bounded_by_its_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", silent.local_addr().expect("addr"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let setup = Setup::new("token");
    let o = output(setup.command(&Uuid::new_v4().to_string(), &url, &["--timeout", "300ms"])).await;
    held.abort();
    assert_eq!(o.status.code(), Some(9), "{:#?}", lines(&o));
    assert_eq!(line(&o, "api"), "fail  api: no answer within --timeout");
}
