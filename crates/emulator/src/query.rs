//! The activity feed query: parameter parsing with the platform's exact 400s, and the read
//! itself with its two orderings (ascending after a cursor, newest first without one).

use super::config::Compat;
use super::store::Store;
use molecule_protocol::time::parse_rfc3339;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// The platform's 410 body for a cursor it cannot find.
pub const CURSOR_GONE: &str = "since_id cursor not found (row may have been pruned or belongs to a different workspace); omit since_id to reset";

/// `since_secs` is capped at 30 days.
const MAX_SINCE: Duration = Duration::from_secs(30 * 86_400);

/// Which senders a `source` filter keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFilter {
    /// `source_id IS NULL`
    Canvas,
    /// `source_id IS NOT NULL`
    Agent,
}

/// A parsed activity query.
#[derive(Clone, Debug, Default)]
pub struct ActivityQuery {
    /// `type`: exact match on `activity_type`.
    pub activity_type: Option<String>,
    /// `since_id`, as given (a non-UUID fails the lookup like the platform's cast does).
    pub since_id: Option<String>,
    /// `since_secs`, capped.
    pub since: Option<Duration>,
    /// `before_ts`
    pub before: Option<SystemTime>,
    /// `limit`, 1 to 500.
    pub limit: usize,
    /// `source`
    pub source: Option<SourceFilter>,
    /// `peer_id`
    pub peer_id: Option<Uuid>,
    /// `include=peer_info` (newer platform only).
    pub peer_info: bool,
}

/// A query the platform refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// 400 with this message.
    #[error("{0}")]
    BadRequest(&'static str),
    /// 410: the cursor row does not exist in this feed.
    #[error("{CURSOR_GONE}")]
    Gone,
    /// 500: a non-UUID cursor fails the database cast on the platform.
    #[error("cursor lookup failed")]
    CursorLookup,
}

impl ActivityQuery {
    /// Parses the query string parameters.
    pub fn parse(params: &HashMap<String, String>, compat: Compat) -> Result<Self, QueryError> {
        let get = |k: &str| params.get(k).map(String::as_str);
        let since = match get("since_secs") {
            None => None,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n > 0 => Some(Duration::from_secs(n as u64).min(MAX_SINCE)),
                _ => {
                    return Err(QueryError::BadRequest(
                        "since_secs must be a positive integer",
                    ));
                }
            },
        };
        let source = match get("source") {
            None => None,
            Some("canvas") => Some(SourceFilter::Canvas),
            Some("agent") => Some(SourceFilter::Agent),
            Some(_) => return Err(QueryError::BadRequest("source must be 'canvas' or 'agent'")),
        };
        let peer_id = match get("peer_id") {
            None => None,
            Some(s) => Some(
                Uuid::parse_str(s).map_err(|_| QueryError::BadRequest("peer_id must be a UUID"))?,
            ),
        };
        let before = match get("before_ts") {
            None => None,
            Some(s) => Some(parse_rfc3339(s).ok_or(QueryError::BadRequest(
                "before_ts must be an RFC3339 timestamp (e.g. 2026-05-01T00:00:00Z)",
            ))?),
        };
        let limit = match get("limit").map(str::parse::<i64>) {
            Some(Ok(n)) if n > 0 => (n as usize).min(500),
            _ => 100,
        };
        let peer_info = compat.is_new()
            && get("include").is_some_and(|v| v.split(',').any(|x| x.trim() == "peer_info"));
        Ok(ActivityQuery {
            activity_type: get("type").map(str::to_owned),
            since_id: get("since_id").map(str::to_owned),
            since,
            before,
            limit,
            source,
            peer_id,
            peer_info,
        })
    }
}

