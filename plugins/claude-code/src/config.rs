//! The backend's settings, validated, and why a command line can be refused.

use crate::installed::Installed;
use crate::peer_tools::PeerTools;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Claude's `--permission-mode` values the backend accepts (bypassing permissions has a flag
/// of its own, so it is never chosen by accident).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PermissionMode {
    /// Reads and read-only commands inside the working directory, plus the tools explicitly
    /// allowed; other tool uses are denied in print mode.
    #[default]
    #[value(name = "default")]
    Default,
    /// File edits are accepted.
    #[value(name = "acceptEdits")]
    AcceptEdits,
    /// Plan only, change nothing.
    #[value(name = "plan")]
    Plan,
    /// Deny whatever is not allowed, without asking.
    #[value(name = "dontAsk")]
    DontAsk,
    /// Let Claude decide (newer CLIs).
    #[value(name = "auto")]
    Auto,
}

impl PermissionMode {
    /// The value as `claude` spells it.
    pub fn as_claude_arg(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::DontAsk => "dontAsk",
            PermissionMode::Auto => "auto",
        }
    }
}

/// The timers of a turn; every one is a (hidden) flag so tests run in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Between SIGTERM and SIGKILL when a turn is stopped.
    pub kill_grace: Duration,
    /// How long `claude` may linger after its result line.
    pub exit_grace: Duration,
    /// The progress timer; `None`: a quarter of the host's idle timeout, at least 1 s.
    pub progress_interval: Option<Duration>,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            kill_grace: Duration::from_secs(3),
            exit_grace: Duration::from_secs(5),
            progress_interval: None,
        }
    }
}

/// Everything the backend was told on its command line, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// The resolved `claude` executable.
    pub claude_bin: PathBuf,
    /// Its version and flags, asked at start-up.
    pub installed: Installed,
    /// The canonical working directory of every conversation.
    pub cwd: PathBuf,
    /// `--model`.
    pub model: Option<String>,
    /// `--permission-mode`.
    pub permission_mode: PermissionMode,
    /// `--dangerously-skip-permissions` was given.
    pub skip_permissions: bool,
    /// `--allowedTools` rules.
    pub allowed_tools: Vec<String>,
    /// Operator text appended to the system prompt.
    pub append_system_prompt: Option<String>,
    /// A file that replaces the system prompt.
    pub system_prompt_file: Option<PathBuf>,
    /// `--max-turns` (at least 1).
    pub max_turns: Option<u32>,
    /// The backend's own limit on one message; `None`: just under the host's.
    pub turn_timeout: Option<Duration>,
    /// Extra arguments for every run.
    pub extra_args: Vec<OsString>,
    /// `maxConcurrency` advertised and enforced.
    pub max_concurrency: u32,
    /// Where the session map lives; `None`: in memory only.
    pub state_dir: Option<PathBuf>,
    /// The session map's size cap.
    pub max_sessions: usize,
    /// The session map's age limit.
    pub session_max_age: Duration,
    /// The turn timers.
    pub timers: Timers,
    /// The host's peer tools given to Claude; `None` without a host socket or with
    /// `--no-peer-tools`.
    pub peer_tools: Option<PeerTools>,
    /// `maxWorkspaces` advertised (1: one workspace per process).
    pub max_workspaces: u32,
    /// Peer tools for the workspaces opened later, on their own sockets: `None` with
    /// `--no-peer-tools`, else the host executable (`MOLECULE_HOST_EXE`) when known.
    pub more_peer_tools: Option<Option<PathBuf>>,
}

impl Config {
    /// A configuration with the defaults, for tests and embedding.
    pub fn new(claude_bin: PathBuf, cwd: PathBuf) -> Config {
        Config {
            claude_bin,
            installed: Installed::assumed(),
            cwd,
            model: None,
            permission_mode: PermissionMode::Default,
            skip_permissions: false,
            allowed_tools: Vec::new(),
            append_system_prompt: None,
            system_prompt_file: None,
            max_turns: None,
            turn_timeout: None,
            extra_args: Vec::new(),
            max_concurrency: 2,
            state_dir: None,
            max_sessions: 1000,
            session_max_age: Duration::from_secs(30 * 86_400),
            timers: Timers::default(),
            peer_tools: None,
            max_workspaces: 1,
            more_peer_tools: None,
        }
    }
}

/// Why the command line was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `claude` CLI cannot be found.
    #[error(
        "cannot find the claude CLI ({0:?}): install it with `npm install -g @anthropic-ai/claude-code` \
         (the latest needs Node.js 22 or later; on Node.js 18-21 npm installs 2.1.197, the newest \
         release that supports them), run `claude` once to log in, or pass --claude-bin /path/to/claude"
    )]
    ClaudeMissing(PathBuf),
    /// `--max-turns 0` would stop every message before Claude answers.
    #[error("--max-turns must be at least 1 (got {0})")]
    MaxTurns(u32),
    /// `--max-concurrency 0`.
    #[error("--max-concurrency must be at least 1")]
    Concurrency,
    /// The working directory cannot be resolved.
    #[error("cannot use --cwd {0:?}: {1}")]
    Cwd(PathBuf, #[source] std::io::Error),
    /// The working directory is a file.
    #[error("--cwd {0:?} is not a directory")]
    NotADirectory(PathBuf),
    /// The system prompt file cannot be read.
    #[error("cannot use --system-prompt-file {0:?}: {1}")]
    PromptFile(PathBuf, #[source] std::io::Error),
    /// Claude refuses to skip permissions as root.
    #[error(
        "--dangerously-skip-permissions cannot be used as root: claude refuses it. Run the \
         backend as an unprivileged user, or set IS_SANDBOX=1 if this is a disposable sandbox"
    )]
    BypassAsRoot,
}
