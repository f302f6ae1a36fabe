//! The systemd units of `deploy/systemd/`, embedded, and filled on request: another path for
//! the binary, settings as `Environment=` lines, a header for one workspace's own unit.
//!
//! Values go into the unit as systemd reads them: `%` doubled (specifiers), `\` and `"`
//! escaped inside double quotes. Anything that cannot be written that way (a control character,
//! a binary path that needs quoting) is refused with the reason.

use std::path::Path;

use molecule_host::connect::TOKEN_ENV;
use uuid::Uuid;

/// `deploy/systemd/molecule@.service`: the system service, one instance per workspace.
pub const SYSTEM: &str = include_str!("../../deploy/systemd/molecule@.service");
/// `deploy/systemd/user/molecule@.service`: the same for a user's service manager.
pub const USER: &str = include_str!("../../deploy/systemd/user/molecule@.service");

/// Why a unit cannot be filled as asked.
#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    /// `--bin` is relative or needs quoting.
    #[error(
        "--bin {0:?}: give an absolute path without spaces, quotes, backslashes, '%' or '$' \
         (systemd would split or expand it)"
    )]
    Binary(String),
    /// `--workspace` is not a UUID.
    #[error("--workspace {0:?} is not a workspace id (a UUID, as shown in the canvas)")]
    Workspace(String),
    /// A setting's name is not a variable name.
    #[error("{0:?} is not KEY=VALUE with KEY a variable name (letters, digits, '_')")]
    Setting(String),
    /// A setting's value has a character a unit cannot hold.
    #[error("the value of {0} contains a control character (a newline?), which a unit cannot hold")]
    Control(String),
    /// The token was to be written into the unit, which every user can read.
    #[error(
        "the token does not go into the unit, which every user of the machine can read: put it \
         in /etc/molecule/<workspace-id>.token (~/.config/molecule/ for --user), which the unit \
         hands to molecule as a credential"
    )]
    Token,
    /// The backend command would not split into words.
    #[error("--backend-cmd {0:?}: {1} (it is split like a shell would)")]
    BackendCommand(String, String),
}

/// What to change in the shipped unit.
#[derive(Clone, Debug, Default)]
pub struct Fill {
    /// The binary `ExecStart=` runs.
    pub bin: Option<String>,
    /// The workspace whose own unit this is.
    pub workspace: Option<Uuid>,
    /// Variables for `molecule connect`, in order.
    pub env: Vec<(String, String)>,
}

impl Fill {
    /// Checks `bin` and adds it.
    pub fn bin(mut self, bin: &Path) -> Result<Fill, UnitError> {
        let text = bin.to_str().unwrap_or_default();
        let awkward = |c: char| c.is_whitespace() || c.is_control() || "\"'\\%$;".contains(c);
        if !bin.is_absolute() || text.is_empty() || text.contains(awkward) {
            return Err(UnitError::Binary(bin.display().to_string()));
        }
        self.bin = Some(text.to_owned());
        Ok(self)
    }

    /// Checks `id` and adds it.
    pub fn workspace(mut self, id: &str) -> Result<Fill, UnitError> {
        let id = Uuid::parse_str(id.trim()).map_err(|_| UnitError::Workspace(id.to_owned()))?;
        self.workspace = Some(id);
        Ok(self)
    }

