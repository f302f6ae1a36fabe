//! Rows the cursor passed before they were visible. The platform stamps a row when it is
//! inserted, not when it is committed, so two concurrent inserts can appear out of order and
//! the later-committed one is never returned after the cursor. Now and then the host reads the
//! rows just before its poll position again; the ledger keeps those it has not seen.
//!
//! Rows found that way but not settled before a crash are saved; after a restart each is
//! looked up again by its time.

use std::time::Duration;

use crate::platform::{PlatformClient, PlatformError};

use super::super::state::RowKey;
use super::page::{Keyed, fetch, just_after, keyed, query, since_secs, time_of};

/// The rows of the `window` before `head` (at most one page of 500, newest first).
pub async fn overlap(
    client: &PlatformClient,
    head: &RowKey,
    window: Duration,
) -> Result<Vec<Keyed>, PlatformError> {
    let mut q = query(500);
    q.since_secs = Some(since_secs(
        time_of(head).checked_sub(window).unwrap_or(time_of(head)),
    ));
    q.before_ts = Some(just_after(head));
    Ok(keyed(fetch(client, &q).await?.rows, None))
}

/// Finds the saved late row `key` again; `None` when the platform no longer has it.
pub async fn find(
    client: &PlatformClient,
    key: &RowKey,
    skew: Duration,
) -> Result<Option<Keyed>, PlatformError> {
    let mut q = query(500);
    q.since_secs = Some(since_secs(
        time_of(key).checked_sub(skew).unwrap_or(time_of(key)),
    ));
    q.before_ts = Some(just_after(key));
    let page = fetch(client, &q).await?;
    let more = page.more;
    let found = keyed(page.rows, None)
        .into_iter()
        .find(|(k, _)| k.id == key.id);
    if found.is_none() && more {
        // The page was cut before its end: the row may be in the part not read.
        return Err(PlatformError::TooLarge {
            call: crate::platform::Call::Activity,
            limit: client.config().limits.max_response_bytes,
        });
    }
    Ok(found)
}
