//! Running `molecule backend-check` as a user would: the real binary, a real backend, the
//! JSON report parsed.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

use super::support::backend::TEST_BACKEND;
use super::support::sdk::sdk_env;

/// The timers of a test run: generous upper bounds (a passing backend never makes the checker
/// wait them out), shorter than the defaults only where a failing check waits a timer out.
/// A test that provokes a timeout sets that one timer in milliseconds.
pub const FAST: &[&str] = &[
    "--timeout=10s",
    "--startup-timeout=10s",
    "--cancel-grace=2s",
    "--exit-grace=2s",
];

/// One run of the checker.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// The JSON report.
    pub report: Value,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Run {
    /// The result of check `id`; the test fails if it is not in the report.
    pub fn check(&self, id: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("no check {id} in {:#}", self.report))
    }

    /// The outcome of check `id`: "pass", "fail" or "skip".
    pub fn outcome(&self, id: &str) -> &str {
        self.check(id)["outcome"].as_str().unwrap_or("")
    }

    /// The message of check `id`.
    pub fn message(&self, id: &str) -> &str {
        self.check(id)["message"].as_str().unwrap_or("")
    }

    /// Asserts that check `id` failed with a message containing `text`.
    pub fn assert_fails(&self, id: &str, text: &str) {
        assert_eq!(self.outcome(id), "fail", "{id}: {:#}", self.check(id));
        let message = self.message(id);
        assert!(message.contains(text), "{id}: {message:?} lacks {text:?}");
        assert!(
            !self.check(id)["hint"].as_str().unwrap_or("").is_empty(),
            "{id} has no hint"
        );
    }

    /// The ids of the checks that failed and count (not advisory).
    pub fn required_failures(&self) -> Vec<&str> {
        self.report["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["outcome"] == "fail" && c["tier"] != "advisory")
            .filter_map(|c| c["id"].as_str())
            .collect()
    }
}

/// Runs `molecule backend-check --json <flags> -- <command>`, with the [`FAST`] timers
/// unless `flags` set them.
pub fn check_json(flags: &[&str], command: &[&str]) -> Run {
    let name = |f: &str| f.split('=').next().unwrap_or("").to_owned();
    let fast = FAST
        .iter()
        .copied()
        .filter(|f| !flags.iter().any(|g| name(g) == name(f)));
    let flags: Vec<&str> = fast.chain(flags.iter().copied()).collect();
    let output = checker(&[&["--json"], flags.as_slice()].concat(), command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}): {stdout}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        report,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `molecule backend-check <flags> -- <command>` and returns what it did.
pub fn checker(flags: &[&str], command: &[&str]) -> Output {
    let mut cmd = Command::cargo_bin("molecule").expect("the molecule binary");
    cmd.arg("backend-check").args(flags).arg("--").args(command);
    cmd.envs(sdk_env());
    // A run that hangs fails the test instead of the whole suite.
    cmd.timeout(std::time::Duration::from_secs(120));
    cmd.output().expect("molecule runs")
}

/// Runs the checker on the test backend with `fault`, the fast timers and `flags`.
pub fn check_fault(fault: &str, flags: &[&str]) -> Run {
    let env = format!("--env=MOLECULE_TEST_FAULT={fault}");
    let flags = [&[env.as_str()], flags].concat();
    check_json(&flags, &[TEST_BACKEND])
}

/// The path of an interpreter for the Python and Node echoes. When it is missing: a failure
/// under CI (where it must be installed), a skip with a message otherwise.
pub fn interpreter(name: &str) -> Option<PathBuf> {
    match which::which(name) {
        Ok(path) => Some(path),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{name} is required under CI but is not installed")
        }
        Err(_) => {
            eprintln!("skipped: {name} is not installed");
            None
        }
    }
}

/// A file of this repository.
pub fn repo_file(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}
