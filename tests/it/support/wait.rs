//! Waiting on events with a deadline, never on a fixed sleep.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails: generous, since the machine is
/// shared; a passing test never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Awaits `fut`, failing the test after [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `cond` until it holds, failing the test after [`DEADLINE`]. For conditions that no
/// event announces (a counter, a process disappearing).
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    until_some(what, async || cond().then_some(())).await
}

/// Polls the asynchronous `probe` (an HTTP read, say) until it gives a value, failing the test
/// after [`DEADLINE`]. The one polling loop of the tests: every other wait is built on it.
pub async fn until_some<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// [`until`] for tests without a runtime: polls `cond` until it holds, failing the test after
/// [`DEADLINE`].
pub fn until_blocking(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `path` to exist and returns its content.
pub async fn file(path: &Path) -> String {
    until(&format!("{} to appear", path.display()), || path.exists()).await;
    std::fs::read_to_string(path).expect("readable")
}
