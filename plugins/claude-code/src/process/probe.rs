//! Running a short command to read what it prints (`claude --version`, `claude --help`), with
//! a time limit: it is killed and reaped when it takes longer.

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `program args` with exactly `env` and no stdin, and returns its stdout when it exits
/// within `limit`.
pub fn output_within(
    program: &Path,
    args: &[&str],
    env: &[(OsString, OsString)],
    limit: Duration,
) -> io::Result<String> {
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?;
    // Read on a thread, so a chatty command cannot block on a full pipe while we wait.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let start = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("it did not finish within {limit:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    reader
        .join()
        .map_err(|_| io::Error::other("the reader thread panicked"))?
}
