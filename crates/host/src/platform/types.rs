//! The platform's request and response bodies.
//!
//! Requests are written exactly as the platform expects. Responses are read tolerantly:
//! unknown keys are ignored, every field the platform may leave out is optional, and a field
//! of an unexpected type reads as absent rather than failing the whole answer. Shapes the
//! platform's own code does not pin down (peers, discovery) keep their raw JSON as well.

use super::rows::Unreadable;
use super::token::Secret;
use molecule_protocol::methods::Skill;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `GET /buildinfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildInfo {
    /// The platform's commit, which tells its version apart.
    pub git_sha: Option<String>,
    /// The whole answer.
    pub raw: Value,
}

/// `GET /workspaces/<id>`: the workspace's record.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkspaceInfo {
    /// Its id.
    pub id: Option<String>,
    /// Its display name.
    pub name: Option<String>,
    /// Its role, when set.
    pub role: Option<String>,
    /// `online`, `awaiting_agent`, `offline`, ….
    pub status: Option<String>,
    /// `poll` or `push`.
    pub delivery_mode: Option<String>,
    /// `external` for workspaces served by a bridge like this one.
    pub runtime: Option<String>,
    /// The whole record.
    pub raw: Value,
}

/// How the platform delivers messages to a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// Rows in the activity feed, fetched by the workspace (what this host uses).
    Poll,
    /// HTTP calls to the workspace's URL.
    Push,
}

/// The agent card sent at registration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentCard {
    /// The agent's name.
    pub name: String,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its skills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
}

/// `POST /registry/register`. `url` is always empty and `delivery_mode` always sent: if it were
/// left out the platform would keep the old mode (push by default) and queue nothing for us.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegisterRequest {
    /// The workspace id.
    pub id: String,
    /// Unused in poll mode; sent empty.
    pub url: String,
    /// The agent card.
    pub agent_card: AgentCard,
    /// Always sent.
    pub delivery_mode: DeliveryMode,
}

/// The answer to a registration. Its `Debug` never shows the minted token.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct RegisterResponse {
    /// `registered`.
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
    /// The mode the platform now uses for us; must be `poll`.
    #[serde(default, deserialize_with = "lenient")]
    pub delivery_mode: Option<String>,
    /// A token minted because the workspace had none; sent once, never again.
    #[serde(default, deserialize_with = "lenient")]
    pub auth_token: Option<Secret>,
}

/// The body of `POST /registry/heartbeat`, without the workspace id the client adds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Heartbeat {
    /// Seconds since the host started.
    pub uptime_seconds: u64,
    /// Rows being handled now.
    pub active_tasks: u32,
    /// A short status; every change raises a banner in the canvas, so never message text.
    pub current_task: String,
    /// Failed share of recent rows, 0 to 1 (0.5 or more marks the workspace degraded).
    pub error_rate: f64,
    /// One recent error, shown on the degraded card.
    pub sample_error: String,
}

/// A page request on the activity feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    /// `type`: an activity type (`a2a_receive`).
    pub activity_type: Option<String>,
    /// `since_id`: rows strictly after this row, oldest first.
    pub since_id: Option<String>,
    /// `since_secs`: rows of the last N seconds (positive; the platform caps it at 30 days).
    pub since_secs: Option<u64>,
    /// `before_ts`: rows created before this RFC 3339 time (paging back).
    pub before_ts: Option<String>,
    /// `limit`: 1 to 500 (the platform's default is 100).
    pub limit: Option<u32>,
    /// `include=peer_info`: the sender's name and role (newer platforms).
    pub include_peer_info: bool,
    /// Not sent: rows the caller already has, by id, read past without being kept (they take
    /// no room in the page's byte budget; see `platform::rowscan`).
    pub known: Vec<String>,
}

impl ActivityQuery {
    /// The query string pairs.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(t) = &self.activity_type {
            q.push(("type", t.clone()));
        }
        if let Some(id) = &self.since_id {
            q.push(("since_id", id.clone()));
        }
        if let Some(s) = self.since_secs {
            q.push(("since_secs", s.max(1).to_string()));
        }
        if let Some(ts) = &self.before_ts {
            q.push(("before_ts", ts.clone()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.clamp(1, 500).to_string()));
        }
        if self.include_peer_info {
            q.push(("include", "peer_info".to_owned()));
        }
        q
    }
}

/// One row of the activity feed.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityRow {
    /// The row's id: the cursor.
    pub id: String,
    /// `a2a_receive`, ….
    pub activity_type: Option<String>,
    /// The sending workspace; `None` for the canvas and other non-agent callers.
    pub source_id: Option<String>,
    /// The receiving workspace.
    pub target_id: Option<String>,
    /// The JSON-RPC method (`message/send`, `notify`, `chat_upload_receive`, …).
    pub method: Option<String>,
    /// The platform's one-line summary (never the sender's text).
    pub summary: Option<String>,
    /// The normalised request.
    pub request_body: Option<Value>,
    /// The response, when one was logged.
    pub response_body: Option<Value>,
    /// `ok`, `error`, ….
    pub status: Option<String>,
    /// RFC 3339 with nanoseconds.
    pub created_at: Option<String>,
    /// The tie-breaker of newer platforms.
    pub seq: Option<i64>,
    /// The sender's name (`include=peer_info`).
    pub peer_name: Option<String>,
    /// The sender's role (`include=peer_info`).
    pub peer_role: Option<String>,
    /// The row's other keys (`agent_card_url`, `attachments`, keys added later); the bodies
    /// are moved out into their fields, not copied.
    pub raw: Value,
    /// Set when the row could not be read: only the members above that the page scanner
    /// found are filled in, and the row is answered with an error where it has a sender,
    /// never delivered.
    pub unreadable: Option<Unreadable>,
}

impl ActivityRow {
    /// Reads a row; only a string `id` is required.
    pub fn from_value(value: Value) -> Result<Self, String> {
        let Value::Object(mut obj) = value else {
            return Err("the row is not a JSON object".into());
        };
        let id = str_field(&obj, "id").ok_or("the row has no string id")?;
        let mut take = |key: &str| obj.remove(key).filter(|v| !v.is_null());
        let (request_body, response_body) = (take("request_body"), take("response_body"));
        Ok(ActivityRow {
            id,
            activity_type: str_field(&obj, "activity_type"),
            source_id: str_field(&obj, "source_id"),
            target_id: str_field(&obj, "target_id"),
            method: str_field(&obj, "method"),
            summary: str_field(&obj, "summary"),
            request_body,
            response_body,
            status: str_field(&obj, "status"),
            created_at: str_field(&obj, "created_at"),
            seq: obj.get("seq").and_then(Value::as_i64),
            peer_name: str_field(&obj, "peer_name"),
            peer_role: str_field(&obj, "peer_role"),
            raw: Value::Object(obj),
            unreadable: None,
        })
    }
}

/// A page of the activity feed, in the order the platform sent it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityPage {
    /// Every row read, the unreadable ones included (see [`ActivityRow::unreadable`]).
    pub rows: Vec<ActivityRow>,
    /// How many rows the page held, known ones included (a full page means more are waiting).
    pub len: usize,
    /// The page was cut before its end (its byte budget, more rows than asked for, a
    /// malformed tail): more rows wait after the last one, whatever `len` says.
    pub more: bool,
}

/// The answer to `POST /activity/ack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The platform now keeps rows up to this `seq` only for the short retention.
    Acked(Option<i64>),
    /// An older platform without the endpoint (404).
    Unsupported,
}

