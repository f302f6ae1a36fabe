//! The `claude -p --output-format stream-json --verbose` event stream: one JSON object per
//! line on stdout, read into the few events a turn acts on. Unknown event types, and lines
//! that are not JSON objects (some builds print debug lines on stdout), are skipped, so a newer
//! CLI does not break the backend.

use serde::Deserialize;
use serde_json::Value;

/// One event of the stream, as far as the backend cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `system`/`init`: the session the turn runs in.
    Init {
        /// The session id Claude uses.
        session_id: Option<String>,
    },
    /// An assistant message; its text blocks, joined.
    Assistant {
        /// The text of the message (may be empty when it only calls tools).
        text: String,
        /// The CLI's classification of a failed model call (`authentication_failed`,
        /// `rate_limit`, `server_error`, `billing_error`, …), on the synthetic message that
        /// reports it.
        error: Option<String>,
    },
    /// `system`/`api_retry`: a model call failed and the CLI will try again.
    ApiRetry(ApiRetry),
    /// `rate_limit_event`: the account's rate-limit state.
    RateLimit(RateLimitInfo),
    /// The last line of a turn.
    Result(Box<TurnResult>),
    /// Anything else (tool results, hooks, status…): still a sign of life.
    Other {
        /// The event's `type`, for the progress line.
        kind: String,
    },
}

/// `system`/`api_retry`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ApiRetry {
    /// The HTTP status of the failed call; `None` when no answer came (network failure).
    #[serde(default)]
    pub error_status: Option<u16>,
    /// The CLI's name for the failure (`authentication_failed`, `rate_limit`, `unknown`, …).
    #[serde(default)]
    pub error: Option<String>,
    /// Which retry this is.
    #[serde(default)]
    pub attempt: Option<u32>,
    /// How many retries the CLI makes in all.
    #[serde(default)]
    pub max_retries: Option<u32>,
}

/// `rate_limit_event.rate_limit_info`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitInfo {
    /// `allowed`, `allowed_warning` or `rejected`.
    #[serde(default)]
    pub status: Option<String>,
    /// When the limit resets, in Unix seconds (milliseconds are recognised too).
    #[serde(default)]
    pub resets_at: Option<f64>,
}

/// The `result` object (SPEC of the CLI: see the crate README).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct TurnResult {
    /// `success`, `error_max_turns`, `error_during_execution`, `error_max_budget_usd`, …
    #[serde(default)]
    pub subtype: String,
    /// The only trustworthy success flag.
    #[serde(default)]
    pub is_error: bool,
    /// The final text (or the error text).
    #[serde(default)]
    pub result: Option<String>,
    /// The session the turn ran in; adopted for the next turn.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The HTTP status of an API failure.
    #[serde(default)]
    pub api_error_status: Option<u16>,
    /// Error details.
    #[serde(default)]
    pub errors: Vec<Value>,
    /// Why the turn ended (`completed`, `max_turns`, `api_error`, …).
    #[serde(default)]
    pub terminal_reason: Option<String>,
    /// How many agentic turns it took.
    #[serde(default)]
    pub num_turns: Option<u64>,
    /// What it cost.
    #[serde(default)]
    pub total_cost_usd: Option<f64>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<Value>,
    /// The tool uses the permission mode denied during the turn.
    #[serde(default)]
    pub permission_denials: Vec<PermissionDenial>,
}

/// One entry of `result.permission_denials`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct PermissionDenial {
    /// The tool (`Write`, `Bash`, `mcp__server__tool`, …).
    #[serde(default)]
    pub tool_name: String,
    /// What it was asked to do.
    #[serde(default)]
    pub tool_input: Value,
}

impl RateLimitInfo {
    /// Whether the event says the limit was hit (only then is its reset time a wait).
    pub fn is_rejected(&self) -> bool {
        self.status.as_deref() == Some("rejected")
    }
}

