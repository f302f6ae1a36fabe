//! A backend whose behaviour each message's text selects, and the helpers the tests share.

use molecule_plugin::protocol::methods::BackendInfo;
use molecule_plugin::protocol::{BackendCapabilities, HandleA2aParams, HandleA2aResult, RpcError};
use molecule_plugin::testing::{TestHost, TestHostBuilder};
use molecule_plugin::{AppError, Backend, RequestContext, reply};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Barrier, Notify, mpsc};

/// The scripted backend. The first word of the message text picks what it does:
/// `echo <text>`, `hang`, `gate` (waits for [`Scripted::gate`]), `barrier`, `panic`,
/// `big <bytes>`, `busy`, `progress <n>`, `late-progress`, `call <method>`, `deadline`,
/// `wind-down` (answers by itself after a cancel).
#[derive(Clone)]
pub struct Scripted {
    pub gate: Arc<Notify>,
    pub barrier: Arc<Barrier>,
    pub events: mpsc::UnboundedSender<String>,
    pub grace: Duration,
}

impl Scripted {
    pub fn new(concurrency: usize) -> (Scripted, mpsc::UnboundedReceiver<String>) {
        let (events, rx) = mpsc::unbounded_channel();
        let backend = Scripted {
            gate: Arc::new(Notify::new()),
            barrier: Arc::new(Barrier::new(concurrency)),
            events,
            grace: Duration::ZERO,
        };
        (backend, rx)
    }

    fn event(&self, e: impl Into<String>) {
        let _ = self.events.send(e.into());
    }
}

impl Backend for Scripted {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("scripted", "9.9.9").with_description("a backend for the SDK's tests")
    }

    fn capabilities(&self) -> BackendCapabilities {
        BackendCapabilities::default()
            .with_max_concurrency(8)
            .with_cancel(true)
            .with_progress(true)
    }

    fn cancel_grace(&self) -> Duration {
        self.grace
    }

    async fn handle_a2a(
        &self,
        params: HandleA2aParams,
        cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        let text = params.message.text();
        let (word, rest) = text.split_once(' ').unwrap_or((&text, ""));
        match word {
            "echo" => Ok(reply::text(rest)),
            "hang" => {
                self.event("hanging");
                std::future::pending().await
            }
            "gate" => {
                self.event("at gate");
                self.gate.notified().await;
                Ok(reply::text("through the gate"))
            }
            "barrier" => {
                self.barrier.wait().await;
                Ok(reply::text("all arrived"))
            }
            "panic" => panic!("scripted panic"),
            "big" => Ok(reply::text("x".repeat(rest.parse().unwrap_or(0)))),
            "busy" => Err(AppError::busy("queue full")
                .retry_after(Duration::from_millis(250))
                .user_message("Busy, try again soon.")
                .into()),
            "progress" => {
                for i in 0..rest.parse().unwrap_or(1) {
                    cx.progress(format!("step {i}")).await;
                }
                cx.cancelled().await;
                Ok(reply::text("stopped"))
            }
            "late-progress" => {
                let gate = self.gate.clone();
                let events = self.events.clone();
                tokio::spawn(async move {
                    gate.notified().await;
                    cx.progress("after the answer").await;
                    let _ = events.send("late progress sent".into());
                });
                Ok(reply::text("answered"))
            }
            "call" => match cx.host().call(rest, json!({"q": 1})).await {
                Ok(v) => Ok(reply::text(v.to_string())),
                Err(e) => {
                    self.event(format!("call failed: {e}"));
                    Ok(reply::text(format!("error: {e}")))
                }
            },
            "deadline" => Ok(reply::text(format!(
                "{:?}",
                cx.remaining().map(|d| d.as_secs() / 60)
            ))),
            "wind-down" => {
                self.event("winding");
                cx.cancelled().await;
                Ok(reply::text("partial answer"))
            }
            other => Err(AppError::unsupported_content(format!("unknown script {other:?}")).into()),
        }
    }
}

/// A test host with short timers.
pub fn builder() -> TestHostBuilder {
    TestHost::builder().timeout(Duration::from_secs(10))
}

/// Waits for the next event from the backend, with a deadline.
pub async fn event(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("timed out waiting for a backend event")
        .expect("the backend dropped its event channel")
}

/// The text of a one-text-part result.
pub fn text_of(r: &HandleA2aResult) -> &str {
    r.parts.first().and_then(|p| p.as_text()).unwrap_or("")
}
