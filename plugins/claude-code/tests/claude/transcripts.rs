//! The stand-in CLI is record-compatible with the real one: for every scenario below, the
//! events `fake-claude` prints (their types and the fields the backend reads), its exit code
//! and its first stderr line are those of a transcript recorded from the real CLI against the
//! local Messages API (`transcripts/<version>/<scenario>.json`, written by
//! `MOLECULE_RECORD_TRANSCRIPTS=1 cargo test -p molecule-claude-code real::transcripts`).
//! The real-CLI tests compare the real CLI with the same recordings, so a new CLI release that
//! changes them is noticed.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One recorded situation: its name, the arguments after the backend's usual three, the
/// prompt, and the fake's scenario that imitates it.
pub struct Scenario {
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub prompt: &'static str,
    pub fake: &'static str,
}

pub const BASE: [&str; 3] = ["-p", "--output-format=stream-json", "--verbose"];
pub const RESUME_UNKNOWN: &str = "--resume=11111111-1111-4111-8111-111111111111";

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "text",
        args: &[],
        prompt: "hello",
        fake: "ok",
    },
    Scenario {
        name: "tool",
        args: &[],
        prompt: "read the notes",
        fake: "tool",
    },
    Scenario {
        name: "denied",
        args: &[],
        prompt: "write a file",
        fake: "denied",
    },
    Scenario {
        name: "max-turns",
        args: &["--max-turns=1"],
        prompt: "read the notes",
        fake: "max-turns",
    },
    Scenario {
        name: "rate-limit",
        args: &[],
        prompt: "hello",
        fake: "rate-limit",
    },
    Scenario {
        name: "not-logged-in",
        args: &[],
        prompt: "hello",
        fake: "auth",
    },
    Scenario {
        name: "bad-key",
        args: &[],
        prompt: "hello",
        fake: "auth-retry",
    },
    Scenario {
        name: "unreachable",
        args: &[],
        prompt: "hello",
        fake: "unreachable",
    },
    Scenario {
        name: "overloaded",
        args: &[],
        prompt: "hello",
        fake: "overloaded",
    },
    Scenario {
        name: "resume-unknown",
        args: &[RESUME_UNKNOWN],
        prompt: "hello",
        fake: "ok",
    },
    Scenario {
        name: "empty-prompt",
        args: &[],
        prompt: "",
        fake: "ok",
    },
    Scenario {
        name: "whitespace-prompt",
        args: &[],
        prompt: " \n ",
        fake: "ok",
    },
    Scenario {
        name: "unknown-option",
        args: &["--bogus"],
        prompt: "hello",
        fake: "ok",
    },
    Scenario {
        name: "bad-permission-mode",
        args: &["--permission-mode=weird"],
        prompt: "hello",
        fake: "ok",
    },
    Scenario {
        name: "bad-session-id",
        args: &["--session-id=abc"],
        prompt: "hello",
        fake: "ok",
    },
];

/// Where the recordings of `version` live.
pub fn dir(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/claude/transcripts")
        .join(version)
}

/// A run reduced to what must match: per event its type and subtype, an assistant's content
/// block types and `error`, a tool result's `is_error`, a result's classification fields;
/// the exit code; the first stderr line with ids blanked.
pub fn shape(exit: Option<i32>, events: &[Value], stderr: &str) -> Value {
    let events: Vec<Value> = events.iter().map(event_shape).collect();
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    json!({"exit": exit, "events": events, "stderr": blank_ids(first)})
}

fn event_shape(e: &Value) -> Value {
    let mut s = json!({"type": e["type"], "subtype": e["subtype"]});
    match e["type"].as_str() {
        Some("assistant") => {
            let blocks = e["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            s["blocks"] = blocks.iter().map(|b| b["type"].clone()).collect();
            s["error"] = e["error"].clone();
        }
        Some("user") => {
            let blocks = e["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            s["tool_errors"] = blocks
                .iter()
                .map(|b| json!(b["is_error"] == true))
                .collect();
        }
        Some("system") if e["subtype"] == "api_retry" => {
            s["error_status"] = e["error_status"].clone();
            s["error"] = e["error"].clone();
        }
        Some("rate_limit_event") => s["status"] = e["rate_limit_info"]["status"].clone(),
        Some("result") => {
            for k in [
                "is_error",
                "api_error_status",
                "terminal_reason",
                "num_turns",
            ] {
                s[k] = e[k].clone();
            }
            s["has_result"] = json!(e["result"].is_string());
            s["errors"] = e["errors"].as_array().map_or(json!(null), |v| {
                v.iter()
                    .map(|x| json!(blank_ids(x.as_str().unwrap_or(""))))
                    .collect()
            });
            let denials = e["permission_denials"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            s["denied"] = denials.iter().map(|d| d["tool_name"].clone()).collect();
        }
        _ => {}
    }
    s
}

/// Replaces UUIDs (session ids) with `<id>`.
fn blank_ids(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            let core = w.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != '-');
            if uuid::Uuid::parse_str(core).is_ok() {
                w.replace(core, "<id>")
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the fake as `version` in `scenario`, in a scratch cwd.
fn run_fake(version: &str, scenario: &Scenario) -> Value {
    let tmp = tempfile::tempdir().expect("tmp");
    let prompt = if scenario.prompt.trim().is_empty() {
        scenario.prompt.to_owned()
    } else {
        format!("{} [fake:{}]", scenario.prompt, scenario.fake)
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-claude"))
        .args(BASE)
        .args(scenario.args)
        .current_dir(tmp.path())
        .env("FAKE_CLAUDE_VERSION", version)
        .env("FAKE_CLAUDE_DELAY_MS", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "1")
        .env_remove("FAKE_CLAUDE_SCENARIO")
        .env("FAKE_CLAUDE_SESSIONS", tmp.path().join("sessions"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fake-claude");
    use std::io::Write;
    let mut stdin = child.stdin.take().expect("stdin");
    // A CLI that refuses its command line exits without reading the prompt.
    let _ = stdin.write_all(prompt.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().expect("fake-claude ends");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    shape(
        out.status.code(),
        &events,
        &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_fake_prints_what_the_real_cli_printed() {
    let mut compared = 0;
    let mut differ = Vec::new();
    for version in ["2.1.197", "2.1.332"] {
        for scenario in SCENARIOS {
            let path = dir(version).join(format!("{}.json", scenario.name));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("no recording {path:?} ({e})"));
            let recorded: Value = serde_json::from_str(&text).expect("recording JSON");
            let events = recorded["events"].as_array().cloned().unwrap_or_default();
            let want = shape(
                recorded["exit"].as_i64().map(|c| c as i32),
                &events,
                recorded["stderr"].as_str().unwrap_or(""),
            );
            let got = run_fake(version, scenario);
            if got != want {
                differ.push(format!(
                    "{version} {}:\n  fake: {got}\n  real: {want}",
                    scenario.name
                ));
            }
            compared += 1;
        }
    }
    assert!(
        differ.is_empty(),
        "fake-claude differs from the recordings:\n{}",
        differ.join("\n")
    );
    assert_eq!(compared, 2 * SCENARIOS.len());
}
