//! A Molecule backend. `molecule` starts this program and sends it, on stdin, every message
//! the workspace receives; what `handle_a2a` returns is posted as the reply. The SDK
//! (`molecule-plugin`) speaks the protocol; README.md says how to check and run it.

use molecule_plugin::protocol::methods::BackendInfo;
use molecule_plugin::protocol::{HandleA2aParams, HandleA2aResult, RpcError};
use molecule_plugin::{Backend, RequestContext, reply};

/// The backend: one value serves every message.
struct Agent;

impl Backend for Agent {
    fn info(&self) -> BackendInfo {
        // The name, version and description of Cargo.toml.
        molecule_plugin::package_info!()
    }

    async fn handle_a2a(
        &self,
        params: HandleA2aParams,
        _cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        // Another agent's automatic reply gets no answer: two agents never answer each other
        // forever.
        if params.context.in_reply_to.is_some() {
            return Ok(HandleA2aResult::default());
        }
        let text = params.message.text();

        // TODO: your agent's logic goes here. Call a model or a tool, ask another workspace
        // (`_cx.peers()`), or fail with a reason the sender sees (`molecule_plugin::AppError`).
        // println! goes to molecule's log: stdout is kept for the protocol.
        Ok(reply::text(format!("echo: {text}")))
    }
}

fn main() -> std::process::ExitCode {
    molecule_plugin::run(Agent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_plugin::testing::{TestHost, agent_params, text_params};

    // TestHost plays the host in-process: the handshake, then messages, as molecule would.
    #[tokio::test]
    async fn answers_a_message() {
        let mut host = TestHost::start(Agent).await.expect("the handshake");
        let result = host.handle_a2a(text_params("hello")).await.expect("an answer");
        assert_eq!(result.parts[0].as_text(), Some("echo: hello"));
        host.close().await.expect("a clean shutdown");
    }

    #[tokio::test]
    async fn does_not_answer_an_automatic_reply() {
        let mut host = TestHost::start(Agent).await.expect("the handshake");
        let mut params = agent_params("echo: hello", "ws-peer");
        params.context.in_reply_to = Some("m-1".into());
        params.context.hops = 1;
        let result = host.handle_a2a(params).await.expect("an answer");
        assert!(result.parts.is_empty());
        host.close().await.expect("a clean shutdown");
    }
}
