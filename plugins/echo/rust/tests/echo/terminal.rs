//! Started by a person on a terminal, the echo explains how to run it and exits 2.

use crate::process::Backend;
use nix::pty::openpty;
use std::process::{Command, Stdio};

#[test]
fn run_by_hand_on_a_terminal_it_explains_and_exits_2() {
    let pty = openpty(None, None).expect("openpty");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-echo"));
    cmd.env_remove("MOLECULE_BACKEND");
    let echo = Backend::spawn(&mut cmd, Stdio::from(pty.slave));
    assert_eq!(echo.wait_exit().code(), Some(2));
    let stderr = echo.stderr();
    assert!(stderr.contains("is a Molecule backend"), "{stderr}");
    assert!(stderr.contains("molecule dev --backend-cmd"), "{stderr}");
    assert!(
        stderr.contains("molecule connect <workspace-id> --backend-cmd"),
        "{stderr}"
    );
    drop(pty.master);
}

#[test]
fn piped_input_without_molecule_backend_is_served() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-echo"));
    cmd.env_remove("MOLECULE_BACKEND");
    let mut echo = Backend::spawn(&mut cmd, Stdio::piped());
    echo.initialize();
    echo.close_stdin();
    assert!(echo.wait_exit().success());
}
