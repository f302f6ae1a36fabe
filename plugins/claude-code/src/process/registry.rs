//! The live turns of this backend, so that shutdown can end every one of them, and the
//! watchdog hears of each.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::time::{Instant, sleep};

use super::reaper::Reaper;
use molecule_proc::{descendants, process_table};

/// A shared handle on the set of live turn process groups.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    live: Mutex<BTreeSet<i32>>,
    spawning: tokio::sync::Mutex<()>,
    reaper: Mutex<Option<Reaper>>,
    subreaper: bool,
}

impl Registry {
    /// A registry for a library user (tests): no watchdog, and orphans are not swept.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The registry of the backend program: `subreaper` says the process is a child subreaper
    /// (so orphans of turns are its children), and `reaper` is the watchdog to keep informed.
    pub fn for_program(subreaper: bool, reaper: Option<Reaper>) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                subreaper,
                reaper: Mutex::new(reaper),
                ..Inner::default()
            }),
        }
    }

    /// Held while a turn is forked and registered, and while orphans are swept, so that the
    /// sweep never mistakes a turn that was just started for an orphan.
    pub(super) async fn spawn_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.spawning.lock().await
    }

    pub(super) fn sweeps_orphans(&self) -> bool {
        self.inner.subreaper
    }

    pub(super) fn add(&self, pgid: i32) {
        lock(&self.inner.live).insert(pgid);
        if let Some(r) = lock(&self.inner.reaper).as_mut() {
            r.register(pgid);
        }
    }

    pub(super) fn remove(&self, pgid: i32) {
        if lock(&self.inner.live).remove(&pgid)
            && let Some(r) = lock(&self.inner.reaper).as_mut()
        {
            r.unregister(pgid);
        }
    }

    /// Whether `pid` is a live turn's leader or the watchdog: a child that is no orphan.
    pub(super) fn is_known(&self, pid: i32) -> bool {
        lock(&self.inner.live).contains(&pid)
            || lock(&self.inner.reaper)
                .as_ref()
                .is_some_and(|r| r.pid() == pid)
    }

    /// The process groups of the turns running now.
    pub fn live(&self) -> Vec<i32> {
        lock(&self.inner.live).iter().copied().collect()
    }

    /// Ends every live turn: SIGTERM to each group and its descendants, up to `grace` for
    /// them to go, then SIGKILL. Used when the backend itself is told to stop.
    pub async fn terminate_all(&self, grace: Duration) {
        let groups = self.live();
        if groups.is_empty() {
            return;
        }
        signal_groups(&groups, Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < grace && groups_alive(&groups) {
            sleep(Duration::from_millis(10)).await;
        }
        signal_groups(&groups, Signal::SIGKILL);
    }

    /// SIGKILL to every live turn at once: the last step before the backend exits.
    pub fn kill_all(&self) {
        signal_groups(&self.live(), Signal::SIGKILL);
    }

    /// Stops the watchdog (it exits as soon as its input closes). Call it last, after every
    /// turn has ended.
    pub fn finish(&self) {
        if let Some(r) = lock(&self.inner.reaper).take() {
            r.finish();
        }
    }
}

fn signal_groups(groups: &[i32], signal: Signal) {
    for &pgid in groups {
        for d in descendants(pgid.unsigned_abs()).unwrap_or_default() {
            let _ = kill(Pid::from_raw(d.pid), signal);
        }
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}

fn groups_alive(groups: &[i32]) -> bool {
    process_table()
        .unwrap_or_default()
        .iter()
        .any(|p| !p.is_zombie() && groups.contains(&p.pgid))
}

/// A poisoned lock only means another thread panicked mid-update of a plain set: keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
