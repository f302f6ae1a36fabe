//! A wiremock "platform" for the connect tests: a stateful activity feed with the platform's
//! orderings (ascending after a cursor, newest first without one), 410 for an unknown cursor,
//! and default answers for every other endpoint, each overridable per test; plus helpers that
//! read what the host sent and wait for it with a deadline.
#![allow(dead_code, reason = "each test uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use molecule_protocol::time::{format_rfc3339_nanos, parse_rfc3339};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::support::wait::until_some;

/// The workspace the host serves in these tests.
pub const WS: &str = "11111111-2222-3333-4444-555555555555";
/// A peer workspace.
pub const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";
/// Another peer.
pub const PEER2: &str = "bbbbbbbb-0000-4000-8000-000000000002";
/// The token in the token file.
pub const TOKEN: &str = "tok-Zq8_secret-value-for-tests-000000000000";

/// The feed's rows and faults.
#[derive(Default)]
pub struct Feed {
    pub rows: Vec<Value>,
    /// Rows not visible yet (committed late), by id.
    pub hidden: HashSet<String>,
    /// Cursor ids that answer 410.
    pub gone: HashSet<String>,
    /// Answers served before the feed's own (faults), oldest first.
    pub faults: Vec<ResponseTemplate>,
    /// Leave out `seq` (the older platform).
    pub no_seq: bool,
    /// Rows served as these bytes instead of their JSON, by id (malformed or hostile rows).
    pub raw: std::collections::HashMap<String, Vec<u8>>,
    /// Serve every row after the cursor, whatever `limit` asked for.
    pub ignore_limit: bool,
    last: u128,
    seq: i64,
}

impl Feed {
    fn stamp(&mut self) -> (String, i64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        self.last = now.max(self.last + 1_000);
        self.seq += 1;
        let t = UNIX_EPOCH + Duration::from_nanos(self.last as u64);
        (format_rfc3339_nanos(t), self.seq)
    }

    fn time(row: &Value) -> SystemTime {
        parse_rfc3339(row["created_at"].as_str().unwrap()).unwrap()
    }

    fn key(row: &Value) -> (SystemTime, i64) {
        (Feed::time(row), row["seq"].as_i64().unwrap_or(0))
    }

    fn visible(&self) -> Vec<&Value> {
        self.rows
            .iter()
            .filter(|r| !self.hidden.contains(r["id"].as_str().unwrap()))
            .collect()
    }

    fn answer(&mut self, req: &Request) -> ResponseTemplate {
        if !self.faults.is_empty() {
            return self.faults.remove(0);
        }
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let limit = q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(100)
            .min(500);
        let limit = if self.ignore_limit { usize::MAX } else { limit };
        let mut rows: Vec<Value> = self.visible().into_iter().cloned().collect();
        rows.sort_by_key(Feed::key);
        if let Some(since) = q.get("since_id") {
            let cursor = self
                .rows
                .iter()
                .find(|r| r["id"] == since.as_str())
                .cloned();
            let Some(cursor) = cursor.filter(|_| !self.gone.contains(since)) else {
                return ResponseTemplate::new(410).set_body_json(json!({"error":"since_id cursor not found (row may have been pruned or belongs to a different workspace); omit since_id to reset"}));
            };
            let after: Vec<Value> = rows
                .into_iter()
                .filter(|r| {
                    if self.no_seq {
                        Feed::time(r) > Feed::time(&cursor)
                    } else {
                        Feed::key(r) > Feed::key(&cursor)
                    }
                })
                .take(limit)
                .collect();
            return self.page(&after);
        }
        if let Some(secs) = q.get("since_secs").and_then(|s| s.parse::<u64>().ok()) {
            let from = SystemTime::now() - Duration::from_secs(secs);
            rows.retain(|r| Feed::time(r) >= from);
        }
        if let Some(before) = q.get("before_ts").and_then(|b| parse_rfc3339(b)) {
            rows.retain(|r| Feed::time(r) < before);
        }
        rows.reverse();
        rows.truncate(limit);
        self.page(&rows)
    }

