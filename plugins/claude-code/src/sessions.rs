//! The conversation → Claude session map, kept in a versioned 0600 file under the state
//! directory so that a restarted backend resumes every recent conversation.
//!
//! The map is capped twice: entries idle longer than the age limit are dropped, and beyond the
//! size cap the least recently used go first, so months of peers do not grow it without bound.
//! Each entry records the working directory its session was created in, because Claude finds a
//! session's transcript through the cwd: a conversation whose cwd changed starts afresh.
//! Writes are atomic (temporary file, fsync, rename, fsync of the directory).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "claude-sessions.json";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;

/// Why the session map could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("cannot {what} {path:?}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file was written by a newer build.
    #[error(
        "{path:?} has format version {found}, newer than this build's {VERSION}: upgrade \
         molecule-claude-code, or move the file away to start every conversation afresh"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

/// One conversation's session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Claude's session id.
    pub session_id: String,
    /// The canonical working directory the session lives in.
    pub cwd: PathBuf,
    /// When the conversation last had a turn, in Unix milliseconds.
    pub last_used_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    #[serde(default)]
    sessions: BTreeMap<String, Entry>,
}

/// The map, in memory and (when it has a directory) on disk.
#[derive(Debug)]
pub struct SessionStore {
    path: Option<PathBuf>,
    sessions: BTreeMap<String, Entry>,
    max: usize,
    max_age: Duration,
}

impl SessionStore {
    /// Opens the map in `dir` (created 0700 when missing), or keeps it in memory when `dir` is
    /// `None`. A corrupt file is moved aside (`….corrupt`) and the map starts empty: losing it
    /// only means fresh sessions. A file from a newer build is refused, never overwritten.
    pub fn open(dir: Option<&Path>, max: usize, max_age: Duration) -> Result<Self, StoreError> {
        let mut store = SessionStore {
            path: None,
            sessions: BTreeMap::new(),
            max: max.max(1),
            max_age,
        };
        let Some(dir) = dir else { return Ok(store) };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| io_err("create", dir, source))?;
        let path = dir.join(FILE_NAME);
        match fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<OnDisk>(&bytes) {
                Ok(file) if file.version > VERSION => {
                    return Err(StoreError::Version {
                        path,
                        found: file.version,
                    });
                }
                Ok(file) => store.sessions = file.sessions,
                Err(e) => {
                    let aside = path.with_extension("json.corrupt");
                    fs::rename(&path, &aside)
                        .map_err(|source| io_err("move aside", &path, source))?;
                    crate::log::warn(&format!(
                        "the session map {path:?} was unreadable ({e}); moved it to {aside:?} and started afresh"
                    ));
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(io_err("read", &path, source)),
        }
        store.path = Some(path);
        store.evict(now_ms());
        Ok(store)
    }

    /// The session of `key` if it is recent and was made in `cwd`; otherwise forgets it.
    pub fn lookup(&mut self, key: &str, cwd: &Path, now_ms: u64) -> Option<String> {
        let entry = self.sessions.get(key)?;
        if entry.cwd == cwd && !self.expired(entry, now_ms) {
            return Some(entry.session_id.clone());
        }
        self.sessions.remove(key);
        None
    }

    /// Records `session_id` for `key`, evicts what the caps say, and saves.
    pub fn put(
        &mut self,
        key: &str,
        session_id: &str,
        cwd: &Path,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let entry = Entry {
            session_id: session_id.to_owned(),
            cwd: cwd.to_owned(),
            last_used_ms: now_ms,
        };
        self.sessions.insert(key.to_owned(), entry);
        self.evict(now_ms);
        self.save()
    }

    /// Forgets `key` and saves.
    pub fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        if self.sessions.remove(key).is_some() {
            self.save()?;
        }
        Ok(())
    }

    /// How many conversations are remembered.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no conversation is remembered.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The remembered session of `key`, as it is.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.sessions.get(key)
    }

    fn expired(&self, entry: &Entry, now_ms: u64) -> bool {
        let age = now_ms.saturating_sub(entry.last_used_ms);
        u128::from(age) > self.max_age.as_millis()
    }

    fn evict(&mut self, now_ms: u64) {
        let max_age = self.max_age.as_millis();
        self.sessions
            .retain(|_, e| u128::from(now_ms.saturating_sub(e.last_used_ms)) <= max_age);
        if self.sessions.len() > self.max {
            let mut by_age: Vec<(u64, String)> = self
                .sessions
                .iter()
                .map(|(k, e)| (e.last_used_ms, k.clone()))
                .collect();
            by_age.sort();
            let excess = self.sessions.len() - self.max;
            for (_, key) in by_age.into_iter().take(excess) {
                self.sessions.remove(&key);
            }
        }
    }

    fn save(&self) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = OnDisk {
            version: VERSION,
            sessions: self.sessions.clone(),
        };
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| io_err("encode", path, e.into()))?;
        write_atomic(path, &bytes)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&tmp);
        io_err("write", path, source)
    })
}

fn io_err(what: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn survives_a_reopen_with_0600_in_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let cwd = Path::new("/w");
        let mut s = SessionStore::open(Some(&dir), 10, DAY).unwrap();
        s.put("agent:a", "s-a", cwd, now_ms()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(FILE_NAME)), 0o600);
        let mut again = SessionStore::open(Some(&dir), 10, DAY).unwrap();
        assert_eq!(again.lookup("agent:a", cwd, now_ms()), Some("s-a".into()));
        assert_eq!(
            again.lookup("agent:a", Path::new("/elsewhere"), now_ms()),
            None
        );
        assert_eq!(
            again.lookup("agent:a", cwd, now_ms()),
            None,
            "a cwd change forgets it"
        );
    }

    #[test]
    fn the_cap_evicts_the_least_recently_used_and_age_evicts_the_old() {
        let mut s = SessionStore::open(None, 2, DAY).unwrap();
        let cwd = Path::new("/w");
        s.put("a", "1", cwd, 1_000).unwrap();
        s.put("b", "2", cwd, 2_000).unwrap();
        s.put("a", "1", cwd, 3_000).unwrap();
        s.put("c", "3", cwd, 4_000).unwrap();
        assert!(s.get("b").is_none(), "b was the least recently used");
        assert!(s.get("a").is_some() && s.get("c").is_some());
        let later = 4_000 + DAY.as_millis() as u64 + 1;
        assert_eq!(s.lookup("c", cwd, later), None);
        s.put("d", "4", cwd, later).unwrap();
        assert_eq!(s.len(), 1, "a expired too");
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_and_a_newer_one_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(FILE_NAME);
        fs::write(&path, b"{ not json").unwrap();
        let s = SessionStore::open(Some(tmp.path()), 10, DAY).unwrap();
        assert!(s.is_empty());
        assert!(tmp.path().join("claude-sessions.json.corrupt").exists());
        fs::write(&path, br#"{"version":99,"sessions":{}}"#).unwrap();
        let err = SessionStore::open(Some(tmp.path()), 10, DAY).unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
    }
}
