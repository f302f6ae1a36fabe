//! The token: read from a file (re-read after a 401, so a rotation needs no restart), never
//! logged, and a minted one stored 0600 atomically.

#![allow(clippy::unwrap_used, reason = "test helpers panic on broken fixtures")]

use crate::platform_support::{Logs, TOKEN, WS, client, write_token};
use molecule_host::exit::{self, HasExitCode};
use molecule_host::platform::*;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ROTATED: &str = "tok-rotated-Zyx987_after-rotation-000000000";
const MINTED: &str = "tok-minted-Mnt555_by-register-0000000000000";

fn ws() -> Uuid {
    Uuid::parse_str(WS).unwrap()
}

async fn workspace_accepts(server: &MockServer, token: &str) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(format!("/workspaces/{WS}")))
        .and(header("authorization", format!("Bearer {token}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": WS})))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error":"invalid workspace auth token"})),
        )
        .with_priority(2)
        .mount(server)
        .await;
}

fn bearers(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_401_rereads_the_token_file_so_rotation_needs_no_restart() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let s = client(&server);
    workspace_accepts(&server, TOKEN).await;
    s.client.get_workspace(ws()).await.unwrap();

    // The operator rotates the token: the old one is now refused.
    write_token(&s.token_file, ROTATED);
    workspace_accepts(&server, ROTATED).await;
    s.client.get_workspace(ws()).await.unwrap();
    let seen = bearers(&server.received_requests().await.unwrap());
    assert_eq!(
        seen,
        [format!("Bearer {TOKEN}"), format!("Bearer {ROTATED}")]
    );
    logs.wait_for("the token changed after a 401").await;

    // Revoked with no new token in the file: an auth error, after one attempt.
    workspace_accepts(&server, "something-else").await;
    let err = s.client.get_workspace(ws()).await.unwrap_err();
    assert!(matches!(err, PlatformError::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.exit_code(), exit::AUTH);
    assert!(
        err.to_string()
            .contains(&format!("token file {}", s.token_file.display()))
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_calls_refused_with_the_old_token_all_retry_with_the_new_one() {
    let server = MockServer::start().await;
    let s = client(&server);
    Mock::given(method("GET"))
        .and(header("authorization", format!("Bearer {ROTATED}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": WS})))
        .with_priority(1)
        .mount(&server)
        .await;
    // Slow refusals keep all four calls in flight with the old token before any re-read.
    let refused = ResponseTemplate::new(401).set_delay(std::time::Duration::from_millis(200));
    Mock::given(method("GET"))
        .respond_with(refused)
        .with_priority(2)
        .mount(&server)
        .await;
    write_token(&s.token_file, ROTATED);
    let c = &s.client;
    let (a, b, d, e) = tokio::join!(
        c.get_workspace(ws()),
        c.get_workspace(ws()),
        c.get_workspace(ws()),
        c.get_workspace(ws())
    );
    for r in [a, b, d, e] {
        r.unwrap();
    }
    let seen = bearers(&server.received_requests().await.unwrap());
    let old = seen.iter().filter(|b| b.ends_with(TOKEN)).count();
    assert_eq!((old, seen.len()), (4, 8), "{seen:?}");
}

#[tokio::test]
async fn token_files_are_checked_and_only_the_newline_is_trimmed() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    write_token(&file, " spaced token ");
    let src = TokenSource::from_file(&file).unwrap();
    assert_eq!(src.current().unwrap().expose(), " spaced token ");
    assert!(logs.lines_with(&["readable by other users"]).is_empty());

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    TokenSource::from_file(&file).unwrap();
    let warning = logs.wait_for("readable by other users").await;
    assert!(
        warning.contains("WARN") && warning.contains("chmod 600"),
        "{warning}"
    );
    assert!(warning.contains("mode=0644"), "{warning}");

    let missing = dir.path().join("nope");
    let err = TokenSource::from_file(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "token file {} does not exist (--token-file)",
            missing.display()
        )
    );
    assert_eq!(err.exit_code(), exit::CONFIG);
    let err = TokenSource::from_file(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read token file {}", dir.path().display())),
        "{err}"
    );
    std::fs::write(&file, "\n").unwrap();
    let err = TokenSource::from_file(&file).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the token from token file {} is empty", file.display())
    );
    let err = TokenSource::from_value("", "MOLECULE_WORKSPACE_TOKEN").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the token from MOLECULE_WORKSPACE_TOKEN is empty"
    );
}

