//! `molecule-claude-code --check`: what `molecule doctor` asks this backend about the `claude`
//! CLI, so that the knowledge of Claude Code stays in this crate: the CLI is found, its version
//! is supported, and it has credentials. One JSON object per line on stdout,
//! `{"check": "claude.found" | "claude.version" | "claude.login", "status": "ok" | "warn" |
//! "fail", "message": …}`; exit 0 when none failed, 1 otherwise. Credentials are looked for,
//! never printed, and no model call is made (it would cost money and time).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use crate::cli::{Args, expand_tilde};
use crate::installed::{self, NEXT_MAJOR, OLDEST};

/// The variables that give `claude` credentials or another provider.
const CREDENTIAL_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
];

/// Runs the checks and prints their lines.
pub fn run(args: &Args) -> ExitCode {
    let lines = checks(args, |k| std::env::var_os(k));
    let mut failed = false;
    for (check, status, message) in &lines {
        failed |= *status == "fail";
        println!(
            "{}",
            json!({"check": check, "status": status, "message": message})
        );
    }
    ExitCode::from(u8::from(failed))
}

type CheckLine = (&'static str, &'static str, String);

fn checks(args: &Args, env: impl Fn(&str) -> Option<OsString>) -> Vec<CheckLine> {
    let path = match crate::cli::resolve_claude(args.claude_bin.as_deref()) {
        Ok(p) => p,
        Err(e) => return vec![("claude.found", "fail", e.to_string())],
    };
    let mut lines = vec![("claude.found", "ok", format!("{}", path.display()))];
    let vars = crate::command::turn_env(std::env::vars_os());
    lines.push(match installed::probe(&path, &vars) {
        Ok(found) => (
            "claude.version",
            "ok",
            format!(
                "Claude Code {} (supported: {OLDEST} or later before {NEXT_MAJOR}.0)",
                found.version
            ),
        ),
        Err(e) => ("claude.version", "fail", e.to_string()),
    });
    lines.push(login(&env, &credentials_file(&env)));
    lines
}

/// Where `claude` keeps a login made with `/login`.
fn credentials_file(env: &impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let dir = match env("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        Some(d) => expand_tilde(Path::new(&d)),
        None => dirs::home_dir()?.join(".claude"),
    };
    Some(dir.join(".credentials.json"))
}

fn login(env: &impl Fn(&str) -> Option<OsString>, file: &Option<PathBuf>) -> CheckLine {
    if let Some(var) = CREDENTIAL_VARS
        .iter()
        .find(|v| env(v).is_some_and(|x| !x.is_empty()))
    {
        return ("claude.login", "ok", format!("credentials from {var}"));
    }
    if let Some(f) = file.as_ref().filter(|f| f.is_file()) {
        return ("claude.login", "ok", format!("logged in ({})", f.display()));
    }
    let shown = file.as_ref().map_or_else(
        || "~/.claude/.credentials.json".to_owned(),
        |f| f.display().to_string(),
    );
    (
        "claude.login",
        "fail",
        format!(
            "claude is not logged in (no ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, no \
             {shown}): run `claude` once as this user and log in, or set ANTHROPIC_API_KEY in \
             the environment molecule connect runs in"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_a_variable_or_the_login_file() {
        let dir = tempfile::tempdir().expect("dir");
        let none = |_: &str| None;
        let file = Some(dir.path().join(".credentials.json"));
        assert_eq!(login(&none, &file).1, "fail");
        let key = |k: &str| (k == "ANTHROPIC_API_KEY").then(|| OsString::from("sk-secret"));
        let line = login(&key, &file);
        assert_eq!(line.1, "ok");
        assert!(!line.2.contains("sk-secret"), "never the value");
        std::fs::write(dir.path().join(".credentials.json"), "{}").expect("write");
        assert_eq!(login(&none, &file).1, "ok");
        let config = |k: &str| (k == "CLAUDE_CONFIG_DIR").then(|| dir.path().into());
        assert_eq!(credentials_file(&config), file);
    }
}
