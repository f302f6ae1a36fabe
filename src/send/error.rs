//! Why `molecule send` failed, and the exit code of each reason.

use molecule_host::exit::{self, HasExitCode};
use molecule_host::platform::diagnose::Fault;
use molecule_host::platform::{self, PlatformError, TokenError};

/// A failed send.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A malformed or missing setting; the message names the flag.
    #[error("{0}")]
    Usage(String),
    /// No token, and the platform is not `molecule dev`.
    #[error(
        "{url} is not a `molecule dev` platform, so a token is needed: give --token-file PATH or \
         set MOLECULE_WORKSPACE_TOKEN ({which})"
    )]
    NeedToken {
        /// The API URL.
        url: String,
        /// Which kind of token.
        which: &'static str,
    },
    /// `--canvas` with a token the platform refused.
    #[error(
        "--canvas needs an org or admin token, and the platform refused this one (HTTP {status}); \
         give one with --token-file or MOLECULE_WORKSPACE_TOKEN, or send as a workspace with --as"
    )]
    CanvasToken {
        /// The status.
        status: u16,
    },
    /// The local platform does not know the sender.
    #[error("no such workspace {0} on this platform (--as)")]
    NoSuchSender(String),
    /// The API URL, origin or org id.
    #[error(transparent)]
    Config(#[from] platform::ConfigError),
    /// The token file.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A platform call failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The platform cannot be reached at the API URL, or what answers is no platform.
    #[error("{0}")]
    Unreachable(Fault),
    /// The local platform's admin path answered something unexpected.
    #[error("the local platform at {url} answered {what}")]
    Dev {
        /// The API URL.
        url: String,
        /// What it answered.
        what: String,
    },
    /// No reply in time.
    #[error("no reply within {secs} s (the message {message_id} was sent)")]
    Timeout {
        /// The wait.
        secs: f64,
        /// The sent message.
        message_id: String,
    },
}

impl HasExitCode for SendError {
    fn exit_code(&self) -> u8 {
        match self {
            SendError::Usage(_) | SendError::NeedToken { .. } | SendError::Config(_) => {
                exit::CONFIG
            }
            SendError::Token(e) => e.exit_code(),
            SendError::CanvasToken { .. } => exit::AUTH,
            SendError::NoSuchSender(_) => exit::NO_SUCH_WORKSPACE,
            SendError::Platform(e) => match e {
                PlatformError::Unauthorized { .. }
                | PlatformError::NoSuchWorkspace { .. }
                | PlatformError::Removed { .. }
                | PlatformError::Token(_) => e.exit_code(),
                _ => exit::SEND_FAILED,
            },
            SendError::Unreachable(f) if f.is_permanent() => exit::CONFIG,
            SendError::Dev { .. } | SendError::Unreachable(_) => exit::SEND_FAILED,
            SendError::Timeout { .. } => exit::SEND_TIMEOUT,
        }
    }
}
