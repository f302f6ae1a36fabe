//! The backend's checks: it starts and passes `backend-check`'s quick tier
//! ([`crate::check::catalog::QUICK`]), and, for the claude-code backend, what that backend says
//! about the `claude` CLI when asked with `--check` (found, a supported version, logged in): the
//! knowledge of Claude Code stays in its crate.

use std::path::Path;
use std::time::Duration;

use molecule_host::backend::BackendCommand;
use molecule_host::connect::Config;
use serde_json::Value;
use tokio::time::Instant;

use super::platform::bounded;
use super::report::{Line, Status};
use crate::check::catalog::QUICK;
use crate::check::outcome::Pass;
use crate::check::plan::{Plan, Settings, Timers};
use crate::check::report::backend_line;
use crate::check::runner;

/// The claude-code backend's executable name.
const CLAUDE_CODE: &str = "molecule-claude-code";

/// The `backend` line.
pub async fn backend(config: &Config, deadline: Instant) -> Line {
    let b = &config.backend;
    let settings = Settings {
        command: b.command.clone(),
        extra_env: b.env.clone(),
        timers: Timers {
            startup: b.timeouts.startup,
            answer: Duration::from_secs(10),
            eof: b.timeouts.eof_wait.max(Duration::from_secs(5)),
            ..Timers::default()
        },
        max_message_bytes: molecule_protocol::codec::DEFAULT_MAX_MESSAGE_BYTES,
        busy_message: None,
        host_call_message: None,
    };
    let plan = match Plan::new(settings) {
        Ok(plan) => plan,
        Err(e) => return Line::fail("backend", format!("cannot make a directory for it: {e}")),
    };
    let Some(report) = bounded(deadline, runner::run(&plan, QUICK)).await else {
        return Line::fail(
            "backend",
            "the quick checks did not finish within --timeout",
        );
    };
    let failed = report.results.iter().find_map(|r| match &r.verdict {
        Err(p) => Some((r.id, p)),
        Ok(_) => None,
    });
    if let Some((id, p)) = failed {
        return Line::fail(
            "backend",
            format!(
                "{} fails {}: {}; {} (molecule backend-check -- {} says more)",
                b.command.display,
                id.name(),
                p.message,
                p.hint,
                b.command.display
            ),
        );
    }
    let passed = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Ok(Pass::Passed(_))))
        .map(|r| r.id.name())
        .collect::<Vec<_>>()
        .join(", ");
    let who = report
        .backend
        .as_ref()
        .map_or_else(|| b.command.display.clone(), backend_line);
    Line::ok(
        "backend",
        format!("{who}: starts and passes the quick checks ({passed})"),
    )
}

/// Whether `command` runs the claude-code backend.
pub fn is_claude_code(command: &BackendCommand) -> bool {
    Path::new(&command.program)
        .file_name()
        .is_some_and(|n| n == CLAUDE_CODE)
}

/// The `claude` lines: the backend run with `--check` (and its own arguments) prints one JSON
/// object per line, `{"check", "status", "message"}`.
pub async fn claude(config: &Config, deadline: Instant) -> Vec<Line> {
    let b = &config.backend;
    let mut cmd = tokio::process::Command::new(&b.command.program);
    cmd.arg("--check")
        .args(&b.command.args)
        .envs(b.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let Some(output) = bounded(deadline, cmd.output()).await else {
        return vec![Line::fail(
            "claude",
            format!("{CLAUDE_CODE} --check did not finish within --timeout"),
        )];
    };
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            return vec![Line::fail(
                "claude",
                format!("cannot run {CLAUDE_CODE} --check: {e}"),
            )];
        }
    };
    let lines: Vec<Line> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| claude_line(&v))
        .collect();
    if lines.is_empty() {
        let err = String::from_utf8_lossy(&output.stderr);
        return vec![Line::fail(
            "claude",
            format!(
                "{CLAUDE_CODE} --check said nothing usable ({}): is it older than this molecule?",
                err.trim()
            ),
        )];
    }
    lines
}

fn claude_line(v: &Value) -> Option<Line> {
    let message = v["message"].as_str()?.to_owned();
    let status = match v["status"].as_str()? {
        "ok" => Status::Ok,
        "warn" => Status::Warn,
        "fail" => Status::Fail,
        _ => Status::Skip,
    };
    let check = match v["check"].as_str()? {
        "claude.found" => "claude",
        "claude.version" => "claude version",
        "claude.login" => "claude login",
        _ => "claude",
    };
    Some(Line {
        check,
        status,
        message,
    })
}
