//! Sockets left behind by hosts that were killed: a host removes its socket on exit, but a
//! `SIGKILL` leaves the file, and every run under another workspace or with a pid in its name
//! added one more. At start a host removes from its socket directory the sockets that are
//! certainly dead hosts': its own user's sockets, named like a host's (see [`super::path`]),
//! that refuse a connection, and whose host is known to be gone (the pid in the name is not a
//! process) or that are older than [`MIN_AGE`] (a host that just bound its socket may not be
//! listening yet).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

/// How old a socket without a pid in its name must be before it counts as stale.
pub const MIN_AGE: Duration = Duration::from_secs(10);

/// Removes the dead hosts' sockets in `dir`; returns how many.
pub fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let me = nix::unistd::getuid().as_raw();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(parse_name) else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_socket() || meta.uid() != me {
            continue;
        }
        let gone = match owner {
            Some(pid) => !alive(pid),
            None => meta
                .modified()
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age >= MIN_AGE),
        };
        if gone && refuses(&path) && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), removed, "removed sockets left by killed hosts");
    }
    removed
}

/// Whether `name` is a host socket's: `<workspace>.sock` (`Some(None)`), or
/// `<workspace>-<pid>.sock` and `<8 hex digits>-<pid>.sock` (`Some(Some(pid))`).
fn parse_name(name: &str) -> Option<Option<i32>> {
    let stem = name.strip_suffix(".sock")?;
    if Uuid::try_parse(stem).is_ok() && stem.len() == 36 {
        return Some(None);
    }
    let (head, pid) = stem.rsplit_once('-')?;
    let pid: i32 = pid.parse().ok().filter(|p| *p > 0)?;
    let short = head.len() == 8 && head.bytes().all(|b| b.is_ascii_hexdigit());
    let full = head.len() == 36 && Uuid::try_parse(head).is_ok();
    (short || full).then_some(Some(pid))
}

/// Whether process `pid` exists.
fn alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e != Errno::ESRCH,
    }
}

/// Whether nobody listens on the socket at `path`.
fn refuses(path: &Path) -> bool {
    matches!(
        std::os::unix::net::UnixStream::connect(path),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_host_socket_names_are_recognised() {
        let ws = "7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24";
        assert_eq!(parse_name(&format!("{ws}.sock")), Some(None));
        assert_eq!(parse_name(&format!("{ws}-42.sock")), Some(Some(42)));
        assert_eq!(parse_name("7d3a5f2e-42.sock"), Some(Some(42)));
        for other in [
            "notours.sock",
            "7d3a5f2e.sock",
            "7d3a5f2x-42.sock",
            &format!("{ws}-0.sock"),
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
        assert_eq!(parse_name(&format!("{ws}.socket")), None);
    }
}
