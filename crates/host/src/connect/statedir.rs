//! The state directory: where it is, created 0700 and refused when another user could change
//! it ([`private_dir`]), and the advisory lock that lets one `molecule connect` at a time use it.
//!
//! The lock is `flock` on `<state>/lock`: the kernel releases it however the process ends, so a
//! crash never leaves a stale lock behind. The holder writes its pid into the file so a second
//! instance can name it.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use uuid::Uuid;

use super::config::ConfigError;
use super::error::ConnectError;
use crate::private_dir;

/// A locked state directory; the lock is held until this is dropped.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: Flock<File>,
}

impl StateDir {
    /// Resolves the directory (`explicit`, else `molecule/<workspace>` under the user's state
    /// directory, else under the local data directory), creates it 0700 and takes the lock.
    pub fn open(explicit: Option<&Path>, workspace: Uuid) -> Result<StateDir, ConnectError> {
        let path = resolve(explicit, workspace)?;
        create_private_dir(&path).map_err(|source| ConnectError::StateDir {
            path: path.clone(),
            source,
        })?;
        let lock = lock(&path)?;
        Ok(StateDir { path, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state file.
    pub fn state_file(&self) -> PathBuf {
        self.path.join("state.json")
    }

    /// Where a token minted by the platform is saved.
    pub fn token_file(&self) -> PathBuf {
        self.path.join(TOKEN_FILE)
    }

    /// The backend's own state directory.
    pub fn backend_dir(&self) -> PathBuf {
        self.path.join("backend")
    }

    /// Where downloaded canvas uploads go.
    pub fn uploads_dir(&self) -> PathBuf {
        self.path.join("uploads")
    }
}

/// The name of the saved token in the state directory.
pub const TOKEN_FILE: &str = "token";

/// Where the state directory is: `explicit`, else `molecule/<workspace>` under the user's state
/// directory, else under the local data directory.
pub fn resolve(explicit: Option<&Path>, workspace: Uuid) -> Result<PathBuf, ConfigError> {
    Ok(match explicit {
        Some(p) => p.to_owned(),
        None => dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .ok_or(ConfigError::NoStateDir)?
            .join("molecule")
            .join(workspace.to_string()),
    })
}

/// Creates `path` and its missing parents, and makes sure only this user can change it
/// ([`private_dir::ensure`]).
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    private_dir::ensure(path)
}

fn lock(dir: &Path) -> Result<Flock<File>, ConnectError> {
    let path = dir.join("lock");
    let io_err = |source| ConnectError::StateDir {
        path: path.clone(),
        source,
    };
    let file = private_dir::open_nofollow(&path).map_err(io_err)?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(ConnectError::AlreadyRunning {
                dir: dir.to_owned(),
                pid: text.trim().parse().ok(),
            });
        }
        Err((_, errno)) => return Err(io_err(errno.into())),
    };
    // The pid is only a hint for the message above; failing to write it is harmless.
    let _ = lock.set_len(0);
    let _ = lock.rewind();
    let _ = write!(lock, "{}", std::process::id());
    let _ = lock.flush();
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b");
        let ws = Uuid::nil();
        let first = StateDir::open(Some(&path), ws).unwrap();
        let mode = fs::metadata(first.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        match StateDir::open(Some(&path), ws) {
            Err(ConnectError::AlreadyRunning { pid, .. }) => {
                assert_eq!(pid, Some(std::process::id()))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        drop(first);
        StateDir::open(Some(&path), ws).unwrap();
    }
}
