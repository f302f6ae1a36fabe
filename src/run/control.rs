//! How `molecule run --reload` finds the running process: it writes its pid, 0600, to a file
//! named for the run file's absolute path (and its shard) in the state root, and `--reload`
//! sends SIGHUP to that pid once it has checked the process is a `molecule run`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use molecule_host::connect::statedir;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::RunArgs;
use super::shard::Shard;

/// The exit code of `--reload` when nothing runs.
pub const NOT_RUNNING: u8 = 3;

/// The pid file of this run: `--pid-file`, or `run-<hash>.pid` in the state root.
pub fn pid_file(args: &RunArgs, shard: Option<Shard>) -> Result<PathBuf, String> {
    if let Some(p) = &args.pid_file {
        return Ok(p.clone());
    }
    let one = statedir::resolve(None, uuid::Uuid::nil()).map_err(|e| e.to_string())?;
    let root = one.parent().ok_or("no state root")?.to_owned();
    let absolute = std::path::absolute(&args.config).map_err(|e| e.to_string())?;
    let mut name = absolute.display().to_string();
    if let Some(s) = shard {
        name.push_str(&format!(" {}/{}", s.index, s.count));
    }
    let hash = fnv(name.as_bytes());
    Ok(root.join(format!("run-{hash:016x}.pid")))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The pid file of the running process; removed when dropped.
pub struct PidFile(PathBuf);

impl PidFile {
    /// Writes this process's pid to `path` (0600, its directory 0700).
    pub fn write(path: &Path) -> std::io::Result<PidFile> {
        if let Some(dir) = path.parent() {
            statedir::create_private_dir(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        writeln!(f, "{}", std::process::id())?;
        Ok(PidFile(path.to_owned()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `--reload`: SIGHUP to the process named in `path`, when it is a `molecule run`.
pub fn reload(path: &Path) -> ExitCode {
    let pid = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok());
    let Some(pid) = pid.filter(|p| is_run(*p)) else {
        eprintln!(
            "error: no molecule run of this file is running (no live pid in {})",
            path.display()
        );
        return ExitCode::from(NOT_RUNNING);
    };
    match kill(Pid::from_raw(pid), Signal::SIGHUP) {
        Ok(()) => {
            println!("asked molecule run (pid {pid}) to read its file again");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot signal pid {pid}: {e}");
            ExitCode::from(NOT_RUNNING)
        }
    }
}

/// Whether `pid` runs `molecule … run …` (a stale file may name a reused pid).
fn is_run(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|b| *b == 0).any(|a| a == b"run")
            && !String::from_utf8_lossy(&c).contains("\0--reload")
    })
}
