//! The accept loop: TCP_NODELAY on every connection (small JSON answers otherwise wait on
//! Nagle's algorithm), HTTP/1.1 keep-alive, and a per-connection handle that lets fault
//! injection drop the connection without writing a byte.

use axum::Router;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower_service::Service;

/// Put into every request's extensions: who is connected, and how to hang up on them.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    /// The client's address (the older platform's rate-limit key).
    pub peer: SocketAddr,
    kill: Arc<Notify>,
}

impl ConnHandle {
    /// Closes the connection without answering. The returned future never completes: the
    /// connection task drops it together with the connection.
    pub async fn drop_connection(&self) -> Response {
        self.kill.notify_one();
        std::future::pending().await
    }
}

/// Serves `router` on `listener` until `shutdown` turns true; open connections are then closed.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: keep serving the open ones.
                        tracing::warn!("emulator: accept failed: {e}");
                        tokio::task::yield_now().await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                conns.spawn(connection(stream, peer, router.clone()));
            }
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn connection(stream: tokio::net::TcpStream, peer: SocketAddr, router: Router) {
    let kill = Arc::new(Notify::new());
    let handle = ConnHandle {
        peer,
        kill: kill.clone(),
    };
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}
