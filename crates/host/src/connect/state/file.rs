//! The state file, `<state>/state.json`: its versioned shape, its validation on load, and the
//! atomic write (temporary file, fsync, rename, directory fsync; mode 0600).
//!
//! A file that cannot be used is a clear error naming the file and what to do, never a loop:
//! the host does not guess which rows were answered.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::key::KeyRecord;
use crate::private_dir;

/// The version this host writes and reads.
pub const VERSION: u32 = 1;

/// What the state file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    /// [`VERSION`].
    pub version: u32,
    /// The workspace this state belongs to.
    pub workspace_id: String,
    /// The newest row such that it and every row before it is settled; `None` before the
    /// first one.
    #[serde(default)]
    pub cursor: Option<KeyRecord>,
    /// Rows after the cursor that are settled already (not to be answered again).
    #[serde(default)]
    pub settled_above: Vec<KeyRecord>,
    /// Rows before the cursor that became visible late and are not settled yet.
    #[serde(default)]
    pub late: Vec<KeyRecord>,
    /// Failed deliveries so far of unsettled rows, by row id.
    #[serde(default)]
    pub attempts: BTreeMap<String, u32>,
    /// Canvas uploads downloaded, by their `platform-pending:` URI.
    #[serde(default)]
    pub uploads: BTreeMap<String, UploadRecord>,
}

/// A downloaded canvas upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The local copy.
    pub path: PathBuf,
    /// When it was saved, in seconds since the epoch.
    pub saved_at: u64,
}

impl StateFile {
    /// An empty state for `workspace`.
    pub fn new(workspace: Uuid) -> Self {
        StateFile {
            version: VERSION,
            workspace_id: workspace.to_string(),
            cursor: None,
            settled_above: Vec::new(),
            late: Vec::new(),
            attempts: BTreeMap::new(),
            uploads: BTreeMap::new(),
        }
    }
}

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// It does not parse, or a row key in it is malformed.
    #[error(
        "the state file {} is corrupt ({reason}); move it away to start over from the --since \
         window (messages in that window may then be answered again)",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// It belongs to another workspace.
    #[error(
        "the state file {} belongs to workspace {found}, not {expected}; give this workspace \
         its own --state-dir",
        path.display()
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// Its workspace.
        found: String,
        /// Ours.
        expected: Uuid,
    },
    /// It was written by a newer host.
    #[error(
        "the state file {} has version {found}, which this molecule ({}) cannot read \
         (it reads version {VERSION}); run a newer molecule",
        path.display(), env!("CARGO_PKG_VERSION")
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
    },
    /// It could not be read or written.
    #[error("cannot {action} the state file {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

impl crate::exit::HasExitCode for StateError {
    fn exit_code(&self) -> u8 {
        match self {
            StateError::Io { .. } => crate::exit::INTERNAL,
            _ => crate::exit::CONFIG,
        }
    }
}

/// Reads and validates the state file; `None` when there is none yet. A temporary file left
/// by a crash mid-write is removed.
pub fn load(path: &Path, workspace: Uuid) -> Result<Option<StateFile>, StateError> {
    let _ = fs::remove_file(private_dir::temp_path(path));
    let text = match read_nofollow(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let corrupt = |reason: String| StateError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(found) => {
            return Err(StateError::Version {
                path: path.to_owned(),
                found,
            });
        }
        None => return Err(corrupt("no version".into())),
    }
    let state: StateFile = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    if Uuid::try_parse(&state.workspace_id).ok() != Some(workspace) {
        return Err(StateError::Foreign {
            path: path.to_owned(),
            found: state.workspace_id,
            expected: workspace,
        });
    }
    let keys = state
        .cursor
        .iter()
        .chain(&state.settled_above)
        .chain(&state.late);
    if let Some(bad) = keys.into_iter().find(|k| k.key().is_none()) {
        return Err(corrupt(format!(
            "row {} has an unreadable created_at {:?}",
            bad.id, bad.created_at
        )));
    }
    Ok(Some(state))
}

/// Writes `state` atomically, mode 0600.
pub fn save(path: &Path, state: &StateFile) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let bytes = serde_json::to_vec(state).map_err(|e| io(std::io::Error::other(e)))?;
    private_dir::write_atomic(path, &bytes).map_err(io)
}

/// Reads `path`, refusing to follow a link in its last component.
fn read_nofollow(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?
        .read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trips_atomically_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let ws = Uuid::new_v4();
        assert!(load(&path, ws).unwrap().is_none());
        let mut state = StateFile::new(ws);
        state.cursor = Some(KeyRecord {
            id: "r1".into(),
            created_at: "2026-05-06T06:42:13.5Z".into(),
            seq: Some(3),
        });
        state.attempts.insert("r2".into(), 2);
        save(&path, &state).unwrap();
        assert_eq!(load(&path, ws).unwrap(), Some(state));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn unusable_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let ws = Uuid::new_v4();
        let cases = [
            ("{not json", "is corrupt"),
            (r#"{"version":9,"workspace_id":"x"}"#, "has version 9"),
            (
                &format!(r#"{{"version":1,"workspace_id":"{}"}}"#, Uuid::nil()),
                "belongs to workspace",
            ),
            (
                &format!(
                    r#"{{"version":1,"workspace_id":"{ws}","cursor":{{"id":"a","created_at":"?"}}}}"#
                ),
                "unreadable created_at",
            ),
        ];
        for (text, expected) in cases {
            fs::write(&path, text).unwrap();
            let e = load(&path, ws).unwrap_err().to_string();
            assert!(e.contains(expected) && e.contains("state.json"), "{e}");
        }
    }
}
