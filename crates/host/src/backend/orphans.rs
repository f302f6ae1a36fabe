//! The host as a child subreaper, and which of its children are orphans it adopted.
//!
//! A backend that double-forks (a child calls `setsid`, starts the process that stays, and
//! exits) leaves a process whose parent is gone and whose group and session are its own:
//! nothing in `/proc` links it to the backend any more. On Linux the host is a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so such an orphan is reparented to the host instead of to init,
//! and it cannot leave: a process never chooses its parent. The host's children are therefore
//! the backend leaders it spawned and the orphans it adopted. Only the program as a whole knows
//! that it spawns nothing else, so it says so with [`claim_orphans`] (the `molecule` binary
//! does); from then on every child of the host that is not a leader it spawned counts as a
//! descendant of the backend being scanned, and is swept with it. A library user that spawns
//! other children leaves the claim off and keeps the remembered-lineage sweep alone.

use std::collections::HashSet;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::descendants::ProcInfo;

/// Whether the host's adopted children are swept with its backends.
static CLAIM: AtomicBool = AtomicBool::new(false);

/// The pids of the backend leaders this process spawned and has not reaped yet.
static SPAWNED: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

/// Declares that this process starts no children but backends: orphans reparented to it are
/// the backends' and are swept with them. Call it once at start-up, from a program (never from
/// a library that shares its process with other code that spawns children).
pub fn claim_orphans() {
    CLAIM.store(true, Ordering::SeqCst);
}

/// Makes this process a child subreaper (a process-wide attribute), so that orphans of its
/// backends' descendants are reparented to it.
#[cfg(target_os = "linux")]
pub(crate) fn become_subreaper() {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!("cannot become a child subreaper ({e}): orphans of a backend go to init");
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn become_subreaper() {}

/// Spawns a backend leader with `spawn` and records its pid, under the lock that
/// [`adopted`] takes: a scan that read the process table after the fork finds the pid
/// recorded, so a new leader is never taken for an orphan.
pub(crate) fn spawn_leader<C>(
    spawn: impl FnOnce() -> io::Result<C>,
    pid: impl Fn(&C) -> Option<u32>,
) -> io::Result<C> {
    let mut spawned = lock();
    let child = spawn()?;
    if let Some(pid) = pid(&child).and_then(|p| i32::try_from(p).ok()) {
        spawned.get_or_insert_with(HashSet::new).insert(pid);
    }
    Ok(child)
}

/// Forgets a leader once its exit status was read (its pid may be reused from then on).
pub(crate) fn reaped(pid: u32) {
    if let (Some(set), Ok(pid)) = (lock().as_mut(), i32::try_from(pid)) {
        set.remove(&pid);
    }
}

/// The children of this process in `table` that it adopted (none unless
/// [`claim_orphans`] was called). `table` must have been read before this call.
pub(crate) fn adopted(table: &[ProcInfo]) -> Vec<i32> {
    if !CLAIM.load(Ordering::SeqCst) {
        return Vec::new();
    }
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let spawned = lock();
    table
        .iter()
        .filter(|p| p.ppid == me)
        .filter(|p| !spawned.as_ref().is_some_and(|s| s.contains(&p.pid)))
        .map(|p| p.pid)
        .collect()
}

fn lock() -> std::sync::MutexGuard<'static, Option<HashSet<i32>>> {
    // The set stays consistent whatever panicked while it was held.
    SPAWNED.lock().unwrap_or_else(|e| e.into_inner())
}
