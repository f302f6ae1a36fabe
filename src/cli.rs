//! The command line: one subcommand per job, each defined in its own module.

use crate::logging::LogArgs;
use clap::{Parser, Subcommand};
use molecule_host::exit;
use std::process::ExitCode;
use std::sync::LazyLock;

/// What `molecule --help` prints after the options: logging, then the exit codes.
fn after_help() -> &'static str {
    static TEXT: LazyLock<String> =
        LazyLock::new(|| format!("{}\n\n{}", crate::logging::HELP, exit::HELP));
    TEXT.as_str()
}

/// Attach an agent written in any language to the Molecule AI platform.
#[derive(Debug, Parser)]
#[command(
    name = "molecule",
    version = crate::version::short(),
    long_version = crate::version::long(),
    after_help = after_help()
)]
pub struct Cli {
    /// The logging flags, on every subcommand.
    #[command(flatten)]
    pub log: LogArgs,

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
    /// Check, one line each, whether `molecule connect` with the same flags would work, and
    /// say what to fix.
    Doctor(Box<crate::doctor::DoctorArgs>),
    /// Show how a running `molecule connect` is doing, read from its state directory (no
    /// platform call); every workspace when no id is given.
    Status(crate::status::StatusArgs),
    /// Serve many workspaces from one file (molecule.toml), each as `molecule connect` would.
    Run(Box<crate::run::RunArgs>),
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
    /// Print the completion script for a shell.
    Completions(crate::completions::CompletionsArgs),
    /// Print the manual page, or write one per command into a directory.
    Man(crate::man::ManArgs),
    /// Start a new project from a template: `molecule new backend <name> --lang python`.
    New(crate::new::NewArgs),
    /// Run `molecule connect` as a service: print the systemd unit.
    Service(crate::service::ServiceArgs),
}

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> ExitCode {
    let log = &cli.log;
    if let Some(conflict) = log.conflict() {
        use clap::CommandFactory;
        let _ = Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, conflict)
            .print();
        return ExitCode::from(exit::CONFIG);
    }
    match cli.command {
        Command::Connect(args) => {
            log.init();
            with_tls_env(|| crate::connect::main(*args))
        }
        Command::Run(args) => {
            log.init();
            with_tls_env(|| crate::run::main(*args))
        }
        Command::Dev(args) => {
            log.init();
            with_tls_env(|| crate::dev::main(*args))
        }
        // These print their result on stdout; their own logs are for debugging them.
        Command::Doctor(args) => {
            log.init_if_asked();
            with_tls_env(|| crate::doctor::main(*args))
        }
        Command::Status(args) => {
            log.init_if_asked();
            crate::status::main(args)
        }
        Command::BackendCheck(args) => {
            log.init_if_asked();
            crate::check::run(args)
        }
        Command::Send(args) => {
            log.init_if_asked();
            with_tls_env(|| crate::send::main(*args))
        }
        Command::Emulator(args) => {
            log.init_if_asked();
            crate::emulator::run(args)
        }
        Command::Mcp(args) => {
            log.init_if_asked();
            crate::mcp::main(args)
        }
        // A backend: its stderr is the host's log, and it keeps its own counsel.
        Command::EchoBackend => molecule_echo::run(),
        Command::Completions(args) => crate::completions::run(&args),
        Command::Man(args) => crate::man::run(&args),
        Command::New(args) => crate::new::main(args),
        Command::Service(args) => crate::service::main(args),
    }
}

/// Runs a command that builds an HTTP client once the CA variables are known to be usable.
fn with_tls_env(command: impl FnOnce() -> ExitCode) -> ExitCode {
    match crate::tls_env::check(|k| std::env::var(k).ok()) {
        Ok(()) => command(),
        Err(e) => exit::report(&e),
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
