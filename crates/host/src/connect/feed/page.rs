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

/// Fetches a page, logging the rows the platform sent that cannot be read.
pub async fn fetch(
    client: &PlatformClient,
    q: &ActivityQuery,
) -> Result<ActivityPage, PlatformError> {
    let page = client.activity(q).await?;
    for s in &page.skipped {
        tracing::warn!(
            index = s.index,
            "skipping an activity row that cannot be read: {}",
            s.reason
        );
    }
    Ok(page)
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
