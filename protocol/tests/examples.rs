//! The golden transcripts in `protocol/examples/*.jsonl`: every line valid against the committed
//! schemas, unchanged by a trip through the Rust types, and every exchange following the SPEC.
//! A transcript that drifts from the types, the schemas or the rules fails here.

#[allow(dead_code)]
mod common;

use common::transcript::{self, Report};
use common::{Schemas, examples_dir};
use serde_json::{Value, json};

fn transcripts() -> Vec<(String, String)> {
    let dir = examples_dir();
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&p).expect("readable transcript");
            (name, text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_transcript_follows_the_schemas_the_types_and_the_rules() {
    let schemas = Schemas::load();
    let all = transcripts();
    assert!(
        all.len() >= 8,
        "expected the golden transcripts, found {}",
        all.len()
    );
    let problems: Vec<String> = all
        .iter()
        .flat_map(|(name, text)| transcript::check(&schemas, name, text).problems)
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_transcripts_show_every_situation_the_spec_describes() {
    let schemas = Schemas::load();
    let seen: std::collections::BTreeSet<&str> = transcripts()
        .iter()
        .flat_map(|(name, text)| transcript::check(&schemas, name, text).features)
        .collect();
    for feature in [
        "handshake",
        "not initialized",
        "ping",
        "agent sender",
        "canvas sender",
        "cancelled",
        "cancel after the answer",
        "progress",
        "error data",
        "redelivery",
        "reply suppressed",
        "host method not found",
        "host method",
        "host method error",
        "workspace opened",
        "workspace named",
        "workspace closed",
    ] {
        assert!(seen.contains(feature), "no transcript shows: {feature}");
    }
}

#[test]
fn transcript_lines_are_compact_single_line_json() {
    for (name, text) in transcripts() {
        assert!(
            text.ends_with('\n'),
            "{name}: the last line must end with a newline"
        );
        for (i, line) in text.lines().enumerate() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}:{}: not JSON: {e}", i + 1));
            assert_eq!(
                value.to_string(),
                line,
                "{name}:{}: not compact JSON",
                i + 1
            );
        }
    }
}

// The checker itself must catch drift: each mutation below breaks one rule.

/// The handshake of `handshake.jsonl`, then `rest`.
fn with_handshake(rest: &[Value]) -> String {
    let (_, text) = transcripts()
        .into_iter()
        .find(|(n, _)| n == "handshake.jsonl")
        .expect("handshake.jsonl");
    let mut lines: Vec<String> = text.lines().take(2).map(str::to_owned).collect();
    lines.extend(rest.iter().map(Value::to_string));
    lines.join("\n")
}

/// The `handle_a2a` request of `agent-message.jsonl` (line 3) as a value.
fn agent_request() -> Value {
    let (_, text) = transcripts()
        .into_iter()
        .find(|(n, _)| n == "agent-message.jsonl")
        .expect("agent-message.jsonl");
    serde_json::from_str(text.lines().nth(2).expect("line 3")).expect("JSON")
}

fn backend(msg: Value) -> Value {
    json!({"from": "backend", "msg": msg})
}

fn problems_of(text: &str) -> Report {
    transcript::check(&Schemas::load(), "mutated.jsonl", text)
}

