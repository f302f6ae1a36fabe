//! One way to say a duration: every command that takes one reads the same grammar (`1.5s`, `2h`,
//! `7d`, a bare number of seconds) and refuses a bad one with the same words and exit code 2.

use super::dev_support::{Dev, molecule, stderr};

/// The shared error's list of accepted forms.
const FORMS: &str = "500ms, 1.5s, 20s, 10m, 2h or 7d (a bare number is seconds)";

#[test]
fn every_command_refuses_a_bad_duration_with_the_same_words() {
    let lines: [&[&str]; 5] = [
        &["backend-check", "--timeout", "5 parsecs", "--", "true"],
        &["dev", "--retention", "5 parsecs"],
        &["mcp", "--call-timeout", "5 parsecs"],
        &["emulator", "--retention", "5 parsecs"],
        &[
            "connect",
            "11111111-2222-3333-4444-555555555555",
            "--api-url",
            "http://127.0.0.1:9",
            "--backend-cmd",
            "true",
            "--token-file",
            "/nonexistent",
            "--poll-interval",
            "5 parsecs",
        ],
    ];
    for args in lines {
        let out = molecule().args(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("5 parsecs") && err.contains(FORMS),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_takes_days_and_fractions() {
    // `--retention 7d` was refused although the help gave the default as "7 days".
    let mut dev = Dev::start(&["--retention", "7d", "--fault-revoke-after", "1.5h"]).await;
    assert!(!dev.exited(), "{}", dev.stderr().join("\n"));
    assert_eq!(dev.stop().await, Some(0));
}
