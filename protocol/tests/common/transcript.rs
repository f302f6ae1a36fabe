//! Checks a golden transcript: every line against the committed schemas, through the Rust
//! types, and against the SPEC's rules for a conversation (initialize first, every request
//! answered exactly once, concurrency limits, the derived keys…).

mod calls;

use super::workspaces::Workspaces;
use super::{Schemas, round_trip_exact, round_trip_lossless, rules};
use molecule_protocol::methods::{
    CancelParams, CancelRequest, HandleA2a, HandleA2aParams, Initialize, InitializeParams,
    InitializeResult, Method, Ping, Progress, ProgressParams, WorkspaceClose, WorkspaceOpen,
};
use molecule_protocol::schema::{self, Direction};
use molecule_protocol::{ErrorData, Message, RequestId, RpcError, SenderKind, code, keys};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use uuid::Uuid;

/// Which side wrote a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Host,
    Backend,
}

impl Side {
    fn writes(self, direction: Direction) -> bool {
        matches!(
            (self, direction),
            (_, Direction::Both)
                | (Side::Host, Direction::HostToBackend)
                | (Side::Backend, Direction::BackendToHost)
        )
    }
}

/// What checking a transcript found.
#[derive(Debug, Default)]
pub struct Report {
    /// Rule violations, each naming its line.
    pub problems: Vec<String>,
    /// Which protocol situations the transcript shows (for coverage).
    pub features: BTreeSet<&'static str>,
}

struct Pending {
    method: String,
    /// A backend → host method the host does not serve (not in `hostMethods`).
    unserved: bool,
    conversation: Option<String>,
    before_initialize: bool,
    /// The workspace a `handle_a2a` is for, or a `workspace/open` or `close` opens or closes.
    workspace: Option<Uuid>,
}

struct Checker<'a> {
    schemas: &'a Schemas,
    report: Report,
    at: String,
    workspaces: Workspaces,
    initialized: bool,
    max_concurrency: u32,
    host_methods: Vec<String>,
    pending: HashMap<(Side, RequestId), Pending>,
    used: HashSet<(Side, RequestId)>,
    cancelled: HashSet<RequestId>,
    attempts: HashMap<String, u32>,
}

/// Checks the JSONL text of transcript `name`.
pub fn check(schemas: &Schemas, name: &str, text: &str) -> Report {
    let mut c = Checker {
        schemas,
        report: Report::default(),
        at: String::new(),
        workspaces: Workspaces::default(),
        initialized: false,
        max_concurrency: 1,
        host_methods: Vec::new(),
        pending: HashMap::new(),
        used: HashSet::new(),
        cancelled: HashSet::new(),
        attempts: HashMap::new(),
    };
    for (i, line) in text.lines().enumerate() {
        c.at = format!("{name}:{}", i + 1);
        c.line(line);
    }
    c.at = format!("{name}: at the end");
    let mut left: Vec<String> = c
        .pending
        .keys()
        .map(|(s, id)| format!("{s:?} {id}"))
        .collect();
    left.sort();
    for request in left {
        c.problem(format!("request {request} is never answered"));
    }
    c.report
}

