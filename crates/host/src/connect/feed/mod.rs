//! Reading the activity feed: the poll loop ([`Poller`]), first-start and lost-cursor
//! read-backs, and the re-reads that catch rows the platform made visible late.

mod late;
mod page;
mod poller;
mod readback;

pub use poller::{Batch, Fetched, Intake, Link, Poller};

use uuid::Uuid;

use crate::platform::{PlatformClient, PlatformError};

use super::error::ConnectError;

/// The fatal error for a 401 that stood after the token was re-read: "workspace removed" when
/// `GET /workspaces/<id>` says 410 (the only explicit removal signal), else the 401 itself (the
/// token was revoked or rotated).
pub async fn auth_failure(client: &PlatformClient, unauthorized: PlatformError) -> ConnectError {
    let own: Uuid = client.config().workspace_id();
    match client.get_workspace(own).await {
        Err(e @ PlatformError::Removed { .. }) => ConnectError::Platform(e),
        _ => ConnectError::Platform(unauthorized),
    }
}
