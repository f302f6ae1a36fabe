//! Everything the checks share: the backend command and environment, what the checker sends in
//! `initialize`, every timer, and a private state directory for the run.

use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use molecule_protocol::InitializeParams;
use uuid::Uuid;

use super::language::Language;

use molecule_host::backend::{
    BackendCommand, EnvConfig, HostVars, SupervisorConfig, backend_env, initialize_params,
};

/// The workspace id the checker plays: fixed, so that a backend's logs of two runs compare.
pub const WORKSPACE_ID: &str = "0b5e7c3a-4d1f-4e2a-9c8b-6a7d5e4f3c21";

/// Every timer of a run (flags set them; tests use milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Spawn → the `initialize` answer (30 s).
    pub startup: Duration,
    /// How long to wait for any other answer (30 s).
    pub answer: Duration,
    /// `$/cancelRequest` → the answer of a cancelled request (10 s, as the host).
    pub cancel_grace: Duration,
    /// The idle timeout advertised (`limits.idleTimeoutMs`, 5 s): the longest a backend that
    /// advertises `progress` may go without sending `$/progress` while a request runs.
    pub idle: Duration,
    /// stdin closed → the backend exits (5 s, as the spec requires).
    pub eof: Duration,
    /// SIGTERM → the backend exits (5 s).
    pub term: Duration,
    /// Once the backend has exited, how long its pipes and children may take to go (1 s).
    pub exit_grace: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            startup: Duration::from_secs(30),
            answer: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(10),
            idle: Duration::from_secs(5),
            eof: Duration::from_secs(5),
            term: Duration::from_secs(5),
            exit_grace: Duration::from_secs(1),
        }
    }
}

/// What the user asked for, before the plan is made.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The backend command.
    pub command: BackendCommand,
    /// Variables added to the backend's environment.
    pub extra_env: Vec<(OsString, OsString)>,
    /// Timers.
    pub timers: Timers,
    /// The line cap advertised in `initialize` (`limits.maxMessageBytes`).
    pub max_message_bytes: usize,
    /// A message the backend takes a while to answer, for the checks that need a request in
    /// flight.
    pub busy_message: Option<String>,
}

/// Everything the checks share.
#[derive(Debug)]
pub struct Plan {
    /// The backend command.
    pub command: BackendCommand,
    /// The backend's environment, as the host would give it.
    pub env: Vec<(OsString, OsString)>,
    /// Variables the user added (also given when the backend is run "by hand").
    pub extra_env: Vec<(OsString, OsString)>,
    /// The `initialize` params, offering the current protocol version.
    pub init: InitializeParams,
    /// Timers.
    pub timers: Timers,
    /// The advertised line cap.
    pub max_message_bytes: usize,
    /// See [`Settings::busy_message`].
    pub busy_message: Option<String>,
    /// The workspace id the checker plays.
    pub workspace: Uuid,
    /// The backend's language, when the command shows it.
    pub language: Option<Language>,
    state: StateDir,
}

impl Plan {
    /// Makes the plan, creating the state directory (0700) the backend is given.
    pub fn new(settings: Settings) -> std::io::Result<Plan> {
        let state = StateDir::create()?;
        let workspace = Uuid::parse_str(WORKSPACE_ID).unwrap_or_else(|_| Uuid::nil());
        let mut config =
            SupervisorConfig::new(settings.command.clone(), WORKSPACE_ID, state.path.clone());
        config.max_message_bytes = settings.max_message_bytes;
        config.timeouts.request = settings.timers.answer;
        config.timeouts.cancel_grace = settings.timers.cancel_grace;
        config.timeouts.idle = Some(settings.timers.idle);
        config.env = EnvConfig {
            extra: settings.extra_env.clone(),
            ..EnvConfig::default()
        };
        let vars = HostVars {
            workspace_id: WORKSPACE_ID.into(),
            state_dir: state.path.clone(),
        };
        Ok(Plan {
            env: backend_env(&config.env, &vars),
            init: initialize_params(&config),
            language: Language::of(&settings.command),
            command: settings.command,
            extra_env: settings.extra_env,
            timers: settings.timers,
            max_message_bytes: settings.max_message_bytes,
            busy_message: settings.busy_message,
            workspace,
            state,
        })
    }

    /// The backend's state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state.path
    }
}

/// A 0700 directory removed at the end of the run.
#[derive(Debug)]
struct StateDir {
    path: PathBuf,
}

impl StateDir {
    fn create() -> std::io::Result<StateDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("molecule-backend-check-{}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(StateDir { path })
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
