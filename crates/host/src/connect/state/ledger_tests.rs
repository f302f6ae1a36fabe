use super::*;

fn key(n: u32) -> RowKey {
    RowKey::parse(
        &format!("r{n:03}"),
        &format!("2026-05-06T06:42:{:02}.{:06}Z", n / 1000, n % 1000),
        Some(i64::from(n)),
    )
    .unwrap()
}

fn ids(keys: &[super::super::key::KeyRecord]) -> Vec<String> {
    keys.iter().map(|k| k.id.clone()).collect()
}

#[test]
fn the_cursor_is_the_contiguous_settled_prefix() {
    let mut l = Ledger::new(Uuid::nil());
    for n in 1..=4 {
        assert_eq!(l.admit(&key(n)), Admit::New);
    }
    l.fetched_through(&key(4));
    l.settle(&key(2));
    l.settle(&key(3));
    assert_eq!(l.cursor(), None, "row 1 holds the prefix");
    let s = l.snapshot().unwrap();
    assert_eq!(ids(&s.settled_above), ["r002", "r003"]);
    l.settle(&key(1));
    assert_eq!(l.cursor(), Some(&key(3)));
    assert_eq!(l.span(), 1);
    assert_eq!(l.admit(&key(2)), Admit::Known, "below the cursor");
    assert_eq!(l.admit(&key(4)), Admit::Known, "in the window");
    assert!(l.snapshot().unwrap().settled_above.is_empty());
    assert!(l.snapshot().is_none(), "nothing changed since");
}

#[test]
fn restored_settled_rows_do_not_let_the_prefix_skip_an_unfetched_row() {
    let mut l = Ledger::new(Uuid::nil());
    for n in 1..=3 {
        l.admit(&key(n));
    }
    l.fetched_through(&key(3));
    l.settle(&key(1));
    l.settle(&key(3));
    let saved = l.snapshot().unwrap();
    assert_eq!(saved.cursor.as_ref().unwrap().id, "r001");

    let mut r = Ledger::from_state(saved, Uuid::nil());
    r.fetched_through(&key(1));
    assert_eq!(
        r.cursor(),
        Some(&key(1)),
        "row 2 is not fetched yet: row 3 must wait"
    );
    assert_eq!(r.admit(&key(2)), Admit::New);
    assert_eq!(r.admit(&key(3)), Admit::Known, "settled before the restart");
    r.fetched_through(&key(3));
    assert_eq!(r.cursor(), Some(&key(1)));
    r.settle(&key(2));
    assert_eq!(r.cursor(), Some(&key(3)));
}

#[test]
fn late_rows_below_the_cursor_are_handled_once_and_survive_a_restart() {
    let mut l = Ledger::from_state(
        StateFile {
            cursor: Some(key(1).record()),
            ..StateFile::new(Uuid::nil())
        },
        Uuid::nil(),
    );
    for n in [2, 4] {
        l.admit(&key(n));
    }
    l.fetched_through(&key(4));
    l.settle(&key(2));
    l.settle(&key(4));
    assert_eq!(l.cursor(), Some(&key(4)));
    assert_eq!(l.admit_late(&key(5)), Admit::Known, "ahead of the poll");
    assert_eq!(
        l.admit_late(&key(1)),
        Admit::Known,
        "at or before the start-up cursor"
    );
    assert_eq!(l.admit_late(&key(2)), Admit::Known, "settled in this run");
    assert_eq!(
        l.admit_late(&key(3)),
        Admit::New,
        "passed by the poll unseen"
    );
    assert_eq!(l.admit_late(&key(3)), Admit::Known);
    let saved = l.snapshot().unwrap();
    assert_eq!(ids(&saved.late), ["r003"]);

    let mut r = Ledger::from_state(saved, Uuid::nil());
    assert_eq!(r.pending_late(), [key(3)]);
    assert_eq!(
        r.admit_late(&key(3)),
        Admit::New,
        "fetched again after the restart"
    );
    assert!(r.pending_late().is_empty());
    r.settle(&key(3));
    assert!(r.snapshot().unwrap().late.is_empty());
    assert_eq!(r.span(), 0);
}

#[test]
fn attempts_and_uploads_are_saved_until_the_row_settles() {
    let mut l = Ledger::new(Uuid::nil());
    l.admit(&key(1));
    l.set_attempts("r001", 2);
    assert_eq!(l.snapshot().unwrap().attempts["r001"], 2);
    l.record_upload(
        "platform-pending:w/f".into(),
        UploadRecord {
            path: "/x".into(),
            saved_at: 10,
        },
    );
    l.settle(&key(1));
    let s = l.snapshot().unwrap();
    assert!(s.attempts.is_empty());
    assert_eq!(s.uploads.len(), 1);
    assert_eq!(l.expire_uploads(11).len(), 1);
    assert!(l.snapshot().unwrap().uploads.is_empty());
}
