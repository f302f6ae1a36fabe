//! Splitting a page of the activity feed into rows as its bytes arrive, so that no single row
//! can fail or stall the page.
//!
//! A page is a JSON array of row objects. Parsed whole, one row nested deeper than the
//! parser's recursion limit, or with invalid UTF-8 in a string, failed the whole page; two rows
//! of 35 MB overflowed the 64 MiB cap on every poll. The [`PageScanner`] instead finds where
//! each row begins and ends (it tracks strings, escapes and nesting depth, never recursing and
//! never decoding), so each row is parsed on its own, and while it scans it keeps the few
//! top-level members the host needs even from a row it cannot read ([`RowFields`]: the id, the
//! sender, the time and order, the kind), at most [`FIELD_CAP`] bytes of each.
//!
//! Memory stays within the page's byte budget: rows are kept while they fit, and the page ends
//! at the last whole row once the next one would not ([`Ending::Budget`]: the next poll starts
//! after it, as if a smaller page had been asked for, without downloading the kept rows
//! twice). A row larger than the whole budget is read through without being kept
//! ([`Scanned::Oversized`]): its members are still found wherever they are in it (the
//! platform writes `created_at` after the bodies), so it can be answered and passed. Nothing
//! else can name an oversized row: the platform has no way to list ids without bodies
//! (docs/platform-api.md §4.1), and a page of one such row overflows like any other.
//!
//! Rows past the page's `limit` are not read ([`Ending::Excess`]): a platform that sends 5,000
//! rows when 100 were asked for gets the first 100 taken.
//!
//! Rows the caller already has ([`PageScanner::with_known`], by id) are read past without being
//! kept: a read-back's pages overlap at their boundary, and the rows read twice must not take
//! the room of the next one (a page could then end at the budget before any new row, and
//! paging back would make no progress). The id is recognised when its member ends; the
//! platform writes it first.
//!
//! Pure: bytes in, rows out; no I/O. The members of a row are followed in [`members`].

mod members;

use members::Elem;
pub use members::{FIELD_CAP, RowFields, Scalar};

/// Most bytes of the page's start kept for an error message.
const HEAD_CAP: usize = 200;

/// How much of a page is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimits {
    /// Rows taken at most (the `limit` asked for).
    pub max_rows: usize,
    /// Bytes of rows kept at most (the client's response cap).
    pub max_bytes: usize,
}

/// One element of the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scanned {
    /// A row within the budget: its bytes, to be parsed on their own.
    Row {
        /// The element's bytes.
        bytes: Vec<u8>,
        /// Its members, as found while scanning.
        fields: RowFields,
    },
    /// A row larger than the whole budget, read through without being kept.
    Oversized {
        /// Its length in bytes.
        len: u64,
        /// Its members, as found while scanning.
        fields: RowFields,
    },
}

/// Why the page ended where it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// At the array's end.
    Complete,
    /// Before a row that would have overflowed the byte budget: more rows wait.
    Budget,
    /// After `max_rows` rows, with more in the answer.
    Excess,
    /// The answer stopped inside a row or the array (malformed or cut short): the rows before
    /// are whole, the rest waits.
    Cut,
}

/// The scanned page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedPage {
    /// The rows, in the page's order (known ones left out).
    pub rows: Vec<Scanned>,
    /// Rows left out because the caller has them already.
    pub known: usize,
    /// Why it ended.
    pub ending: Ending,
}

/// Whether to read more of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Feed the next bytes.
    More,
    /// The page is over; stop reading.
    Stop,
}

/// The answer is not a JSON array at all (an error object, an HTML page, nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAnArray {
    /// The answer's first bytes.
    pub head: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Top {
    Start,
    /// Not an array.
    Rejected,
    Open,
    InRow,
    AfterRow,
    Done(Ending),
}

/// Splits a page into rows; see the module doc.
#[derive(Debug)]
pub struct PageScanner {
    limits: PageLimits,
    known_ids: std::collections::HashSet<String>,
    top: Top,
    head: Vec<u8>,
    elem: Elem,
    rows: Vec<Scanned>,
    known: usize,
    kept: usize,
}

impl PageScanner {
    /// A scanner for one answer.
    pub fn new(limits: PageLimits) -> Self {
        PageScanner {
            limits,
            known_ids: Default::default(),
            top: Top::Start,
            head: Vec::new(),
            elem: Elem::default(),
            rows: Vec::new(),
            known: 0,
            kept: 0,
        }
    }

    /// Rows with these ids are read past without being kept (see the module doc).
    pub fn with_known(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        self.known_ids = ids.into_iter().collect();
        self
    }

