//! The `backend-check` command line.

use std::ffi::OsString;
use std::time::Duration;

use super::catalog::CheckId;
use super::plan::{Settings, Timers};
use molecule_host::backend::BackendCommand;
use molecule_protocol::duration::parse_duration;

/// How the output ends: what each outcome means, and the exit codes.
const AFTER_HELP: &str = "\
Each check starts the backend afresh, plays the host, and passes, fails (saying what to fix) or
is skipped (saying why). Mandatory checks apply to every backend; capability checks to backends
that advertise the capability (maxConcurrency above 1, cancel, progress); advisory checks report
recommended behaviour and never fail the run. A capability check that the backend advertises
but that could not run (most need --busy-message) is UNCHECKED, never a pass: the result then
reads INCOMPLETE.

Exit codes: 0 no mandatory check (and no check of an advertised capability) failed, though
some may be unchecked; 9 one failed; 3 the backend could not be started at all; 2 usage error.

Example:
  molecule backend-check -- python3 my_agent.py
  molecule backend-check --json --busy-message 'write a long essay' -- ./my-agent --verbose";

/// `molecule backend-check`: checks that a backend follows the protocol.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct CheckArgs {
    /// Print the machine report (one JSON object) instead of the summary.
    #[arg(long)]
    pub json: bool,

    /// How long to wait for each answer.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// How long the backend may take from its start to its answer to initialize.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub startup_timeout: Duration,

    /// How long a cancelled request may take to be answered (the host's cancel grace).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub cancel_grace: Duration,

    /// A message your backend works on for a few seconds before answering. It enables the
    /// checks that need a request in flight: cancel.in-flight, concurrency.ping,
    /// progress.in-flight (make it run longer than --idle-timeout), and requests overtaking a
    /// busy one in concurrency.parallel.
    #[arg(long, value_name = "TEXT")]
    pub busy_message: Option<String>,

    /// A message that makes your backend call the host (peers/list, peers/send…). It enables
    /// host-calls.params, host-calls.errors and host-calls.scoped, which check the calls'
    /// params and how the backend handles each error the host may answer.
    #[arg(long, value_name = "TEXT")]
    pub host_call_message: Option<String>,

    /// The idle timeout advertised as limits.idleTimeoutMs: a backend that advertises progress
    /// must send $/progress at least this often while a request runs.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Run only these checks (comma-separated, or repeat the flag); the handshake always runs.
    #[arg(long, value_name = "CHECK", value_delimiter = ',')]
    pub only: Vec<CheckId>,

    /// Add a variable to the backend's environment (repeat for more).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(OsString, OsString)>,

    /// How long the backend may take to exit after its stdin closes (the spec's 5 s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, hide = true)]
    pub eof_timeout: Duration,

    /// How long the backend may take to exit after SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, hide = true)]
    pub term_timeout: Duration,

    /// Once the backend has exited, how long its pipes and children may take to go.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, hide = true)]
    pub exit_grace: Duration,

    /// The line cap advertised as limits.maxMessageBytes.
    #[arg(long, value_name = "BYTES", default_value_t = molecule_protocol::codec::DEFAULT_MAX_MESSAGE_BYTES, hide = true)]
    pub max_message_bytes: usize,

    /// The backend command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

impl CheckArgs {
    /// The settings of a run of `command`.
    pub fn settings(&self, command: BackendCommand) -> Settings {
        Settings {
            command,
            extra_env: self.env.clone(),
            timers: Timers {
                startup: self.startup_timeout,
                answer: self.timeout,
                cancel_grace: self.cancel_grace,
                idle: self.idle_timeout,
                eof: self.eof_timeout,
                term: self.term_timeout,
                exit_grace: self.exit_grace,
            },
            max_message_bytes: self.max_message_bytes,
            busy_message: self.busy_message.clone(),
            host_call_message: self.host_call_message.clone(),
        }
    }
}

/// Parses `KEY=VALUE`.
fn parse_env(text: &str) -> Result<(OsString, OsString), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.into(), v.into())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_env_pairs() {
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
    }
}
