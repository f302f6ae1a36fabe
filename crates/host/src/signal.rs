//! Shutdown signals: the first SIGINT or SIGTERM asks for a graceful shutdown, the second
//! skips the drain.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Two tokens, cancelled by the first and the second signal.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    /// Cancelled by the first signal: stop taking work, drain, exit.
    pub graceful: CancellationToken,
    /// Cancelled by the second signal: stop waiting for anything.
    pub immediate: CancellationToken,
}

impl Shutdown {
    /// Tokens that only code (tests, `molecule dev`) cancels.
    pub fn manual() -> Self {
        Shutdown::default()
    }

    /// Installs SIGINT and SIGTERM handlers feeding the tokens. Must run inside a runtime, and
    /// before any backend is spawned, so that a signal never finds the default handler.
    pub fn install() -> std::io::Result<Self> {
        let shutdown = Shutdown::default();
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let tokens = shutdown.clone();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let name = tokio::select! {
                    Some(()) = int.recv() => "SIGINT",
                    Some(()) = term.recv() => "SIGTERM",
                    else => return,
                };
                count += 1;
                if count == 1 {
                    tracing::info!(
                        "{name} received: shutting down (send it again to skip the drain)"
                    );
                    tokens.graceful.cancel();
                } else {
                    tracing::warn!("{name} received again: skipping the drain");
                    tokens.graceful.cancel();
                    tokens.immediate.cancel();
                }
            }
        });
        Ok(shutdown)
    }
}
