//! The processes a previous host of the same state directory left behind: the detached
//! descendants of a backend whose host was killed with `SIGKILL` (the kernel then ends the
//! backend, but nothing ends what it detached with a double fork; they are reparented to
//! init). Every backend process carries `MOLECULE_BACKEND=1` and `MOLECULE_STATE_DIR` in its
//! environment, and its descendants inherit them; a host that holds the state directory's
//! lock knows no other host of that directory runs, so any such process of the same user is a
//! leftover, and it is ended before the new backend starts.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, geteuid};

/// Ends (SIGKILL) the processes of this user whose environment names them a backend of
/// `state_dir`; returns their pids. Call it only while holding the state directory's lock.
pub fn sweep(state_dir: &Path) -> Vec<i32> {
    let dir = format!("MOLECULE_STATE_DIR={}", state_dir.display());
    let me = std::process::id() as i32;
    let uid = geteuid().as_raw();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let pids: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid))
        .filter(|pid| is_backend_of(*pid, dir.as_bytes()))
        .collect();
    for pid in &pids {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    if !pids.is_empty() {
        tracing::warn!(
            pids = ?pids,
            "ended {} process(es) a previous host of this state directory left running",
            pids.len()
        );
    }
    pids
}

/// Whether `pid`'s environment has `MOLECULE_BACKEND=1` and the state directory `dir_var`.
fn is_backend_of(pid: i32, dir_var: &[u8]) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let mut vars = env.split(|b| *b == 0);
    let (mut backend, mut dir) = (false, false);
    for v in &mut vars {
        backend |= v == b"MOLECULE_BACKEND=1";
        dir |= v == dir_var;
    }
    backend && dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn only_processes_marked_with_this_state_directory_are_ended() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        let spawn = |state: &Path| {
            Command::new("sleep")
                .arg("30")
                .env("MOLECULE_BACKEND", "1")
                .env("MOLECULE_STATE_DIR", state)
                .spawn()
                .expect("sleep")
        };
        let (mut ours, mut theirs) = (spawn(dir.path()), spawn(other.path()));
        let swept = sweep(dir.path());
        assert_eq!(swept, vec![ours.id() as i32]);
        assert!(
            ours.wait().expect("wait").code().is_none(),
            "killed by a signal"
        );
        assert!(
            theirs.try_wait().expect("try_wait").is_none(),
            "the other one runs on"
        );
        let _ = theirs.kill();
        let _ = theirs.wait();
    }
}
