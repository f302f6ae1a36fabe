//! What `molecule doctor` found: one line per check, ok / warn / fail / skip, each with what
//! to do; as text for people and as one JSON object for scripts (`--json`), and the exit code.

use serde_json::{Value, json};

use molecule_host::exit;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but something deserves a look; never fails the run.
    Warn,
    /// `molecule connect` would not work; the run exits non-zero.
    Fail,
    /// Not checked, because an earlier check failed.
    Skip,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The check's name (`api`, `token`, …).
    pub check: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found and, unless ok, what to do about it.
    pub message: String,
}

impl Line {
    /// An ok line.
    pub fn ok(check: &'static str, message: impl Into<String>) -> Line {
        Line::new(check, Status::Ok, message)
    }

    /// A warning.
    pub fn warn(check: &'static str, message: impl Into<String>) -> Line {
        Line::new(check, Status::Warn, message)
    }

    /// A failure.
    pub fn fail(check: &'static str, message: impl Into<String>) -> Line {
        Line::new(check, Status::Fail, message)
    }

    /// A check not run.
    pub fn skip(check: &'static str, message: impl Into<String>) -> Line {
        Line::new(check, Status::Skip, message)
    }

    fn new(check: &'static str, status: Status, message: impl Into<String>) -> Line {
        Line {
            check,
            status,
            message: message.into(),
        }
    }

    /// `fail  api: nothing listens at 127.0.0.1:9: check --api-url`.
    pub fn text(&self) -> String {
        format!(
            "{:<4}  {}: {}",
            self.status.word(),
            self.check,
            self.message
        )
    }
}

/// Every line of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// The lines, in the order the checks ran.
    pub lines: Vec<Line>,
}

impl Report {
    /// Adds a line.
    pub fn push(&mut self, line: Line) {
        self.lines.push(line);
    }

    /// Whether a check failed.
    pub fn failed(&self) -> bool {
        self.lines.iter().any(|l| l.status == Status::Fail)
    }

    /// 0 when every check is ok or a warning, 9 when one failed.
    pub fn exit_code(&self) -> u8 {
        if self.failed() {
            exit::CHECK_FAILED
        } else {
            exit::OK
        }
    }

    /// The text: one line per check, then a verdict.
    pub fn to_text(&self) -> String {
        let mut out: String = self.lines.iter().map(|l| l.text() + "\n").collect();
        out.push_str(if self.failed() {
            "molecule connect would not work: fix the failed checks above\n"
        } else {
            "molecule connect should work\n"
        });
        out
    }

    /// The JSON object `--json` prints.
    pub fn to_json(&self, workspace: &str) -> Value {
        let checks: Vec<Value> = self
            .lines
            .iter()
            .map(|l| json!({"check": l.check, "status": l.status.word(), "message": l.message}))
            .collect();
        json!({
            "workspace": workspace,
            "ok": !self.failed(),
            "exitCode": self.exit_code(),
            "checks": checks,
        })
    }
}
