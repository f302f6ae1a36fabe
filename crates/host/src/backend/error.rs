//! The supervisor's errors: why a backend did not start, and the one outcome of a failed call.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_protocol::RpcError;
use molecule_protocol::methods::CancelReason;
use molecule_protocol::version::VersionError;

/// What the backend showed while failing: the end of its stderr and any junk on its stdout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The last few stderr lines.
    pub stderr: Vec<String>,
    /// The first non-protocol line it wrote to stdout, if any.
    pub junk: Option<String>,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(junk) = &self.junk {
            write!(
                f,
                "; it wrote non-protocol output to stdout: {junk:?} (send logs to stderr)"
            )?;
        }
        if self.stderr.is_empty() {
            write!(f, "; it wrote nothing to stderr")
        } else {
            write!(f, "; its last stderr lines:")?;
            for line in &self.stderr {
                write!(f, "\n  | {line}")?;
            }
            Ok(())
        }
    }
}

/// Why a backend could not be started (exit code 3 when it is the first start).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory could not be created.
    #[error("cannot create the backend state directory {}: {source}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The program could not be started at all.
    #[error("cannot start the backend {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The backend exited (or closed its stdout) before answering `initialize`.
    #[error("the backend {what} before answering initialize{evidence}")]
    Exited {
        /// What happened, e.g. "exited with exit status: 3".
        what: String,
        /// What it showed.
        evidence: Evidence,
    },
    /// No answer to `initialize` within the startup timeout.
    #[error("the backend did not answer initialize within {after:?}{evidence}")]
    Timeout {
        /// The startup timeout.
        after: Duration,
        /// What it showed.
        evidence: Evidence,
    },
    /// The backend answered `initialize` with an error.
    #[error("the backend answered initialize with an error: {error}{evidence}")]
    Rejected {
        /// Its error.
        error: Box<RpcError>,
        /// What it showed.
        evidence: Evidence,
    },
    /// The backend speaks a protocol version the host does not.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// The `initialize` result is not what the protocol says.
    #[error("the backend's initialize result is malformed: {reason}")]
    BadHandshake {
        /// What is wrong with it.
        reason: String,
    },
    /// The supervisor was shut down while the backend was starting.
    #[error("the backend start was abandoned: the host is shutting down")]
    Aborted,
}

impl crate::exit::HasExitCode for StartError {
    fn exit_code(&self) -> u8 {
        crate::exit::BACKEND_START
    }
}

/// Why a backend process ended while the host still needed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitCause {
    /// It exited on its own.
    Exited,
    /// It closed its stdout while still running; it was stopped.
    StdoutClosed,
    /// It closed its stdin while still running; it was stopped.
    StdinClosed,
    /// A write to its stdin blocked past the write timeout: it was hung and was killed.
    WriteStalled(Duration),
    /// It left this many cancels in a row unanswered and was restarted.
    UnansweredCancels(u32),
    /// The host stopped it (shutdown, or a failed start).
    Stopped,
}

impl std::fmt::Display for ExitCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitCause::Exited => write!(f, "exited"),
            ExitCause::StdoutClosed => write!(f, "closed its stdout and was stopped"),
            ExitCause::StdinClosed => write!(f, "closed its stdin and was stopped"),
            ExitCause::WriteStalled(d) => {
                write!(
                    f,
                    "stopped reading its stdin for {d:?} and was killed as hung"
                )
            }
            ExitCause::UnansweredCancels(n) => {
                write!(f, "left {n} cancels in a row unanswered and was restarted")
            }
            ExitCause::Stopped => write!(f, "was stopped by the host"),
        }
    }
}

/// How a backend process ended: the evidence for a crash report.
#[derive(Clone, Debug)]
pub struct CrashReport {
    /// Its pid.
    pub pid: u32,
    /// Its exit status, when it could be read.
    pub status: Option<ExitStatus>,
    /// Why it ended.
    pub cause: ExitCause,
    /// The last 16 KiB (by default) of its stderr.
    pub stderr_tail: String,
}

