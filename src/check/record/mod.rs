//! What happened in one checked session: every line either side wrote, classified, and the end
//! of the backend's stderr. Checks read it to find what went wrong and to quote it.
//!
//! - [`classify`]: what each line is ([`Kind`]);
//! - [`queries`]: what the checks ask of the whole record.

mod classify;
mod queries;

pub use classify::{Kind, preview};
pub use queries::Call;

use std::collections::VecDeque;

use molecule_protocol::{Message, RequestId};
use tokio::time::Instant;

use classify::{about, classify};

/// How many stderr lines are kept.
const STDERR_LINES: usize = 40;
/// How much of one stderr line is kept.
const STDERR_LINE_CHARS: usize = 400;

/// Who wrote a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The checker, playing the host, on the backend's stdin.
    Host,
    /// The backend, on its stdout.
    Backend,
}

/// One line.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Who wrote it.
    pub side: Side,
    /// Its number among that side's lines, from 1.
    pub line: usize,
    /// Its start, for quoting.
    pub preview: String,
    /// What it was.
    pub kind: Kind,
    /// When it was written (by the checker) or read (from the backend).
    pub at: Instant,
}

impl Entry {
    /// Whether the backend wrote something that is not a protocol line.
    pub fn is_bad(&self) -> bool {
        self.side == Side::Backend
            && matches!(
                self.kind,
                Kind::Junk { .. } | Kind::Invalid { .. } | Kind::Oversize { .. }
            )
    }

    /// The id this backend line answers, for responses.
    pub fn answers(&self) -> Option<&RequestId> {
        match (&self.side, &self.kind) {
            (Side::Backend, Kind::Response { id, .. }) => id.as_ref(),
            _ => None,
        }
    }
}

/// The transcript of one session and the end of the backend's stderr.
#[derive(Debug, Default)]
pub struct Record {
    /// Every line, in the order the checker wrote or read it.
    pub entries: Vec<Entry>,
    host_lines: usize,
    backend_lines: usize,
    stderr: VecDeque<String>,
    /// How many lines the backend wrote to stderr.
    pub stderr_lines: u64,
}

impl Record {
    /// Records a line the checker wrote; returns its entry's index.
    pub fn host(&mut self, msg: &Message, text: &str) -> usize {
        self.host_lines += 1;
        let kind = match msg {
            Message::Request(r) => Kind::Request {
                id: r.id.clone(),
                method: r.method.clone(),
                params: None,
            },
            Message::Notification(n) => Kind::Notification {
                method: n.method.clone(),
                about: about(n.params.as_ref()),
            },
            Message::Response(r) => Kind::Response {
                id: r.id.clone(),
                result: r.result.clone(),
            },
        };
        self.push(Side::Host, self.host_lines, preview(text.as_bytes()), kind)
    }

    /// Records a line the backend wrote; returns its entry's index.
    pub fn backend(&mut self, line: &[u8]) -> usize {
        self.backend_lines += 1;
        self.push(
            Side::Backend,
            self.backend_lines,
            preview(line),
            classify(line),
        )
    }

    /// Records a line over the cap that the backend wrote.
    pub fn oversize(&mut self, len: usize, id: Option<RequestId>) -> usize {
        self.backend_lines += 1;
        let text = format!("({len} bytes, discarded)");
        self.push(
            Side::Backend,
            self.backend_lines,
            text,
            Kind::Oversize { len, id },
        )
    }

    fn push(&mut self, side: Side, line: usize, preview: String, kind: Kind) -> usize {
        self.entries.push(Entry {
            side,
            line,
            preview,
            kind,
            at: Instant::now(),
        });
        self.entries.len() - 1
    }

    /// Keeps one stderr line.
    pub fn stderr_line(&mut self, line: &[u8]) {
        self.stderr_lines += 1;
        let text: String = String::from_utf8_lossy(line)
            .chars()
            .take(STDERR_LINE_CHARS)
            .collect();
        if self.stderr.len() == STDERR_LINES {
            self.stderr.pop_front();
        }
        self.stderr.push_back(text.trim_end().to_owned());
    }

    /// The last `n` non-blank stderr lines.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        let lines: Vec<&String> = self.stderr.iter().filter(|l| !l.is_empty()).collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| (*l).clone())
            .collect()
    }

    /// The last `n` lines, one per string, for reports: `→ 3 {…}` from the host, `← 2 {…}` from
    /// the backend.
    pub fn excerpt(&self, n: usize) -> Vec<String> {
        let start = self.entries.len().saturating_sub(n);
        self.entries[start..]
            .iter()
            .map(|e| {
                let arrow = match e.side {
                    Side::Host => "→ stdin ",
                    Side::Backend => "← stdout",
                };
                format!("{arrow} {:>3}: {}", e.line, e.preview)
            })
            .collect()
    }
}
