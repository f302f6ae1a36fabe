//! How a running `molecule connect` is doing, for those who watch it from outside the platform:
//! the operator's `molecule status` and a Prometheus scraper.
//!
//! - [`vitals`]: the live record one workspace's tasks write into (rows, load, backend,
//!   registration, polls, the event stream, the platform's failures) and read as a
//!   [`Snapshot`];
//! - [`snapshot`]: that record as plain data, which is also the status file's format;
//! - [`status_file`]: the task that keeps `<state>/status.json` current, and its reader;
//! - [`metrics`]: the Prometheus exposition of any number of workspaces from one registry,
//!   every series labelled by `workspace`, and the readiness they add up to.
//!
//! Nothing here serves HTTP: the `molecule` binary puts the exposition on a socket.

pub mod metrics;
pub mod snapshot;
pub mod status_file;
pub mod vitals;

pub use metrics::Metrics;
pub use snapshot::Snapshot;
pub use vitals::Vitals;
