//! The HTTP client of the platform API: the only place in the host that speaks HTTP to the
//! platform. `connect`, `molecule send` and the peer calls all go through [`PlatformClient`].
//!
//! - [`config`]: the validated settings (API URL, `Origin`, org id, workspace id, timeouts).
//! - [`token`]: the token source (file, re-read after a 401, or a value), the redacting
//!   [`Secret`], and the atomic 0600 store of a minted token.
//! - `client` and `calls`: the request pipeline (headers on every call, the rate limiter, the
//!   token re-read) and one typed method per endpoint.
//! - [`types`]: the request and response bodies, read tolerantly.
//! - [`error`]: one error enum, classified transient / rate-limited / permanent, plus the
//!   answers with their own meaning (cursor gone, no such workspace, removed).
//! - [`diagnose`]: why a first contact failed, as one line with the cause and the remedy.
//! - [`retry`](mod@retry): capped exponential backoff with jitter that honours `Retry-After`.
//! - [`limiter`]: the client-side rate limiter with a heartbeat reserve.
//! - [`post()`]: posting a message (a reply to an agent or a canvas message), retried until it
//!   is accepted or refused for good.
//! - [`events`]: the per-workspace event stream ([`PlatformClient::event_stream`]), a hint to
//!   read the feed sooner, parsed by the I/O-free [`sse`] parser.
//!
//! A 401 re-reads a token file once before it becomes [`PlatformError::Unauthorized`]; callers
//! that must tell a revoked token from a removed workspace then ask `get_workspace` (410).
//! Rate-limiter classes: heartbeat and register are never paced, replies and notifications stop
//! at the heartbeat reserve, peer calls and polls (opening the event stream counts as a poll)
//! earlier ([`PlatformClient::with_class`]
//! re-classes a handle).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use molecule_host::platform::*;
//! use std::time::Duration;
//! use tokio_util::sync::CancellationToken;
//!
//! let cfg = PlatformConfig::new("https://acme.moleculesai.app", "3f0c1d7e-1b2a-4c5d-8e9f-0a1b2c3d4e5f")?;
//! let client = PlatformClient::new(cfg, TokenSource::from_file("/etc/molecule/token")?)?;
//! let policy = RetryPolicy::forever(Duration::from_secs(1), Duration::from_secs(60));
//! let cancel = CancellationToken::new();
//! let query = ActivityQuery {
//!     activity_type: Some("a2a_receive".into()),
//!     limit: Some(100),
//!     include_peer_info: true,
//!     ..ActivityQuery::default()
//! };
//! match retry(Call::Activity, &policy, &cancel, || client.activity(&query)).await {
//!     Ok(page) => println!("{} rows", page.rows.len()),
//!     Err(PlatformError::CursorGone { .. }) => { /* read back from the saved created_at */ }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every call sends `Authorization: Bearer <token>` (when there is one), `Origin`,
//! `X-Molecule-Org-Id` (when set), `X-Workspace-ID`, `User-Agent: molecule/<version>` and, on
//! bodies, `Content-Type: application/json`. The token never appears in logs or errors.

mod calls;
mod client;
pub mod config;
pub mod diagnose;
pub mod error;
pub mod events;
pub mod failures;
pub mod limiter;
mod post;
mod reply;
pub mod retry;
mod rows;
pub mod rowscan;
pub mod sse;
pub mod token;
mod transport;
pub mod types;

pub use client::PlatformClient;
pub use config::{ConfigError, Limits, PlatformConfig, Timeouts};
pub use error::{Call, ErrorClass, PlatformError, Transport};
pub use events::{EventStream, PlatformEvent, StreamItem};
pub use limiter::{CallClass, RateLimitConfig, RateLimiter};
pub use post::{Posted, ReplyBody, post};
pub use retry::{RetryPolicy, retry};
pub use rows::{Unreadable, is_row_id};
pub use token::{Secret, TokenError, TokenOrigin, TokenSource, store_token};
pub use transport::SharedTransport;
pub use types::*;
