//! What a panic anywhere in the host does: it is logged and recorded, and the host stops with
//! exit code 1 once its state is safe, instead of carrying on without the task that died (a
//! heartbeat task that panicked used to leave the workspace looking dead while replies went
//! on) or exiting 0 (a panicked poll loop did, so a service manager never restarted it).
//!
//! [`install`] (called by `molecule connect` and `molecule dev` before the runtime starts)
//! chains a panic hook that records the panic and cancels [`signal`]; `connect::serve` stops on
//! it like on a fatal error. A library user that installs no hook still gets the panics of the
//! tasks `serve` awaits as errors; only the others go unnoticed.
//!
//! For the tests of that path, `MOLECULE_INJECT_PANIC=<place>` makes the named place panic
//! the first time it is reached ([`inject`]); it is read once, and unset it costs nothing.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

static PANICKED: AtomicBool = AtomicBool::new(false);

fn token() -> &'static CancellationToken {
    static TOKEN: OnceLock<CancellationToken> = OnceLock::new();
    TOKEN.get_or_init(CancellationToken::new)
}

/// Installs the hook (once; later calls do nothing). The hook logs the panic, lets the
/// previous hook print it, and cancels [`signal`].
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            let thread = std::thread::current();
            tracing::error!(
                thread = thread.name().unwrap_or("unnamed"),
                "a task panicked (a bug; please report it): {info}; stopping with exit code 1 \
                 once the state is saved"
            );
            previous(info);
            token().cancel();
        }));
    });
}

/// Cancelled at the first panic recorded by the hook; never without [`install`].
pub fn signal() -> CancellationToken {
    token().clone()
}

/// Whether the hook recorded a panic.
pub fn occurred() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Panics if `MOLECULE_INJECT_PANIC` names `place` and it was not reached before: the seam the
/// tests of panic handling use.
pub fn inject(place: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    static FIRED: AtomicBool = AtomicBool::new(false);
    let wanted = WANTED.get_or_init(|| std::env::var("MOLECULE_INJECT_PANIC").ok());
    if wanted.as_deref() == Some(place) && !FIRED.swap(true, Ordering::SeqCst) {
        panic!("injected panic at {place} (MOLECULE_INJECT_PANIC)");
    }
}
