//! The command line: one subcommand per job, each defined in its own module.

use crate::logging::LogFormat;
use clap::{Parser, Subcommand};
use molecule_host::exit;
use std::process::ExitCode;

/// Attach an agent written in any language to the Molecule AI platform.
#[derive(Debug, Parser)]
#[command(name = "molecule", version, after_help = exit::HELP)]
pub struct Cli {
    /// Log line format on stderr.
    #[arg(
        long,
        global = true,
        env = "MOLECULE_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a workspace: register, heartbeat, poll for messages, hand each to the backend,
    /// reply.
    Connect(Box<crate::connect::ConnectArgs>),
    /// Check that a backend follows the protocol: each check runs it afresh and says what to fix.
    #[command(name = "backend-check")]
    BackendCheck(crate::check::CheckArgs),
    /// Try an agent locally: a local platform serving it, a chat page and a `molecule send`
    /// line to paste.
    Dev(Box<crate::dev::DevArgs>),
    /// Send a message to a workspace as a person or as another workspace, and print the reply
    /// with --wait.
    Send(Box<crate::send::SendArgs>),
    /// Run the echo backend on stdin/stdout (used by `molecule dev` when no backend is given).
    #[command(name = "echo-backend", hide = true)]
    EchoBackend,
    /// Run the local platform emulator alone (what `molecule dev` starts).
    #[command(name = "emulator", hide = true)]
    Emulator(crate::emulator::EmulatorArgs),
    /// Serve the workspace's peer calls to an agent as MCP tools over stdio (for tools a
    /// backend starts; reads the host's socket from MOLECULE_HOST_SOCKET).
    Mcp(crate::mcp::McpArgs),
    /// Start a new project from a template: `molecule new backend <name> --lang python`.
    New(crate::new::NewArgs),
    /// Run `molecule connect` as a service: print the systemd unit.
    Service(crate::service::ServiceArgs),
}

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Connect(args) => crate::connect::main(*args, cli.log_format),
        Command::BackendCheck(args) => {
            // The report is the output; the checker's own logs are for debugging it.
            if std::env::var_os("RUST_LOG").is_some() {
                crate::logging::init(cli.log_format);
            }
            crate::check::run(args)
        }
        Command::Dev(args) => crate::dev::main(*args, cli.log_format),
        Command::Send(args) => crate::send::main(*args, cli.log_format),
        Command::EchoBackend => molecule_echo::run(),
        Command::Emulator(args) => crate::emulator::run(args),
        Command::Mcp(args) => crate::mcp::main(args),
        Command::New(args) => crate::new::main(args),
        Command::Service(args) => crate::service::main(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