/// Runs `q` on `workspace`'s feed and renders the bare JSON array. Records the cursor the
/// workspace polled with (the chat page's backlog figure).
pub fn read_feed(
    store: &mut Store,
    workspace: Uuid,
    q: &ActivityQuery,
    now: SystemTime,
    base_url: &str,
) -> Result<Vec<u8>, QueryError> {
    let cursor = match &q.since_id {
        None => None,
        Some(raw) => {
            let id = Uuid::parse_str(raw).map_err(|_| QueryError::CursorLookup)?;
            if store.gone_once.remove(&workspace) {
                return Err(QueryError::Gone);
            }
            match store.row_index.get(&id) {
                Some((ws, seq)) if *ws == workspace => Some((id, *seq)),
                _ => return Err(QueryError::Gone),
            }
        }
    };
    let since = q.since.and_then(|d| now.checked_sub(d));
    let picked: Vec<usize> = match store.feeds.get(&workspace) {
        None => Vec::new(),
        Some(feed) => {
            let keep = |i: &usize| {
                let r = &feed.rows[*i];
                q.activity_type
                    .as_ref()
                    .is_none_or(|t| *t == r.activity_type)
                    && q.source
                        .is_none_or(|s| (s == SourceFilter::Canvas) == r.source_id.is_none())
                    && q.peer_id
                        .is_none_or(|p| r.source_id == Some(p) || r.target_id == Some(p))
            };
            let lower = since.map_or(0, |t| feed.rows.partition_point(|r| r.created_at < t));
            let upper = q.before.map_or(feed.rows.len(), |t| {
                feed.rows.partition_point(|r| r.created_at < t)
            });
            match cursor {
                // Strictly after the cursor's (created_at, seq) key, oldest first.
                Some((_, seq)) => {
                    let start = feed.position(seq).map_or(lower, |p| (p + 1).max(lower));
                    (start..upper.max(start))
                        .filter(keep)
                        .take(q.limit)
                        .collect()
                }
                // Newest first.
                None => (lower..upper.max(lower))
                    .rev()
                    .filter(keep)
                    .take(q.limit)
                    .collect(),
            }
        }
    };
    if let Some((id, _)) = cursor {
        // A host woken by the event stream polls again only later: what it fetched, not the
        // cursor it sent, is what the backlog counts from.
        let fetched = picked
            .last()
            .and_then(|&i| Some(store.feeds.get(&workspace)?.rows.get(i)?.id))
            .unwrap_or(id);
        store.workspaces.entry(workspace).and_modify(|w| {
            w.last_cursor = Some(fetched);
        });
    }
    store.workspaces.entry(workspace).and_modify(|w| {
        w.last_polled_at = Some(now);
    });
    Ok(render(store, workspace, &picked, q.peer_info, base_url))
}

fn render(
    store: &Store,
    workspace: Uuid,
    picked: &[usize],
    peer_info: bool,
    base: &str,
) -> Vec<u8> {
    let Some(feed) = store.feeds.get(&workspace) else {
        return b"[]".to_vec();
    };
    let new = store.compat.is_new();
    let mut out = Vec::with_capacity(2 + picked.len() * 512);
    out.push(b'[');
    for (n, &i) in picked.iter().enumerate() {
        let r = &feed.rows[i];
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r.json_head.as_bytes());
        if new {
            let _ = write!(out, ",\"seq\":{}", r.seq);
        }
        if peer_info {
            push_peer_info(&mut out, store, r.source_id, r.attachments.as_deref(), base);
        }
        out.push(b'}');
    }
    out.push(b']');
    out
}

fn push_peer_info(
    out: &mut Vec<u8>,
    store: &Store,
    source: Option<Uuid>,
    attachments: Option<&str>,
    base: &str,
) {
    if let Some(src) = source {
        if let Some(ws) = store.workspaces.get(&src) {
            let name = serde_json::Value::from(ws.name.as_str()).to_string();
            out.extend_from_slice(format!(",\"peer_name\":{name}").as_bytes());
            if let Some(role) = &ws.role {
                let role = serde_json::Value::from(role.as_str()).to_string();
                out.extend_from_slice(format!(",\"peer_role\":{role}").as_bytes());
            }
        }
        out.extend_from_slice(
            format!(",\"agent_card_url\":\"{base}/registry/discover/{src}\"").as_bytes(),
        );
    }
    if let Some(a) = attachments {
        out.extend_from_slice(b",\"attachments\":");
        out.extend_from_slice(a.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ActivityQuery, QueryError> {
        let m = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ActivityQuery::parse(&m, Compat::New)
    }

    #[test]
    fn limit_defaults_clamps_and_forgives_garbage() {
        assert_eq!(parse(&[]).unwrap().limit, 100);
        assert_eq!(parse(&[("limit", "7")]).unwrap().limit, 7);
        assert_eq!(parse(&[("limit", "9000")]).unwrap().limit, 500);
        for bad in ["0", "-3", "ten", ""] {
            assert_eq!(parse(&[("limit", bad)]).unwrap().limit, 100, "{bad}");
        }
    }

    #[test]
    fn bad_parameters_get_the_platform_messages() {
        let msg = |p: &[(&str, &str)]| parse(p).unwrap_err().to_string();
        assert_eq!(
            msg(&[("since_secs", "0")]),
            "since_secs must be a positive integer"
        );
        assert_eq!(
            msg(&[("since_secs", "x")]),
            "since_secs must be a positive integer"
        );
        assert_eq!(
            msg(&[("source", "bot")]),
            "source must be 'canvas' or 'agent'"
        );
        assert_eq!(msg(&[("peer_id", "nope")]), "peer_id must be a UUID");
        assert!(msg(&[("before_ts", "yesterday")]).starts_with("before_ts must be an RFC3339"));
        let capped = parse(&[("since_secs", "99999999")]).unwrap();
        assert_eq!(capped.since, Some(MAX_SINCE));
    }

    #[test]
    fn peer_info_is_newer_only() {
        let m: HashMap<String, String> = [("include".to_owned(), "x,peer_info".to_owned())].into();
        assert!(ActivityQuery::parse(&m, Compat::New).unwrap().peer_info);
        assert!(!ActivityQuery::parse(&m, Compat::Old).unwrap().peer_info);
    }
}
