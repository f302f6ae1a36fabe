//! The JSON-RPC connection to one backend process: one writer task fed by a bounded channel,
//! one reader task, and the table of requests waiting for their answer.
//!
//! Ids are integers counting up from 0 and never reused on a connection. Every registered
//! request gets exactly one outcome: its answer, or the error that replaced it (a crash, an
//! over-long answer). Answers for ids that are not waiting are logged and counted, never
//! delivered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use molecule_protocol::RequestId;
use molecule_protocol::codec::{FrameReader, write_line};
use molecule_protocol::encode;
use molecule_protocol::methods::{CancelParams, CancelReason, CancelRequest};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::CallError;
use super::handlers::{HostHandlers, RequestScope};
use super::routes::Routes;
use super::stats::{Counter, Counters};
use super::stderr::{RateLimit, Source};

/// How many encoded lines may wait for the writer.
const WRITE_QUEUE: usize = 256;

/// Something the connection saw that ends the backend's usefulness.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// Its stdout reached end of file (or failed).
    StdoutClosed,
    /// A write to its stdin failed: it closed stdin, or died.
    StdinClosed,
    /// A write to its stdin blocked past the write timeout.
    WriteStalled(Duration),
}

/// A request waiting for its answer.
struct Pending {
    tx: oneshot::Sender<Result<Value, CallError>>,
    progress: Arc<Notify>,
    scope: Option<RequestScope>,
}

/// A registered request: its id, where its outcome arrives, and its progress signal.
pub(crate) struct Registered {
    pub(crate) id: i64,
    pub(crate) outcome: oneshot::Receiver<Result<Value, CallError>>,
    pub(crate) progress: Arc<Notify>,
}

/// The waiting requests; once the backend has ended (`dead`), no more are taken.
#[derive(Default)]
struct Table {
    waiting: HashMap<i64, Pending>,
    dead: bool,
}

/// The host's endpoint of one connection, shared by the [`Connection`] handles and the
/// reader and writer tasks: the write queue, the requests waiting for answers, the limits.
pub(crate) struct Endpoint {
    pub(crate) writer: mpsc::Sender<Vec<u8>>,
    pending: Mutex<Table>,
    next_id: AtomicI64,
    pub(crate) max: usize,
    pub(crate) counters: Arc<Counters>,
    /// The workspaces open in this process, and what serves their calls (SPEC §17).
    pub(crate) routes: Routes,
    pub(crate) source: Source,
    first_junk: Mutex<Option<String>>,
    pub(crate) log_limit: Mutex<RateLimit>,
}

/// The host's end of one backend connection.
#[derive(Clone)]
pub(crate) struct Connection {
    shared: Arc<Endpoint>,
    close: CancellationToken,
}

/// What a connection needs besides the pipes.
pub(crate) struct ConnConfig {
    pub(crate) max_message_bytes: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) counters: Arc<Counters>,
    pub(crate) handlers: HostHandlers,
    pub(crate) host_calls_in_flight: usize,
    pub(crate) workspace_id: String,
    pub(crate) source: Source,
}

/// The tasks behind a connection.
pub(crate) struct ConnTasks {
    pub(crate) reader: JoinHandle<()>,
    pub(crate) writer: JoinHandle<()>,
    pub(crate) events: mpsc::UnboundedReceiver<ConnEvent>,
}

