//! The stream-json events the fake prints, shaped as the real CLI's (the fields the recorded
//! transcripts have, less the bulky ones nobody reads).

use crate::argv::Argv;
use serde_json::{Value, json};
use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the events go, and what they all carry.
pub struct Out {
    pub session: String,
    pub max_turns: Option<u32>,
    version: String,
    permission_mode: String,
}

impl Out {
    pub fn new(version: &str, argv: &Argv) -> Out {
        let session = argv
            .session_id
            .clone()
            .or(argv.resume.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Out {
            session,
            max_turns: argv.max_turns,
            version: version.to_owned(),
            permission_mode: argv.permission_mode.clone().unwrap_or("default".into()),
        }
    }

    pub fn emit(&self, event: Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{event}");
        let _ = out.flush();
    }

    fn uuid() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    pub fn init(&self) {
        self.emit(json!({"type":"system","subtype":"init","cwd":std::env::current_dir().ok(),
            "session_id":self.session,"tools":["Bash","Edit","Read","Write"],"mcp_servers":[],
            "model":"claude-fake","permissionMode":self.permission_mode,
            "apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":self.version,"uuid":Self::uuid()}));
    }

    pub fn rate_limit(&self, status: &str, resets_at: u64) {
        self.emit(json!({"type":"rate_limit_event","rate_limit_info":{"status":status,
            "resetsAt":resets_at,"isUsingOverage":false},"uuid":Self::uuid(),"session_id":self.session}));
    }

    pub fn api_retry(&self, attempt: u32, status: Option<u16>, error: &str) {
        self.emit(
            json!({"type":"system","subtype":"api_retry","attempt":attempt,"max_retries":10,
            "retry_delay_ms":500,"error_status":status,"error":error,"session_id":self.session,
            "uuid":Self::uuid()}),
        );
    }

    /// An assistant message with one text block; `error` marks the CLI's synthetic report of
    /// a failed model call.
    pub fn assistant_text(&self, text: &str, error: Option<&str>) {
        let model = if error.is_some() {
            "<synthetic>"
        } else {
            "claude-fake"
        };
        let mut event = json!({"type":"assistant","message":{"id":Self::uuid(),"type":"message",
            "role":"assistant","model":model,"content":[{"type":"text","text":text}],
            "stop_reason":null,"usage":{"input_tokens":10,"output_tokens":5}},
            "parent_tool_use_id":null,"session_id":self.session,"uuid":Self::uuid()});
        if let Some(error) = error {
            event["error"] = json!(error);
        }
        self.emit(event);
    }

    /// A tool use, and the user message with its result (an error when it was denied).
    pub fn tool_round(&self, tool: &str, input: Value, result: &str, denied: bool) {
        let id = "toolu_fake1";
        self.emit(json!({"type":"assistant","message":{"id":Self::uuid(),"type":"message",
            "role":"assistant","model":"claude-fake","content":[{"type":"tool_use","id":id,
            "name":tool,"input":input}],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":5}},
            "parent_tool_use_id":null,"session_id":self.session,"uuid":Self::uuid()}));
        let mut block = json!({"type":"tool_result","content":result,"tool_use_id":id});
        if denied {
            block["is_error"] = json!(true);
            // Newer CLIs announce the denial before the tool result.
            if self.version != "2.1.197" {
                self.emit(json!({"type":"system","subtype":"permission_denied","tool_name":tool,
                    "tool_use_id":id,"message":result,"session_id":self.session,"uuid":Self::uuid()}));
            }
            *DENIED.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(json!({"tool_name":tool,"tool_use_id":id,"tool_input":input}));
        }
        let outcome = if denied {
            json!(format!("Error: {result}"))
        } else {
            json!({"type":"text"})
        };
        self.emit(
            json!({"type":"user","message":{"role":"user","content":[block]},
            "parent_tool_use_id":null,"session_id":self.session,"uuid":Self::uuid(),
            "tool_use_result":outcome}),
        );
        ROUNDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn result(&self, fields: Value) {
        let denials: Vec<Value> = DENIED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut event = json!({"type":"result","subtype":"success","is_error":false,
            "api_error_status":null,"duration_ms":5,"duration_api_ms":2,"num_turns":1,
            "stop_reason":"end_turn","session_id":self.session,"total_cost_usd":0.001,
            "usage":{"input_tokens":10,"output_tokens":5},"permission_denials":denials,
            "terminal_reason":"completed","uuid":Self::uuid()});
        for (k, v) in fields.as_object().into_iter().flatten() {
            event[k] = v.clone();
        }
        self.emit(event);
    }

    pub fn success(&self, text: &str, session: &str) {
        let turns = 1 + ROUNDS.load(std::sync::atomic::Ordering::SeqCst);
        self.result(json!({"result":text,"session_id":session,"num_turns":turns}));
    }

    /// A failed model call as the CLI ends it: the synthetic assistant message, then an
    /// `is_error` result with the status; exit code 1.
    pub fn api_failure(&self, status: Option<u16>, kind: &str, text: &str) -> ExitCode {
        self.assistant_text(text, Some(kind));
        let reason = if self.version == "2.1.197" {
            "completed"
        } else {
            "api_error"
        };
        self.result(
            json!({"is_error":true,"api_error_status":status,"result":text,
            "stop_reason":"stop_sequence","total_cost_usd":0,"terminal_reason":reason}),
        );
        ExitCode::from(1)
    }

    /// An error result without a text (`error_during_execution`, `error_max_turns`).
    pub fn error_result(
        &self,
        subtype: &str,
        result: Option<&str>,
        errors: &[&str],
        reason: Option<&str>,
    ) {
        let mut fields = json!({"subtype":subtype,"is_error":true,"result":result,"errors":errors,
            "num_turns":0,"stop_reason":null,"total_cost_usd":0});
        if let Some(reason) = reason {
            fields["terminal_reason"] = json!(reason);
            fields["num_turns"] = json!(2);
            fields["stop_reason"] = json!("tool_use");
        } else {
            fields["terminal_reason"] = Value::Null;
        }
        self.result(fields);
    }
}

/// How many tool rounds this run played.
static ROUNDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The tool use denied in this run, for the result's `permission_denials`.
static DENIED: std::sync::Mutex<Option<Value>> = std::sync::Mutex::new(None);

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
