//! The emulator's records: workspaces, tokens, activity rows and staged uploads, and how a row
//! is written on the wire.
//!
//! A row's JSON is rendered once, when it is written, because the activity endpoint serves
//! the same rows over and over (a cursor read of 100 rows copies bytes instead of serialising).

use molecule_protocol::time::format_rfc3339_nanos;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// How the platform delivers A2A messages to a workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// Forwarded over HTTP to the workspace's URL (the platform's column default).
    #[default]
    Push,
    /// Queued as activity rows for the workspace to poll.
    Poll,
}

impl DeliveryMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Push => "push",
            DeliveryMode::Poll => "poll",
        }
    }
}

/// The stored status of a workspace (a subset of the platform's status machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, no agent has registered or heartbeated recently.
    AwaitingAgent,
    /// Registered and heartbeating.
    Online,
    /// Heartbeating with a high error rate or a wedged runtime.
    Degraded,
    /// Deleted: tokens revoked, never updated again.
    Removed,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingAgent => "awaiting_agent",
            Status::Online => "online",
            Status::Degraded => "degraded",
            Status::Removed => "removed",
        }
    }
}

/// What the last heartbeat said.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HeartbeatInfo {
    /// `uptime_seconds`
    pub uptime_seconds: i64,
    /// `active_tasks`
    pub active_tasks: i64,
    /// `current_task`
    pub current_task: String,
    /// `error_rate`, 0 to 1.
    pub error_rate: f64,
    /// `sample_error`, shown as the last error.
    pub sample_error: String,
    /// `runtime_state`; `"wedged"` degrades.
    pub runtime_state: String,
}

/// One workspace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workspace {
    /// Its id.
    pub id: Uuid,
    /// Display name (the id when created by a register).
    pub name: String,
    /// Role shown to peers.
    pub role: Option<String>,
    /// Parent in the org tree; decides who may talk to whom.
    pub parent_id: Option<Uuid>,
    /// Stored status; see [`Workspace::effective_status`].
    pub status: Status,
    /// Push or poll.
    pub delivery_mode: DeliveryMode,
    /// The agent's URL (push mode).
    pub url: Option<String>,
    /// The agent card from the last register.
    pub agent_card: Option<Value>,
    /// When it was created.
    pub created_at: SystemTime,
    /// Last register or heartbeat.
    pub last_heartbeat_at: Option<SystemTime>,
    /// Last successful register.
    pub registered_at: Option<SystemTime>,
    /// When it was removed.
    pub removed_at: Option<SystemTime>,
    /// The last heartbeat's payload.
    pub heartbeat: HeartbeatInfo,
    /// Returned by register and heartbeat; a poll-mode bridge ignores it.
    pub inbound_secret: String,
    /// Bumped by each heartbeat (newer platform's `generation`).
    pub generation: i64,
    /// Newer platform: the highest acked `seq`, which governs soft retention.
    pub last_acked_seq: i64,
    /// The newest row a cursor read of the workspace returned, or its `since_id` when it
    /// returned none: what the workspace has fetched (for the backlog figure).
    pub last_cursor: Option<Uuid>,
    /// When it last read its activity feed.
    pub last_polled_at: Option<SystemTime>,
}

impl Workspace {
    /// A fresh external workspace waiting for its agent.
    pub fn new(id: Uuid, name: String, now: SystemTime) -> Self {
        Workspace {
            id,
            name,
            role: None,
            parent_id: None,
            status: Status::AwaitingAgent,
            delivery_mode: DeliveryMode::Push,
            url: None,
            agent_card: None,
            created_at: now,
            last_heartbeat_at: None,
            registered_at: None,
            removed_at: None,
            heartbeat: HeartbeatInfo::default(),
            inbound_secret: super::tokens::mint_token(),
            generation: 0,
            last_acked_seq: 0,
            last_cursor: None,
            last_polled_at: None,
        }
    }

    /// `true` when the last sign of life is older than `stale_after`.
    pub fn is_stale(&self, now: SystemTime, stale_after: Duration) -> bool {
        let last = self.last_heartbeat_at.unwrap_or(self.created_at);
        now.duration_since(last).unwrap_or_default() > stale_after
    }

    /// The status as the platform reports it: a live workspace whose heartbeats stopped is
    /// swept back to `awaiting_agent`.
    pub fn effective_status(&self, now: SystemTime, stale_after: Duration) -> Status {
        match self.status {
            Status::Online | Status::Degraded if self.is_stale(now, stale_after) => {
                Status::AwaitingAgent
            }
            s => s,
        }
    }

    /// The record `GET /workspaces/<id>` answers with.
    pub fn to_json(&self, now: SystemTime, stale_after: Duration) -> Value {
        let ts = |t: Option<SystemTime>| t.map(format_rfc3339_nanos);
        json!({
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "status": self.effective_status(now, stale_after).as_str(),
            "runtime": "external",
            "delivery_mode": self.delivery_mode.as_str(),
            "url": self.url,
            "parent_id": self.parent_id,
            "agent_card": self.agent_card,
            "last_heartbeat_at": ts(self.last_heartbeat_at),
            "uptime_seconds": self.heartbeat.uptime_seconds,
            "active_tasks": self.heartbeat.active_tasks,
            "current_task": self.heartbeat.current_task,
            "last_error_rate": self.heartbeat.error_rate,
            "last_sample_error": self.heartbeat.sample_error,
            "created_at": format_rfc3339_nanos(self.created_at),
        })
    }

