//! [`TestHost`]: the host side of an in-memory connection to a backend.

use super::record::{HostCall, Recorder};
use super::{HostMethod, TestError, TestHostBuilder, initialize_params};
use crate::backend::Backend;
use crate::error::ServeError;
use crate::outbox::response_line;
use crate::serve::serve_with;
use molecule_protocol::codec::{Frame, FrameReader};
use molecule_protocol::methods::{
    CancelParams, CancelReason, CancelRequest, InitializeParams, InitializeResult, ProgressParams,
    name,
};
use molecule_protocol::{HandleA2aParams, HandleA2aResult, RequestId, RpcError, encode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The host side of an in-memory connection to a backend. See the [module docs](super).
pub struct TestHost {
    to_backend: Option<mpsc::UnboundedSender<Vec<u8>>>,
    recorder: Arc<Recorder>,
    next_id: AtomicI64,
    timeout: Duration,
    max_message_bytes: u64,
    host_methods: Vec<String>,
    init: Option<InitializeResult>,
    serve: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestHost {
    /// Serves `backend` with the defaults and performs the handshake.
    pub async fn start<B: Backend>(backend: B) -> Result<TestHost, TestError> {
        TestHostBuilder::default().start(backend).await
    }

    /// A builder, to offer host methods or change limits and timers.
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder::default()
    }

    pub(crate) async fn launch<B: Backend>(
        cfg: TestHostBuilder,
        backend: B,
    ) -> Result<TestHost, TestError> {
        let (host_in, backend_out) = tokio::io::duplex(64 * 1024);
        let (backend_in, host_out) = tokio::io::duplex(64 * 1024);
        let serve = tokio::spawn(serve_with(backend, backend_in, backend_out, cfg.options));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_to_backend(rx, host_out));
        let recorder = Arc::new(Recorder::default());
        let cap = usize::try_from(cfg.max_message_bytes).unwrap_or(usize::MAX);
        tokio::spawn(read_from_backend(
            host_in,
            cap,
            recorder.clone(),
            cfg.methods.clone(),
            tx.downgrade(),
        ));
        let mut host_methods: Vec<String> = cfg.methods.into_keys().collect();
        host_methods.sort();
        let mut host = TestHost {
            to_backend: Some(tx),
            recorder,
            next_id: AtomicI64::new(0),
            timeout: cfg.timeout,
            max_message_bytes: cfg.max_message_bytes,
            host_methods,
            init: None,
            serve: Some(serve),
        };
        if cfg.initialize {
            let params = host.default_initialize_params();
            host.initialize(params).await?;
        }
        Ok(host)
    }

    /// The `initialize` params this host sends by default.
    pub fn default_initialize_params(&self) -> InitializeParams {
        initialize_params(self.host_methods.clone(), self.max_message_bytes)
    }

    /// Performs the handshake with `params` (for hosts built `without_initialize`).
    pub async fn initialize(
        &mut self,
        params: InitializeParams,
    ) -> Result<InitializeResult, TestError> {
        let result: InitializeResult = self.call(name::INITIALIZE, to_value(&params)?).await?;
        self.init = Some(result.clone());
        Ok(result)
    }

    /// The backend's answer to `initialize`, once the handshake was done.
    pub fn init_result(&self) -> Option<&InitializeResult> {
        self.init.as_ref()
    }

    /// Sends `handle_a2a` and waits for its answer.
    pub async fn handle_a2a(&self, params: HandleA2aParams) -> Result<HandleA2aResult, TestError> {
        self.call(name::HANDLE_A2A, to_value(&params)?).await
    }

    /// Sends `handle_a2a` without waiting; get the answer with [`TestHost::answer`].
    pub async fn send_a2a(&self, params: HandleA2aParams) -> Result<RequestId, TestError> {
        let id = self.fresh_id();
        self.send_request(&id, name::HANDLE_A2A, to_value(&params)?);
        Ok(id)
    }

    /// Sends any request and waits for its result.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, TestError> {
        let id = self.fresh_id();
        self.send_request(&id, method, params);
        self.answer(&id).await
    }

    /// Sends a request with the given id (a string id, a large number…) without waiting.
    pub fn send_request(&self, id: &RequestId, method: &str, params: Value) {
        if let Ok(line) = encode::request_by_name(id, method, &params) {
            self.send_line(line);
        }
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        if let Ok(line) = encode::notification_by_name(method, &params) {
            self.send_line(line);
        }
    }

    /// Sends `$/cancelRequest` for `id`.
    pub fn cancel(&self, id: &RequestId) {
        let params = CancelParams::new(id.clone(), CancelReason::Deadline);
        if let Ok(line) = encode::notification::<CancelRequest>(&params) {
            self.send_line(line);
        }
    }

    /// Writes raw bytes to the backend's input (junk, or a line without its newline…).
    pub fn send_line(&self, bytes: impl Into<Vec<u8>>) {
        if let Some(tx) = &self.to_backend {
            let _ = tx.send(bytes.into());
        }
    }

    /// Waits for the answer to `id` and decodes its result.
    pub async fn answer<T: DeserializeOwned>(&self, id: &RequestId) -> Result<T, TestError> {
        let value = self.raw_answer(id).await?.map_err(TestError::Rpc)?;
        serde_json::from_value(value).map_err(|e| TestError::Decode(e.to_string()))
    }

    /// Waits for the (first) answer to `id`: the result value or the backend's error.
    pub async fn raw_answer(&self, id: &RequestId) -> Result<Result<Value, RpcError>, TestError> {
        let what = format!("the answer to request {id}");
        self.wait(&what, |rec| {
            rec.answers.get(id).and_then(|a| a.first().cloned())
        })
        .await
    }

    /// How many answers the backend wrote for `id` so far (exactly-once means 1).
    pub fn answer_count(&self, id: &RequestId) -> usize {
        self.recorder.lock().answers.get(id).map_or(0, Vec::len)
    }

    /// The progress notifications received for `id` so far.
    pub fn progress(&self, id: &RequestId) -> Vec<ProgressParams> {
        let rec = self.recorder.lock();
        rec.progress
            .iter()
            .filter(|p| &p.id == id)
            .cloned()
            .collect()
    }

    /// Waits until at least `count` progress notifications arrived for `id`.
    pub async fn wait_progress(
        &self,
        id: &RequestId,
        count: usize,
    ) -> Result<Vec<ProgressParams>, TestError> {
        let what = format!("{count} progress notifications for request {id}");
        self.wait(&what, |rec| {
            let got: Vec<_> = rec
                .progress
                .iter()
                .filter(|p| &p.id == id)
                .cloned()
                .collect();
            (got.len() >= count).then_some(got)
        })
        .await
    }

    /// Waits for the backend's next call to `method` (the first one not yet returned).
    pub async fn wait_host_call(&self, method: &str, nth: usize) -> Result<HostCall, TestError> {
        let what = format!("call #{nth} of {method:?} from the backend");
        self.wait(&what, |rec| {
            rec.host_calls
                .iter()
                .filter(|c| c.method == method)
                .nth(nth)
                .cloned()
        })
        .await
    }

    /// Every call the backend made to the host so far.
    pub fn host_calls(&self) -> Vec<HostCall> {
        self.recorder.lock().host_calls.clone()
    }

    /// Every line the backend wrote so far, parsed (a line that is not JSON is a string).
    pub fn transcript(&self) -> Vec<Value> {
        self.recorder.lock().transcript.clone()
    }

    /// Closes the backend's input (the shutdown signal) and waits for serving to end. The
    /// record stays readable afterwards.
    pub async fn close(&mut self) -> Result<(), TestError> {
        self.to_backend = None;
        let Some(mut serve) = self.serve.take() else {
            return Ok(());
        };
        match tokio::time::timeout(self.timeout, &mut serve).await {
            Ok(Ok(outcome)) => outcome.map_err(TestError::Serve),
            Ok(Err(e)) => Err(TestError::Task(e.to_string())),
            Err(_) => {
                serve.abort();
                Err(TestError::Timeout(
                    "the backend to stop after end of input".to_owned(),
                ))
            }
        }
    }

    fn fresh_id(&self) -> RequestId {
        RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    async fn wait<T>(
        &self,
        what: &str,
        check: impl FnMut(&super::record::Record) -> Option<T>,
    ) -> Result<T, TestError> {
        match tokio::time::timeout(self.timeout, self.recorder.wait_for(check)).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(TestError::Closed(what.to_owned())),
            Err(_) => Err(TestError::Timeout(what.to_owned())),
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, TestError> {
    serde_json::to_value(v).map_err(|e| TestError::Decode(e.to_string()))
}

async fn write_to_backend(mut rx: mpsc::UnboundedReceiver<Vec<u8>>, mut out: DuplexStream) {
    while let Some(bytes) = rx.recv().await {
        if out.write_all(&bytes).await.is_err() || out.flush().await.is_err() {
            break;
        }
    }
}

async fn read_from_backend(
    input: DuplexStream,
    cap: usize,
    recorder: Arc<Recorder>,
    methods: HashMap<String, HostMethod>,
    // Weak, so that dropping the test host's sender closes the backend's input.
    to_backend: mpsc::WeakUnboundedSender<Vec<u8>>,
) {
    let mut reader = FrameReader::new(BufReader::new(input), cap);
    while let Ok(Some(frame)) = reader.next_frame().await {
        let Frame::Line(line) = frame else { continue };
        let Some(call) = recorder.file_line(&line) else {
            continue;
        };
        let answer = match methods.get(&call.method) {
            Some(answer) => answer(call.params.unwrap_or(Value::Null)),
            None => Some(Err(RpcError::method_not_found(&call.method))),
        };
        let line = match &answer {
            Some(Ok(result)) => response_line(&call.id, Ok(result), usize::MAX),
            Some(Err(error)) => encode::error(Some(&call.id), error),
            None => continue,
        };
        if let Some(tx) = to_backend.upgrade() {
            let _ = tx.send(line);
        }
    }
    recorder.close();
}