impl Connection {
    /// Starts the reader and writer tasks over the backend's stdout and stdin.
    pub(crate) fn start<W, R>(stdin: W, stdout: R, config: ConnConfig) -> (Connection, ConnTasks)
    where
        W: AsyncWrite + Unpin + Send + 'static,
        R: AsyncRead + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let (events_tx, events) = mpsc::unbounded_channel();
        let shared = Arc::new(Endpoint {
            writer: tx,
            pending: Mutex::new(Table::default()),
            next_id: AtomicI64::new(0),
            max: config.max_message_bytes,
            counters: config.counters,
            routes: Routes::new(
                config.workspace_id,
                config.handlers,
                config.host_calls_in_flight,
            ),
            source: config.source,
            first_junk: Mutex::new(None),
            log_limit: Mutex::new(RateLimit::new(100, Duration::from_secs(10))),
        });
        let close = CancellationToken::new();
        let writer = tokio::spawn(write_loop(
            stdin,
            rx,
            close.clone(),
            config.write_timeout,
            events_tx.clone(),
        ));
        let frames = FrameReader::new(BufReader::with_capacity(64 * 1024, stdout), shared.max);
        let reader = tokio::spawn(super::incoming::read_loop(
            frames,
            shared.clone(),
            events_tx,
        ));
        let conn = Connection { shared, close };
        (
            conn,
            ConnTasks {
                reader,
                writer,
                events,
            },
        )
    }

    /// Takes the next id and waits for its answer. With `scope` (a deadline, a token and the
    /// request's workspace), a backend → host call made on behalf of this request sees them.
    /// `None` when the backend has already ended.
    pub(crate) fn register(
        &self,
        scope: Option<(std::time::Instant, CancellationToken, String)>,
    ) -> Option<Registered> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, outcome) = oneshot::channel();
        let progress = Arc::new(Notify::new());
        let pending = Pending {
            tx,
            progress: progress.clone(),
            scope: scope.map(|(deadline, cancel, workspace)| RequestScope {
                id,
                deadline,
                cancel,
                workspace,
            }),
        };
        let mut table = self.shared.lock_pending();
        if table.dead {
            return None;
        }
        table.waiting.insert(id, pending);
        drop(table);
        Some(Registered {
            id,
            outcome,
            progress,
        })
    }

    /// Encodes (through the protocol crate) and queues the request `id`: `false` when the
    /// writer has stopped (the backend is ending). Fails without sending when the line is over
    /// the cap.
    pub(crate) async fn send_request<P: Serialize>(
        &self,
        id: i64,
        method: &str,
        params: &P,
    ) -> Result<bool, CallError> {
        let line = encode::request_by_name(&RequestId::Number(id), method, params)
            .map_err(|e| CallError::Encode(e.to_string()))?;
        let len = line.len() - 1;
        if len > self.shared.max {
            return Err(CallError::RequestTooLarge {
                len,
                max: self.shared.max,
            });
        }
        self.shared.counters.bump(Counter::requests_sent);
        Ok(self.shared.writer.send(line).await.is_ok())
    }

    /// Queues `$/cancelRequest` for `id` without waiting; dropped when the queue is full or
    /// closed (the backend is not reading, and will be stopped for it).
    pub(crate) fn cancel(&self, id: i64, reason: CancelReason) {
        let params = CancelParams::new(RequestId::Number(id), reason);
        let line = match encode::notification::<CancelRequest>(&params) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(backend = %self.shared.source.name, "cannot encode a cancel: {e}");
                return;
            }
        };
        if self.shared.writer.try_send(line).is_err() {
            tracing::warn!(backend = %self.shared.source.name, "could not queue $/cancelRequest: the backend is not reading");
        }
    }

    /// Stops waiting for `id`; `false` when its outcome was already delivered.
    pub(crate) fn forget(&self, id: i64) -> bool {
        self.shared.lock_pending().waiting.remove(&id).is_some()
    }

    /// Fails every waiting request with `error` and takes no more (the backend ended).
    pub(crate) fn fail_all(&self, error: CallError) {
        let drained: Vec<Pending> = {
            let mut table = self.shared.lock_pending();
            table.dead = true;
            table.waiting.drain().map(|(_, p)| p).collect()
        };
        for p in drained {
            let _ = p.tx.send(Err(error.clone()));
        }
    }

    /// Closes the backend's stdin once the queued lines are written: the shutdown signal.
    pub(crate) fn close_stdin(&self) {
        self.close.cancel();
    }

    /// The workspaces open in this process.
    pub(crate) fn routes(&self) -> &Routes {
        &self.shared.routes
    }

    /// The first non-protocol line the backend wrote to stdout, for start-up errors.
    pub(crate) fn first_junk(&self) -> Option<String> {
        self.shared
            .first_junk
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Endpoint {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Table> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers an outcome to `id`; `false` when nothing waits for it.
    pub(crate) fn deliver(&self, id: i64, outcome: Result<Value, CallError>) -> bool {
        match self.lock_pending().waiting.remove(&id) {
            Some(p) => {
                self.routes.answered(id, outcome.is_ok());
                let _ = p.tx.send(outcome);
                true
            }
            None => false,
        }
    }

    /// Whether `id` was handed out on this connection (so an answer for it that nothing waits
    /// for is a duplicate or late answer, not an invented id).
    pub(crate) fn was_issued(&self, id: i64) -> bool {
        id >= 0 && id < self.next_id.load(Ordering::Relaxed)
    }

    /// Wakes the request `id`'s idle timer; `false` when it is not in flight.
    pub(crate) fn progress(&self, id: i64) -> bool {
        match self.lock_pending().waiting.get(&id) {
            Some(p) => {
                p.progress.notify_one();
                true
            }
            None => false,
        }
    }

    /// The scope of the in-flight request `id`, if it has one.
    pub(crate) fn scope(&self, id: i64) -> Option<RequestScope> {
        self.lock_pending()
            .waiting
            .get(&id)
            .and_then(|p| p.scope.clone())
    }

    /// Remembers the first junk line.
    pub(crate) fn note_junk(&self, line: &str) {
        let mut first = self.first_junk.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(line.to_owned());
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut stdin: W,
    mut lines: mpsc::Receiver<Vec<u8>>,
    close: CancellationToken,
    write_timeout: Duration,
    events: mpsc::UnboundedSender<ConnEvent>,
) {
    loop {
        let line = tokio::select! {
            biased;
            line = lines.recv() => match line {
                Some(line) => line,
                None => break,
            },
            _ = close.cancelled() => break,
        };
        match tokio::time::timeout(write_timeout, write_line(&mut stdin, &line)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                let _ = events.send(ConnEvent::StdinClosed);
                break;
            }
            Err(_) => {
                let _ = events.send(ConnEvent::WriteStalled(write_timeout));
                break;
            }
        }
    }
    // Dropping stdin here is what closes it.
}