    /// The `{id, name, role, status, url}` record of the peers and discover endpoints.
    pub fn peer_json(&self, now: SystemTime, stale_after: Duration, base_url: &str) -> Value {
        // Not confirmed from server code (docs/platform-api.md §8): these shapes are what the
        // platform runtime's Python A2A client reads. A poll-mode workspace has no URL of its
        // own, so its platform proxy address stands in.
        let url = self
            .url
            .clone()
            .unwrap_or_else(|| format!("{base_url}/workspaces/{}/a2a", self.id));
        json!({
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "status": self.effective_status(now, stale_after).as_str(),
            "url": url,
        })
    }
}

/// The two kinds of tokens on the newer platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Minted by a bootstrap register; the register/heartbeat gate looks only at these.
    Instance,
    /// Minted by workspace creation or the admin API.
    Api,
}

/// A stored token: only its hash is kept.
#[derive(Clone, Debug)]
pub struct Token {
    /// sha256 of the plaintext.
    pub hash: [u8; 32],
    /// The first 8 characters (what a token list shows).
    pub prefix: String,
    /// The workspace it is valid for.
    pub workspace_id: Uuid,
    /// Instance or api.
    pub kind: TokenKind,
    /// Revoked tokens never validate again.
    pub revoked: bool,
}

/// A row as written: everything the filters need, plus its pre-rendered JSON.
#[derive(Clone, Debug)]
pub struct Row {
    /// The cursor id.
    pub id: Uuid,
    /// The feed it belongs to.
    pub workspace_id: Uuid,
    /// `activity_type`
    pub activity_type: String,
    /// The sender; `None` for canvas-class callers and the workspace's own notifies.
    pub source_id: Option<Uuid>,
    /// The target.
    pub target_id: Option<Uuid>,
    /// `method`
    pub method: Option<String>,
    /// Insert time; strictly increasing across the emulator.
    pub created_at: SystemTime,
    /// Global insert counter.
    pub seq: i64,
    /// The A2A messageId (the newer platform dedups on it per workspace).
    pub message_id: Option<String>,
    /// The JSON object without its closing brace and without `seq` (added per compat).
    pub json_head: String,
    /// `attachments` for `include=peer_info`, pre-rendered, when the message has files.
    pub attachments: Option<String>,
}

/// The fields of a new row before it gets its id, time and seq.
#[derive(Clone, Debug, Default)]
pub struct NewRow {
    /// The feed it goes to.
    pub workspace_id: Uuid,
    /// `activity_type`
    pub activity_type: String,
    /// Sender.
    pub source_id: Option<Uuid>,
    /// Target.
    pub target_id: Option<Uuid>,
    /// `method`
    pub method: Option<String>,
    /// `summary`
    pub summary: Option<String>,
    /// `request_body`
    pub request_body: Option<Value>,
    /// `response_body`
    pub response_body: Option<Value>,
    /// `duration_ms`
    pub duration_ms: Option<i64>,
    /// `status`
    pub status: String,
    /// `error_detail`
    pub error_detail: Option<String>,
    /// Dedup key.
    pub message_id: Option<String>,
}

impl NewRow {
    /// Renders the row's JSON head (no closing brace, no `seq`), in the platform's key order.
    pub fn render_head(&self, id: Uuid, created_at: SystemTime) -> String {
        fn field(out: &mut String, key: &str, value: &impl Serialize) {
            out.push_str(if out.is_empty() { "{\"" } else { ",\"" });
            out.push_str(key);
            out.push_str("\":");
            // Serialising plain data into a String cannot fail.
            out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "null".into()));
        }
        let mut out = String::with_capacity(384);
        field(&mut out, "id", &id);
        field(&mut out, "workspace_id", &self.workspace_id);
        field(&mut out, "activity_type", &self.activity_type);
        field(&mut out, "source_id", &self.source_id);
        field(&mut out, "target_id", &self.target_id);
        field(&mut out, "method", &self.method);
        field(&mut out, "summary", &self.summary);
        if let Some(b) = &self.request_body {
            field(&mut out, "request_body", b);
        }
        if let Some(b) = &self.response_body {
            field(&mut out, "response_body", b);
        }
        field(&mut out, "duration_ms", &self.duration_ms);
        field(&mut out, "status", &self.status);
        field(&mut out, "error_detail", &self.error_detail);
        field(&mut out, "created_at", &format_rfc3339_nanos(created_at));
        out
    }

    /// The `attachments` list of `include=peer_info`: the file parts of the message.
    pub fn render_attachments(&self) -> Option<String> {
        let parts = self
            .request_body
            .as_ref()?
            .pointer("/params/message/parts")?
            .as_array()?;
        let files: Vec<Value> = parts
            .iter()
            .filter_map(|p| p.get("file"))
            .map(|f| {
                let mime = f
                    .get("mimeType")
                    .or_else(|| f.get("mime_type"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let kind = ["image", "audio", "video"]
                    .into_iter()
                    .find(|k| mime.starts_with(&format!("{k}/")))
                    .unwrap_or("file");
                json!({"kind": kind, "uri": f.get("uri"), "mime_type": mime, "name": f.get("name")})
            })
            .collect();
        (!files.is_empty()).then(|| Value::Array(files).to_string())
    }
}

/// A file staged by a canvas upload until the workspace fetches and acks it.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Its id (in `platform-pending:<ws>/<file_id>`).
    pub file_id: Uuid,
    /// The workspace it was uploaded to.
    pub workspace_id: Uuid,
    /// File name.
    pub name: String,
    /// Content type.
    pub mime_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Upload {
    /// The `platform-pending:` URI rows and messages refer to it by.
    pub fn uri(&self) -> String {
        format!("platform-pending:{}/{}", self.workspace_id, self.file_id)
    }
}
