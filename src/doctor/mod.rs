//! `molecule doctor <workspace-id>`: checks, one line each, whether `molecule connect` with
//! the same flags and environment would work, and says what to fix; `--json` for scripts.
//!
//! - [`args`]: connect's flags plus `--json` and `--timeout`;
//! - [`local`]: the state directory and its lock;
//! - [`platform`]: the API URL, the platform's build, the workspace, the token;
//! - [`backend`]: the backend's quick conformance checks, and the `claude` CLI for the
//!   claude-code backend;
//! - [`report`]: the lines, the JSON and the exit code (0 ok or warnings, 9 a failure, 2 a
//!   setting that cannot be used).
//!
//! The run is bounded by `--timeout`: a check still waiting then fails with that reason.

pub mod args;
pub mod backend;
pub mod local;
pub mod platform;
pub mod report;

pub use args::DoctorArgs;

use std::process::ExitCode;

use molecule_host::connect::{Config, ConnectError};
use molecule_host::exit;
use tokio::time::Instant;

use report::Report;

/// `molecule doctor` from the command line: the lines (or the JSON) on stdout.
pub fn main(args: DoctorArgs) -> ExitCode {
    let config = match crate::connect::config::from_args(&args.connect, crate::startup::var) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return exit::report(&ConnectError::Runtime(e)),
    };
    let report = runtime.block_on(run(&config, Instant::now() + args.timeout));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if args.json {
        let id = config.platform.workspace_id().to_string();
        println!("{}", report.to_json(&id));
    } else {
        print!("{}", report.to_text());
    }
    ExitCode::from(report.exit_code())
}

/// Runs every check, in the order an operator would fix them.
pub async fn run(config: &Config, deadline: Instant) -> Report {
    let mut report = Report::default();
    let id = config.platform.workspace_id();
    let (state_dir, lines) = local::state_and_lock(config.state_dir.as_deref(), id);
    platform::check(config, state_dir.as_deref(), deadline, &mut report).await;
    report.lines.extend(lines);
    report.push(backend::backend(config, deadline).await);
    if backend::is_claude_code(&config.backend.command) {
        report.lines.extend(backend::claude(config, deadline).await);
    }
    report
}
