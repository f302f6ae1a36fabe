//! One backend process: spawned in its own process group with piped stdio, stopped by the
//! ladder (stdin EOF → SIGTERM → SIGKILL), and followed by a sweep that leaves no descendant.
//!
//! On Linux the child gets `PR_SET_PDEATHSIG(SIGKILL)`, which fires when the parent *thread*
//! ends; every spawn therefore happens on one dedicated thread that lives as long as the
//! process. The same thread makes the host a child subreaper, so that a backend's orphaned
//! descendants are reparented to the host (where the sweep finds them, see
//! [`orphans`](super::orphans)) instead of to init.

use std::ffi::OsString;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::time::{Instant, sleep, timeout};

use super::command::BackendCommand;
use super::descendants::{Lineage, ProcInfo};
use super::orphans;

/// How long the sweep keeps trying before it gives up on a process that will not die.
const SWEEP_LIMIT: Duration = Duration::from_secs(5);
/// How often the sweep looks again while it waits for processes to go.
const SWEEP_POLL: Duration = Duration::from_millis(10);

/// The backend's three pipes.
#[derive(Debug)]
pub struct Pipes {
    /// The backend's stdin: closing it asks the backend to exit.
    pub stdin: ChildStdin,
    /// Protocol lines from the backend.
    pub stdout: ChildStdout,
    /// The backend's logs.
    pub stderr: ChildStderr,
}

/// The waits of the stop ladder.
#[derive(Clone, Copy, Debug)]
pub struct Ladder {
    /// How long to wait for an exit after stdin was closed (zero skips to SIGTERM).
    pub eof_wait: Duration,
    /// How long to wait after SIGTERM before SIGKILL.
    pub term_wait: Duration,
}

/// Which step of the ladder ended the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopStep {
    /// It had exited before the ladder started.
    AlreadyExited,
    /// It exited after its stdin was closed.
    ExitedAfterEof,
    /// It exited after SIGTERM.
    ExitedAfterSigterm,
    /// It had to be killed with SIGKILL.
    Killed,
}

/// What stopping a backend took.
#[derive(Clone, Debug)]
pub struct StopReport {
    /// The step that ended the leader.
    pub step: StopStep,
    /// The leader's exit status, when it could be read.
    pub status: Option<ExitStatus>,
    /// Descendants that outlived the leader and were killed by the sweep.
    pub swept: Vec<ProcInfo>,
}

/// A running backend process and everything it started.
#[derive(Debug)]
pub struct BackendProcess {
    child: Child,
    pid: u32,
    lineage: Lineage,
    status: Option<ExitStatus>,
}

/// A process just spawned, whose `Child` still holds the pipes to take.
struct PendingProcess {
    pid: u32,
}

impl PendingProcess {
    fn with_child(self, child: Child) -> BackendProcess {
        BackendProcess {
            child,
            pid: self.pid,
            lineage: Lineage::new(self.pid),
            status: None,
        }
    }
}

