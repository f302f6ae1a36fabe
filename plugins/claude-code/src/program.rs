//! The program: parse and validate the command line, start the watchdog, serve the protocol
//! on stdin/stdout, and make sure no turn outlives the backend, whether it ends by stdin EOF
//! (the host's shutdown signal), SIGTERM or SIGINT.

use crate::backend::ClaudeCode;
use crate::cli::Args;
use crate::config::Config;
use crate::process::{self, REAPER_FLAG, Reaper, Registry};
use crate::sessions::SessionStore;
use clap::Parser;
use molecule_plugin::ServeError;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// Exit status for a refused command line or unusable state.
const USAGE: u8 = 2;

/// The whole `main`.
pub fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == REAPER_FLAG) {
        return process::run_reaper();
    }
    let args = match Args::try_parse_from(&argv) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if args.check {
        return crate::selfcheck::run(&args);
    }
    // Before any start-up message, so a person who ran it by hand reads first what it is.
    if let Err(e) = check_started_by_host(&argv) {
        eprintln!("{e}");
        return ExitCode::from(e.exit_code());
    }
    let mut config = match args.into_config() {
        Ok(config) => config,
        Err(e) => return fail(&e.to_string()),
    };
    let env = crate::command::turn_env(std::env::vars_os());
    config.installed = match crate::installed::probe(&config.claude_bin, &env) {
        Ok(installed) => installed,
        Err(e) => return fail(&e.to_string()),
    };
    let sessions = match SessionStore::open(
        config.state_dir.as_deref(),
        config.max_sessions,
        config.session_max_age,
    ) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    announce(&config);
    let registry = start_process_guards();
    let backend = ClaudeCode::new(config.clone(), registry.clone(), sessions);
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)
        .and_then(|rt| {
            let outcome = rt.block_on(serve(backend, &registry, config.timers.kill_grace));
            // Turns abandoned by the shutdown are dropped here, which kills their groups.
            rt.shutdown_timeout(Duration::from_millis(100));
            outcome
        });
    registry.kill_all();
    registry.finish();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ ServeError::NotUnderHost { .. }) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
        Err(e) => {
            eprintln!("molecule-claude-code: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Run on a terminal without the host, the program explains itself instead of waiting for
/// JSON; piped input is accepted, so tools and tests can drive it.
fn check_started_by_host(argv: &[std::ffi::OsString]) -> Result<(), ServeError> {
    let under_host = std::env::var_os("MOLECULE_BACKEND").is_some_and(|v| v == "1");
    if under_host || !std::io::stdin().is_terminal() {
        return Ok(());
    }
    let program = argv.first().map_or_else(
        || "molecule-claude-code".into(),
        |p| p.to_string_lossy().into_owned(),
    );
    Err(ServeError::NotUnderHost { program })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("molecule-claude-code: {message}");
    ExitCode::from(USAGE)
}

/// Says at start-up what an operator must know.
fn announce(config: &Config) {
    if config.skip_permissions {
        let user = std::env::var("USER").unwrap_or_else(|_| "this user".into());
        crate::log::warn(&format!(
            "--dangerously-skip-permissions: Claude may use every tool without asking, so anyone \
             who can message this workspace can run commands on this machine as {user}, in {:?} and beyond",
            config.cwd
        ));
    }
    if config.state_dir.is_none() {
        crate::log::warn(
            "no --state-dir or MOLECULE_STATE_DIR: conversations keep their Claude sessions only until the backend restarts",
        );
    }
}

/// Makes the backend a subreaper and starts the watchdog; either may be unavailable, which
/// weakens the guarantees but does not stop the backend.
fn start_process_guards() -> Registry {
    let subreaper = match process::become_subreaper() {
        Ok(()) => true,
        Err(e) => {
            crate::log::warn(&format!(
                "cannot become a child subreaper ({e}): processes a turn leaves behind go to init"
            ));
            false
        }
    };
    let reaper = match Reaper::start() {
        Ok(r) => Some(r),
        Err(e) => {
            crate::log::warn(&format!(
                "cannot start the turn watchdog ({e}): a SIGKILL of the backend may leave turns running"
            ));
            None
        }
    };
    Registry::for_program(subreaper, reaper)
}

/// Serves until stdin ends, or a signal asks the backend to stop, in which case every running
/// turn is stopped first.
async fn serve(
    backend: ClaudeCode,
    registry: &Registry,
    grace: Duration,
) -> Result<(), ServeError> {
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Stdio)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Stdio)?;
    tokio::select! {
        outcome = molecule_plugin::serve_stdio(backend) => outcome,
        _ = term.recv() => {
            registry.terminate_all(grace).await;
            Ok(())
        }
        _ = int.recv() => {
            registry.terminate_all(grace).await;
            Ok(())
        }
    }
}
