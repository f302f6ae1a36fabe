//! The `molecule` command line: attaches a workspace of the Molecule AI platform to a backend
//! process written in any language. Each subcommand is a module here that wires the crates
//! together: the host (`molecule_host`) serves a workspace, the emulator (`molecule_emulator`)
//! is the local platform of `molecule dev`.
//!
//! Start at [`run`]; `ARCHITECTURE.md` at the repository root maps the crates and modules.

pub mod check;
pub mod cli;
pub mod completions;
pub mod connect;
pub mod dev;
pub mod doctor;
pub mod emulator;
pub mod logging;
pub mod man;
pub mod mcp;
pub mod new;
pub mod run;
pub mod send;
pub mod service;
pub mod startup;
pub mod status;
pub mod tls_env;
pub mod version;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

/// Parses `args` (program name first) and runs the command; returns the process exit code.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli::dispatch(cli),
        Err(e) => {
            // --help and --version are "errors" to clap but succeed.
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(molecule_host::exit::CONFIG)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
