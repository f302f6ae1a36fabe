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
pub use molecule_proc::{ProcInfo, children, descendants, process_table, read_proc, same_process};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use super::orphans;

/// The set of processes that belong to one backend, remembered across reparenting.
#[derive(Debug)]
pub struct Lineage {
    root: i32,
    /// Each remembered process's start time, and when the table it was found in was read.
    known: HashMap<i32, (u64, Instant)>,
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
        let read_at = Instant::now();
        match process_table() {
            Ok(table) => self.scan_in(&table, read_at),
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
            Some((read_at, table)) => self.scan_in(&table, read_at),
            None => Vec::new(),
        }
    }

    /// The members in `table`, read at `read_at`. A remembered process missing from a table
    /// read before it was found is not forgotten: the table is too old to know it (a shared
    /// table may predate a child started a moment ago), and forgetting it would let it escape
    /// once its parent dies.
    fn scan_in(&mut self, table: &[ProcInfo], read_at: Instant) -> Vec<ProcInfo> {
        let mut seeds = HashSet::from([self.root]);
        for p in table {
            if self.known.get(&p.pid).map(|k| k.0) == Some(p.start_time) {
                seeds.insert(p.pid);
            }
        }
        seeds.extend(orphans::adopted(table));
        let root = self.root;
        let members: Vec<ProcInfo> = closure(table, &seeds, |p| p.pgid == root)
            .into_iter()
            .filter(|p| p.pid != root)
            .collect();
        let mut known: HashMap<i32, (u64, Instant)> = members
            .iter()
            .map(|p| (p.pid, (p.start_time, read_at)))
            .collect();
        for (pid, (start, found)) in &self.known {
            if *found > read_at && !known.contains_key(pid) {
                known.insert(*pid, (*start, *found));
            }
        }
        self.known = known;
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

/// A process table no older than `max_age` and when its read began, read now if the last one
/// is older.
fn recent_table(max_age: Duration) -> Option<(Instant, Arc<Vec<ProcInfo>>)> {
    let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, table)) = recent.as_ref()
        && at.elapsed() <= max_age
    {
        return Some((*at, table.clone()));
    }
    let at = Instant::now();
    let table = Arc::new(process_table().ok()?);
    *recent = Some((at, table.clone()));
    Some((at, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, ppid: i32, pgid: i32) -> ProcInfo {
        ProcInfo {
            pid,
            ppid,
            pgid,
            sid: pgid,
            state: 'S',
            start_time: 1000 + pid as u64,
            name: "p".into(),
        }
    }

    #[test]
    fn a_table_older_than_what_is_known_does_not_forget_a_child() {
        // Backend 100 starts 200 in a session of its own; a shared table read before that
        // comes next; then the backend dies and 200 belongs to init.
        let mut lineage = Lineage::new(100);
        let before = Instant::now();
        let found = Instant::now() + Duration::from_millis(1);
        let members = lineage.scan_in(&[proc(100, 1, 100), proc(200, 100, 200)], found);
        assert_eq!(members.iter().map(|p| p.pid).collect::<Vec<_>>(), [200]);
        lineage.scan_in(&[proc(100, 1, 100)], before);
        let after = lineage.scan_in(&[proc(200, 1, 200)], found + Duration::from_millis(1));
        assert_eq!(after.iter().map(|p| p.pid).collect::<Vec<_>>(), [200]);
    }

    #[test]
    fn a_newer_table_without_a_child_forgets_it() {
        let mut lineage = Lineage::new(100);
        let t0 = Instant::now();
        lineage.scan_in(&[proc(100, 1, 100), proc(200, 100, 200)], t0);
        lineage.scan_in(&[proc(100, 1, 100)], t0 + Duration::from_millis(1));
        assert!(lineage.known.is_empty(), "{:?}", lineage.known);
    }
}
