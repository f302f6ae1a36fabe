//! `molecule emulator`, the hidden way to run the emulator alone: it prints its URL, serves,
//! and stops cleanly on SIGTERM; bad settings are a configuration error.

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
