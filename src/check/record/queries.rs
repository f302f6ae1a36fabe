//! Questions the checks ask of a record: which lines were not protocol lines, which requests
//! were answered twice or never sent, which progress came when nothing ran, which calls the
//! backend made to the host.

use std::collections::{HashMap, HashSet};

use molecule_protocol::RequestId;
use molecule_protocol::methods::name;

use serde_json::Value;

use super::{Entry, Kind, Record, Side};

/// A request the backend sent to the host.
pub struct Call<'a> {
    /// Its index in the record.
    pub index: usize,
    /// Its line.
    pub entry: &'a Entry,
    /// The method.
    pub method: &'a str,
    /// The params.
    pub params: Option<&'a Value>,
}

impl Call<'_> {
    /// `params._meta.requestId`, when it is a valid id.
    pub fn request_id(&self) -> Option<RequestId> {
        let id = self.params?.get("_meta")?.get("requestId")?.clone();
        serde_json::from_value(id).ok()
    }

    /// `params.messageId`, when it is a string.
    pub fn message_id(&self) -> Option<&str> {
        self.params?.get("messageId")?.as_str()
    }
}

impl Record {
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

    /// Whether the checker sent a request with this id.
    pub fn was_sent(&self, id: &RequestId) -> bool {
        self.entries.iter().any(|e| {
            matches!((&e.side, &e.kind), (Side::Host, Kind::Request { id: sent, .. }) if sent == id)
        })
    }

    /// Whether the checker sent a `$/cancelRequest` for this id.
    pub fn was_cancelled(&self, id: &RequestId) -> bool {
        self.entries.iter().any(|e| match (&e.side, &e.kind) {
            (Side::Host, Kind::Notification { method, about }) => {
                method == name::CANCEL_REQUEST && about.as_ref() == Some(id)
            }
            _ => false,
        })
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
                (Side::Host, Kind::Request { id, method, .. }) if method == name::HANDLE_A2A => {
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

    /// The requests the backend sent to the host from entry `from` on: their index in the
    /// record, the entry, the method and the params.
    pub fn host_calls(&self, from: usize) -> Vec<Call<'_>> {
        let from = from.min(self.entries.len());
        self.entries[from..]
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match (&e.side, &e.kind) {
                (Side::Backend, Kind::Request { method, params, .. }) => Some(Call {
                    index: from + i,
                    entry: e,
                    method: method.as_str(),
                    params: params.as_ref(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Whether the `handle_a2a` with this id had been sent and not yet answered when entry
    /// `index` was recorded.
    pub fn running_at(&self, index: usize, id: &RequestId) -> bool {
        let before = &self.entries[..index.min(self.entries.len())];
        let sent = before.iter().any(|e| {
            matches!((&e.side, &e.kind), (Side::Host, Kind::Request { id: s, method, .. })
                if s == id && method == name::HANDLE_A2A)
        });
        sent && !before.iter().any(|e| e.answers() == Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use molecule_protocol::Message;

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