impl TurnResult {
    /// Every piece of error text the result carries: `result` and `errors`.
    pub fn error_text(&self) -> String {
        let mut text = self.result.clone().unwrap_or_default();
        for e in &self.errors {
            text.push('\n');
            match e {
                Value::String(s) => text.push_str(s),
                other => text.push_str(&other.to_string()),
            }
        }
        text
    }
}

/// Parses one stdout line; `None` for a line that is not an event object.
pub fn parse_line(line: &[u8]) -> Option<Event> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    let value: Value = serde_json::from_slice(line).ok()?;
    let kind = value.get("type")?.as_str()?.to_owned();
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(match kind.as_str() {
        "system" if value.get("subtype").and_then(Value::as_str) == Some("init") => Event::Init {
            session_id: text(&value, "session_id"),
        },
        "system" if value.get("subtype").and_then(Value::as_str) == Some("api_retry") => {
            Event::ApiRetry(serde_json::from_value(value).unwrap_or_default())
        }
        "assistant" => Event::Assistant {
            text: assistant_text(&value),
            error: text(&value, "error"),
        },
        "rate_limit_event" => Event::RateLimit(
            value
                .get("rate_limit_info")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
        ),
        "result" => Event::Result(Box::new(serde_json::from_value(value).ok()?)),
        _ => Event::Other { kind },
    })
}

fn assistant_text(value: &Value) -> String {
    let blocks = value
        .pointer("/message/content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let texts: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    texts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_events_a_turn_acts_on() {
        let init = br#"{"type":"system","subtype":"init","session_id":"s-1","cwd":"/x"}"#;
        assert_eq!(
            parse_line(init),
            Some(Event::Init {
                session_id: Some("s-1".into())
            })
        );
        let assistant = br#"{"type":"assistant","message":{"content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t"},{"type":"text","text":"b"}]}}"#;
        assert_eq!(
            parse_line(assistant),
            Some(Event::Assistant {
                text: "a\nb".into(),
                error: None
            })
        );
        let retry = br#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"error_status":401,"error":"authentication_failed"}"#;
        let Some(Event::ApiRetry(r)) = parse_line(retry) else {
            panic!("not a retry")
        };
        assert_eq!((r.error_status, r.attempt), (Some(401), Some(1)));
        let failed = br#"{"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"text","text":"API Error"}]},"error":"rate_limit"}"#;
        assert_eq!(
            parse_line(failed),
            Some(Event::Assistant {
                text: "API Error".into(),
                error: Some("rate_limit".into())
            })
        );
        let limit = br#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1700000000}}"#;
        assert_eq!(
            parse_line(limit),
            Some(Event::RateLimit(RateLimitInfo {
                status: Some("rejected".into()),
                resets_at: Some(1_700_000_000.0)
            }))
        );
        let result = br#"{"type":"result","subtype":"success","is_error":true,"api_error_status":429,"result":"limit","errors":["x",{"k":1}],"session_id":"s-2","permission_denials":[{"tool_name":"Write","tool_use_id":"t","tool_input":{"file_path":"/a"}}]}"#;
        let Some(Event::Result(r)) = parse_line(result) else {
            panic!("not a result")
        };
        assert!(r.is_error);
        assert_eq!(r.api_error_status, Some(429));
        assert_eq!(r.error_text(), "limit\nx\n{\"k\":1}");
        assert_eq!(r.permission_denials[0].tool_name, "Write");
    }

    #[test]
    fn skips_junk_and_keeps_unknown_types_as_signs_of_life() {
        assert_eq!(parse_line(b"[SandboxDebug] hello"), None);
        assert_eq!(parse_line(b"{not json"), None);
        assert_eq!(parse_line(b"{\"no\":\"type\"}"), None);
        assert_eq!(
            parse_line(b"{\"type\":\"tool_progress\"}\r"),
            Some(Event::Other {
                kind: "tool_progress".into()
            })
        );
    }
}
