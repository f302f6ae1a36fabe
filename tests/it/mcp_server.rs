//! `molecule mcp`: the handshake and tool list with and without a socket, tool calls mapped to
//! the host's peer methods on its socket, and clear errors when the socket is unset,
//! unreachable or answers with an error, and sends numbered from the turn's idempotency key.

use crate::mcp_support::{FakeHostSocket, McpClient, result_text};
use serde_json::json;

const PEER: &str = "5b2c3d4e-0000-4000-8000-00000000000a";
const FOUR_TOOLS: [&str; 4] = [
    "list_peers",
    "send_message_to_peer",
    "workspace_info",
    "send_message_to_user",
];

#[tokio::test]
async fn without_a_socket_it_starts_lists_its_tools_and_fails_each_call_naming_the_variable() {
    let mut mcp = McpClient::start(None);
    let init = mcp.initialize().await;
    assert_eq!(init["serverInfo"]["name"], "molecule");
    assert!(init["capabilities"]["tools"].is_object(), "{init}");
    assert_eq!(mcp.tool_names().await, FOUR_TOOLS);
    for tool in FOUR_TOOLS {
        let args = json!({"id": PEER, "text": "hi"});
        let args = if tool == "send_message_to_peer" || tool == "send_message_to_user" {
            args
        } else {
            json!({})
        };
        let result = mcp.call_tool(tool, args).await;
        assert_eq!(result["isError"], true, "{tool}: {result}");
        assert!(
            result_text(&result).contains("MOLECULE_HOST_SOCKET is not set"),
            "{tool}: {result}"
        );
    }
    mcp.close().await;
}

#[tokio::test]
async fn with_a_socket_a_send_becomes_peers_send_and_the_reply_is_returned() {
    let mut host = FakeHostSocket::start(|method, _| match method {
        "peers/send" => Ok(
            json!({"messageId": "m-1", "contextId": "ctx-9", "queued": false,
                                  "parts": [{"kind": "text", "text": "the answer is 42"}]}),
        ),
        _ => Err(json!({"code": -32601, "message": "unexpected"})),
    });
    let mut mcp = McpClient::start(Some(&host.path));
    mcp.initialize().await;
    assert_eq!(mcp.tool_names().await, FOUR_TOOLS);
    let result = mcp
        .call_tool(
            "send_message_to_peer",
            json!({"id": PEER, "text": "what is 6 x 7?", "wait_seconds": 2.5,
                   "context_id": "ctx-9"}),
        )
        .await;
    let request = host.next_request().await;
    assert_eq!(request["method"], "peers/send");
    assert_eq!(
        request["params"],
        json!({"id": PEER, "text": "what is 6 x 7?", "waitMs": 2500, "contextId": "ctx-9"}),
        "no _meta on the socket, and wait_seconds becomes waitMs"
    );
    assert_eq!(result["isError"], false, "{result}");
    let text = result_text(&result);
    assert!(text.starts_with(&format!("{PEER} replied")), "{text}");
    assert!(text.contains("the answer is 42"), "{text}");
    assert!(text.contains("contextId ctx-9"), "{text}");
    mcp.close().await;
}

#[tokio::test]
async fn list_peers_info_and_notify_reach_their_methods() {
    let mut host = FakeHostSocket::start(|method, params| match method {
        "peers/list" => Ok(json!({"peers": [
            {"id": PEER, "name": "researcher", "role": "finds papers", "status": "online"}]})),
        "workspace/info" => Ok(json!({"workspace": {"id": "self", "name": "me"}})),
        "user/notify" if params["text"] == "halfway there" => Ok(json!({"delivered": true})),
        _ => Err(json!({"code": -32602, "message": "bad params"})),
    });
    let mut mcp = McpClient::start(Some(&host.path));
    mcp.initialize().await;

    let peers = mcp.call_tool("list_peers", json!({})).await;
    assert_eq!(host.next_request().await["method"], "peers/list");
    assert!(
        result_text(&peers).contains(&format!(
            "id: {PEER} | name: researcher | role: finds papers"
        )),
        "{peers}"
    );

    let info = mcp.call_tool("workspace_info", json!({})).await;
    assert_eq!(host.next_request().await["method"], "workspace/info");
    assert!(result_text(&info).contains("\"name\": \"me\""), "{info}");

    let sent = mcp
        .call_tool("send_message_to_user", json!({"text": "halfway there"}))
        .await;
    let request = host.next_request().await;
    assert_eq!(request["method"], "user/notify");
    assert_eq!(request["params"], json!({"text": "halfway there"}));
    assert_eq!(sent["isError"], false, "{sent}");
    mcp.close().await;
}

