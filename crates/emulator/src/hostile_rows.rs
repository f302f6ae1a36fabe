//! Hostile rows: a real row of a served activity page written the way a broken platform or a
//! corrupted database might hand it out. The row keeps its id, its sender and its place in
//! the feed (so the cursor and the read-backs stay real); only its `request_body` is replaced
//! by bytes no healthy platform sends. Each setting corrupts one row of one page and is then
//! spent; the next page that holds the row serves it whole again (a client that crashed before
//! it passed the row then reads the message itself).
//!
//! ```json
//! {"rows": ["too_deep", "invalid_utf8", "malformed", {"oversized": 2097152}]}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one corrupted row's `request_body` becomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowFault {
    /// Nested deeper than serde_json's recursion limit (128).
    TooDeep,
    /// A text part with bytes that are not UTF-8.
    InvalidUtf8,
    /// A string where the JSON-RPC request should be.
    Malformed,
    /// A well-formed request padded to this many bytes (over the client's page cap).
    Oversized(usize),
}

impl RowFault {
    /// The raw bytes of the replaced `request_body`.
    fn bytes(&self) -> Vec<u8> {
        match self {
            RowFault::TooDeep => format!("{}{}", "[".repeat(300), "]".repeat(300)).into_bytes(),
            RowFault::InvalidUtf8 => {
                let mut b =
                    br#"{"params":{"message":{"parts":[{"kind":"text","text":"bad "#.to_vec();
                b.extend([0xff, 0xfe]);
                b.extend(br#""}]}}}"#);
                b
            }
            RowFault::Malformed => br#""not a JSON-RPC body""#.to_vec(),
            RowFault::Oversized(n) => {
                let pad = "x".repeat(*n);
                format!(
                    r#"{{"params":{{"message":{{"parts":[{{"kind":"text","text":"{pad}"}}]}}}}}}"#
                )
                .into_bytes()
            }
        }
    }
}

/// The marker a row's body is set to before the page is written, replaced by the raw bytes.
const MARK: &str = "\u{1}molecule-hostile-row\u{1}";

/// Rewrites `page` (a served activity page) with its first `a2a_receive` row's body replaced
/// as `fault` says. Returns the new page and the corrupted row's id, or `None` when the page
/// holds no such row (the fault is then kept for a later page).
pub fn corrupt(page: &[u8], fault: &RowFault) -> Option<(Vec<u8>, String)> {
    let mut doc: Value = serde_json::from_slice(page).ok()?;
    let rows = match &mut doc {
        Value::Array(rows) => rows,
        Value::Object(o) => o.values_mut().find_map(Value::as_array_mut)?,
        _ => return None,
    };
    let row = rows
        .iter_mut()
        .find(|r| r["activity_type"] == "a2a_receive" && r["method"] == "message/send")?;
    let id = row["id"].as_str()?.to_owned();
    row["request_body"] = Value::String(MARK.into());
    let text = serde_json::to_vec(&doc).ok()?;
    let mark = serde_json::to_vec(&Value::String(MARK.into())).ok()?;
    let at = text
        .windows(mark.len())
        .position(|w| w == mark.as_slice())?;
    let mut out = text[..at].to_vec();
    out.extend(fault.bytes());
    out.extend(&text[at + mark.len()..]);
    Some((out, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_message_row_is_replaced_and_the_rest_kept() {
        let page = json!([
            {"id": "a", "activity_type": "a2a_send", "method": "message/send", "request_body": {}},
            {"id": "b", "activity_type": "a2a_receive", "method": "message/send",
             "request_body": {"params": {}}, "seq": 2},
        ]);
        let (out, id) = corrupt(&serde_json::to_vec(&page).unwrap(), &RowFault::Malformed).unwrap();
        assert_eq!(id, "b");
        let back: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back[1]["request_body"], "not a JSON-RPC body");
        assert_eq!(back[1]["seq"], 2);
        let (deep, _) = corrupt(&serde_json::to_vec(&page).unwrap(), &RowFault::TooDeep).unwrap();
        assert!(
            serde_json::from_slice::<Value>(&deep).is_err(),
            "too deep to parse"
        );
        let (bad, _) =
            corrupt(&serde_json::to_vec(&page).unwrap(), &RowFault::InvalidUtf8).unwrap();
        assert!(std::str::from_utf8(&bad).is_err());
        let empty = serde_json::to_vec(&json!([])).unwrap();
        assert_eq!(corrupt(&empty, &RowFault::Malformed), None);
    }
}