/// What a `POST /workspaces/<target>/a2a` answered with a 2xx status.
#[derive(Clone, Debug, PartialEq)]
pub enum A2aAnswer {
    /// `{"status":"queued","delivery_mode":"poll"}`: the target polls; its answer, if any,
    /// arrives later as a message of its own.
    Queued,
    /// `{"status":"queued","delivery_mode":"push-async"}`: a push target that takes long;
    /// the answer goes to the canvas.
    PushAsync,
    /// 202 `{"queued":true,…}`: a busy push target's queue took it.
    BusyQueued {
        /// The queue entry.
        queue_id: Option<String>,
        /// How many are waiting.
        queue_depth: Option<u64>,
    },
    /// A JSON-RPC result whose `kind` is `message` (or that looks like one).
    Message(Value),
    /// A JSON-RPC result whose `kind` is `task`.
    Task(Value),
    /// A JSON-RPC error from the target agent.
    RpcError {
        /// The code.
        code: Option<i64>,
        /// The message.
        message: String,
        /// The data.
        data: Option<Value>,
    },
    /// Any other body (kept whole).
    Other(Value),
}

impl A2aAnswer {
    /// Reads a 2xx answer body.
    pub fn from_value(status: u16, body: Value) -> Self {
        let obj = body.as_object();
        let get = |k: &str| obj.and_then(|o| o.get(k));
        if get("status").and_then(Value::as_str) == Some("queued") {
            return match get("delivery_mode").and_then(Value::as_str) {
                Some("push-async") => A2aAnswer::PushAsync,
                _ => A2aAnswer::Queued,
            };
        }
        if status == 202 || get("queued").and_then(Value::as_bool) == Some(true) {
            return A2aAnswer::BusyQueued {
                queue_id: get("queue_id").and_then(Value::as_str).map(str::to_owned),
                queue_depth: get("queue_depth").and_then(Value::as_u64),
            };
        }
        if let Some(err) = get("error").and_then(Value::as_object) {
            return A2aAnswer::RpcError {
                code: err.get("code").and_then(Value::as_i64),
                message: str_field(err, "message").unwrap_or_default(),
                data: err.get("data").cloned(),
            };
        }
        match get("result") {
            Some(r) => match r.get("kind").and_then(Value::as_str) {
                Some("task") => A2aAnswer::Task(r.clone()),
                Some("message") => A2aAnswer::Message(r.clone()),
                _ if r.get("parts").is_some() => A2aAnswer::Message(r.clone()),
                _ if r.get("status").is_some() || r.get("artifacts").is_some() => {
                    A2aAnswer::Task(r.clone())
                }
                _ => A2aAnswer::Other(body),
            },
            None => A2aAnswer::Other(body),
        }
    }
}

