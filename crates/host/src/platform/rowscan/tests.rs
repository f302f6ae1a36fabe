//! The row scanner against serde_json: every well-formed page splits into exactly its rows,
//! whatever the chunking; a hostile row (too deep, invalid UTF-8, malformed, oversized) costs
//! only itself; and arbitrary bytes never panic it nor make it keep more than its budget.

use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const ID: &str = "3f0c1d7e-1b2a-4c5d-8e9f-0a1b2c3d4e5f";

fn limits(max_rows: usize, max_bytes: usize) -> PageLimits {
    PageLimits {
        max_rows,
        max_bytes,
    }
}

fn scan_chunks(page: &[u8], limits: PageLimits, chunk: usize) -> Result<ScannedPage, NotAnArray> {
    let mut s = PageScanner::new(limits);
    for c in page.chunks(chunk.max(1)) {
        if s.push(c) == Flow::Stop {
            break;
        }
    }
    s.finish()
}

fn scan(page: &[u8], limits: PageLimits) -> ScannedPage {
    scan_chunks(page, limits, 7).expect("an array")
}

fn fields(s: &Scanned) -> &RowFields {
    match s {
        Scanned::Row { fields, .. } | Scanned::Oversized { fields, .. } => fields,
    }
}

fn text(f: &Option<Scalar>) -> Option<String> {
    f.as_ref().and_then(Scalar::string)
}

fn row(n: u64, body: Value) -> Value {
    json!({"id": format!("{ID}-{n}"), "source_id": "peer", "request_body": body,
           "created_at": format!("2026-05-06T06:42:{n:02}Z"), "seq": n})
}

fn join(rows: &[Vec<u8>]) -> Vec<u8> {
    let mut page = b"[".to_vec();
    page.extend(rows.join(&b","[..]));
    page.push(b']');
    page
}

