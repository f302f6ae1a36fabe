//! Backend processes shared between the workspaces of one host process (`molecule run`, SPEC
//! §17.3). Workspaces whose backend would run the same way (same command, environment, limits,
//! host methods and timers) share a process once the first one's handshake advertised
//! `maxWorkspaces` above 1; each further workspace joins with `workspace/open` until the process
//! is full, then a new process starts. A workspace the backend refuses gets a process started
//! for it. A backend that serves one workspace gets one process per workspace, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::config::SupervisorConfig;
use super::error::StartError;
use super::supervisor::{Supervisor, lock};
use super::tenant::WorkspaceSpec;

/// After a failed start, the workspaces of that command start side by side for this long,
/// rather than one after another each waiting for its own failure.
const FAILED_START_ALONE: Duration = Duration::from_secs(10);

/// The shared backend processes, by the settings that make a process.
#[derive(Clone, Default)]
pub struct BackendPool {
    kinds: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<Kind>>>>>,
}

/// The processes of one kind of backend.
#[derive(Default)]
struct Kind {
    /// The backend serves one workspace per process: no sharing, no waiting on each other.
    single: bool,
    /// A start failed then: start alone until a while after.
    failed: Option<Instant>,
    processes: Vec<Supervisor>,
}

impl BackendPool {
    /// An empty pool.
    pub fn new() -> Self {
        BackendPool::default()
    }

    /// The backend handle for the workspace `config` describes: a place in a running shared
    /// process of the same kind when one has room and opens it, a new process otherwise.
    pub async fn start(&self, config: SupervisorConfig) -> Result<Supervisor, StartError> {
        let kind = self.kind(&config);
        // Starts of one kind wait for each other, so that the first process's handshake says
        // whether the rest can join it.
        let guard = kind.lock().await;
        if guard.single
            || guard
                .failed
                .is_some_and(|t| t.elapsed() < FAILED_START_ALONE)
        {
            drop(guard);
            let sup = Supervisor::start(config).await?;
            // Started alone, but shared from now on when the backend serves several.
            return Ok(match sup.share() {
                Ok((process, first)) => {
                    kind.lock().await.processes.push(process);
                    first
                }
                Err(alone) => alone,
            });
        }
        let mut kind = guard;
        kind.processes.retain(Supervisor::is_serving);
        let spec = WorkspaceSpec::of(&config);
        for process in kind.processes.iter().filter(|p| p.has_room()) {
            match process.open(spec.clone()).await {
                Ok(sup) => return Ok(sup),
                Err(e) => tracing::warn!(
                    workspace = %spec.id,
                    pid = ?process.pid(),
                    "the workspace gets a backend process of its own: {e}"
                ),
            }
        }
        let sup = match Supervisor::start(config).await {
            Ok(sup) => sup,
            Err(e) => {
                kind.failed = Some(Instant::now());
                return Err(e);
            }
        };
        kind.failed = None;
        match sup.share() {
            Ok((process, first)) => {
                kind.processes.push(process);
                Ok(first)
            }
            Err(alone) => {
                kind.single = true;
                Ok(alone)
            }
        }
    }

    /// The host is stopping: every shared process stops with its last workspace, without a
    /// `workspace/close` for each (SPEC §17.3 rule 10).
    pub fn stopping_all(&self) {
        let kinds: Vec<_> = lock(&self.kinds).values().cloned().collect();
        // A kind busy starting a process is skipped: its workspaces close one by one.
        for kind in kinds.iter().filter_map(|k| k.try_lock().ok()) {
            for process in &kind.processes {
                process.stopping_all();
            }
        }
    }

    /// How many backend processes the pool shares now.
    pub fn shared_processes(&self) -> usize {
        let kinds: Vec<_> = lock(&self.kinds).values().cloned().collect();
        kinds
            .iter()
            .filter_map(|k| k.try_lock().ok())
            .map(|k| k.processes.iter().filter(|p| p.is_serving()).count())
            .sum()
    }

    fn kind(&self, config: &SupervisorConfig) -> Arc<tokio::sync::Mutex<Kind>> {
        lock(&self.kinds)
            .entry(kind_of(config))
            .or_default()
            .clone()
    }
}

/// What makes two workspaces' backend processes the same (SPEC §17.3 rule 1): everything in
/// the configuration but the workspace's own id, state directory, host socket and handlers
/// (whose method names do count: they are advertised).
fn kind_of(c: &SupervisorConfig) -> String {
    format!(
        "{:?} name={:?} base={:?} extra={:?} secrets={:?} exe={:?} max={} {:?} {:?} {:?} methods={:?} calls={}",
        c.command,
        c.name,
        c.env.base,
        c.env.extra,
        c.env.secrets,
        c.env.host_exe,
        c.max_message_bytes,
        c.timeouts,
        c.restart,
        c.stderr,
        c.handlers.methods(),
        c.host_calls_in_flight,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendCommand;
    use std::path::PathBuf;

    fn config(ws: &str, program: &str) -> SupervisorConfig {
        let command = BackendCommand {
            program: PathBuf::from(program),
            args: vec![],
            display: program.into(),
        };
        SupervisorConfig::new(command, ws, PathBuf::from(format!("/tmp/{ws}")))
    }

    #[test]
    fn a_workspace_s_own_settings_do_not_make_another_kind() {
        let mut a = config("a", "/bin/echo-backend");
        let mut b = config("b", "/bin/echo-backend");
        a.env.host_socket = Some("/run/a.sock".into());
        b.env.host_socket = Some("/run/b.sock".into());
        assert_eq!(kind_of(&a), kind_of(&b));
        b.env.extra.push(("LANG".into(), "C".into()));
        assert_ne!(kind_of(&a), kind_of(&b));
        assert_ne!(kind_of(&a), kind_of(&config("a", "/bin/other")));
        let mut c = config("c", "/bin/echo-backend");
        c.timeouts.request = Duration::from_secs(1);
        assert_ne!(kind_of(&config("a", "/bin/echo-backend")), kind_of(&c));
    }
}
