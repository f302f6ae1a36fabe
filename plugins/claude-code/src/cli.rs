//! The command line, and its validation into a [`Config`].

use crate::config::{Config, ConfigError, PermissionMode, Timers};
use crate::peer_tools::PeerTools;
use clap::Parser;
use molecule_plugin::protocol::duration::parse_duration;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Put Claude Code (the `claude` CLI) behind a Molecule workspace: every agent or person who
/// messages the workspace talks to Claude, each in a conversation of their own.
///
/// Run it under the host:
/// `molecule connect <workspace-id> --backend-cmd "molecule-claude-code --cwd ~/project"`.
/// Arguments after `--` are passed to every `claude` run as they are.
#[derive(Debug, Parser)]
#[command(name = "molecule-claude-code", version)]
pub struct Args {
    /// The `claude` executable [default: `claude` on PATH].
    #[arg(long, value_name = "PATH", env = "MOLECULE_CLAUDE_BIN")]
    pub claude_bin: Option<PathBuf>,
    /// The directory Claude works in (`~` is expanded) [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The model: an alias (`sonnet`, `opus`, `haiku`) or a full model id.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Claude's permission mode. With `default`, Claude may read files and run read-only
    /// commands inside --cwd; writes, reads outside it and other tools need --allowed-tools,
    /// and each denied use is reported to the sender.
    #[arg(long, value_enum, default_value_t = PermissionMode::Default)]
    pub permission_mode: PermissionMode,
    /// Tools Claude may use without asking, e.g. `Read`, `Bash(git log:*)` (repeat the flag or
    /// separate them with commas).
    #[arg(long, value_name = "RULE")]
    pub allowed_tools: Vec<String>,
    /// Text appended to Claude's system prompt (before the backend's note on who is writing).
    #[arg(long, value_name = "TEXT")]
    pub append_system_prompt: Option<String>,
    /// A file that replaces Claude's system prompt (the backend's note is still appended).
    #[arg(long, value_name = "PATH")]
    pub system_prompt_file: Option<PathBuf>,
    /// The most model responses Claude may use for one message (at least 1). A message
    /// answered without tools takes one; when the last allowed response still asks for a
    /// tool, the tool runs and Claude stops without answering.
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// How long one message may take before the backend stops Claude and tells the sender
    /// (e.g. `90s`, `10m`) [default: just under the host's request timeout].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub turn_timeout: Option<Duration>,
    /// How many messages (of different conversations) Claude answers at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub max_concurrency: u32,
    /// Serve up to N workspaces from this one process when the host shares processes
    /// (`molecule run`, SPEC §17): each keeps its own sessions, state directory and peer tools,
    /// and --max-concurrency then counts the turns of them all.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        env = "MOLECULE_CLAUDE_MAX_WORKSPACES"
    )]
    pub max_workspaces: u32,
    /// Let Claude use every tool without asking. Anyone who can message the workspace can
    /// then run commands on this machine as this user.
    #[arg(long)]
    pub dangerously_skip_permissions: bool,
    /// Where the conversation → session map is kept [default: the host's MOLECULE_STATE_DIR].
    #[arg(long, value_name = "DIR", env = "MOLECULE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// How many conversations the session map remembers; the least recently used go first.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_sessions: usize,
    /// Conversations idle longer than this start a fresh Claude session (e.g. `30d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30d")]
    pub session_max_age: Duration,
    /// Do not give Claude the workspace's peer tools (list_peers, send_message_to_peer,
    /// workspace_info, send_message_to_user through `molecule mcp`), which it otherwise gets
    /// whenever the host serves peer calls (MOLECULE_HOST_SOCKET is set).
    #[arg(long)]
    pub no_peer_tools: bool,
    /// The host's socket for peer calls; the host sets it.
    #[arg(long, hide = true, value_name = "PATH", env = "MOLECULE_HOST_SOCKET")]
    pub host_socket: Option<PathBuf>,
    /// The host executable, which serves the peer tools as `<exe> mcp`; the host sets it.
    #[arg(long, hide = true, value_name = "PATH", env = "MOLECULE_HOST_EXE")]
    pub host_exe: Option<PathBuf>,
    /// Between SIGTERM and SIGKILL when a turn is stopped.
    #[arg(long, hide = true, value_parser = parse_duration, default_value = "3s",
          env = "MOLECULE_CLAUDE_KILL_GRACE")]
    pub kill_grace: Duration,
    /// How long `claude` may linger after its result line before it is stopped.
    #[arg(long, hide = true, value_parser = parse_duration, default_value = "5s",
          env = "MOLECULE_CLAUDE_EXIT_GRACE")]
    pub exit_grace: Duration,
    /// The progress timer [default: a quarter of the host's idle timeout, at least 1 s].
    #[arg(long, hide = true, value_parser = parse_duration, env = "MOLECULE_CLAUDE_PROGRESS_INTERVAL")]
    pub progress_interval: Option<Duration>,
    /// Check the claude CLI (found, a supported version, logged in), print one JSON line per
    /// check and exit: what `molecule doctor` asks.
    #[arg(long)]
    pub check: bool,
    /// Extra arguments for every `claude` run.
    #[arg(last = true, value_name = "CLAUDE_ARGS")]
    pub extra: Vec<OsString>,
}