/// What `POST /workspaces/<target>/a2a` returned: the status and the parsed body.
#[derive(Clone, Debug, PartialEq)]
pub struct A2aReply {
    /// The HTTP status (2xx).
    pub status: u16,
    /// The body.
    pub answer: A2aAnswer,
}

/// A file attached to a canvas message (`POST /notify`): an http(s) URI with a name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyAttachment {
    /// Where the file is.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// Its MIME type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// The body of `POST /notify`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NotifyRequest<'a> {
    /// The text (markdown); never empty.
    pub message: &'a str,
    /// Files to show with it.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub attachments: &'a [NotifyAttachment],
}

/// A staged canvas upload's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadContent {
    /// The content.
    pub bytes: Vec<u8>,
    /// The `Content-Type` the platform sent.
    pub content_type: Option<String>,
}

/// A peer (`GET /registry/<id>/peers`) or a discovered workspace (`GET
/// /registry/discover/<id>`). The shapes are unconfirmed, so the raw JSON is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerRecord {
    /// Its workspace id (`id` or `workspace_id`).
    pub id: Option<String>,
    /// Its name (`name`, or the agent card's).
    pub name: Option<String>,
    /// Its role.
    pub role: Option<String>,
    /// Its status.
    pub status: Option<String>,
    /// The whole record.
    pub raw: Value,
}

impl PeerRecord {
    /// Reads a record, tolerating any shape.
    pub fn from_value(raw: Value) -> Self {
        let empty = Map::new();
        let obj = raw.as_object().unwrap_or(&empty);
        let card = obj.get("agent_card").and_then(Value::as_object);
        PeerRecord {
            id: str_field(obj, "id").or_else(|| str_field(obj, "workspace_id")),
            name: str_field(obj, "name").or_else(|| card.and_then(|c| str_field(c, "name"))),
            role: str_field(obj, "role"),
            status: str_field(obj, "status"),
            raw,
        }
    }
}

impl WorkspaceInfo {
    /// Reads a workspace record.
    pub fn from_value(raw: Value) -> Self {
        let empty = Map::new();
        let obj = raw.as_object().unwrap_or(&empty);
        WorkspaceInfo {
            id: str_field(obj, "id"),
            name: str_field(obj, "name"),
            role: str_field(obj, "role"),
            status: str_field(obj, "status"),
            delivery_mode: str_field(obj, "delivery_mode"),
            runtime: str_field(obj, "runtime"),
            raw,
        }
    }
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Deserialises a field, reading a value of the wrong type as absent.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;
