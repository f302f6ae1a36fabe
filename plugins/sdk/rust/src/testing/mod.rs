//! An in-process host for testing a [`Backend`] without spawning anything.
//!
//! [`TestHost`] serves the backend over in-memory pipes exactly as `serve_stdio` would over
//! stdin/stdout, performs the handshake, and lets a test send `handle_a2a`, cancel it, watch
//! progress, answer the backend's calls to the host, and inspect every line the backend wrote.
//! Every wait has a deadline ([`TestHostBuilder::timeout`], 10 s by default).
//!
//! ```
//! use molecule_plugin::testing::{TestHost, text_params};
//! # use molecule_plugin::{Backend, RequestContext, reply};
//! # use molecule_plugin::protocol::{HandleA2aParams, HandleA2aResult, RpcError};
//! # struct Hello;
//! # impl Backend for Hello {
//! #     fn info(&self) -> molecule_plugin::protocol::methods::BackendInfo { molecule_plugin::package_info!() }
//! #     async fn handle_a2a(&self, p: HandleA2aParams, _: RequestContext) -> Result<HandleA2aResult, RpcError> {
//! #         Ok(reply::text(format!("hello, {}", p.message.text())))
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), molecule_plugin::testing::TestError> {
//! let mut host = TestHost::start(Hello).await?;
//! let result = host.handle_a2a(text_params("world")).await?;
//! assert_eq!(result.parts[0].as_text(), Some("hello, world"));
//! host.close().await?;
//! # Ok(())
//! # }
//! ```

mod fixtures;
mod record;
mod test_host;

pub use fixtures::{
    TEST_WORKSPACE_ID, agent_params, context, initialize_params, message, params, text_params,
};
pub use record::HostCall;
pub use test_host::TestHost;

use crate::backend::Backend;
use crate::error::ServeError;
use crate::serve::ServeOptions;
use molecule_protocol::RpcError;
use molecule_protocol::codec::DEFAULT_MAX_MESSAGE_BYTES;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Why a [`TestHost`] operation did not give the expected value.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The backend answered with an error.
    #[error("the backend answered with an error: {0}")]
    Rpc(RpcError),
    /// Nothing arrived in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The backend's output ended first.
    #[error("the backend's output ended while waiting for {0}")]
    Closed(String),
    /// An answer did not have the expected shape.
    #[error("unexpected answer shape: {0}")]
    Decode(String),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(#[from] ServeError),
    /// The serving task panicked or was aborted.
    #[error("the serving task failed: {0}")]
    Task(String),
}

impl TestError {
    /// The backend's error, when the failure was one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            TestError::Rpc(e) => Some(e),
            _ => None,
        }
    }
}

/// How the test host answers one host method.
pub(crate) type HostMethod = Arc<dyn Fn(Value) -> Option<Result<Value, RpcError>> + Send + Sync>;

/// Configures a [`TestHost`].
pub struct TestHostBuilder {
    pub(crate) methods: HashMap<String, HostMethod>,
    pub(crate) max_message_bytes: u64,
    pub(crate) options: ServeOptions,
    pub(crate) timeout: Duration,
    pub(crate) initialize: bool,
}

impl Default for TestHostBuilder {
    fn default() -> Self {
        TestHostBuilder {
            methods: HashMap::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES as u64,
            options: ServeOptions::default(),
            timeout: Duration::from_secs(10),
            initialize: true,
        }
    }
}

impl TestHostBuilder {
    /// Offers `method` in `hostMethods` and answers each call with `answer(params)`.
    pub fn host_method<F>(mut self, method: &str, answer: F) -> Self
    where
        F: Fn(Value) -> Result<Value, RpcError> + Send + Sync + 'static,
    {
        let answer = Arc::new(move |params| Some(answer(params)));
        self.methods.insert(method.to_owned(), answer);
        self
    }

    /// Offers `method` but never answers it (to test what a backend does while it waits).
    pub fn unanswered_host_method(mut self, method: &str) -> Self {
        self.methods.insert(method.to_owned(), Arc::new(|_| None));
        self
    }

    /// The `limits.maxMessageBytes` announced in `initialize`.
    pub fn max_message_bytes(mut self, max: u64) -> Self {
        self.max_message_bytes = max;
        self
    }

    /// The options the backend is served with (shutdown timers, line cap).
    pub fn serve_options(mut self, options: ServeOptions) -> Self {
        self.options = options;
        self
    }

    /// How long each wait may take before it fails with [`TestError::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Skips the handshake, so a test can send requests before `initialize`.
    pub fn without_initialize(mut self) -> Self {
        self.initialize = false;
        self
    }

    /// Starts serving `backend` and, unless told otherwise, performs the handshake.
    pub async fn start<B: Backend>(self, backend: B) -> Result<TestHost, TestError> {
        TestHost::launch(self, backend).await
    }
}
