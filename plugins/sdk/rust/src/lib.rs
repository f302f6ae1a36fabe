//! Write a Molecule backend in Rust.
//!
//! A backend is a program that the `molecule` host starts and talks to over its stdin and
//! stdout, one JSON-RPC 2.0 message per line. The host delivers every message that reaches the
//! workspace as a `handle_a2a` request, and posts the parts the backend answers with as the
//! reply. This crate does the protocol: the handshake, one task per request, cancellation,
//! progress, calls to the host, errors the host understands, shutdown when stdin closes, and
//! keeping stray prints off stdout. You implement [`Backend`].
//!
//! # A complete backend
//!
//! `Cargo.toml`: `molecule-plugin`, and `tokio` only if your handlers need it.
//!
//! ```no_run
//! use molecule_plugin::protocol::{HandleA2aParams, HandleA2aResult, RpcError};
//! use molecule_plugin::protocol::methods::BackendInfo;
//! use molecule_plugin::{AppError, Backend, RequestContext, reply};
//!
//! struct Shout;
//!
//! impl Backend for Shout {
//!     fn info(&self) -> BackendInfo {
//!         molecule_plugin::package_info!()
//!     }
//!
//!     async fn handle_a2a(
//!         &self,
//!         params: HandleA2aParams,
//!         _cx: RequestContext,
//!     ) -> Result<HandleA2aResult, RpcError> {
//!         let text = params.message.text();
//!         if text.is_empty() {
//!             return Err(AppError::unsupported_content("no text parts")
//!                 .user_message("I only read text.")
//!                 .into());
//!         }
//!         // Anything printed goes to stderr, the host's log: stdout is kept for the protocol.
//!         println!("shouting {} bytes", text.len());
//!         Ok(reply::text(text.to_uppercase()))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     molecule_plugin::run(Shout)
//! }
//! ```
//!
//! Run it with `molecule dev --backend-cmd ./target/debug/shout`, or attach it to a real
//! workspace with `molecule connect <workspace-id> --backend-cmd ./target/debug/shout`.
//! Started by hand on a terminal, it explains that and exits with status 2.
//!
//! # What a handler can do
//!
//! - **Fail usefully.** Return an [`AppError`] (1001 busy, 1002 rate limited, 1003 upstream
//!   unavailable, 1004 unsupported content, 1005 deadline exceeded, 1006 refused, 1007 reply
//!   too large) with `retryable`, `retry_after` and a `user_message` safe to show the sender.
//!   The host redelivers retryable failures and posts the user message of the others.
//! - **Be cancelled.** When the host cancels a request (its deadline passed, the host is
//!   shutting down), the handler's future is dropped and the request is answered `-32800`,
//!   exactly once, even if the handler was just finishing. A handler that wants to wind down
//!   by itself sets [`Backend::cancel_grace`] and watches [`RequestContext::cancelled`].
//! - **Report progress.** [`RequestContext::progress`] resets the host's idle timer for backends
//!   that advertise the `progress` capability (see [`Backend::capabilities`]).
//! - **Call the host.** [`RequestContext::host`] calls the methods the host offers in
//!   `initialize` (`capabilities.hostMethods`); the call carries the request's id.
//! - **Delegate to other workspaces.** [`RequestContext::peers`] lists the workspace's peers,
//!   messages them and writes to the person in the canvas ([`peers`]).
//! - **Know its deadline and workspace.** [`RequestContext::deadline`], and
//!   [`RequestContext::workspace`] for the workspace's id and private state directory.
//! - **Serve several workspaces in one process.** Advertise `maxWorkspaces` in
//!   [`Backend::capabilities`]; each request then names its [`Workspace`], and
//!   [`Backend::open_workspace`] and [`Backend::close_workspace`] hear of the others.
//!
//! Requests run concurrently, each in a task of its own, up to the `maxConcurrency` the
//! backend advertises (1 by default). When stdin closes, in-flight handlers get
//! [`ServeOptions::shutdown_grace`] to finish, the rest are cancelled, and [`run`] returns.
//!
//! # Testing a backend
//!
//! [`testing::TestHost`] plays the host in-process, over in-memory pipes:
//!
//! ```
//! # use molecule_plugin::protocol::{HandleA2aParams, HandleA2aResult, RpcError};
//! # use molecule_plugin::protocol::methods::BackendInfo;
//! # use molecule_plugin::{Backend, RequestContext, reply};
//! # struct Shout;
//! # impl Backend for Shout {
//! #     fn info(&self) -> BackendInfo { molecule_plugin::package_info!() }
//! #     async fn handle_a2a(&self, p: HandleA2aParams, _: RequestContext)
//! #         -> Result<HandleA2aResult, RpcError> { Ok(reply::text(p.message.text().to_uppercase())) }
//! # }
//! use molecule_plugin::testing::{TestHost, text_params};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), molecule_plugin::testing::TestError> {
//!     let mut host = TestHost::start(Shout).await?;
//!     assert_eq!(host.init_result().map(|r| r.backend.name.as_str()), Some("molecule-plugin"));
//!     let result = host.handle_a2a(text_params("hi")).await?;
//!     assert_eq!(result.parts[0].as_text(), Some("HI"));
//!     host.close().await
//! }
//! ```

mod app_error;
mod backend;
mod context;
mod dispatch;
mod env;
mod error;
mod host;
mod log;
mod outbox;
pub mod peers;
pub mod reply;
mod serve;
mod stdio;
pub mod testing;
mod workspace;

/// The protocol's types, re-exported so that backends need only this crate.
pub use molecule_protocol as protocol;

pub use app_error::AppError;
pub use backend::Backend;
pub use context::RequestContext;
pub use env::HostEnv;
pub use error::ServeError;
pub use host::{HostCallError, HostHandle};
pub use serve::{ServeOptions, serve, serve_with};
pub use stdio::{Threads, run, run_with, serve_stdio};
pub use tokio_util::sync::CancellationToken;
pub use workspace::Workspace;

/// The README's example, compiled as a doctest so the crate's front page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