    /// A page of `rows`, each as its JSON or as its raw bytes.
    fn page(&self, rows: &[Value]) -> ResponseTemplate {
        let mut body = b"[".to_vec();
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            match row["id"].as_str().and_then(|id| self.raw.get(id)) {
                Some(raw) => body.extend_from_slice(raw),
                None => body.extend(serde_json::to_vec(row).unwrap()),
            }
        }
        body.push(b']');
        ResponseTemplate::new(200).set_body_raw(body, "application/json")
    }
}

struct FeedResponder(Arc<Mutex<Feed>>);

impl Respond for FeedResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().answer(req)
    }
}

/// The fake platform.
pub struct Platform {
    pub server: MockServer,
    pub feed: Arc<Mutex<Feed>>,
}

impl Platform {
    /// A platform answering every call the host makes with success.
    pub async fn start() -> Platform {
        let server = MockServer::start().await;
        let feed = Arc::new(Mutex::new(Feed::default()));
        let ws = format!("/workspaces/{WS}");
        let mounts = [
            (
                Mock::given(method("GET")).and(path("/buildinfo")),
                json!({"git_sha":"fake-platform"}),
            ),
            (
                Mock::given(method("GET")).and(path(ws.clone())),
                json!({"id": WS, "name": "main", "status": "online"}),
            ),
            (
                Mock::given(method("POST")).and(path("/registry/register")),
                json!({"status":"registered","delivery_mode":"poll"}),
            ),
            (
                Mock::given(method("POST")).and(path("/registry/heartbeat")),
                json!({"status":"ok"}),
            ),
            (
                Mock::given(method("POST")).and(path_regex("^/workspaces/[^/]+/a2a$")),
                json!({"status":"queued","delivery_mode":"poll","method":"message/send"}),
            ),
            (
                Mock::given(method("POST")).and(path(format!("{ws}/notify"))),
                json!({"status":"sent"}),
            ),
            (
                Mock::given(method("POST")).and(path_regex("/pending-uploads/[^/]+/ack$")),
                json!({"status":"acked"}),
            ),
        ];
        for (mock, body) in mounts {
            mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
                .with_priority(10)
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path(format!("{ws}/activity")))
            .respond_with(FeedResponder(feed.clone()))
            .with_priority(10)
            .mount(&server)
            .await;
        Platform { server, feed }
    }

    /// The API URL.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Serves `answer` to the next `times` calls matching `method` and `path` (a regex).
    pub async fn fault(
        &self,
        http_method: &str,
        path_re: &str,
        answer: ResponseTemplate,
        times: u64,
    ) {
        Mock::given(method(http_method))
            .and(path_regex(path_re))
            .respond_with(answer)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Adds a row; returns its id.
    pub fn push(&self, fields: Value) -> String {
        let mut feed = self.feed.lock().unwrap();
        let (created_at, seq) = feed.stamp();
        let id = Uuid::new_v4().to_string();
        let mut row = json!({"id": id, "workspace_id": WS, "activity_type": "a2a_receive", "target_id": WS,
            "method": "message/send", "summary": "message/send → main (queued for poll)", "status": "ok",
            "created_at": created_at});
        if !feed.no_seq {
            row["seq"] = json!(seq);
        }
        row.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        feed.rows.push(row);
        id
    }

    /// Adds a row served as `raw(id, created_at, seq)` instead of its JSON; returns its id.
    pub fn push_raw(&self, raw: impl FnOnce(&str, &str, i64) -> Vec<u8>) -> String {
        let id = self.push(json!({}));
        let mut feed = self.feed.lock().unwrap();
        let row = feed.rows.last().unwrap().clone();
        let bytes = raw(
            &id,
            row["created_at"].as_str().unwrap(),
            row["seq"].as_i64().unwrap_or(0),
        );
        feed.raw.insert(id.clone(), bytes);
        id
    }

    /// A message from agent `from` with `text` (and `context`); returns the row id.
    pub fn agent_says(&self, from: &str, text: &str, context: Option<&str>) -> String {
        self.push(
            json!({"source_id": from, "peer_name": "Peer", "peer_role": "reviewer",
                         "request_body": message(text, context, None)}),
        )
    }

    /// A message from a person in the canvas; returns the row id.
    pub fn canvas_says(&self, text: &str) -> String {
        let mut body = message(text, Some("canvas-session"), None);
        body["params"]["metadata"] = json!({"source": "canvas_user"});
        self.push(json!({"source_id": null, "request_body": body}))
    }

    /// Every request received so far.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// Requests with `method` whose path matches `path_re`.
    pub async fn calls(&self, http_method: &str, path_re: &str) -> Vec<Request> {
        let re = regex_lite(path_re);
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method.as_str() == http_method && re(r.url.path()))
            .collect()
    }

