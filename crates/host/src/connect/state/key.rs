//! The order of activity rows: `(created_at, seq, id)`, the platform's own order after a cursor
//! (`seq` exists on newer platforms only; the id breaks the remaining ties consistently).

use std::cmp::Ordering;
use std::time::UNIX_EPOCH;

use molecule_protocol::time::parse_rfc3339;
use serde::{Deserialize, Serialize};

use crate::platform::ActivityRow;

/// A row's place in the feed.
#[derive(Clone, Debug)]
pub struct RowKey {
    /// `created_at` in nanoseconds since the epoch.
    pub at: u128,
    /// The platform's tie-breaker, when it sends one.
    pub seq: Option<i64>,
    /// The row id.
    pub id: String,
    /// `created_at` exactly as the platform wrote it (sent back as `before_ts`, saved).
    pub created_at: String,
}

impl RowKey {
    /// The key of `row`; `None` when it has no readable `created_at`.
    pub fn of(row: &ActivityRow) -> Option<RowKey> {
        let created_at = row.created_at.as_deref()?;
        RowKey::parse(&row.id, created_at, row.seq)
    }

    /// A key from its parts; `None` when `created_at` is not RFC 3339.
    pub fn parse(id: &str, created_at: &str, seq: Option<i64>) -> Option<RowKey> {
        let t = parse_rfc3339(created_at)?;
        Some(RowKey {
            at: t.duration_since(UNIX_EPOCH).ok()?.as_nanos(),
            seq,
            id: id.to_owned(),
            created_at: created_at.to_owned(),
        })
    }

    /// The saved form.
    pub fn record(&self) -> KeyRecord {
        KeyRecord {
            id: self.id.clone(),
            created_at: self.created_at.clone(),
            seq: self.seq,
        }
    }

    fn tuple(&self) -> (u128, Option<i64>, &str) {
        (self.at, self.seq, &self.id)
    }
}

impl PartialEq for RowKey {
    fn eq(&self, other: &Self) -> bool {
        self.tuple() == other.tuple()
    }
}

impl Eq for RowKey {}

impl PartialOrd for RowKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RowKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.tuple().cmp(&other.tuple())
    }
}

/// A row key as the state file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The row id.
    pub id: String,
    /// Its `created_at`.
    pub created_at: String,
    /// Its `seq`, on newer platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
}

impl KeyRecord {
    /// The key; `None` when `created_at` is not RFC 3339.
    pub fn key(&self) -> Option<RowKey> {
        RowKey::parse(&self.id, &self.created_at, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(id: &str, at: &str, seq: Option<i64>) -> RowKey {
        RowKey::parse(id, at, seq).unwrap()
    }

    #[test]
    fn orders_by_time_then_seq_then_id() {
        let a = k("b", "2026-05-06T06:42:13.000001Z", Some(1));
        let b = k("a", "2026-05-06T06:42:13.000002Z", Some(0));
        let c = k("a", "2026-05-06T06:42:13.000002Z", Some(5));
        let d = k("b", "2026-05-06T08:42:13.000002+02:00", Some(5));
        assert!(a < b && b < c && c < d);
        assert_eq!(
            k("x", "2026-05-06T06:42:13Z", None),
            k("x", "2026-05-06T06:42:13.000Z", None)
        );
        assert!(RowKey::parse("x", "yesterday", None).is_none());
    }
}
