//! Why a session could not go on, in words that quote what the backend did.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use molecule_protocol::RequestId;

/// A session failed before the check could see what it wanted.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The command.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// Writing to the backend's stdin failed.
    #[error("could not write to the backend's stdin ({0}): it stopped reading or exited")]
    Write(io::Error),
    /// The backend's stdout ended while the checker waited for something.
    #[error("the backend {how} while the checker waited for {waiting}{}", stderr_suffix(.stderr))]
    Exited {
        /// What the checker waited for.
        waiting: String,
        /// How it ended: "exited with status 3", "closed its stdout".
        how: String,
        /// Its last stderr lines.
        stderr: Vec<String>,
    },
    /// A write to stdin blocked: the backend stopped reading.
    #[error("the backend stopped reading its stdin: writing {what} blocked for {}", human(*.after))]
    Stalled {
        /// What was being written.
        what: String,
        /// How long the write blocked.
        after: Duration,
    },
    /// Nothing came in time.
    #[error("no answer to {waiting} within {}{}", human(*.after), junk_suffix(.junk))]
    Timeout {
        /// What the checker waited for.
        waiting: String,
        /// How long it waited.
        after: Duration,
        /// The first junk line the backend wrote, if any.
        junk: Option<String>,
    },
    /// The backend answered an id the checker never sent while it waited for another.
    #[error("{}", stray_text(.got, *.line, .preview, .waiting, *.answered_cancel, *.same_value))]
    Stray {
        /// The id it answered.
        got: RequestId,
        /// Its stdout line.
        line: usize,
        /// The start of that line.
        preview: String,
        /// What the checker waited for.
        waiting: String,
        /// The id was that of a `$/cancelRequest` the checker sent: it answered a notification.
        answered_cancel: bool,
        /// The id is the awaited one with another type (`"1"` for `1`).
        same_value: bool,
    },
    /// The line that answers what the checker waited for is not a protocol line.
    #[error(
        "the answer to {waiting} on stdout line {line} is {}: {preview:?}",
        cause.describe(.reason)
    )]
    BadAnswer {
        /// What the checker waited for.
        waiting: String,
        /// Its stdout line.
        line: usize,
        /// Why it is not a protocol line.
        reason: String,
        /// What kind of line it is.
        cause: BadCause,
        /// The start of the line.
        preview: String,
    },
    /// The answer was over the advertised line cap.
    #[error(
        "the answer to {waiting} (stdout line {line}) is {len} bytes, over the {max}-byte \
         limits.maxMessageBytes the host advertised"
    )]
    TooLarge {
        /// What it answered.
        waiting: String,
        /// Its stdout line.
        line: usize,
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
}

/// Why a line that names the awaited request is not its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadCause {
    /// Not JSON at all, though it starts like a JSON-RPC message: another write broke it.
    Broken,
    /// A JSON object that is not a valid JSON-RPC message.
    Invalid,
    /// Not UTF-8.
    NotUtf8,
}

impl BadCause {
    fn describe(self, reason: &str) -> String {
        match self {
            BadCause::Broken => format!(
                "not valid JSON ({}); another write may have landed inside it",
                reason.trim_start_matches("not JSON: ")
            ),
            BadCause::Invalid => format!("not a valid JSON-RPC message ({reason})"),
            BadCause::NotUtf8 => reason.to_owned(),
        }
    }
}

fn stray_text(
    got: &RequestId,
    line: usize,
    preview: &str,
    waiting: &str,
    answered_cancel: bool,
    same_value: bool,
) -> String {
    if answered_cancel {
        return format!(
            "answered a $/cancelRequest for an id it never got (stdout line {line}: {preview})"
        );
    }
    let mut text = format!(
        "answered id {got}, which the host never sent (stdout line {line}: {preview}), while \
         the checker waited for {waiting}"
    );
    if same_value {
        text.push_str(&format!(
            "; it is the same id as {waiting}, with another type: echo ids exactly as received"
        ));
    }
    text
}

fn stderr_suffix(stderr: &[String]) -> String {
    if stderr.is_empty() {
        "; it wrote nothing to stderr".into()
    } else {
        format!("; its last stderr line: {:?}", stderr[stderr.len() - 1])
    }
}

fn junk_suffix(junk: &Option<String>) -> String {
    match junk {
        Some(j) => format!("; it wrote non-protocol output to stdout: {j:?}"),
        None => String::new(),
    }
}

/// A duration for people: `250 ms`, `5 s`, `1.5 s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// "exited with status 3", "was killed by signal 9".
pub fn exit_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended ({status})"),
    }
}
