//! The workspaces one `molecule run` serves: each by `molecule_host::connect::serve`, as
//! `molecule connect` serves one, on its own task with its own shutdown (stopped by the fleet;
//! a second signal reaches it directly), so one can be stopped, restarted or parked without
//! touching the others. The
//! workspaces of one platform share its connection pool and rate limiter, and workspaces whose
//! backend runs the same way share its processes when the backend serves several workspaces
//! (SPEC §17).
//!
//! A workspace whose `serve` fails (a revoked token, a removed workspace, a backend that cannot
//! start, a state directory already in use) is logged and parked: its task ends, the others
//! keep serving, and a reload that changes its entry starts it again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use molecule_host::backend::BackendPool;
use molecule_host::connect::{Hooks, serve};
use molecule_host::exit::HasExitCode;
use molecule_host::observe::Metrics;
use molecule_host::platform::{PlatformConfig, SharedTransport};
use molecule_host::signal::Shutdown;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::entry::Entry;

/// One served workspace.
struct Member {
    fingerprint: String,
    stop: Shutdown,
    task: JoinHandle<()>,
}

/// What a reload did, for its log line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Workspaces started.
    pub added: usize,
    /// Workspaces drained and stopped.
    pub removed: usize,
    /// Workspaces restarted with new settings.
    pub changed: usize,
    /// Workspaces left alone.
    pub unchanged: usize,
}

/// The served set.
pub struct Fleet {
    root: Shutdown,
    members: HashMap<Uuid, Member>,
    transports: HashMap<String, SharedTransport>,
    backends: BackendPool,
    metrics: Option<(Metrics, String)>,
}

impl Fleet {
    /// An empty set under `root` (the process's signals), joining `metrics` when served.
    pub fn new(root: Shutdown, metrics: Option<(Metrics, String)>) -> Self {
        Fleet {
            root,
            members: HashMap::new(),
            transports: HashMap::new(),
            backends: BackendPool::new(),
            metrics,
        }
    }

    /// Makes the served set `entries`: new ones start, missing ones drain and stop, changed
    /// ones stop then start again, the others are untouched. Returns once the stopped ones
    /// have stopped (their drains run at once, side by side).
    pub async fn apply(&mut self, entries: Vec<Entry>) -> Changes {
        let mut changes = Changes::default();
        let wanted: HashMap<Uuid, &Entry> = entries.iter().map(|e| (e.id, e)).collect();
        let mut stopping = Vec::new();
        let ids: Vec<Uuid> = self.members.keys().copied().collect();
        for id in ids {
            let keep = wanted
                .get(&id)
                .is_some_and(|e| self.members[&id].fingerprint == e.fingerprint);
            if keep {
                changes.unchanged += 1;
                continue;
            }
            if wanted.contains_key(&id) {
                changes.changed += 1;
            } else {
                changes.removed += 1;
            }
            if let Some(m) = self.members.remove(&id) {
                tracing::info!(workspace = %id, "stopping the workspace (reload)");
                m.stop.graceful.cancel();
                stopping.push(m.task);
            }
        }
        for task in stopping {
            let _ = task.await;
        }
        self.share(&entries);
        for entry in entries {
            if !self.members.contains_key(&entry.id) {
                let id = entry.id;
                let member = self.start(entry);
                self.members.insert(id, member);
            }
        }
        changes.added = self.members.len() - changes.unchanged - changes.changed;
        changes
    }

    /// Stops every workspace (drained, unless the process's second signal says otherwise)
    /// and waits for them.
    pub async fn stop_all(&mut self) {
        self.backends.stopping_all();
        for m in self.members.values() {
            m.stop.graceful.cancel();
        }
        for (_, m) in self.members.drain() {
            let _ = m.task.await;
        }
    }

    /// How many workspaces are in the set (parked ones included).
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Makes the shared transport of each platform `entries` name that has none yet. Its
    /// limiter keeps the heartbeats of all of the platform's workspaces in reserve.
    fn share(&mut self, entries: &[Entry]) {
        let mut beats: BTreeMap<String, (PlatformConfig, u32)> = BTreeMap::new();
        for e in entries {
            let per_minute = beats_per_minute(e.config.settings.timers.heartbeat);
            let slot = beats
                .entry(bucket(&e.config.platform))
                .or_insert((e.config.platform.clone(), 0));
            slot.1 = slot.1.saturating_add(per_minute);
        }
        for (key, (mut platform, reserve)) in beats {
            if self.transports.contains_key(&key) {
                continue;
            }
            let limit = &mut platform.rate_limit;
            limit.heartbeat_reserve = limit.heartbeat_reserve.max(reserve);
            match SharedTransport::new(&platform) {
                Ok(t) => {
                    self.transports.insert(key, t);
                }
                // Each workspace then builds its own client and says why it cannot.
                Err(e) => tracing::warn!("cannot share a connection pool for {key}: {e}"),
            }
        }
    }

    /// Starts serving `entry` on its own task.
    fn start(&self, entry: Entry) -> Member {
        let id = entry.id;
        // Not a child of the process's graceful stop: `stop_all` stops the workspaces itself,
        // once it has told the shared backend processes that everything stops.
        let stop = Shutdown {
            graceful: tokio_util::sync::CancellationToken::new(),
            immediate: self.root.immediate.child_token(),
        };
        let (mut hooks, socket) = crate::connect::peer_hooks(entry.peers, id);
        hooks.transport = self
            .transports
            .get(&bucket(&entry.config.platform))
            .cloned();
        hooks.backends = Some(self.backends.clone());
        if let Some((metrics, addr)) = &self.metrics {
            hooks.metrics = Some(metrics.clone());
            hooks.metrics_addr = Some(addr.clone());
        }
        let fingerprint = entry.fingerprint;
        let span = tracing::info_span!("workspace", workspace = %id);
        let work = run_one(id, entry.config, stop.clone(), hooks, socket);
        let task = tokio::spawn(tracing::Instrument::instrument(work, span));
        Member {
            fingerprint,
            stop,
            task,
        }
    }
}

/// Serves one workspace until it is stopped, or parks it on a permanent failure.
async fn run_one(
    id: Uuid,
    config: molecule_host::connect::Config,
    stop: Shutdown,
    hooks: Hooks,
    socket: Option<molecule_host::peers::HostSocket>,
) {
    tracing::info!(workspace = %id, "starting the workspace");
    match serve(config, stop, hooks).await {
        Ok(()) => tracing::info!(workspace = %id, "the workspace stopped"),
        Err(e) => tracing::error!(
            workspace = %id,
            exit_code = e.exit_code(),
            "the workspace is parked: {e}; the others keep serving (fix it, then reload)"
        ),
    }
    drop(socket);
}

/// The rate-limit bucket of a platform: its address and organisation (older platforms count
/// per client address, newer ones per organisation).
fn bucket(p: &PlatformConfig) -> String {
    format!("{} org={:?}", p.api_url(), p.org_id())
}

/// Heartbeats (and the re-registration beside them) one workspace sends per minute.
fn beats_per_minute(every: Duration) -> u32 {
    let every = every.as_millis().max(1);
    u32::try_from(60_000u128.div_ceil(every)).unwrap_or(u32::MAX)
}
