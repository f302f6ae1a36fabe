//! What the `molecule` binary does to its own process before anything else runs.
//!
//! - Orphans reparented to the process are claimed for the sweep of its backends: every child
//!   this binary starts is a backend (see `molecule_host::backend::claim_orphans`).

use molecule_host::backend::claim_orphans;

/// Prepares the process (see the module documentation).
///
/// # Safety
///
/// Must be called while the process has a single thread (first thing in `main`).
pub unsafe fn harden() {
    claim_orphans();
}
