//! Following the members of one row while the page scanner reads it: the nesting depth,
//! strings and escapes that say where the row ends, and the top-level members the host needs
//! even from a row it cannot read ([`RowFields`]), at most [`FIELD_CAP`] bytes of each.

/// Most bytes kept of one member's value (an id longer than this is not the platform's).
pub const FIELD_CAP: usize = 256;

/// A top-level member's value exactly as written: a string with its quotes and escapes, or a
/// number or literal; at most [`FIELD_CAP`] bytes of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scalar {
    /// The first bytes.
    pub raw: Vec<u8>,
    /// The whole value's length in bytes.
    pub len: usize,
}

impl Scalar {
    /// The value as a string, when it is a whole, valid JSON string.
    pub fn string(&self) -> Option<String> {
        if self.len > self.raw.len() {
            return None;
        }
        serde_json::from_slice(&self.raw).ok()
    }

    /// The value as an integer, when it is one.
    pub fn int(&self) -> Option<i64> {
        if self.len > self.raw.len() {
            return None;
        }
        std::str::from_utf8(&self.raw).ok()?.parse().ok()
    }
}

/// The top-level members of a row the host needs even when the row cannot be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowFields {
    /// `id`.
    pub id: Option<Scalar>,
    /// `source_id`.
    pub source_id: Option<Scalar>,
    /// `created_at`.
    pub created_at: Option<Scalar>,
    /// `seq`.
    pub seq: Option<Scalar>,
    /// `method`.
    pub method: Option<Scalar>,
    /// `activity_type`.
    pub activity_type: Option<Scalar>,
}

impl RowFields {
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<Scalar>> {
        Some(match key {
            b"id" => &mut self.id,
            b"source_id" => &mut self.source_id,
            b"created_at" => &mut self.created_at,
            b"seq" => &mut self.seq,
            b"method" => &mut self.method,
            b"activity_type" => &mut self.activity_type,
            _ => return None,
        })
    }
}

/// What the next token at depth 1 of an object row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Key,
    Colon,
    Value,
    Comma,
}

/// The element being scanned.
#[derive(Debug, Default)]
pub(super) struct Elem {
    pub(super) depth: u32,
    pub(super) in_str: bool,
    escaped: bool,
    /// The element is a scalar (not an object or array): it ends at a delimiter.
    pub(super) scalar: bool,
    pub(super) bytes: Vec<u8>,
    pub(super) keeping: bool,
    pub(super) len: u64,
    expect: Option<Expect>,
    key: Vec<u8>,
    key_long: bool,
    in_key: bool,
    /// Capturing the value of an interesting member (a string, or a bare scalar when not).
    capture: Option<(Scalar, bool)>,
    pub(super) fields: RowFields,
    /// Its id was looked up among the known ones, and whether it was there.
    pub(super) id_checked: bool,
    pub(super) known: bool,
}

impl Elem {
    /// Inside a string that is neither a key nor a kept member's value, and not after a
    /// backslash.
    pub(super) fn plain_string(&self) -> bool {
        self.in_str && !self.escaped && !self.in_key && self.capture.is_none()
    }

    /// A new element, kept until it outgrows the budget.
    pub(super) fn kept() -> Elem {
        Elem {
            keeping: true,
            // A typical row's size: it is not grown byte by byte.
            bytes: Vec::with_capacity(1024),
            ..Elem::default()
        }
    }

    pub(super) fn string_start(&mut self) {
        self.in_str = true;
        if self.depth != 1 || self.expect.is_none() {
            return;
        }
        match self.expect {
            Some(Expect::Key) => {
                self.in_key = true;
                self.key.clear();
                self.key_long = false;
            }
            Some(Expect::Value) => self.start_capture(b'"'),
            _ => {}
        }
    }

    pub(super) fn string_byte(&mut self, b: u8) {
        let closing = !self.escaped && b == b'"';
        self.escaped = !self.escaped && b == b'\\';
        if closing {
            self.in_str = false;
        }
        if self.depth != 1 {
            return;
        }
        if self.in_key {
            if closing {
                self.in_key = false;
                self.expect = Some(Expect::Colon);
            } else if self.key.len() < 32 {
                self.key.push(b);
            } else {
                self.key_long = true;
            }
        } else if let Some((s, _)) = &mut self.capture {
            s.len += 1;
            if s.raw.len() < FIELD_CAP {
                s.raw.push(b);
            }
            if closing {
                self.end_capture();
            }
        }
    }

    pub(super) fn open(&mut self, b: u8) {
        self.depth = self.depth.saturating_add(1);
        if self.depth == 1 && b == b'{' {
            self.expect = Some(Expect::Key);
        }
    }

    pub(super) fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 1 {
            // A nested value of a member ended.
            self.expect = Some(Expect::Comma);
        }
    }

    /// A byte outside strings at depth 1 or more: separators and bare scalars.
    pub(super) fn structural(&mut self, b: u8) {
        // Members exist only in an object row (`expect` is set when one opens).
        if self.depth != 1 || self.expect.is_none() {
            return;
        }
        match b {
            b':' => self.expect = Some(Expect::Value),
            b',' => {
                self.end_capture();
                self.expect = Some(Expect::Key);
            }
            _ if b.is_ascii_whitespace() => self.end_capture(),
            _ => {
                if self.expect == Some(Expect::Value) {
                    self.start_capture(b);
                    self.expect = Some(Expect::Comma);
                } else if let Some((s, true)) = &mut self.capture {
                    s.len += 1;
                    if s.raw.len() < FIELD_CAP {
                        s.raw.push(b);
                    }
                }
            }
        }
    }

    pub(super) fn start_capture(&mut self, first: u8) {
        if self.key_long || self.fields.slot(&self.key).is_none() {
            if first == b'"' {
                self.expect = Some(Expect::Comma);
            }
            return;
        }
        let bare = first != b'"';
        self.capture = Some((
            Scalar {
                raw: vec![first],
                len: 1,
            },
            bare,
        ));
        if !bare {
            self.expect = Some(Expect::Comma);
        }
    }

    pub(super) fn end_capture(&mut self) {
        if let Some((s, _)) = self.capture.take()
            && let Some(slot) = self.fields.slot(&self.key)
        {
            *slot = Some(s);
        }
    }
}
