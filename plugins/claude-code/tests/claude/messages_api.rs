//! A local Anthropic Messages API for the real-CLI tests: `claude` is pointed at it with
//! `ANTHROPIC_BASE_URL`, so it never reaches the network or an account.
//!
//! Each `POST /v1/messages` is answered by the test's script, a function of the request. A
//! successful answer streams server-sent events exactly as the real API does (`message_start`,
//! `content_block_start`, `ping`, `content_block_delta` (`text_delta` or `input_json_delta`),
//! `content_block_stop`, `message_delta` with the stop reason and usage, `message_stop`); an
//! error is the API's JSON error object with its status and headers (`retry-after`, the
//! `anthropic-ratelimit-*` family). Every request is recorded for the test to inspect.
//! One thread per connection, `Connection: close` on every answer: plain std, no runtime.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The longest a hanging answer keeps its connection open.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// One request the CLI made.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Request {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a model call (`POST /v1/messages`).
    pub fn is_messages(&self) -> bool {
        self.method == "POST" && self.path.split('?').next() == Some("/v1/messages")
    }

    /// The system prompt's text blocks, joined.
    pub fn system_text(&self) -> String {
        match &self.body["system"] {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => texts(blocks).join("\n"),
            _ => String::new(),
        }
    }

    /// The text the sender wrote in the latest user message (the CLI's own
    /// `<system-reminder>` blocks left out).
    pub fn prompt(&self) -> String {
        let Some(last) = self.last_user() else {
            return String::new();
        };
        match &last["content"] {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => texts(blocks)
                .into_iter()
                .filter(|t| !t.trim_start().starts_with("<system-reminder>"))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }

    /// The `tool_result` blocks of the latest user message: non-empty when the CLI reports
    /// what a tool the script asked for did.
    pub fn tool_results(&self) -> Vec<Value> {
        let Some(blocks) = self.last_user().and_then(|m| m["content"].as_array()) else {
            return Vec::new();
        };
        blocks
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .cloned()
            .collect()
    }

    /// The names of the tools offered to the model.
    pub fn tool_names(&self) -> Vec<String> {
        let tools = self.body["tools"].as_array().map(Vec::as_slice);
        tools
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    }

    fn last_user(&self) -> Option<&Value> {
        let messages = self.body["messages"].as_array()?;
        messages.iter().rev().find(|m| m["role"] == "user")
    }
}

fn texts(blocks: &[Value]) -> Vec<String> {
    blocks
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect()
}

/// How the script answers one model call.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A streamed text answer, in `pieces` deltas `gap` apart.
    Text {
        text: String,
        pieces: usize,
        gap: Duration,
    },
    /// A streamed `tool_use` block (stop reason `tool_use`).
    ToolUse { name: String, input: Value },
    /// An error status with the API's JSON error body (`kind` is its `error.type`).
    Error {
        status: u16,
        kind: String,
        message: String,
    },
    /// `message_start`, then pings until the client goes away (or a minute passes).
    Hang,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Text {
            text: text.into(),
            pieces: 2,
            gap: Duration::ZERO,
        }
    }

    pub fn tool_use(name: &str, input: Value) -> Reply {
        Reply::ToolUse {
            name: name.into(),
            input,
        }
    }

    /// This reply, as an answer to add headers to.
    pub fn into_answer(self) -> Answer {
        Answer::from(self)
    }

    pub fn error(status: u16, kind: &str, message: &str) -> Reply {
        Reply::Error {
            status,
            kind: kind.into(),
            message: message.into(),
        }
    }
}

/// A reply and the extra response headers it goes with.
#[derive(Clone, Debug)]
pub struct Answer {
    pub reply: Reply,
    pub headers: Vec<(String, String)>,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer {
            reply,
            headers: Vec::new(),
        }
    }
}

impl Answer {
    pub fn with_header(mut self, name: &str, value: impl ToString) -> Answer {
        self.headers.push((name.into(), value.to_string()));
        self
    }
}

/// A 429 as the API sends it: `retry-after` and the request/token rate-limit headers, and,
/// with `unified`, the subscription limiter's status and reset (Unix seconds).
pub fn rate_limited(retry_after_s: u64, unified: Option<(&str, u64)>) -> Answer {
    let reset = "2099-01-01T00:00:00Z";
    let mut answer = Answer::from(Reply::error(429, "rate_limit_error", "Rate limited"))
        .with_header("retry-after", retry_after_s)
        .with_header("anthropic-ratelimit-requests-limit", 50)
        .with_header("anthropic-ratelimit-requests-remaining", 0)
        .with_header("anthropic-ratelimit-requests-reset", reset)
        .with_header("anthropic-ratelimit-tokens-limit", 40_000)
        .with_header("anthropic-ratelimit-tokens-remaining", 0)
        .with_header("anthropic-ratelimit-tokens-reset", reset);
    if let Some((status, reset)) = unified {
        answer = answer
            .with_header("anthropic-ratelimit-unified-status", status)
            .with_header("anthropic-ratelimit-unified-reset", reset);
    }
    answer
}

