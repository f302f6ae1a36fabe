//! The backend → host methods (SPEC §14): `peers/list`, `peers/discover`, `peers/send`,
//! `workspace/info` and `user/notify`, served to the backend over its stdio connection and, for
//! the tools it starts, on a per-backend Unix socket.
//!
//! [`Peers`] holds what the calls share: the settings, the per-minute budget, the calls waiting
//! for an answer in our own feed, the sender-enrichment cache and the platform client (attached
//! once `molecule connect` has built it). [`Peers::hooks`] plugs all of it into connect:
//!
//! - [`methods`]: the handlers and the request scope (deadline, cancellation);
//! - [`send`]: `peers/send` with its retry schedule and `waitMs`;
//! - [`waiters`]: the waiting calls and the row interceptor;
//! - [`enrich`]: sender names and roles for older platforms;
//! - [`budget`]: peer calls per minute; [`error`]: codes 1010–1016;
//! - [`socket`] and [`path`]: the NDJSON socket and where it lives; [`stale`]: the sockets
//!   killed hosts left there.

pub mod budget;
pub mod enrich;
pub mod error;
mod methods;
pub mod path;
pub mod send;
pub mod settings;
pub mod socket;
pub mod stale;
mod state;
pub mod waiters;

pub use settings::PeerSettings;
pub use socket::HostSocket;
pub use state::Peers;

use state::parse_id;