#[tokio::test]
async fn a_host_error_becomes_a_tool_error_with_its_class() {
    let mut host = FakeHostSocket::start(|_, _| {
        Err(
            json!({"code": 1015, "message": format!("peers/send to {PEER}: no reply within 100 ms"),
                   "data": {"class": "wait_timeout", "target": PEER, "retryable": false,
                            "messageId": "m-7"}}),
        )
    });
    let mut mcp = McpClient::start(Some(&host.path));
    mcp.initialize().await;
    let result = mcp
        .call_tool(
            "send_message_to_peer",
            json!({"id": PEER, "text": "slow one", "wait_seconds": 0.1}),
        )
        .await;
    assert_eq!(host.next_request().await["params"]["waitMs"], 100);
    assert_eq!(result["isError"], true, "{result}");
    let text = result_text(&result);
    assert!(text.contains("no reply within 100 ms"), "{text}");
    assert!(text.contains("code 1015, class wait_timeout"), "{text}");
    assert!(
        text.contains("messageId m-7"),
        "the message was sent: {text}"
    );
    mcp.close().await;
}

#[tokio::test]
async fn an_unreachable_socket_still_lists_the_tools_and_each_call_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("no-host.sock");
    let mut mcp = McpClient::start(Some(&gone));
    mcp.initialize().await;
    assert_eq!(mcp.tool_names().await, FOUR_TOOLS);
    let result = mcp.call_tool("list_peers", json!({})).await;
    assert_eq!(result["isError"], true, "{result}");
    let text = result_text(&result);
    assert!(text.contains("cannot reach the molecule host"), "{text}");
    assert!(text.contains(&gone.display().to_string()), "{text}");
    assert!(text.contains("MOLECULE_HOST_SOCKET"), "{text}");
    mcp.close().await;
}

#[tokio::test]
async fn bad_arguments_are_refused_before_any_host_call() {
    let mut host = FakeHostSocket::start(|_, _| Ok(json!({"delivered": true})));
    let mut mcp = McpClient::start(Some(&host.path));
    mcp.initialize().await;
    let result = mcp
        .call_tool(
            "send_message_to_peer",
            json!({"id": PEER, "text": "x", "wait_seconds": "soon"}),
        )
        .await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(
        result_text(&result).contains("wait_seconds must be a number"),
        "{result}"
    );
    // The next call is the first the socket sees.
    mcp.call_tool("send_message_to_user", json!({"text": "ok"}))
        .await;
    assert_eq!(host.next_request().await["method"], "user/notify");
    mcp.close().await;
}

#[tokio::test]
async fn with_the_turns_idempotency_key_each_send_carries_the_derived_message_id() {
    let key = "1953d870-2d57-5871-a2f1-905bbe2ffece";
    let mut host = FakeHostSocket::start(|_, params| {
        Ok(json!({"messageId": params["messageId"], "contextId": "c", "queued": true}))
    });
    let mut mcp = McpClient::start_with(Some(&host.path), &[("MOLECULE_IDEMPOTENCY_KEY", key)]);
    mcp.initialize().await;
    for (index, text) in ["first", "second"].into_iter().enumerate() {
        let result = mcp
            .call_tool("send_message_to_peer", json!({"id": PEER, "text": text}))
            .await;
        assert_eq!(result["isError"], false, "{result}");
        let request = host.next_request().await;
        assert_eq!(request["params"]["text"], text);
        // The vectors of SPEC §12.4 for this key.
        let expected = [
            "11a5c54a-cab1-5931-9c20-fb1a646cacaf",
            "2d753106-bdbe-580f-987e-582c03401e42",
        ][index];
        assert_eq!(request["params"]["messageId"], expected, "send {index}");
    }
    mcp.close().await;
}

#[tokio::test]
async fn without_a_key_the_host_mints_the_message_id() {
    let mut host = FakeHostSocket::start(|_, _| Ok(json!({"queued": true})));
    let mut mcp = McpClient::start(Some(&host.path));
    mcp.initialize().await;
    mcp.call_tool("send_message_to_peer", json!({"id": PEER, "text": "x"}))
        .await;
    let request = host.next_request().await;
    assert_eq!(request["params"].get("messageId"), None, "{request}");
    mcp.close().await;
}