impl Checker<'_> {
    fn problem(&mut self, what: impl std::fmt::Display) {
        self.report.problems.push(format!("{}: {what}", self.at));
    }

    fn problems(&mut self, what: Vec<String>) {
        for problem in what {
            self.problem(problem);
        }
    }

    fn require(&mut self, ok: bool, what: impl std::fmt::Display) {
        if !ok {
            self.problem(what);
        }
    }

    fn validate(&mut self, schema: &str, value: &Value) {
        for e in self.schemas.errors(schema, value) {
            self.problem(e);
        }
    }

    fn round_trip<T>(&mut self, writer: Side, what: &str, value: &Value)
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let checked = match writer {
            Side::Host => round_trip_exact::<T>(value),
            Side::Backend => round_trip_lossless::<T>(value),
        };
        if let Err(e) = checked {
            self.problem(format!("{what} {e}"));
        }
    }

    fn line(&mut self, line: &str) {
        let Ok(Value::Object(mut wrapper)) = serde_json::from_str::<Value>(line) else {
            return self.problem("not a JSON object");
        };
        let side = match wrapper.remove("from").as_ref().and_then(Value::as_str) {
            Some("host") => Side::Host,
            Some("backend") => Side::Backend,
            other => {
                return self.problem(format!("\"from\" must be host or backend, not {other:?}"));
            }
        };
        if wrapper.remove("note").is_some_and(|n| !n.is_string()) {
            self.problem("\"note\" must be a string");
        }
        let Some(msg) = wrapper.remove("msg") else {
            return self.problem("no \"msg\"");
        };
        if let Some(extra) = wrapper.keys().next() {
            self.problem(format!(
                "unknown member {extra:?} (allowed: from, note, msg)"
            ));
        }
        self.validate(schema::ENVELOPE, &msg);
        let parsed = match Message::from_value(msg.clone()) {
            Ok(m) => m,
            Err(e) => return self.problem(format!("not a JSON-RPC message: {e}")),
        };
        self.require(
            parsed.to_value() == msg,
            "the envelope does not survive the Rust types",
        );
        match parsed {
            Message::Request(r) => self.request(side, r.id, &r.method, r.params),
            Message::Notification(n) => self.notification(side, &n.method, n.params),
            Message::Response(r) => match r.id {
                Some(id) => self.response(side, id, r.result, &msg),
                None => self.problem("a response with a null id"),
            },
        }
    }

    fn request(&mut self, side: Side, id: RequestId, method: &str, params: Option<Value>) {
        let params = params.unwrap_or_else(|| Value::Object(Default::default()));
        if !self.used.insert((side, id.clone())) {
            self.problem(format!("{side:?} reuses request id {id}"));
        }
        let before_initialize =
            side == Side::Host && !self.initialized && method != Initialize::NAME;
        let mut conversation = None;
        let mut workspace = None;
        let mut unserved = false;
        match schema::method_schemas(method) {
            Some(m) if m.direction == Direction::BackendToHost && m.result.is_some() => {
                self.require(
                    side == Side::Backend,
                    format!("{side:?} must not send {method}"),
                );
                self.validate(m.params, &params);
                unserved = !self.host_methods.iter().any(|h| h == method);
                self.host_call(method, &params);
            }
            Some(m) if m.result.is_some() => {
                self.require(
                    side.writes(m.direction),
                    format!("{side:?} must not send {method}"),
                );
                self.validate(m.params, &params);
                match method {
                    Initialize::NAME => self.initialize(side, &params),
                    HandleA2a::NAME => {
                        let (c, w) = self.handle_a2a(side, &params).unzip();
                        (conversation, workspace) = (c, w.flatten());
                    }
                    WorkspaceOpen::NAME | WorkspaceClose::NAME => {
                        workspace = self.workspace_request(side, method, &params)
                    }
                    Ping::NAME => {
                        self.round_trip::<<Ping as Method>::Params>(side, "ping params", &params);
                        self.report.features.insert("ping");
                    }
                    _ => {}
                }
            }
            Some(_) => self.problem(format!(
                "{method} is a notification but was sent with an id"
            )),
            None if side == Side::Backend => {
                let supported = self.host_methods.iter().any(|m| m == method);
                self.require(
                    !supported,
                    format!("{method} is in hostMethods but has no schema"),
                );
                unserved = true;
                self.check_meta(&params);
            }
            None => self.problem(format!("the host sends no method {method}")),
        }
        self.pending.insert(
            (side, id),
            Pending {
                method: method.to_owned(),
                unserved,
                conversation,
                before_initialize,
                workspace,
            },
        );
    }

    fn initialize(&mut self, side: Side, params: &Value) {
        self.round_trip::<InitializeParams>(side, "initialize params", params);
        if let Ok(p) = serde_json::from_value::<InitializeParams>(params.clone()) {
            self.workspaces.first = keys::parse_workspace_id(&p.workspace.id);
            self.require(
                self.workspaces.first.is_some(),
                "workspace.id is not a UUID",
            );
            self.host_methods = p.capabilities.host_methods;
        }
        self.report.features.insert("handshake");
    }

    /// A `handle_a2a`: its conversation (within its workspace) and its workspace.
    fn handle_a2a(&mut self, side: Side, params: &Value) -> Option<(String, Option<Uuid>)> {
        self.round_trip::<HandleA2aParams>(side, "handle_a2a params", params);
        let p: HandleA2aParams = serde_json::from_value(params.clone()).ok()?;
        let mut problems = Vec::new();
        let workspace = self.workspaces.of_request(&p, &mut problems);
        problems.extend(rules::handle_a2a(workspace.as_ref(), &p));
        self.problems(problems);
        if p.workspace.is_some() {
            self.report.features.insert("workspace named");
        }
        let agent = p.sender.kind == SenderKind::Agent;
        let features = &mut self.report.features;
        features.insert(if agent {
            "agent sender"
        } else {
            "canvas sender"
        });
        if p.context.reply_suppressed {
            features.insert("reply suppressed");
        }
        let ctx = &p.context;
        if let Some(before) = self.attempts.insert(ctx.activity_id.clone(), ctx.attempt) {
            let higher = ctx.attempt > before;
            self.require(higher, "a redelivery must carry a higher attempt");
            self.report.features.insert("redelivery");
        }
        // One at a time holds per conversation within a workspace.
        let conv = match workspace {
            Some(ws) => format!("{ws}/{}", p.context.conversation_key),
            None => p.context.conversation_key,
        };
        let in_flight: Vec<&Pending> = self
            .pending
            .iter()
            .filter(|((s, _), p)| *s == Side::Host && p.method == HandleA2a::NAME)
            .map(|(_, p)| p)
            .collect();
        let busy = in_flight.len() as u32 >= self.max_concurrency;
        let same = in_flight
            .iter()
            .any(|q| q.conversation.as_deref() == Some(conv.as_str()));
        self.require(!busy, "more handle_a2a in flight than maxConcurrency");
        self.require(!same, "two handle_a2a of one conversation in flight");
        Some((conv, workspace))
    }

    fn notification(&mut self, side: Side, method: &str, params: Option<Value>) {
        let params = params.unwrap_or(Value::Null);
        let Some(m) = schema::method_schemas(method).filter(|m| m.result.is_none()) else {
            return self.problem(format!("unknown notification {method}"));
        };
        self.require(
            side.writes(m.direction),
            format!("{side:?} must not send {method}"),
        );
        self.validate(m.params, &params);
        match method {
            CancelRequest::NAME => {
                self.round_trip::<CancelParams>(side, "cancel params", &params);
                let Ok(p) = serde_json::from_value::<CancelParams>(params) else {
                    return;
                };
                let key = (Side::Host, p.id.clone());
                self.require(
                    self.used.contains(&key),
                    "cancels a request the host never sent",
                );
                if !self.pending.contains_key(&key) {
                    self.report.features.insert("cancel after the answer");
                }
                self.cancelled.insert(p.id);
            }
            Progress::NAME => {
                self.round_trip::<ProgressParams>(side, "progress params", &params);
                let Ok(p) = serde_json::from_value::<ProgressParams>(params) else {
                    return;
                };
                let in_flight = self.pending.contains_key(&(Side::Host, p.id.clone()));
                self.require(
                    in_flight,
                    format!("progress for {}, which is not in flight", p.id),
                );
                self.report.features.insert("progress");
            }
            _ => {}
        }
    }

    fn response(
        &mut self,
        side: Side,
        id: RequestId,
        result: Result<Value, RpcError>,
        msg: &Value,
    ) {
        let requester = match side {
            Side::Host => Side::Backend,
            Side::Backend => Side::Host,
        };
        let Some(request) = self.pending.remove(&(requester, id.clone())) else {
            return self.problem(format!("response {id} answers no pending request"));
        };
        let schemas = schema::method_schemas(&request.method);
        match result {
            Ok(value) => {
                self.require(
                    !request.before_initialize,
                    "before initialize, answer -32002",
                );
                if let Some(name) = schemas.and_then(|m| m.result) {
                    self.validate(name, &value);
                }
                match request.method.as_str() {
                    Initialize::NAME => self.initialized_with(side, &value),
                    HandleA2a::NAME => self.round_trip::<<HandleA2a as Method>::Result>(
                        side,
                        "handle_a2a result",
                        &value,
                    ),
                    Ping::NAME => {
                        self.round_trip::<<Ping as Method>::Result>(side, "ping result", &value)
                    }
                    WorkspaceOpen::NAME | WorkspaceClose::NAME => {
                        self.workspace_result(&request, &value)
                    }
                    _ if request.unserved => self.problem("an unserved host method gets -32601"),
                    other => self.host_result(other, &value),
                }
            }
            Err(error) => self.error(side, &id, &request, &error, &msg["error"]),
        }
    }

    fn initialized_with(&mut self, side: Side, value: &Value) {
        self.round_trip::<InitializeResult>(side, "initialize result", value);
        if let Ok(r) = serde_json::from_value::<InitializeResult>(value.clone()) {
            self.initialized = true;
            self.max_concurrency = r.capabilities.concurrency();
            self.workspaces.initialized(r.capabilities.workspaces());
            self.require(
                molecule_protocol::version::check_backend_version(
                    "backend",
                    r.protocol_version,
                    "0.1.0",
                )
                .is_ok(),
                "the backend answers a protocol version the host refuses",
            );
        }
    }

    fn error(
        &mut self,
        side: Side,
        id: &RequestId,
        request: &Pending,
        error: &RpcError,
        raw: &Value,
    ) {
        self.validate(schema::ERROR, raw);
        self.round_trip::<RpcError>(side, "error", raw);
        if let Some(data) = &error.data {
            self.validate(schema::ERROR_DATA, data);
            self.round_trip::<ErrorData>(side, "error data", data);
            self.report.features.insert("error data");
        }
        if request.before_initialize {
            self.require(
                error.code == code::NOT_INITIALIZED,
                "before initialize, answer -32002",
            );
            self.report.features.insert("not initialized");
        }
        if error.code == code::REQUEST_CANCELLED {
            self.require(
                self.cancelled.contains(id),
                "-32800 answers only a cancelled request",
            );
            self.report.features.insert("cancelled");
        }
        if (1010..=1016).contains(&error.code) {
            let class = error.error_data().class;
            self.require(
                side == Side::Host && class.is_some_and(|c| !c.is_empty()),
                "host-call errors 1010–1016 come from the host and carry data.class",
            );
            self.report.features.insert("host method error");
        }
        if side == Side::Host && request.unserved {
            self.require(
                error.code == code::METHOD_NOT_FOUND,
                "an unserved host method gets -32601",
            );
            self.report.features.insert("host method not found");
        }
    }
}
