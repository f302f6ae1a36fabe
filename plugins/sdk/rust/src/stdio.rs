//! Serving on the process's own stdin and stdout.
//!
//! The protocol owns both streams, so the SDK moves them out of reach of the rest of the
//! program: it keeps private (close-on-exec) duplicates for the protocol, points fd 1 at stderr
//! so a stray `println!` (or a child process that inherits stdout) lands in the log instead of
//! corrupting the stream, and points fd 0 at `/dev/null` so no child can swallow the host's
//! requests.

use crate::backend::Backend;
use crate::error::ServeError;
use crate::serve::{ServeOptions, serve_with};
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

type Input = Box<dyn AsyncRead + Unpin + Send>;
type Output = Box<dyn AsyncWrite + Unpin + Send>;

/// Serves `backend` on stdin/stdout until the host closes stdin, with [`ServeOptions::from_env`].
///
/// Fails with [`ServeError::NotUnderHost`] when the program was started by hand (no
/// `MOLECULE_BACKEND=1` and stdin is a terminal): print it, it says how to run the backend.
pub async fn serve_stdio<B: Backend>(backend: B) -> Result<(), ServeError> {
    check_started_by_host()?;
    let (input, output) = take_stdio().map_err(ServeError::Stdio)?;
    serve_with(backend, input, output, ServeOptions::from_env()).await
}

/// The whole `main` of a backend: builds a multi-threaded runtime, serves on stdin/stdout, and
/// returns the exit code (0 after a clean shutdown, 2 when started by hand, 1 on I/O failure),
/// having printed any error to stderr.
///
/// ```no_run
/// # struct MyBackend;
/// # impl molecule_plugin::Backend for MyBackend {
/// #     fn info(&self) -> molecule_plugin::protocol::methods::BackendInfo { molecule_plugin::package_info!() }
/// #     async fn handle_a2a(&self, _: molecule_plugin::protocol::HandleA2aParams, _: molecule_plugin::RequestContext)
/// #         -> Result<molecule_plugin::protocol::HandleA2aResult, molecule_plugin::protocol::RpcError> { Ok(molecule_plugin::reply::none()) }
/// # }
/// fn main() -> std::process::ExitCode {
///     molecule_plugin::run(MyBackend)
/// }
/// ```
pub fn run<B: Backend>(backend: B) -> ExitCode {
    run_with(backend, Threads::Multi)
}

/// Which tokio runtime [`run_with`] builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// A worker per core: a handler that blocks or computes does not hold up the others, nor
    /// the reading of `ping` and `$/cancelRequest`. The right choice for most backends.
    Multi,
    /// Everything on the calling thread: no hand-offs between threads, so the lowest latency
    /// (about a quarter of `Multi`'s for a trivial handler), but a handler that blocks stalls
    /// the whole backend. Only for handlers that never block and compute little.
    Current,
}

/// [`run`] with a choice of runtime.
pub fn run_with<B: Backend>(backend: B, threads: Threads) -> ExitCode {
    let outcome = check_started_by_host().and_then(|()| {
        let mut builder = match threads {
            Threads::Multi => tokio::runtime::Builder::new_multi_thread(),
            Threads::Current => tokio::runtime::Builder::new_current_thread(),
        };
        let runtime = builder.enable_all().build().map_err(ServeError::Runtime)?;
        let outcome = runtime.block_on(serve_stdio(backend));
        // Tasks a handler left behind must not hold the exit up.
        runtime.shutdown_timeout(Duration::from_millis(100));
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ ServeError::NotUnderHost { .. }) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
        Err(e) => {
            eprintln!("molecule-plugin: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A backend run by hand gets an explanation instead of a silent wait for JSON on a terminal.
/// Piped input is accepted without `MOLECULE_BACKEND`, so tests and tools can drive it.
fn check_started_by_host() -> Result<(), ServeError> {
    let under_host = std::env::var_os("MOLECULE_BACKEND").is_some_and(|v| v == "1");
    if under_host || !io::stdin().is_terminal() {
        return Ok(());
    }
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "this program".to_owned());
    Err(ServeError::NotUnderHost { program })
}

fn take_stdio() -> io::Result<(Input, Output)> {
    // `try_clone_to_owned` duplicates with close-on-exec, so children never inherit them.
    let input = io::stdin().as_fd().try_clone_to_owned()?;
    let output = io::stdout().as_fd().try_clone_to_owned()?;
    io::stdout().flush()?;
    let devnull = File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&devnull)?;
    nix::unistd::dup2_stdout(io::stderr())?;
    Ok((reader(input)?, writer(output)?))
}

/// Pipes and sockets are driven by the runtime's reactor; anything else (a file, a terminal)
/// goes through blocking reads on tokio's thread pool.
fn reader(fd: OwnedFd) -> io::Result<Input> {
    let file = File::from(fd);
    let kind = file.metadata()?.file_type();
    if kind.is_fifo() {
        Ok(Box::new(pipe::Receiver::from_owned_fd(file.into())?))
    } else if kind.is_socket() {
        Ok(Box::new(socket(file)?))
    } else {
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }
}

fn writer(fd: OwnedFd) -> io::Result<Output> {
    let file = File::from(fd);
    let kind = file.metadata()?.file_type();
    if kind.is_fifo() {
        Ok(Box::new(pipe::Sender::from_owned_fd(file.into())?))
    } else if kind.is_socket() {
        Ok(Box::new(socket(file)?))
    } else {
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }
}

fn socket(file: File) -> io::Result<tokio::net::UnixStream> {
    let stream = std::os::unix::net::UnixStream::from(OwnedFd::from(file));
    stream.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(stream)
}
