//! Running backends under a supervisor: the misbehaving `molecule-test-backend` by default,
//! with its fault and knobs passed through the environment.

use std::path::PathBuf;

use molecule_host::backend::{
    BackendCommand, CallError, CallOptions, StartError, Supervisor, SupervisorConfig,
};
use molecule_protocol::{HandleA2aParams, HandleA2aResult};
use serde_json::{Value, json};
use tempfile::TempDir;

use super::wait::within;

/// The misbehaving test backend.
pub const TEST_BACKEND: &str = env!("CARGO_BIN_EXE_molecule-test-backend");

/// A supervisor configuration in a temporary directory, before start.
pub struct Setup {
    pub config: SupervisorConfig,
    pub dir: TempDir,
}

/// A started supervisor and its directory.
pub struct Running {
    pub sup: Supervisor,
    pub dir: TempDir,
}

impl Setup {
    /// The test backend in echo mode, with the default timers.
    pub fn new() -> Self {
        Setup::command(BackendCommand::from_argv(vec![TEST_BACKEND.into()]).expect("test backend"))
    }

    /// Any backend command.
    pub fn command(command: BackendCommand) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = SupervisorConfig::new(command, "ws-test", dir.path().join("state"));
        Setup { config, dir }
    }

    /// Selects the test backend's fault(s) (`MOLECULE_TEST_FAULT`).
    pub fn fault(self, fault: &str) -> Self {
        self.env("MOLECULE_TEST_FAULT", fault)
    }

    /// Adds a variable to the backend's environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.config.env.extra.push((key.into(), value.into()));
        self
    }

    /// Changes the configuration.
    pub fn with(mut self, change: impl FnOnce(&mut SupervisorConfig)) -> Self {
        change(&mut self.config);
        self
    }

    /// A path in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts it; the test fails if it does not start.
    pub async fn start(self) -> Running {
        let sup = within("the backend to start", Supervisor::start(self.config))
            .await
            .unwrap_or_else(|e| panic!("the backend did not start: {e}"));
        Running { sup, dir: self.dir }
    }

    /// Starts it, expecting a start error.
    pub async fn start_err(self) -> StartError {
        match within("the start to fail", Supervisor::start(self.config)).await {
            Ok(_) => panic!("the backend started"),
            Err(e) => e,
        }
    }
}

impl Running {
    /// Sends one text message.
    pub async fn ask(&self, text: &str) -> Result<HandleA2aResult, CallError> {
        self.ask_with(text, CallOptions::default()).await
    }

    /// Sends one text message with options.
    pub async fn ask_with(
        &self,
        text: &str,
        opts: CallOptions,
    ) -> Result<HandleA2aResult, CallError> {
        within(
            &format!("the answer to {text:?}"),
            self.sup.handle_a2a(message(text), opts),
        )
        .await
    }

    /// The running backend's pid.
    pub fn pid(&self) -> u32 {
        self.sup
            .status()
            .borrow()
            .pid
            .expect("a backend is running")
    }
}

/// `handle_a2a` params carrying one text part.
pub fn message(text: &str) -> HandleA2aParams {
    serde_json::from_value(json!({
        "message": {"kind": "message", "role": "user", "messageId": "m-1",
                    "parts": [{"kind": "text", "text": text}]},
        "sender": {"kind": "canvas", "workspaceId": null},
        "context": {"activityId": "act-1", "attempt": 1, "deadline": "",
                    "idempotencyKey": "idem-1", "conversationKey": "conv-1"}
    }))
    .expect("valid params")
}

/// The text parts of a reply, joined.
pub fn reply_text(reply: &HandleA2aResult) -> String {
    reply
        .parts
        .iter()
        .filter_map(|p| p.as_text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first data part of a reply.
pub fn reply_data(reply: &HandleA2aResult) -> Value {
    let value = serde_json::to_value(reply).expect("serialisable");
    value["parts"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["kind"] == "data"))
        .map(|p| p["data"].clone())
        .expect("a data part")
}
