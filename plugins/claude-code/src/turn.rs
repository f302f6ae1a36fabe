//! One turn: start `claude`, give it the prompt, follow its stream-json events (reporting
//! progress on each and on a timer), and end it when it is done, cancelled or out of time.

use crate::config::Timers;
use crate::process::{Exit, Registry, TurnCommand, TurnProcess};
use crate::stream::{ApiRetry, Event, RateLimitInfo, TurnResult, parse_line};
use molecule_plugin::RequestContext;
use std::collections::VecDeque;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::ChildStderr;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};

/// The longest stdout line read; longer ones are skipped (a `result` is far smaller).
const MAX_LINE: usize = 64 << 20;
/// How many stderr lines are kept for the operator when a turn fails.
const STDERR_LINES: usize = 20;
/// The longest stderr line kept, in bytes.
const STDERR_LINE_BYTES: usize = 500;

/// How a turn ended.
#[derive(Debug)]
pub enum TurnEnd {
    /// The turn wrote its `result` line.
    Result {
        /// The result.
        result: Box<TurnResult>,
        /// The session id of the `system/init` event.
        init_session: Option<String>,
        /// The last rate-limit event.
        rate_limit: Option<RateLimitInfo>,
        /// The text of the last assistant message.
        assistant: String,
        /// The `error` of the last assistant message that carried one.
        assistant_error: Option<String>,
    },
    /// The CLI said the model API refused its credentials (401/403) and was about to retry;
    /// the process was stopped, since retrying cannot help.
    AuthFailed {
        /// The HTTP status.
        status: u16,
    },
    /// The process ended without a `result` line.
    NoResult {
        /// How it ended.
        exit: Exit,
        /// The last lines it wrote on stderr.
        stderr_tail: Vec<String>,
    },
    /// The host cancelled the request; the process was stopped.
    Cancelled,
    /// The turn ran out of time; the process was stopped.
    TimedOut {
        /// The CLI's last retry, when it was still retrying a failed model call.
        retrying: Option<ApiRetry>,
    },
    /// `claude` could not be started.
    SpawnFailed(io::Error),
}

/// What a turn needs besides its command.
pub struct TurnSetup<'a> {
    /// The live turns of the backend.
    pub registry: &'a Registry,
    /// The turn timers.
    pub timers: Timers,
    /// How often progress is reported while the process is alive.
    pub progress_every: Duration,
    /// When the backend gives up on the turn.
    pub timeout: Option<Duration>,
}

/// Runs one turn to its end.
pub async fn run(
    cmd: &TurnCommand,
    prompt: String,
    setup: &TurnSetup<'_>,
    cx: &RequestContext,
) -> TurnEnd {
    let (mut proc, pipes) = match TurnProcess::start(cmd, setup.registry).await {
        Ok(started) => started,
        Err(e) => return TurnEnd::SpawnFailed(e),
    };
    let mut stdin = pipes.stdin;
    // A writer of its own, so a prompt larger than the pipe cannot deadlock with our reading.
    tokio::spawn(async move {
        let _ = stdin.write_all(prompt.as_bytes()).await;
        let _ = stdin.shutdown().await;
    });
    let pid = proc.pid();
    let stderr = tokio::spawn(stderr_tail(pipes.stderr, pid));
    let mut seen = Seen::default();
    let grace = setup.timers.kill_grace;
    let result = match follow(&mut proc, pipes.stdout, &mut seen, setup, cx).await {
        Followed::Result(result) => Some(result),
        Followed::Eof => None,
        Followed::Stop(end) => {
            proc.terminate(grace).await;
            return end;
        }
    };
    let exit = proc.finish(setup.timers.exit_grace, grace).await;
    let tail = tokio::time::timeout(Duration::from_secs(1), stderr)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    match result {
        Some(result) => TurnEnd::Result {
            result,
            init_session: seen.init_session,
            rate_limit: seen.rate_limit,
            assistant: seen.assistant,
            assistant_error: seen.assistant_error,
        },
        None => TurnEnd::NoResult {
            exit,
            stderr_tail: tail,
        },
    }
}

/// How following the stream ended.
enum Followed {
    /// The `result` line.
    Result(Box<TurnResult>),
    /// stdout closed without one.
    Eof,
    /// The turn must be stopped now, and end like this.
    Stop(TurnEnd),
}

