//! One page of the activity feed: the query the host always sends, and the rows keyed for the
//! ledger.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use molecule_protocol::time::format_rfc3339_nanos;

use crate::platform::{ActivityPage, ActivityQuery, ActivityRow, PlatformClient, PlatformError};

use super::super::settings::MAX_LOOKBACK;
use super::super::state::RowKey;

/// A fetched row with its place in the feed.
pub type Keyed = (RowKey, ActivityRow);

/// The query for a page: inbound messages, with the sender's name and role.
pub fn query(limit: u32) -> ActivityQuery {
    ActivityQuery {
        activity_type: Some("a2a_receive".into()),
        limit: Some(limit),
        include_peer_info: true,
        ..ActivityQuery::default()
    }
}

/// Fetches a page. Its unreadable rows are logged at debug here (a row is fetched again by
/// re-reads); the engine logs each once, when it answers it.
pub async fn fetch(
    client: &PlatformClient,
    q: &ActivityQuery,
) -> Result<ActivityPage, PlatformError> {
    let page = client.activity(q).await?;
    for row in &page.rows {
        if let Some(u) = &row.unreadable {
            tracing::debug!(row = %row.id, "an activity row cannot be read: {}", u.reason);
        }
    }
    Ok(page)
}

/// Whether a page of `limit` rows was full: more rows wait after it.
pub fn full(page: &ActivityPage, limit: u32) -> bool {
    page.more || page.len >= limit as usize
}

/// Whether a row's id can be a cursor: every row's but a stand-in for an id that was not a
/// UUID (docs/platform-api.md §4.4; see `platform::rows`).
pub fn can_be_cursor(row: &ActivityRow) -> bool {
    row.unreadable.as_ref().is_none_or(|u| !u.id_replaced)
}

/// The newest row of `rows` that can be a cursor.
pub fn newest_cursor(rows: &[Keyed]) -> Option<RowKey> {
    rows.iter()
        .filter(|(_, r)| can_be_cursor(r))
        .map(|(k, _)| k)
        .max()
        .cloned()
}

/// Keys the rows of a page. A row without a readable `created_at` (the platform always sends
/// one) takes its neighbour's time, so it still has a place.
pub fn keyed(rows: Vec<ActivityRow>, fallback: Option<&RowKey>) -> Vec<Keyed> {
    let mut last = fallback.map(|k| (k.at, k.created_at.clone()));
    rows.into_iter()
        .map(|row| {
            let key = RowKey::of(&row).unwrap_or_else(|| {
                tracing::warn!(row = %row.id, "activity row without a readable created_at");
                let (at, created_at) = last
                    .clone()
                    .unwrap_or((0, format_rfc3339_nanos(UNIX_EPOCH)));
                RowKey {
                    at,
                    seq: row.seq,
                    id: row.id.clone(),
                    created_at,
                }
            });
            last = Some((key.at, key.created_at.clone()));
            (key, row)
        })
        .collect()
}

/// `since_secs` reaching back to `from` (at least 1 s, at most the platform's 30 days).
pub fn since_secs(from: SystemTime) -> u64 {
    let back = SystemTime::now().duration_since(from).unwrap_or_default();
    back.min(MAX_LOOKBACK).as_secs_f64().ceil().max(1.0) as u64
}

/// A `before_ts` that still includes rows at `key`'s exact time (one microsecond later; the
/// caller deduplicates by id).
pub fn just_after(key: &RowKey) -> String {
    let nanos = key.at.saturating_add(1_000);
    let t = UNIX_EPOCH
        + Duration::new(
            (nanos / 1_000_000_000) as u64,
            (nanos % 1_000_000_000) as u32,
        );
    format_rfc3339_nanos(t)
}

/// The time of a key.
pub fn time_of(key: &RowKey) -> SystemTime {
    UNIX_EPOCH
        + Duration::new(
            (key.at / 1_000_000_000) as u64,
            (key.at % 1_000_000_000) as u32,
        )
}
