//! Proxies and custom CAs, as an operator behind a corporate proxy with a private CA meets
//! them: the real binary talks to the emulator through a CONNECT proxy (`HTTPS_PROXY`) and a
//! TLS front whose certificate is signed by a CA made in the test, trusted through
//! `SSL_CERT_FILE` or `SSL_CERT_DIR`.

use std::process::{Command, Output};

use super::connect_host::{echo, write_private};
use super::dev_support::{molecule, stderr, stdout};
use super::emulator_support::{Env, env};
use super::net_support::{Proxy, TlsFront};

/// The variables these tests set, cleared first so that the machine's own cannot interfere.
const NET_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// `molecule` with no proxy, CA or no-proxy setting of the test's environment, plus `vars`.
fn command(vars: &[(&str, String)]) -> Command {
    let mut cmd = molecule();
    for var in NET_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `cmd` off the runtime (the emulator, proxy and TLS front serve on it meanwhile).
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("ran"))
        .await
        .expect("joined")
}

/// `molecule send <main> <text> --as <peer>` to `api_url` with the peer's token.
fn send(env: &Env, dir: &std::path::Path, api_url: &str, text: &str) -> Vec<String> {
    let token = dir.join("peer-token");
    write_private(&token, &env.peer.token);
    [
        "send",
        &env.main.id.to_string(),
        text,
        "--as",
        &env.peer.id.to_string(),
        "--api-url",
        api_url,
        "--token-file",
        &token.display().to_string(),
        "--retry-base-ms",
        "10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The texts in the main workspace's feed.
fn texts(env: &Env) -> Vec<String> {
    let feed = env.emu.feed(env.main.id).expect("feed");
    feed.iter()
        .filter_map(|r| r["request_body"]["params"]["message"]["parts"][0]["text"].as_str())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_goes_through_the_proxy_to_https_with_ssl_cert_file() {
    let env = env().await;
    let front = TlsFront::start(env.emu.local_addr()).await;
    let proxy = Proxy::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let ca = front.write_ca(dir.path()).display().to_string();

    let mut cmd = command(&[("HTTPS_PROXY", proxy.url()), ("SSL_CERT_FILE", ca)]);
    cmd.args(send(&env, dir.path(), &front.url(), "through the proxy"));
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).ends_with("queued"), "{}", stdout(&o));
    assert_eq!(texts(&env), ["through the proxy"]);
    let asked = proxy.requests();
    assert!(!asked.is_empty(), "the proxy was used");
    let tunnel = format!("CONNECT {} HTTP/1.1", front.authority());
    assert!(asked.iter().all(|r| *r == tunnel), "{asked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_certificate_is_refused_with_a_clear_error() {
    let env = env().await;
    let front = TlsFront::start(env.emu.local_addr()).await;
    let proxy = Proxy::start().await;
    let dir = tempfile::tempdir().expect("dir");

    let mut cmd = command(&[("HTTPS_PROXY", proxy.url())]);
    cmd.args(send(&env, dir.path(), &front.url(), "untrusted"));
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    let line = format!(
        "molecule: error: the certificate of {} is not trusted (UnknownIssuer): set \
         SSL_CERT_FILE to your CA bundle\n",
        front.authority()
    );
    assert_eq!(e, line);
    assert!(front.failed_handshakes() > 0, "refused at the handshake");
    assert!(texts(&env).is_empty(), "nothing reached the platform");
    assert!(!proxy.requests().is_empty(), "through the proxy still");
}

/// `connect --dry-run`, the daemon's own path, with the CA in a directory (`SSL_CERT_DIR`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_dry_run_trusts_a_ca_directory_through_the_proxy() {
    let env = env().await;
    let front = TlsFront::start(env.emu.local_addr()).await;
    let proxy = Proxy::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let cas = dir.path().join("cas");
    std::fs::create_dir(&cas).expect("dir");
    front.write_ca(&cas);
    let token = dir.path().join("token");
    write_private(&token, &env.main.token);

    let vars = [
        ("HTTPS_PROXY", proxy.url()),
        ("SSL_CERT_DIR", cas.display().to_string()),
    ];
    let mut cmd = command(&vars);
    cmd.args(["connect", &env.main.id.to_string(), "--dry-run"])
        .args(["--api-url", &front.url(), "--backend-cmd", &echo()])
        .arg("--token-file")
        .arg(&token)
        .arg("--state-dir")
        .arg(dir.path().join("state"));
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("token:      accepted"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains(&front.url()), "{}", stdout(&o));
    let tunnel = format!("CONNECT {} HTTP/1.1", front.authority());
    assert!(proxy.requests().contains(&tunnel), "{:?}", proxy.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_bypasses_the_proxy_and_http_proxy_serves_plain_http() {
    let env = env().await;
    let front = TlsFront::start(env.emu.local_addr()).await;
    let proxy = Proxy::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let ca = front.write_ca(dir.path()).display().to_string();

    let vars = [
        ("HTTPS_PROXY", proxy.url()),
        ("SSL_CERT_FILE", ca),
        ("NO_PROXY", "localhost".to_owned()),
    ];
    let mut cmd = command(&vars);
    cmd.args(send(&env, dir.path(), &front.url(), "direct"));
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());

    // A plain http:// URL goes through HTTP_PROXY, in absolute form.
    let plain = format!("http://localhost:{}", env.emu.local_addr().port());
    let mut cmd = command(&[("HTTP_PROXY", proxy.url())]);
    cmd.args(send(&env, dir.path(), &plain, "plain"));
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let asked = proxy.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.contains(&format!(" {plain}/workspaces/"))),
        "{asked:?}"
    );
    assert_eq!(texts(&env), ["direct", "plain"]);
}

