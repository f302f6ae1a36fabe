//! `--dry-run`: everything up to serving, without changing anything on the platform. The
//! backend has started and answered its handshake; the workspace exists; one authenticated read
//! of the activity feed proves the token; the event stream is opened and closed once. A
//! summary goes to stdout.

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
        format!("events:     {}", events(client, config).await),
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

/// Whether messages will be fetched as they arrive: the event stream, opened once.
async fn events(client: &PlatformClient, config: &Config) -> String {
    let poll = &config.settings.poll;
    let every = |d: std::time::Duration| format!("{} ms", d.as_millis());
    if !poll.stream.enabled {
        return format!(
            "off (--no-event-stream): the feed is read every {}",
            every(poll.interval)
        );
    }
    match client.event_stream().await {
        Ok(_) => format!(
            "live: messages are fetched as they arrive (the feed is read every {} besides)",
            every(poll.stream.safety_interval)
        ),
        Err(e) => format!(
            "unavailable ({e}): the feed is read every {}",
            every(poll.interval)
        ),
    }
}
