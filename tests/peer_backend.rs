//! A backend for the host's peer-call tests: on each `handle_a2a` it makes the host calls that
//! the message's text names, and answers with their outcomes as one data part.
//!
//! The text is a JSON object `{"calls": [{"method": …, "params": {…}}, …], "failFirst": bool}`.
//! Each call carries `_meta.requestId`; a `peers/send` without a `messageId` gets the one the
//! SDKs derive (SPEC §12.4) from the request's `idempotencyKey` and the call's index. With
//! `failFirst`, attempt 1 answers a retryable error after making its calls (so the host
//! redelivers). The data part also carries `socket`, the `MOLECULE_HOST_SOCKET` it was given.
//! Any other text is answered `peer-backend got: <text> (from <name>/<role>)`.
//! `MOLECULE_TEST_MAX_CONCURRENCY` sets `maxConcurrency` (default 4).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use molecule_protocol::keys::call_message_id;
use serde_json::{Value, json};

type Pending = Arc<Mutex<HashMap<String, Sender<Value>>>>;

/// `initialize`'s `capabilities.hostMethods`.
static HOST_METHODS: OnceLock<Value> = OnceLock::new();

struct Out(Mutex<std::io::Stdout>);

impl Out {
    fn send(&self, msg: &Value) {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{msg}");
        let _ = out.flush();
    }
}

fn main() {
    let out = Arc::new(Out(Mutex::new(std::io::stdout())));
    let pending: Pending = Arc::default();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines().map_while(Result::ok) {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if msg.get("method").is_none() {
            answer_arrived(&pending, msg);
            continue;
        }
        let id = msg["id"].clone();
        match msg["method"].as_str().unwrap_or_default() {
            "initialize" => {
                let methods = msg.pointer("/params/capabilities/hostMethods").cloned();
                let _ = HOST_METHODS.set(methods.unwrap_or(Value::Null));
                out.send(&json!({"jsonrpc": "2.0", "id": id, "result": initialize()}));
            }
            "handle_a2a" => {
                let (out, pending) = (out.clone(), pending.clone());
                std::thread::spawn(move || handle(&out, &pending, &msg));
            }
            "ping" => out.send(&json!({"jsonrpc": "2.0", "id": id, "result": {}})),
            _ if id.is_null() => {}
            other => out.send(&json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": format!("method not found: {other}")}})),
        }
    }
}

fn initialize() -> Value {
    let max: u32 = std::env::var("MOLECULE_TEST_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    json!({"protocolVersion": 1, "backend": {"name": "peer-backend", "version": "0.1.0"},
           "capabilities": {"maxConcurrency": max, "cancel": false}})
}

fn answer_arrived(pending: &Pending, msg: Value) {
    let Some(id) = msg["id"].as_str() else { return };
    let tx = pending.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    if let Some(tx) = tx {
        let _ = tx.send(msg);
    }
}

fn handle(out: &Out, pending: &Pending, msg: &Value) {
    let id = &msg["id"];
    let params = &msg["params"];
    let text = params
        .pointer("/message/parts/0/text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let script: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let who = |k: &str| params["sender"][k].as_str().unwrap_or("-").to_owned();
            let reply = format!(
                "peer-backend got: {text} (from {}/{})",
                who("name"),
                who("role")
            );
            out.send(&json!({"jsonrpc": "2.0", "id": id,
                "result": {"parts": [{"kind": "text", "text": reply}]}}));
            return;
        }
    };
    let key = params
        .pointer("/context/idempotencyKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut outcomes = Vec::new();
    let mut sends = 0;
    let calls = script["calls"].as_array().cloned().unwrap_or_default();
    for (i, call) in calls.iter().enumerate() {
        let method = call["method"].as_str().unwrap_or_default();
        let mut p = call.get("params").cloned().unwrap_or_else(|| json!({}));
        if method == "peers/send" {
            if p.get("messageId").is_none() {
                p["messageId"] = json!(call_message_id(key, sends));
            }
            sends += 1;
        }
        p["_meta"] = json!({"requestId": id});
        let call_id = format!("c-{}-{i}", id);
        let (tx, rx) = channel();
        pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call_id.clone(), tx);
        out.send(&json!({"jsonrpc": "2.0", "id": call_id, "method": method, "params": p}));
        let answer = rx.recv().unwrap_or(Value::Null);
        outcomes.push(json!({"method": method, "result": answer.get("result"),
                             "error": answer.get("error")}));
    }
    let attempt = params
        .pointer("/context/attempt")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    if script["failFirst"] == json!(true) && attempt == 1 {
        out.send(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": 1003,
            "message": "failing the first attempt on purpose",
            "data": {"retryable": true, "retryAfterMs": 1}}}));
        return;
    }
    let socket = std::env::var("MOLECULE_HOST_SOCKET").ok();
    out.send(&json!({"jsonrpc": "2.0", "id": id, "result": {"parts": [
        {"kind": "data", "data": {"outcomes": outcomes, "socket": socket,
                                     "hostMethods": HOST_METHODS.get()}}]}}));
}
