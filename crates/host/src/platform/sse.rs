//! A Server-Sent Events parser (the WHATWG `text/event-stream` rules), free of I/O: bytes go in
//! as they arrive, whole events come out.
//!
//! Lines end with CRLF, LF or CR (a CRLF split across two chunks is one line end); a line
//! starting with `:` is a comment; `field: value` loses one space after the colon; `data`
//! lines are joined with LF; an empty line dispatches the event; `id`, `retry` and unknown
//! fields are ignored (nothing here resumes a stream). A leading byte-order mark is dropped.
//! Text is decoded as UTF-8 per line, so a character split across chunks survives.
//!
//! Memory is bounded: a line longer than `max_line` or an event whose data grows past
//! `max_event` is not kept; the event is reported as [`SseItem::Oversized`] when it ends, so a
//! reader that only needs to know *that* something happened still learns it.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when one was given.
    pub event: Option<String>,
    /// The `data:` lines joined with LF.
    pub data: String,
}

/// What the parser produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseItem {
    /// An event.
    Event(SseEvent),
    /// An event that went past the size limits; its content was dropped.
    Oversized,
}

/// The parser's state between chunks.
#[derive(Debug)]
pub struct SseParser {
    max_line: usize,
    max_event: usize,
    line: Vec<u8>,
    line_too_long: bool,
    after_cr: bool,
    started: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    oversized: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    /// A parser that keeps lines up to `max_line` bytes and events up to `max_event` bytes.
    pub fn new(max_line: usize, max_event: usize) -> Self {
        SseParser {
            max_line,
            max_event,
            line: Vec::new(),
            line_too_long: false,
            after_cr: false,
            started: false,
            data: String::new(),
            has_data: false,
            event: None,
            oversized: false,
        }
    }

    /// Takes in `chunk`; appends the events it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseItem>) {
        while !chunk.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if chunk[0] == b'\n' {
                    chunk = &chunk[1..];
                    continue;
                }
            }
            match chunk.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(i) => {
                    self.push(&chunk[..i]);
                    self.after_cr = chunk[i] == b'\r';
                    chunk = &chunk[i + 1..];
                    self.end_line(out);
                }
                None => {
                    self.push(chunk);
                    chunk = &[];
                }
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.line_too_long {
            return;
        }
        if self.line.len() + bytes.len() > self.max_line {
            self.line_too_long = true;
            self.line = Vec::new();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn end_line(&mut self, out: &mut Vec<SseItem>) {
        let mut line = std::mem::take(&mut self.line);
        if !self.started {
            self.started = true;
            if line.starts_with(BOM) {
                line.drain(..BOM.len());
            }
        }
        if std::mem::take(&mut self.line_too_long) {
            // A too-long line may be a comment or an unknown field, but most likely it is the
            // event's data: count the event as oversized rather than silently lose it.
            self.oversized = true;
            return;
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_event {
                    self.oversized = true;
                    self.data = String::new();
                } else if !self.oversized {
                    self.data.push_str(value);
                    self.data.push('\n');
                }
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        let event = self.event.take();
        let mut data = std::mem::take(&mut self.data);
        let has_data = std::mem::take(&mut self.has_data);
        if std::mem::take(&mut self.oversized) {
            out.push(SseItem::Oversized);
            return;
        }
        if !has_data {
            return;
        }
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(SseItem::Event(SseEvent { event, data }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<SseItem> {
        let mut p = SseParser::new(64, 128);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out);
        }
        out
    }

    fn data(s: &str) -> SseItem {
        SseItem::Event(SseEvent {
            event: None,
            data: s.to_owned(),
        })
    }

    #[test]
    fn the_platform_stream_comment_then_data_lines() {
        let out = parse(&[b": ping\n\ndata: {\"type\":\"A\"}\n\ndata: {\"type\":\"B\"}\n\n"]);
        assert_eq!(out, [data("{\"type\":\"A\"}"), data("{\"type\":\"B\"}")]);
    }

    #[test]
    fn line_ends_may_be_crlf_cr_or_lf_even_split_across_chunks() {
        let out = parse(&[b"data: a\r", b"\n\r", b"\ndata: b\r\rdata:c\n\n"]);
        assert_eq!(out, [data("a"), data("b"), data("c")]);
        let out = parse(&[b"data: x\r\n", b"\r\n"]);
        assert_eq!(out, [data("x")]);
    }

    #[test]
    fn multi_line_data_is_joined_and_unknown_fields_ignored() {
        let out = parse(&[
            b"\xEF\xBB\xBFid: 7\nretry: 10\nevent: hello\nfoo: bar\ndata: one\ndata\ndata:  two\n\n",
        ]);
        assert_eq!(
            out,
            [SseItem::Event(SseEvent {
                event: Some("hello".into()),
                data: "one\n\n two".into()
            })]
        );
        assert_eq!(parse(&[b"event: x\nid: 1\n\n"]), []);
    }

    #[test]
    fn characters_split_across_chunks_survive() {
        let s = "data: é€\n\n".as_bytes();
        let chunks: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(parse(&chunks), [data("é€")]);
    }

    #[test]
    fn too_long_lines_and_events_are_reported_not_kept() {
        let long = format!("data: {}\n\ndata: ok\n\n", "x".repeat(100));
        assert_eq!(parse(&[long.as_bytes()]), [SseItem::Oversized, data("ok")]);
        let many = format!(
            "{}\ndata: ok\n\n",
            "data: 0123456789012345678901234567890\n".repeat(5)
        );
        assert_eq!(parse(&[many.as_bytes()]), [SseItem::Oversized, data("ok")]);
        let mut p = SseParser::new(64, 128);
        let mut out = Vec::new();
        for _ in 0..10_000 {
            p.feed(b"xxxxxxxxxxxxxxxx", &mut out);
        }
        assert!(
            p.line.capacity() <= 64,
            "a line past the cap is not buffered"
        );
        p.feed(b"\n\n", &mut out);
        assert_eq!(out, [SseItem::Oversized]);
    }

    #[test]
    fn an_unterminated_event_is_not_dispatched() {
        assert_eq!(parse(&[b"data: half"]), []);
        assert_eq!(parse(&[b"data: half\n"]), []);
    }
}
