//! `molecule backend-check -- <command…>`: the conformance checker. It runs a backend through
//! the checks `protocol/SPEC.md` implies, a fresh process per check, and says what to fix.
//!
//! The checker plays the host by hand rather than through the supervisor, so that it sees
//! every line the backend writes and can send what the host never would (a request before
//! `initialize`, a cancel for an unknown id, a newer protocol version). Process handling
//! (spawning in a process group, the stop ladder, finding descendants) is the supervisor's
//! [`BackendProcess`](molecule_host::backend::BackendProcess).
//!
//! - [`catalog`]: the checks, their ids and tiers;
//! - [`session`]: one backend process under test, and its [`record`] (every line, classified);
//! - [`probe`]: the messages the checker sends and the validation of the answers;
//! - [`language`]: the backend's language, for hints that name one;
//! - [`host`]: the host the checker plays for the backend's own calls, on stdio and a socket;
//! - `checks`: the checks themselves, run by [`runner`] and reported by [`report`].

mod args;
pub mod catalog;
mod checks;
pub mod host;
pub mod language;
pub mod outcome;
pub mod plan;
pub mod probe;
pub mod record;
pub mod report;
pub mod runner;
pub mod session;

pub use args::CheckArgs;
pub use catalog::{CheckId, Tier};
pub use report::Report;

use std::process::ExitCode;

use molecule_host::backend::BackendCommand;
use molecule_host::exit::{self, HasExitCode};

/// Runs `molecule backend-check`.
pub fn run(args: CheckArgs) -> ExitCode {
    let command = match BackendCommand::from_argv(args.command.clone()) {
        Ok(command) => command,
        Err(e) => {
            if args.json {
                let display = shell_words::join(args.command.iter().map(|a| a.to_string_lossy()));
                let report = serde_json::json!({
                    "command": display,
                    "error": e.to_string(),
                    "exitCode": e.exit_code(),
                });
                println!("{report}");
            }
            return exit::report(&e);
        }
    };
    let plan = match plan::Plan::new(args.settings(command)) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("molecule: error: cannot create a state directory for the backend: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("molecule: error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let report = runtime.block_on(runner::run(&plan, &args.only));
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    ExitCode::from(report.exit_code())
}
