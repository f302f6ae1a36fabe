//! The `molecule-echo` binary through raw NDJSON exchanges.

use crate::process::{Backend, a2a};
use serde_json::{Value, json};
use std::collections::HashMap;

#[test]
fn the_handshake_advertises_concurrency_cancel_and_an_agent_card() {
    let mut echo = Backend::start();
    let init = echo.initialize();
    assert_eq!(init["protocolVersion"], 1);
    assert_eq!(init["backend"]["name"], "molecule-echo");
    assert_eq!(init["capabilities"]["maxConcurrency"], 64);
    assert_eq!(init["capabilities"]["cancel"], true);
    assert_eq!(init["capabilities"]["progress"], false);
    assert_eq!(
        init["agentCard"]["skills"].as_array().map(Vec::len),
        Some(1)
    );
    echo.close_stdin();
    assert!(echo.wait_exit().success());
}

#[test]
fn requests_before_initialize_get_32002() {
    let mut echo = Backend::start();
    echo.request(json!(5), "ping", json!({}));
    let answer = echo.recv();
    assert_eq!(answer["id"], 5);
    assert_eq!(answer["error"]["code"], -32002);
    echo.initialize();
    echo.request(json!(6), "ping", json!({}));
    assert_eq!(
        echo.recv(),
        json!({"jsonrpc": "2.0", "id": 6, "result": {}})
    );
    echo.close_stdin();
    assert!(echo.wait_exit().success());
}

#[test]
fn text_is_echoed_data_and_files_come_back_unchanged_and_ids_are_exact() {
    let mut echo = Backend::start();
    echo.initialize();
    let parts = json!([
        {"kind": "text", "text": "héllo 👋"},
        {"kind": "data", "data": {"n": 1, "nested": {"a": [1, 2]}}},
        {"kind": "file", "file": {"uri": "https://example.com/a.png", "mimeType": "image/png"}}
    ]);
    echo.request(json!("req-α"), "handle_a2a", a2a(parts.clone()));
    let answer = echo.recv();
    assert_eq!(answer["id"], "req-α");
    let mut expected = parts;
    expected[0]["text"] = json!("echo: héllo 👋");
    assert_eq!(answer["result"]["parts"], expected);

    echo.request(
        json!(9_007_199_254_740_991_i64),
        "handle_a2a",
        a2a(json!([{"kind": "text", "text": "x"}])),
    );
    let answer = echo.recv();
    assert_eq!(answer["id"].as_i64(), Some(9_007_199_254_740_991));
    echo.close_stdin();
    assert!(echo.wait_exit().success());
}

#[test]
fn an_automatic_reply_gets_empty_parts() {
    let mut echo = Backend::start();
    echo.initialize();
    let mut params = a2a(json!([{"kind": "text", "text": "echo: hi"}]));
    params["context"]["inReplyTo"] = json!("m-0");
    params["context"]["hops"] = json!(1);
    echo.request(json!(1), "handle_a2a", params);
    assert_eq!(echo.recv()["result"], json!({"parts": []}));
    echo.close_stdin();
    assert!(echo.wait_exit().success());
}

#[test]
fn junk_is_ignored_unknown_methods_get_32601_and_bad_params_32602() {
    let mut echo = Backend::start();
    echo.initialize();
    echo.write(b"this is not json\n\n{\"jsonrpc\":\"2.0\",\"method\":\"x/notify\"}\n");
    echo.request(json!(1), "x/unknown", json!({}));
    let answer = echo.recv();
    assert_eq!(
        (answer["id"].clone(), answer["error"]["code"].clone()),
        (json!(1), json!(-32601))
    );
    echo.request(json!(2), "handle_a2a", json!({"message": 3}));
    let answer = echo.recv();
    assert_eq!(
        (answer["id"].clone(), answer["error"]["code"].clone()),
        (json!(2), json!(-32602))
    );
    echo.close_stdin();
    assert!(echo.wait_exit().success());
    assert!(
        echo.remaining_lines().is_empty(),
        "junk and notifications were not answered"
    );
    assert!(
        echo.stderr().contains("not JSON-RPC"),
        "junk is logged on stderr"
    );
}

#[test]
fn a_burst_of_requests_and_cancels_gets_exactly_one_answer_each() {
    let mut echo = Backend::start();
    echo.initialize();
    let mut burst = String::new();
    for i in 0..200 {
        let req = json!({"jsonrpc": "2.0", "id": i, "method": "handle_a2a",
                         "params": a2a(json!([{"kind": "text", "text": format!("n{i}")}]))});
        burst.push_str(&format!("{req}\n"));
        if i % 3 == 0 {
            let cancel = json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": i, "reason": "deadline"}});
            burst.push_str(&format!("{cancel}\n"));
        }
    }
    echo.write(burst.as_bytes());
    let mut answers: HashMap<i64, Value> = HashMap::new();
    for _ in 0..200 {
        let answer = echo.recv();
        let id = answer["id"].as_i64().expect("integer id");
        assert!(
            answers.insert(id, answer).is_none(),
            "request {id} answered twice"
        );
    }
    for (id, answer) in &answers {
        if answer.get("error").is_some() {
            assert_eq!(answer["error"]["code"], -32800, "{answer}");
            assert_eq!(id % 3, 0, "only cancelled requests may end in -32800");
        } else {
            assert_eq!(answer["result"]["parts"][0]["text"], format!("echo: n{id}"));
        }
    }
    echo.close_stdin();
    assert!(echo.wait_exit().success());
    assert!(
        echo.remaining_lines().is_empty(),
        "no answer after the last one"
    );
}

#[test]
fn end_of_input_ends_the_process_with_status_0() {
    let mut echo = Backend::start();
    echo.initialize();
    echo.request(
        json!(1),
        "handle_a2a",
        a2a(json!([{"kind": "text", "text": "last"}])),
    );
    echo.close_stdin();
    assert_eq!(echo.recv()["result"]["parts"][0]["text"], "echo: last");
    assert_eq!(echo.wait_exit().code(), Some(0));
}