impl BackendProcess {
    /// Spawns `command` with exactly `env` as its environment, in its own process group, with
    /// all three stdio streams piped.
    pub async fn spawn(
        command: &BackendCommand,
        env: Vec<(OsString, OsString)>,
    ) -> io::Result<(BackendProcess, Pipes)> {
        let (process, mut child) = Self::launch(command, env, Stdio::piped()).await?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(io::Error::other("the backend's pipes are missing"));
        };
        Ok((
            process.with_child(child),
            Pipes {
                stdin,
                stdout,
                stderr,
            },
        ))
    }

    /// Spawns `command` like [`spawn`](Self::spawn), but with `stdin` as its standard input
    /// (`backend-check` gives it a terminal, to see what the program does when a person runs
    /// it by hand); stdout and stderr are piped.
    pub async fn spawn_with_stdin(
        command: &BackendCommand,
        env: Vec<(OsString, OsString)>,
        stdin: Stdio,
    ) -> io::Result<(BackendProcess, ChildStdout, ChildStderr)> {
        let (process, mut child) = Self::launch(command, env, stdin).await?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(io::Error::other("the backend's pipes are missing"));
        };
        Ok((process.with_child(child), stdout, stderr))
    }

    /// Spawns the process; the returned `BackendProcess` holds the pid and lineage, the
    /// `Child` still holds the pipes (see [`with_child`](Self::with_child)).
    async fn launch(
        command: &BackendCommand,
        env: Vec<(OsString, OsString)>,
        stdin: Stdio,
    ) -> io::Result<(PendingProcess, Child)> {
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .env_clear()
            .envs(env)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        set_parent_death_signal(&mut cmd);
        let child = spawn_on_spawner_thread(cmd).await?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the backend exited at once"))?;
        Ok((PendingProcess { pid }, child))
    }

    /// The leader's pid (also the process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the leader to exit and reaps it. Cancellation-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = self.child.wait().await?;
        self.status = Some(status);
        orphans::reaped(self.pid);
        Ok(status)
    }

    /// The leader's exit status if it has exited, without waiting.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
            if self.status.is_some() {
                orphans::reaped(self.pid);
            }
        }
        self.status
    }

    /// Looks at the backend's descendants now (remembering them for the sweep) and reaps the
    /// ones that exited after being reparented to the host.
    pub fn scan(&mut self) -> Vec<ProcInfo> {
        let members = self.lineage.scan();
        self.lineage.reap_adopted(&members);
        members
    }

    /// The periodic [`BackendProcess::scan`], on a process table shared with the other
    /// backends of this host when it is at most a second old.
    pub fn scan_recent(&mut self) -> Vec<ProcInfo> {
        let members = self.lineage.scan_recent(Duration::from_secs(1));
        self.lineage.reap_adopted(&members);
        members
    }

    /// Stops the backend by the ladder, then sweeps its descendants. The caller closes the
    /// backend's stdin first; with [`Ladder::eof_wait`] zero, SIGTERM is sent at once.
    pub async fn stop(&mut self, ladder: Ladder) -> StopReport {
        let step = self.stop_leader(ladder).await;
        let gentle = step != StopStep::Killed;
        let swept = self.sweep(gentle.then_some(ladder.term_wait)).await;
        StopReport {
            step,
            status: self.status,
            swept,
        }
    }

    /// Kills the whole tree at once (a hung or failed backend), then sweeps.
    pub async fn kill(&mut self) -> StopReport {
        self.stop(Ladder {
            eof_wait: Duration::ZERO,
            term_wait: Duration::ZERO,
        })
        .await
    }

    /// Ends the leader by the ladder (the caller has closed its stdin) and reaps it.
    pub async fn stop_leader(&mut self, ladder: Ladder) -> StopStep {
        if self.try_status().is_some() {
            return StopStep::AlreadyExited;
        }
        // Remember the tree while its ppid links still lead to the leader.
        self.scan();
        if self.wait_for(ladder.eof_wait).await {
            return StopStep::ExitedAfterEof;
        }
        self.signal_tree(Signal::SIGTERM);
        if self.wait_for(ladder.term_wait).await {
            return StopStep::ExitedAfterSigterm;
        }
        self.signal_tree(Signal::SIGKILL);
        let _ = self.wait().await;
        StopStep::Killed
    }

    async fn wait_for(&mut self, limit: Duration) -> bool {
        if limit.is_zero() {
            return self.try_status().is_some();
        }
        timeout(limit, self.wait()).await.is_ok()
    }

    /// Signals the group (while the leader is unreaped, the group id cannot be reused) and
    /// every remembered descendant, wherever it moved.
    fn signal_tree(&mut self, signal: Signal) {
        if self.try_status().is_none() {
            let _ = killpg(Pid::from_raw(self.pid as i32), signal);
        }
        let members = self.scan();
        self.lineage.signal(&members, signal);
    }

    /// Ends whatever is left of the tree once the leader is gone: SIGTERM and up to `term`
    /// for them to go (none: SIGKILL at once), then SIGKILL, reaping the ones reparented to
    /// the host. Returns the descendants it found alive.
    pub async fn sweep(&mut self, term: Option<Duration>) -> Vec<ProcInfo> {
        let start = Instant::now();
        let mut swept: Vec<ProcInfo> = Vec::new();
        let mut termed = false;
        loop {
            let members = self.scan();
            let me = std::process::id() as i32;
            let live: Vec<ProcInfo> = members.iter().filter(|p| !p.is_zombie()).cloned().collect();
            let ours = members.iter().any(|p| p.is_zombie() && p.ppid == me);
            if live.is_empty() && !ours {
                break;
            }
            for p in &live {
                if !swept.iter().any(|s| s.pid == p.pid) {
                    swept.push(p.clone());
                }
            }
            match term {
                Some(t) if start.elapsed() < t => {
                    if !termed {
                        self.lineage.signal(&live, Signal::SIGTERM);
                        termed = true;
                    }
                }
                _ => self.lineage.signal(&live, Signal::SIGKILL),
            }
            if start.elapsed() > term.unwrap_or_default() + SWEEP_LIMIT {
                tracing::error!(
                    pids = ?live.iter().map(|p| p.pid).collect::<Vec<_>>(),
                    "backend descendants survived SIGKILL"
                );
                break;
            }
            sleep(SWEEP_POLL).await;
        }
        if !swept.is_empty() {
            let names: Vec<String> = swept
                .iter()
                .map(|p| format!("{} ({})", p.pid, p.name))
                .collect();
            tracing::warn!(
                backend_pid = self.pid,
                "killed descendants the backend left behind: {}",
                names.join(", ")
            );
        }
        swept
    }
}

impl Drop for BackendProcess {
    /// The synchronous backstop when the ladder did not run (a panic, a dropped runtime):
    /// plain syscalls only.
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
        let members = self.lineage.scan();
        self.lineage.signal(&members, Signal::SIGKILL);
    }
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(cmd: &mut Command) {
    let host = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (prctl, getppid) and builds errors without allocating.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The host may have died before the prctl: then nobody would ever kill us.
            if nix::unistd::getppid() != host {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_cmd: &mut Command) {}

struct SpawnJob {
    cmd: Command,
    runtime: tokio::runtime::Handle,
    reply: tokio::sync::oneshot::Sender<io::Result<Child>>,
}

/// Spawns `cmd` on the long-lived spawner thread, inside the caller's runtime.
async fn spawn_on_spawner_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<std::sync::mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("molecule-spawner".into())
            .spawn(move || {
                orphans::become_subreaper();
                for mut job in rx {
                    let _guard = job.runtime.enter();
                    let _ = job
                        .reply
                        .send(orphans::spawn_leader(|| job.cmd.spawn(), Child::id));
                }
            })
            .ok()
            .map(|_| tx)
    });
    let Some(spawner) = spawner else {
        let mut cmd = cmd;
        return orphans::spawn_leader(|| cmd.spawn(), Child::id);
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = SpawnJob {
        cmd,
        runtime: tokio::runtime::Handle::current(),
        reply,
    };
    spawner
        .send(job)
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    answer
        .await
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}
