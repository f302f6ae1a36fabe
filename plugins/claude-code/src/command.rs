//! The command line and environment of one `claude` run.
//!
//! The prompt goes on stdin, never in argv, so a message starting with `-` cannot be read as a
//! flag; every value goes in `--flag=value` form, because some of Claude's flags take an
//! optional value and a value starting with `-` would otherwise become a flag of its own.

use crate::config::Config;
use crate::process::TurnCommand;
use std::ffi::OsString;

/// How a turn refers to its Claude session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Session {
    /// A new session with this id (`--session-id=`).
    Fresh(String),
    /// An existing session (`--resume=`).
    Resume(String),
}

impl Session {
    /// The session id.
    pub fn id(&self) -> &str {
        match self {
            Session::Fresh(id) | Session::Resume(id) => id,
        }
    }
}

/// What one turn is: its session, the preamble for the system prompt, and the idempotency
/// key of the `handle_a2a` it answers.
pub struct Turn<'a> {
    /// The Claude session.
    pub session: &'a Session,
    /// Appended to the system prompt.
    pub preamble: &'a str,
    /// The delivery's idempotency key, for the peer tools' message ids.
    pub idempotency_key: &'a str,
    /// The peer tools of the message's workspace, when it has them.
    pub tools: Option<&'a crate::peer_tools::PeerTools>,
}

/// The `claude` invocation for one turn.
pub fn turn_command(config: &Config, turn: &Turn<'_>, env: &[(OsString, OsString)]) -> TurnCommand {
    let (session, preamble) = (turn.session, turn.preamble);
    // `--strict-mcp-config`: only the MCP servers given here; a `.mcp.json` in the working
    // directory (anyone's who can write there) is not started.
    let mut args: Vec<OsString> = [
        "-p",
        "--output-format=stream-json",
        "--verbose",
        "--strict-mcp-config",
    ]
    .map(OsString::from)
    .to_vec();
    let mut flag = |name: &str, value: &str| args.push(format!("--{name}={value}").into());
    if let Some(model) = &config.model {
        flag("model", model);
    }
    let mode = if config.skip_permissions {
        "bypassPermissions"
    } else {
        config.permission_mode.as_claude_arg()
    };
    flag("permission-mode", mode);
    if config.installed.system_prompt_snapshot {
        // Otherwise a resumed turn reuses the first turn's system prompt, and the preamble of
        // this message (who writes, whether it is an automatic reply) never reaches Claude.
        flag("system-prompt-snapshot", "off");
    }
    let mut allowed: Vec<&str> = config.allowed_tools.iter().map(String::as_str).collect();
    if let Some(tools) = turn.tools {
        flag("mcp-config", &tools.mcp_config(turn.idempotency_key));
        allowed.extend(crate::peer_tools::ALLOWED);
    }
    if !allowed.is_empty() {
        flag("allowedTools", &allowed.join(","));
    }
    if let Some(n) = config.max_turns {
        flag("max-turns", &n.to_string());
    }
    if let Some(file) = &config.system_prompt_file {
        flag("system-prompt-file", &file.to_string_lossy());
    }
    let append = match &config.append_system_prompt {
        Some(own) => format!("{own}\n\n{preamble}"),
        None => preamble.to_owned(),
    };
    flag("append-system-prompt", &append);
    match session {
        Session::Fresh(id) => flag("session-id", id),
        Session::Resume(id) => flag("resume", id),
    }
    args.extend(config.extra_args.iter().cloned());
    TurnCommand {
        program: config.claude_bin.clone(),
        args,
        env: env.to_vec(),
        cwd: config.cwd.clone(),
    }
}

/// The environment of every turn: the backend's, without `CLAUDECODE` (which would make
/// Claude think it runs nested inside another Claude) and without any Molecule token or secret.
pub fn turn_env(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Vec<(OsString, OsString)> {
    vars.into_iter()
        .filter(|(k, _)| {
            let name = k.to_string_lossy().to_ascii_uppercase();
            let secret = name.starts_with("MOLECULE_")
                && (name.contains("TOKEN") || name.contains("SECRET"));
            name != "CLAUDECODE" && !secret
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn every_value_is_in_flag_equals_form() {
        let mut c = Config::new(PathBuf::from("/bin/claude"), PathBuf::from("/w"));
        c.model = Some("-sonnet".into());
        c.allowed_tools = vec!["Read".into(), "Bash(git log:*)".into()];
        c.max_turns = Some(4);
        c.append_system_prompt = Some("Be brief.".into());
        c.extra_args = vec!["--add-dir".into(), "/data".into()];
        let (resume, fresh) = (Session::Resume("-x".into()), Session::Fresh("u".into()));
        let turn = |session| Turn {
            session,
            preamble: "PRE",
            idempotency_key: "k",
            tools: None,
        };
        let cmd = turn_command(&c, &turn(&resume), &[]);
        let args: Vec<String> = cmd
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-p",
                "--output-format=stream-json",
                "--verbose",
                "--strict-mcp-config",
                "--model=-sonnet",
                "--permission-mode=default",
                "--allowedTools=Read,Bash(git log:*)",
                "--max-turns=4",
                "--append-system-prompt=Be brief.\n\nPRE",
                "--resume=-x",
                "--add-dir",
                "/data",
            ]
        );
        c.skip_permissions = true;
        c.installed.system_prompt_snapshot = true;
        let cmd = turn_command(&c, &turn(&fresh), &[]);
        assert!(cmd.args.contains(&"--system-prompt-snapshot=off".into()));
        assert!(
            cmd.args
                .contains(&"--permission-mode=bypassPermissions".into())
        );
        assert!(cmd.args.contains(&"--session-id=u".into()));
    }

    #[test]
    fn the_environment_loses_claudecode_and_tokens() {
        let vars = [
            ("CLAUDECODE", "1"),
            ("MOLECULE_WORKSPACE_TOKEN", "t"),
            ("MOLECULE_API_SECRET", "s"),
            ("MOLECULE_STATE_DIR", "/s"),
            ("ANTHROPIC_API_KEY", "k"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let kept: Vec<String> = turn_env(vars)
            .into_iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["MOLECULE_STATE_DIR", "ANTHROPIC_API_KEY", "PATH"]);
    }
}
