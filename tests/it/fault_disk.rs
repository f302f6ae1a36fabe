//! A state directory on a tiny tmpfs of its own, for the fault suite's disk faults: filled to
//! the last byte (ENOSPC on every write), then remounted read-only (EROFS, which stops root
//! too, unlike a chmod), then given back. Mounting needs root (CAP_SYS_ADMIN); without it the
//! scenario runs on the ordinary disk and says so.
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted on drop.
pub struct Disk {
    mount: PathBuf,
}

fn run(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Disk {
    /// Mounts a 512 KiB tmpfs under `dir`, or `None` (said on stderr) when this user cannot.
    pub fn mount(dir: &Path) -> Option<Disk> {
        let mount = dir.join("disk");
        std::fs::create_dir_all(&mount).unwrap();
        let at = mount.display().to_string();
        if !run(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=512k,mode=0700",
            "tmpfs",
            &at,
        ]) {
            eprintln!("cannot mount a tmpfs here (not root?): the disk faults are not injected");
            return None;
        }
        Some(Disk { mount })
    }

    pub fn path(&self) -> &Path {
        &self.mount
    }

    fn filler(&self) -> PathBuf {
        self.mount.join("filler")
    }

    /// Writes until the file system is full.
    pub fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.filler()).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    /// Frees what [`Disk::fill`] took.
    pub fn empty(&self) {
        let _ = std::fs::remove_file(self.filler());
    }

    /// Makes the file system read-only (`true`) for every path opened from now on, or writable
    /// again. A read-only bind mount stacked on the mount point: a plain `remount,ro` is refused
    /// while the host holds a file open for writing (its lock), while files already open keep
    /// writing through the mount beneath.
    pub fn read_only(&self, ro: bool) {
        let at = self.mount.display().to_string();
        if ro {
            // `bind,ro` in one go: util-linux applies the flag with mount_setattr, so no
            // write of the host's can slip in between and make the remount busy.
            assert!(run(&["mount", "-o", "bind,ro", &at, &at]));
        } else {
            assert!(run(&["umount", &at]));
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let at = self.mount.display().to_string();
        // The read-only bind mount, if a test failed with it on, then the tmpfs.
        while run(&["umount", "-l", &at]) {}
    }
}
