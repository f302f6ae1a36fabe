//! [`Places`]: what the backend keeps per workspace when one process serves several (SPEC §17,
//! `--max-workspaces`). The workspace of `initialize` uses what the process was started with
//! (its session map in `MOLECULE_STATE_DIR`, its host socket); each workspace opened later gets
//! its own session map and attachments in the state directory the host gave it, its own peer
//! tools on its own socket, and Claude runs for it with that workspace's `MOLECULE_*`
//! variables, so no conversation, file or peer call crosses from one workspace to another.

use crate::config::Config;
use crate::peer_tools::PeerTools;
use crate::sessions::SessionStore;
use molecule_plugin::Workspace;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One workspace's own state.
pub struct Place {
    /// Its conversation → Claude session map.
    pub sessions: Mutex<SessionStore>,
    /// Where its messages' attachments are written.
    pub attachments: PathBuf,
    /// The environment Claude runs in for it.
    pub env: Vec<(OsString, OsString)>,
    /// Its peer tools.
    pub tools: Option<PeerTools>,
}

/// The places of the workspaces open in this process.
pub struct Places {
    first: Arc<Place>,
    more: Mutex<HashMap<String, Arc<Place>>>,
}

impl Places {
    /// The places of a process started with `config`, whose first workspace's map is
    /// `sessions` and whose turns run in `env`.
    pub fn new(config: &Config, sessions: SessionStore, env: Vec<(OsString, OsString)>) -> Self {
        let first = Place {
            sessions: Mutex::new(sessions),
            attachments: attachments(config.state_dir.clone(), "molecule-claude-code"),
            env,
            tools: config.peer_tools.clone(),
        };
        Places {
            first: Arc::new(first),
            more: Mutex::new(HashMap::new()),
        }
    }

    /// The place of the workspace `id`: its own once opened, else the first's.
    pub fn of(&self, id: &str) -> Arc<Place> {
        let more = lock(&self.more);
        more.get(&id.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| self.first.clone())
    }

    /// Makes the place of `ws`, opened with `workspace/open`: its session map is read from
    /// its state directory (an unreadable one refuses the workspace).
    pub fn open(&self, config: &Config, ws: &Workspace) -> Result<(), String> {
        let dir = ws.state_dir.clone();
        let sessions =
            SessionStore::open(dir.as_deref(), config.max_sessions, config.session_max_age)
                .map_err(|e| e.to_string())?;
        let temp = format!("molecule-claude-code-{}", ws.id);
        let attachments = attachments(dir, &temp);
        let tools = config
            .more_peer_tools
            .clone()
            .and_then(|exe| PeerTools::from_env(ws.host_socket.clone(), exe));
        let place = Place {
            sessions: Mutex::new(sessions),
            attachments,
            env: workspace_env(&self.first.env, ws),
            tools,
        };
        lock(&self.more).insert(ws.id.to_ascii_lowercase(), Arc::new(place));
        Ok(())
    }

    /// Forgets the place of `id` (`workspace/close`); its session map is on disk already.
    pub fn close(&self, id: &str) {
        lock(&self.more).remove(&id.to_ascii_lowercase());
    }
}

/// `env` with the workspace's own `MOLECULE_WORKSPACE_ID`, `MOLECULE_STATE_DIR` and
/// `MOLECULE_HOST_SOCKET` (or none, where it has none) in place of the first workspace's.
fn workspace_env(env: &[(OsString, OsString)], ws: &Workspace) -> Vec<(OsString, OsString)> {
    const OWN: [&str; 3] = [
        "MOLECULE_WORKSPACE_ID",
        "MOLECULE_STATE_DIR",
        "MOLECULE_HOST_SOCKET",
    ];
    let mut out: Vec<(OsString, OsString)> = env
        .iter()
        .filter(|(k, _)| !OWN.iter().any(|o| k == o))
        .cloned()
        .collect();
    out.push((OWN[0].into(), ws.id.clone().into()));
    if let Some(dir) = &ws.state_dir {
        out.push((OWN[1].into(), dir.clone().into()));
    }
    if let Some(socket) = &ws.host_socket {
        out.push((OWN[2].into(), socket.clone().into()));
    }
    out
}

/// Where a workspace's attachments are written: under its state directory, else under
/// `temp` in the system's temporary directory.
fn attachments(state_dir: Option<PathBuf>, temp: &str) -> PathBuf {
    state_dir
        .unwrap_or_else(|| std::env::temp_dir().join(temp))
        .join("attachments")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
