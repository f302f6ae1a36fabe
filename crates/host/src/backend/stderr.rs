//! The backend's stderr: always drained (a full pipe would stall the backend), each line logged
//! as a tracing event tagged with the backend's name and pid, rate-limited so a flood cannot
//! fill a disk, and the end kept for crash reports.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;
use tracing::Level;

use super::config::StderrLimits;
use super::stats::{Counter, Counters};

/// The last bytes a backend wrote to stderr.
#[derive(Debug)]
pub struct StderrTail {
    buf: Mutex<VecDeque<u8>>,
    cap: usize,
}

impl StderrTail {
    /// A tail that keeps the last `cap` bytes.
    pub fn new(cap: usize) -> Self {
        StderrTail {
            buf: Mutex::new(VecDeque::with_capacity(cap.min(64 * 1024))),
            cap,
        }
    }

    fn push_line(&self, line: &[u8]) {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        buf.extend(line.iter().copied().chain([b'\n']));
        let excess = buf.len().saturating_sub(self.cap);
        buf.drain(..excess);
    }

    /// The kept text, starting at a line boundary when the start was cut off.
    pub fn text(&self) -> String {
        let buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: Vec<u8> = buf.iter().copied().collect();
        let full = bytes.len() < self.cap;
        let start = match (full, bytes.iter().position(|&b| b == b'\n')) {
            (false, Some(nl)) if nl + 1 < bytes.len() => nl + 1,
            _ => 0,
        };
        String::from_utf8_lossy(&bytes[start..])
            .trim_end()
            .to_owned()
    }

    /// The last `n` lines, for one-line error messages.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let text = self.text();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.to_string())
            .collect()
    }
}

/// At most `max` events per `window`; the rest are counted and reported in one summary.
#[derive(Debug)]
pub(crate) struct RateLimit {
    max: u32,
    window: Duration,
    started: Instant,
    count: u32,
    suppressed: u64,
}

/// What to do with one event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Log it.
    Log,
    /// Log it, after a summary of this many suppressed ones.
    LogAfterSuppressed(u64),
    /// Drop it (it is counted).
    Suppress,
}

impl RateLimit {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        RateLimit {
            max,
            window,
            started: Instant::now(),
            count: 0,
            suppressed: 0,
        }
    }

    pub(crate) fn check(&mut self, now: Instant) -> Verdict {
        if now.duration_since(self.started) >= self.window {
            self.started = now;
            self.count = 0;
        }
        if self.count >= self.max {
            self.suppressed += 1;
            return Verdict::Suppress;
        }
        self.count += 1;
        match std::mem::take(&mut self.suppressed) {
            0 => Verdict::Log,
            n => Verdict::LogAfterSuppressed(n),
        }
    }

    /// Suppressed events not yet summarised (at the end of the stream).
    pub(crate) fn pending(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }
}

/// Who the lines come from.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub(crate) name: Arc<str>,
    pub(crate) pid: u32,
}

/// Starts draining `stderr` until it reaches end of file.
pub(crate) fn spawn_drain<R: AsyncRead + Unpin + Send + 'static>(
    stderr: R,
    source: Source,
    limits: StderrLimits,
    tail: Arc<StderrTail>,
    counters: Arc<Counters>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::with_capacity(64 * 1024, stderr);
        let mut limit = RateLimit::new(limits.rate_lines, limits.rate_window);
        let mut line: Vec<u8> = Vec::new();
        let mut cut = false;
        while let Ok(buf) = reader.fill_buf().await {
            if buf.is_empty() {
                if !line.is_empty() {
                    emit(&line, cut, &source, &mut limit, &tail, &counters);
                }
                break;
            }
            let newline = buf.iter().position(|&b| b == b'\n');
            let take = newline.unwrap_or(buf.len());
            let room = limits.line_cap.saturating_sub(line.len());
            line.extend_from_slice(&buf[..take.min(room)]);
            cut |= take > room;
            reader.consume(take + usize::from(newline.is_some()));
            if newline.is_some() {
                emit(&line, cut, &source, &mut limit, &tail, &counters);
                line.clear();
                cut = false;
            }
        }
        let left = limit.pending();
        if left > 0 {
            tracing::warn!(backend = %source.name, pid = source.pid, "{left} more stderr lines were not logged (rate limit)");
        }
    })
}

