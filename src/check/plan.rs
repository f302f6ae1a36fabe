//! Everything the checks share: the backend command and environment, what the checker sends in
//! `initialize` (every host method listed), every timer, the scripted host and its socket, and
//! a private directory for the run (the backend's state directory and the socket live in it).

use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use molecule_protocol::InitializeParams;
use uuid::Uuid;

use std::os::unix::net::UnixListener as StdUnixListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use molecule_protocol::methods::name;

use super::host::{ScriptedHost, socket};
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
    /// A message that makes the backend call the host.
    pub host_call_message: Option<String>,
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
    /// A message that makes the backend call the host, for the `host-calls.*` checks.
    pub host_call_message: Option<String>,
    /// The host the checker plays for the backend's calls, on stdio and on the socket.
    pub host: Arc<ScriptedHost>,
    /// The socket named in `MOLECULE_HOST_SOCKET`, bound and waiting to be served.
    socket: Mutex<Option<StdUnixListener>>,
    /// The backend advertised `maxWorkspaces` above 1: requests name their workspace.
    many_workspaces: AtomicBool,
    /// The run's directory, removed when the plan is dropped.
    dir: StateDir,
}

impl Plan {
    /// Makes the plan, creating the state directory (0700) the backend is given.
    pub fn new(settings: Settings) -> std::io::Result<Plan> {
        let state = StateDir::create()?;
        let backend_state = state.path.join("state");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&backend_state)?;
        // Inside a 0700 directory: only this user can connect.
        let socket_path = state.path.join("host.sock");
        let socket = StdUnixListener::bind(&socket_path)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .ok();
        let workspace = Uuid::parse_str(WORKSPACE_ID).unwrap_or_else(|_| Uuid::nil());
        let mut config = SupervisorConfig::new(
            settings.command.clone(),
            WORKSPACE_ID,
            backend_state.clone(),
        );
        config.max_message_bytes = settings.max_message_bytes;
        config.timeouts.request = settings.timers.answer;
        config.timeouts.cancel_grace = settings.timers.cancel_grace;
        config.timeouts.idle = Some(settings.timers.idle);
        config.env = EnvConfig {
            extra: settings.extra_env.clone(),
            host_socket: socket.as_ref().map(|_| socket_path),
            ..EnvConfig::default()
        };
        let vars = HostVars {
            workspace_id: WORKSPACE_ID.into(),
            state_dir: backend_state,
        };
        let mut init = initialize_params(&config);
        init.capabilities.host_methods =
            name::HOST_METHODS.iter().map(|m| (*m).to_owned()).collect();
        Ok(Plan {
            env: backend_env(&config.env, &vars),
            init,
            host_call_message: settings.host_call_message,
            host: Arc::default(),
            socket: Mutex::new(socket),
            language: Language::of(&settings.command),
            command: settings.command,
            extra_env: settings.extra_env,
            timers: settings.timers,
            max_message_bytes: settings.max_message_bytes,
            busy_message: settings.busy_message,
            workspace,
            many_workspaces: AtomicBool::new(false),
            dir: state,
        })
    }

    /// Records what the handshake said: the backend serves several workspaces.
    pub fn set_many_workspaces(&self, many: bool) {
        self.many_workspaces.store(many, Ordering::Relaxed);
    }

    /// Whether the backend serves several workspaces (SPEC §17).
    pub fn many_workspaces(&self) -> bool {
        self.many_workspaces.load(Ordering::Relaxed)
    }

    /// A fresh 0700 state directory for another workspace the checker opens.
    pub fn workspace_dir(&self, workspace: &Uuid) -> std::io::Result<PathBuf> {
        let dir = self.dir.path.join(format!("workspace-{workspace}"));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(dir)
    }

    /// The path of the host socket, when it is served.
    pub fn socket_path(&self) -> Option<&std::ffi::OsStr> {
        self.env
            .iter()
            .find(|(k, _)| k == "MOLECULE_HOST_SOCKET")
            .map(|(_, v)| v.as_os_str())
    }

    /// Starts serving the host socket, once; must be called within the runtime. The task ends
    /// when the runtime does.
    pub fn serve_socket(&self) {
        let taken = self.socket.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(listener) = taken.and_then(|l| tokio::net::UnixListener::from_std(l).ok()) {
            tokio::spawn(socket::serve(listener, self.host.clone()));
        }
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
