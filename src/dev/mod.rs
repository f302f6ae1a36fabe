//! `molecule dev`: try an agent in one command, with no platform at hand.
//!
//! It starts the [emulator](molecule_emulator) in-process on 127.0.0.1, creates an agent
//! workspace and a peer ([`workspaces`]), runs [`connect::serve`](molecule_host::connect::serve)
//! in-process against it with the backend (the embedded echo by default), and once the agent
//! is served prints the chat page's URL and a `molecule send` line ([`banner`]). The first
//! SIGINT/SIGTERM stops it gracefully (exit 0).
//!
//! The emulator's `/_dev` admin path and chat page answer only to loopback names and to requests
//! carrying this run's [`key`], which `molecule send` reads from a file only this user can read.
//!
//! Without `--data` everything is in memory and the host's state directory is a temporary
//! directory removed on exit; with `--data FILE` the platform keeps its state in that SQLite
//! file and the host its cursor and token in `FILE.state/` (0700), so a restart continues
//! where the last run stopped.

pub mod args;
pub mod banner;
pub mod key;
mod run;
pub mod workspaces;

pub use args::DevArgs;
pub use run::{DevError, main};
