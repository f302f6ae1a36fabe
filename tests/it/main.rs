//! The host's integration tests: one binary, one module per area, each running the real
//! `molecule` binary (and real backends) against real HTTP servers.

mod backend_command;
mod backend_faults;
mod backend_lifecycle;
mod backend_requests;
mod backend_start;
mod check_echo;
mod check_faults;
mod check_report;
mod check_support;
mod connect_backend_faults;
mod connect_delivery;
mod connect_emulator;
mod connect_host;
mod connect_in_process;
mod connect_platform;
mod connect_platform_faults;
mod connect_process;
mod connect_startup;
mod echo_backend;
mod emulator_a2a;
mod emulator_cli;
mod emulator_feed;
mod emulator_guard;
mod emulator_persist;
mod emulator_registry;
mod emulator_support;
mod peers_methods;
mod peers_support;
mod platform_calls;
mod platform_errors;
mod platform_limiter;
mod platform_retry;
mod platform_support;
mod platform_token;
mod support;
