//! The host's integration tests: one binary, one module per area, each running the real
//! `molecule` binary (and real backends) against real HTTP servers.

mod backend_command;
mod backend_faults;
mod backend_lifecycle;
mod backend_requests;
mod backend_start;
mod support;
