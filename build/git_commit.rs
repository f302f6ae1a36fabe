//! The git commit a build comes from, for `molecule --version`: the short hash, with `-dirty`
//! when the sources built into the binary differ from it, or `unknown` outside a git checkout
//! (a source tarball). Shared by `build.rs` and the tests, which run it against real
//! repositories.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What [`describe`] found.
#[derive(Debug)]
pub struct Described {
    /// `<short hash>`, `<short hash>-dirty`, or `unknown`.
    pub commit: String,
    /// Existing files and directories whose change must run the build script again.
    pub watch: Vec<PathBuf>,
}

/// Describes the checkout whose top is `root` (the package's directory). `sources` are the
/// paths, relative to `root`, built into the binary: the tree is dirty when one of them differs
/// from the commit, and they are watched so that an edit updates the marker.
pub fn describe(root: &Path, sources: &[&str]) -> Described {
    from_git(root, sources).unwrap_or_else(|| Described {
        commit: "unknown".to_owned(),
        watch: Vec::new(),
    })
}

fn from_git(root: &Path, sources: &[&str]) -> Option<Described> {
    // A tarball unpacked inside another repository must not report that repository's commit.
    let top = git(root, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != root.canonicalize().ok()? {
        return None;
    }
    // Fails in a repository without commits, which is then "unknown" too.
    let hash = git(root, &["rev-parse", "--short", "HEAD"])?;
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend_from_slice(sources);
    let dirty = !git(root, &status)?.is_empty();
    let mut watch = Vec::new();
    // HEAD moves on checkout; logs/HEAD on every commit, reset and checkout (even when the
    // branch's ref is packed); the index on staging.
    for name in ["HEAD", "logs/HEAD", "index", "packed-refs"] {
        watch.push(git_path(root, name)?);
    }
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(git_path(root, &branch)?);
    }
    watch.extend(sources.iter().map(|s| root.join(s)));
    watch.retain(|p| p.exists());
    let commit = if dirty { format!("{hash}-dirty") } else { hash };
    Some(Described { commit, watch })
}

/// Where git keeps `name` (a worktree has its own HEAD and index, and shares the refs).
fn git_path(root: &Path, name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(git(root, &["rev-parse", "--git-path", name])?);
    Some(if p.is_relative() { root.join(p) } else { p })
}

/// Runs git in `root`; its trimmed stdout, or `None` when git is missing or fails.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        // A build must not take the index lock (`git status` refreshes it otherwise), or a
        // `git commit` running meanwhile fails.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout)
        .ok()
        .map(|s| s.trim().to_owned())
}
