//! One workspace's faults never reach another's, through the real `molecule run` against the
//! emulator with the real test backend: beside a healthy workspace, one whose backend crashes
//! on every delivery, one whose backend cannot start, one whose token was revoked and one that
//! was removed. The failing ones are logged and parked; the healthy one keeps answering, and
//! `run` still exits 0 on SIGTERM.

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use super::run_support::{Fleet, handled, logged, of};

#[tokio::test]
async fn a_crash_loop_a_dead_backend_a_revoked_token_and_a_removed_workspace_leave_the_healthy_one_serving()
 {
    let f = Fleet::start(5).await;
    f.emu.revoke_tokens(f.id(3)).unwrap();
    f.emu.remove_workspace(f.id(4)).unwrap();
    f.write(
        "",
        &[
            f.entry(0, ""),
            f.entry(1, "max_attempts = 3"),
            f.entry(
                2,
                "backend_env = { MOLECULE_TEST_FAULT = \"exit-before-init\" }",
            ),
            f.entry(3, ""),
            f.entry(4, ""),
        ],
    );
    let host = f.run(&[]);
    for (i, code) in [(2, 3), (3, 4)] {
        let line = logged(&host, f.id(i), "the workspace is parked").await;
        assert_eq!(line["exit_code"], code, "{line}");
    }
    let removed = logged(&host, f.id(4), "the workspace is parked").await;
    assert!(
        [5, 6].contains(&removed["exit_code"].as_u64().unwrap()),
        "{removed}"
    );
    // The crash loop runs while the healthy workspace answers.
    f.say(1, "crash now").await;
    f.say(1, "crash again").await;
    for text in ["one", "two", "three"] {
        f.say(0, text).await;
    }
    handled(&host, f.id(0), 3).await;
    let failed = logged(&host, f.id(1), "row handled with an error").await;
    assert_eq!(failed["attempts"], 3, "{failed}");
    for text in ["four", "five"] {
        f.say(0, text).await;
    }
    let rows = handled(&host, f.id(0), 5).await;
    assert!(rows.iter().all(|r| r["outcome"] == "replied"), "{rows:?}");
    // Nothing of the healthy workspace says it was disturbed.
    let own = of(&host, f.id(0));
    assert!(own.iter().all(|e| e["level"] != "ERROR"), "{own:?}");
    host.stop().await;
}

/// A fleet holds a handful of files per workspace: `run` raises its soft open-file limit to
/// the hard one, so the usual soft 1,024 does not end a few hundred workspaces.
#[tokio::test]
async fn run_raises_its_open_file_limit_to_the_hard_one() {
    let f = Fleet::start(1).await;
    f.write("", &[f.entry(0, "")]);
    let host = super::connect_host::Host::start_under(
        &["prlimit", "--nofile=256:4096", "--"],
        &f.args(&[]),
        &[],
    );
    logged(&host, f.id(0), "serving").await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", host.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3..5], ["4096", "4096"], "{line}");
    host.stop().await;
}