    /// Adds `key=value` after checking that a unit can hold it.
    pub fn setting(mut self, key: &str, value: &str) -> Result<Fill, UnitError> {
        let mut chars = key.chars();
        let name_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(UnitError::Setting(format!("{key}={value}")));
        }
        if key == TOKEN_ENV {
            return Err(UnitError::Token);
        }
        if value.contains(char::is_control) {
            return Err(UnitError::Control(key.to_owned()));
        }
        self.env.push((key.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// Adds `KEY=VALUE` as given on the command line.
    pub fn pair(self, pair: &str) -> Result<Fill, UnitError> {
        match pair.split_once('=') {
            Some((key, value)) => self.setting(key, value),
            None => Err(UnitError::Setting(pair.to_owned())),
        }
    }

    /// Adds the backend command after checking that it splits into words.
    pub fn backend_cmd(self, command: &str) -> Result<Fill, UnitError> {
        shell_words::split(command)
            .map_err(|e| UnitError::BackendCommand(command.to_owned(), e.to_string()))?;
        self.setting("MOLECULE_BACKEND_CMD", command)
    }
}

/// `unit` (one of [`SYSTEM`] and [`USER`]) with `fill` applied; unchanged when it is empty.
pub fn render(unit: &str, fill: &Fill, user: bool) -> String {
    let mut out = String::with_capacity(unit.len() + 512);
    if let Some(id) = fill.workspace {
        let dir = if user {
            "~/.config/systemd/user"
        } else {
            "/etc/systemd/system"
        };
        out.push_str(&format!(
            "# For workspace {id} only: save as {dir}/molecule@{id}.service\n\
             # (systemd prefers it to the template molecule@.service for that instance).\n"
        ));
    }
    let last_env_file = unit
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("EnvironmentFile="))
        .map(|(i, _)| i)
        .last();
    for (i, line) in unit.lines().enumerate() {
        match (&fill.bin, line.strip_prefix("ExecStart=")) {
            (Some(bin), Some(command)) => {
                let args = command.split_once(' ').map_or("", |(_, rest)| rest);
                out.push_str(&format!("ExecStart={bin} {args}"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
        if Some(i) == last_env_file && !fill.env.is_empty() {
            out.push_str(
                "# Set by `molecule service print-unit`; the files above override them.\n",
            );
            for (key, value) in &fill.env {
                out.push_str(&format!(
                    "Environment=\"{}\"\n",
                    quote(&format!("{key}={value}"))
                ));
            }
        }
    }
    out
}

/// `text` as it goes between double quotes in a unit file.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_fill_gives_the_shipped_file() {
        assert_eq!(render(SYSTEM, &Fill::default(), false), SYSTEM);
        assert_eq!(render(USER, &Fill::default(), true), USER);
    }

    #[test]
    fn settings_follow_the_environment_files_quoted_for_systemd() {
        let fill = Fill::default()
            .setting("MOLECULE_API_URL", "https://x.example")
            .and_then(|f| f.backend_cmd(r#"python3 "my agent.py" --ratio 50% C:\x"#))
            .expect("valid");
        let unit = render(SYSTEM, &fill, false);
        let lines: Vec<&str> = unit.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("Environment="))
            .expect("settings");
        assert!(lines[at - 2].starts_with("EnvironmentFile="), "{unit}");
        assert_eq!(
            lines[at],
            r#"Environment="MOLECULE_API_URL=https://x.example""#
        );
        assert_eq!(
            lines[at + 1],
            r#"Environment="MOLECULE_BACKEND_CMD=python3 \"my agent.py\" --ratio 50%% C:\\x""#
        );
    }

    #[test]
    fn the_binary_replaces_only_the_program_of_exec_start() {
        let fill = Fill::default()
            .bin(Path::new("/opt/m/molecule"))
            .expect("valid");
        let unit = render(USER, &fill, true);
        let exec = unit
            .lines()
            .find(|l| l.starts_with("ExecStart="))
            .expect("ExecStart");
        assert!(
            exec.starts_with("ExecStart=/opt/m/molecule connect %i --token-file"),
            "{exec}"
        );
    }

    #[test]
    fn what_a_unit_cannot_hold_is_refused() {
        for bin in [
            "molecule",
            "/opt/my tools/molecule",
            "/opt/100%/molecule",
            "",
        ] {
            assert!(Fill::default().bin(Path::new(bin)).is_err(), "{bin}");
        }
        assert!(Fill::default().workspace("ws-1").is_err());
        assert!(Fill::default().pair("NOVALUE").is_err());
        assert!(Fill::default().pair("1X=y").is_err());
        assert!(Fill::default().setting("X", "a\nb").is_err());
        assert!(Fill::default().pair("MOLECULE_WORKSPACE_TOKEN=t").is_err());
        assert!(Fill::default().backend_cmd("python3 'unclosed").is_err());
    }
}
