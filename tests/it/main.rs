//! The host's integration tests: one binary, one module per area, each running the real
//! `molecule` binary (and real backends) against real HTTP servers.

mod emulator_a2a;
mod emulator_cli;
mod emulator_feed;
mod emulator_guard;
mod emulator_persist;
mod emulator_registry;
mod emulator_support;
