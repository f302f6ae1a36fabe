//! Directories that only this user can change: the state directory, the backend's, the uploads
//! and the host socket's. Files in them are opened by name, so a directory another user can
//! write to would let that user plant a symbolic link (`lock` → a file of the victim's) and
//! have the host truncate, chmod or overwrite its target, as root too.
//!
//! [`ensure`] creates a directory 0700 and refuses one that is a symbolic link, is not owned by
//! this user, or sits below a directory that another user could rename it out of (owned by
//! someone other than this user or root, or writable by others without the sticky bit, as
//! sshd's `StrictModes` checks; group-writable is fine when the group is the user's private
//! one). Once that holds, nobody but this user and root can add,
//! replace or move anything in it; the files are still opened with `O_NOFOLLOW` or `O_EXCL`
//! ([`open_nofollow`]) so that a link planted some other way is never followed.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents (0700), and makes sure it is private: a directory,
/// not a link, owned by this user, mode 0700, below directories no other user can change.
pub fn ensure(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    check_ancestors(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    let me = nix::unistd::getuid().as_raw();
    if meta.file_type().is_symlink() {
        return Err(refusal(format!(
            "{} is a symbolic link; give the directory itself",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(refusal(format!("{} is not a directory", dir.display())));
    }
    if meta.uid() != me {
        return Err(refusal(format!(
            "{} is owned by uid {}, not by this user (uid {me}): its owner could plant links \
             in it; use a directory of your own",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.permissions().mode() & 0o777 != 0o700 {
        // Not a link and below directories only this user and root can change: the chmod
        // reaches this directory.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Refuses `dir` when a directory above it could be changed by another user.
fn check_ancestors(dir: &Path) -> io::Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let me = nix::unistd::getuid().as_raw();
    let mut at: Option<PathBuf> = Some(parent.canonicalize()?);
    while let Some(a) = at {
        let meta = fs::metadata(&a)?;
        let mode = meta.permissions().mode();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(refusal(format!(
                "{} is inside {}, which is owned by uid {}: that user could replace it; use a \
                 directory of your own",
                dir.display(),
                a.display(),
                meta.uid()
            )));
        }
        let group_ok = mode & 0o020 == 0 || private_group(meta.gid());
        let writable_by_others = mode & 0o002 != 0 || !group_ok;
        if writable_by_others && mode & 0o1000 == 0 {
            return Err(refusal(format!(
                "{} is inside {}, which other users can write to (mode {:o}, no sticky bit): \
                 they could replace it; use a directory of your own",
                dir.display(),
                a.display(),
                mode & 0o7777
            )));
        }
        at = a.parent().map(Path::to_owned);
    }
    Ok(())
}

/// Whether `gid` is this user's private group (user private groups, the default of many
/// distributions with umask 002): named like the user and with no other member.
fn private_group(gid: u32) -> bool {
    use nix::unistd::{Gid, Group, User};
    let me = nix::unistd::getuid();
    let (Ok(Some(user)), Ok(Some(group))) =
        (User::from_uid(me), Group::from_gid(Gid::from_raw(gid)))
    else {
        return false;
    };
    group.name == user.name && group.mem.iter().all(|m| *m == user.name)
}

/// Opens `path` for reading and writing, creating it 0600 when missing, without following a
/// symbolic link in its last component (a link is an error).
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Creates `path` anew, 0600, for writing (`O_EXCL`: an existing file or link is an error).
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Replaces `path` with `bytes` atomically, 0600: a temporary file beside it (a leftover one,
/// link or not, removed first and the new one created exclusively, so a planted link is never
/// written through), fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    // A leftover that cannot be removed makes the creation fail with "File exists": the
    // removal's own error (a read-only file system, say) is the one worth reporting.
    match fs::remove_file(&temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = create_new(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The temporary file [`write_atomic`] writes beside `path` (`<name>.tmp`).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn refusal(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::create_dir(&target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.path().join("state");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = ensure(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
    }

    #[test]
    fn a_directory_below_a_world_writable_one_is_refused_unless_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure(&open.join("state")).unwrap_err();
        assert!(err.to_string().contains("other users can write"), "{err}");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        ensure(&open.join("state")).unwrap();
    }

    #[test]
    fn files_are_not_opened_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "keep").unwrap();
        let link = dir.path().join("lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_nofollow(&link).is_err());
        assert!(create_new(&link).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    }
}