#[test]
fn a_row_too_deep_or_with_invalid_utf8_costs_only_itself() {
    let deep = format!(
        r#"{{"id":"deep","source_id":"peer","request_body":{}{}, "created_at":"t","seq":7}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let mut bad_utf8 = br#"{"id":"utf8","request_body":{"text":""#.to_vec();
    bad_utf8.extend([0xff, 0xfe, b'"', b'}', b'}']);
    let good = |n| serde_json::to_vec(&row(n, json!({"x": "]}\"[{"}))).expect("json");
    let page = join(&[good(1), deep.into_bytes(), bad_utf8, good(2)]);
    let p = scan(&page, limits(100, 1 << 20));
    assert_eq!(p.ending, Ending::Complete);
    assert_eq!(p.rows.len(), 4);
    let parsed: Vec<bool> = p
        .rows
        .iter()
        .map(|r| match r {
            Scanned::Row { bytes, .. } => serde_json::from_slice::<Value>(bytes).is_ok(),
            Scanned::Oversized { .. } => false,
        })
        .collect();
    assert_eq!(parsed, [true, false, false, true]);
    let f = fields(&p.rows[1]);
    assert_eq!(text(&f.id).as_deref(), Some("deep"));
    assert_eq!(text(&f.source_id).as_deref(), Some("peer"));
    assert_eq!(f.seq.as_ref().and_then(Scalar::int), Some(7));
    assert_eq!(text(&fields(&p.rows[2]).id).as_deref(), Some("utf8"));
    assert_eq!(text(&fields(&p.rows[3]).id), Some(format!("{ID}-2")));
}

#[test]
fn the_page_ends_at_the_budget_and_a_row_over_it_is_read_through_unkept() {
    let big = |n| serde_json::to_vec(&row(n, json!("x".repeat(600)))).expect("json");
    let page = join(&[big(1), big(2)]);
    let p = scan(&page, limits(100, 1000));
    assert_eq!(p.ending, Ending::Budget);
    assert_eq!(p.rows.len(), 1, "the second row waits for the next page");

    let huge = serde_json::to_vec(&row(3, json!("y".repeat(5000)))).expect("json");
    let page = join(&[huge.clone(), big(4)]);
    let p = scan(&page, limits(100, 1000));
    let Scanned::Oversized { len, fields } = &p.rows[0] else {
        panic!("{:?}", p.rows[0]);
    };
    assert_eq!(*len, huge.len() as u64);
    // created_at comes after the body, and is still found.
    assert_eq!(
        text(&fields.created_at).as_deref(),
        Some("2026-05-06T06:42:03Z")
    );
    assert_eq!(fields.seq.as_ref().and_then(Scalar::int), Some(3));
    assert!(matches!(p.rows[1], Scanned::Row { .. }));
    assert_eq!(p.ending, Ending::Complete);
}

#[test]
fn known_rows_take_no_room_so_paging_back_always_moves() {
    let big = |n| serde_json::to_vec(&row(n, json!("x".repeat(600)))).expect("json");
    let page = join(&[big(1), big(2), big(3)]);
    let mut s = PageScanner::new(limits(100, 1000)).with_known([format!("{ID}-1")]);
    s.push(&page);
    let p = s.finish().expect("an array");
    assert_eq!((p.known, p.rows.len(), p.ending), (1, 1, Ending::Budget));
    assert_eq!(text(&fields(&p.rows[0]).id), Some(format!("{ID}-2")));
}

#[test]
fn rows_past_the_limit_are_not_read_and_non_arrays_are_refused() {
    let rows: Vec<Vec<u8>> = (0..5)
        .map(|n| serde_json::to_vec(&row(n, json!({}))).expect("json"))
        .collect();
    let p = scan(&join(&rows), limits(3, 1 << 20));
    assert_eq!((p.rows.len(), p.ending), (3, Ending::Excess));
    let p = scan(&join(&rows[..3]), limits(3, 1 << 20));
    assert_eq!((p.rows.len(), p.ending), (3, Ending::Complete));
    let html = b"<!DOCTYPE html><html>sign in</html>";
    let e = scan_chunks(html, limits(3, 100), 4).expect_err("not an array");
    assert!(e.head.starts_with(b"<!DOCTYPE"));
    assert!(scan_chunks(b"  ", limits(3, 100), 4).is_err());
    let p = scan(b"[]", limits(3, 100));
    assert_eq!((p.rows.len(), p.ending), (0, Ending::Complete));
}

#[test]
fn an_answer_cut_short_keeps_its_whole_rows() {
    let rows: Vec<Vec<u8>> = (0..2)
        .map(|n| serde_json::to_vec(&row(n, json!({"a": [1, 2]}))).expect("json"))
        .collect();
    let page = join(&rows);
    let cut = &page[..page.len() - 10];
    let p = scan(cut, limits(10, 1 << 20));
    assert_eq!((p.rows.len(), p.ending), (1, Ending::Cut));
    let p = scan(br#"[{"id":"a"} garbage {"id":"b"}]"#, limits(10, 100));
    assert_eq!((p.rows.len(), p.ending), (1, Ending::Cut));
    let p = scan(
        br#"[1, "two", null, {"id": "x", "seq": -4}]"#,
        limits(10, 100),
    );
    assert_eq!(p.rows.len(), 4);
    assert_eq!(
        fields(&p.rows[3]).seq.as_ref().and_then(Scalar::int),
        Some(-4)
    );
}

#[test]
fn long_values_are_kept_short_and_named_as_long() {
    let id = "i".repeat(100_000);
    let page =
        serde_json::to_vec(&json!([{"id": id, "source_id": "a\nb\u{1b}[31m"}])).expect("json");
    let p = scan(&page, limits(10, 1 << 20));
    let f = fields(&p.rows[0]);
    let s = f.id.as_ref().expect("id");
    assert_eq!((s.raw.len(), s.len), (FIELD_CAP, 100_002));
    assert_eq!(s.string(), None, "a cut value is not taken for the whole");
    assert_eq!(text(&f.source_id).as_deref(), Some("a\nb\u{1b}[31m"));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".*".prop_map(Value::String),
        "[\\[\\]{}\",:\\\\ ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,12}|id|seq|source_id", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn activity_row() -> impl Strategy<Value = Value> {
    (
        ".{0,40}",
        proptest::option::of(".{0,40}"),
        any::<i64>(),
        json_value(),
    )
        .prop_map(|(id, source, seq, body)| {
            json!({"id": id, "source_id": source, "request_body": body,
                   "created_at": "2026-05-06T06:42:13Z", "seq": seq})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn well_formed_pages_split_into_exactly_their_rows(
        rows in prop::collection::vec(prop_oneof![activity_row(), json_value()], 0..8),
        chunk in 1usize..64,
        pretty in any::<bool>(),
    ) {
        let page = if pretty {
            serde_json::to_vec_pretty(&rows)
        } else {
            serde_json::to_vec(&rows)
        }.expect("json");
        let p = scan_chunks(&page, limits(100, 1 << 24), chunk).expect("an array");
        prop_assert_eq!(p.ending, Ending::Complete);
        prop_assert_eq!(p.rows.len(), rows.len());
        for (scanned, original) in p.rows.iter().zip(&rows) {
            let Scanned::Row { bytes, fields } = scanned else {
                return Err(TestCaseError::fail("kept within the budget"));
            };
            let back: Value = serde_json::from_slice(bytes).expect("the row's own bytes");
            prop_assert_eq!(&back, original);
            if original.is_object() {
                let id = original.get("id").and_then(Value::as_str);
                let short = id.is_some_and(|i| serde_json::to_vec(&i).expect("json").len() <= FIELD_CAP);
                if short {
                    prop_assert_eq!(text(&fields.id), id.map(str::to_owned));
                }
                prop_assert_eq!(fields.seq.as_ref().and_then(Scalar::int),
                    original.get("seq").and_then(Value::as_i64));
                prop_assert_eq!(text(&fields.source_id),
                    original.get("source_id").and_then(Value::as_str).map(str::to_owned));
            }
        }
    }

    #[test]
    fn one_corrupted_row_leaves_its_neighbours_whole(
        before in activity_row(),
        after in activity_row(),
        junk in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        // A row whose strings hold arbitrary bytes (quotes escaped so it stays one row).
        let mut bad = br#"{"id":"bad","text":""#.to_vec();
        for b in junk {
            match b {
                b'"' | b'\\' => bad.extend([b'\\', b]),
                _ => bad.push(b),
            }
        }
        bad.extend(br#""}"#);
        let page = join(&[
            serde_json::to_vec(&before).expect("json"),
            bad,
            serde_json::to_vec(&after).expect("json"),
        ]);
        let p = scan(&page, limits(10, 1 << 20));
        prop_assert_eq!(p.rows.len(), 3);
        prop_assert_eq!(text(&fields(&p.rows[1]).id), Some("bad".to_owned()));
        let Scanned::Row { bytes, .. } = &p.rows[2] else {
            return Err(TestCaseError::fail("kept"));
        };
        prop_assert_eq!(serde_json::from_slice::<Value>(bytes).expect("whole"), after);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_exceed_the_budget(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        bracket in any::<bool>(),
        max_rows in 1usize..20,
        max_bytes in 1usize..512,
        chunk in 1usize..128,
    ) {
        let mut page = if bracket { b"[".to_vec() } else { Vec::new() };
        page.extend(body);
        if let Ok(p) = scan_chunks(&page, limits(max_rows, max_bytes), chunk) {
            prop_assert!(p.rows.len() <= max_rows);
            let kept: usize = p.rows.iter().map(|r| match r {
                Scanned::Row { bytes, .. } => bytes.len(),
                Scanned::Oversized { .. } => 0,
            }).sum();
            prop_assert!(kept <= max_bytes, "{} > {}", kept, max_bytes);
        }
    }
}
