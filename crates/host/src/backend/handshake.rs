//! The `initialize` exchange: what the host offers, what it accepts, and a start-up error that
//! quotes what the backend did when it goes wrong.

use std::sync::Arc;
use std::time::Duration;

use molecule_protocol::methods::{
    HostCapabilities, HostInfo, Initialize, Limits, Method, WorkspaceRef,
};
use molecule_protocol::version::{VersionError, check_backend_version};
use molecule_protocol::{InitializeParams, InitializeResult};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::config::SupervisorConfig;
use super::error::{CallError, CrashReport, Evidence, StartError, Unavailable};
use super::rpc::Connection;

/// Why a handshake failed, before the evidence is gathered.
pub(crate) enum Failure {
    Timeout(Duration),
    Aborted,
    Call(CallError),
    Malformed(String),
    Version(VersionError),
}

impl Failure {
    /// The start error, given how the process ended and what it showed.
    pub(crate) fn into_error(
        self,
        crash: Option<Arc<CrashReport>>,
        evidence: Evidence,
    ) -> StartError {
        match self {
            Failure::Timeout(after) => StartError::Timeout { after, evidence },
            Failure::Aborted => StartError::Aborted,
            Failure::Call(CallError::Crashed(report)) => StartError::Exited {
                what: report.summary(),
                evidence,
            },
            Failure::Call(CallError::Rpc(error)) => StartError::Rejected {
                error: Box::new(error),
                evidence,
            },
            Failure::Call(CallError::Unavailable(_)) => StartError::Exited {
                what: crash.map_or_else(|| "ended".to_owned(), |c| c.summary()),
                evidence,
            },
            Failure::Call(other) => StartError::BadHandshake {
                reason: other.to_string(),
            },
            Failure::Malformed(reason) => StartError::BadHandshake { reason },
            Failure::Version(e) => StartError::Version(e),
        }
    }
}

/// The `initialize` params the host sends for `config` (also what `backend-check` sends).
pub fn initialize_params(config: &SupervisorConfig) -> InitializeParams {
    let t = &config.timeouts;
    let host = HostInfo::new("molecule", env!("CARGO_PKG_VERSION"), std::process::id());
    let mut limits = Limits::new(config.max_message_bytes as u64, millis(t.request))
        .with_cancel_grace_ms(millis(t.cancel_grace));
    limits.idle_timeout_ms = t.idle.map(millis);
    let capabilities = HostCapabilities::default()
        .with_cancel(true)
        .with_progress(true)
        .with_host_methods(config.handlers.methods());
    InitializeParams::new(
        host,
        WorkspaceRef::new(config.workspace_id.clone()),
        limits,
        capabilities,
    )
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Sends `initialize` and checks the answer, by `deadline`.
pub(crate) async fn handshake(
    conn: &Connection,
    config: &SupervisorConfig,
    deadline: Instant,
    abort: &CancellationToken,
) -> Result<InitializeResult, Failure> {
    let params = initialize_params(config);
    let gone = || Failure::Call(CallError::Unavailable(Unavailable::Stopped));
    let registered = conn.register(None).ok_or_else(gone)?;
    let sent = conn
        .send_request(registered.id, Initialize::NAME, &params)
        .await
        .map_err(Failure::Call)?;
    if !sent {
        return Err(gone());
    }
    let value = tokio::select! {
        outcome = registered.outcome => outcome
            .unwrap_or(Err(CallError::Unavailable(Unavailable::Stopped)))
            .map_err(Failure::Call)?,
        _ = sleep_until(deadline) => {
            conn.forget(registered.id);
            return Err(Failure::Timeout(config.timeouts.startup));
        }
        _ = abort.cancelled() => return Err(Failure::Aborted),
    };
    let info: InitializeResult =
        serde_json::from_value(value).map_err(|e| Failure::Malformed(e.to_string()))?;
    let backend = format!("{} {}", info.backend.name, info.backend.version);
    check_backend_version(&backend, info.protocol_version, env!("CARGO_PKG_VERSION"))
        .map_err(Failure::Version)?;
    Ok(info)
}
