//! The host's integration tests: one binary, one module per area, each running the real
//! `molecule` binary (and real backends) against real HTTP servers.

mod echo_backend;
