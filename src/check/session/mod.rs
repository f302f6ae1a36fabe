//! One backend process under test, driven by hand: the checker writes exactly the lines a check
//! needs, reads and records every line the backend writes (answering its calls to the host as
//! the scripted host says), drains its stderr, and at the end closes stdin and watches how the
//! backend goes.

mod answers;
mod calls;
mod ending;
mod error;
mod streams;

pub use ending::Finished;
pub use error::{BadCause, SessionError, exit_text, human};

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use molecule_protocol::codec::{FrameReader, write_line};
use molecule_protocol::methods::name;
use molecule_protocol::{InitializeParams, Message, Notification, Request, RequestId, RpcError};
use serde_json::Value;
use tokio::io::BufReader;
use tokio::process::ChildStdin;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use super::host::ScriptedHost;
use super::plan::{Plan, Timers};
use super::record::{Kind, Record};
use answers::{answers, describe};
use molecule_host::backend::BackendProcess;
use streams::{Next, Reader, drain_stderr, lock};

/// One backend process under test.
pub struct Session {
    process: BackendProcess,
    stdin: Option<ChildStdin>,
    reader: Reader,
    record: Arc<Mutex<Record>>,
    stderr: Option<JoinHandle<()>>,
    init: InitializeParams,
    timers: Timers,
    max_message_bytes: usize,
    spawned: Instant,
    next_id: i64,
    /// Entries before this index have been looked at for calls to the host.
    seen: usize,
    /// The host the checker plays.
    host: Arc<ScriptedHost>,
    /// Calls to the host the script holds, unanswered.
    held: Vec<RequestId>,
    /// Spawn → the `initialize` answer, once there was one.
    pub startup: Option<Duration>,
}

impl Session {
    /// Starts the backend with the host's environment.
    pub async fn spawn(plan: &Plan, record: Arc<Mutex<Record>>) -> Result<Session, SessionError> {
        let spawn_error = |source| SessionError::Spawn {
            program: plan.command.display.clone(),
            source,
        };
        let spawned = Instant::now();
        let (process, pipes) = BackendProcess::spawn(&plan.command, plan.env.clone())
            .await
            .map_err(spawn_error)?;
        let stderr = tokio::spawn(drain_stderr(pipes.stderr, record.clone()));
        Ok(Session {
            process,
            stdin: Some(pipes.stdin),
            reader: Reader {
                frames: FrameReader::new(BufReader::new(pipes.stdout), plan.max_message_bytes),
                done: false,
            },
            record,
            stderr: Some(stderr),
            init: plan.init.clone(),
            timers: plan.timers,
            max_message_bytes: plan.max_message_bytes,
            spawned,
            next_id: 0,
            seen: 0,
            host: plan.host.clone(),
            held: Vec::new(),
            startup: None,
        })
    }

