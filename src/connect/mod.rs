//! `molecule connect`: serve one workspace of the platform with a backend.

pub mod args;
pub mod config;
mod config_values;
pub mod dispatch;
mod error;
pub mod health;
pub mod inbound;
pub mod queues;
pub mod reply;
pub mod settings;
pub mod state;
pub mod statedir;
pub mod uploads;

pub use args::ConnectArgs;
pub use config::{BackendSettings, Config, ConfigError, TokenSetting};
pub use error::ConnectError;
