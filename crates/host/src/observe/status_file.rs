//! The status file, `<state>/status.json`: a running connect's [`Snapshot`], rewritten every
//! couple of seconds and soon after every change, so that `molecule status` can tell how it
//! is without touching the platform. Written atomically, 0600, in the 0700 state directory.
//!
//! A file says when it was written and how often it is rewritten; a reader takes one that is
//! several intervals old, or whose directory's lock nobody holds, for the trace of a process
//! that is gone ([`Liveness`]).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};
use tokio_util::sync::CancellationToken;

use super::snapshot::{FORMAT, Snapshot};
use super::vitals::{Vitals, unix_ms};
use crate::private_dir;

/// The file's name in the state directory.
pub const FILE: &str = "status.json";

/// How often the file is rewritten when nothing changes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// The shortest gap between two writes: a burst of changes is one write.
const MIN_GAP: Duration = Duration::from_millis(100);

/// A file older than this many intervals is stale.
const STALE_INTERVALS: u64 = 3;

/// Keeps `dir`'s status file current until `stop` fires, then writes it once more.
pub async fn keep(dir: PathBuf, vitals: Arc<Vitals>, stop: CancellationToken) {
    let path = dir.join(FILE);
    let mut failing = false;
    loop {
        let snap = vitals.snapshot();
        let written = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || write(&path, &snap)).await
        };
        match written {
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(path = %path.display(), "cannot write the status file: {e}");
            }
            Ok(Ok(())) => failing = false,
            _ => {}
        }
        if stop.is_cancelled() {
            return;
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(vitals.status_every) => {}
            () = vitals.changed.notified() => tokio::time::sleep(MIN_GAP).await,
        }
    }
}

fn write(path: &Path, snap: &Snapshot) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(snap).map_err(io::Error::other)?;
    bytes.push(b'\n');
    private_dir::write_atomic(path, &bytes)
}

/// Why a status file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No file: no connect ever served from this directory (or one older than the file).
    #[error("no status file at {0}")]
    Missing(PathBuf),
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Not a status file of this version.
    #[error("{path} is not a status file this molecule reads: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Reads `dir`'s status file.
pub fn read(dir: &Path) -> Result<Snapshot, ReadError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::Missing(path)),
        Err(source) => return Err(ReadError::Io { path, source }),
    };
    let invalid = |reason: String| ReadError::Invalid {
        path: path.clone(),
        reason,
    };
    let snap: Snapshot = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if snap.format != FORMAT {
        return Err(invalid(format!(
            "format {} (this one reads {FORMAT})",
            snap.format
        )));
    }
    Ok(snap)
}

/// Whether the process that wrote a status file still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// It holds the directory's lock and wrote the file recently.
    Running,
    /// Nobody holds the lock: the process is gone.
    NotRunning,
    /// The lock is held but the file has not been rewritten for this long: hung, or another
    /// program holds the lock.
    Stale(Duration),
}

impl Liveness {
    /// Judges `snap`, read from `dir`, at `now`.
    pub fn of(dir: &Path, snap: &Snapshot, now: SystemTime) -> Liveness {
        if !lock_held(dir) {
            return Liveness::NotRunning;
        }
        let age = unix_ms(now).saturating_sub(snap.written_ms);
        if age > STALE_INTERVALS * snap.interval_ms.max(1) + 1_000 {
            return Liveness::Stale(Duration::from_millis(age));
        }
        Liveness::Running
    }
}

/// Whether some process holds `dir`'s lock (a shared lock is tried and given back at once,
/// so a connect starting meanwhile is not refused).
pub fn lock_held(dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(dir.join("lock")) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_released_on_drop) => false,
        Err((_, errno)) => errno == nix::errno::Errno::EWOULDBLOCK,
    }
}
