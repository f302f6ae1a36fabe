//! `molecule send`: send one message to a workspace, as a person in the canvas or as another
//! workspace, and optionally wait for the reply and print it.
//!
//! - [`args`]: the command line; [`error`]: the failures and their exit codes;
//! - [`auth`]: who sends and with which token (asked of `molecule dev` when none is given);
//! - [`wait`]: finding the reply in a feed.
//!
//! Every platform call goes through [`molecule_host::platform::PlatformClient`]. The message is posted
//! to `POST /workspaces/<target>/a2a` and retried on transient errors with the same
//! `messageId`.

pub mod args;
pub mod auth;
pub mod error;
mod run;
pub mod wait;

pub use args::SendArgs;
pub use error::SendError;
pub use run::run;

use std::process::ExitCode;

use molecule_host::exit;

/// `molecule send` from the command line: prints the outcome on stdout, errors on stderr.
/// It logs (retries) only when asked for (see `cli::dispatch`): the output is the reply.
pub fn main(args: SendArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("molecule: error: cannot start the runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match runtime.block_on(run(&args, crate::startup::var)) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => exit::report(&e),
    }
}
