//! The [`Method`] trait: a method's wire name tied to the types of its params and result.

use serde::{Serialize, de::DeserializeOwned};

/// A method: its wire name and the types of its params and result. The encoders of
/// [`crate::encode`] take a `Method` so that a name is never sent with the wrong params.
pub trait Method {
    /// The JSON-RPC method name (one of [`super::name`]).
    const NAME: &'static str;
    /// The params object.
    type Params: Serialize + DeserializeOwned;
    /// The result (`()` for notifications).
    type Result: Serialize + DeserializeOwned;
}
