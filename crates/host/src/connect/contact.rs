//! The first contact with the platform: `GET /buildinfo`, then `GET /workspaces/<id>`, with a
//! failure to reach the platform said at once as one ERROR line naming the cause and the remedy
//! ([`Fault`]), not as a stream of retry warnings.
//!
//! A daemon keeps trying after that (the fault is logged again only when it changes); a bounded
//! run (`--dry-run`, `molecule doctor`) stops with it. A redirect, or a URL that answers but is
//! no platform, stops both: only a changed `--api-url` cures them.

use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::platform::diagnose::{self, Fault};
use crate::platform::{
    BuildInfo, ErrorClass, PlatformClient, PlatformError, RetryPolicy, WorkspaceInfo,
};

use super::error::ConnectError;

/// How a run treats a platform it cannot reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// Retry until stopped (`molecule connect`).
    Daemon,
    /// Stop at the first fault; retry an answer that is the platform's own (5xx, 429) only
    /// this many times (`--dry-run`, `molecule doctor`).
    Bounded(u32),
}

/// What the first contact learned.
#[derive(Clone, Debug)]
pub struct Contact {
    /// The platform's `/buildinfo`, when it answered one.
    pub buildinfo: Option<BuildInfo>,
    /// Why `/buildinfo` could not be read, when it answered something else.
    pub buildinfo_error: Option<String>,
    /// The workspace's record.
    pub workspace: WorkspaceInfo,
}

/// Reads `/buildinfo` and the workspace's record. `Ok(None)` means `cancel` fired meanwhile.
pub async fn first_contact(
    client: &PlatformClient,
    policy: &RetryPolicy,
    patience: Patience,
    cancel: &CancellationToken,
) -> Result<Option<Contact>, ConnectError> {
    let mut state = Attempts {
        client,
        patience,
        backoff: Backoff::new(policy.base, policy.cap).with_jitter(policy.jitter),
        last: None,
        failures: 0,
    };
    loop {
        let step = state.try_once().await;
        let wait = match step {
            Ok(contact) => {
                if state.last.is_some() {
                    tracing::info!(platform = %client.config().api_url(), "the platform answers now");
                }
                return Ok(Some(contact));
            }
            Err(Step::Stop(e)) => return Err(e),
            Err(Step::Again(wait)) => wait,
        };
        tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Why one attempt did not end the contact.
enum Step {
    /// Try again after this long.
    Again(std::time::Duration),
    /// Give up with this error.
    Stop(ConnectError),
}

struct Attempts<'a> {
    client: &'a PlatformClient,
    patience: Patience,
    backoff: Backoff,
    /// The fault logged last, so that it is logged again only when it changes.
    last: Option<Fault>,
    /// Failed attempts that were the platform's own answers.
    failures: u32,
}

impl Attempts<'_> {
    async fn try_once(&mut self) -> Result<Contact, Step> {
        let cfg = self.client.config();
        let (buildinfo, buildinfo_err) = match self.client.buildinfo().await {
            Ok(info) => (Some(info), None),
            Err(e) => match diagnose::fault_of(&e, cfg) {
                Some(fault) => return Err(self.fault(fault)),
                None => (None, Some(e)),
            },
        };
        let id = cfg.workspace_id();
        let workspace = match self.client.get_workspace(id).await {
            Ok(w) => w,
            Err(e) => {
                if let Some(b) = &buildinfo_err
                    && diagnose::not_a_platform(b, &e)
                {
                    return Err(self.fault(diagnose::not_a_platform_fault(cfg)));
                }
                return Err(self.answer(e));
            }
        };
        match (&buildinfo, &buildinfo_err) {
            (Some(info), _) => tracing::info!(
                platform = %cfg.api_url(),
                git_sha = info.git_sha.as_deref().unwrap_or("unknown"),
                "platform build"
            ),
            (None, Some(e)) => tracing::warn!("cannot read the platform's /buildinfo: {e}"),
            (None, None) => {}
        }
        Ok(Contact {
            buildinfo,
            buildinfo_error: buildinfo_err.map(|e| e.to_string()),
            workspace,
        })
    }

    /// A fault reaching the platform: said once as an ERROR line, then retried by a daemon.
    fn fault(&mut self, fault: Fault) -> Step {
        if fault.is_permanent() || matches!(self.patience, Patience::Bounded(_)) {
            tracing::error!("{fault}");
            return Step::Stop(ConnectError::Contact(fault));
        }
        let wait = self.backoff.next_delay();
        let ms = wait.as_millis() as u64;
        if self.last.as_ref() != Some(&fault) {
            tracing::error!("{fault}");
            self.last = Some(fault);
        }
        tracing::warn!(
            delay_ms = ms,
            "the platform cannot be reached; retrying in {ms} ms"
        );
        Step::Again(wait)
    }

    /// An answer of the platform's own: a transient one is retried, the rest end the run.
    fn answer(&mut self, e: PlatformError) -> Step {
        self.last = None;
        if e.class() == ErrorClass::Permanent {
            return Step::Stop(e.into());
        }
        self.failures += 1;
        if let Patience::Bounded(max) = self.patience
            && self.failures >= max
        {
            return Step::Stop(e.into());
        }
        let wait = match e.retry_after() {
            Some(d) if !d.is_zero() => d,
            _ => self.backoff.next_delay(),
        };
        let ms = wait.as_millis() as u64;
        tracing::warn!(delay_ms = ms, reason = %e, "platform call failed; retrying in {ms} ms");
        Step::Again(wait)
    }
}
