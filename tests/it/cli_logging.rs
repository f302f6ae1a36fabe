//! The log flags through the real binary: `molecule connect --dry-run` against a real HTTP
//! platform (wiremock) with the real echo backend logs `backend ready` at info and one
//! `platform call` line at debug per call, so each run shows which levels got through. The
//! flags go after the subcommand (they are global) and beat `RUST_LOG`.

use std::process::Output;

use serde_json::Value;

use super::connect_host::{Site, echo};
use super::connect_platform::{Platform, WS};
use super::dev_support::{molecule, stderr, stdout};

/// Runs `molecule connect --dry-run <flags>` with `RUST_LOG` as given (unset for `None`).
fn dry_run(platform: &Platform, flags: &[&str], rust_log: Option<&str>) -> Output {
    let site = Site::new();
    let mut cmd = molecule();
    cmd.args(site.args(&platform.url(), &echo()))
        .arg("--dry-run")
        .args(flags);
    match rust_log {
        Some(v) => cmd.env("RUST_LOG", v),
        None => cmd.env_remove("RUST_LOG"),
    };
    let out = cmd.output().expect("ran");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("token:      accepted"),
        "{}",
        stdout(&out)
    );
    out
}

/// The JSON log events of a finished run.
fn events(o: &Output) -> Vec<Value> {
    stderr(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The levels seen, each with whether its target is one of molecule's crates.
fn levels(o: &Output) -> Vec<(String, bool)> {
    events(o)
        .iter()
        .map(|e| {
            let level = e["level"].as_str().unwrap_or_default().to_owned();
            let ours = e["target"]
                .as_str()
                .unwrap_or_default()
                .starts_with("molecule");
            (level, ours)
        })
        .collect()
}

fn has(o: &Output, level: &str) -> bool {
    levels(o).iter().any(|(l, _)| l == level)
}

fn has_message(o: &Output, level: &str, text: &str) -> bool {
    events(o)
        .iter()
        .any(|e| e["level"] == level && e["message"].as_str().is_some_and(|m| m.contains(text)))
}

#[tokio::test]
async fn without_flags_info_is_logged_and_debug_is_not() {
    let platform = Platform::start().await;
    let o = dry_run(&platform, &[], None);
    assert!(has_message(&o, "INFO", "backend ready"), "{}", stderr(&o));
    assert!(!has(&o, "DEBUG"), "{}", stderr(&o));
}

#[tokio::test]
async fn v_shows_molecules_debug_lines_and_vv_the_libraries_too() {
    let platform = Platform::start().await;
    let o = dry_run(&platform, &["-v"], None);
    assert!(has_message(&o, "DEBUG", "platform call"), "{}", stderr(&o));
    assert!(has_message(&o, "INFO", "backend ready"), "{}", stderr(&o));
    let theirs = levels(&o)
        .into_iter()
        .filter(|(l, ours)| l == "DEBUG" && !ours);
    assert_eq!(
        theirs.count(),
        0,
        "-v: molecule's debug only: {}",
        stderr(&o)
    );

    let o = dry_run(&platform, &["-vv"], None);
    let theirs = levels(&o)
        .into_iter()
        .filter(|(l, ours)| l == "DEBUG" && !ours);
    assert!(
        theirs.count() > 0,
        "-vv: the HTTP client's too: {}",
        stderr(&o)
    );
}

#[tokio::test]
async fn q_hides_info_lines_and_the_result_still_prints() {
    let platform = Platform::start().await;
    for q in ["-q", "-qq"] {
        let o = dry_run(&platform, &[q], None);
        let shown: Vec<_> = levels(&o).into_iter().map(|(l, _)| l).collect();
        assert!(
            shown.iter().all(|l| l == "WARN" || l == "ERROR"),
            "{q}: {shown:?}"
        );
    }
}

#[tokio::test]
async fn the_flags_beat_rust_log_which_applies_without_them() {
    let platform = Platform::start().await;
    let o = dry_run(&platform, &[], Some("debug"));
    assert!(has_message(&o, "DEBUG", "platform call"), "RUST_LOG alone");

    let o = dry_run(&platform, &["--log-level", "warn"], Some("debug"));
    assert!(!has(&o, "DEBUG") && !has(&o, "INFO"), "{}", stderr(&o));
    let o = dry_run(&platform, &["-q"], Some("debug"));
    assert!(!has(&o, "DEBUG") && !has(&o, "INFO"), "{}", stderr(&o));

    let o = dry_run(&platform, &["-v"], Some("error"));
    assert!(has_message(&o, "DEBUG", "platform call"), "{}", stderr(&o));
    let filter = "warn,molecule_host::platform=debug";
    let o = dry_run(&platform, &["--log-level", filter], Some("error"));
    assert!(has_message(&o, "DEBUG", "platform call"), "{}", stderr(&o));
    assert!(
        !has(&o, "INFO"),
        "directives, not just a level: {}",
        stderr(&o)
    );
}

#[tokio::test]
async fn an_unparsable_rust_log_is_reported_and_info_applies() {
    let platform = Platform::start().await;
    let o = dry_run(&platform, &[], Some("molecule=loud"));
    assert!(
        has_message(&o, "WARN", "RUST_LOG ignored"),
        "{}",
        stderr(&o)
    );
    assert!(has_message(&o, "INFO", "backend ready"), "{}", stderr(&o));
}

#[test]
fn a_bad_log_level_and_v_with_q_are_usage_errors() {
    let o = molecule()
        .args(["send", "x", "y", "--log-level", "molecule=loud"])
        .output()
        .expect("ran");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--log-level"), "{}", stderr(&o));
    assert!(stderr(&o).contains("give a level"), "{}", stderr(&o));

    // Within one level clap refuses them; across levels the command line is checked whole.
    for flags in [
        &["send", "x", "y", "-v", "-q"][..],
        &["-v", "send", "x", "y", "-q"],
        &["-q", "send", "x", "y", "--log-level", "debug"],
    ] {
        let o = molecule().args(flags).output().expect("ran");
        assert_eq!(o.status.code(), Some(2), "{flags:?}");
        assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    }
}

/// `send` prints its result on stdout and logs nothing unless asked; `-v` asks.
#[tokio::test]
async fn send_logs_only_when_asked() {
    let platform = Platform::start().await;
    let site = Site::new();
    let run = |flags: &[&str]| {
        let mut cmd = molecule();
        // The wiremock platform knows one workspace: it sends to itself.
        cmd.args(["--log-format", "json", "send", WS, "hi", "--as", WS])
            .args(["--api-url", &platform.url()])
            .arg("--token-file")
            .arg(site.token_file())
            .args(flags)
            .env_remove("RUST_LOG");
        cmd.output().expect("ran")
    };
    let quiet = run(&[]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert_eq!(stderr(&quiet), "", "no logs unless asked");
    let loud = run(&["-v"]);
    assert_eq!(loud.status.code(), Some(0), "{}", stderr(&loud));
    assert!(
        has_message(&loud, "DEBUG", "platform call"),
        "{}",
        stderr(&loud)
    );
}
