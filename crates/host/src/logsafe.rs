//! Text from the network in log lines: bounded and escaped. A `source_id` holding a newline
//! could forge a log line in the text format, one holding an ANSI escape could repaint the
//! terminal, and a 100 KB row id once filled every retry's line. Every string a log line or
//! an error message quotes from the platform goes through [`clean`] or [`quote`].

use std::fmt::Write;

/// How many characters [`quote`] keeps.
pub const QUOTE_MAX: usize = 80;

/// `s` fit for a log line: control characters (newlines, escape sequences) and the Unicode
/// bidirectional controls that reorder what a terminal shows are written as `\u{..}` escapes,
/// and past `max` characters the rest is left out with a note of the full length.
pub fn clean(s: &str, max: usize) -> String {
    clean_of(s, max, s.len())
}

/// [`clean`] of the start `s` of a text `total` bytes long.
fn clean_of(s: &str, max: usize, total: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 16));
    for (n, c) in s.chars().enumerate() {
        if n == max {
            let _ = write!(out, "… ({total} bytes in all)");
            return out;
        }
        if c.is_control() || is_bidi_control(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    if s.len() < total {
        let _ = write!(out, "… ({total} bytes in all)");
    }
    out
}

/// [`clean`] of `bytes` read as UTF-8 (invalid sequences shown as U+FFFD).
pub fn clean_bytes(bytes: &[u8], max: usize) -> String {
    // Four bytes a character at most: enough to reach `max` characters.
    let head = &bytes[..bytes.len().min(max.saturating_mul(4).saturating_add(4))];
    clean_of(&String::from_utf8_lossy(head), max, bytes.len())
}

/// `s` cleaned to [`QUOTE_MAX`] characters, in double quotes.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", clean(s, QUOTE_MAX))
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_is_cut() {
        assert_eq!(clean("a\nb\u{1b}[31mc", 80), "a\\u{a}b\\u{1b}[31mc");
        assert_eq!(clean("x\u{202e}y", 80), "x\\u{202e}y");
        assert_eq!(clean("ünïcode ok", 80), "ünïcode ok");
        let long = "i".repeat(100_000);
        assert_eq!(clean(&long, 5), "iiiii… (100000 bytes in all)");
        assert_eq!(quote("a\r\n"), "\"a\\u{d}\\u{a}\"");
        assert_eq!(clean_bytes(b"ok\xffno", 80), "ok\u{fffd}no");
        let big = vec![b'z'; 10_000];
        assert_eq!(clean_bytes(&big, 3), "zzz… (10000 bytes in all)");
    }
}
