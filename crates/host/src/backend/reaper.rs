//! Reaping orphans when the host is its PID namespace's init, as `molecule connect` is when it
//! is a container's entry point.
//!
//! The kernel hands every orphan in the namespace to PID 1: whatever a `docker exec` left
//! behind, and a backend's descendants that escaped its [`Lineage`](super::descendants::Lineage)
//! (a double fork into a new session, faster than the periodic scan). Nobody else will ever
//! wait for them, so without this each one stays a zombie until the container stops.
//!
//! A blanket `waitpid(-1)` would also take the exit statuses that tokio reads for the children
//! the host spawned itself (tokio waits for each by its pid), so the reaper waits only for
//! zombies that cannot be one of those. Every child the host spawns is the leader of a new
//! process group in the host's session ([`BackendProcess`](super::BackendProcess) sets
//! `process_group(0)` before the program starts); until that `setpgid` it is in the host's own
//! group. Zombies of the host's session that lead their group or sit in the host's group are
//! therefore left alone; all others (a new session, or a backend's group) are orphans.

use molecule_proc::{ProcInfo, process_table, read_proc, same_process};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

/// Reaps orphaned processes while it lives (the task stops when it is dropped).
#[derive(Debug)]
pub struct OrphanReaper {
    task: JoinHandle<()>,
}

impl OrphanReaper {
    /// Starts reaping when this process is PID 1 and `/proc` shows its own namespace; `None`
    /// otherwise (a process that is not init is never given strangers' orphans). Must be
    /// called inside a tokio runtime.
    pub fn start_if_init() -> Option<OrphanReaper> {
        if std::process::id() != 1 {
            return None;
        }
        // With the parent namespace's /proc mounted, "our children" there are someone else's.
        let own_proc = std::fs::read_link("/proc/self").is_ok_and(|p| p.as_os_str() == "1");
        if !own_proc {
            tracing::warn!(
                "running as PID 1, but /proc belongs to another PID namespace: orphaned \
                 processes will not be reaped (mount a /proc for this namespace)"
            );
            return None;
        }
        let mut children = match signal(SignalKind::child()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(
                    "running as PID 1, but cannot watch SIGCHLD ({e}): orphaned processes will not be reaped"
                );
                return None;
            }
        };
        tracing::info!("running as PID 1: orphaned processes are reaped");
        let task = tokio::spawn(async move {
            // Zombies may predate the reaper (an entry-point script exec'ed into molecule).
            reap_orphans();
            while children.recv().await.is_some() {
                reap_orphans();
            }
        });
        Some(OrphanReaper { task })
    }
}

impl Drop for OrphanReaper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reaps every orphan that is a zombie now; returns how many.
pub fn reap_orphans() -> usize {
    let Some(me) = read_proc(std::process::id() as i32) else {
        return 0;
    };
    let Ok(table) = process_table() else {
        return 0;
    };
    let mut reaped = 0;
    for p in orphans(&table, &me) {
        // A zombie's pid is not reused before it is reaped: the same pid and start time
        // make the wait safe.
        if same_process(p) && waitpid(Pid::from_raw(p.pid), Some(WaitPidFlag::WNOHANG)).is_ok() {
            tracing::debug!(pid = p.pid, name = %p.name, "reaped an orphaned process");
            reaped += 1;
        }
    }
    reaped
}

/// The zombies among `table` that `me` may reap: its children that it did not spawn itself.
pub fn orphans<'a>(table: &'a [ProcInfo], me: &ProcInfo) -> Vec<&'a ProcInfo> {
    table
        .iter()
        .filter(|p| p.ppid == me.pid && p.is_zombie() && !maybe_spawned(p, me))
        .collect()
}

/// Whether `p` could be a child the host spawned (its exit status is tokio's): in the host's
/// session, and either leading its own group or still in the host's.
fn maybe_spawned(p: &ProcInfo, me: &ProcInfo) -> bool {
    p.sid == me.sid && (p.pgid == p.pid || p.pgid == me.pgid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, ppid: i32, pgid: i32, sid: i32, state: char) -> ProcInfo {
        ProcInfo {
            pid,
            ppid,
            pgid,
            sid,
            state,
            start_time: 0,
            name: format!("p{pid}"),
        }
    }

    fn pids(found: Vec<&ProcInfo>) -> Vec<i32> {
        found.iter().map(|p| p.pid).collect()
    }

    #[test]
    fn only_zombie_children_the_host_did_not_spawn_are_orphans() {
        let me = proc(1, 0, 1, 1, 'S');
        let table = [
            me.clone(),
            proc(10, 1, 10, 1, 'Z'),  // a backend leader: tokio's to wait for
            proc(11, 1, 1, 1, 'Z'),   // spawned, died before its setpgid
            proc(12, 1, 10, 1, 'Z'),  // a backend's descendant, reparented
            proc(13, 1, 13, 13, 'Z'), // a double fork into its own session
            proc(14, 1, 13, 13, 'S'), // alive: nothing to reap
            proc(15, 13, 13, 13, 'Z'), // someone else's child
            proc(16, 1, 16, 16, 'X'),
        ];
        assert_eq!(pids(orphans(&table, &me)), [12, 13, 16]);
    }

    #[test]
    fn a_host_whose_session_is_invisible_still_tells_its_children() {
        // In a namespace made by `unshare --fork`, the host's session and group lie outside
        // and read as 0, as do those of a child that never made its own.
        let me = proc(1, 0, 0, 0, 'S');
        let table = [
            proc(7, 1, 7, 0, 'Z'),
            proc(8, 1, 0, 0, 'Z'),
            proc(9, 1, 7, 0, 'Z'),
            proc(20, 1, 20, 20, 'Z'),
        ];
        assert_eq!(pids(orphans(&table, &me)), [9, 20]);
    }

    /// Waits (up to 10 s) until `pid` is a zombie.
    async fn zombie(pid: u32) -> ProcInfo {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(p) = read_proc(pid as i32).filter(ProcInfo::is_zombie) {
                return p;
            }
            assert!(tokio::time::Instant::now() < deadline, "{pid} never exited");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_spawned_backend_keeps_its_exit_status_and_a_stray_child_is_reaped() {
        let me = read_proc(std::process::id() as i32).expect("this process");
        // Spawned the way BackendProcess spawns: tokio must still read its status.
        let mut spawned = tokio::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .process_group(0)
            .spawn()
            .expect("sh");
        let pid = spawned.id().expect("a pid");
        let dead = zombie(pid).await;
        assert!(orphans(&[dead], &me).is_empty());
        reap_orphans();
        let status = spawned.wait().await.expect("tokio reads the status");
        assert_eq!(status.code(), Some(7));

        // A child in a session of its own stands for an orphan handed to init.
        let mut stray = std::process::Command::new("sh");
        stray.args(["-c", "exit 0"]);
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut stray, || {
                nix::unistd::setsid()
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
        let stray = stray.spawn().expect("sh");
        let dead = zombie(stray.id()).await;
        assert_eq!(pids(orphans(std::slice::from_ref(&dead), &me)), [dead.pid]);
        assert!(reap_orphans() >= 1);
        assert!(read_proc(dead.pid).is_none(), "the stray zombie is reaped");
        std::mem::forget(stray);
    }
}
