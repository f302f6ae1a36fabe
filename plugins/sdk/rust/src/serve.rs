//! The connection loop: reads the host's lines, hands each to the dispatcher, and shuts down
//! in order when the input ends.
//!
//! The loop keeps reading while handlers run, so a `$/cancelRequest` or a `ping` is seen at
//! once. At end of input (the host's shutdown signal) it stops reading, fails calls still
//! waiting on the host, gives in-flight handlers [`ServeOptions::shutdown_grace`] to finish,
//! cancels the rest, flushes, and returns.

use crate::backend::Backend;
use crate::error::ServeError;
use crate::host::{Answer, HostLink};
use crate::log;
use crate::outbox::{Outbox, spawn_writer};
use crate::workspace::Workspaces;
use molecule_protocol::codec::{DEFAULT_MAX_MESSAGE_BYTES, Frame, FrameReader};
use molecule_protocol::{Message, RequestId, RpcError, code, encode};
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// Tunables of [`serve_with`]. Every timer is here so tests can run in milliseconds.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The longest line read from the host, in bytes (default 8 MiB). Longer lines are
    /// discarded, and the request they carried is answered with an error when its id is legible.
    pub max_message_bytes: usize,
    /// After the input ends, how long in-flight handlers may run before they are cancelled
    /// (default 3 s, so that the backend exits well within the 5 s the host allows).
    pub shutdown_grace: Duration,
    /// After that, how long cancelled handlers get to answer and the writer to flush
    /// (default 500 ms).
    pub shutdown_flush: Duration,
    /// How many outgoing lines may wait for the writer before handlers wait too (default 1024).
    pub queue: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            shutdown_grace: Duration::from_secs(3),
            shutdown_flush: Duration::from_millis(500),
            queue: 1024,
        }
    }
}

impl ServeOptions {
    /// The defaults, overridden by `MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS`,
    /// `MOLECULE_PLUGIN_SHUTDOWN_FLUSH_MS` and `MOLECULE_PLUGIN_MAX_MESSAGE_BYTES` when set.
    pub fn from_env() -> Self {
        let num = |name: &str| std::env::var(name).ok()?.trim().parse::<u64>().ok();
        let mut opts = ServeOptions::default();
        if let Some(ms) = num("MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS") {
            opts.shutdown_grace = Duration::from_millis(ms);
        }
        if let Some(ms) = num("MOLECULE_PLUGIN_SHUTDOWN_FLUSH_MS") {
            opts.shutdown_flush = Duration::from_millis(ms);
        }
        if let Some(n) = num("MOLECULE_PLUGIN_MAX_MESSAGE_BYTES") {
            opts.max_message_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        opts
    }
}

/// Serves `backend` over any byte streams with the default options (the test harness uses
/// in-memory pipes). Returns `Ok(())` when `input` ends and the shutdown completed.
pub async fn serve<B, R, W>(backend: B, input: R, output: W) -> Result<(), ServeError>
where
    B: Backend,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    serve_with(backend, input, output, ServeOptions::default()).await
}

/// Serves `backend` over any byte streams with `options`.
pub async fn serve_with<B, R, W>(
    backend: B,
    input: R,
    output: W,
    options: ServeOptions,
) -> Result<(), ServeError>
where
    B: Backend,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (outbox, writer) = spawn_writer(output, options.queue);
    let conn = Connection {
        cancel_grace: backend.cancel_grace(),
        backend: Arc::new(backend),
        link: HostLink::new(outbox.clone()),
        outbox,
        ready: false,
        max_line: options.max_message_bytes,
        inflight: HashMap::new(),
        tasks: JoinSet::new(),
        options,
        workspaces: Workspaces::default(),
        many_workspaces: false,
    };
    conn.run(input, writer).await
}

/// One connection's state. Only the read loop touches it, so it needs no locks.
pub(crate) struct Connection<B> {
    pub(crate) backend: Arc<B>,
    pub(crate) outbox: Outbox,
    pub(crate) link: Arc<HostLink>,
    /// `initialize` has been answered successfully.
    pub(crate) ready: bool,
    /// The longest line the host accepts from us (its `limits.maxMessageBytes`).
    pub(crate) max_line: usize,
    pub(crate) cancel_grace: Duration,
    /// The cancellation token of each request being handled.
    pub(crate) inflight: HashMap<RequestId, CancellationToken>,
    /// The handler tasks; each yields its request id once it has answered.
    pub(crate) tasks: JoinSet<RequestId>,
    pub(crate) options: ServeOptions,
    /// The workspaces open in this process.
    pub(crate) workspaces: Workspaces,
    /// The backend advertised `maxWorkspaces` above 1 (SPEC §17).
    pub(crate) many_workspaces: bool,
}

type Writer = JoinHandle<io::Result<()>>;