impl Args {
    /// Validates the arguments into a configuration, resolving paths.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        if let Some(n) = self.max_turns
            && n < 1
        {
            return Err(ConfigError::MaxTurns(n));
        }
        if self.max_concurrency == 0 {
            return Err(ConfigError::Concurrency);
        }
        if self.dangerously_skip_permissions {
            check_may_bypass()?;
        }
        let cwd = match self.cwd {
            Some(dir) => expand_tilde(&dir),
            None => std::env::current_dir().map_err(|e| ConfigError::Cwd(PathBuf::new(), e))?,
        };
        let cwd = cwd
            .canonicalize()
            .map_err(|e| ConfigError::Cwd(cwd.clone(), e))?;
        if !cwd.is_dir() {
            return Err(ConfigError::NotADirectory(cwd));
        }
        let system_prompt_file = match self.system_prompt_file {
            Some(f) => {
                let f = expand_tilde(&f);
                Some(
                    f.canonicalize()
                        .map_err(|e| ConfigError::PromptFile(f.clone(), e))?,
                )
            }
            None => None,
        };
        let allowed_tools = self
            .allowed_tools
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Config {
            claude_bin: resolve_claude(self.claude_bin.as_deref())?,
            installed: crate::installed::Installed::assumed(),
            cwd,
            model: self.model,
            permission_mode: self.permission_mode,
            skip_permissions: self.dangerously_skip_permissions,
            allowed_tools,
            append_system_prompt: self.append_system_prompt,
            system_prompt_file,
            max_turns: self.max_turns,
            turn_timeout: self.turn_timeout,
            extra_args: self.extra,
            max_concurrency: self.max_concurrency,
            state_dir: self.state_dir.map(|d| expand_tilde(&d)),
            max_sessions: self.max_sessions.max(1),
            session_max_age: self.session_max_age,
            timers: Timers {
                kill_grace: self.kill_grace,
                exit_grace: self.exit_grace,
                progress_interval: self.progress_interval,
            },
            max_workspaces: self.max_workspaces.max(1),
            peer_tools: if self.no_peer_tools {
                None
            } else {
                PeerTools::from_env(self.host_socket, self.host_exe.clone())
            },
            more_peer_tools: (!self.no_peer_tools).then_some(self.host_exe),
        })
    }
}

/// Claude refuses to skip permissions as root outside a sandbox; say so at start-up rather
/// than on every message.
fn check_may_bypass() -> Result<(), ConfigError> {
    let sandboxed = std::env::var_os("IS_SANDBOX").is_some_and(|v| !v.is_empty() && v != "0");
    if nix::unistd::geteuid().is_root() && !sandboxed {
        return Err(ConfigError::BypassAsRoot);
    }
    Ok(())
}

/// The `claude` to run: the given path, a name looked up on PATH, or `claude` on PATH.
pub(crate) fn resolve_claude(given: Option<&Path>) -> Result<PathBuf, ConfigError> {
    let wanted = given.map_or_else(|| PathBuf::from("claude"), expand_tilde);
    let found = if wanted.components().count() > 1 {
        wanted.is_file().then(|| wanted.clone())
    } else {
        which::which(&wanted).ok()
    };
    let found = found.ok_or_else(|| ConfigError::ClaudeMissing(wanted.clone()))?;
    found
        .canonicalize()
        .map_err(|_| ConfigError::ClaudeMissing(wanted))
}

/// `~` and `~/…` become the home directory; anything else is returned as it is.
pub fn expand_tilde(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix("~") else {
        return path.to_owned();
    };
    match dirs::home_dir() {
        Some(home) => home.join(rest),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_means_home() {
        let home = dirs::home_dir().unwrap();
        assert_eq!(expand_tilde(Path::new("~/p")), home.join("p"));
        assert_eq!(expand_tilde(Path::new("~")), home);
        assert_eq!(expand_tilde(Path::new("/a/~")), PathBuf::from("/a/~"));
    }

    #[test]
    fn max_turns_of_zero_is_refused_and_one_accepted() {
        let args = Args::parse_from(["x", "--claude-bin", "/bin/sh", "--max-turns", "0"]);
        let err = args.into_config().unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        let args = Args::parse_from(["x", "--claude-bin", "/bin/sh", "--max-turns", "1"]);
        assert_eq!(args.into_config().unwrap().max_turns, Some(1));
    }

    #[test]
    fn a_missing_claude_says_how_to_install_it() {
        let args = Args::parse_from(["x", "--claude-bin", "/nonexistent/claude"]);
        let err = args.into_config().unwrap_err().to_string();
        assert!(
            err.contains("npm install -g @anthropic-ai/claude-code"),
            "{err}"
        );
        assert!(err.contains("/nonexistent/claude"), "{err}");
    }

    #[test]
    fn the_cwd_is_canonical() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a");
        std::fs::create_dir(&sub).unwrap();
        let dotted = dir.path().join("a/../a/.");
        let args = Args::parse_from([
            "x".as_ref(),
            "--claude-bin".as_ref(),
            "/bin/sh".as_ref(),
            "--cwd".as_ref(),
            dotted.as_os_str(),
        ]);
        let config = args.into_config().unwrap();
        assert_eq!(config.cwd, sub.canonicalize().unwrap());
    }
}
