//! The rows of a scanned activity page, each read on its own ([`super::rowscan`] found where
//! they are). A row that cannot be read — not JSON (nested too deep, invalid UTF-8), not an
//! object, without an id, with an id that is not a UUID, larger than the page's byte budget —
//! is kept as an *unreadable* row: the members the scanner found (id, sender, time, order,
//! kind) and the reason. The feed passes it like any other row and the engine answers it with
//! an error where it has a sender; nothing after it waits.
//!
//! An id that is not a UUID (a 100 KB one, once, became the cursor and every later poll
//! failed building its URL, across restarts) is replaced by a stand-in UUID derived from it,
//! marked so that it never becomes a cursor.

use serde_json::Value;
use uuid::Uuid;

use std::sync::atomic::{AtomicBool, Ordering};

use super::rowscan::{Ending, PageLimits, RowFields, Scalar, Scanned, ScannedPage};
use super::types::{ActivityPage, ActivityRow};
use crate::logsafe::{clean, quote};

/// Why a row could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// What was wrong, fit for a log line.
    pub reason: String,
    /// The row's id was not a UUID (or missing), so [`ActivityRow::id`] is a stand-in derived
    /// from it: the row can be settled, but its id can never be a cursor.
    pub id_replaced: bool,
}

/// Whether `id` is a row id the platform could have written (a hyphenated UUID): only those
/// become cursors and go into URLs.
pub fn is_row_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// Says why a page ended early: a platform that sends more rows than asked for is warned about
/// once (then at debug); a page cut at the byte cap or by a malformed tail is ordinary.
pub fn log_ending(ending: Ending, rows: usize, limits: PageLimits) {
    static EXCESS_WARNED: AtomicBool = AtomicBool::new(false);
    match ending {
        Ending::Complete => {}
        Ending::Excess if !EXCESS_WARNED.swap(true, Ordering::Relaxed) => tracing::warn!(
            limit = limits.max_rows,
            "the platform sent more activity rows than the {} asked for; the first {} are \
             taken (logged once)",
            limits.max_rows,
            limits.max_rows
        ),
        Ending::Excess => tracing::debug!(limit = limits.max_rows, "more rows than asked for"),
        Ending::Budget => tracing::debug!(
            rows,
            max_bytes = limits.max_bytes,
            "an activity page reached the byte cap; the rest comes with the next page"
        ),
        Ending::Cut => tracing::warn!(
            rows,
            "an activity page is malformed or cut short after {rows} whole rows; they are \
             taken and the rest is asked for again"
        ),
    }
}

/// The namespace of stand-in row ids.
const STAND_IN: Uuid = Uuid::from_u128(0x6d6f_6c65_6375_4c65_8e00_756e_7265_6164);

/// The page of `scanned`, read row by row; `max_bytes` is the budget it was scanned with.
pub fn read_page(scanned: ScannedPage, max_bytes: usize) -> ActivityPage {
    let len = scanned.rows.len() + scanned.known;
    let more = scanned.ending != Ending::Complete;
    let rows = scanned
        .rows
        .into_iter()
        .map(|s| read_row(s, max_bytes))
        .collect();
    ActivityPage { rows, len, more }
}

/// One row: parsed, or unreadable with the reason.
pub fn read_row(scanned: Scanned, max_bytes: usize) -> ActivityRow {
    let (bytes, fields) = match scanned {
        Scanned::Row { bytes, fields } => (bytes, fields),
        Scanned::Oversized { len, fields } => {
            let reason = format!("the row is {len} bytes, over the {max_bytes}-byte limit");
            return unreadable(Basics::of(&fields), reason);
        }
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            let reason = format!("the row is not valid JSON: {}", clean(&e.to_string(), 120));
            return unreadable(Basics::of(&fields), reason);
        }
    };
    match ActivityRow::from_value(value) {
        Ok(row) if is_row_id(&row.id) => row,
        Ok(row) => {
            let reason = format!("the row's id {} is not a UUID", quote(&row.id));
            unreadable(Basics::of_row(&row), reason)
        }
        Err(reason) => unreadable(Basics::of(&fields), reason),
    }
}

/// What is known of a row that cannot be read.
struct Basics {
    id: Option<String>,
    /// The id as written, for the stand-in (the first bytes of a long one).
    id_raw: Vec<u8>,
    source_id: Option<String>,
    created_at: Option<String>,
    seq: Option<i64>,
    method: Option<String>,
    activity_type: Option<String>,
}

impl Basics {
    fn of(f: &RowFields) -> Basics {
        let text = |s: &Option<Scalar>| s.as_ref().and_then(Scalar::string);
        let raw = f.id.as_ref().map(|s| {
            let mut raw = s.raw.clone();
            raw.extend(s.len.to_le_bytes());
            raw
        });
        Basics {
            id: text(&f.id),
            id_raw: raw.unwrap_or_default(),
            source_id: text(&f.source_id),
            created_at: text(&f.created_at),
            seq: f.seq.as_ref().and_then(Scalar::int),
            method: text(&f.method),
            activity_type: text(&f.activity_type),
        }
    }

    fn of_row(r: &ActivityRow) -> Basics {
        Basics {
            id: Some(r.id.clone()),
            id_raw: r.id.as_bytes().to_vec(),
            source_id: r.source_id.clone(),
            created_at: r.created_at.clone(),
            seq: r.seq,
            method: r.method.clone(),
            activity_type: r.activity_type.clone(),
        }
    }

