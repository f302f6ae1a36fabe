//! Finding every descendant of a backend through `/proc`, including the ones that left its
//! process group or session, so that none survives the backend.
//!
//! `killpg` reaches only the group. A backend's child may call `setsid`, and once its parent
//! exits it is reparented (to the host, which makes itself a child subreaper, see
//! [`orphans`](super::orphans)), so its `ppid` no longer says where it came from. A [`Lineage`]
//! therefore remembers every descendant it has seen, by pid *and* start time, and counts as a
//! member anything in the backend's group, anything remembered, any orphan the host adopted
//! (when the program claims them), and any child of a member.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use molecule_proc::closure;
pub use molecule_proc::{ProcInfo, descendants, process_table, read_proc, same_process};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use super::orphans;

/// The set of processes that belong to one backend, remembered across reparenting.
#[derive(Debug)]
pub struct Lineage {
    root: i32,
    known: HashMap<i32, u64>,
}

impl Lineage {
    /// The lineage of the backend whose leader (and process group) is `root`.
    pub fn new(root: u32) -> Self {
        Lineage {
            root: i32::try_from(root).unwrap_or(i32::MAX),
            known: HashMap::new(),
        }
    }

    /// The backend's descendants now (zombies included, the leader excluded), remembering
    /// each one so it is still found after its parent has gone.
    pub fn scan(&mut self) -> Vec<ProcInfo> {
        match process_table() {
            Ok(table) => self.scan_in(&table),
            Err(_) => Vec::new(),
        }
    }

    /// [`Lineage::scan`] on a process table read at most `max_age` ago by any lineage of this
    /// process: the periodic scans of a fleet's backends share one read of `/proc`. Each read
    /// opens every process's `stat`, so a thousand backends scanning on their own made the
    /// cost quadratic (two cores saturated by a thousand idle workspaces). The sweeps at a
    /// backend's end use [`Lineage::scan`], always fresh.
    pub fn scan_recent(&mut self, max_age: Duration) -> Vec<ProcInfo> {
        match recent_table(max_age) {
            Some(table) => self.scan_in(&table),
            None => Vec::new(),
        }
    }

    fn scan_in(&mut self, table: &[ProcInfo]) -> Vec<ProcInfo> {
        let mut seeds = HashSet::from([self.root]);
        for p in table {
            if self.known.get(&p.pid) == Some(&p.start_time) {
                seeds.insert(p.pid);
            }
        }
        seeds.extend(orphans::adopted(table));
        let root = self.root;
        let members: Vec<ProcInfo> = closure(table, &seeds, |p| p.pgid == root)
            .into_iter()
            .filter(|p| p.pid != root)
            .collect();
        self.known = members.iter().map(|p| (p.pid, p.start_time)).collect();
        members
    }

    /// Sends `signal` to each live member that is still the same process.
    pub fn signal(&self, members: &[ProcInfo], signal: Signal) {
        for p in members.iter().filter(|p| !p.is_zombie()) {
            if same_process(p) {
                let _ = kill(Pid::from_raw(p.pid), signal);
            }
        }
    }

    /// Reaps the zombie members that were reparented to this process. Only remembered
    /// descendants are waited for, never any pid the runtime spawned itself.
    pub fn reap_adopted(&self, members: &[ProcInfo]) {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        for p in members.iter().filter(|p| p.is_zombie() && p.ppid == me) {
            // A zombie's pid cannot be reused before it is reaped, so checking that it is
            // still the same process makes the wait safe.
            if same_process(p) {
                let _ = waitpid(Pid::from_raw(p.pid), Some(WaitPidFlag::WNOHANG));
            }
        }
    }
}

/// The last process table read for [`Lineage::scan_recent`], and when.
static RECENT: Mutex<Option<(Instant, Arc<Vec<ProcInfo>>)>> = Mutex::new(None);

/// A process table no older than `max_age`, read now if the last one is older.
fn recent_table(max_age: Duration) -> Option<Arc<Vec<ProcInfo>>> {
    let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, table)) = recent.as_ref()
        && at.elapsed() <= max_age
    {
        return Some(table.clone());
    }
    let table = Arc::new(process_table().ok()?);
    *recent = Some((Instant::now(), table.clone()));
    Some(table)
}
