//! [`ServeError`]: why serving the protocol stopped.

use std::io;

/// Why [`crate::serve`] or [`crate::serve_stdio`] stopped with an error. A clean end of input
/// (the host closed stdin) is not an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The backend was started by hand, not by the molecule host.
    #[error(
        "{program} is a Molecule backend: it speaks JSON-RPC on stdin/stdout and is started by \
         the molecule host, not by hand. Run it with\n  \
         molecule dev --backend-cmd '{program}'\nor\n  \
         molecule connect <workspace-id> --backend-cmd '{program}'"
    )]
    NotUnderHost {
        /// The command the backend was started as.
        program: String,
    },
    /// Taking over stdin and stdout (to keep stray prints off the protocol stream) failed.
    #[error("could not take over stdin/stdout for the protocol: {0}")]
    Stdio(#[source] io::Error),
    /// Reading the protocol stream failed.
    #[error("reading the protocol stream failed: {0}")]
    Read(#[source] io::Error),
    /// Writing the protocol stream failed (the host is gone, usually).
    #[error("writing the protocol stream failed: {0}")]
    Write(#[source] io::Error),
    /// The async runtime could not be built.
    #[error("could not start the async runtime: {0}")]
    Runtime(#[source] io::Error),
}

impl ServeError {
    /// The process exit code for this error: 2 when started by hand, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::NotUnderHost { .. } => 2,
            _ => 1,
        }
    }
}
