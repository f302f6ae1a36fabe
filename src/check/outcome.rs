//! What one check concludes: it passed (saying what it saw), it was skipped (saying why), it
//! could not check a capability the backend advertises (saying what it needs), or it failed
//! with a precise message and a hint that says what to fix.

use super::session::{BadCause, SessionError};

/// A check that did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pass {
    /// It passed; what it saw.
    Passed(String),
    /// It could not apply; why.
    Skipped(String),
    /// The backend advertises what it checks, but it could not run; what it needs. Not a
    /// pass: the run reads "incomplete".
    Unchecked(String),
}

/// A check that failed: what the backend did, and what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What went wrong, quoting the backend.
    pub message: String,
    /// What to change.
    pub hint: String,
    /// The backend could not be started at all (exit code 3).
    pub cannot_start: bool,
}

/// The conclusion of one check.
pub type Verdict = Result<Pass, Problem>;

/// A passing verdict.
pub fn pass(message: impl Into<String>) -> Verdict {
    Ok(Pass::Passed(message.into()))
}

/// A skipped verdict.
pub fn skip(reason: impl Into<String>) -> Verdict {
    Ok(Pass::Skipped(reason.into()))
}

/// An unchecked verdict: an advertised capability that could not be exercised.
pub fn unchecked(needs: impl Into<String>) -> Verdict {
    Ok(Pass::Unchecked(needs.into()))
}

/// A failing verdict.
pub fn fail(message: impl Into<String>, hint: impl Into<String>) -> Verdict {
    Err(problem(message, hint))
}

/// A problem, for `?` and `map_err`.
pub fn problem(message: impl Into<String>, hint: impl Into<String>) -> Problem {
    Problem {
        message: message.into(),
        hint: hint.into(),
        cannot_start: false,
    }
}

impl From<SessionError> for Problem {
    fn from(e: SessionError) -> Self {
        let hint = match &e {
            SessionError::Spawn { .. } => {
                "check the command: the program must exist, be executable, and start on its own \
                 (a script needs a #! line)"
            }
            SessionError::Write(_) | SessionError::Stalled { .. } => {
                "keep reading stdin until it reaches end of file, also while requests run"
            }
            SessionError::Exited { .. } => {
                "keep running until stdin closes, and answer every request first; its stderr \
                 (below) says why it stopped"
            }
            SessionError::Timeout { junk: Some(_), .. } => {
                "write only JSON-RPC lines to stdout and send logs to stderr"
            }
            SessionError::Timeout { .. } => {
                "answer every request exactly once, and flush stdout after each line (block \
                 buffering is the usual reason a backend seems to hang)"
            }
            SessionError::TooLarge { .. } => {
                "answer with error 1007 (reply too large) instead of a line over the cap"
            }
            SessionError::Stray {
                answered_cancel: true,
                ..
            } => "ignore a $/cancelRequest for an id you do not know; never answer a notification",
            SessionError::Stray {
                same_value: true, ..
            } => {
                "echo each id exactly as received: an integer stays the same integer, a string \
                 the same string"
            }
            SessionError::Stray { .. } => {
                "answer each request once, with its own id exactly as received"
            }
            SessionError::BadAnswer {
                cause: BadCause::Broken,
                ..
            } => {
                "write each message with one write, under a lock that every thread writing \
                 stdout shares, then flush; send debug output to stderr"
            }
            SessionError::BadAnswer {
                cause: BadCause::Invalid,
                ..
            } => {
                "answer with a JSON-RPC 2.0 object: {\"jsonrpc\": \"2.0\", \"id\": …, \"result\": …}"
            }
            SessionError::BadAnswer {
                cause: BadCause::NotUtf8,
                ..
            } => "write stdout as UTF-8, whatever the locale or the platform's default encoding",
        };
        Problem {
            cannot_start: matches!(e, SessionError::Spawn { .. }),
            message: e.to_string(),
            hint: hint.to_owned(),
        }
    }
}

impl Problem {
    /// The same problem, its message prefixed with what the check was doing.
    pub fn context(mut self, doing: &str) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }
}
