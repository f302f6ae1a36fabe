//! Properties of the NDJSON codec over random input: whatever the lines, their endings and
//! the sizes the bytes arrive in, the reader yields exactly the non-blank lines (without
//! `\r`, the first without a BOM), an over-long line is one `Oversize` of its exact length and
//! reading goes on after it; arbitrary bytes never panic and never yield a line over the cap.
#![allow(clippy::unwrap_used, reason = "tests")]

use molecule_protocol::codec::{Frame, FrameReader};
use molecule_protocol::jsonrpc::RequestId;
use proptest::prelude::*;
use tokio::io::BufReader;

/// Reads every frame of `bytes`, delivered `chunk` bytes at a time.
fn frames(bytes: &[u8], chunk: usize, max: usize) -> Vec<Frame> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = FrameReader::new(BufReader::with_capacity(chunk, bytes), max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().await.unwrap() {
            out.push(f);
        }
        out
    })
}

/// A line's content: no newline; sometimes blank, sometimes JSON-RPC-like with an id.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..80
        ),
        (0u32..1000, "[a-z ]{0,60}").prop_map(|(id, pad)| {
            format!(r#"{{"id":{id},"method":"x","params":"{pad}"}}"#).into_bytes()
        }),
        Just(b"   \t ".to_vec()),
    ]
}

/// What the reader should make of one line (`first`: at the stream's start).
fn expected(line: &[u8], first: bool, max: usize) -> Option<Frame> {
    if line.len() > max {
        return Some(Frame::Oversize {
            len: line.len(),
            id: molecule_protocol::codec::sniff_id(line),
        });
    }
    let mut l = line.to_vec();
    if first && l.starts_with(b"\xEF\xBB\xBF") {
        l.drain(..3);
    }
    if l.last() == Some(&b'\r') {
        l.pop();
    }
    (!l.iter().all(u8::is_ascii_whitespace)).then_some(Frame::Line(l))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lines_come_out_as_they_went_in_whatever_the_read_sizes(
        lines in prop::collection::vec((content(), any::<bool>()), 0..20),
        bom in any::<bool>(),
        chunk in 1usize..64,
        max in 16usize..120,
        last_newline in any::<bool>(),
    ) {
        let mut stream = Vec::new();
        if bom {
            stream.extend(b"\xEF\xBB\xBF");
        }
        let mut want = Vec::new();
        let mut at_start = true;
        for (i, (line, crlf)) in lines.iter().enumerate() {
            let mut raw = if i == 0 && bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
            raw.extend(line);
            if *crlf {
                raw.push(b'\r');
            }
            stream.extend(&raw[if i == 0 && bom { 3 } else { 0 }..]);
            let is_last = i + 1 == lines.len();
            if !is_last || last_newline {
                stream.push(b'\n');
            }
            if let Some(f) = expected(&raw, at_start, max) {
                at_start = false;
                want.push(f);
            }
        }
        if lines.is_empty() {
            // A BOM alone is whitespace-free but not a line: the stream holds just the BOM.
            want = expected(&stream, true, max).into_iter().collect();
        }
        prop_assert_eq!(frames(&stream, chunk, max), want);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_yield_a_line_over_the_cap(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        chunk in 1usize..300,
        max in 1usize..200,
    ) {
        let out = frames(&bytes, chunk, max);
        let newlines = bytes.iter().filter(|b| **b == b'\n').count();
        prop_assert!(out.len() <= newlines + 1);
        for f in &out {
            match f {
                Frame::Line(l) => {
                    prop_assert!(l.len() <= max);
                    prop_assert!(!l.contains(&b'\n'));
                }
                Frame::Oversize { len, .. } => prop_assert!(*len > max),
            }
        }
    }

    #[test]
    fn an_oversize_line_names_the_id_written_first(id in 0i64..1_000_000, pad in 200usize..400) {
        let line = format!(r#"{{"id":{id},"params":"{}"}}"#, "x".repeat(pad));
        let stream = format!("{line}\n{{\"id\":1}}\n");
        let out = frames(stream.as_bytes(), 7, 100);
        prop_assert_eq!(out, vec![
            Frame::Oversize { len: line.len(), id: Some(RequestId::Number(id)) },
            Frame::Line(b"{\"id\":1}".to_vec()),
        ]);
    }
}