type Script = dyn Fn(&Request) -> Answer + Send + Sync;

struct Shared {
    script: Box<Script>,
    requests: Mutex<Vec<Request>>,
    stopping: AtomicBool,
    ids: AtomicU64,
}

/// The server; it stops when dropped.
pub struct MessagesApi {
    port: u16,
    shared: Arc<Shared>,
}

impl MessagesApi {
    /// Serves on a free loopback port, answering each model call with `script`.
    pub fn start<A: Into<Answer>>(
        script: impl Fn(&Request) -> A + Send + Sync + 'static,
    ) -> MessagesApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Messages API");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            script: Box::new(move |r| script(r).into()),
            requests: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            ids: AtomicU64::new(1),
        });
        let accept = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accept);
                thread::spawn(move || serve(stream, &shared));
            }
        });
        MessagesApi { port, shared }
    }

    /// A server that answers every model call with `text`.
    pub fn answering(text: &str) -> MessagesApi {
        let text = text.to_owned();
        MessagesApi::start(move |_| Reply::text(text.clone()))
    }

    /// The base URL for `ANTHROPIC_BASE_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The model calls so far.
    pub fn calls(&self) -> Vec<Request> {
        let all = self
            .shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        all.iter().filter(|r| r.is_messages()).cloned().collect()
    }
}

impl Drop for MessagesApi {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A base URL where nothing listens: connections are refused.
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    shared
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request.clone());
    let mut out = stream;
    if !request.is_messages() {
        // The CLI's start-up reachability probe (`HEAD /`) and anything else: an empty 200.
        let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
    }
    let answer = (shared.script)(&request);
    let n = shared.ids.fetch_add(1, Ordering::SeqCst);
    let model = request.body["model"].as_str().unwrap_or("claude-test");
    let _ = respond(&mut out, &answer, n, model, &shared.stopping);
    let _ = out.shutdown(Shutdown::Both);
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

fn respond(
    out: &mut TcpStream,
    answer: &Answer,
    n: u64,
    model: &str,
    stopping: &AtomicBool,
) -> std::io::Result<()> {
    let extra: String = answer
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    if let Reply::Error {
        status,
        kind,
        message,
    } = &answer.reply
    {
        let body = json!({"type": "error", "error": {"type": kind, "message": message},
                          "request_id": format!("req_mock{n}")})
        .to_string();
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\nrequest-id: req_mock{n}\r\n\
             {extra}content-length: {}\r\nconnection: close\r\n\r\n",
            reason(*status),
            body.len()
        );
        out.write_all(head.as_bytes())?;
        return out.write_all(body.as_bytes());
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n\
         cache-control: no-cache\r\nrequest-id: req_mock{n}\r\n{extra}connection: close\r\n\r\n"
    );
    out.write_all(head.as_bytes())?;
    let mut sse = Sse { out };
    sse.event(
        "message_start",
        json!({"type": "message_start", "message": {"id": format!("msg_mock{n}"), "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": 1}}}),
    )?;
    let stop_reason = match &answer.reply {
        Reply::Text { text, pieces, gap } => {
            sse.text_block(text, *pieces, *gap)?;
            "end_turn"
        }
        Reply::ToolUse { name, input } => {
            sse.tool_use_block(&format!("toolu_mock{n}"), name, input)?;
            "tool_use"
        }
        Reply::Hang => {
            let start = Instant::now();
            while start.elapsed() < HANG_LIMIT && !stopping.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(100));
                sse.event("ping", json!({"type": "ping"}))?;
            }
            return Ok(());
        }
        Reply::Error { .. } => unreachable!("answered above"),
    };
    sse.event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": 7}}),
    )?;
    sse.event("message_stop", json!({"type": "message_stop"}))
}

struct Sse<'a> {
    out: &'a mut TcpStream,
}

impl Sse<'_> {
    fn event(&mut self, name: &str, data: Value) -> std::io::Result<()> {
        self.out
            .write_all(format!("event: {name}\ndata: {data}\n\n").as_bytes())?;
        self.out.flush()
    }

    fn text_block(&mut self, text: &str, pieces: usize, gap: Duration) -> std::io::Result<()> {
        self.event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        )?;
        self.event("ping", json!({"type": "ping"}))?;
        let chars: Vec<char> = text.chars().collect();
        let size = chars.len().div_ceil(pieces.max(1)).max(1);
        for (i, piece) in chars.chunks(size).enumerate() {
            if i > 0 && !gap.is_zero() {
                thread::sleep(gap);
            }
            let piece: String = piece.iter().collect();
            self.event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": piece}}),
            )?;
        }
        self.event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        )
    }

    fn tool_use_block(&mut self, id: &str, name: &str, input: &Value) -> std::io::Result<()> {
        self.event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        )?;
        let json = input.to_string();
        let mut mid = json.len() / 2;
        while !json.is_char_boundary(mid) {
            mid -= 1;
        }
        let (a, b) = json.split_at(mid);
        for part in [a, b] {
            self.event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "input_json_delta", "partial_json": part}}),
            )?;
        }
        self.event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Site Overloaded",
        _ => "Error",
    }
}
