//! What the `molecule` binary does to its own process before anything else runs, so that a
//! backend running as the same user cannot take what the host holds.
//!
//! - The platform token is taken out of the environment, and its bytes are wiped from the
//!   block that `/proc/<pid>/environ` shows (removing a variable only unlinks it from `environ`;
//!   the kernel keeps showing the strings the process was started with).
//! - The process is made non-dumpable (`PR_SET_DUMPABLE 0`): another process of the same user
//!   can then neither attach to it nor read its memory, `environ`, `fd/` or `maps` through
//!   `/proc` (root still can). It also means no core dump.
//! - Orphans reparented to the process are claimed for the sweep of its backends: every child
//!   this binary starts is a backend (see `molecule_host::backend::claim_orphans`).

use std::ffi::{CStr, OsString, c_char};
use std::sync::OnceLock;

use molecule_host::backend::{TOKEN_VAR, claim_orphans};

/// The variables taken out of the environment at start, with the values they had.
static TAKEN: OnceLock<Vec<(&'static str, OsString)>> = OnceLock::new();

/// Hardens the process (see the module documentation).
///
/// # Safety
///
/// Must be called while the process has a single thread (first thing in `main`): it changes
/// the environment, which other threads may be reading without synchronisation.
pub unsafe fn harden() {
    let mut taken = Vec::new();
    if let Some(value) = std::env::var_os(TOKEN_VAR) {
        // SAFETY: single-threaded by this function's contract.
        unsafe { take(TOKEN_VAR) };
        taken.push((TOKEN_VAR, value));
    }
    let _ = TAKEN.set(taken);
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        // Logging is not set up yet; say it on stderr and carry on.
        eprintln!("molecule: cannot make the process non-dumpable: {e}");
    }
    claim_orphans();
}

/// The environment variable `name`: the value it had at start when [`harden`] took it out,
/// the current environment's otherwise.
pub fn var(name: &str) -> Option<String> {
    match TAKEN.get().into_iter().flatten().find(|(k, _)| *k == name) {
        Some((_, v)) => v.to_str().map(str::to_owned),
        None => std::env::var(name).ok(),
    }
}

/// Wipes the value of every `name=` entry of the environment in place, then removes `name`.
///
/// # Safety
///
/// Single-threaded only, like `std::env::remove_var`.
unsafe fn take(name: &str) {
    unsafe extern "C" {
        /// POSIX's environment block: a null-terminated array of `name=value` C strings.
        static mut environ: *mut *mut c_char;
    }
    let prefix = format!("{name}=");
    // SAFETY: single-threaded, so nothing changes `environ` while it is walked; each entry is a
    // valid C string, and the ones given at exec live in the process's own writable stack
    // block, which the kernel reads for `/proc/<pid>/environ`. Writing NULs inside a string
    // keeps it a valid (shorter) C string.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = *entry;
            let len = CStr::from_ptr(text).to_bytes().len();
            if CStr::from_ptr(text)
                .to_bytes()
                .starts_with(prefix.as_bytes())
            {
                for i in prefix.len()..len {
                    std::ptr::write_volatile(text.add(i), 0);
                }
            }
            entry = entry.add(1);
        }
        std::env::remove_var(name);
    }
}
