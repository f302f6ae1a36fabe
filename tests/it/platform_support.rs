//! Shared pieces of the platform-client tests: a client wired to a wiremock server with a
//! token file, and a capture of the tracing output that tests can search and wait on.

#![allow(clippy::unwrap_used, reason = "test helpers panic on broken fixtures")]

use molecule_host::platform::{PlatformClient, PlatformConfig, TokenSource};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::Notify;
use tracing::subscriber::DefaultGuard;
use wiremock::MockServer;

/// The workspace every test plays.
pub const WS: &str = "11111111-2222-3333-4444-555555555555";
/// The token in the token file.
pub const TOKEN: &str = "tok-Abc123_secret-value-0000000000000000000";

/// A client of `server` reading its token from a file in `dir`.
pub struct Setup {
    pub client: PlatformClient,
    /// Holds the token file's directory until the test ends.
    pub _dir: TempDir,
    pub token_file: std::path::PathBuf,
}

/// A client of `server` with `TOKEN` in a 0600 token file (with a trailing newline) and
/// `configure` applied to the settings.
pub fn client_with(
    server: &MockServer,
    configure: impl FnOnce(PlatformConfig) -> PlatformConfig,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, TOKEN);
    let cfg = configure(PlatformConfig::new(&server.uri(), WS).unwrap());
    let client = PlatformClient::new(cfg, TokenSource::from_file(&token_file).unwrap()).unwrap();
    Setup {
        client,
        _dir: dir,
        token_file,
    }
}

/// A client of `server` with default settings.
pub fn client(server: &MockServer) -> Setup {
    client_with(server, |c| c)
}

/// Writes `token` and a newline to `path`, mode 0600.
pub fn write_token(path: &std::path::Path, token: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    writeln!(f, "{token}").unwrap();
}

/// The tracing output of the current thread, captured at every level.
#[derive(Clone, Default)]
pub struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
    written: Arc<Notify>,
}

impl Logs {
    /// Captures this thread's events (all tasks of a current-thread test runtime) until the
    /// guard drops.
    pub fn capture() -> (Logs, DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(logs.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    /// The lines containing all of `needles`.
    pub fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_owned)
            .collect()
    }

    /// Waits (up to 10 s) for a line containing `needle`.
    pub async fn wait_for(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.written.notified();
            if let Some(line) = self.lines_with(&[needle]).into_iter().next() {
                return line;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no log line with {needle:?} within 10 s; logs:\n{}",
                    self.text()
                );
            }
        }
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.lock().unwrap().extend_from_slice(data);
        self.written.notify_waiters();
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
