//! The MCP server: the rmcp handler that lists the tools and runs each call through the
//! host's socket.

use super::client::SocketClient;
use super::tools::{self, SendIds};
use rmcp::ErrorData;
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use std::sync::Arc;

/// What the server tells the client about itself, for the model's system prompt.
const INSTRUCTIONS: &str = "Tools of the Molecule workspace this agent runs in. Other \
    workspaces (peers) are agents you can delegate to: list_peers shows them, \
    send_message_to_peer messages one and returns its reply. send_message_to_user writes to \
    the person in the canvas; workspace_info reads this workspace's own record.";

/// The peer tools, served over MCP.
#[derive(Clone)]
pub struct PeerTools {
    client: SocketClient,
    ids: Arc<SendIds>,
}

impl PeerTools {
    /// Tools that call the host through `client`, their sends numbered by `ids`.
    pub fn new(client: SocketClient, ids: SendIds) -> PeerTools {
        PeerTools {
            client,
            ids: Arc::new(ids),
        }
    }

    /// Runs one tool call; every failure becomes a tool result marked as an error, so the
    /// model reads why.
    async fn run(
        &self,
        tool: &str,
        args: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<CallToolResult> {
        let call = match tools::host_call(tool, args, &self.ids)? {
            Ok(call) => call,
            Err(reason) => return Some(failure(format!("{tool}: {reason}"))),
        };
        Some(
            match self.client.call(call.method, call.params.clone()).await {
                Ok(result) => CallToolResult::success(vec![ContentBlock::text(tools::render(
                    tool,
                    &call.params,
                    &result,
                ))]),
                Err(e) => failure(format!("{tool}: {e}")),
            },
        )
    }
}

fn failure(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

impl ServerHandler for PeerTools {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("molecule", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = tools::specs()
            .into_iter()
            .map(|spec| {
                let schema = match spec.schema {
                    serde_json::Value::Object(obj) => obj,
                    _ => serde_json::Map::new(),
                };
                Tool::new(spec.name, spec.description, Arc::new(schema))
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        match self.run(&request.name, &args).await {
            Some(result) => Ok(result.into()),
            None => Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {:?}: this server has list_peers, send_message_to_peer, \
                     workspace_info and send_message_to_user",
                    request.name
                ),
                None,
            )),
        }
    }
}