impl<B: Backend> Connection<B> {
    async fn run<R>(mut self, input: R, mut writer: Writer) -> Result<(), ServeError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let mut reader = FrameReader::new(BufReader::new(input), self.options.max_message_bytes);
        loop {
            tokio::select! {
                biased;
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.finished(done);
                }
                ended = &mut writer => return Err(writer_failure(ended)),
                frame = reader.next_frame() => match frame {
                    Ok(Some(frame)) => self.on_frame(frame).await,
                    Ok(None) => break,
                    Err(e) => {
                        self.shutdown(writer).await?;
                        return Err(ServeError::Read(e));
                    }
                },
            }
        }
        self.shutdown(writer).await
    }

    fn finished(&mut self, done: Result<RequestId, JoinError>) {
        // Handlers' panics are caught inside the task, so only an abort fails a join.
        if let Ok(id) = done {
            self.inflight.remove(&id);
        }
    }

    async fn on_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Line(line) => match Message::parse(&line) {
                Ok(Message::Request(req)) => self.on_request(req).await,
                Ok(Message::Notification(n)) => self.on_notification(n),
                Ok(Message::Response(resp)) => self.on_response(resp.id, resp.result),
                Err(e) if e.is_junk() => {
                    log::warn(format_args!(
                        "ignored a line that is not JSON-RPC ({e}): {}",
                        log::preview(&line)
                    ));
                }
                Err(e) => {
                    let id = molecule_protocol::codec::sniff_id(&line);
                    self.on_invalid(id, e.to_string()).await;
                }
            },
            Frame::Oversize { len, id } => {
                let limit = self.options.max_message_bytes;
                log::warn(format_args!(
                    "discarded a {len}-byte line from the host, over the {limit}-byte line cap"
                ));
                match id {
                    Some(id) if self.link.is_pending(&id) => {
                        self.link.deliver(&id, Answer::TooLarge(len));
                    }
                    Some(id) => {
                        let error = RpcError::new(
                            code::INVALID_REQUEST,
                            format!(
                                "request too large: {len} bytes, over the backend's line cap of {limit} bytes"
                            ),
                        );
                        self.send(encode::error(Some(&id), &error)).await;
                    }
                    None => {}
                }
            }
        }
    }

    /// A JSON-RPC object that is not a valid message: fail our call it answers, or say why.
    async fn on_invalid(&mut self, id: Option<RequestId>, reason: String) {
        if let Some(id) = &id
            && self.link.is_pending(id)
        {
            let error = RpcError::new(code::INVALID_REQUEST, format!("malformed answer: {reason}"));
            self.link.deliver(id, Answer::Result(Err(error)));
            return;
        }
        let error = RpcError::new(code::INVALID_REQUEST, format!("invalid request: {reason}"));
        self.send(encode::error(id.as_ref(), &error)).await;
    }

    fn on_response(&mut self, id: Option<RequestId>, result: Result<serde_json::Value, RpcError>) {
        match id {
            Some(id) => {
                if !self.link.deliver(&id, Answer::Result(result)) {
                    log::warn(format_args!(
                        "ignored the host's answer to {id}, which no call awaits"
                    ));
                }
            }
            None => log::warn(format_args!("the host reported an error: {result:?}")),
        }
    }

    /// Queues a line; a closed outbox means the writer failed, which the loop reports.
    pub(crate) async fn send(&self, line: Vec<u8>) {
        let _ = self.outbox.send(line).await;
    }

    async fn shutdown(mut self, mut writer: Writer) -> Result<(), ServeError> {
        self.link.close();
        let grace = self.options.shutdown_grace;
        if tokio::time::timeout(grace, self.join_all()).await.is_err() {
            for token in self.inflight.values() {
                token.cancel();
            }
            let flush = self.options.shutdown_flush;
            let _ = tokio::time::timeout(flush, self.join_all()).await;
            self.tasks.abort_all();
        }
        let flush = self.options.shutdown_flush;
        if tokio::time::timeout(flush, self.outbox.finish())
            .await
            .is_err()
        {
            log::warn("the host stopped reading; unsent answers were dropped at shutdown");
            writer.abort();
            return Ok(());
        }
        match tokio::time::timeout(flush, &mut writer).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(ended) => Err(writer_failure(ended)),
            Err(_) => {
                log::warn("the host stopped reading; unsent answers were dropped at shutdown");
                writer.abort();
                Ok(())
            }
        }
    }

    async fn join_all(&mut self) {
        while let Some(done) = self.tasks.join_next().await {
            self.finished(done);
        }
    }
}

fn writer_failure(ended: Result<io::Result<()>, JoinError>) -> ServeError {
    ServeError::Write(match ended {
        Ok(Err(e)) => e,
        Ok(Ok(())) => io::Error::new(io::ErrorKind::BrokenPipe, "the writer stopped"),
        Err(e) => io::Error::other(e),
    })
}
