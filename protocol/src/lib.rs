#![doc = include_str!("../README.md")]

#[macro_use]
mod setters;

pub mod a2a;
pub mod code;
#[cfg(feature = "codec")]
pub mod codec;
pub mod duration;
pub mod encode;
pub mod error;
pub mod host_methods;
pub mod jsonrpc;
pub mod keys;
pub mod methods;
#[cfg(feature = "schemars")]
pub mod schema;
pub mod time;
pub mod version;

pub use a2a::{FileContent, Message as A2aMessage, Part, Role};
pub use error::{ErrorData, RpcError};
pub use jsonrpc::{Message, Notification, Request, RequestId, Response};
pub use methods::{
    BackendCapabilities, DispatchContext, HandleA2aParams, HandleA2aResult, InitializeParams,
    InitializeResult, Method, Sender, SenderKind,
};
pub use version::PROTOCOL_VERSION;
