//! The processes a previous host of the same state directory left behind: the detached
//! descendants of a backend whose host was killed with `SIGKILL` (the kernel then ends the
//! backend, but nothing ends what it detached with a double fork; they are reparented to
//! init). Every backend process carries `MOLECULE_BACKEND=1` and `MOLECULE_STATE_DIR` in its
//! environment, and its descendants inherit them; a host that holds the state directory's
//! lock knows no other host of that directory runs, so any such process of the same user is a
//! leftover, and it is ended before the new backend starts. The host's own descendants are
//! never leftovers: under `molecule run` a backend process shared by several workspaces carries
//! the state directory of the workspace it was started for, and serves on after that workspace
//! restarts.

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
        .filter(|pid| !descends_from(*pid, me))
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

/// Whether `ancestor` is among `pid`'s parents.
fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut at = pid;
    // A bound, in case the table changes under the walk into a cycle.
    for _ in 0..256 {
        match molecule_proc::read_proc(at).map(|p| p.ppid) {
            Some(parent) if parent == ancestor => return true,
            Some(parent) if parent > 1 => at = parent,
            _ => return false,
        }
    }
    false
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

    /// Starts `sleep 30` detached (its parent exits), marked as a backend of `state`.
    fn detached(state: &Path) -> i32 {
        let out = Command::new("sh")
            .args(["-c", "sleep 30 >/dev/null 2>&1 & echo $!"])
            .env("MOLECULE_BACKEND", "1")
            .env("MOLECULE_STATE_DIR", state)
            .output()
            .expect("sh");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pid")
    }

    fn running(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        })
    }

    #[test]
    fn only_detached_processes_marked_with_this_state_directory_are_ended() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        let (ours, theirs) = (detached(dir.path()), detached(other.path()));
        let mut own_child = Command::new("sleep")
            .arg("30")
            .env("MOLECULE_BACKEND", "1")
            .env("MOLECULE_STATE_DIR", dir.path())
            .spawn()
            .expect("sleep");
        let swept = sweep(dir.path());
        assert_eq!(swept, vec![ours]);
        for _ in 0..200 {
            if !running(ours) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!running(ours), "the leftover was ended");
        assert!(running(theirs), "another directory's process runs on");
        assert!(
            own_child.try_wait().expect("try_wait").is_none(),
            "this process's own backend runs on"
        );
        let _ = kill(Pid::from_raw(theirs), Signal::SIGKILL);
        let _ = own_child.kill();
        let _ = own_child.wait();
    }
}
