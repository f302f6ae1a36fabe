//! What happened in one checked session: every line either side wrote, classified, and the end
//! of the backend's stderr. Checks read it to find what went wrong and to quote it.

use std::collections::{HashMap, HashSet, VecDeque};

use molecule_protocol::jsonrpc::MessageError;
use molecule_protocol::methods::name;
use molecule_protocol::{Message, RequestId, RpcError};
use serde_json::Value;

/// How much of a line is kept for quoting.
const PREVIEW_CHARS: usize = 120;
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

/// What a line was.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A request.
    Request {
        /// Its id.
        id: RequestId,
        /// Its method.
        method: String,
    },
    /// A notification; `about` is its `params.id` (the request a cancel or progress is about).
    Notification {
        /// Its method.
        method: String,
        /// `params.id`, when it is a valid id.
        about: Option<RequestId>,
    },
    /// A response.
    Response {
        /// The id answered (`None` for `"id": null`).
        id: Option<RequestId>,
        /// The result or the error.
        result: Result<Value, RpcError>,
    },
    /// A JSON object that is not a valid JSON-RPC message.
    Invalid {
        /// Why.
        reason: String,
        /// Its top-level `id`, as written.
        raw_id: Option<Value>,
    },
    /// A line that is not a JSON object at all.
    Junk {
        /// Why.
        reason: String,
    },
    /// A line over the advertised cap, discarded.
    Oversize {
        /// Its length in bytes.
        len: usize,
        /// The id read from its start, when legible.
        id: Option<RequestId>,
    },
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

    /// The backend's lines that are not protocol lines.
    pub fn bad_lines(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.is_bad())
    }

    /// The first junk line (not a JSON object), for timeout messages.
    pub fn first_junk(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.side == Side::Backend && matches!(e.kind, Kind::Junk { .. }))
    }

    /// The backend's answers to `id`.
    pub fn answers_to(&self, id: &RequestId) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.answers() == Some(id))
            .collect()
    }

    /// The ids of the requests the checker sent.
    pub fn sent_ids(&self) -> HashSet<&RequestId> {
        self.entries
            .iter()
            .filter_map(|e| match (&e.side, &e.kind) {
                (Side::Host, Kind::Request { id, .. }) => Some(id),
                _ => None,
            })
            .collect()
    }

    /// Requests answered more than once: the id and the stdout lines of its answers.
    pub fn duplicates(&self) -> Vec<(RequestId, Vec<usize>)> {
        let mut seen: HashMap<&RequestId, Vec<usize>> = HashMap::new();
        let mut order = Vec::new();
        for e in &self.entries {
            if let Some(id) = e.answers() {
                let lines = seen.entry(id).or_default();
                if lines.is_empty() {
                    order.push(id);
                }
                lines.push(e.line);
            }
        }
        order
            .into_iter()
            .filter_map(|id| {
                let lines = &seen[id];
                (lines.len() > 1).then(|| (id.clone(), lines.clone()))
            })
            .collect()
    }

    /// Responses for ids the checker never sent, `"id": null` included.
    pub fn strays(&self) -> Vec<&Entry> {
        let sent = self.sent_ids();
        self.entries
            .iter()
            .filter(|e| match (&e.side, &e.kind) {
                (Side::Backend, Kind::Response { id: None, .. }) => true,
                (Side::Backend, Kind::Response { id: Some(id), .. }) => !sent.contains(id),
                _ => false,
            })
            .collect()
    }

    /// `$/progress` lines about a request that was not in flight when they were read, with why.
    pub fn stray_progress(&self) -> Vec<(&Entry, &'static str)> {
        let mut sent: HashSet<&RequestId> = HashSet::new();
        let mut running: HashSet<&RequestId> = HashSet::new();
        let mut out = Vec::new();
        for e in &self.entries {
            match (&e.side, &e.kind) {
                (Side::Host, Kind::Request { id, method }) if method == name::HANDLE_A2A => {
                    sent.insert(id);
                    running.insert(id);
                }
                (Side::Backend, Kind::Response { id: Some(id), .. }) => {
                    running.remove(id);
                }
                (Side::Backend, Kind::Notification { method, about })
                    if method == name::PROGRESS =>
                {
                    let why = match about {
                        None => Some("has no valid params.id"),
                        Some(id) if running.contains(id) => None,
                        Some(id) if sent.contains(id) => Some("came after its answer"),
                        Some(_) => Some("is about a request the host never sent"),
                    };
                    if let Some(why) = why {
                        out.push((e, why));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The requests the backend sent to the host.
    pub fn host_calls(&self) -> Vec<(&Entry, &str)> {
        self.entries
            .iter()
            .filter_map(|e| match (&e.side, &e.kind) {
                (Side::Backend, Kind::Request { method, .. }) => Some((e, method.as_str())),
                _ => None,
            })
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

/// The start of a line, quoted as text.
pub fn preview(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().nth(PREVIEW_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Classifies a line the backend wrote.
fn classify(line: &[u8]) -> Kind {
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Kind::Junk {
                reason: MessageError::NotJson(e.to_string()).to_string(),
            };
        }
    };
    let raw_id = value.get("id").cloned();
    match Message::from_value(value) {
        Ok(Message::Request(r)) => Kind::Request {
            id: r.id,
            method: r.method,
        },
        Ok(Message::Notification(n)) => Kind::Notification {
            about: about(n.params.as_ref()),
            method: n.method,
        },
        Ok(Message::Response(r)) => Kind::Response {
            id: r.id,
            result: r.result,
        },
        Err(e) if e.is_junk() => Kind::Junk {
            reason: e.to_string(),
        },
        Err(e) => Kind::Invalid {
            reason: e.to_string(),
            raw_id,
        },
    }
}

/// The `params.id` of a notification.
fn about(params: Option<&Value>) -> Option<RequestId> {
    let id = params?.get("id")?.clone();
    serde_json::from_value(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(lines: &[(Side, &str)]) -> Record {
        let mut r = Record::default();
        for (side, line) in lines {
            match side {
                Side::Host => {
                    let msg = Message::parse(line.as_bytes()).unwrap();
                    r.host(&msg, line);
                }
                Side::Backend => {
                    r.backend(line.as_bytes());
                }
            }
        }
        r
    }

    #[test]
    fn finds_duplicates_strays_and_junk() {
        use Side::*;
        let r = record(&[
            (Host, r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            (Backend, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            (Backend, "Loading…"),
            (Backend, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            (Backend, r#"{"jsonrpc":"2.0","id":9,"result":{}}"#),
            (Backend, r#"{"id":2,"result":{}}"#),
        ]);
        assert_eq!(r.duplicates(), vec![(RequestId::Number(1), vec![1, 3])]);
        let strays: Vec<usize> = r.strays().iter().map(|e| e.line).collect();
        assert_eq!(strays, [4]);
        let bad: Vec<usize> = r.bad_lines().map(|e| e.line).collect();
        assert_eq!(bad, [2, 5]);
        assert_eq!(r.first_junk().unwrap().preview, "Loading…");
    }

    #[test]
    fn progress_counts_only_while_a_request_runs() {
        use Side::*;
        let r = record(&[
            (Host, r#"{"jsonrpc":"2.0","id":1,"method":"handle_a2a"}"#),
            (
                Backend,
                r#"{"jsonrpc":"2.0","method":"$/progress","params":{"id":1}}"#,
            ),
            (Backend, r#"{"jsonrpc":"2.0","id":1,"result":{"parts":[]}}"#),
            (
                Backend,
                r#"{"jsonrpc":"2.0","method":"$/progress","params":{"id":1}}"#,
            ),
            (
                Backend,
                r#"{"jsonrpc":"2.0","method":"$/progress","params":{"id":7}}"#,
            ),
        ]);
        let found: Vec<(usize, &str)> = r
            .stray_progress()
            .iter()
            .map(|(e, why)| (e.line, *why))
            .collect();
        assert_eq!(
            found,
            [
                (3, "came after its answer"),
                (4, "is about a request the host never sent")
            ]
        );
    }

    #[test]
    fn keeps_the_end_of_stderr() {
        let mut r = Record::default();
        for i in 0..100 {
            r.stderr_line(format!("line {i}").as_bytes());
        }
        assert_eq!(r.stderr_tail(2), ["line 98", "line 99"]);
        assert_eq!(r.stderr_lines, 100);
    }
}
