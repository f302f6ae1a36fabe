//! What a finished turn means for the sender: a reply, an error the host knows how to treat,
//! or "this session is broken, start a fresh one".
//!
//! Success is `is_error == false` on the `result` line, never the exit code or `subtype`: API
//! failures arrive as `subtype: "success", is_error: true`, sometimes with exit code 0.

use crate::failure::{self, Signals};
use crate::prompt::NO_REPLY;
use crate::stream::{PermissionDenial, TurnResult};
use molecule_plugin::protocol::{HandleA2aResult, RpcError};
use molecule_plugin::reply::{self, WithMetadata};
use serde_json::{Value, json};

/// The longest description of one denied tool use in a reply.
const MAX_DENIAL: usize = 120;

/// What a finished turn comes to.
#[derive(Debug)]
pub enum Verdict {
    /// Answer the request with this.
    Answer(Result<HandleA2aResult, RpcError>),
    /// The session cannot be used: forget it and try once more in a fresh one.
    FreshSession,
}

/// Reads a `result` line, with what the stream said before it (the rate-limit state and the
/// assistant's error kind) and the assistant's text as a fallback for an empty `result`.
pub fn from_result(r: &TurnResult, signals: Signals<'_>, assistant: &str) -> Verdict {
    let text = r.error_text();
    if r.is_error && session_broken(&text) {
        return Verdict::FreshSession;
    }
    let cut_short = match (r.subtype.as_str(), r.terminal_reason.as_deref()) {
        ("error_max_turns", _) | (_, Some("max_turns")) => Some(
            "I stopped before finishing: this agent may take only a limited number of steps for \
             one message. Send a follow-up if you want me to carry on.",
        ),
        ("error_max_budget_usd", _) => Some(
            "I stopped before finishing: this agent's spending limit for one message was reached.",
        ),
        _ => None,
    };
    if let Some(note) = cut_short {
        let partial = r
            .result
            .as_deref()
            .filter(|t| !r.is_error && !t.trim().is_empty());
        let text = partial.map_or(note.to_owned(), |p| format!("{p}\n\n({note})"));
        return Verdict::Answer(Ok(with_usage(reply::text(text), r)));
    }
    if r.is_error {
        return Verdict::Answer(Err(failure::classify(r, signals, &text)));
    }
    let body = r
        .result
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(assistant)
        .trim();
    let answer = if body.is_empty() || body == NO_REPLY {
        reply::none()
    } else if r.permission_denials.is_empty() {
        reply::text(body)
    } else {
        with_denials(body, &r.permission_denials)
    };
    Verdict::Answer(Ok(with_usage(answer, r)))
}

/// The answer with a note on the tool uses the permission mode denied, which shaped it (the
/// sender would otherwise not know why the work was not done), and the same as metadata.
fn with_denials(body: &str, denials: &[PermissionDenial]) -> HandleA2aResult {
    let described: Vec<(String, String)> = denials
        .iter()
        .map(|d| (d.tool_name.clone(), denial_target(d)))
        .collect();
    let list: Vec<String> = described
        .iter()
        .map(|(tool, target)| match target.is_empty() {
            true => tool.clone(),
            false => format!("{tool} ({target})"),
        })
        .collect();
    let note = format!(
        "(This agent is not allowed to use some of the tools this needed, so they were not run: \
         {}. Its operator can allow them with --allowed-tools or another --permission-mode.)",
        list.join("; ")
    );
    let meta: Vec<Value> = described
        .iter()
        .map(|(tool, target)| json!({"tool": tool, "target": target}))
        .collect();
    reply::text(format!("{body}\n\n{note}")).with_metadata("permissionDenials", Value::Array(meta))
}

/// What a denied tool use was aimed at: its command, file, path or URL, cut short.
fn denial_target(d: &PermissionDenial) -> String {
    let input = &d.tool_input;
    let target = [
        "command",
        "file_path",
        "notebook_path",
        "path",
        "url",
        "pattern",
    ]
    .iter()
    .find_map(|k| input.get(*k).and_then(Value::as_str))
    .unwrap_or_default();
    let mut cut: String = target.chars().take(MAX_DENIAL).collect();
    if cut.len() < target.len() {
        cut.push('…');
    }
    cut
}

