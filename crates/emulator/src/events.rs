//! The fan-out behind `GET /workspaces/<id>/events/stream`, as the platform's broadcaster does
//! it: every subscriber has a buffer of 64 events and an event that finds it full is dropped;
//! nothing is replayed. The store publishes `ACTIVITY_LOGGED` after every activity row it
//! writes (docs/platform-api.md §9.3).

use super::model::NewRow;
use super::stats::Stats;
use axum::body::Bytes;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Events a subscriber may have waiting before new ones are dropped (the platform's buffer).
pub const BUFFER: usize = 64;

/// The subscribers of every workspace's stream.
#[derive(Debug)]
pub struct Hub {
    subs: Mutex<Subs>,
    stats: Arc<Stats>,
}

#[derive(Debug, Default)]
struct Subs {
    next: u64,
    list: Vec<Sub>,
}

#[derive(Debug)]
struct Sub {
    key: u64,
    workspace: Uuid,
    tx: mpsc::Sender<Bytes>,
}

/// One open stream: its events arrive on `rx`, rendered as `data: <json>\n\n`.
#[derive(Debug)]
pub struct Subscription {
    /// Identifies it for [`Hub::unsubscribe`].
    pub key: u64,
    /// The events; closed when the subscription is cut.
    pub rx: mpsc::Receiver<Bytes>,
}

impl Hub {
    /// A hub counting into `stats`.
    pub fn new(stats: Arc<Stats>) -> Self {
        Hub {
            subs: Mutex::new(Subs::default()),
            stats,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Subs> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes to `workspace`'s events from now on.
    pub fn subscribe(&self, workspace: Uuid) -> Subscription {
        let (tx, rx) = mpsc::channel(BUFFER);
        let mut subs = self.lock();
        subs.next += 1;
        let key = subs.next;
        subs.list.push(Sub { key, workspace, tx });
        Subscription { key, rx }
    }

    /// Ends a subscription (its stream closed).
    pub fn unsubscribe(&self, key: u64) {
        self.lock().list.retain(|s| s.key != key);
    }

    /// Closes every open stream of `workspace`; returns how many there were.
    pub fn cut(&self, workspace: Uuid) -> usize {
        let mut subs = self.lock();
        let before = subs.list.len();
        subs.list.retain(|s| s.workspace != workspace);
        before - subs.list.len()
    }

    /// How many streams of `workspace` are open.
    pub fn open(&self, workspace: Uuid) -> usize {
        self.lock()
            .list
            .iter()
            .filter(|s| s.workspace == workspace && !s.tx.is_closed())
            .count()
    }

    /// Sends `ACTIVITY_LOGGED` for a row just written to every subscriber of its workspace.
    pub fn activity_logged(&self, row: &NewRow) {
        let mut subs = self.lock();
        subs.list.retain(|s| !s.tx.is_closed());
        if !subs.list.iter().any(|s| s.workspace == row.workspace_id) {
            return;
        }
        let frame = frame("ACTIVITY_LOGGED", activity_data(row));
        for s in subs.list.iter().filter(|s| s.workspace == row.workspace_id) {
            if s.tx.try_send(frame.clone()).is_ok() {
                self.stats.event_queued();
            } else {
                self.stats.event_dropped_full();
            }
        }
    }
}

/// `data: <envelope>\n\n`.
fn frame(kind: &str, data: Value) -> Bytes {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let envelope = json!({"type": kind, "timestamp": ms, "data": data});
    Bytes::from(format!("data: {envelope}\n\n"))
}

/// The members the platform's `LogActivity` broadcasts: never the row's id.
fn activity_data(row: &NewRow) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("activity_type", json!(row.activity_type));
    put("method", json!(row.method));
    put("summary", json!(row.summary));
    put("status", json!(row.status));
    put("source_id", json!(row.source_id));
    put("target_id", json!(row.target_id));
    put("duration_ms", json!(row.duration_ms));
    if let Some(b) = &row.request_body {
        put("request_body", b.clone());
    }
    if let Some(b) = &row.response_body {
        put("response_body", b.clone());
    }
    if let Some(e) = &row.error_detail {
        put("error_detail", json!(e));
    }
    if let Some(id) = &row.message_id {
        put("message_id", json!(id));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ws: Uuid) -> NewRow {
        NewRow {
            workspace_id: ws,
            activity_type: "a2a_receive".into(),
            method: Some("message/send".into()),
            status: "ok".into(),
            message_id: Some("m-1".into()),
            ..NewRow::default()
        }
    }

    #[test]
    fn events_reach_the_workspace_subscribers_and_a_full_buffer_drops() {
        let stats = Arc::new(Stats::default());
        let hub = Hub::new(stats.clone());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut sa = hub.subscribe(a);
        let mut sb = hub.subscribe(b);
        hub.activity_logged(&row(a));
        let text = String::from_utf8(sa.rx.try_recv().expect("event").to_vec()).expect("utf-8");
        let json: Value =
            serde_json::from_str(text.strip_prefix("data: ").expect("data").trim_end()).unwrap();
        assert_eq!(json["type"], "ACTIVITY_LOGGED");
        assert_eq!(json["data"]["message_id"], "m-1");
        assert!(json["data"].get("id").is_none() && json["timestamp"].is_i64());
        assert!(text.ends_with("}\n\n"));
        assert!(sb.rx.try_recv().is_err());
        for _ in 0..BUFFER + 10 {
            hub.activity_logged(&row(a));
        }
        let snap = stats.snapshot();
        assert_eq!((snap.events_queued, snap.events_dropped_full), (65, 10));
        assert_eq!((hub.open(a), hub.cut(a), hub.open(a)), (1, 1, 0));
        drop(sa);
        hub.unsubscribe(sb.key);
        assert_eq!(hub.open(b), 0);
    }
}
