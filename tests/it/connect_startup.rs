//! `molecule connect` starting up: configuration errors, the state file, the order of the first
//! platform calls and their exit codes, registration, the lock, `--dry-run`, a minted token.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::connect_host::{Host, Site, echo, run, write_private};
use super::connect_platform::{PEER, Platform, TOKEN, WS};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn missing_or_malformed_settings_are_one_line_naming_flag_and_variable() {
    let site = Site::new();
    let base = site.args("http://127.0.0.1:9", &echo());
    let without = |flag: &str| -> Vec<String> {
        let i = base.iter().position(|a| a == flag).expect("present");
        [&base[..i], &base[i + 2..]].concat()
    };
    let with = |extra: &[&str]| -> Vec<String> {
        [base.clone(), extra.iter().map(|s| s.to_string()).collect()].concat()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            without("--api-url"),
            "missing platform API URL: give --api-url or set MOLECULE_API_URL",
        ),
        (
            without("--backend-cmd"),
            "give --backend-cmd or set MOLECULE_BACKEND_CMD",
        ),
        (
            with(&["--batch-size", "501"]),
            "--batch-size / MOLECULE_BATCH_SIZE",
        ),
        (
            with(&["--heartbeat-interval", "90s"]),
            "--heartbeat-interval / MOLECULE_HEARTBEAT_INTERVAL",
        ),
        (
            with(&["--poll-interval", "often"]),
            "--poll-interval / MOLECULE_POLL_INTERVAL",
        ),
        (
            with(&["--api-url", "ftp://x"]),
            "--api-url / MOLECULE_API_URL",
        ),
    ];
    for (args, expected) in cases {
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
    let mut bad_id = base.clone();
    bad_id[3] = "../../etc/passwd".into();
    let (code, stderr) = run(&bad_id);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("invalid workspace id"), "{stderr}");
}

#[tokio::test]
async fn an_unusable_state_file_is_a_clear_error_before_the_platform_is_touched() {
    let platform = Platform::start().await;
    let site = Site::new();
    std::fs::create_dir_all(site.state_dir()).expect("dir");
    for (content, expected) in [
        ("{\"version\":1,", "is corrupt"),
        (
            r#"{"version":1,"workspace_id":"aaaaaaaa-0000-4000-8000-000000000001"}"#,
            "belongs to workspace",
        ),
        (r#"{"version":7,"workspace_id":"x"}"#, "has version 7"),
    ] {
        write_private(&site.state_file(), content);
        let (code, stderr) = run(&site.args(&platform.url(), &echo()));
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains("state.json"),
            "{stderr}"
        );
    }
    assert!(
        platform.requests().await.is_empty(),
        "nothing reached the platform"
    );
}

#[tokio::test]
async fn registration_sends_poll_mode_origin_and_the_backends_card() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    host.wait_log("serving", |_| true).await;
    let order: Vec<String> = platform
        .requests()
        .await
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        order[..3],
        [
            "GET /buildinfo".to_owned(),
            format!("GET /workspaces/{WS}"),
            "POST /registry/register".to_owned()
        ]
    );
    let register = &platform.calls("POST", "/registry/register$").await[0];
    assert_eq!(
        register.headers.get("origin").and_then(|v| v.to_str().ok()),
        Some(platform.url().as_str())
    );
    let body: Value = register.body_json().expect("json");
    assert_eq!(body["delivery_mode"], "poll");
    assert_eq!((&body["id"], &body["url"]), (&json!(WS), &json!("")));
    let card = &body["agent_card"];
    assert_eq!(card["name"], "main", "the workspace's own name");
    assert!(
        card["description"]
            .as_str()
            .expect("the echo's description")
            .contains("echo")
    );
    assert_eq!(card["skills"][0]["id"], "echo");
    host.stop().await;
}

#[tokio::test]
async fn an_unknown_or_removed_workspace_exits_with_its_code_before_registering() {
    for (status, code) in [(404, 5), (410, 6)] {
        let platform = Platform::start().await;
        let body = json!({"error": "workspace removed", "hint": "Regenerate workspace + token"});
        platform
            .fault(
                "GET",
                &format!("^/workspaces/{WS}$"),
                ResponseTemplate::new(status).set_body_json(body),
                10,
            )
            .await;
        let site = Site::new();
        let (exit, stderr) = run(&site.args(&platform.url(), &echo()));
        assert_eq!(exit, Some(code), "{stderr}");
        assert!(
            platform
                .calls("POST", "/registry/register$")
                .await
                .is_empty()
        );
        assert!(
            !site.state_dir().join("backend").exists(),
            "no backend was started"
        );
    }
}

#[tokio::test]
async fn a_refused_token_at_registration_exits_4() {
    let platform = Platform::start().await;
    let invalid =
        ResponseTemplate::new(401).set_body_json(json!({"error": "invalid workspace auth token"}));
    platform
        .fault("POST", "^/registry/register$", invalid, 10)
        .await;
    let site = Site::new();
    let (code, stderr) = run(&site.args(&platform.url(), &echo()));
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("rejected the token"), "{stderr}");
}

