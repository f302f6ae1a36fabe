//! Where a backend's host socket lives: `$XDG_RUNTIME_DIR/molecule/<workspace>.sock`, or
//! `<temp>/molecule-<uid>/<workspace>.sock`, in a 0700 directory, and never longer than a Unix
//! socket path may be (108 bytes with its NUL): a path that would be is replaced by a short one.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The longest usable socket path: `sun_path` is 108 bytes, NUL included.
pub const MAX_PATH: usize = 107;

/// Candidate directories, best first.
pub fn directories(xdg_runtime_dir: Option<OsString>) -> Vec<PathBuf> {
    let uid = nix::unistd::getuid();
    let mut dirs = Vec::new();
    if let Some(xdg) = xdg_runtime_dir.filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(xdg).join("molecule"));
    }
    dirs.push(std::env::temp_dir().join(format!("molecule-{uid}")));
    dirs.push(PathBuf::from(format!("/tmp/molecule-{uid}")));
    dirs
}

/// The socket names to try in a directory: the workspace's own, then one also naming this
/// process (when another live host holds the first), each shortened when too long.
pub fn names(workspace: Uuid) -> [String; 2] {
    let pid = std::process::id();
    [
        format!("{workspace}.sock"),
        format!("{workspace}-{pid}.sock"),
    ]
}

/// A short fallback name (8 hex digits of the workspace and the pid).
pub fn short_name(workspace: Uuid) -> String {
    let id = workspace.simple().to_string();
    format!("{}-{}.sock", &id[..8], std::process::id())
}

/// Whether `path` fits in `sun_path`.
pub fn fits(path: &Path) -> bool {
    path.as_os_str().as_bytes().len() <= MAX_PATH
}

/// Creates `dir` (and its parents) and makes sure it is ours and 0700
/// ([`crate::private_dir::ensure`]).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    crate::private_dir::ensure(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_do_not_fit_and_short_names_are_short() {
        let ws = Uuid::from_u128(0x7d3a5f2e_9c41_4b8a_a6d2_3e5f71c09b24);
        let deep = PathBuf::from(format!("/{}", "d".repeat(80))).join(&names(ws)[0]);
        assert!(!fits(&deep));
        assert!(short_name(ws).starts_with("7d3a5f2e-"));
        let dirs = directories(Some("/run/user/1000".into()));
        assert_eq!(dirs[0], PathBuf::from("/run/user/1000/molecule"));
        assert_eq!(directories(None).len(), 2);
    }
}