    /// Takes in the next bytes of the answer.
    pub fn push(&mut self, chunk: &[u8]) -> Flow {
        if self.head.len() < HEAD_CAP {
            let n = (HEAD_CAP - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        let mut i = 0;
        while i < chunk.len() && !matches!(self.top, Top::Done(_) | Top::Rejected) {
            match self.string_run(&chunk[i..]) {
                Some(n) => i += n,
                None => {
                    self.byte(chunk[i]);
                    i += 1;
                }
            }
        }
        match self.top {
            Top::Done(_) => Flow::Stop,
            // Enough of a rejected answer to quote it.
            Top::Rejected if self.head.len() >= HEAD_CAP => Flow::Stop,
            _ => Flow::More,
        }
    }

    /// The page, once the answer ended (or [`Flow::Stop`] said to stop reading).
    pub fn finish(self) -> Result<ScannedPage, NotAnArray> {
        let ending = match self.top {
            Top::Done(e) => e,
            Top::Start | Top::Rejected => return Err(NotAnArray { head: self.head }),
            Top::Open | Top::InRow | Top::AfterRow => Ending::Cut,
        };
        Ok(ScannedPage {
            rows: self.rows,
            known: self.known,
            ending,
        })
    }

    fn byte(&mut self, b: u8) {
        match self.top {
            Top::Start => match b {
                b'[' => self.top = Top::Open,
                _ if b.is_ascii_whitespace() => {}
                _ => self.top = Top::Rejected,
            },
            Top::Open => match b {
                _ if b.is_ascii_whitespace() => {}
                b']' => self.top = Top::Done(Ending::Complete),
                _ if self.rows.len() + self.known >= self.limits.max_rows => {
                    self.top = Top::Done(Ending::Excess);
                }
                _ => {
                    self.elem = Elem::kept();
                    self.top = Top::InRow;
                    self.in_row(b);
                }
            },
            Top::InRow => self.in_row(b),
            Top::AfterRow => match b {
                _ if b.is_ascii_whitespace() => {}
                b',' => self.top = Top::Open,
                b']' => self.top = Top::Done(Ending::Complete),
                _ => self.top = Top::Done(Ending::Cut),
            },
            Top::Done(_) | Top::Rejected => {}
        }
    }

    /// Inside a string whose content the scanner only follows, the bytes before the next
    /// quote or backslash change no state: they are taken in one go (most of a page is such
    /// bytes). `None` when the next byte needs the byte-by-byte path.
    fn string_run(&mut self, rest: &[u8]) -> Option<usize> {
        let e = &mut self.elem;
        if self.top != Top::InRow || !e.plain_string() {
            return None;
        }
        // A kept row takes bytes up to the budget only: the byte that crosses it takes the
        // byte-by-byte path, which decides what crossing means.
        let room = if e.keeping {
            self.limits
                .max_bytes
                .saturating_sub(self.kept + e.bytes.len())
        } else {
            rest.len()
        };
        let span = &rest[..rest.len().min(room)];
        let n = span
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .unwrap_or(span.len());
        if n == 0 {
            return None;
        }
        if e.keeping {
            e.bytes.extend_from_slice(&span[..n]);
        }
        e.len += n as u64;
        Some(n)
    }

    fn in_row(&mut self, b: u8) {
        let e = &mut self.elem;
        if e.scalar && !e.in_str && (b == b',' || b == b']' || b.is_ascii_whitespace()) {
            // A bare scalar element ends at the delimiter, which is not part of it.
            self.end_row();
            self.byte(b);
            return;
        }
        e.len += 1;
        if e.keeping {
            e.bytes.push(b);
            if self.kept + e.bytes.len() > self.limits.max_bytes {
                if e.bytes.len() > self.limits.max_bytes {
                    e.keeping = false;
                    e.bytes = Vec::new();
                } else {
                    self.top = Top::Done(Ending::Budget);
                    return;
                }
            }
        }
        if e.in_str {
            e.string_byte(b);
            let ended = !e.in_str && e.depth == 0;
            if !e.id_checked && !self.known_ids.is_empty() {
                self.check_known();
            }
            if ended {
                self.end_row();
            }
            return;
        }
        match b {
            b'"' => e.string_start(),
            b'{' | b'[' => e.open(b),
            b'}' | b']' => {
                e.close();
                if e.depth == 0 {
                    self.end_row();
                }
            }
            _ if e.depth == 0 => e.scalar = true,
            _ => e.structural(b),
        }
    }

    /// Once the row's id is read: a known row is kept no longer.
    fn check_known(&mut self) {
        let e = &mut self.elem;
        let Some(id) = e.fields.id.as_ref() else {
            return;
        };
        e.id_checked = true;
        if id.string().is_some_and(|id| self.known_ids.contains(&id)) {
            e.known = true;
            e.keeping = false;
            e.bytes = Vec::new();
        }
    }

    fn end_row(&mut self) {
        let mut e = std::mem::take(&mut self.elem);
        e.end_capture();
        self.top = Top::AfterRow;
        if e.known {
            self.known += 1;
            return;
        }
        let row = if e.keeping {
            self.kept += e.bytes.len();
            Scanned::Row {
                bytes: e.bytes,
                fields: e.fields,
            }
        } else {
            Scanned::Oversized {
                len: e.len,
                fields: e.fields,
            }
        };
        self.rows.push(row);
    }
}

#[cfg(test)]
mod tests;