/// Reads the events until the result, reporting progress on each and on a timer, and watches
/// the cancel and the deadline.
async fn follow(
    proc: &mut TurnProcess,
    stdout: tokio::process::ChildStdout,
    seen: &mut Seen,
    setup: &TurnSetup<'_>,
    cx: &RequestContext,
) -> Followed {
    let mut reader = BufReader::new(stdout);
    let every = setup.progress_every;
    let mut ticks = interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = setup.timeout.map(|t| Instant::now() + t);
    loop {
        tokio::select! {
            biased;
            () = cx.cancelled() => return Followed::Stop(TurnEnd::Cancelled),
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                return Followed::Stop(TurnEnd::TimedOut { retrying: seen.retrying.take() });
            }
            line = read_line(&mut reader) => match line {
                Ok(Some(line)) => match seen.event(&line, cx).await {
                    Some(Step::Result(result)) => return Followed::Result(result),
                    Some(Step::AuthFailed(status)) => {
                        return Followed::Stop(TurnEnd::AuthFailed { status });
                    }
                    None => {}
                },
                Ok(None) | Err(_) => return Followed::Eof,
            },
            _ = ticks.tick() => {
                proc.observe();
                cx.progress("claude is working").await;
            }
        }
    }
}

/// An event that decides the turn.
enum Step {
    Result(Box<TurnResult>),
    AuthFailed(u16),
}

/// What the stream said so far.
#[derive(Default)]
struct Seen {
    init_session: Option<String>,
    rate_limit: Option<RateLimitInfo>,
    assistant: String,
    assistant_error: Option<String>,
    /// The CLI's last retry of a failed model call, until a message shows the retries ended.
    retrying: Option<ApiRetry>,
}

impl Seen {
    /// Takes in one stdout line, reports progress, and returns what decides the turn.
    async fn event(&mut self, line: &[u8], cx: &RequestContext) -> Option<Step> {
        let event = parse_line(line)?;
        let what = match event {
            Event::Result(result) => return Some(Step::Result(result)),
            Event::Init { session_id } => {
                self.init_session = session_id;
                "claude started".to_owned()
            }
            Event::Assistant { text, error } => {
                if !text.is_empty() {
                    self.assistant = text;
                }
                if error.is_some() {
                    self.assistant_error = error;
                }
                self.retrying = None;
                "claude: assistant message".to_owned()
            }
            Event::ApiRetry(retry) => {
                // A refused credential stays refused: the CLI would retry for minutes.
                if let Some(status @ (401 | 403)) = retry.error_status {
                    return Some(Step::AuthFailed(status));
                }
                let status = retry
                    .error_status
                    .map_or_else(|| "no answer".to_owned(), |s| format!("status {s}"));
                self.retrying = Some(retry);
                format!("claude: the model API failed ({status}); claude retries")
            }
            Event::RateLimit(info) => {
                let status = info.status.clone().unwrap_or_default();
                self.rate_limit = Some(info);
                format!("claude: rate limit {status}")
            }
            Event::Other { kind } => format!("claude: {kind}"),
        };
        cx.progress(what).await;
        None
    }
}

/// The next line without its `\n`; `None` at end of file. Lines over [`MAX_LINE`] are skipped.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let mut oversize = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty() && !oversize).then_some(line));
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !oversize && line.len() + chunk.len() <= MAX_LINE {
            line.extend_from_slice(chunk);
        } else {
            oversize = true;
            line.clear();
        }
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            if oversize {
                crate::log::warn("skipped a stdout line of claude longer than the line cap");
                oversize = false;
                continue;
            }
            return Ok(Some(line));
        }
    }
}

/// Drains `claude`'s stderr to the debug log and keeps its last lines.
async fn stderr_tail(stderr: ChildStderr, pid: i32) -> Vec<String> {
    let mut tail = VecDeque::with_capacity(STDERR_LINES);
    let mut reader = BufReader::new(stderr);
    while let Ok(Some(bytes)) = read_line(&mut reader).await {
        let cut = &bytes[..bytes.len().min(STDERR_LINE_BYTES)];
        let line = String::from_utf8_lossy(cut).trim_end().to_owned();
        eprintln!(
            "{}",
            serde_json::json!({"level": "debug", "msg": format!("claude[{pid}] stderr: {line}")})
        );
        if tail.len() == STDERR_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_split_on_newline_and_a_last_line_needs_none() {
        let mut r = BufReader::with_capacity(4, &b"ab\r\n\ncdefgh\nlast"[..]);
        assert_eq!(read_line(&mut r).await.unwrap(), Some(b"ab\r".to_vec()));
        assert_eq!(read_line(&mut r).await.unwrap(), Some(Vec::new()));
        assert_eq!(read_line(&mut r).await.unwrap(), Some(b"cdefgh".to_vec()));
        assert_eq!(read_line(&mut r).await.unwrap(), Some(b"last".to_vec()));
        assert_eq!(read_line(&mut r).await.unwrap(), None);
    }
}
