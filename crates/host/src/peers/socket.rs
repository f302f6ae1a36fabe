//! The host socket: the host methods for tools a backend starts, on a Unix socket whose path
//! the backend gets as `MOLECULE_HOST_SOCKET`.
//!
//! NDJSON JSON-RPC 2.0 with no handshake; calls carry no request scope. The socket is 0600 in a
//! 0700 directory ([`super::path`]); a socket left by a killed host is replaced, one held by a
//! live host is left alone (this host then takes a name with its pid), and the sockets of
//! other dead hosts are removed at start ([`super::stale`]). At most
//! `socket_clients` clients are connected (more are disconnected at once) and `socket_calls`
//! calls in flight (more wait, which stops reading from their client). A client's calls live
//! only as long as its connection: at EOF (the client closed or died) they are cancelled and any
//! `waitMs` wait they hold is withdrawn, so a late answer becomes an ordinary message instead of
//! being claimed for a reader that is gone. Dropping the [`HostSocket`] stops serving and removes
//! the socket.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use molecule_protocol::codec::{DEFAULT_MAX_MESSAGE_BYTES, Frame, FrameReader};
use molecule_protocol::{Message, Request, RequestId, Response, RpcError, code};
use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Peers;
use super::path::{directories, fits, names, private_dir, short_name};
use super::stale;
use crate::backend::HostCall;

/// A serving host socket; dropping it stops serving and removes the file.
#[derive(Debug)]
pub struct HostSocket {
    path: PathBuf,
    stop: CancellationToken,
}

impl HostSocket {
    /// Binds the socket for `workspace` and serves `peers`' methods on it. `xdg_runtime_dir` is
    /// `$XDG_RUNTIME_DIR`. Must be called within a tokio runtime.
    pub fn start(
        peers: Arc<Peers>,
        workspace: Uuid,
        xdg_runtime_dir: Option<OsString>,
    ) -> std::io::Result<HostSocket> {
        let (path, listener) = bind(workspace, xdg_runtime_dir)?;
        let stop = CancellationToken::new();
        let s = peers.settings();
        let limits = Limits {
            clients: Arc::new(Semaphore::new(s.socket_clients.max(1))),
            calls: Arc::new(Semaphore::new(s.socket_calls.max(1))),
        };
        tokio::spawn(accept_loop(listener, peers, limits, stop.clone()));
        tracing::info!(path = %path.display(), "host socket ready");
        Ok(HostSocket { path, stop })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for HostSocket {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Picks the first usable path and binds it.
fn bind(workspace: Uuid, xdg: Option<OsString>) -> std::io::Result<(PathBuf, UnixListener)> {
    let mut last = std::io::Error::other("no directory for the host socket");
    for dir in directories(xdg) {
        if let Err(e) = private_dir(&dir) {
            last = std::io::Error::other(format!("{}: {e}", dir.display()));
            continue;
        }
        stale::sweep(&dir);
        let [own, with_pid] = names(workspace);
        for name in [own, with_pid, short_name(workspace)] {
            let path = dir.join(name);
            if !fits(&path) {
                continue;
            }
            match claim(&path) {
                Ok(listener) => return Ok((path, listener)),
                Err(e) => last = e,
            }
        }
    }
    Err(last)
}

/// Binds `path`, replacing a socket nobody listens on any more.
fn claim(path: &Path) -> std::io::Result<UnixListener> {
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is served by another live host", path.display()),
            ));
        }
        tracing::info!(path = %path.display(), "replacing a stale host socket");
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

#[derive(Clone)]
struct Limits {
    clients: Arc<Semaphore>,
    calls: Arc<Semaphore>,
}

async fn accept_loop(
    listener: UnixListener,
    peers: Arc<Peers>,
    limits: Limits,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("host socket: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limits.clients.clone().try_acquire_owned() else {
            tracing::warn!("host socket: too many clients; one was disconnected");
            drop(stream);
            continue;
        };
        let client = Client {
            peers: peers.clone(),
            calls: limits.calls.clone(),
        };
        tokio::spawn(client.serve(stream, permit, stop.child_token()));
    }
}

struct Client {
    peers: Arc<Peers>,
    calls: Arc<Semaphore>,
}

impl Client {
    async fn serve(
        self,
        stream: UnixStream,
        _permit: OwnedSemaphorePermit,
        stop: CancellationToken,
    ) {
        let (read, mut write) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
        let writer = tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                if write.write_all(&line).await.is_err() {
                    break;
                }
            }
        });
        let mut frames = FrameReader::new(BufReader::new(read), DEFAULT_MAX_MESSAGE_BYTES);
        loop {
            let frame = tokio::select! {
                () = stop.cancelled() => break,
                f = frames.next_frame() => f,
            };
            match frame {
                Ok(Some(Frame::Line(line))) => self.on_line(&line, &tx, &stop).await,
                Ok(Some(Frame::Oversize { id, .. })) => {
                    let e = RpcError::new(code::INVALID_REQUEST, "the line is too long");
                    let _ = tx.send(response(id, Err(e))).await;
                }
                Ok(None) | Err(_) => break,
            }
        }
        // The client is gone (or the host stops): nobody reads the answers of its calls.
        stop.cancel();
        drop(tx);
        let _ = writer.await;
    }

    /// Starts the call `line` asks for; `gone` cancels it when the client disconnects.
    async fn on_line(&self, line: &[u8], tx: &mpsc::Sender<Vec<u8>>, gone: &CancellationToken) {
        let request = match Message::parse(line) {
            Ok(Message::Request(r)) => r,
            Ok(_) => return,
            Err(e) => {
                let e = RpcError::new(code::PARSE_ERROR, format!("not a JSON-RPC request: {e}"));
                let _ = tx.send(response(None, Err(e))).await;
                return;
            }
        };
        // Waiting here stops reading this client: calls over the cap queue up.
        let Ok(permit) = self.calls.clone().acquire_owned().await else {
            return;
        };
        let peers = self.peers.clone();
        let tx = tx.clone();
        let gone = gone.clone();
        tokio::spawn(async move {
            let method = request.method.clone();
            // Dropping the call drops its waiter registration: a late answer is dispatched.
            tokio::select! {
                result = call(&peers, request.clone()) => {
                    let _ = tx.send(response(Some(request.id), result)).await;
                }
                () = gone.cancelled() => {
                    tracing::info!(
                        method = %method,
                        "host socket: the client disconnected; its call was abandoned \
                         and any wait it held withdrawn"
                    );
                }
            }
            drop(permit);
        });
    }
}

async fn call(peers: &Peers, r: Request) -> Result<Value, RpcError> {
    let Some(handlers) = peers.ready_handlers() else {
        return Err(RpcError::new(
            code::INTERNAL_ERROR,
            "the host is not serving yet; try again shortly",
        ));
    };
    match handlers.get(&r.method) {
        Some(handler) => {
            handler
                .call(HostCall {
                    method: r.method,
                    params: r.params,
                    request: None,
                })
                .await
        }
        None if r.method == molecule_protocol::methods::name::PING => {
            Ok(Value::Object(Default::default()))
        }
        None => Err(RpcError::method_not_found(&r.method)),
    }
}

fn response(id: Option<RequestId>, result: Result<Value, RpcError>) -> Vec<u8> {
    let mut line = Message::Response(Response { id, result })
        .to_line()
        .into_bytes();
    line.push(b'\n');
    line
}
