//! A failed first contact, as an operator meets it on a first run of `molecule connect`: each
//! cause is provoked for real (a closed port, a `.invalid` host, a TLS front with a CA of its
//! own, a server that is no platform, a redirect) and said as exactly one ERROR line, the one
//! `docs/troubleshooting.md` lists, before the daemon's second retry; `--dry-run` stops with
//! the same words and exit 2. Also: a refused token never promises that heartbeats continue.

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::connect_host::{Host, Site, echo};
use super::connect_platform::Platform;
use super::net_support::TlsFront;

/// The variables that could make the machine's own CA or proxy settings interfere.
const NET_VARS: &[&str] = &["SSL_CERT_FILE", "SSL_CERT_DIR", "NO_PROXY", "no_proxy"];

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A host on `url`, with no CA or no-proxy variable of the test's environment.
fn start(site: &Site, url: &str, extra: &[&str]) -> Host {
    let mut args = site.args(url, &echo());
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut cmd = Host::command(&args, &[]);
    for var in NET_VARS {
        cmd.env_remove(var);
    }
    Host::spawn(cmd)
}

/// The message of every event at `level`.
fn messages(host: &Host, level: &str) -> Vec<String> {
    host.events()
        .iter()
        .filter(|e| e["level"] == level)
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

/// The daemon says `line` as an ERROR before its second retry, keeps retrying, and says it
/// only once while the cause stays the same; then it stops cleanly on SIGTERM.
async fn daemon_says_once(url: &str, line: &str) {
    let site = Site::new();
    let host = start(&site, url, &[]);
    let error = host.wait_log(line, |e| e["level"] == "ERROR").await;
    assert_eq!(error["message"], line);
    let retries = |h: &Host| {
        h.events()
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("retrying in"))
            })
            .count()
    };
    super::support::wait::until("three retries", || retries(&host) >= 3).await;
    let events = host.events();
    let at = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred);
    let first_error = at(&|e| e["message"] == line).expect("logged");
    let second_retry = events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("retrying in"))
        })
        .nth(1)
        .map(|(i, _)| i)
        .expect("two retries");
    assert!(first_error < second_retry, "the cause came first");
    assert_eq!(messages(&host, "ERROR"), [line], "said once while it lasts");
    host.stop().await;
}

/// Even the daemon stops with exit 2 and `line` as its one ERROR line: only the flag can cure
/// it. Its stderr lines.
async fn daemon_stops_with(url: &str, line: &str) -> Vec<String> {
    let site = Site::new();
    let mut host = start(&site, url, &[]);
    let code = host.wait_exit().await;
    assert_eq!(code, Some(2), "{}", host.lines().join("\n"));
    assert_eq!(messages(&host, "ERROR"), [line]);
    host.lines()
}

/// `--dry-run` stops at once with `line` and exit 2.
async fn dry_run_says(url: &str, line: &str) {
    let site = Site::new();
    let mut host = start(&site, url, &["--dry-run"]);
    assert_eq!(
        host.wait_exit().await,
        Some(2),
        "{}",
        host.lines().join("\n")
    );
    let last = host.lines().last().cloned().unwrap_or_default();
    assert_eq!(last, format!("molecule: error: {line}"));
}

#[tokio::test]
async fn connection_refused_names_the_address() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let line = format!("nothing listens at 127.0.0.1:{port}: check --api-url");
    daemon_says_once(&url, &line).await;
    dry_run_says(&url, &line).await;
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_named() {
    let url = "http://molecule-doctor-test.invalid";
    let line = "cannot resolve host molecule-doctor-test.invalid: check --api-url and this \
                machine's DNS";
    daemon_says_once(url, line).await;
    dry_run_says(url, line).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_says_to_set_ssl_cert_file() {
    let platform = Platform::start().await;
    let addr = platform.server.address();
    let front = TlsFront::start(*addr).await;
    let line = format!(
        "the certificate of {} is not trusted (UnknownIssuer): set SSL_CERT_FILE to your CA \
         bundle",
        front.authority()
    );
    daemon_says_once(&front.url(), &line).await;
    dry_run_says(&front.url(), &line).await;
    assert!(front.failed_handshakes() > 0);
}

#[tokio::test]
async fn a_server_that_is_no_platform_is_a_configuration_error() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404).set_body_string("<h1>Not Found</h1>"))
        .mount(&server)
        .await;
    let line = format!(
        "{} answers but is not a Molecule platform (no /buildinfo, 404 on workspace routes): \
         check --api-url",
        server.uri()
    );
    let lines = daemon_stops_with(&server.uri(), &line).await;
    assert!(!lines.iter().any(|l| l.contains("no such workspace")));
    dry_run_says(&server.uri(), &line).await;
}

#[tokio::test]
async fn a_redirect_exits_2_naming_the_final_url() {
    let server = MockServer::start().await;
    let target = "https://acme.example";
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(301).insert_header("location", format!("{target}/buildinfo")),
        )
        .mount(&server)
        .await;
    let line = format!(
        "{} redirected to {target}: use the final URL as --api-url",
        server.uri()
    );
    daemon_stops_with(&server.uri(), &line).await;
    dry_run_says(&server.uri(), &line).await;
}

/// A token refused on a heartbeat and then on the feed: the host exits 4, and no line before
/// that says heartbeats go on.
#[tokio::test]
async fn a_refused_token_never_promises_that_heartbeats_continue() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut host = start(&site, &platform.url(), &[]);
    host.wait_log("serving", |_| true).await;
    let refused =
        ResponseTemplate::new(401).set_body_json(json!({"error": "invalid workspace auth token"}));
    platform
        .fault("POST", "^/registry/heartbeat$", refused.clone(), 1000)
        .await;
    let warned = host
        .wait_log("the platform refused a heartbeat", |_| true)
        .await;
    assert_eq!(warned["level"], "WARN", "{warned}");
    platform
        .feed
        .lock()
        .expect("feed")
        .faults
        .extend([refused.clone(), refused]);
    assert_eq!(
        host.wait_exit().await,
        Some(4),
        "{}",
        host.lines().join("\n")
    );
    let lines = host.lines();
    assert!(
        !lines.iter().any(|l| l.contains("heartbeats continue")),
        "{lines:#?}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.contains("rejected the token"))
    );
}