fn assert_caught(text: &str, expected: &str) {
    let report = problems_of(text);
    assert!(
        report.problems.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got {:#?}",
        report.problems
    );
}

fn answer(id: i64, result: Value) -> Value {
    backend(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

#[test]
fn the_checker_accepts_the_untouched_pieces() {
    let ok = answer(1, json!({"parts": [{"kind": "text", "text": "fine"}]}));
    let report = problems_of(&with_handshake(&[agent_request(), ok]));
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}

#[test]
fn a_part_spelled_with_type_is_caught() {
    let bad = answer(
        1,
        json!({"parts": [{"type": "text", "text": "old spelling"}]}),
    );
    assert_caught(
        &with_handshake(&[agent_request(), bad]),
        "handle_a2a.result.json: at `/parts/0`",
    );
}

#[test]
fn a_member_the_host_would_drop_is_caught() {
    let extra = answer(1, json!({"parts": [], "confidence": 0.9}));
    assert_caught(
        &with_handshake(&[agent_request(), extra]),
        "the Rust types lose `/confidence`",
    );
}

#[test]
fn a_wrong_idempotency_key_is_caught() {
    let mut req = agent_request();
    req["msg"]["params"]["context"]["idempotencyKey"] =
        json!("00000000-0000-5000-8000-000000000000");
    let ok = answer(1, json!({"parts": []}));
    assert_caught(&with_handshake(&[req, ok]), "idempotencyKey should be");
}

#[test]
fn a_member_the_types_do_not_know_is_caught() {
    let mut req = agent_request();
    req["msg"]["params"]["context"]["priority"] = json!("high");
    let ok = answer(1, json!({"parts": []}));
    assert_caught(
        &with_handshake(&[req, ok]),
        "does not survive the Rust types unchanged",
    );
}

#[test]
fn answering_twice_or_never_is_caught() {
    let ok = answer(1, json!({"parts": []}));
    assert_caught(
        &with_handshake(&[agent_request(), ok.clone(), ok]),
        "response 1 answers no pending request",
    );
    assert_caught(&with_handshake(&[agent_request()]), "is never answered");
}

#[test]
fn progress_after_the_answer_is_caught() {
    let ok = answer(1, json!({"parts": []}));
    let late = backend(json!({"jsonrpc": "2.0", "method": "$/progress", "params": {"id": 1}}));
    assert_caught(
        &with_handshake(&[agent_request(), ok, late]),
        "not in flight",
    );
}

#[test]
fn exceeding_max_concurrency_is_caught() {
    // The echo handshake allows 8; a backend that says nothing allows 1.
    let mut text = with_handshake(&[]);
    text = text.replace(
        r#","capabilities":{"maxConcurrency":8,"cancel":true,"progress":false}"#,
        "",
    );
    let mut second = agent_request();
    second["msg"]["id"] = json!(2);
    second["msg"]["params"]["message"]["contextId"] = json!("another");
    second["msg"]["params"]["context"]["conversationKey"] =
        json!("agent:c2b4e6f8-1a3c-4e5f-8a7b-9c0d1e2f3a4b#another");
    let lines = [
        agent_request(),
        second,
        answer(1, json!({"parts": []})),
        answer(2, json!({"parts": []})),
    ];
    let text = format!(
        "{text}\n{}",
        lines
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_caught(&text, "more handle_a2a in flight than maxConcurrency");
}

#[test]
fn a_result_before_initialize_is_caught() {
    let text = [
        json!({"from": "host", "msg": {"jsonrpc": "2.0", "id": 0, "method": "ping", "params": {}}}),
        answer(0, json!({})),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    assert_caught(&text, "before initialize, answer -32002");
}

/// `workspaces.jsonl` with its line `n` (from 1) changed by `edit`.
fn workspaces_with(n: usize, edit: impl FnOnce(&mut Value)) -> String {
    let (_, text) = transcripts()
        .into_iter()
        .find(|(name, _)| name == "workspaces.jsonl")
        .expect("workspaces.jsonl");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    edit(&mut lines[n - 1]);
    lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_rules_of_several_workspaces_are_caught() {
    assert_caught(
        &workspaces_with(2, |l| {
            l["msg"]["result"]["capabilities"]["maxWorkspaces"] = json!(1)
        }),
        "workspace/open goes only to a backend with maxWorkspaces above 1",
    );
    assert_caught(
        &workspaces_with(6, |l| {
            l["msg"]["params"]
                .as_object_mut()
                .unwrap()
                .remove("workspace");
        }),
        "handle_a2a to a backend with maxWorkspaces above 1 names its workspace",
    );
    assert_caught(
        &workspaces_with(11, |l| l["msg"]["params"] = json!({})),
        "a call outside a request names its workspace in _meta.workspaceId",
    );
    assert_caught(
        &workspaces_with(7, |l| {
            l["msg"]["params"]["_meta"]["workspaceId"] =
                json!("7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24")
        }),
        "_meta.workspaceId must be the workspace of _meta.requestId",
    );
    // Keys follow the named workspace: support-bot's key under research-bot's name is wrong.
    assert_caught(
        &workspaces_with(6, |l| {
            l["msg"]["params"]["workspace"]["id"] = json!("7d3a5f2e-9c41-4b8a-a6d2-3e5f71c09b24")
        }),
        "idempotencyKey should be",
    );
}
