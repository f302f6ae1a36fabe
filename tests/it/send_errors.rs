//! `molecule send`'s failures, each provoked against a real server (the emulator in-process,
//! or wiremock standing in for a tenant without the `/_dev` path), with their exit codes; and
//! how the sender is chosen when a token is given.

use std::process::Output;

use molecule_emulator::{Compat, EmulatorConfig};
use serde_json::Value;
use uuid::Uuid;

use super::dev_support::{molecule, stderr, stdout};
use super::emulator_support::{env, env_with};

/// Runs `molecule send <args>` off the runtime (the emulator serves on it meanwhile).
async fn send(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = molecule();
    cmd.arg("send").args(args).args(["--retry-base-ms", "10"]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("ran"))
        .await
        .expect("joined")
}

fn error_line(o: &Output) -> String {
    let e = stderr(o);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_a_tenant_is_told_which_token_to_give() {
    let tenant = wiremock::MockServer::start().await;
    let ws = Uuid::new_v4().to_string();
    let o = send(&[&ws, "hi", "--api-url", &tenant.uri()], &[]).await;
    assert_eq!(o.status.code(), Some(2));
    let e = error_line(&o);
    assert!(
        e.contains("--token-file") && e.contains("MOLECULE_WORKSPACE_TOKEN"),
        "{e}"
    );
    assert!(e.contains("--as"), "a workspace token, with --as: {e}");

    let o = send(&[&ws, "hi", "--canvas", "--api-url", &tenant.uri()], &[]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        error_line(&o).contains("org or admin token"),
        "{}",
        stderr(&o)
    );

    // A workspace token, but no word on whose.
    let o = send(
        &[&ws, "hi", "--api-url", &tenant.uri()],
        &[("MOLECULE_WORKSPACE_TOKEN", "secret-token")],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    let e = error_line(&o);
    assert!(
        e.contains("--as <workspace-id>") && e.contains("MOLECULE_WORKSPACE_ID=<workspace-id>"),
        "{e}"
    );
    assert!(!e.contains("secret-token"), "{e}");
}

/// A workspace token with no `--as` and no `MOLECULE_WORKSPACE_ID` (a blank one counts as
/// none): the platform offers no way to ask whose token it is, so send stops before any call
/// and says exactly what to pass, naming where the token came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_its_workspace_says_to_pass_as_or_the_workspace_id() {
    let tenant = wiremock::MockServer::start().await;
    let ws = Uuid::new_v4().to_string();
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("token");
    super::connect_host::write_private(&token_file, "secret-token");
    let tf = token_file.display().to_string();
    let o = send(
        &[&ws, "hi", "--api-url", &tenant.uri(), "--token-file", &tf],
        &[("MOLECULE_WORKSPACE_ID", "  ")],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = error_line(&o);
    assert!(e.contains("cannot tell whose token this is"), "{e}");
    assert!(
        e.contains(&format!("token file {tf}")),
        "names the token's source: {e}"
    );
    assert!(
        e.contains("pass --as <workspace-id> or set MOLECULE_WORKSPACE_ID=<workspace-id>"),
        "{e}"
    );
    assert!(!e.contains("secret-token"), "{e}");
    let calls = tenant.received_requests().await.expect("recorded");
    assert!(calls.is_empty(), "no platform call was made: {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_removed_workspaces_have_their_exit_codes() {
    let env = env().await;
    let url = env.emu.base_url().to_owned();
    let unknown = Uuid::new_v4().to_string();
    let o = send(&[&unknown, "hi", "--api-url", &url], &[]).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(error_line(&o).contains(&unknown));

    let main = env.main.id.to_string();
    let o = send(&[&main, "hi", "--as", &unknown, "--api-url", &url], &[]).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(error_line(&o).contains("--as"));

    env.emu.remove_workspace(env.peer.id).expect("removed");
    let peer = env.peer.id.to_string();
    let o = send(&[&peer, "hi", "--api-url", &url], &[]).await;
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(error_line(&o).contains("removed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reply_in_time_is_exit_8_and_the_message_was_sent() {
    let env = env().await;
    let url = env.emu.base_url().to_owned();
    let main = env.main.id.to_string();
    // Nothing serves the workspace, so nothing answers.
    let o = send(&[&main, "anyone?", "--api-url", &url, "--wait", "0.3"], &[]).await;
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(error_line(&o).contains("no reply within 0.3 s"));
    let feed = env.emu.feed(env.main.id).expect("feed");
    assert_eq!(feed.len(), 1);
    assert_eq!(
        feed[0].pointer("/request_body/params/message/parts/0/text"),
        Some(&Value::from("anyone?"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_workspace_token_sends_as_that_workspace() {
    let env = env().await;
    let url = env.emu.base_url().to_owned();
    let (main, peer) = (env.main.id.to_string(), env.peer.id.to_string());
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("token");
    super::connect_host::write_private(&token_file, &env.peer.token);
    let tf = token_file.display().to_string();

    // The default sender is MOLECULE_WORKSPACE_ID's workspace.
    let o = send(
        &[
            &main,
            "from the peer",
            "--api-url",
            &url,
            "--token-file",
            &tf,
        ],
        &[("MOLECULE_WORKSPACE_ID", &peer)],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).ends_with("queued"), "{}", stdout(&o));
    let feed = env.emu.feed(env.main.id).expect("feed");
    assert_eq!(feed[0]["source_id"], peer.as_str());

    // Claiming to be another workspace with this token: the platform's 401, exit 4.
    let o = send(
        &[
            &main,
            "hi",
            "--as",
            &main,
            "--api-url",
            &url,
            "--token-file",
            &tf,
        ],
        &[],
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(!stderr(&o).contains(&env.peer.token), "the token stays out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canvas_needs_an_org_or_admin_token() {
    let env = env().await;
    let url = env.emu.base_url().to_owned();
    let main = env.main.id.to_string();
    let o = send(
        &[&main, "hi", "--canvas", "--api-url", &url],
        &[("MOLECULE_WORKSPACE_TOKEN", "not-an-admin-token")],
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = error_line(&o);
    assert!(e.contains("--canvas needs an org or admin token"), "{e}");
    assert!(!e.contains("not-an-admin-token"), "{e}");

    // With the admin token it goes through as a person: no source.
    let admin = env.emu.admin_token().to_owned();
    let o = send(
        &[&main, "hi", "--canvas", "--api-url", &url],
        &[("MOLECULE_WORKSPACE_TOKEN", &admin)],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        env.emu.feed(env.main.id).expect("feed")[0]["source_id"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_older_platform_a_canvas_message_has_no_sender_workspace() {
    // The older platform takes X-Workspace-ID as the caller: the canvas must not send it.
    let env = env_with(EmulatorConfig::for_compat(Compat::Old)).await;
    let url = env.emu.base_url().to_owned();
    let main = env.main.id.to_string();
    let o = send(&[&main, "hi", "--api-url", &url], &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        env.emu.feed(env.main.id).expect("feed")[0]["source_id"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_and_an_unreachable_platform() {
    let ws = Uuid::new_v4().to_string();
    let o = send(&[&ws, "hi"], &[]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(error_line(&o).contains("--api-url"));

    let o = send(
        &["not-a-uuid", "hi", "--api-url", "http://127.0.0.1:9"],
        &[],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(error_line(&o).contains("WORKSPACE_ID"));

    let o = send(&[&ws, " ", "--api-url", "http://127.0.0.1:9"], &[]).await;
    assert_eq!(o.status.code(), Some(2));

    // Nothing listens: said as such, with or without a token, never blamed on molecule dev.
    let port = super::connect_diagnosis::closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let line = format!("molecule: error: nothing listens at 127.0.0.1:{port}: check --api-url\n");
    let o = send(&[&ws, "hi", "--api-url", &url], &[]).await;
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert_eq!(error_line(&o), line);
    let with_token = [
        ("MOLECULE_WORKSPACE_TOKEN", "t"),
        ("MOLECULE_WORKSPACE_ID", ws.as_str()),
    ];
    let o = send(&[&ws, "hi", "--api-url", &url], &with_token).await;
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert_eq!(error_line(&o), line);
}

/// A real platform whose edge refuses the `/_dev` path (403) or the tenant guard answers 400:
/// without a token, send says a token is needed, not that molecule dev refused it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_a_real_platform_is_never_taken_for_molecule_dev() {
    use wiremock::matchers::{method, path, path_regex};
    for status in [403, 400] {
        let tenant = wiremock::MockServer::start().await;
        wiremock::Mock::given(method("GET"))
            .and(path("/buildinfo"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"git_sha": "abc123"})),
            )
            .mount(&tenant)
            .await;
        wiremock::Mock::given(path_regex("^/_dev/"))
            .respond_with(wiremock::ResponseTemplate::new(status))
            .mount(&tenant)
            .await;
        let ws = Uuid::new_v4().to_string();
        let o = send(&[&ws, "hi", "--api-url", &tenant.uri()], &[]).await;
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = error_line(&o);
        assert!(
            e.contains("is not a `molecule dev` platform, so a token is needed"),
            "{e}"
        );
        assert!(!e.contains("admin path"), "{e}");
    }
}
