//! Fixed exit codes, so that a service manager can be told which failures are permanent.
//!
//! The numbers are part of the command-line interface: `--help` and the README list them, and
//! they never change meaning.

use std::process::ExitCode;

/// Success, including a clean shutdown after SIGINT or SIGTERM.
pub const OK: u8 = 0;
/// An unexpected internal failure.
pub const INTERNAL: u8 = 1;
/// A missing or malformed setting (also clap's usage errors).
pub const CONFIG: u8 = 2;
/// The backend could not be started or failed its handshake.
pub const BACKEND_START: u8 = 3;
/// The platform rejected the token (invalid, revoked or rotated).
pub const AUTH: u8 = 4;
/// The workspace id does not exist on the platform.
pub const NO_SUCH_WORKSPACE: u8 = 5;
/// The workspace was removed on the platform.
pub const WORKSPACE_REMOVED: u8 = 6;
/// Another `molecule connect` already serves this workspace and state directory.
pub const ALREADY_RUNNING: u8 = 7;
/// `molecule send --wait`: no reply arrived in time.
pub const SEND_TIMEOUT: u8 = 8;
/// `molecule backend-check`: a mandatory check failed; `molecule doctor`: a check failed.
pub const CHECK_FAILED: u8 = 9;
/// `molecule send`: the platform refused the message or could not be reached.
pub const SEND_FAILED: u8 = 10;

/// The exit-code table, as printed at the end of `molecule --help`.
pub const HELP: &str = "\
Exit codes:
  0  success (also a clean shutdown on SIGINT/SIGTERM)
  1  internal error
  2  configuration or usage error
  3  the backend failed to start (permanent until the backend is fixed)
  4  authentication error: token invalid, revoked or rotated (permanent)
  5  no such workspace (permanent)
  6  workspace removed on the platform (permanent)
  7  another molecule connect already serves this workspace and state dir
  8  molecule send: timed out waiting for the reply
  9  molecule backend-check: a mandatory check failed; molecule doctor: a check failed
  10 molecule send: the platform refused the message or could not be reached";

/// An error that knows which exit code it maps to.
pub trait HasExitCode: std::fmt::Display {
    /// The process exit code for this error.
    fn exit_code(&self) -> u8;
}

/// Prints `error` as one line on stderr and returns its exit code.
pub fn report(error: &dyn HasExitCode) -> ExitCode {
    eprintln!("molecule: error: {error}");
    ExitCode::from(error.exit_code())
}