#[tokio::test]
async fn a_minted_token_is_stored_0600_atomically_and_adopted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/registry/register"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status":"registered","delivery_mode":"poll","auth_token":MINTED}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/registry/heartbeat"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let cfg = PlatformConfig::new(&server.uri(), WS).unwrap();
    let c = PlatformClient::new(cfg, TokenSource::none()).unwrap();
    let card = AgentCard {
        name: "n".into(),
        description: None,
        version: None,
        skills: None,
    };
    let answer = c.register(card).await.unwrap();
    let minted = answer.auth_token.expect("a minted token");

    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state").join(WS);
    let file = state.join("token");
    let (adopted, saved) = c.store_minted_token(&minted, &file);
    saved.unwrap();
    assert!(adopted);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{MINTED}\n")
    );
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&state).unwrap().mode() & 0o777, 0o700);

    // Storing again replaces the file by rename (a new inode), leaving no temporary behind.
    let before = std::fs::metadata(&file).unwrap().ino();
    store_token(&file, &Secret::new(ROTATED)).unwrap();
    assert_ne!(std::fs::metadata(&file).unwrap().ino(), before);
    let names: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["token"]);
    assert_eq!(
        TokenSource::from_file(&file)
            .unwrap()
            .current()
            .unwrap()
            .expose(),
        ROTATED
    );

    // The client adopted the minted token: the first request had no bearer, the next has it.
    c.heartbeat(&Heartbeat::default()).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
    assert_eq!(
        requests[1].headers["authorization"].to_str().unwrap(),
        format!("Bearer {MINTED}")
    );
}

/// Drives every path that handles the token, at TRACE level, with a server that echoes the
/// bearer back in its error bodies, then searches everything that was printed.
#[tokio::test]
async fn the_token_never_appears_in_logs_errors_or_debug_output() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let echo = |status: u16| {
        move |r: &Request| {
            let auth = r
                .headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            ResponseTemplate::new(status).set_body_json(json!({"error": "bad", "you_sent": auth}))
        }
    };
    Mock::given(method("POST"))
        .and(path("/registry/register"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status":"registered","auth_token":MINTED,"delivery_mode":"poll"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/registry/heartbeat"))
        .respond_with(echo(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/registry/heartbeat"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/workspaces/{WS}/notify")))
        .respond_with(echo(400))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/workspaces/{WS}/activity")))
        .respond_with(echo(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/registry/discover/00000000-0000-0000-0000-000000000000",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!("not json {TOKEN}")))
        .mount(&server)
        .await;

    let s = client(&server);
    let c = &s.client;
    let mut printed = Vec::new();
    let card = AgentCard {
        name: "n".into(),
        description: None,
        version: None,
        skills: None,
    };
    let answer = c.register(card).await.unwrap();
    printed.push(format!("{answer:?}"));
    let beat = Heartbeat::default();
    let policy = RetryPolicy::forever(
        std::time::Duration::from_millis(1),
        std::time::Duration::from_millis(2),
    );
    retry(Call::Heartbeat, &policy, &CancellationToken::new(), || {
        c.heartbeat(&beat)
    })
    .await
    .unwrap();
    let errors = [
        c.notify("hi", &[]).await.unwrap_err(),
        c.activity(&ActivityQuery::default()).await.unwrap_err(),
        c.discover(Uuid::nil()).await.unwrap_err(),
    ];
    for e in &errors {
        printed.push(format!("{e} {e:?}"));
    }
    printed.push(format!("{c:?} {:?} {:?}", c.token(), c.config()));
    assert_eq!(logs.lines_with(&["retrying"]).len(), 2, "{}", logs.text());
    assert!(printed[1].contains("[redacted]"), "{}", printed[1]);

    let everything = format!("{}\n{}", logs.text(), printed.join("\n"));
    for secret in [TOKEN, MINTED] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
}
