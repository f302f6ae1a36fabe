//! Finding the real CLIs, and running the backend (or the CLI alone) over one of them against
//! the local Messages API, in a scratch HOME, with an environment made from nothing so the CLI
//! can reach neither the network nor the developer's own Claude account.

use crate::messages_api::MessagesApi;
use crate::support::Backend;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pinned versions `tests/install-real-claude.sh` installs: the newest that declares
/// Node.js 18, and the latest release tested.
pub const VERSIONS: [&str; 2] = ["2.1.197", "2.1.332"];

/// The API key the CLI is given: the local API accepts anything.
pub const API_KEY: &str = "sk-ant-api03-local-test-key";

/// One installed CLI.
#[derive(Clone, Debug)]
pub struct RealCli {
    pub version: &'static str,
    pub bin: PathBuf,
}

/// Where the install script put the CLIs.
fn install_dir() -> PathBuf {
    std::env::var_os("MOLECULE_REAL_CLAUDE_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".real-claude"),
        PathBuf::from,
    )
}

/// The installed CLIs of [`VERSIONS`]. A missing one fails the test when `CI` is set, and is
/// skipped with a loud message otherwise.
pub fn clis() -> Vec<RealCli> {
    let dir = install_dir();
    let mut found = Vec::new();
    for version in VERSIONS {
        let bin = dir.join(version).join("node_modules/.bin/claude");
        if bin.is_file() {
            found.push(RealCli { version, bin });
            continue;
        }
        let msg = format!(
            "the real Claude Code CLI {version} is not installed at {}: run \
             plugins/claude-code/tests/install-real-claude.sh",
            bin.display()
        );
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("{msg} (CI is set, so this fails instead of skipping)");
        }
        eprintln!("\n*** SKIPPED over claude {version}: {msg} ***\n");
    }
    found
}

/// Runs `test` once over every installed CLI.
pub fn each_cli(test: impl Fn(&RealCli)) {
    for cli in clis() {
        eprintln!("-- over claude {}", cli.version);
        test(&cli);
    }
}

/// A scratch area for one backend (or CLI) over one real CLI and one local API.
pub struct RealRig {
    pub dir: tempfile::TempDir,
    pub cli: RealCli,
    api_url: String,
    env: Vec<(String, String)>,
}

impl RealRig {
    /// A rig whose CLI talks to `api`.
    pub fn new(cli: &RealCli, api: &MessagesApi) -> RealRig {
        RealRig::at_url(cli, &api.url())
    }

    /// A rig whose CLI talks to `url` (e.g. one where nothing listens).
    pub fn at_url(cli: &RealCli, url: &str) -> RealRig {
        let rig = RealRig {
            dir: tempfile::tempdir().expect("tempdir"),
            cli: cli.clone(),
            api_url: url.to_owned(),
            env: vec![
                ("ANTHROPIC_API_KEY".into(), API_KEY.into()),
                // One try per model call unless a test says otherwise: errors answer at once.
                ("CLAUDE_CODE_MAX_RETRIES".into(), "0".into()),
            ],
        };
        std::fs::create_dir_all(rig.cwd()).expect("cwd");
        std::fs::create_dir_all(rig.home().join(".claude")).expect("home");
        rig
    }

    /// Points the CLI at `api` from now on.
    pub fn use_api(&mut self, api: &MessagesApi) {
        self.api_url = api.url();
    }

    /// Sets (or, with `None`, removes) a variable of the CLI's environment.
    pub fn set_env(&mut self, name: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != name);
        if let Some(value) = value {
            self.env.push((name.into(), value.into()));
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn cwd(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The environment everything here runs with, and nothing else: no proxy, no account,
    /// no telemetry, no auto-update; the API is the local one.
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.home();
        let mut env = vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("HOME".into(), home.display().to_string()),
            (
                "CLAUDE_CONFIG_DIR".into(),
                home.join(".claude").display().to_string(),
            ),
            ("ANTHROPIC_BASE_URL".into(), self.api_url.clone()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            ("DISABLE_TELEMETRY".into(), "1".into()),
            ("DISABLE_ERROR_REPORTING".into(), "1".into()),
        ];
        env.extend(self.env.iter().cloned());
        env
    }

    /// The backend over this CLI, with quick timers.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-claude-code"));
        cmd.env_clear()
            .envs(self.env())
            .env("MOLECULE_BACKEND", "1")
            .env("MOLECULE_STATE_DIR", self.state())
            .arg("--claude-bin")
            .arg(&self.cli.bin)
            .arg("--cwd")
            .arg(self.cwd())
            .args(["--kill-grace", "1s"])
            .args(args);
        cmd
    }

    /// Starts the backend and performs the handshake.
    pub fn start(&self, args: &[&str]) -> Backend {
        let mut backend = Backend::spawn(&mut self.command(args));
        backend.initialize();
        backend
    }

    /// The session map file, parsed.
    pub fn session_map(&self) -> Value {
        let text = std::fs::read_to_string(self.state().join("claude-sessions.json"))
            .expect("session map");
        serde_json::from_str(&text).expect("session map JSON")
    }

    /// The session id the map holds for `key`.
    pub fn session_of(&self, key: &str) -> Option<String> {
        self.session_map()["sessions"][key]["sessionId"]
            .as_str()
            .map(str::to_owned)
    }

    /// Runs the CLI itself with `args` and `stdin`, as the backend would.
    pub fn run_cli(&self, args: &[&str], stdin: &str) -> CliRun {
        let mut child = Command::new(&self.cli.bin)
            .env_clear()
            .envs(self.env())
            .current_dir(self.cwd())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run claude");
        let mut input = child.stdin.take().expect("stdin");
        // A CLI that refuses its command line exits without reading the prompt.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        let out = child.wait_with_output().expect("claude ends");
        CliRun {
            exit: out.status.code(),
            events: String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What one run of the CLI printed.
#[derive(Debug)]
pub struct CliRun {
    pub exit: Option<i32>,
    pub events: Vec<Value>,
    pub stderr: String,
}

/// The conversation key of messages from `peer` (see `support::from_agent`).
pub fn key_of(peer: &str) -> String {
    format!("agent:{peer}")
}
