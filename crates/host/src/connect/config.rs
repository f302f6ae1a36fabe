//! The validated configuration of one `molecule connect`, built from the command line by the
//! `molecule` binary or directly by code that runs connect in-process (`molecule dev`).
//!
//! Every refusal is one line naming the flag and the environment variable to fix.

use crate::backend::{self, BackendCommand, RestartPolicy};
use crate::platform::{PlatformConfig, Secret, TokenSource};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::ConnectError;
use super::settings::Settings;

/// The environment variable that may hold the token.
pub const TOKEN_ENV: &str = "MOLECULE_WORKSPACE_TOKEN";

/// A setting that is missing or cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required setting is absent.
    #[error("missing {what}: give {flag} or set {env}")]
    Missing {
        /// What it is.
        what: &'static str,
        /// The flag.
        flag: &'static str,
        /// The environment variable.
        env: &'static str,
    },
    /// A value that cannot be parsed or is out of range.
    #[error("invalid {flag} / {env} value {value:?}: expected {expected}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// The environment variable.
        env: String,
        /// What was given.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// No token anywhere.
    #[error(
        "missing workspace token: give --token-file PATH or set {TOKEN_ENV} \
         (or MOLECULE_TOKEN_FILE)"
    )]
    NoToken,
    /// Both a token file and a token value.
    #[error("give the token one way: --token-file or --token, not both")]
    TwoTokens,
    /// A `--backend-env` that is not `KEY=VALUE`.
    #[error("invalid --backend-env {0:?}: expected KEY=VALUE")]
    BackendEnv(String),
    /// No default state directory on this system.
    #[error(
        "cannot find a state directory for this user: give --state-dir or set MOLECULE_STATE_DIR"
    )]
    NoStateDir,
}

impl crate::exit::HasExitCode for ConfigError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

/// Where the token comes from.
#[derive(Clone, Debug)]
pub enum TokenSetting {
    /// A file, re-read after a 401.
    File(PathBuf),
    /// A value; `origin` names it in messages (`--token`, `MOLECULE_WORKSPACE_TOKEN`, or an
    /// in-process caller).
    Value {
        /// The token.
        token: Secret,
        /// Where it came from.
        origin: String,
    },
    /// None was given: use the token a previous run saved in the state directory, if any.
    Saved,
}

impl TokenSetting {
    /// The token source: the file, the value, or the token saved in `state_dir` by an earlier
    /// run (none there is [`ConfigError::NoToken`]).
    pub fn source(&self, state_dir: &Path) -> Result<TokenSource, ConnectError> {
        Ok(match self {
            TokenSetting::File(path) => TokenSource::from_file(path)?,
            TokenSetting::Value { token, origin } => {
                TokenSource::from_value(token.expose(), origin)?
            }
            TokenSetting::Saved => {
                let saved = state_dir.join(super::statedir::TOKEN_FILE);
                if !saved.exists() {
                    return Err(ConfigError::NoToken.into());
                }
                TokenSource::from_file(saved)?
            }
        })
    }
}

/// How to run the backend.
#[derive(Clone, Debug)]
pub struct BackendSettings {
    /// The command.
    pub command: BackendCommand,
    /// Extra variables, applied last.
    pub env: Vec<(OsString, OsString)>,
    /// Variables of the host's environment the backend must not inherit (the token
    /// variables `molecule run` reads by name).
    pub secrets: Vec<OsString>,
    /// The supervisor's timers.
    pub timeouts: backend::Timeouts,
    /// Restarts and the breaker.
    pub restart: RestartPolicy,
}

/// Everything one `molecule connect` needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The platform and the workspace.
    pub platform: PlatformConfig,
    /// The token.
    pub token: TokenSetting,
    /// The backend.
    pub backend: BackendSettings,
    /// The state directory; `None` picks the user's default.
    pub state_dir: Option<PathBuf>,
    /// Intervals and limits.
    pub settings: Settings,
    /// Check everything, then exit instead of serving.
    pub dry_run: bool,
}

impl Config {
    /// A configuration with the default settings.
    pub fn new(platform: PlatformConfig, token: TokenSetting, command: BackendCommand) -> Self {
        Config {
            platform,
            token,
            backend: BackendSettings {
                command,
                env: Vec::new(),
                secrets: Vec::new(),
                timeouts: backend::Timeouts::default(),
                restart: RestartPolicy::default(),
            },
            state_dir: None,
            settings: Settings::default(),
            dry_run: false,
        }
    }
}
