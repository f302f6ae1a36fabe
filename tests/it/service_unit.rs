//! `molecule service print-unit` through the real binary: it prints the files of
//! `deploy/systemd/`, `systemd-analyze verify` finds nothing wrong with them (shipped and
//! filled), the hardening keeps the exposure score low, the permanent exit codes are the ones
//! not restarted, and the unit's own `ExecStart` command line serves a workspace.
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use molecule_emulator::{Emulator, EmulatorConfig, WorkspaceSpec};
use molecule_host::exit;

use super::check_support::interpreter;
use super::connect_host::{Host, MOLECULE, echo, write_private};

const WS: &str = "0f2c0d6e-1111-4222-8333-444455556666";

fn molecule(args: &[&str]) -> Output {
    Command::new(MOLECULE)
        .args(args)
        .output()
        .expect("molecule runs")
}

fn print_unit(args: &[&str]) -> String {
    let out = molecule(&[&["service", "print-unit"], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn shipped(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(file).expect("the unit file")
}

/// The value of `key=` in `unit`.
fn directive<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in\n{unit}"))
}

/// Runs `systemd-analyze [--user] verify` on `unit` saved as `name`, and fails on any
/// complaint about it (an unknown key or a bad value is only a warning: exit code 0).
fn verify(analyze: &Path, unit: &str, name: &str, user: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, unit).unwrap();
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let mut cmd = Command::new(analyze);
    if user {
        cmd.arg("--user");
    }
    // A user manager needs a runtime directory, even one that is only verifying.
    let out = cmd
        .arg("verify")
        .arg(&path)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "systemd-analyze verify {name}: {:?}\n{stderr}\n{unit}",
        out.status
    );
}

#[test]
fn print_unit_prints_the_shipped_files() {
    assert_eq!(print_unit(&[]), shipped("deploy/systemd/molecule@.service"));
    assert_eq!(
        print_unit(&["--user"]),
        shipped("deploy/systemd/user/molecule@.service")
    );
}

#[test]
fn the_permanent_exit_codes_are_not_restarted() {
    let permanent = [
        exit::CONFIG,
        exit::BACKEND_START,
        exit::AUTH,
        exit::NO_SUCH_WORKSPACE,
        exit::WORKSPACE_REMOVED,
        exit::ALREADY_RUNNING,
    ]
    .map(|c| c.to_string())
    .join(" ");
    for unit in [print_unit(&[]), print_unit(&["--user"])] {
        assert_eq!(directive(&unit, "RestartPreventExitStatus"), permanent);
        assert_eq!(directive(&unit, "Restart"), "on-failure");
    }
}

#[test]
fn systemd_analyze_verifies_the_units_shipped_and_filled() {
    // Debian package systemd; it need not be running.
    let Some(analyze) = interpreter("systemd-analyze") else {
        return;
    };
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let bin = ["--bin", MOLECULE];
    verify(&analyze, &print_unit(&bin), "molecule@.service", false);
    let user = print_unit(&[&bin[..], &["--user"]].concat());
    verify(&analyze, &user, "molecule@.service", true);
    let filled = print_unit(
        &[
            &bin[..],
            &[
                "--workspace",
                WS,
                "--api-url",
                "https://acme.moleculesai.app",
                "--backend-cmd",
                r#"python3 "/opt/my agent/run.py" --share 50% --path C:\x $HOME"#,
                "--env",
                "MOLECULE_CONCURRENCY=8",
            ],
        ]
        .concat(),
    );
    assert!(filled.contains(r#"Environment="MOLECULE_BACKEND_CMD=python3 \"/opt/my agent/run.py\" --share 50%% --path C:\\x $HOME""#), "{filled}");
    verify(&analyze, &filled, &format!("molecule@{WS}.service"), false);

    // The hardening, as systemd scores it (0 best, 10 worst; 2.0 or less is "OK").
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("molecule@.service");
    std::fs::write(&path, print_unit(&bin)).unwrap();
    let out = Command::new(&analyze)
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let score = report.lines().last().unwrap_or_default();
    assert!(
        out.status.success(),
        "exposure above 2.0: {score}\n{report}"
    );
}

#[test]
fn what_a_unit_cannot_hold_is_refused_with_exit_code_2() {
    for (args, says) in [
        (&["--workspace", "ws-1"][..], "is not a workspace id"),
        (&["--bin", "molecule"][..], "give an absolute path"),
        (&["--env", "NOVALUE"][..], "is not KEY=VALUE"),
        (
            &["--backend-cmd", "python3 'agent.py"][..],
            "it is split like a shell",
        ),
        (&["--api-url", "https://x\n"][..], "control character"),
        (
            &["--env", "MOLECULE_WORKSPACE_TOKEN=secret"][..],
            "the token does not go into the unit",
        ),
    ] {
        let out = molecule(&[&["service", "print-unit"], args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a unit");
    }
}

/// ExecStart as systemd would run it: the instance name and the directories it provides.
fn exec_start(unit: &str, instance: &str, credentials: &Path, state: &Path) -> Vec<String> {
    directive(unit, "ExecStart")
        .replace("%i", instance)
        .replace(
            "${CREDENTIALS_DIRECTORY}",
            &credentials.display().to_string(),
        )
        .replace("${STATE_DIRECTORY}", &state.display().to_string())
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_units_command_line_serves_the_workspace() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let ws = emu
        .create_workspace(WorkspaceSpec::default())
        .expect("workspace");
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    write_private(&credentials.join("token"), &ws.token);
    let state = dir.path().join("state");
    for unit in [print_unit(&[]), print_unit(&["--user"])] {
        let argv = exec_start(&unit, &ws.id.to_string(), &credentials, &state);
        assert!(argv[0].ends_with("/molecule"), "{argv:?}");
        // The settings come from the environment file, as MOLECULE_* variables.
        let env = [
            ("MOLECULE_API_URL", emu.base_url()),
            ("MOLECULE_BACKEND_CMD", &echo()),
            ("MOLECULE_LOG_FORMAT", "json"),
        ];
        let host = Host::start_with(&argv[1..], &env);
        host.wait_log("serving", |e| {
            e["state_dir"].as_str() == Some(&state.display().to_string())
        })
        .await;
        host.stop().await;
    }
}