impl CrashReport {
    /// "exited (exit status: 3)", "was stopped by the host (signal: 9 (SIGKILL))"…
    pub fn summary(&self) -> String {
        match self.status {
            Some(status) => format!("{} ({status})", self.cause),
            None => self.cause.to_string(),
        }
    }
}

impl std::fmt::Display for CrashReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the backend (pid {}) {}", self.pid, self.summary())?;
        if let Some(last) = self
            .stderr_tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
        {
            write!(f, "; last stderr line: {last}")?;
        }
        Ok(())
    }
}

/// Why no backend can take a request now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// The crash-loop breaker is open until then.
    BreakerOpen {
        /// When the next trial start happens.
        until: Instant,
    },
    /// The supervisor is shutting down.
    ShuttingDown,
    /// The supervisor has stopped.
    Stopped,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::BreakerOpen { until } => write!(
                f,
                "it keeps crashing; next start attempt in {:?}",
                until.saturating_duration_since(Instant::now())
            ),
            Unavailable::ShuttingDown => write!(f, "the host is shutting down"),
            Unavailable::Stopped => write!(f, "it has been stopped"),
        }
    }
}

/// A message from the backend that breaks the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// Its answer was a line over the size cap (and was discarded).
    #[error("its answer was {len} bytes, over the {max}-byte message limit")]
    ReplyTooLarge {
        /// The line's length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Its answer was not UTF-8 (SPEC §2); the id was read with the bad bytes replaced.
    #[error("its answer is not valid UTF-8 (the first bad byte is at offset {offset} of the line)")]
    NotUtf8 {
        /// Where the first byte that is not UTF-8 is, counted from the line's start.
        offset: usize,
    },
    /// Its answer was not a well-formed JSON-RPC response.
    #[error("malformed response: {0}")]
    MalformedResponse(String),
    /// Its result does not have the method's result shape.
    #[error("the result does not match the method: {0}")]
    BadResult(String),
    /// It answered `-32800` (cancelled by the host) to a request the host never cancelled.
    #[error("it answered -32800 (cancelled by the host), but the host never cancelled the request")]
    UnpromptedCancel,
}

/// The one outcome of a request that did not succeed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    /// The backend answered with an error (never `-32800`: one after a cancel is the cancel's
    /// outcome, one without a cancel is [`ProtocolViolation::UnpromptedCancel`]).
    #[error("the backend answered with an error: {0}")]
    Rpc(RpcError),
    /// The backend ended while the request was in flight; the caller counts an attempt.
    #[error("{0}")]
    Crashed(Arc<CrashReport>),
    /// The hard timeout passed (the request was cancelled with reason `deadline`).
    #[error("the backend did not answer within {0:?}")]
    Timeout(Duration),
    /// No `$/progress` within the idle timeout (cancelled with reason `idle_timeout`).
    #[error("the backend sent no progress for {0:?}")]
    IdleTimeout(Duration),
    /// Cancelled by the caller or by the host's shutdown; `reason` is what the backend was told.
    #[error("the request was cancelled ({reason})")]
    Cancelled {
        /// The reason sent in `$/cancelRequest`.
        reason: CancelReason,
    },
    /// No backend can take the request now.
    #[error("the backend is unavailable: {0}")]
    Unavailable(Unavailable),
    /// The backend broke the protocol answering this request.
    #[error("the backend broke the protocol: {0}")]
    Protocol(ProtocolViolation),
    /// The params could not be encoded as JSON (a host bug); nothing was sent.
    #[error("cannot encode the request: {0}")]
    Encode(String),
    /// The request itself is over the message size limit and was not sent.
    #[error("the request is {len} bytes, over the {max}-byte message limit")]
    RequestTooLarge {
        /// Its encoded length.
        len: usize,
        /// The cap.
        max: usize,
    },
}
