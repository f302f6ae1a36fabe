//! Shorthands for building `handle_a2a` results.
//!
//! ```
//! use molecule_plugin::reply::{self, WithMetadata};
//! use serde_json::json;
//!
//! let r = reply::text("hello").with_metadata("usage", json!({"outputTokens": 1}));
//! assert_eq!(r.parts[0].as_text(), Some("hello"));
//! assert!(reply::none().parts.is_empty());
//! ```

use molecule_protocol::HandleA2aResult;
use molecule_protocol::a2a::{Object, Part};
use serde_json::Value;

/// A reply with one text part.
pub fn text(text: impl Into<String>) -> HandleA2aResult {
    parts([Part::text(text)])
}

/// A reply with one data part.
pub fn data(data: Object) -> HandleA2aResult {
    parts([Part::data(data)])
}

/// A reply with these parts.
pub fn parts(parts: impl IntoIterator<Item = Part>) -> HandleA2aResult {
    HandleA2aResult::new(parts.into_iter().collect())
}

/// No reply: the host posts nothing for this message.
pub fn none() -> HandleA2aResult {
    HandleA2aResult::default()
}

/// Adds reply metadata (usage, cost…), which the host copies into the reply message.
pub trait WithMetadata {
    /// Sets `metadata[key] = value`.
    fn with_metadata(self, key: impl Into<String>, value: Value) -> Self;
}

impl WithMetadata for HandleA2aResult {
    fn with_metadata(mut self, key: impl Into<String>, value: Value) -> Self {
        self.metadata
            .get_or_insert_with(Object::new)
            .insert(key.into(), value);
        self
    }
}
