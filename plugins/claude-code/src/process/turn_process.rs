//! One turn's process: started in its own group and registered, ended by the ladder
//! (SIGTERM → grace → SIGKILL to the group and every descendant), always reaped.

use std::collections::BTreeSet;
use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::time::{Instant, sleep, timeout};

use super::registry::Registry;
use super::spawn::{TurnCommand, spawn};
use molecule_proc::{ProcInfo, descendants, process_table, read_proc};

/// How long the sweep of orphans keeps trying before it gives up on a process.
const SWEEP_LIMIT: Duration = Duration::from_secs(2);
/// How often a wait for processes to go looks again.
const POLL: Duration = Duration::from_millis(10);

/// How a turn's process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Its exit status, when it could be read.
    pub status: Option<ExitStatus>,
    /// Whether the backend had to signal it.
    pub signalled: bool,
}

/// A running turn, and the three pipes to it.
#[derive(Debug)]
pub struct TurnProcess {
    child: Child,
    pid: i32,
    status: Option<ExitStatus>,
    /// Descendants seen while the turn ran, signalled with the group even if they left it.
    seen: BTreeSet<i32>,
    registry: Registry,
}

/// The pipes of a freshly started turn.
#[derive(Debug)]
pub struct Pipes {
    /// Where the prompt goes.
    pub stdin: ChildStdin,
    /// The stream-json events.
    pub stdout: ChildStdout,
    /// Claude's diagnostics.
    pub stderr: ChildStderr,
}

impl TurnProcess {
    /// Starts `cmd` and registers its group, so shutdown and the watchdog can find it.
    pub async fn start(cmd: &TurnCommand, registry: &Registry) -> io::Result<(TurnProcess, Pipes)> {
        let _spawning = registry.spawn_lock().await;
        let mut child = spawn(cmd).await?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the process exited at once"))?;
        let pid = i32::try_from(pid).map_err(io::Error::other)?;
        registry.add(pid);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(io::Error::other("the process's pipes are missing"));
        };
        let turn = TurnProcess {
            child,
            pid,
            status: None,
            seen: BTreeSet::new(),
            registry: registry.clone(),
        };
        Ok((
            turn,
            Pipes {
                stdin,
                stdout,
                stderr,
            },
        ))
    }

    /// The leader's pid, which is also the group's id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Remembers the turn's current descendants (call it now and then while the turn runs),
    /// so that one which leaves the group is still ended with it.
    pub fn observe(&mut self) {
        if self.status.is_none() {
            self.seen.extend(
                descendants(self.pid.unsigned_abs())
                    .unwrap_or_default()
                    .iter()
                    .map(|p| p.pid),
            );
        }
    }

    /// Waits for the leader to exit and reaps it. Cancellation-safe.
    pub async fn wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.wait().await.ok();
        }
        self.status
    }

    /// Waits up to `limit` for the leader to exit by itself, then ends the turn by the ladder
    /// with `grace` between SIGTERM and SIGKILL. Either way, whatever is left of the group and
    /// of the remembered descendants is killed afterwards.
    pub async fn finish(&mut self, limit: Duration, grace: Duration) -> Exit {
        let exited = timeout(limit, self.wait()).await.is_ok();
        if exited {
            self.cleanup().await;
            return Exit {
                status: self.status,
                signalled: false,
            };
        }
        self.terminate(grace).await
    }

    /// Ends the turn now: SIGTERM to the group and every descendant, `grace` to exit, then
    /// SIGKILL; reaps the leader and sweeps what is left.
    pub async fn terminate(&mut self, grace: Duration) -> Exit {
        self.observe();
        self.signal_all(Signal::SIGTERM);
        let _ = timeout(grace, self.wait()).await;
        self.observe();
        self.signal_all(Signal::SIGKILL);
        self.wait().await;
        self.cleanup().await;
        Exit {
            status: self.status,
            signalled: true,
        }
    }

    /// After the leader is gone: kills the rest of its group and the remembered descendants,
    /// waits for them to go, and reaps the ones reparented to the backend.
    async fn cleanup(&mut self) {
        // ESRCH: nothing is left in the group, so only remembered descendants need a look.
        let group_empty = killpg(Pid::from_raw(self.pid), Signal::SIGKILL) == Err(Errno::ESRCH);
        self.signal_all(Signal::SIGKILL);
        let start = Instant::now();
        let must_wait = !group_empty || !self.seen.is_empty();
        while must_wait && start.elapsed() < SWEEP_LIMIT && self.any_alive() {
            sleep(POLL).await;
        }
        self.registry.remove(self.pid);
        sweep_orphans(&self.registry).await;
    }

    fn any_alive(&self) -> bool {
        process_table()
            .unwrap_or_default()
            .iter()
            .any(|p| !p.is_zombie() && (p.pgid == self.pid || self.seen.contains(&p.pid)))
    }

    fn signal_all(&self, signal: Signal) {
        // While any member remains, the group id cannot be handed to another process.
        let _ = killpg(Pid::from_raw(self.pid), signal);
        for &pid in &self.seen {
            if let Some(p) = read_proc(pid).filter(|p| !p.is_zombie()) {
                let _ = kill(Pid::from_raw(p.pid), signal);
                if p.pgid != self.pid && p.pgid == p.pid {
                    let _ = killpg(Pid::from_raw(p.pgid), signal);
                }
            }
        }
    }
}

impl Drop for TurnProcess {
    /// The synchronous backstop when a turn's future is dropped mid-way (its request was
    /// abandoned at shutdown): SIGKILL to everything, plain syscalls only.
    fn drop(&mut self) {
        if self.status.is_none() {
            self.signal_all(Signal::SIGKILL);
            // Reaped by tokio's orphan queue; the group is killed, so it will not linger.
        }
        self.registry.remove(self.pid);
    }
}

/// Kills and reaps the processes that turns left behind and that were reparented to the
/// backend (a child subreaper). Does nothing unless the registry was told it is one: in any
/// other process, children that are not turns may be someone else's.
pub async fn sweep_orphans(registry: &Registry) {
    if !registry.sweeps_orphans() {
        return;
    }
    let _no_spawns = registry.spawn_lock().await;
    let me = nix::unistd::getpid().as_raw();
    let start = Instant::now();
    loop {
        let orphans: Vec<ProcInfo> = process_table()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.ppid == me && !registry.is_known(p.pid))
            .collect();
        if orphans.is_empty() {
            return;
        }
        for p in &orphans {
            if !p.is_zombie() {
                for d in descendants(p.pid.unsigned_abs()).unwrap_or_default() {
                    let _ = kill(Pid::from_raw(d.pid), Signal::SIGKILL);
                }
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
            }
            let _ = waitpid(Pid::from_raw(p.pid), Some(WaitPidFlag::WNOHANG));
        }
        if start.elapsed() > SWEEP_LIMIT {
            crate::log::warn(&format!(
                "processes left by a turn survived SIGKILL: {:?}",
                orphans.iter().map(|p| p.pid).collect::<Vec<_>>()
            ));
            return;
        }
        sleep(POLL).await;
    }
}
