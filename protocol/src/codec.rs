//! The NDJSON framing shared by the host and the Rust SDK: reading lines, and writing lines
//! that [`crate::encode`] made.
//!
//! One compact JSON object per line. Readers strip a trailing `\r`, skip blank lines and a
//! leading UTF-8 BOM, and cap line length: an over-long line is discarded up to the next newline
//! and reported once as [`Frame::Oversize`] (with the request id when it can be read from the
//! line's start), and reading carries on. Per-line problems never end the stream.

use crate::jsonrpc::RequestId;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// The default line cap: 8 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// How much of an over-long line is kept to look for its id.
const SNIFF_BYTES: usize = 64 * 1024;

/// One unit read from a stream.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A complete, non-blank line without its line ending.
    Line(Vec<u8>),
    /// A line over the cap, discarded.
    Oversize {
        /// Its length in bytes, without the line ending.
        len: usize,
        /// The top-level `"id"` read from the line's start, when present there.
        id: Option<RequestId>,
    },
}

/// Reads [`Frame`]s from a byte stream. [`FrameReader::next_frame`] is cancellation-safe: the
/// partial line lives in the reader, so it may be used inside `tokio::select!`.
pub struct FrameReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    discarding: Option<(usize, Option<RequestId>)>,
    at_start: bool,
}

