//! The checks on this machine that need no platform: the state directory (private and
//! writable, as `molecule connect` will create and lock it) and the lock another connect may
//! hold on it.

use std::path::{Path, PathBuf};

use molecule_host::connect::ConnectError;
use molecule_host::connect::statedir::{self, StateDir};
use molecule_host::private_dir;
use uuid::Uuid;

use super::report::Line;

/// The state directory's path (`None` when none can be found) and its two lines: `state` and
/// `lock`. The lock is taken and released at once, as a connect starting now would.
pub fn state_and_lock(explicit: Option<&Path>, workspace: Uuid) -> (Option<PathBuf>, [Line; 2]) {
    let path = match statedir::resolve(explicit, workspace) {
        Ok(p) => p,
        Err(e) => {
            let line = Line::fail("state", e.to_string());
            return (None, [line, Line::skip("lock", "no state directory")]);
        }
    };
    let lines = match StateDir::open(Some(&path), workspace) {
        Ok(dir) => [
            writable(dir.path()),
            Line::ok(
                "lock",
                "free: no other molecule connect uses this state directory",
            ),
        ],
        Err(ConnectError::AlreadyRunning { dir, pid }) => [
            writable(&dir),
            Line::warn(
                "lock",
                format!(
                    "a molecule connect{} serves this workspace from {}: a second one would exit \
                     7; stop it first, or give another --state-dir",
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
                    dir.display()
                ),
            ),
        ],
        Err(e) => [
            Line::fail("state", e.to_string()),
            Line::skip("lock", "the state directory cannot be used"),
        ],
    };
    (Some(path), lines)
}

/// Whether a file can be created in `dir` (owner-only, as the state file will be).
fn writable(dir: &Path) -> Line {
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    match private_dir::create_new(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Line::ok(
                "state",
                format!("{}: owner-only (0700) and writable", dir.display()),
            )
        }
        Err(e) => Line::fail(
            "state",
            format!(
                "cannot write in the state directory {}: {e}; give a directory of your own \
                 (--state-dir / MOLECULE_STATE_DIR)",
                dir.display()
            ),
        ),
    }
}
