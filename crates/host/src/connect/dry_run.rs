//! `--dry-run`: everything up to serving, without changing anything on the platform. The
//! backend has started and answered its handshake; the workspace exists; one authenticated read
//! of the activity feed proves the token. A summary goes to stdout.

use std::io::Write;

use crate::backend::Supervisor;
use crate::platform::{ActivityQuery, PlatformClient, PlatformError, WorkspaceInfo};

use super::config::Config;
use super::error::ConnectError;
use super::feed::auth_failure;
use super::statedir::StateDir;

/// Checks the token and prints the summary.
pub async fn run(
    client: &PlatformClient,
    sup: &Supervisor,
    workspace: &WorkspaceInfo,
    dir: &StateDir,
    has_state: bool,
    config: &Config,
) -> Result<(), ConnectError> {
    let probe = ActivityQuery {
        activity_type: Some("a2a_receive".into()),
        limit: Some(1),
        ..ActivityQuery::default()
    };
    match client.activity(&probe).await {
        Ok(_) => {}
        Err(e @ PlatformError::Unauthorized { .. }) => return Err(auth_failure(client, e).await),
        Err(e) => return Err(e.into()),
    }
    let info = sup.backend_info();
    let cfg = client.config();
    let lines = [
        format!("platform:   {} (Origin {})", cfg.api_url(), cfg.origin()),
        format!(
            "workspace:  {} ({}, {})",
            cfg.workspace_id(),
            workspace.name.as_deref().unwrap_or("unnamed"),
            workspace.status.as_deref().unwrap_or("status unknown")
        ),
        format!("token:      accepted ({})", client.token().origin()),
        format!(
            "backend:    {} {} (maxConcurrency {}), {}",
            info.backend.name,
            info.backend.version,
            info.capabilities.concurrency(),
            config.backend.command.display
        ),
        format!("state:      {}", dir.path().display()),
        format!(
            "start:      {}",
            if has_state {
                "from the saved cursor".to_owned()
            } else {
                format!(
                    "first start: messages of the last {:?}",
                    config.settings.poll.since
                )
            }
        ),
        "dry run: nothing was registered or answered".to_owned(),
    ];
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}
