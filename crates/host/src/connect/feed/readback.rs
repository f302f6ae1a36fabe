//! Reading the feed back in time, for a first start (the `--since` window) and after a lost
//! cursor (from the saved `created_at`, minus a clock-skew margin).
//!
//! Without a cursor the platform answers newest first, so the read pages back with
//! `before_ts` while pages come back full, and stops at the window's start, at the `floor` (the
//! last row already fetched) or at a row limit. Only the oldest page is kept: its rows are
//! handled oldest first and its newest row becomes the cursor, from which the normal poll
//! returns everything after it in order. Memory stays at two pages whatever the backlog.
//!
//! Pages overlap by a microsecond (rows sharing the boundary time are read twice and
//! deduplicated by id), and the rows of the next page at the oldest page's newest time are
//! kept too: an older platform's cursor skips rows at the cursor's exact time.

use std::time::SystemTime;

use crate::platform::{PlatformClient, PlatformError};

use super::super::state::RowKey;
use super::page::{Keyed, fetch, full, just_after, keyed, newest_cursor, query, since_secs};

/// What a read-back found.
#[derive(Debug, Default)]
pub struct ReadBack {
    /// The rows to handle, oldest first (none at or below the floor).
    pub rows: Vec<Keyed>,
    /// The row to continue from; `None` when the window holds no row that can be a cursor.
    pub seed: Option<RowKey>,
    /// Rows older than the row limit, when it was reached: `(count, more)`.
    pub skipped: Option<(usize, bool)>,
}

/// Reads back from `from`; rows at or below `floor` are not returned.
pub async fn read_back(
    client: &PlatformClient,
    page_size: u32,
    from: SystemTime,
    floor: Option<&RowKey>,
    max_rows: usize,
) -> Result<ReadBack, PlatformError> {
    let since = since_secs(from);
    let mut before: Option<String> = None;
    let mut newer: Vec<Keyed> = Vec::new();
    let mut oldest: Vec<Keyed> = Vec::new();
    let mut read = 0;
    let mut cut = false;
    loop {
        let mut q = query(page_size);
        q.since_secs = Some(since);
        q.before_ts = before.take();
        // The rows at the boundary come again: they must not take the page's room.
        q.known = oldest.iter().map(|(k, _)| k.id.clone()).collect();
        let page = fetch(client, &q).await?;
        let full = full(&page, page_size);
        let fresh: Vec<Keyed> = keyed(page.rows, None)
            .into_iter()
            .filter(|(k, _)| !oldest.iter().chain(&newer).any(|(o, _)| o.id == k.id))
            .collect();
        let Some(bottom) = fresh.iter().map(|(k, _)| k).min().cloned() else {
            if page.more {
                // Cut before any new row (its id was not where the platform writes it):
                // going on would skip the older rows; the read-back is tried again later.
                return Err(PlatformError::TooLarge {
                    call: crate::platform::Call::Activity,
                    limit: client.config().limits.max_response_bytes,
                });
            }
            break;
        };
        read += fresh.len();
        let reached_floor = floor.is_some_and(|f| bottom <= *f);
        newer = std::mem::replace(&mut oldest, fresh);
        if reached_floor || !full {
            break;
        }
        if read >= max_rows {
            cut = true;
            break;
        }
        before = Some(just_after(&bottom));
    }
    let skipped = if cut {
        Some(count_older(client, since, &oldest).await?)
    } else {
        None
    };
    let top = oldest.iter().map(|(k, _)| k.at).max();
    let mut rows = oldest;
    rows.extend(newer.into_iter().filter(|(k, _)| Some(k.at) == top));
    let seed = newest_cursor(&rows);
    rows.retain(|(k, _)| floor.is_none_or(|f| k > f));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(ReadBack {
        rows,
        seed,
        skipped,
    })
}

/// How many rows are older than the oldest page (one page's worth at most: `(n, more)`).
async fn count_older(
    client: &PlatformClient,
    since: u64,
    oldest: &[Keyed],
) -> Result<(usize, bool), PlatformError> {
    let Some((bottom, _)) = oldest.iter().min_by(|a, b| a.0.cmp(&b.0)) else {
        return Ok((0, false));
    };
    let mut q = query(500);
    q.since_secs = Some(since);
    q.before_ts = Some(bottom.created_at.clone());
    let page = fetch(client, &q).await?;
    Ok((page.len, page.len >= 500))
}
