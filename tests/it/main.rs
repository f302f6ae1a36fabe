//! The integration tests: one binary, one module per area. Every test runs real processes
//! against real HTTP servers (the emulator over TCP, or wiremock); they differ in what drives
//! them:
//!
//! - **the real `molecule` binary**: `connect_*` (but `connect_in_process`), `dev_*`,
//!   `check_*`, `chat_page`, `cli_*`, `doctor*`, `durations`, `echo_backend`, `emulator_cli`,
//!   `mcp_*`, `new_backend`, `peers_*`, `run_*` (and `deploy_k8s`'s check of the example),
//!   `send_errors` and `service_unit` start the binary as a user would, with real backends;
//!   `fault_suite` drives hundreds of messages through it while faults of every kind are
//!   injected (`fault_support` is its driver, `fault_disk` a tiny tmpfs that fills up);
//! - **the repository's own scripts and docs**: `ci_script` and `docs_troubleshooting` check
//!   that `.ci/run` parses and runs the README's test command, and that every error line the
//!   host prints has a troubleshooting entry;
//! - **the host library in process, real backends**: `backend_*` drive the supervisor
//!   (`molecule_host::backend`) over real backend processes; `connect_in_process` runs
//!   `molecule_host::connect::serve` with hooks, as `molecule dev` does;
//! - **the library against a real server**: `platform_*` run the platform client against
//!   wiremock, `emulator_*` (but `emulator_cli`) run the emulator library and speak HTTP to it.

mod backend_command;
mod backend_faults;
mod backend_host_calls;
mod backend_lifecycle;
mod backend_pool;
mod backend_requests;
mod backend_start;
mod chat_page;
mod check_answers;
mod check_echo;
mod check_faults;
mod check_host_calls;
mod check_report;
mod check_support;
mod check_workspaces;
mod ci_script;
mod cli_docs;
mod cli_logging;
mod cli_version;
mod connect_backend_faults;
mod connect_delivery;
mod connect_diagnosis;
mod connect_disk_full;
mod connect_emu;
mod connect_emulator;
mod connect_escapes;
mod connect_events;
mod connect_foreign_peers;
mod connect_host;
mod connect_hostile_replies;
mod connect_hostile_rows;
mod connect_hostile_waits;
mod connect_in_process;
mod connect_init;
mod connect_panics;
mod connect_platform;
mod connect_platform_faults;
mod connect_process;
mod connect_recovery;
mod connect_replies;
mod connect_startup;
mod connect_state_dir;
mod deploy_k8s;
mod dev_admin_guard;
mod dev_data;
mod dev_faults;
mod dev_flags;
mod dev_roundtrip;
mod dev_support;
mod docs_troubleshooting;
mod doctor;
mod doctor_local;
mod durations;
mod echo_backend;
mod emulator_a2a;
mod emulator_cli;
mod emulator_events;
mod emulator_feed;
mod emulator_guard;
mod emulator_lifecycle;
mod emulator_persist;
mod emulator_registry;
mod emulator_support;
mod fault_disk;
mod fault_suite;
mod fault_support;
/// The build script's commit detection, tested in `cli_version`.
#[path = "../../build/git_commit.rs"]
mod git_commit;
mod mcp_server;
mod mcp_support;
mod metrics_status;
mod net_proxy_tls;
mod net_support;
mod new_backend;
mod peers_emulator;
mod peers_end_to_end;
mod peers_methods;
mod peers_send;
mod peers_socket;
mod peers_support;
mod peers_wait;
mod platform_calls;
mod platform_errors;
mod platform_events;
mod platform_limiter;
mod platform_retry;
mod platform_support;
mod platform_token;
mod run_faults;
mod run_file;
mod run_metrics;
mod run_pool;
mod run_reload;
mod run_shared;
mod run_support;
mod send_errors;
mod service_unit;
mod support;
