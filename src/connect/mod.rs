//! `molecule connect`: serve one workspace of the platform with a backend.

pub mod args;
pub mod config;
mod config_values;
mod error;
pub mod queues;
pub mod settings;
pub mod state;
pub mod statedir;

pub use args::ConnectArgs;
pub use config::{BackendSettings, Config, ConfigError, TokenSetting};
pub use error::ConnectError;