    /// A stand-in id, the same every time the platform serves this row.
    fn stand_in(&self) -> String {
        let mut key = self.id_raw.clone();
        for part in [&self.created_at, &self.source_id, &self.method] {
            key.push(0);
            key.extend(part.as_deref().unwrap_or("").as_bytes());
        }
        key.extend(self.seq.unwrap_or(0).to_le_bytes());
        Uuid::new_v5(&STAND_IN, &key).to_string()
    }
}

fn unreadable(b: Basics, reason: String) -> ActivityRow {
    let valid =
        b.id.as_deref()
            .filter(|id| is_row_id(id))
            .map(str::to_owned);
    let id_replaced = valid.is_none();
    let id = valid.unwrap_or_else(|| b.stand_in());
    ActivityRow {
        id,
        activity_type: b.activity_type,
        source_id: b.source_id,
        target_id: None,
        method: b.method,
        summary: None,
        request_body: None,
        response_body: None,
        status: None,
        created_at: b.created_at,
        seq: b.seq,
        peer_name: None,
        peer_role: None,
        raw: Value::Object(Default::default()),
        unreadable: Some(Unreadable {
            reason,
            id_replaced,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::rowscan::{PageLimits, PageScanner};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the page holds, every row read has an id that can go into a URL, and only
        /// a stand-in is barred from being a cursor.
        #[test]
        fn every_row_read_has_a_uuid_id(
            rows in prop::collection::vec(
                prop_oneof![
                    ".{0,50}".prop_map(|id| format!(r#"{{"id":{}}}"#, serde_json::json!(id))),
                    prop::collection::vec(any::<u8>(), 0..80)
                        .prop_map(|b| format!(r#"{{"id":"{ID}","x":"{}"}}"#, String::from_utf8_lossy(&b).replace(['"', '\\'], ""))),
                    Just(format!(r#"{{"id":"{ID}","deep":{}{}}}"#, "[".repeat(200), "]".repeat(200))),
                    Just("17".to_owned()),
                ],
                0..6,
            ),
            max_bytes in 16usize..4096,
        ) {
            let body = format!("[{}]", rows.join(","));
            let mut s = PageScanner::new(PageLimits { max_rows: 100, max_bytes });
            s.push(body.as_bytes());
            let page = read_page(s.finish().expect("an array"), max_bytes);
            for row in &page.rows {
                prop_assert!(is_row_id(&row.id), "{}", row.id);
                let replaced = row.unreadable.as_ref().is_some_and(|u| u.id_replaced);
                prop_assert_eq!(replaced, row.id != ID);
            }
        }
    }

    const ID: &str = "3f0c1d7e-1b2a-4c5d-8e9f-0a1b2c3d4e5f";

    fn page(bytes: &[u8], max_bytes: usize) -> ActivityPage {
        let mut s = PageScanner::new(PageLimits {
            max_rows: 100,
            max_bytes,
        });
        s.push(bytes);
        read_page(s.finish().expect("an array"), max_bytes)
    }

    #[test]
    fn bad_rows_keep_what_is_known_and_bad_ids_get_stable_stand_ins() {
        let long_id = "x".repeat(100_000);
        let body = format!(
            r#"[{{"id":"{ID}","source_id":"{ID}","request_body":{deep}{close},"created_at":"2026-05-06T06:42:13Z","seq":4}},
               {{"id":"{long_id}","source_id":"s","created_at":"2026-05-06T06:42:14Z"}},
               {{"source_id":"s","method":"message/send"}}]"#,
            deep = "[".repeat(200),
            close = "]".repeat(200),
        );
        let p = page(body.as_bytes(), 1 << 20);
        assert_eq!((p.len, p.more), (3, false));
        let [deep, long, no_id] = &p.rows[..] else {
            panic!("{p:?}")
        };
        let reason = |r: &ActivityRow| r.unreadable.as_ref().expect("unreadable").reason.clone();
        assert!(reason(deep).contains("recursion limit"), "{}", reason(deep));
        assert_eq!((deep.id.as_str(), deep.seq), (ID, Some(4)));
        assert_eq!(deep.source_id.as_deref(), Some(ID));
        assert!(!deep.unreadable.as_ref().expect("u").id_replaced);
        assert!(is_row_id(&long.id) && long.unreadable.as_ref().expect("u").id_replaced);
        assert!(
            reason(long).len() < 300,
            "the id is quoted short: {}",
            reason(long)
        );
        assert!(is_row_id(&no_id.id));
        assert_eq!(no_id.method.as_deref(), Some("message/send"));
        let big = format!(
            r#"[{{"id":"{ID}","pad":"{pad}","created_at":"2026-05-06T06:42:15Z"}}, {{"id":"{ID}"}}]"#,
            pad = "p".repeat(2000),
        );
        let p = page(big.as_bytes(), 1000);
        assert!(reason(&p.rows[0]).contains("over the 1000-byte limit"));
        assert_eq!(
            p.rows[0].created_at.as_deref(),
            Some("2026-05-06T06:42:15Z")
        );
        assert!(p.rows[1].unreadable.is_none());
        // The same row served again gets the same stand-in.
        let again = page(body.as_bytes(), 1 << 20);
        assert_eq!(again.rows[1].id, long.id);
        assert_eq!(again.rows[2].id, no_id.id);
        assert_ne!(long.id, no_id.id);
    }
}
