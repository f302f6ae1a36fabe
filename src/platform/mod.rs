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
//! - [`retry`]: capped exponential backoff with jitter that honours `Retry-After`.
//! - [`limiter`]: the client-side rate limiter with a heartbeat reserve.
//!
//! Every call sends `Authorization: Bearer <token>` (when there is one), `Origin`,
//! `X-Molecule-Org-Id` (when set), `X-Workspace-ID`, `User-Agent: molecule/<version>` and, on
//! bodies, `Content-Type: application/json`. The token never appears in logs or errors.

mod calls;
mod client;
pub mod config;
pub mod error;
pub mod limiter;
pub mod retry;
pub mod token;
pub mod types;

pub use client::PlatformClient;
pub use config::{ConfigError, Limits, PlatformConfig, Timeouts};
pub use error::{Call, ErrorClass, PlatformError, Transport};
pub use limiter::{CallClass, RateLimitConfig, RateLimiter};
pub use retry::{RetryPolicy, retry};
pub use token::{Secret, TokenError, TokenOrigin, TokenSource, store_token};
pub use types::*;
