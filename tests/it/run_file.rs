//! `molecule run --config molecule.toml [--check]`, through the real binary: a valid file is
//! accepted without a single platform request, every refusal names file:line:column and key,
//! tokens are read from a file or a named variable (never inline), and an invalid file ends
//! `run` with exit 2 before anything starts.

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use std::process::Command;

use super::connect_host::{MOLECULE, run_out};
use super::run_support::Fleet;

#[tokio::test]
async fn check_accepts_a_valid_file_and_starts_nothing() {
    let f = Fleet::start(3).await;
    f.write(
        "",
        &[
            f.entry(0, ""),
            f.entry(1, "concurrency = 2\nbackend_env = { A = \"1\" }"),
            f.entry(2, ""),
        ],
    );
    let (code, out, err) = run_out(&f.args(&["--check"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("molecule.toml: ok, 3 workspaces"), "{out}");
    let requests: u64 = f.emu.stats().requests.values().sum();
    assert_eq!(requests, 0, "--check touched the platform");
    assert!(
        !f.state_dir(0).exists(),
        "--check created a state directory"
    );
    // Three shards of the same file hold the three workspaces between them.
    let mut total = 0;
    for i in 0..3 {
        let shard = format!("{i}/3");
        let (code, out, _) = run_out(&f.args(&["--check", "--shard", &shard]));
        assert_eq!(code, Some(0));
        let n: usize = out
            .split(", ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        total += n;
    }
    assert_eq!(total, 3);
}

#[tokio::test]
async fn refusals_name_the_file_line_column_and_key() {
    let f = Fleet::start(1).await;
    let path = f.config().display().to_string();
    let cases = [
        (
            f.entry(0, "pol_interval = \"1s\""),
            ":20:1: unknown key pol_interval",
        ),
        (
            f.entry(0, "token = \"abc\""),
            ":20:1: key token: a token is never written",
        ),
        (
            f.entry(0, "batch_size = 900"),
            ":20:1: key batch_size: invalid --batch-size",
        ),
        (
            f.entry(0, "max_attempts = \"many\""),
            ":20:1: key max_attempts",
        ),
        (
            f.entry(0, "backend_cmd = \"/no/such/agent\""),
            ":20:1: key backend_cmd: backend program",
        ),
    ];
    for (entry, want) in cases {
        f.write("", &[entry]);
        for extra in [&["--check"][..], &[]] {
            let (code, out, err) = run_out(&f.args(extra));
            assert_eq!(code, Some(2), "{extra:?}: {out}{err}");
            // The line numbers count the fast timers' lines above the entry.
            let line = err.lines().find(|l| l.contains(&path)).unwrap_or_default();
            assert!(line.contains(want), "{want}: {err}");
        }
    }
}

#[tokio::test]
async fn tokens_come_from_a_file_or_a_named_variable_and_check_reads_them() {
    let f = Fleet::start(2).await;
    let no_file = f
        .entry(0, "")
        .replace(&f.token_file(0).display().to_string(), "/nonexistent/token");
    f.write("", &[no_file]);
    let (code, _, err) = run_out(&f.args(&["--check"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&f.id(0).to_string()) && err.contains("/nonexistent/token"),
        "{err}"
    );

    let by_env = format!(
        "[[workspace]]\nid = \"{}\"\ntoken_env = \"FLEET_TOKEN_B\"\nstate_dir = \"{}\"\n",
        f.id(1),
        f.state_dir(1).display()
    );
    f.write("", &[f.entry(0, ""), by_env]);
    let (code, _, err) = run_out(&f.args(&["--check"]));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("key token_env: the variable FLEET_TOKEN_B is not set"),
        "{err}"
    );
    let out = Command::new(MOLECULE)
        .args(f.args(&["--check"]))
        .env("FLEET_TOKEN_B", &f.ws[1].token)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains(&f.ws[1].token), "the token was printed");
}
