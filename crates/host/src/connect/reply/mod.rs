//! Replies: their bodies ([`build`]); [`crate::platform::post()`] posts them. The engine keeps replies of
//! one conversation in order and runs a bounded number at once, apart from dispatch, so a slow
//! reply (a push-mode sender answering with a whole turn) never holds a backend slot.

pub mod build;

pub use crate::platform::{Posted, ReplyBody, post};
pub use build::{
    Answering, GENERIC_ERROR, UNREADABLE, agent_envelope, canvas_message, error_parts,
};
