//! `molecule connect`: serve one workspace of the platform with a backend.
//!
//! It registers the workspace in poll mode, heartbeats, polls the activity feed for inbound
//! messages, hands each to the backend as one `handle_a2a`, and posts the reply to the sender.
//! Delivery is at least once: a crash at any moment re-delivers unsettled rows and never drops
//! one; duplicates are rare and recognisable (the same `idempotencyKey` for the backend, the
//! same reply `messageId` for the platform).
//!
//! Modules, one responsibility each:
//! - [`config`], [`settings`]: what one connect is told (the `molecule` binary builds a
//!   [`Config`] from its command line);
//! - [`statedir`]: the 0700 state directory and its lock; [`state`]: the [`state::Ledger`] of
//!   settled rows (two cursors: the poll's in-memory fetch position, and the saved contiguous
//!   settled prefix plus the rows settled above it), its file and its writer task;
//! - [`contact`]: the first contact (buildinfo, the workspace), its failure said as one line;
//! - [`startup`]: registration; [`heartbeat`] and [`health`];
//! - `feed`: the poll loop, read-backs (first start, lost cursor) and late-row re-reads;
//! - [`inbound`]: what a row is; [`uploads`]: canvas files;
//! - `engine`: moves rows from fetched to settled: a pure core that decides (ledger, delivery
//!   queue, retries, crash suspects, reply lanes) and the one task that carries out its
//!   commands (backend calls, reply POSTs, downloads, timers, the state writer);
//! - [`hooks`]: the seams for `molecule dev` and the peer calls; `run`: [`serve`].

pub mod config;
pub mod contact;
mod dry_run;
mod engine;
mod error;
mod feed;
pub mod health;
mod heartbeat;
pub mod hooks;
pub mod inbound;
mod run;
pub mod settings;
pub mod startup;
pub mod state;
pub mod statedir;
pub mod uploads;

pub use config::{BackendSettings, Config, ConfigError, TOKEN_ENV, TokenSetting};
pub use error::ConnectError;
pub use hooks::{Hooks, RowInterceptor};
pub use run::serve;
pub use settings::Settings;
