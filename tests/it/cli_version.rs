//! `molecule -V` and `--version` through the real binary, and the build script's commit
//! detection (`build/git_commit.rs`) run against real git repositories made in the test: a
//! clean one, a dirty one, a tarball's directory without `.git`, and a tarball unpacked
//! inside another repository.

use std::path::Path;
use std::process::Command;

use super::dev_support::{molecule, stderr, stdout};
use super::git_commit::describe;

/// `git <args>` in `dir`, which must succeed; its trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// What the build script must have found for this checkout.
fn expected_commit() -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status.success().then(|| stdout(&out))
}

#[test]
fn dash_v_is_one_line_with_the_version_and_commit() {
    let o = molecule().arg("-V").output().expect("ran");
    assert_eq!(o.status.code(), Some(0));
    let line = stdout(&o);
    assert_eq!(line.lines().count(), 1, "{line}");
    let version = env!("CARGO_PKG_VERSION");
    match expected_commit() {
        Some(hash) => {
            let clean = format!("molecule {version} ({hash})");
            let dirty = format!("molecule {version} ({hash}-dirty)");
            assert!(line == clean || line == dirty, "{line}");
        }
        None => assert_eq!(line, format!("molecule {version} (commit unknown)")),
    }
}

#[test]
fn long_version_names_commit_protocol_and_target() {
    let short = stdout(&molecule().arg("-V").output().expect("ran"));
    let o = molecule().arg("--version").output().expect("ran");
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], short);
    let commit = lines[1].strip_prefix("commit: ").expect("commit line");
    assert!(short.contains(commit) || commit == "unknown", "{text}");
    let protocol = molecule_protocol::PROTOCOL_VERSION;
    assert_eq!(lines[2], format!("protocol: {protocol}"));
    let target = lines[3].strip_prefix("target: ").expect("target line");
    assert!(target.starts_with(std::env::consts::ARCH), "{target}");
    assert!(target.contains(std::env::consts::OS), "{target}");
}

/// A repository with `src/main.rs` and `README` committed.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("src")).expect("src");
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").expect("write");
    std::fs::write(dir.path().join("README"), "hi\n").expect("write");
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    dir
}

#[test]
fn a_clean_checkout_is_its_short_hash_and_its_git_files_are_watched() {
    let dir = repo();
    let found = describe(dir.path(), &["src"]);
    assert_eq!(
        found.commit,
        git(dir.path(), &["rev-parse", "--short", "HEAD"])
    );
    let head = dir.path().join(".git/HEAD");
    let branch = git(dir.path(), &["symbolic-ref", "HEAD"]);
    for watched in [
        head,
        dir.path().join(".git").join(branch),
        dir.path().join("src"),
    ] {
        assert!(
            found.watch.contains(&watched),
            "{watched:?} in {:?}",
            found.watch
        );
    }
    assert!(found.watch.iter().all(|p| p.exists()), "{:?}", found.watch);
}

#[test]
fn an_edited_source_is_dirty_and_other_files_are_not() {
    let dir = repo();
    let hash = git(dir.path(), &["rev-parse", "--short", "HEAD"]);
    // Neither an edit outside the sources nor an untracked file changes what is built.
    std::fs::write(dir.path().join("README"), "edited\n").expect("write");
    std::fs::write(dir.path().join("src/new.rs"), "\n").expect("write");
    assert_eq!(describe(dir.path(), &["src"]).commit, hash);
    std::fs::write(dir.path().join("src/main.rs"), "fn main() { }\n").expect("write");
    assert_eq!(
        describe(dir.path(), &["src"]).commit,
        format!("{hash}-dirty")
    );
}

#[test]
fn without_git_or_inside_another_repository_the_commit_is_unknown() {
    let tarball = tempfile::tempdir().expect("dir");
    std::fs::create_dir(tarball.path().join("src")).expect("src");
    let found = describe(tarball.path(), &["src"]);
    assert_eq!(found.commit, "unknown");
    assert!(found.watch.is_empty());

    // A source tarball unpacked in some other project's checkout.
    let outer = repo();
    let unpacked = outer.path().join("vendor/molecule");
    std::fs::create_dir_all(unpacked.join("src")).expect("dirs");
    assert_eq!(describe(&unpacked, &["src"]).commit, "unknown");

    // A repository without a commit yet.
    let empty = tempfile::tempdir().expect("dir");
    git(empty.path(), &["init", "-q"]);
    assert_eq!(describe(empty.path(), &["src"]).commit, "unknown");
}
