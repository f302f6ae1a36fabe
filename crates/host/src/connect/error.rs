//! Why `molecule connect` stopped, each reason mapped to one of the fixed exit codes.

use std::path::PathBuf;

use crate::backend::{CommandError, StartError};
use crate::exit::{self, HasExitCode};
use crate::platform::diagnose::Fault;
use crate::platform::{self, PlatformError, TokenError};

use super::config::ConfigError;
use super::state::StateError;

/// Everything that ends a `molecule connect` run with a failure.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A missing or malformed setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A platform setting (API URL, origin, org id, workspace id) that cannot be used.
    #[error(transparent)]
    PlatformConfig(#[from] platform::ConfigError),
    /// The token could not be read.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The backend command line cannot be used.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The state directory could not be created or locked.
    #[error("cannot use the state directory {}: {source} (--state-dir / MOLECULE_STATE_DIR)", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another `molecule connect` holds the state directory's lock.
    #[error(
        "another molecule connect{} already serves this workspace with the state directory {}; \
         stop it first (two hosts on one workspace would answer every message twice)",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        dir.display()
    )]
    AlreadyRunning {
        /// The locked state directory.
        dir: PathBuf,
        /// The holder's pid, when it could be read.
        pid: Option<u32>,
    },
    /// The state file cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// The backend did not start (the first start only; later failures are restarts).
    #[error(transparent)]
    BackendStart(#[from] StartError),
    /// A platform call failed for good (404/410 on the workspace, a rejected token, …).
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The platform cannot be reached at the API URL, or what answers there is no platform.
    #[error("{0}")]
    Contact(Fault),
    /// The platform registered the workspace in another delivery mode than poll.
    #[error(
        "the platform registered the workspace with delivery_mode {mode:?}, not \"poll\": \
         nothing would be queued for this host"
    )]
    NotPollMode {
        /// What the platform answered.
        mode: String,
    },
    /// The tokio runtime or the signal handlers could not be set up.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

impl HasExitCode for ConnectError {
    fn exit_code(&self) -> u8 {
        match self {
            ConnectError::Config(_) | ConnectError::PlatformConfig(_) => exit::CONFIG,
            ConnectError::Token(e) => e.exit_code(),
            ConnectError::Command(e) => e.exit_code(),
            ConnectError::StateDir { .. } => exit::CONFIG,
            ConnectError::AlreadyRunning { .. } => exit::ALREADY_RUNNING,
            ConnectError::State(e) => e.exit_code(),
            ConnectError::BackendStart(e) => e.exit_code(),
            ConnectError::Platform(e) => e.exit_code(),
            // What cures it is a setting: --api-url, SSL_CERT_FILE, a proxy variable.
            ConnectError::Contact(_) => exit::CONFIG,
            ConnectError::NotPollMode { .. } | ConnectError::Runtime(_) => exit::INTERNAL,
        }
    }
}