/// Whether Claude's error text says the session cannot be resumed or reused.
pub fn session_broken(text: &str) -> bool {
    text.contains("No conversation found") || text.contains("already in use")
}

fn with_usage(answer: HandleA2aResult, r: &TurnResult) -> HandleA2aResult {
    let count = |key: &str| {
        r.usage
            .as_ref()
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
    };
    let mut usage = serde_json::Map::new();
    for (from, to) in [
        ("input_tokens", "inputTokens"),
        ("output_tokens", "outputTokens"),
    ] {
        if let Some(n) = count(from) {
            usage.insert(to.into(), n.into());
        }
    }
    if let Some(cost) = r.total_cost_usd {
        usage.insert("costUsd".into(), json!(cost));
    }
    if usage.is_empty() || answer.parts.is_empty() {
        return answer;
    }
    answer.with_metadata("usage", Value::Object(usage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_plugin::protocol::code;

    fn result(v: Value) -> TurnResult {
        serde_json::from_value(v).unwrap()
    }

    fn answer(r: &TurnResult, assistant: &str) -> HandleA2aResult {
        match from_result(r, Signals::default(), assistant) {
            Verdict::Answer(Ok(a)) => a,
            other => panic!("not an answer: {other:?}"),
        }
    }

    #[test]
    fn success_is_is_error_false_and_no_reply_sends_nothing() {
        let r = result(json!({"subtype":"success","is_error":false,"result":"hi",
                               "usage":{"input_tokens":3,"output_tokens":4},"total_cost_usd":0.5}));
        let a = answer(&r, "");
        assert_eq!(a.parts[0].as_text(), Some("hi"));
        assert_eq!(
            a.metadata.unwrap()["usage"],
            json!({"inputTokens":3,"outputTokens":4,"costUsd":0.5})
        );
        let r = result(json!({"subtype":"success","is_error":false,"result":" NO_REPLY\n"}));
        assert!(answer(&r, "").parts.is_empty());
        let r = result(json!({"subtype":"success","is_error":false,"result":""}));
        let a = answer(&r, "from the assistant");
        assert_eq!(a.parts[0].as_text(), Some("from the assistant"));
    }

    #[test]
    fn denied_tool_uses_are_told_to_the_sender() {
        let r = result(
            json!({"subtype":"success","is_error":false,"result":"I could not.",
            "permission_denials":[
                {"tool_name":"Write","tool_use_id":"a","tool_input":{"file_path":"/p/x.txt","content":"c"}},
                {"tool_name":"Bash","tool_use_id":"b","tool_input":{"command":"x".repeat(300)}}]}),
        );
        let a = answer(&r, "");
        let text = a.parts[0].as_text().unwrap();
        assert!(
            text.starts_with("I could not.\n\n(This agent is not allowed"),
            "{text}"
        );
        assert!(text.contains("Write (/p/x.txt); Bash (xxx"), "{text}");
        assert!(text.len() < 600, "long inputs are cut: {text}");
        let meta = &a.metadata.unwrap()["permissionDenials"];
        assert_eq!(meta[0], json!({"tool":"Write","target":"/p/x.txt"}));
    }

    #[test]
    fn limits_reached_become_replies_and_broken_sessions_a_retry() {
        let r = result(json!({"subtype":"error_max_turns","is_error":true}));
        let a = answer(&r, "");
        assert!(
            a.parts[0]
                .as_text()
                .unwrap()
                .contains("limited number of steps")
        );
        let r = result(json!({"subtype":"error_during_execution","is_error":true,
                               "errors":["No conversation found with session ID: x"]}));
        assert!(matches!(
            from_result(&r, Signals::default(), ""),
            Verdict::FreshSession
        ));
        let r = result(json!({"subtype":"error_during_execution","is_error":true,
                               "result":"Session ID x is already in use"}));
        assert!(matches!(
            from_result(&r, Signals::default(), ""),
            Verdict::FreshSession
        ));
        let r =
            result(json!({"subtype":"error_during_execution","is_error":true,"errors":["boom"]}));
        match from_result(&r, Signals::default(), "") {
            Verdict::Answer(Err(e)) => assert_eq!(e.code, code::INTERNAL_ERROR),
            other => panic!("{other:?}"),
        }
    }
}