    /// The bodies of the replies posted to agents (`/a2a` of any workspace).
    pub async fn replies(&self) -> Vec<Value> {
        self.calls("POST", "/a2a$")
            .await
            .iter()
            .map(|r| r.body_json().unwrap())
            .collect()
    }

    /// The bodies of the canvas replies.
    pub async fn notifies(&self) -> Vec<Value> {
        self.calls("POST", "/notify$")
            .await
            .iter()
            .map(|r| r.body_json().unwrap())
            .collect()
    }

    /// The activity polls.
    pub async fn polls(&self) -> Vec<Request> {
        self.calls("GET", "/activity$").await
    }

    /// Waits until `check` returns something, reading the requests again every 10 ms.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&[Request]) -> Option<T>,
    ) -> T {
        until_some(what, async || check(&self.requests().await)).await
    }

    /// Waits until `n` replies (agent and canvas) were posted; returns the texts in order.
    pub async fn wait_replies(&self, n: usize) -> Vec<String> {
        self.wait_for(&format!("{n} replies"), |reqs| {
            let texts: Vec<String> = reqs.iter().filter_map(reply_text).collect();
            (texts.len() >= n).then_some(texts)
        })
        .await
    }

    /// Waits for `n` more polls than have happened so far (the host has moved on).
    pub async fn more_polls(&self, n: usize) {
        let seen = self.polls().await.len();
        self.wait_for(&format!("{n} more polls"), |reqs| {
            let polls = reqs
                .iter()
                .filter(|r| r.url.path().ends_with("/activity"))
                .count();
            (polls >= seen + n).then_some(())
        })
        .await;
    }
}

/// A JSON-RPC `message/send` body.
pub fn message(text: &str, context: Option<&str>, molecule: Option<Value>) -> Value {
    let mut msg = json!({"role":"user","messageId": Uuid::new_v4().to_string(),
                         "parts":[{"kind":"text","text":text}]});
    if let Some(c) = context {
        msg["contextId"] = json!(c);
    }
    if let Some(m) = molecule {
        msg["metadata"] = json!({"molecule": m});
    }
    json!({"jsonrpc":"2.0","id":Uuid::new_v4().to_string(),"method":"message/send","params":{"message":msg}})
}

/// The text of a reply request (an `/a2a` message's first text part, or a notify message).
pub fn reply_text(req: &Request) -> Option<String> {
    if req.method.as_str() != "POST" {
        return None;
    }
    let body: Value = req.body_json().ok()?;
    if req.url.path().ends_with("/a2a") {
        return body
            .pointer("/params/message/parts/0/text")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    if req.url.path().ends_with("/notify") {
        return body["message"].as_str().map(str::to_owned);
    }
    None
}

/// A tiny matcher for the few patterns the tests use: a literal path suffix with `$`, or a
/// substring.
fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool + '_ {
    move |p: &str| match pattern.strip_suffix('$') {
        Some(suffix) => p.ends_with(suffix),
        None => p.contains(pattern),
    }
}
