//! The fake CLI's command line, read as strictly as the real one reads it: the same options,
//! the same refusals with the same messages.

/// A command line the real CLI would refuse: what it prints on stderr, and its exit code.
pub struct Refusal {
    pub message: String,
    pub code: u8,
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal {
        message: message.into(),
        code: 1,
    }
}

/// The options the fake knows (those the backend passes, and `--add-dir` for the tests).
const VALUED: [&str; 12] = [
    "output-format",
    "model",
    "permission-mode",
    "allowedTools",
    "max-turns",
    "system-prompt-file",
    "append-system-prompt",
    "session-id",
    "resume",
    "mcp-config",
    "add-dir",
    "system-prompt-snapshot",
];
const SWITCHES: [&str; 6] = [
    "print",
    "verbose",
    "strict-mcp-config",
    "dangerously-skip-permissions",
    "version",
    "help",
];

/// What the command line asks for.
#[derive(Default)]
pub struct Argv {
    pub version: bool,
    pub help: bool,
    pub session_id: Option<String>,
    pub resume: Option<String>,
    pub max_turns: Option<u32>,
    pub permission_mode: Option<String>,
}

impl Argv {
    /// Reads `args` as `version` of the real CLI would.
    pub fn parse(args: &[String], version: &str) -> Result<Argv, Refusal> {
        let mut argv = Argv::default();
        let mut values: Vec<(String, String)> = Vec::new();
        let mut switches: Vec<String> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            let (name, inline) = match arg.as_str() {
                "-p" => ("print".to_owned(), None),
                "-v" => ("version".to_owned(), None),
                "-h" => ("help".to_owned(), None),
                a if a.starts_with("--") => match a[2..].split_once('=') {
                    Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                    None => (a[2..].to_owned(), None),
                },
                a => {
                    return Err(refuse(format!(
                        "error: too many arguments. Expected 0 arguments but got {a}."
                    )));
                }
            };
            let known_valued = VALUED.contains(&name.as_str())
                && (name != "system-prompt-snapshot" || version != "2.1.197");
            if known_valued {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i - 1).cloned().ok_or_else(|| {
                            refuse(format!("error: option '--{name} <value>' argument missing"))
                        })?
                    }
                };
                values.push((name, value));
            } else if SWITCHES.contains(&name.as_str()) && inline.is_none() {
                switches.push(name);
            } else {
                return Err(refuse(format!("error: unknown option '--{name}'")));
            }
        }
        argv.version = switches.iter().any(|s| s == "version");
        argv.help = switches.iter().any(|s| s == "help");
        if argv.version || argv.help {
            return Ok(argv);
        }
        let value = |n: &str| {
            values
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        if let Some(mode) = value("permission-mode") {
            let choices = permission_modes(version);
            let old_name = mode == "default" && version != "2.1.197";
            if !choices.contains(&mode.as_str()) && !old_name {
                return Err(refuse(format!(
                    "error: option '--permission-mode <mode>' argument '{mode}' is invalid. Allowed choices are {}.",
                    choices.join(", ")
                )));
            }
            argv.permission_mode = Some(mode);
        }
        if let Some(snapshot) = value("system-prompt-snapshot")
            && !["on", "off"].contains(&snapshot.as_str())
        {
            return Err(refuse(format!(
                "error: option '--system-prompt-snapshot <on|off>' argument '{snapshot}' is invalid. Allowed choices are on, off."
            )));
        }
        let print = switches.iter().any(|s| s == "print");
        let stream = value("output-format").as_deref() == Some("stream-json");
        if print && stream && !switches.iter().any(|s| s == "verbose") {
            return Err(refuse(
                "Error: When using --print, --output-format=stream-json requires --verbose",
            ));
        }
        if let Some(id) = value("session-id") {
            if uuid::Uuid::parse_str(&id).is_err() {
                return Err(refuse("Error: Invalid session ID. Must be a valid UUID."));
            }
            argv.session_id = Some(id);
        }
        if let Some(id) = value("resume") {
            if uuid::Uuid::parse_str(&id).is_err() {
                return Err(refuse(format!(
                    "Error: --resume requires a valid session ID or session title when used with --print. Usage: claude -p --resume <session-id|title>. Provided value \"{id}\" is not a UUID and does not match any session title."
                )));
            }
            argv.resume = Some(id);
        }
        argv.max_turns = value("max-turns").and_then(|n| n.parse().ok());
        Ok(argv)
    }
}

fn permission_modes(version: &str) -> [&'static str; 6] {
    if version == "2.1.197" {
        [
            "acceptEdits",
            "auto",
            "bypassPermissions",
            "default",
            "dontAsk",
            "plan",
        ]
    } else {
        // Newer CLIs list `manual` and still accept `default`, its old name.
        [
            "acceptEdits",
            "auto",
            "bypassPermissions",
            "manual",
            "dontAsk",
            "plan",
        ]
    }
}

/// `--help`, as far as the backend reads it.
pub fn help(version: &str) -> String {
    let mut text = String::from(
        "Usage: claude [options] [command] [prompt]\n\nOptions:\n  -p, --print   Print response and exit\n",
    );
    for name in VALUED {
        if name == "system-prompt-snapshot" && version == "2.1.197" {
            continue;
        }
        text.push_str(&format!("  --{name} <value>\n"));
    }
    for name in SWITCHES {
        text.push_str(&format!("  --{name}\n"));
    }
    text
}
