//! `molecule emulator`, the hidden way to run the emulator alone: it prints its URL, serves,
//! and stops cleanly on SIGTERM; bad settings are a configuration error; its flags arm the
//! one-shot faults.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn runs_alone_prints_its_url_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_molecule"))
        .args(["emulator", "--compat", "old"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    let base = v["base_url"].as_str().expect("base_url").to_owned();
    let info: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("{base}/buildinfo"))
        .send()
        .await
        .expect("buildinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(info["git_sha"], "molecule-emulator-old");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    assert!(child.wait().expect("wait").success());
}

#[test]
fn malformed_fault_settings_are_a_config_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_molecule"))
        .args(["emulator", "--faults", "{not json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--faults is not valid fault JSON"), "{err}");
}

/// `--fault-gone-once` and `--fault-remove-after` arm the one-shot faults on workspaces
/// created after start: the first read with a valid cursor answers 410 and the next one 200;
/// after the delay the workspace is removed (410 on `GET /workspaces/<id>`).
#[tokio::test]
async fn flags_arm_the_one_shot_faults() {
    use super::support::wait::until_some;
    let mut child = Command::new(env!("CARGO_BIN_EXE_molecule"))
        .args([
            "emulator",
            "--fault-gone-once",
            "--fault-remove-after",
            "1s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    let base = v["base_url"].as_str().expect("base_url").to_owned();
    let http = super::emulator_support::client();
    let json =
        |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.expect("json") };
    let ws = json(
        http.post(format!("{base}/_dev/workspaces"))
            .json(&serde_json::json!({"delivery_mode": "poll"}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    let (id, token) = (
        ws["id"].as_str().expect("id"),
        ws["token"].as_str().expect("token"),
    );
    let sent = http
        .post(format!("{base}/_dev/workspaces/{id}/send"))
        .json(&serde_json::json!({"text": "hello"}))
        .send()
        .await
        .expect("send");
    assert!(sent.status().is_success(), "{}", sent.status());
    let feed = json(
        http.get(format!("{base}/_dev/workspaces/{id}/feed"))
            .send()
            .await
            .expect("feed"),
    )
    .await;
    let cursor = feed[0]["id"].as_str().expect("row id").to_owned();
    let read = || {
        http.get(format!("{base}/workspaces/{id}/activity?since_id={cursor}"))
            .bearer_auth(token)
            .header("X-Workspace-ID", id)
            .send()
    };
    assert_eq!(read().await.expect("read").status(), 410, "gone once");
    assert_eq!(read().await.expect("read").status(), 200, "only once");
    until_some("the workspace's removal", async || {
        let r = http
            .get(format!("{base}/workspaces/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("workspace");
        (r.status() == 410).then_some(())
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
}
