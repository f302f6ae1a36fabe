//! The Molecule backend protocol: the contract between the `molecule` host and the backends it
//! runs, in any language.
//!
//! This crate holds the wire types and the small pure helpers every side must agree on. It does
//! no I/O; the NDJSON line codec is behind the `codec` feature. The normative text is
//! `protocol/SPEC.md`; the JSON Schemas in `protocol/schemas/` are generated from these types.

pub mod a2a;
#[cfg(feature = "codec")]
pub mod codec;
pub mod jsonrpc;
pub mod keys;
pub mod methods;
pub mod normalize;
#[cfg(feature = "schemars")]
pub mod schema;
pub mod time;
pub mod version;

pub use a2a::{FileContent, Message as A2aMessage, Part, Role};
pub use jsonrpc::{ErrorData, Message, Notification, Request, RequestId, Response, RpcError, code};
pub use methods::{
    BackendCapabilities, DispatchContext, HandleA2aParams, HandleA2aResult, InitializeParams,
    InitializeResult, Method, Sender, SenderKind,
};
pub use version::PROTOCOL_VERSION;
