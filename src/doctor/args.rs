//! The command line of `molecule doctor`: `molecule connect`'s own flags and environment
//! variables (the same [`ConnectArgs`], validated by the same code, so the two never diverge),
//! plus `--json` and `--timeout`.

use std::time::Duration;

use molecule_protocol::duration::parse_duration;

use crate::connect::ConnectArgs;

/// What `molecule doctor --help` prints after the options.
pub const AFTER_HELP: &str = "\
Each line is ok, warn or fail, and says what to do: the API URL answers (directly or through
the proxy of HTTPS_PROXY, TLS verified), /buildinfo names the platform's build, the workspace
exists and its delivery mode, the token is accepted, the platform serves the event stream, the
state directory is owner-only and writable, no other molecule connect holds its lock, the
backend starts and passes the quick checks of molecule backend-check (handshake,
method.unknown, params.invalid, shutdown.eof), and, for molecule-claude-code, the claude CLI is
found, a supported version and logged in. Nothing is registered or answered.

Exit codes:
  0  every check is ok or a warning
  2  configuration or usage error (the message names the flag and the variable)
  9  a check failed (the failed lines say what to fix)

Example:
  molecule doctor 3f0c1d7e-1b2a-4c5d-8e9f-0a1b2c3d4e5f --api-url https://acme.moleculesai.app \\
    --token-file ~/.config/molecule/token --backend-cmd ./my-agent";

/// `molecule doctor <workspace-id>` with connect's flags.
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct DoctorArgs {
    /// Print one JSON object (every check, its status and message) instead of the lines.
    #[arg(long)]
    pub json: bool,
    /// How long the whole run may take; checks still running then fail.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The settings of the `molecule connect` to check.
    #[command(flatten)]
    pub connect: ConnectArgs,
}
