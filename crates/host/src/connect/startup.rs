//! The platform side of start-up once the first contact (`contact`) found the workspace
//! (registering an unknown id would create one): the agent card, and registering as a
//! poll-mode workspace, again every hour in case someone switched the mode.

use std::path::Path;
use std::time::Duration;

use molecule_protocol::InitializeResult;
use tokio_util::sync::CancellationToken;

use crate::platform::{
    AgentCard, Call, PlatformClient, PlatformError, RetryPolicy, WorkspaceInfo, retry,
};

use super::error::ConnectError;

/// The agent card: the workspace's name, and what the backend says about itself.
pub fn agent_card(workspace: &WorkspaceInfo, backend: &InitializeResult) -> AgentCard {
    let card = backend.agent_card.clone().unwrap_or_default();
    AgentCard {
        name: workspace
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| backend.backend.name.clone()),
        description: card
            .description
            .or_else(|| backend.backend.description.clone()),
        version: Some(backend.backend.version.clone()),
        skills: card.skills,
    }
}

/// Registers with `delivery_mode: "poll"`, retried through transient errors; saves a token the
/// platform mints (mode 0600) and says so, never logging the answer. `Ok(false)` means the
/// host was asked to stop meanwhile.
pub async fn register(
    client: &PlatformClient,
    card: &AgentCard,
    token_path: &Path,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
) -> Result<bool, ConnectError> {
    let answer = match retry(Call::Register, policy, cancel, || {
        client.register(card.clone())
    })
    .await
    {
        Ok(a) => a,
        Err(PlatformError::Cancelled { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    match answer.delivery_mode.as_deref() {
        Some("poll") => {}
        Some(mode) => {
            return Err(ConnectError::NotPollMode {
                mode: crate::logsafe::clean(mode, 40),
            });
        }
        None => tracing::warn!(
            "the platform's registration answer does not confirm delivery_mode \"poll\""
        ),
    }
    if let Some(token) = &answer.auth_token {
        let (adopted, saved) = client.store_minted_token(token, token_path);
        let using = if adopted {
            "; using it"
        } else {
            "; the configured token stays in use"
        };
        match saved {
            Ok(()) => tracing::info!(
                path = %token_path.display(),
                "the platform minted a token for this workspace and it was saved (mode 0600){using}"
            ),
            // Not fatal: stopping would not bring the token back, while serving on keeps the
            // workspace answering; the operator can mint another after fixing the disk.
            Err(e) => tracing::error!(
                "the platform minted a token for this workspace, but {e}{using}; after a \
                 restart the workspace needs a token (--token-file) unless the disk is fixed first"
            ),
        }
    }
    let name = crate::logsafe::clean(&card.name, 80);
    tracing::info!(name = %name, "registered as a poll-mode workspace");
    Ok(true)
}

/// Registers again every `every` until `cancel` fires; failures are logged.
pub async fn reregister(
    client: PlatformClient,
    card: AgentCard,
    token_path: std::path::PathBuf,
    every: Duration,
    cancel: CancellationToken,
) {
    let once = RetryPolicy {
        max_attempts: Some(1),
        ..RetryPolicy::forever(Duration::from_secs(1), Duration::from_secs(1))
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = cancel.cancelled() => return,
        }
        match register(&client, &card, &token_path, &once, &cancel).await {
            Ok(_) => {}
            Err(e) => tracing::warn!("registering again failed (tried again later): {e}"),
        }
    }
}
