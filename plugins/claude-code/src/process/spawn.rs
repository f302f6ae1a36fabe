//! Starting a turn's process: its own process group, piped stdio, an exact environment, and
//! `PR_SET_PDEATHSIG`, all from one long-lived spawner thread.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::sync::mpsc;

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};

/// What to run for one turn.
#[derive(Clone, Debug)]
pub struct TurnCommand {
    /// The executable (the resolved `claude`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Exactly the environment it gets (the caller has removed what must not leak).
    pub env: Vec<(OsString, OsString)>,
    /// Its working directory.
    pub cwd: PathBuf,
}

/// Makes the backend a child subreaper, so that processes a turn leaves behind are reparented
/// to it (where [`super::sweep_orphans`] ends them) instead of to init.
pub fn become_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)?;
    Ok(())
}

/// Spawns `turn` in a process group of its own, with all three stdio streams piped.
pub(super) async fn spawn(turn: &TurnCommand) -> io::Result<Child> {
    let mut cmd = Command::new(&turn.program);
    cmd.args(&turn.args)
        .env_clear()
        .envs(turn.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&turn.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    set_parent_death_signal(&mut cmd);
    spawn_on_spawner_thread(cmd).await
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(cmd: &mut Command) {
    let backend = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (prctl, getppid); it builds its errors without allocating.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The backend may have died before the prctl: then nobody would ever kill us.
            if nix::unistd::getppid() != backend {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_cmd: &mut Command) {
    let _ = Signal::SIGKILL;
}

struct SpawnJob {
    cmd: Command,
    runtime: tokio::runtime::Handle,
    reply: tokio::sync::oneshot::Sender<io::Result<Child>>,
}

/// PDEATHSIG fires when the thread that forked the child ends, and tokio may run a task on a
/// short-lived thread; so every turn is forked by one thread that lives as long as the process.
async fn spawn_on_spawner_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("claude-spawner".into())
            .spawn(move || {
                for mut job in rx {
                    let _guard = job.runtime.enter();
                    let _ = job.reply.send(job.cmd.spawn());
                }
            })
            .ok()
            .map(|_| tx)
    });
    let gone = || io::Error::other("the spawner thread is gone");
    let Some(spawner) = spawner else {
        return Err(gone());
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = SpawnJob {
        cmd,
        runtime: tokio::runtime::Handle::current(),
        reply,
    };
    spawner.send(job).map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}
