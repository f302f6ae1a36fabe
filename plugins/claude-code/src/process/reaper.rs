//! The watchdog: a tiny process (this same binary, run with [`REAPER_FLAG`]) that outlives a
//! backend killed with SIGKILL just long enough to kill the process groups of its live turns.
//!
//! PDEATHSIG kills the `claude` process a turn started, but not what that process started in
//! turn (tool commands, subagents). The watchdog runs in a group of its own, so a signal to the
//! backend's group does not reach it, and ignores SIGTERM, SIGINT and SIGHUP; the backend tells
//! it `+<pgid>` and `-<pgid>` on a pipe as turns start and end. When the pipe closes, because
//! the backend exited or was killed, it sends SIGKILL to every group still registered and
//! exits.

use std::collections::BTreeSet;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};

use nix::sys::signal::{SigHandler, Signal, killpg, signal};
use nix::unistd::Pid;

/// The hidden argument that turns the binary into the watchdog.
pub const REAPER_FLAG: &str = "--internal-turn-reaper";

/// The backend's end of the watchdog.
#[derive(Debug)]
pub struct Reaper {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Reaper {
    /// Starts the watchdog from the running executable.
    pub fn start() -> io::Result<Reaper> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg(REAPER_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .env("MOLECULE_BACKEND", "1")
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Reaper { child, stdin })
    }

    /// The watchdog's pid.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(-1)
    }

    pub(super) fn register(&mut self, pgid: i32) {
        self.say(&format!("+{pgid}\n"));
    }

    pub(super) fn unregister(&mut self, pgid: i32) {
        self.say(&format!("-{pgid}\n"));
    }

    fn say(&mut self, line: &str) {
        // A few bytes into a pipe the watchdog drains: this does not block in practice.
        if let Some(stdin) = &mut self.stdin
            && stdin.write_all(line.as_bytes()).is_err()
        {
            crate::log::warn(
                "the turn watchdog is gone; a SIGKILL of the backend may leave turns running",
            );
            self.stdin = None;
        }
    }

    /// Closes the pipe and reaps the watchdog, which exits at once.
    pub fn finish(mut self) {
        self.stdin = None;
        let _ = self.child.wait();
    }
}

/// The watchdog's whole program.
pub fn run_reaper() -> ExitCode {
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: SIG_IGN installs no handler code.
        unsafe {
            let _ = signal(s, SigHandler::SigIgn);
        }
    }
    let mut live = BTreeSet::new();
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (op, pgid) = line.split_at(line.len().min(1));
        match (op, pgid.trim().parse::<i32>()) {
            ("+", Ok(pgid)) if pgid > 1 => {
                live.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                live.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in &live {
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGKILL);
    }
    if !live.is_empty() {
        eprintln!(
            "molecule-claude-code: the backend ended without stopping its turns; killed process groups {live:?}"
        );
    }
    ExitCode::SUCCESS
}