impl<R: AsyncBufRead + Unpin> FrameReader<R> {
    /// A reader with a line cap of `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        FrameReader {
            inner,
            max,
            buf: Vec::new(),
            discarding: None,
            at_start: true,
        }
    }

    /// The next frame, or `None` at end of stream. A final line without a newline is returned.
    pub async fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            let avail = self.inner.fill_buf().await?;
            if avail.is_empty() {
                return Ok(self.finish_line());
            }
            let newline = avail.iter().position(|&b| b == b'\n');
            let take = newline.unwrap_or(avail.len());
            match &mut self.discarding {
                Some((len, _)) => *len += take,
                None => {
                    self.buf.extend_from_slice(&avail[..take]);
                    if self.buf.len() > self.max {
                        let id = sniff_id(&self.buf[..self.buf.len().min(SNIFF_BYTES)]);
                        self.discarding = Some((self.buf.len(), id));
                        self.buf = Vec::new();
                    }
                }
            }
            let consumed = take + usize::from(newline.is_some());
            self.inner.consume(consumed);
            if newline.is_some()
                && let Some(frame) = self.finish_line()
            {
                return Ok(Some(frame));
            }
        }
    }

    fn finish_line(&mut self) -> Option<Frame> {
        if let Some((len, id)) = self.discarding.take() {
            self.at_start = false;
            return Some(Frame::Oversize { len, id });
        }
        let mut line = std::mem::take(&mut self.buf);
        if self.at_start && line.starts_with(b"\xEF\xBB\xBF") {
            line.drain(..3);
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        self.at_start = false;
        Some(Frame::Line(line))
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

/// Writes one already-encoded line (which must end in `\n`) with a single write, then flushes.
pub async fn write_line<W: AsyncWrite + Unpin>(w: &mut W, line: &[u8]) -> std::io::Result<()> {
    w.write_all(line).await?;
    w.flush().await
}

/// Reads the top-level `"id"` of a JSON object from a prefix of its text, when the id appears
/// in that prefix (JSON-RPC writers usually put it first).
pub fn sniff_id(prefix: &[u8]) -> Option<RequestId> {
    let mut s = Scanner { b: prefix, i: 0 };
    s.ws();
    s.eat(b'{')?;
    loop {
        s.ws();
        let key: &[u8] = s.string()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        if key == b"id" {
            return s.id_value();
        }
        s.skip_value()?;
        s.ws();
        match s.next()? {
            b',' => continue,
            _ => return None,
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// A string's raw bytes (escapes left as they are; enough to compare plain keys).
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.next()? {
                b'\\' => {
                    self.next()?;
                }
                b'"' => return Some(&self.b[start..self.i - 1]),
                _ => {}
            }
        }
    }

    fn id_value(&mut self) -> Option<RequestId> {
        if self.b.get(self.i) == Some(&b'"') {
            let raw = self.string()?.to_vec();
            let quoted = [b"\"".as_slice(), &raw, b"\""].concat();
            return serde_json::from_slice::<String>(&quoted)
                .ok()
                .map(RequestId::String);
        }
        let start = self.i;
        while self
            .b
            .get(self.i)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'-')
        {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        // An integer that runs to the end of the prefix might be cut short, and one followed by
        // a fraction or an exponent is not an integer id at all.
        if matches!(self.b.get(self.i), None | Some(b'.' | b'e' | b'E')) {
            return None;
        }
        text.parse().ok().map(RequestId::Number)
    }

    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    self.string()?;
                    if depth == 0 {
                        return Some(());
                    }
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        return Some(());
                    }
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Some(());
                    }
                }
                b',' if depth == 0 => return Some(()),
                _ => {}
            }
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        let mut r = FrameReader::new(input, max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().await.unwrap() {
            out.push(f);
        }
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn strips_bom_cr_and_blank_lines() {
        let got = frames(
            b"\xEF\xBB\xBF{\"a\":1}\r\n\n  \r\n{\"b\":2}\n{\"c\":3}",
            100,
        )
        .await;
        assert_eq!(
            got,
            vec![line("{\"a\":1}"), line("{\"b\":2}"), line("{\"c\":3}")]
        );
    }

    #[tokio::test]
    async fn a_bom_after_the_start_is_kept() {
        let got = frames(b"x\n\xEF\xBB\xBFy\n", 100).await;
        assert_eq!(got[1], Frame::Line(b"\xEF\xBB\xBFy".to_vec()));
    }

    #[tokio::test]
    async fn over_long_lines_are_discarded_and_reading_continues() {
        let long = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":\"{}\"}}\n",
            "x".repeat(500)
        );
        let input = format!("{long}{{\"ok\":1}}\n");
        let got = frames(input.as_bytes(), 100).await;
        assert_eq!(
            got,
            vec![
                Frame::Oversize {
                    len: long.len() - 1,
                    id: Some(RequestId::Number(42))
                },
                line("{\"ok\":1}")
            ]
        );
    }

    #[tokio::test]
    async fn reads_across_small_buffers() {
        let data = b"{\"a\":1}\n{\"bb\":2}\n".to_vec();
        let reader = tokio::io::BufReader::with_capacity(3, &data[..]);
        let mut r = FrameReader::new(reader, 100);
        assert_eq!(r.next_frame().await.unwrap(), Some(line("{\"a\":1}")));
        assert_eq!(r.next_frame().await.unwrap(), Some(line("{\"bb\":2}")));
        assert_eq!(r.next_frame().await.unwrap(), None);
    }

    #[test]
    fn sniffs_top_level_ids_only() {
        assert_eq!(
            sniff_id(br#"{"jsonrpc":"2.0","id":7,"result":"#),
            Some(RequestId::Number(7))
        );
        assert_eq!(
            sniff_id(br#"{"id":"a\"b","x":"#),
            Some(RequestId::String("a\"b".into()))
        );
        assert_eq!(
            sniff_id(br#"{"jsonrpc":"2.0","params":{"id":9,"t":[1,{"id":2}]},"id":-3,"#),
            Some(RequestId::Number(-3))
        );
        assert_eq!(sniff_id(br#"{"result":{"id":9},"#), None);
        assert_eq!(
            sniff_id(br#"{"id":12"#),
            None,
            "a number cut by the prefix is not trusted"
        );
        assert_eq!(sniff_id(b"not json"), None);
        assert_eq!(
            sniff_id(br#"{"id":1.5,"result":"#),
            None,
            "not an integer id"
        );
        assert_eq!(
            sniff_id(br#"{"id":12e3,"result":"#),
            None,
            "not an integer id"
        );
    }
}