    /// The record of this session.
    pub fn record(&self) -> MutexGuard<'_, Record> {
        lock(&self.record)
    }

    /// The timers of the run.
    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// A fresh integer id.
    pub fn next_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        RequestId::Number(id)
    }

    /// Sends `initialize` offering `version` and waits for its answer within the start-up
    /// timeout (counted from the spawn).
    pub async fn initialize(
        &mut self,
        version: u32,
    ) -> Result<Result<Value, RpcError>, SessionError> {
        let mut params = self.init.clone();
        params.protocol_version = version;
        let params = serde_json::to_value(params).unwrap_or(Value::Null);
        let id = self.next_id();
        self.send_request(id.clone(), name::INITIALIZE, Some(params))
            .await?;
        let deadline = self.spawned + self.timers.startup;
        let answer = self.answer_by(&id, deadline, self.timers.startup).await?;
        self.startup = Some(self.spawned.elapsed());
        Ok(answer)
    }

    /// Sends a request with a fresh id; returns the id.
    pub async fn request(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<RequestId, SessionError> {
        let id = self.next_id();
        self.send_request(id.clone(), method, params).await?;
        Ok(id)
    }

    /// Sends a request with the given id.
    pub async fn send_request(
        &mut self,
        id: RequestId,
        method: &str,
        params: Option<Value>,
    ) -> Result<(), SessionError> {
        let method = method.to_owned();
        self.send(&Message::Request(Request { id, method, params }))
            .await
    }

    /// Sends a notification.
    pub async fn notify(&mut self, method: &str, params: Value) -> Result<(), SessionError> {
        let method = method.to_owned();
        let params = Some(params);
        self.send(&Message::Notification(Notification { method, params }))
            .await
    }

    /// Sends a request and waits for its answer.
    pub async fn call(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Result<Value, RpcError>, SessionError> {
        let id = self.request(method, params).await?;
        self.answer(&id).await
    }

    /// Writes one line, then answers the calls to the host that arrived meanwhile.
    pub async fn send(&mut self, msg: &Message) -> Result<(), SessionError> {
        match self.write(msg).await {
            // A pipe closed under the write: the backend is gone, say how.
            Err(SessionError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                Err(self.ended(describe_message(msg)).await)
            }
            result => {
                self.answer_host_calls().await;
                result
            }
        }
    }

    /// Writes one line, reading stdout meanwhile (a backend blocked on a full stdout pipe
    /// would otherwise never read its stdin).
    async fn write(&mut self, msg: &Message) -> Result<(), SessionError> {
        let text = msg.to_line();
        lock(&self.record).host(msg, &text);
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(SessionError::Write(io::ErrorKind::BrokenPipe.into()));
        };
        let mut bytes = text.into_bytes();
        bytes.push(b'\n');
        let deadline = Instant::now() + self.timers.answer;
        let write = write_line(stdin, &bytes);
        tokio::pin!(write);
        loop {
            tokio::select! {
                written = &mut write => break written.map_err(SessionError::Write),
                next = self.reader.next(&self.record, deadline) => {
                    if let Next::Elapsed = next {
                        break Err(SessionError::Stalled {
                            what: describe_message(msg),
                            after: self.timers.answer,
                        });
                    }
                }
            }
        }
    }

    /// Waits for the answer to `id` within the answer timeout.
    pub async fn answer(
        &mut self,
        id: &RequestId,
    ) -> Result<Result<Value, RpcError>, SessionError> {
        self.answer_within(id, self.timers.answer).await
    }

    /// Waits for the answer to `id` within `limit`.
    pub async fn answer_within(
        &mut self,
        id: &RequestId,
        limit: Duration,
    ) -> Result<Result<Value, RpcError>, SessionError> {
        self.answer_by(id, Instant::now() + limit, limit).await
    }

    /// Waits for the answer to `id`; an answer already read (out of order) counts.
    async fn answer_by(
        &mut self,
        id: &RequestId,
        deadline: Instant,
        limit: Duration,
    ) -> Result<Result<Value, RpcError>, SessionError> {
        let mut index = 0;
        loop {
            {
                let record = self.record();
                for entry in &record.entries[index..] {
                    if let Some(outcome) = answers(&record, entry, id, self.max_message_bytes) {
                        return outcome;
                    }
                }
                index = record.entries.len();
            }
            self.next_entry(deadline, Waiting::Id(id), limit).await?;
        }
    }

    /// The index of the next line that answers something: a response, an invalid object with
    /// an id, or an over-long line. `waiting` names what the checker waits for, for errors.
    pub async fn next_answer(&mut self, waiting: &str) -> Result<usize, SessionError> {
        let deadline = Instant::now() + self.timers.answer;
        loop {
            let index = self
                .next_entry(deadline, Waiting::Text(waiting), self.timers.answer)
                .await?;
            let record = self.record();
            match &record.entries[index].kind {
                Kind::Response { .. } | Kind::Oversize { .. } => return Ok(index),
                Kind::Invalid {
                    raw_id: Some(_), ..
                } => return Ok(index),
                _ => {}
            }
        }
    }

    /// Reads the next backend line by `deadline`: its index in the record, or `None` when the
    /// deadline passed first. Errors when stdout ends (`waiting` says what for).
    pub async fn next_line_by(
        &mut self,
        deadline: Instant,
        waiting: &str,
    ) -> Result<Option<usize>, SessionError> {
        match self.reader.next(&self.record, deadline).await {
            Next::Entry(index) => {
                self.answer_host_calls().await;
                Ok(Some(index))
            }
            Next::Elapsed => Ok(None),
            Next::Eof => Err(self.ended(waiting.to_owned()).await),
        }
    }

    /// Reads the next backend line; errors when stdout ends or the deadline passes.
    async fn next_entry(
        &mut self,
        deadline: Instant,
        waiting: Waiting<'_>,
        limit: Duration,
    ) -> Result<usize, SessionError> {
        let next = self.reader.next(&self.record, deadline).await;
        let waiting = match waiting {
            Waiting::Id(id) => describe(&self.record(), id),
            Waiting::Text(text) => text.to_owned(),
        };
        match next {
            Next::Entry(index) => {
                self.answer_host_calls().await;
                Ok(index)
            }
            Next::Elapsed => Err(SessionError::Timeout {
                waiting,
                after: limit,
                junk: self.record().first_junk().map(|e| e.preview.clone()),
            }),
            Next::Eof => Err(self.ended(waiting).await),
        }
    }

    /// The error for a stdout that ended: how the process went, and its last words.
    async fn ended(&mut self, waiting: String) -> SessionError {
        let grace = self.timers.exit_grace;
        let how = match timeout(grace, self.process.wait()).await {
            Ok(Ok(status)) => exit_text(status),
            _ => "closed its stdout".to_owned(),
        };
        if let Some(task) = self.stderr.as_mut()
            && timeout(grace, task).await.is_ok()
        {
            self.stderr = None;
        }
        SessionError::Exited {
            waiting,
            how,
            stderr: self.record().stderr_tail(5),
        }
    }
}

/// What the checker waits for, for error messages.
enum Waiting<'a> {
    /// The answer to this request.
    Id(&'a RequestId),
    /// Something described in words.
    Text(&'a str),
}

/// "ping (id 3)", "$/cancelRequest", "the answer to a host call".
fn describe_message(msg: &Message) -> String {
    match msg {
        Message::Request(r) => format!("{} (id {})", r.method, r.id),
        Message::Notification(n) => n.method.clone(),
        Message::Response(_) => "the answer to its call to the host".into(),
    }
}
