//! `molecule status [<id>]`: how the `molecule connect` of a workspace is doing, read from the
//! status file it keeps in its state directory (`molecule_host::observe::status_file`), never
//! from the platform. Without an id, every workspace under the default state root; with
//! `--state-dir`, that directory (or, when it is a root of several, as a `molecule run` may
//! keep, every workspace under it); with `--config`, the workspaces of a `molecule run` file.
//! Human lines, or `--json`.
//!
//! Exit codes: 0 when every workspace shown is running; 3 when one is not (no process holds
//! its lock), its file is stale (the holder stopped writing), or none was found; 2 for a bad
//! id or no state directory.

mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use molecule_host::connect::statedir;
use molecule_host::exit;
use molecule_host::observe::Snapshot;
use molecule_host::observe::status_file::{self, Liveness, ReadError};
use serde::Serialize;

/// The exit code when a workspace is not running, or none was found.
pub const NOT_RUNNING: u8 = 3;

/// `molecule status`.
#[derive(Clone, Debug, clap::Args)]
#[command(
    after_help = "Exit codes:\n  0  every workspace shown is running\n  2  a bad id, \
                        or no state directory\n  3  not running, stale, or no workspace found"
)]
pub struct StatusArgs {
    /// The workspace; without it, every workspace under the default state root.
    #[arg(value_name = "WORKSPACE_ID")]
    pub workspace_id: Option<String>,
    /// Read this state directory (as given to `molecule connect --state-dir`).
    #[arg(long, value_name = "DIR", env = "MOLECULE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print JSON: one object for one workspace, an array for the list.
    #[arg(long)]
    pub json: bool,
    /// List the workspaces of this `molecule run` file (each in its state directory).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["workspace_id", "state_dir"])]
    pub config: Option<PathBuf>,
}

/// One workspace's answer.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Where it was read.
    pub state_dir: PathBuf,
    /// `running`, `not_running` or `stale`.
    pub liveness: &'static str,
    /// Milliseconds since the file was written, when stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_ms: Option<u64>,
    /// The status file, when there is one.
    pub status: Option<Snapshot>,
    /// Why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Report {
    fn running(&self) -> bool {
        self.liveness == "running"
    }
}

/// Runs `molecule status`.
pub fn main(args: StatusArgs) -> ExitCode {
    let dirs = match dirs_of(&args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let single = args.workspace_id.is_some() || args.state_dir.as_ref() == dirs.first();
    let now = SystemTime::now();
    let reports: Vec<Report> = dirs.iter().map(|d| report(d, now)).collect();
    match (args.json, single) {
        (true, true) => print_json(&reports[0]),
        (true, false) => print_json(&reports),
        (false, _) if reports.is_empty() => println!("no workspace found under {}", root_text()),
        (false, _) => print!("{}", render::all(&reports, now)),
    }
    if !reports.is_empty() && reports.iter().all(Report::running) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_RUNNING)
    }
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

/// The directories to read.
fn dirs_of(args: &StatusArgs) -> Result<Vec<PathBuf>, String> {
    let id = match &args.workspace_id {
        Some(text) => Some(
            uuid::Uuid::parse_str(text.trim())
                .map_err(|_| format!("invalid workspace id {text:?}: expected a UUID"))?,
        ),
        None => None,
    };
    if let Some(path) = &args.config {
        // The tokens are not status's business: a variable named in the file need not be set.
        let file =
            crate::run::file::load(path, &|_| Some("unused".into())).map_err(|e| e.to_string())?;
        return Ok(file.workspaces.into_iter().map(|w| w.state_dir).collect());
    }
    if let Some(dir) = &args.state_dir {
        if is_state_dir(dir) {
            return Ok(vec![dir.clone()]);
        }
        let under = workspaces_under(dir);
        if under.is_empty() {
            return Ok(vec![dir.clone()]);
        }
        return Ok(under);
    }
    if let Some(id) = id {
        return Ok(vec![
            statedir::resolve(None, id).map_err(|e| e.to_string())?,
        ]);
    }
    let root = root().ok_or("cannot find a state directory for this user: give --state-dir")?;
    Ok(workspaces_under(&root))
}

/// Whether `dir` is one workspace's state directory.
fn is_state_dir(dir: &Path) -> bool {
    dir.join(status_file::FILE).exists() || dir.join("lock").exists()
}

/// The state directories directly under `root`, sorted.
fn workspaces_under(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_state_dir(p))
        .collect();
    dirs.sort();
    dirs
}

/// The default state root: the parent of every workspace's default state directory.
fn root() -> Option<PathBuf> {
    let one = statedir::resolve(None, uuid::Uuid::nil()).ok()?;
    one.parent().map(Path::to_owned)
}

fn root_text() -> String {
    root().map_or_else(|| "the state root".into(), |r| r.display().to_string())
}

fn report(dir: &Path, now: SystemTime) -> Report {
    let mut r = Report {
        state_dir: dir.to_owned(),
        liveness: "not_running",
        stale_ms: None,
        status: None,
        error: None,
    };
    match status_file::read(dir) {
        Ok(snap) => {
            match Liveness::of(dir, &snap, now) {
                Liveness::Running => r.liveness = "running",
                Liveness::NotRunning => {}
                Liveness::Stale(age) => {
                    r.liveness = "stale";
                    r.stale_ms = Some(age.as_millis() as u64);
                }
            }
            r.status = Some(snap);
        }
        Err(e @ ReadError::Missing(_)) if status_file::lock_held(dir) => {
            // A connect from before status files, or one that has not written yet.
            r.liveness = "stale";
            r.error = Some(e.to_string());
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    r
}