fn emit(
    raw: &[u8],
    cut: bool,
    source: &Source,
    limit: &mut RateLimit,
    tail: &StderrTail,
    counters: &Counters,
) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    tail.push_line(raw);
    counters.bump(Counter::stderr_lines);
    if cut {
        counters.bump(Counter::stderr_truncated);
    }
    match limit.check(Instant::now()) {
        Verdict::Suppress => {
            counters.bump(Counter::stderr_suppressed);
            return;
        }
        Verdict::LogAfterSuppressed(n) => {
            tracing::warn!(backend = %source.name, pid = source.pid, "{n} stderr lines were not logged (rate limit)");
        }
        Verdict::Log => {}
    }
    let text = String::from_utf8_lossy(raw);
    let suffix = if cut { " [line truncated]" } else { "" };
    let (level, msg, fields) = structured(&text).unwrap_or((Level::INFO, text.to_string(), None));
    let fields = fields.as_deref();
    macro_rules! log_at {
        ($lvl:expr) => {
            tracing::event!(target: "molecule::backend::stderr", $lvl, backend = %source.name, pid = source.pid, fields, "{msg}{suffix}")
        };
    }
    match level {
        Level::ERROR => log_at!(Level::ERROR),
        Level::WARN => log_at!(Level::WARN),
        Level::INFO => log_at!(Level::INFO),
        Level::DEBUG => log_at!(Level::DEBUG),
        _ => log_at!(Level::TRACE),
    }
}

/// A JSON log line (`{"level":…,"msg":…}`, or hclog's `@level`/`@message`): its level, message
/// and the remaining fields.
fn structured(text: &str) -> Option<(Level, String, Option<String>)> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let mut obj: Map<String, Value> = serde_json::from_str(text).ok()?;
    let take_str = |obj: &mut Map<String, Value>, keys: &[&str]| {
        keys.iter().find_map(|k| obj.remove(*k)).map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
    };
    let level = take_str(&mut obj, &["level", "@level", "severity", "levelname"])?;
    let msg = take_str(&mut obj, &["msg", "message", "@message"]).unwrap_or_default();
    let level = match level.to_ascii_lowercase().as_str() {
        "trace" => Level::TRACE,
        "debug" => Level::DEBUG,
        "info" | "notice" => Level::INFO,
        "warn" | "warning" => Level::WARN,
        "error" | "err" | "fatal" | "critical" | "crit" | "panic" => Level::ERROR,
        _ => Level::INFO,
    };
    let rest = (!obj.is_empty()).then(|| Value::Object(obj).to_string());
    Some((level, msg, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_whole_last_lines() {
        let tail = StderrTail::new(16);
        for line in ["first line", "second", "third"] {
            tail.push_line(line.as_bytes());
        }
        assert_eq!(tail.text(), "second\nthird");
        assert_eq!(tail.last_lines(1), ["third"]);
    }

    #[test]
    fn the_rate_limit_summarises_what_it_dropped() {
        let start = Instant::now();
        let mut limit = RateLimit::new(2, Duration::from_secs(10));
        let verdicts: Vec<Verdict> = (0..4).map(|_| limit.check(start)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Log,
                Verdict::Log,
                Verdict::Suppress,
                Verdict::Suppress
            ]
        );
        let later = start + Duration::from_secs(11);
        assert_eq!(limit.check(later), Verdict::LogAfterSuppressed(2));
    }

    #[test]
    fn json_lines_carry_their_level() {
        let (level, msg, rest) =
            structured(r#"{"level":"warn","msg":"disk low","free":3}"#).unwrap();
        assert_eq!((level, msg.as_str()), (Level::WARN, "disk low"));
        assert_eq!(rest.as_deref(), Some(r#"{"free":3}"#));
        assert!(structured("plain text").is_none());
        assert!(structured(r#"{"no":"level"}"#).is_none());
    }
}
