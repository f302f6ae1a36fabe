//! The host of `molecule`: everything that serves one workspace of the Molecule AI platform with
//! a backend process — the platform client, the backend supervisor, the connect engine and the
//! peer calls. It holds no command line and no local platform: the `molecule` binary builds a
//! [`connect::Config`] from its flags and calls [`connect::serve`]; `molecule dev` does the same
//! against the emulator crate.
//!
//! `ARCHITECTURE.md` at the repository root maps the modules.

pub mod backend;
pub mod backoff;
pub mod connect;
pub mod exit;
pub mod logsafe;
pub mod normalize;
pub mod observe;
pub mod panics;
pub mod peers;
pub mod platform;
pub mod private_dir;
pub mod signal;
pub mod wake;
