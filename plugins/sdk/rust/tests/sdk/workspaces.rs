//! A backend that serves several workspaces in one process (SPEC §17): `workspace/open` and
//! `workspace/close` reach its hooks, each request knows its workspace, and a call outside any
//! request names it.

use molecule_plugin::protocol::methods::{AgentCard, BackendInfo};
use molecule_plugin::protocol::{BackendCapabilities, HandleA2aParams, HandleA2aResult, RpcError};
use molecule_plugin::testing::{TEST_WORKSPACE_ID, text_params};
use molecule_plugin::{Backend, RequestContext, Workspace, reply};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::support::{builder, text_of};

const SECOND: &str = "5b8e2d4f-6a1c-4e3b-9d7f-2c4a6e8b0d13";

/// Answers with its workspace; `call` makes a call tied to no request.
#[derive(Clone, Default)]
struct Where {
    many: bool,
    closed: Arc<Mutex<Vec<String>>>,
}

impl Backend for Where {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("where", "1.0.0")
    }

    fn capabilities(&self) -> BackendCapabilities {
        let caps = BackendCapabilities::default().with_max_concurrency(4);
        if self.many {
            caps.with_max_workspaces(16)
        } else {
            caps
        }
    }

    async fn open_workspace(&self, ws: &Workspace) -> Result<Option<AgentCard>, RpcError> {
        Ok(Some(
            AgentCard::default().with_description(format!("serves {}", ws.id)),
        ))
    }

    async fn close_workspace(&self, ws: &Workspace) {
        self.closed
            .lock()
            .expect("not poisoned")
            .push(ws.id.clone());
    }

    async fn handle_a2a(
        &self,
        params: HandleA2aParams,
        cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        let ws = cx.workspace();
        if params.message.text() == "call" {
            let got = cx.host().detached().call("workspace/info", json!({})).await;
            let got = got.map_err(|e| RpcError::internal(e.to_string()))?;
            return Ok(reply::text(got.to_string()));
        }
        let dir = ws.state_dir.as_ref().map(|d| d.display().to_string());
        Ok(reply::text(
            json!({"id": ws.id, "stateDir": dir}).to_string(),
        ))
    }
}

fn for_workspace(text: &str, id: &str) -> HandleA2aParams {
    let ws = molecule_plugin::protocol::methods::WorkspaceRef::new(id);
    text_params(text).with_workspace(ws)
}

fn answer_json(r: &HandleA2aResult) -> Value {
    serde_json::from_str(text_of(r)).expect("the answer is JSON")
}

#[tokio::test]
async fn each_request_knows_its_workspace_from_open_to_close() {
    let backend = Where {
        many: true,
        ..Where::default()
    };
    let closed = backend.closed.clone();
    let mut host = builder()
        .host_method("workspace/info", |p| Ok(json!({"workspace": {}, "got": p})))
        .start(backend)
        .await
        .unwrap();
    let open = json!({"workspace": {"id": SECOND, "name": "support-bot"},
                      "stateDir": "/var/lib/m/support-bot", "hostSocket": "/run/m/s.sock"});
    let opened: Value = host.call("workspace/open", open).await.unwrap();
    assert_eq!(
        opened,
        json!({"agentCard": {"description": format!("serves {SECOND}")}})
    );
    let second = host.handle_a2a(for_workspace("hi", SECOND)).await.unwrap();
    assert_eq!(
        answer_json(&second),
        json!({"id": SECOND, "stateDir": "/var/lib/m/support-bot"})
    );
    // Without a name, and under its own name, the workspace of initialize.
    let first = host.handle_a2a(text_params("hi")).await.unwrap();
    assert_eq!(answer_json(&first)["id"], TEST_WORKSPACE_ID);
    let named = host
        .handle_a2a(for_workspace("hi", TEST_WORKSPACE_ID))
        .await
        .unwrap();
    assert_eq!(answer_json(&named)["id"], TEST_WORKSPACE_ID);
    // A call tied to no request names the workspace of the request that made it.
    let called = host
        .handle_a2a(for_workspace("call", SECOND))
        .await
        .unwrap();
    assert_eq!(
        answer_json(&called)["got"]["_meta"],
        json!({"workspaceId": SECOND})
    );
    let closed_answer: Value = host
        .call("workspace/close", json!({"workspace": {"id": SECOND}}))
        .await
        .unwrap();
    assert_eq!(closed_answer, json!({}));
    assert_eq!(*closed.lock().unwrap(), [SECOND]);
    let id = host.send_a2a(for_workspace("hi", SECOND)).await.unwrap();
    let refused = host.raw_answer(&id).await.unwrap().unwrap_err();
    assert_eq!(refused.code, -32602, "{refused:?}");
    host.close().await.unwrap();
}

#[tokio::test]
async fn a_backend_that_serves_one_workspace_refuses_another() {
    let mut host = builder().start(Where::default()).await.unwrap();
    let id = molecule_plugin::protocol::RequestId::from("open-1");
    host.send_request(
        &id,
        "workspace/open",
        json!({"workspace": {"id": SECOND}, "stateDir": "/tmp/x"}),
    );
    let refused = host.raw_answer(&id).await.unwrap().unwrap_err();
    assert_eq!(refused.code, -32601, "{refused:?}");
    host.close().await.unwrap();
}
