//! The backend supervisor: all process handling in the host.
//!
//! A backend is a separate executable, in any language, that answers `handle_a2a` requests in
//! JSON-RPC over its stdin/stdout (`protocol/SPEC.md`). [`Supervisor::start`] resolves nothing
//! itself: the caller parses the command line with [`BackendCommand::parse`] and fills a
//! [`SupervisorConfig`]. The supervisor then
//!
//! - spawns the backend in its own process group with a documented environment (the platform
//!   token removed), completes the `initialize` handshake within the startup timeout, and
//!   fails with a [`StartError`] that quotes what the backend did when it cannot;
//! - sends requests within the backend's `maxConcurrency`, each with a hard timeout, an idle
//!   timeout reset by `$/progress`, and cancellation (`$/cancelRequest`, then the cancel grace
//!   for the one answer), and returns exactly one outcome per request ([`CallError`] says
//!   which failure it was);
//! - drains the backend's stderr into tracing, rate-limited, keeping the end for crash reports;
//! - restarts a crashed backend with backoff (failing its in-flight requests with
//!   [`CallError::Crashed`]), opens a breaker on a crash loop, and reports all of it through
//!   [`Supervisor::status`];
//! - serves backend → host requests through the [`HostHandlers`] registry;
//! - shuts down by draining, cancelling, closing stdin, SIGTERM and SIGKILL to the group, and a
//!   sweep that leaves no descendant, even one that left the group ([`descendants()`]);
//! - as a container's PID 1, reaps the orphans the kernel hands it ([`OrphanReaper`]).
//!
//! The lower layers are public for `molecule backend-check`, which drives backends by hand:
//! [`BackendProcess`] (spawn, the stop ladder, the sweep) and the [`descendants`](mod@descendants) module.

mod breaker;
mod command;
mod config;
pub mod descendants;
mod env;
mod error;
mod handlers;
mod handshake;
mod incoming;
mod instance;
pub mod leftovers;
mod manager;
mod membership;
mod orphans;
mod pool;
mod process;
mod reaper;
mod request;
mod routes;
mod rpc;
mod stats;
mod status;
mod stderr;
mod supervisor;
mod tenant;

pub use command::{BackendCommand, CommandError, Lookup};
pub use config::{HOST_CALLS_IN_FLIGHT, RestartPolicy, StderrLimits, SupervisorConfig, Timeouts};
pub use descendants::{ProcInfo, children, descendants, process_table};
pub use env::{EnvConfig, HostVars, TOKEN_VAR, backend_env};
pub use error::{
    CallError, CrashReport, Evidence, ExitCause, ProtocolViolation, StartError, Unavailable,
};
pub use handlers::{HandlerFuture, HostCall, HostHandler, HostHandlers, RequestScope};
pub use handshake::initialize_params;
pub use orphans::claim_orphans;
pub use pool::BackendPool;
pub use process::{BackendProcess, Ladder, Pipes, StopReport, StopStep};
pub use reaper::OrphanReaper;
pub use stats::Stats;
pub use stderr::StderrTail;
pub use supervisor::{CallOptions, ShutdownReport, State, Status, Supervisor};
pub use tenant::{OpenError, WorkspaceSpec};