#[tokio::test]
async fn a_503_at_registration_is_retried_until_it_succeeds() {
    let platform = Platform::start().await;
    platform
        .fault(
            "POST",
            "^/registry/register$",
            ResponseTemplate::new(503),
            2,
        )
        .await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    host.wait_log("registered as a poll-mode workspace", |_| true)
        .await;
    assert_eq!(platform.calls("POST", "/registry/register$").await.len(), 3);
    platform.agent_says(PEER, "after the retry", None);
    platform.wait_replies(1).await;
    host.stop().await;
}

#[tokio::test]
async fn a_second_instance_on_the_same_state_is_refused_with_exit_7() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    host.wait_log("serving", |_| true).await;
    let (code, stderr) = run(&site.args(&platform.url(), &echo()));
    assert_eq!(code, Some(7), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", host.pid())), "{stderr}");
    host.stop().await;
}

#[tokio::test]
async fn dry_run_proves_backend_platform_and_token_and_changes_nothing() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), &echo());
    args.push("--dry-run".into());
    let out = std::process::Command::new(super::connect_host::MOLECULE)
        .args(&args)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("backend:    molecule-echo") && stdout.contains("token:      accepted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("events:     unavailable (GET /workspaces/<id>/events/stream: HTTP 404)"),
        "a platform without the stream: {stdout}"
    );
    assert_eq!(platform.polls().await.len(), 1, "one authenticated read");
    assert!(
        platform.calls("POST", "/registry/").await.is_empty(),
        "no register, no heartbeat"
    );
}

#[tokio::test]
async fn a_minted_token_is_saved_0600_and_never_logged_and_the_state_is_private() {
    let platform = Platform::start().await;
    let minted = "minted-Tok3n_value-that-must-not-leak-00000";
    let answer = json!({"status":"registered","delivery_mode":"poll","auth_token": minted});
    platform
        .fault(
            "POST",
            "^/registry/register$",
            ResponseTemplate::new(200).set_body_json(answer),
            1,
        )
        .await;
    let site = Site::new();
    let host = Host::start(&site.args(&platform.url(), &echo()));
    host.wait_log("minted a token", |_| true).await;
    platform.agent_says(PEER, "x", None);
    platform.wait_replies(1).await;
    super::support::wait::until("the state to be saved", || {
        site.state()["cursor"].is_object()
    })
    .await;
    let saved = site.state_dir().join("token");
    assert_eq!(
        std::fs::read_to_string(&saved).expect("saved").trim(),
        minted
    );
    assert_eq!(
        (
            mode(&saved),
            mode(&site.state_file()),
            mode(&site.state_dir())
        ),
        (0o600, 0o600, 0o700)
    );
    assert_eq!(mode(&site.state_dir().join("backend")), 0o700);
    let lines = host.stop().await;
    assert!(!lines.iter().any(|l| l.contains(minted)));
    let leftovers: Vec<String> = std::fs::read_dir(site.state_dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn registration_is_repeated_on_the_reregister_interval() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut args = site.args(&platform.url(), &echo());
    args.extend(["--reregister-interval", "100ms"].map(String::from));
    let host = Host::start(&args);
    let registers = platform
        .wait_for("three registrations", |reqs| {
            let bodies: Vec<Value> = reqs
                .iter()
                .filter(|r| r.url.path() == "/registry/register")
                .filter_map(|r| r.body_json().ok())
                .collect();
            (bodies.len() >= 3).then_some(bodies)
        })
        .await;
    // Each one says poll again, in case someone switched the workspace to push meanwhile.
    for body in registers {
        assert_eq!(body["delivery_mode"], "poll", "{body}");
        assert_eq!(body["id"], WS);
    }
    host.stop().await;
}

#[tokio::test]
async fn token_on_the_command_line_warns_that_argv_is_visible_and_is_never_logged() {
    let platform = Platform::start().await;
    let site = Site::new();
    let base = site.args(&platform.url(), &echo());
    let i = base
        .iter()
        .position(|a| a == "--token-file")
        .expect("present");
    let mut args = [&base[..i], &base[i + 2..]].concat();
    args.extend(["--token".into(), TOKEN.into()]);
    let host = Host::start(&args);
    let warning = host
        .wait_log("--token puts the token in the process list", |_| true)
        .await;
    assert_eq!(warning["level"], "WARN");
    platform.agent_says(PEER, "hello", None);
    platform.wait_replies(1).await;
    // The token was used…
    let auth = format!("Bearer {TOKEN}");
    assert!(platform.requests().await.iter().all(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|h| h == auth.as_str())
    }));
    // …and never written to the log.
    let lines = host.stop().await;
    assert!(lines.iter().all(|l| !l.contains(TOKEN)), "{lines:#?}");
}

#[test]
fn connect_help_states_the_window_of_the_heartbeats_error_rate() {
    let out = std::process::Command::new(super::connect_host::MOLECULE)
        .args(["connect", "--help"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    assert!(
        help.contains("error_rate: the share of the rows handled in the last 5 minutes"),
        "{help}"
    );
}
