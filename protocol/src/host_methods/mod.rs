//! The backend → host methods (SPEC §14): peer calls, the workspace's own record and messages
//! to the person in the canvas. Typed params and results only; the host serves them, the SDKs
//! call them. Their names are in [`crate::methods::name`], their error codes and classes in
//! [`crate::code`].
//!
//! Params are read as the host reads them (unknown members ignored, `_meta` allowed); results
//! are written as the host writes them.

mod peers;
mod workspace;

pub use peers::{
    DiscoverParams, DiscoverResult, Peer, PeersDiscover, PeersList, PeersListResult, PeersSend,
    SendParams, SendResult,
};
pub use workspace::{
    NotifyFile, NotifyParams, NotifyResult, UserNotify, WorkspaceInfo, WorkspaceInfoResult,
};