/// A CA variable that names nothing usable leaves the verifier with no CA at all: said up
/// front, naming the variable, as a configuration error (exit 2), for every command that
/// builds an HTTP client, even against a plain http:// URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_variable_that_names_nothing_usable_is_a_configuration_error() {
    let env = env().await;
    let dir = tempfile::tempdir().expect("dir");
    let url = env.emu.base_url().to_owned();
    let missing = dir.path().join("missing.pem").display().to_string();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").expect("write");
    let not_pem = not_pem.display().to_string();
    for (var, value, says) in [
        ("SSL_CERT_FILE", missing.as_str(), "cannot read it"),
        ("SSL_CERT_FILE", not_pem.as_str(), "no certificate in it"),
        ("SSL_CERT_DIR", "/nonexistent/certs", "none of its entries"),
    ] {
        let mut cmd = command(&[(var, value.to_owned())]);
        cmd.args(send(&env, dir.path(), &url, "never"));
        let o = output(cmd).await;
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("{var}={value}")) && e.contains(says),
            "{e}"
        );
        assert!(e.contains("unset it to use the system's"), "{e}");
    }
    let token = dir.path().join("token");
    write_private(&token, &env.main.token);
    let mut cmd = command(&[("SSL_CERT_FILE", missing.clone())]);
    cmd.args(["connect", &env.main.id.to_string(), "--dry-run"])
        .args(["--api-url", &url, "--backend-cmd", &echo()])
        .arg("--token-file")
        .arg(&token);
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("SSL_CERT_FILE="), "{}", stderr(&o));
    assert!(texts(&env).is_empty());
}

/// A directory that exists but holds no certificate passes the up-front check; the HTTP
/// client's error then carries its cause rather than a bare "builder error".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_ca_directory_names_the_cause() {
    let env = env().await;
    let dir = tempfile::tempdir().expect("dir");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");
    let mut cmd = command(&[("SSL_CERT_DIR", empty.display().to_string())]);
    cmd.args(send(&env, dir.path(), env.emu.base_url(), "never"));
    let o = output(cmd).await;
    assert_ne!(o.status.code(), Some(0));
    let e = stderr(&o);
    assert!(
        e.contains("builder error: ") && e.contains("CA certificates"),
        "{e}"
    );
}
